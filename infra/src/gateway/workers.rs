//! The workers of the route table, run in process: each queue worker polls
//! its queue and gets SQS batches of up to the queue's batch size, as
//! Lambda's event source mapping builds them (partial batch failures
//! honoured: only the failed messages come back, after `retry_after`); each
//! scheduled worker is ticked on its `rate(…)`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::json;
use shared::ports::queue::ReceivedMessage;
use shared::routes::{QueueHandler, ScheduleHandler, Trigger};
use shared::services::{Port, Services};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::streams::ChangeStream;

/// How the workers run.
#[derive(Clone, Copy, Debug)]
pub struct WorkerSettings {
    /// How long a receive waits for messages.
    pub poll_wait: Duration,
    /// How long a failed message stays hidden before it is retried.
    pub retry_after: Duration,
    /// Overrides every schedule's interval (tests tick faster).
    pub tick_every: Option<Duration>,
    /// Batches of one queue handled side by side, as Lambda runs several
    /// batches of a busy queue at once; on the embedded queue their
    /// receives, writes and deletes share commits.
    pub pollers: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_wait: Duration::from_secs(1),
            retry_after: Duration::from_secs(10),
            tick_every: None,
            pollers: 4,
        }
    }
}

/// Starts every worker of the table; they stop when `stop` turns true.
/// Table stream workers read `stream`.
pub fn spawn_all(
    services: &Arc<Services>,
    settings: WorkerSettings,
    stop: &watch::Receiver<bool>,
    stream: &Arc<dyn ChangeStream>,
) -> Vec<JoinHandle<()>> {
    shared::routes::workers()
        .filter_map(|worker| {
            let services = Arc::clone(services);
            let stop = stop.clone();
            let ports = worker.ports;
            match worker.trigger {
                Trigger::Queue { queue, handler } => {
                    let pollers: Vec<_> = (0..settings.pollers.max(1))
                        .map(|_| {
                            tokio::spawn(poll(
                                Arc::clone(&services),
                                queue,
                                handler,
                                ports,
                                settings,
                                stop.clone(),
                            ))
                        })
                        .collect();
                    Some(tokio::spawn(async move {
                        for poller in pollers {
                            let _ = poller.await;
                        }
                    }))
                }
                Trigger::TableStream {
                    key_prefix,
                    handler,
                } => Some(tokio::spawn(super::streams::poll(
                    services,
                    Arc::clone(stream),
                    key_prefix,
                    handler,
                    ports,
                    settings,
                    stop,
                ))),
                // The embedded pool confirms sign-ups by its own setting.
                Trigger::PreSignUp { .. } => None,
                // The proxy runs the authorizer before each route that has one.
                Trigger::Authorizer { .. } => None,
                Trigger::Schedule {
                    expression,
                    handler,
                } => {
                    // A faster tick (tests) speeds up the minute's schedules;
                    // slower ones keep their own pace.
                    let rate = shared::schedule::rate_interval(expression);
                    let every = match (settings.tick_every, rate) {
                        (Some(fast), Some(rate)) if rate <= Duration::from_secs(60) => Some(fast),
                        (_, rate) => rate,
                    };
                    match every {
                        Some(every) => {
                            // A worker gets the ports it declares, as on Lambda.
                            let only = Arc::new(services.only(ports));
                            Some(tokio::spawn(tick(only, every, handler, stop)))
                        }
                        None => {
                            tracing::error!(
                                worker = worker.function,
                                expression,
                                "unsupported schedule"
                            );
                            None
                        }
                    }
                }
            }
        })
        .collect()
}

/// The SQS event Lambda would receive for these messages.
pub fn sqs_event(queue: &str, messages: &[ReceivedMessage]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = Some(m.id.clone());
            record.receipt_handle = Some(m.receipt.clone());
            record.body = Some(m.body.clone());
            record.attributes.insert(
                "ApproximateReceiveCount".into(),
                m.receive_count.to_string(),
            );
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
            record.aws_region = Some("local".into());
            record
        })
        .collect();
    event
}

async fn poll(
    services: Arc<Services>,
    queue_name: &'static str,
    handler: QueueHandler,
    ports: &'static [Port],
    settings: WorkerSettings,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let polled = tokio::select! {
            polled = poll_once(&services, queue_name, handler, ports, settings) => polled,
            _ = stop.changed() => break,
        };
        if let Err(error) = polled {
            tracing::warn!(queue = queue_name, %error, "polling failed");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One receive and one handler call, as Lambda's event source mapping does:
/// the messages the handler reports failed are hidden for `retry_after` and
/// come back; the others are deleted. The handler gets only `ports`, the
/// worker's declared ones. Gives how many messages were handled.
pub async fn poll_once(
    services: &Arc<Services>,
    queue_name: &str,
    handler: QueueHandler,
    ports: &[Port],
    settings: WorkerSettings,
) -> Result<usize, String> {
    let queue = services.queue().map_err(|e| e.to_string())?;
    let spec = shared::resources::queue(queue_name);
    let visibility = spec.map_or(Duration::from_secs(30), |q| q.visibility_timeout);
    let batch_size = spec.map_or(10, |q| q.batch_size as usize);
    let mut messages = queue
        .receive(queue_name, 10, visibility, settings.poll_wait)
        .await
        .map_err(|e| e.to_string())?;
    if messages.is_empty() {
        return Ok(0);
    }
    // A batch larger than one receive gathers what is already queued, with
    // receives side by side (one commit on the embedded queue); unlike
    // Lambda's batching window it waits no longer for more, so a quiet
    // platform's events are not held back.
    if messages.len() == 10 && batch_size > 10 {
        let more = futures_util::future::join_all((10..batch_size).step_by(10).map(|got| {
            let wanted = (batch_size - got).min(10) as u32;
            queue.receive(queue_name, wanted, visibility, Duration::ZERO)
        }))
        .await;
        for received in more {
            messages.extend(received.map_err(|e| e.to_string())?);
        }
    }
    let only = Arc::new(services.only(ports));
    let response = handler(only, sqs_event(queue_name, &messages)).await;
    let failed: HashSet<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    // Settled side by side, so the embedded queue commits them together.
    let mut settling = tokio::task::JoinSet::new();
    for message in &messages {
        let (services, name, receipt) = (
            Arc::clone(services),
            queue_name.to_string(),
            message.receipt.clone(),
        );
        let retry = failed.contains(&message.id);
        let id = message.id.clone();
        settling.spawn(async move {
            let queue = match services.queue() {
                Ok(queue) => queue,
                Err(error) => return tracing::warn!(%error, "no queue to settle on"),
            };
            let settled = if retry {
                queue
                    .change_visibility(&name, &receipt, settings.retry_after)
                    .await
            } else {
                queue.delete(&name, &receipt).await
            };
            if let Err(error) = settled {
                tracing::warn!(queue = name, message_id = id, %error, "settling a message failed");
            }
        });
    }
    settling.join_all().await;
    Ok(messages.len())
}

async fn tick(
    services: Arc<Services>,
    every: Duration,
    handler: ScheduleHandler,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        let mut event = EventBridgeEvent::default();
        event.version = Some("0".into());
        event.id = Some(ulid::Ulid::generate().to_string());
        event.detail_type = "Scheduled Event".into();
        event.source = "aws.scheduler".into();
        event.time = Some(chrono::Utc::now());
        event.detail = json!({});
        if let Err(error) = handler(Arc::clone(&services), event).await {
            tracing::warn!(%error, "scheduled worker failed");
        }
    }
}
