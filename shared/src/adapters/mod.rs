//! Adapters of the ports: [`aws`] on the AWS SDK, [`embedded`] durable on disk.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
