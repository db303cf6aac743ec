//! HTTP glue shared by every API function: the error shape (RFC 9457
//! problem details). Handlers return [`ApiError`]; one place turns it into a
//! response.

pub mod problem;

pub use problem::{ApiError, FieldError, Problem};
