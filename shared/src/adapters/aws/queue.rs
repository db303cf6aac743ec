//! The queue port on SQS. Logical queue names map to queue URLs through the
//! settings; dead-letter queues are configured on SQS (redrive policy), so
//! redrive happens there, not here.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};

use super::describe;
use crate::config::AwsSettings;
use crate::ports::queue::{
    MAX_BATCH, OutgoingMessage, Queue, QueueError, QueueResult, ReceivedMessage, validate_batch,
    validate_receive, validate_visibility,
};

/// The queue port on SQS.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    urls: BTreeMap<String, String>,
}

impl SqsQueue {
    /// A queue adapter from the shared SDK configuration.
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> Self {
        Self::from_client(Client::new(sdk), settings.queue_urls.clone())
    }

    /// A queue adapter on an existing client; `urls` maps logical names to queue URLs.
    pub fn from_client(client: Client, urls: BTreeMap<String, String>) -> Self {
        Self { client, urls }
    }

    fn url(&self, queue: &str) -> QueueResult<&str> {
        self.urls
            .get(queue)
            .map(String::as_str)
            .ok_or_else(|| QueueError::UnknownQueue(queue.to_string()))
    }
}

/// SQS counts whole seconds; round up so a wait or delay is never shortened.
fn seconds(d: Duration) -> i32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(secs).unwrap_or(i32::MAX)
}

fn map_error<E, R>(error: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some("ReceiptHandleIsInvalid" | "MessageNotInflight") => QueueError::InvalidReceipt,
        Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist") => {
            QueueError::UnknownQueue(error.message().unwrap_or_default().to_string())
        }
        _ => QueueError::Backend(describe(&error)),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn probe(&self) -> Result<(), String> {
        let Some(url) = self.urls.values().next() else {
            return Err("no queue is configured".into());
        };
        self.client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(drop)
            .map_err(|e| map_error(e).to_string())
    }

    async fn send(&self, queue: &str, message: OutgoingMessage) -> QueueResult<String> {
        let url = self.url(queue)?;
        message.validate()?;
        let out = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(message.body)
            .set_delay_seconds(message.delay.map(seconds))
            .send()
            .await
            .map_err(map_error)?;
        out.message_id
            .ok_or_else(|| QueueError::Backend("SQS returned no message id".into()))
    }

    async fn send_batch(
        &self,
        queue: &str,
        messages: Vec<OutgoingMessage>,
    ) -> QueueResult<Vec<String>> {
        let url = self.url(queue)?;
        validate_batch(&messages)?;
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(MAX_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&m.body)
                        .set_delay_seconds(m.delay.map(seconds))
                        .build()
                        .map_err(|e| QueueError::Invalid(e.to_string()))
                })
                .collect::<QueueResult<Vec<_>>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(map_error)?;
            if !out.failed.is_empty() {
                let codes: Vec<_> = out.failed.iter().map(|f| f.code.as_str()).collect();
                return Err(QueueError::Backend(format!(
                    "{} of {} messages were not sent ({})",
                    out.failed.len(),
                    chunk.len(),
                    codes.join(", ")
                )));
            }
            let mut sent = out.successful;
            sent.sort_by_key(|s| s.id.parse::<usize>().unwrap_or(usize::MAX));
            ids.extend(sent.into_iter().map(|s| s.message_id));
        }
        Ok(ids)
    }

    async fn receive(
        &self,
        queue: &str,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        let url = self.url(queue)?;
        validate_receive(max, wait)?;
        validate_visibility(visibility)?;
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(seconds(visibility))
            .wait_time_seconds(seconds(wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(map_error)?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                match (m.message_id, m.receipt_handle) {
                    (Some(id), Some(receipt)) => Ok(ReceivedMessage {
                        id,
                        receipt,
                        body: m.body.unwrap_or_default(),
                        receive_count,
                    }),
                    _ => Err(QueueError::Backend(
                        "SQS returned a message without id or receipt".into(),
                    )),
                }
            })
            .collect()
    }

    async fn delete(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        let url = self.url(queue)?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt: &str,
        timeout: Duration,
    ) -> QueueResult<()> {
        let url = self.url(queue)?;
        validate_visibility(timeout)?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds(timeout))
            .send()
            .await
            .map_err(map_error)?;
        Ok(())
    }
}
