//! Creates the platform's AWS resources on an emulator, so the AWS adapters
//! run against it exactly as against a deployed stack. Every name takes a
//! suffix so parallel tests share one emulator without sharing resources.

mod buckets;
mod bus;
mod mail;
mod queues;
mod table;
mod user_pool;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use shared::config::AwsSettings;

pub use buckets::create_buckets;
pub use bus::create_bus;
pub use mail::create_sender;
pub use queues::create_queues;
pub use table::create_table;
pub use user_pool::{UserPool, create_user_pool};

/// A failure creating a resource on the emulator.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {resource} on the emulator: {message}")]
pub struct ProvisionError {
    /// What was being created.
    pub resource: String,
    /// The SDK's account of the failure.
    pub message: String,
}

impl ProvisionError {
    pub(crate) fn new<E: std::error::Error>(resource: impl Into<String>, error: E) -> Self {
        Self {
            resource: resource.into(),
            message: aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string(),
        }
    }
}

/// An SDK configuration for an emulator at `endpoint`: fixed test credentials,
/// `us-east-1`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    // The functions' HTTP client, so tests exercise what runs on Lambda.
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared::adapters::aws::http_client())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "emulator",
        ))
        .load()
        .await
}

/// Creates every resource of the platform, names suffixed with `suffix`,
/// and gives the settings a function would receive from template.yaml.
pub async fn provision_all(sdk: &SdkConfig, suffix: &str) -> Result<AwsSettings, ProvisionError> {
    let table_name = format!("nocode-{suffix}");
    create_table(sdk, &table_name).await?;
    let buckets = create_buckets(sdk, suffix).await?;
    let queue_urls = create_queues(sdk, suffix).await?;
    let event_bus = format!("nocode-{suffix}");
    create_bus(sdk, &event_bus, &queue_urls).await?;
    let pool = create_user_pool(sdk, &format!("nocode-{suffix}")).await?;
    let mail_from = format!("noreply-{suffix}@nocode.example");
    create_sender(sdk, &mail_from).await?;
    Ok(AwsSettings {
        table_name: Some(table_name),
        buckets,
        queue_urls,
        event_bus: Some(event_bus),
        user_pool_id: Some(pool.pool_id),
        user_pool_client_id: Some(pool.client_id),
        mail_from: Some(mail_from),
        endpoint_url: sdk.endpoint_url().map(str::to_string),
    })
}
