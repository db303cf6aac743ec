//! The local runtime of the NoCode platform: the gateway that serves every
//! route on one machine, provisioning of the platform's resources on an AWS
//! emulator (moto server, feature `aws`), following `shared::resources` as
//! template.yaml does on AWS, and the generator of template.yaml and
//! `functions/` (`cargo run -- generate`).

#[cfg(feature = "aws")]
pub mod emulator;
pub mod gateway;
pub mod generate;
