//! RFC 9457 problem details: the one shape every error response takes.
//!
//! ```json
//! {"type": "urn:nocode:problem:validation_failed", "title": "Invalid input",
//!  "status": 422, "code": "validation_failed", "detail": "…",
//!  "errors": [{"field": "email", "message": "…"}], "request_id": "…"}
//! ```
//!
//! `type` and `code` are stable: clients branch on them, never on `detail`.
//! A 5xx says only that something failed and gives the request id; its cause
//! goes to the log, never to the client.

use serde::Serialize;

use crate::ports::table::TableError;

/// The media type of a problem response.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's path in the request, e.g. `email` or `fields[2].name`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub message: String,
    /// Where in the field's text, for a query written in a language (a
    /// filter, a sort): byte offsets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A byte range of a request's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl FieldError {
    /// An error on one field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            position: None,
        }
    }

    /// The same error, at a byte range of the field's text.
    pub fn at(mut self, start: usize, end: usize) -> Self {
        self.position = Some(Position { start, end });
        self
    }
}

/// Why a request conflicts with the current state: a stable `code`, so a
/// client can act on it without reading `detail`. The spine's own is
/// [`Conflict::CHANGED_CONCURRENTLY`]; each module declares its conflicts
/// in its one error enum and maps them here (`foundation::error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The stable code, listed in docs/problems.md.
    pub code: &'static str,
    /// What it means, for a person.
    pub detail: &'static str,
    /// The request's field the conflict is about, when it is one field's.
    pub field: Option<String>,
}

impl Conflict {
    /// `changed_concurrently`: another request changed the same items; retry.
    pub const CHANGED_CONCURRENTLY: Conflict = Conflict {
        code: "changed_concurrently",
        detail: "It changed meanwhile; read it again and retry.",
        field: None,
    };
}

/// A stated limit a request would pass: its own code, what it is, and the
/// field of the request that passes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The stable code, listed in docs/problems.md.
    pub code: &'static str,
    /// The limit, for a person.
    pub detail: String,
    /// The request's field that passes it.
    pub field: String,
}

