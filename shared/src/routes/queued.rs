//! What every queue worker of domain events does alike: each message of a
//! batch is an EventBridge envelope (a rule's delivery, or a worker's own
//! continuation), handled in turn; one that fails is logged and reported
//! back as a partial batch failure, so SQS delivers only it again.

use std::future::Future;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;

/// Runs `handle` on the envelope of each message; `failing` says, for the
/// log, what a failure leaves undone.
pub async fn each_event<F, Fut>(event: &SqsEvent, failing: &str, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(EventBridgeEvent<Value>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let envelope = message
            .body
            .as_deref()
            .ok_or_else(|| "the message has no body".to_string())
            .and_then(|body| {
                serde_json::from_str::<EventBridgeEvent<Value>>(body)
                    .map_err(|e| format!("not an event envelope: {e}"))
            });
        let outcome = match envelope {
            Ok(envelope) => handle(envelope).await,
            Err(error) => Err(error),
        };
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
