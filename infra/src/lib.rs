//! The local runtime of the NoCode platform: the gateway that serves every
//! route on one machine, and provisioning of the platform's resources on an
//! AWS emulator (moto server), following `shared::resources` as
//! template.yaml does on AWS.

pub mod emulator;
pub mod gateway;
pub mod generate;
