//! AWS SDK adapters. The SDK configuration is loaded once per cold start
//! ([`load_sdk_config`]) and each adapter builds only the client it needs.

pub mod blobs;
pub mod events;
pub mod identity;
pub mod queue;
pub mod table;

use aws_config::{BehaviorVersion, SdkConfig};

pub use blobs::S3Blobs;
pub use events::EventBridgeBus;
pub use identity::CognitoIdentity;
pub use queue::SqsQueue;
pub use table::DynamoTable;

/// Loads region, credentials and `AWS_ENDPOINT_URL` from the environment, once.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The full text of an SDK error, source chain included (never credentials).
pub(crate) fn describe<E: std::error::Error>(error: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}