/// Why a request failed, as a handler reports it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, bad query string).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 400: a query parameter in a language of ours (a filter, a sort)
    /// does not hold, or asks more than the route reads; its own code.
    #[error("bad query {code}")]
    BadQuery {
        /// The stable code, listed in docs/problems.md.
        code: &'static str,
        /// The parameters, with where they are wrong.
        errors: Vec<FieldError>,
    },
    /// 401: no valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// 401: a sign-in with a wrong e-mail or password (never says which).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401: an app key that is unknown, revoked or expired (never says which).
    #[error("invalid API key")]
    InvalidApiKey,
    /// 401: an app key sent to a route that takes none (only the records
    /// routes do).
    #[error("API key not accepted here")]
    ApiKeyNotAccepted,
    /// 403: the account exists but its e-mail is not confirmed yet.
    #[error("account not confirmed")]
    AccountNotConfirmed,
    /// 403: signed in, but the role does not allow this.
    #[error("not allowed")]
    Forbidden,
    /// 404: absent, or not the caller's (never says which).
    #[error("not found")]
    NotFound,
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    #[error("conflict: {}", .0.code)]
    Conflict(Conflict),
    /// 412: the resource changed since the version the client read; the
    /// current version, when it is known, so a client can rebase on it.
    #[error("stale version")]
    StaleVersion(Option<u64>),
    /// 413: the body is larger than the route accepts.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The route's limit in bytes.
        limit: usize,
    },
    /// 422: the request is well-formed but its values are invalid.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// 422: the request would pass one of a module's stated limits; each
    /// limit has its own code.
    #[error("limit {}", .0.code)]
    Limit(Limit),
    /// 429: too many requests; retry later.
    #[error("throttled")]
    Throttled {
        /// Seconds until a retry may pass (`Retry-After`), when known.
        retry_after: Option<u64>,
    },
    /// 500: something failed on our side; the text is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 422 on a single field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, message)])
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Malformed(_) | ApiError::BadQuery { .. } => 400,
            ApiError::Unauthenticated
            | ApiError::InvalidCredentials
            | ApiError::InvalidApiKey
            | ApiError::ApiKeyNotAccepted => 401,
            ApiError::AccountNotConfirmed => 403,
            ApiError::Forbidden => 403,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::StaleVersion(_) => 412,
            ApiError::TooLarge { .. } => 413,
            ApiError::Invalid(_) | ApiError::Limit(_) => 422,
            ApiError::Throttled { .. } => 429,
            ApiError::Internal(_) => 500,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::BadQuery { code, .. } => code,
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::ApiKeyNotAccepted => "api_key_not_accepted",
            ApiError::AccountNotConfirmed => "account_not_confirmed",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(conflict) => conflict.code,
            ApiError::StaleVersion(_) => "stale_version",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Invalid(_) => "validation_failed",
            ApiError::Limit(limit) => limit.code,
            ApiError::Throttled { .. } => "throttled",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "Malformed request",
            ApiError::BadQuery { .. } => "Bad query",
            ApiError::Unauthenticated => "Authentication required",
            ApiError::InvalidCredentials => "Invalid credentials",
            ApiError::InvalidApiKey => "Invalid API key",
            ApiError::ApiKeyNotAccepted => "API key not accepted",
            ApiError::AccountNotConfirmed => "Account not confirmed",
            ApiError::Forbidden => "Not allowed",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed => "Method not allowed",
            ApiError::Conflict(_) => "Conflict",
            ApiError::StaleVersion(_) => "Stale version",
            ApiError::TooLarge { .. } => "Payload too large",
            ApiError::Invalid(_) => "Invalid input",
            ApiError::Limit(_) => "Limit exceeded",
            ApiError::Throttled { .. } => "Too many requests",
            ApiError::Internal(_) => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Malformed(why) => why.clone(),
            ApiError::BadQuery { errors, .. } => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::Conflict(conflict) => conflict.detail.into(),
            ApiError::Unauthenticated => {
                "Sign in and send the access token as a Bearer token.".into()
            }
            ApiError::InvalidCredentials => "The e-mail or the password is wrong.".into(),
            ApiError::InvalidApiKey => "The API key is unknown, revoked or expired.".into(),
            ApiError::ApiKeyNotAccepted => {
                "API keys open the records routes only; sign in for this one.".into()
            }
            ApiError::AccountNotConfirmed => {
                "Confirm your e-mail address with the code we sent first.".into()
            }
            ApiError::Forbidden => "Your role does not allow this action.".into(),
            ApiError::NotFound => "No such resource.".into(),
            ApiError::MethodNotAllowed => "This path does not answer that method.".into(),
            ApiError::StaleVersion(_) => {
                "The resource changed since you read it; read it again and retry.".into()
            }
            ApiError::TooLarge { limit } => format!("The body must be at most {limit} bytes."),
            ApiError::Invalid(errors) => format!("{} field(s) are invalid.", errors.len()),
            ApiError::Limit(limit) => limit.detail.clone(),
            ApiError::Throttled { .. } => "Too many requests; retry later.".into(),
            ApiError::Internal(_) => "Something failed on our side; quote the request id.".into(),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self, request_id: Option<&str>) -> Problem {
        Problem {
            type_uri: format!("urn:nocode:problem:{}", self.code()),
            title: self.title(),
            status: self.status(),
            code: self.code(),
            detail: self.detail(),
            errors: match self {
                ApiError::Invalid(errors) | ApiError::BadQuery { errors, .. } => errors.clone(),
                ApiError::Limit(limit) => vec![FieldError::new(&limit.field, &limit.detail)],
                ApiError::Conflict(Conflict {
                    field: Some(field),
                    detail,
                    ..
                }) => vec![FieldError::new(field, *detail)],
                _ => Vec::new(),
            },
            current_version: match self {
                ApiError::StaleVersion(current) => *current,
                _ => None,
            },
            request_id: request_id.map(str::to_string),
        }
    }
}

