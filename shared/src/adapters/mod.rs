//! Adapters of the ports: [`aws`] on the AWS SDK, [`embedded`] durable on disk.

pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
