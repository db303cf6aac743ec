//! The local runtime of the NoCode platform. For now: provisioning of the
//! platform's resources on an AWS emulator (moto server), following the
//! declarations in `shared::resources` as template.yaml does on AWS.

pub mod emulator;
