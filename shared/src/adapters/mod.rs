//! Adapters of the ports: [`aws`] on the AWS SDK, [`embedded`] durable on
//! disk, and [`egress`], outbound HTTP, the same on both.

#[cfg(feature = "aws")]
pub mod aws;
pub mod egress;
#[cfg(feature = "embedded")]
pub mod embedded;
