//! Adapters of the ports: [`aws`] on the AWS SDK, [`embedded`] durable on disk.

pub mod aws;
pub mod embedded;
