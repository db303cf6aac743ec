//! The outbound HTTP port: requests the platform makes on a builder's
//! behalf (a workflow's `http_request` step) to addresses the builder
//! chose. One adapter serves both backends (`adapters::egress`): it
//! refuses loopback, link-local, private and shared addresses whether the
//! URL names them, a name resolves to them or a redirect leads to them,
//! unless the platform's allow-list (`NOCODE_HTTP_ALLOW`) opens them.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// The largest response body kept.
pub const MAX_BODY: usize = 1024 * 1024;

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundRequest {
    /// GET, POST …
    pub method: String,
    /// The URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// The longest the whole request may take.
    pub timeout: Duration,
}

/// A response, its body bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundResponse {
    /// Its status.
    pub status: u16,
    /// Its headers, lower-case names (repeated ones joined by `, `).
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Bytes,
}

/// A refusal or a failure of a request.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    /// The URL is not one the platform may call.
    #[error("{0}")]
    Refused(String),
    /// The request failed (timeout, connection, TLS, a body too large …).
    #[error("{0}")]
    Failed(String),
}

/// Sends requests out.
#[async_trait]
pub trait Outbound: Send + Sync {
    /// Sends one request.
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;
}
