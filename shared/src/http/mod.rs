//! HTTP glue shared by every API function: the error shape (RFC 9457
//! problem details) and reading a request (caller, request id, JSON body).
//! Handlers return [`ApiError`]; one place turns it into a response.

pub mod patch;
pub mod problem;
pub mod request;
pub mod response;
pub mod schema;

pub use problem::{ApiError, Conflict, FieldError, Limit, Problem};
pub use request::{
    Caller, DEFAULT_BODY_LIMIT, access_token, caller, carries_key, json_body, key_grant,
    page_limit, page_params, path_param, query_param, query_time, request_id,
};
pub use response::{HandlerResult, Page, json, no_content, problem};
