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
//! | identity | resend code sends a new code | moto does not implement ResendConfirmationCode (500) |
//! | identity | a wrong reset code is `CodeMismatch` (the shared test accepts `ExpiredCode` too) | moto answers a wrong reset code with ExpiredCode |
//! | identity | wrong codes run out; codes and access tokens expire | moto counts no attempts and its clock cannot be moved |
//! | identity | a confirmed e-mail is `email_verified` | moto never sets `email_verified` |
//! | identity | e-mail sign-in is case-insensitive | moto matches e-mail usernames case-sensitively |
//! | identity | a token of another pool is refused | moto's GetUser accepts a token of any of its pools |
//!
//! The embedded-only modules also hold behaviours that belong to the embedded
//! adapter itself (auto-confirm, keys surviving a reopen).
//!
//! Everything else runs identically on both.

#[macro_use]
mod harness;

mod blobs;
mod events;
mod identity;
mod queue;
mod table;
