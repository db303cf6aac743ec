//! One conformance suite per port, written once against the trait and run on
//! both adapters: the embedded one (always) and the AWS one against moto
//! server (the test command, `infra/test`, starts it and sets
//! `NOCODE_TEST_MOTO_URL`).
//!
//! # Where moto cannot show a behaviour
//!
//! This is the one list of behaviours proved on the embedded adapter only,
//! each in an `embedded_only!` block of its port's module:
//!
//! | port | behaviour | why moto can't show it |
//! |---|---|---|
//! | blobs | an expired, tampered or mis-used presigned URL is refused | moto does not check S3 presigned signatures |
//! | identity | a wrong sign-up confirmation code is refused | moto accepts any confirmation code |
//! | identity | the id token carries `email` | moto puts it there only when the client lists `ReadAttributes`, which its CreateUserPoolClient ignores for id tokens |
//!
//! Everything else runs identically on both.

#[macro_use]
mod harness;

mod blobs;
mod events;
mod identity;
mod queue;
mod table;