/// The problem document of RFC 9457, with our `code`, `errors` and `request_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `urn:nocode:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The stable code.
    pub code: &'static str,
    /// What happened, for a person.
    pub detail: String,
    /// Per-field errors of a 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// A 412's current version of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The request id, to quote in a support request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl From<crate::ports::blobs::BlobError> for ApiError {
    /// A blob a handler reads or writes is the platform's own: any failure
    /// is ours (the cause goes to the log only).
    fn from(error: crate::ports::blobs::BlobError) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<TableError> for ApiError {
    /// The defaults; a handler that knows better (a version condition is
    /// a 412) maps the error itself.
    fn from(error: TableError) -> Self {
        match error {
            TableError::ConditionFailed | TableError::TransactionCancelled { .. } => {
                ApiError::Conflict(Conflict::CHANGED_CONCURRENTLY)
            }
            TableError::InvalidCursor => ApiError::invalid("next", "not a cursor of this list"),
            TableError::Throttled => ApiError::Throttled { retry_after: None },
            TableError::Invalid(why) | TableError::Backend(why) => ApiError::Internal(why),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_listed_in_the_docs_with_its_status() {
        let docs = include_str!("../../../docs/problems.md");
        let mut errors = vec![
            ApiError::Malformed(String::new()),
            ApiError::Unauthenticated,
            ApiError::InvalidCredentials,
            ApiError::AccountNotConfirmed,
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::StaleVersion(None),
            ApiError::TooLarge { limit: 1 },
            ApiError::Invalid(Vec::new()),
            ApiError::Throttled { retry_after: None },
            ApiError::InvalidApiKey,
            ApiError::ApiKeyNotAccepted,
            ApiError::Internal(String::new()),
        ];
        errors.push(ApiError::Conflict(Conflict::CHANGED_CONCURRENTLY));
        let mut codes = std::collections::HashSet::new();
        for error in errors {
            let row = format!("| {} | `{}` |", error.status(), error.code());
            assert!(docs.contains(&row), "docs/problems.md lacks {row}");
            assert!(codes.insert(error.code()), "{} twice", error.code());
        }
    }

    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_validation_problem_lists_each_field() {
        let error = ApiError::Invalid(vec![
            FieldError::new("email", "is not an e-mail address"),
            FieldError::new("password", "is too short"),
        ]);
        let body: Value =
            serde_json::from_str(&error.problem(Some("req-1")).to_json()).expect("json");
        assert_eq!(
            body,
            json!({
                "type": "urn:nocode:problem:validation_failed",
                "title": "Invalid input",
                "status": 422,
                "code": "validation_failed",
                "detail": "2 field(s) are invalid.",
                "errors": [
                    {"field": "email", "message": "is not an e-mail address"},
                    {"field": "password", "message": "is too short"}
                ],
                "request_id": "req-1"
            })
        );
    }

    #[test]
    fn an_internal_error_never_leaks_its_cause() {
        let problem =
            ApiError::Internal("dynamodb: table nocode-prod missing".into()).problem(None);
        let text = problem.to_json();
        assert_eq!(problem.status, 500);
        assert!(
            !text.contains("dynamodb") && !text.contains("nocode-prod"),
            "{text}"
        );
    }

    #[test]
    fn table_errors_map_to_conflict_throttle_or_internal() {
        assert_eq!(ApiError::from(TableError::ConditionFailed).status(), 409);
        assert_eq!(ApiError::from(TableError::Throttled).status(), 429);
        assert_eq!(ApiError::from(TableError::InvalidCursor).status(), 422);
        assert_eq!(
            ApiError::from(TableError::Backend("x".into())).status(),
            500
        );
    }
}
