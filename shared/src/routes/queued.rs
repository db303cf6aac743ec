//! What every queue worker of domain events does alike: each message of a
//! batch is an EventBridge envelope (a rule's delivery, or a worker's own
//! continuation), handled in turn or side by side; one that fails is logged
//! and reported back as a partial batch failure, so SQS delivers only it
//! again.

use std::future::Future;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;

/// Runs `handle` on the envelope of each message in turn; `failing` says,
/// for the log, what a failure leaves undone.
pub async fn each_event<F, Fut>(event: &SqsEvent, failing: &str, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(EventBridgeEvent<Value>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut outcomes = Vec::with_capacity(event.records.len());
    for message in &event.records {
        outcomes.push(match envelope(message) {
            Ok(envelope) => handle(envelope).await,
            Err(error) => Err(error),
        });
    }
    report(event, outcomes, failing)
}

/// Like [`each_event`], but the messages side by side: for workers whose
/// events are independent of each other, so their writes share commits.
pub async fn each_event_side_by_side<F, Fut>(
    event: &SqsEvent,
    failing: &str,
    handle: F,
) -> SqsBatchResponse
where
    F: Fn(EventBridgeEvent<Value>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let outcomes = futures_util::future::join_all(event.records.iter().map(|message| {
        let handled = envelope(message).map(&handle);
        async move {
            match handled {
                Ok(handled) => handled.await,
                Err(error) => Err(error),
            }
        }
    }))
    .await;
    report(event, outcomes, failing)
}

fn envelope(message: &SqsMessage) -> Result<EventBridgeEvent<Value>, String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    serde_json::from_str(body).map_err(|e| format!("not an event envelope: {e}"))
}

/// The batch's answer: each failed message logged and named.
fn report(event: &SqsEvent, outcomes: Vec<Result<(), String>>, failing: &str) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        if let Err(error) = outcome {
            tracing::warn!(message_id = ?message.message_id, %error, "{failing}");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// A text field of an event's detail.
pub fn detail_text(event: &EventBridgeEvent<Value>, name: &str) -> Result<String, String> {
    event
        .detail
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("the event names no {name}"))
}
