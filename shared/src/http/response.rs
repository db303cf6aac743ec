//! Building responses: JSON bodies, and the problem document of an error,
//! written in one place so every handler answers errors the same way.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::problem::{ApiError, CONTENT_TYPE};

/// One page of a list, in the list's order. Every paged route answers this
/// shape; `next` is present when more items may follow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `?next=` for the following page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items` and the table's cursor after them.
    pub fn new(items: Vec<T>, next: Option<crate::ports::table::Cursor>) -> Self {
        Self {
            items,
            next: next.map(|c| c.as_str().to_string()),
        }
    }
}

/// What a handler returns.
pub type HandlerResult = Result<Response<Body>, ApiError>;

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> HandlerResult {
    let text = serde_json::to_string(body)
        .map_err(|e| ApiError::Internal(format!("response does not serialize: {e}")))?;
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// An empty 204 response.
pub fn no_content() -> HandlerResult {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// The problem+json response of an error. A 5xx's cause is logged here, with
/// the request id, and nowhere else.
pub fn problem(error: &ApiError, request_id: Option<&str>) -> Response<Body> {
    if let ApiError::Internal(cause) = error {
        tracing::error!(request_id, %cause, "request failed");
    }
    let problem = error.problem(request_id);
    let mut response = Response::new(Body::Text(problem.to_json()));
    *response.status_mut() =
        StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let ApiError::Throttled {
        retry_after: Some(seconds),
    } = error
    {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    response
}
