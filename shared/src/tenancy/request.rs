//! What every signed-in handler knows of its request: who, which
//! request, from where — for the guard and the audit log.

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::http::{ApiError, Caller, caller, request_id};

/// The caller and the request's identity.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// The signed-in caller.
    pub caller: Caller,
    /// API Gateway's request id.
    pub request_id: Option<String>,
    /// The client's address.
    pub source_ip: Option<String>,
    /// How many workflows led to this request (0 for a person or an app):
    /// what a workflow's writes carry in their events, so that workflows
    /// triggered by events cannot trigger each other without end.
    pub chain: u32,
}

impl RequestMeta {
    /// Reads the caller (401 without one), request id and source address.
    pub fn of(request: &Request) -> Result<Self, ApiError> {
        let source_ip = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
            _ => None,
        };
        Ok(Self {
            caller: caller(request)?,
            request_id: request_id(request).map(str::to_string),
            source_ip,
            chain: 0,
        })
    }
}
