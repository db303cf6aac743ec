//! The events port on an EventBridge bus; rules and targets live in
//! template.yaml (and in the emulator provisioning), not here.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::describe;
use crate::config::AwsSettings;
use crate::ports::events::{
    DomainEvent, EventBus, EventError, EventResult, MAX_BATCH, validate_all,
};

/// The events port on EventBridge.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    /// A bus adapter from the shared SDK configuration.
    pub fn new(sdk: &SdkConfig, settings: &AwsSettings) -> EventResult<Self> {
        let bus = settings
            .event_bus
            .clone()
            .ok_or_else(|| EventError::Backend("NOCODE_EVENT_BUS is not set".into()))?;
        Ok(Self::from_client(Client::new(sdk), bus))
    }

    /// A bus adapter on an existing client.
    pub fn from_client(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn probe(&self) -> Result<(), String> {
        self.client
            .describe_event_bus()
            .name(&self.bus)
            .send()
            .await
            .map(drop)
            .map_err(|e| describe(&e))
    }

    async fn publish(&self, events: &[DomainEvent]) -> EventResult<()> {
        validate_all(events)?;
        let mut failed = Vec::new();
        for (chunk_index, chunk) in events.chunks(MAX_BATCH).enumerate() {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(&e.source)
                        .detail_type(&e.detail_type)
                        .detail(e.published_detail().to_string())
                        // The envelope's `time` is the commit's, not the publish's.
                        .time(aws_smithy_types::DateTime::from_millis(
                            e.at.timestamp_millis(),
                        ))
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| EventError::Backend(describe(&e)))?;
            // Entries answer in request order; a failed one carries an error code.
            for (i, entry) in out.entries().iter().enumerate() {
                if entry.error_code().is_some() {
                    failed.push(chunk_index * MAX_BATCH + i);
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(EventError::Partial { failed })
        }
    }
}
