//! One API request through the gateway: find the route in the table, run the
//! authorizer, build the API Gateway HTTP API payload v2 the handler would
//! receive on AWS, call the handler, and turn its response back into HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use axum::body::Body as AxumBody;
use axum::http::{HeaderValue, Request, Response, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use lambda_http::request::LambdaRequest;
use shared::http::{ApiError, problem};
use shared::requests::{self, Observer};
use shared::routes::{self, ApiRoute, Found, shim};
use shared::services::Services;

use super::authorizer::Authorizer;

/// API Gateway refuses payloads above 10 MB before any function runs.
pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;

/// What every request handled by the gateway shares.
pub struct Proxy {
    /// The ports, built once.
    pub services: Arc<Services>,
    /// The JWT authorizer.
    pub authorizer: Authorizer,
    /// Counts the requests this gateway serves (its metrics and live view).
    pub observer: Arc<dyn Observer>,
}

/// What an authorizer hands a route's function.
enum Verdict {
    /// The JWT authorizer's claims.
    Claims(HashMap<String, String>),
    /// A Lambda authorizer's context.
    Context(HashMap<String, serde_json::Value>),
}

fn to_axum(response: lambda_http::Response<lambda_http::Body>) -> Response<AxumBody> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}

fn refuse(error: &ApiError, request_id: &str) -> Response<AxumBody> {
    to_axum(problem(error, Some(request_id)))
}

impl Proxy {
    /// Handles one request; logs one line for it.
    pub async fn handle(&self, request: Request<AxumBody>, peer: SocketAddr) -> Response<AxumBody> {
        let started = Instant::now();
        let request_id = ulid::Ulid::generate().to_string();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let mut response = requests::scoped(
            Arc::clone(&self.observer),
            self.route(request, peer, &request_id),
        )
        .await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("apigw-requestid", value);
        }
        tracing::info!(
            %method,
            path,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            request_id,
            "request"
        );
        response
    }

    async fn route(
        &self,
        request: Request<AxumBody>,
        peer: SocketAddr,
        request_id: &str,
    ) -> Response<AxumBody> {
        let (found, params) = routes::find(request.method().as_str(), request.uri().path());
        let route = match found {
            Found::Route(route) => route,
            Found::WrongMethod(methods) => {
                // RFC 9110: a 405 names the methods the path has.
                let mut response = refuse(&ApiError::MethodNotAllowed, request_id);
                if let Ok(allow) = HeaderValue::from_str(&methods.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                return response;
            }
            Found::NoRoute => return refuse(&ApiError::NotFound, request_id),
        };
        let verdict = if route.access.accepts_keys() {
            let context =
                shared::runtime::authorizer::context(&self.services, request.headers()).await;
            Some(Verdict::Context(context))
        } else if route.access.needs_token() {
            let header = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match self.authorizer.authorize(header).await {
                Ok(claims) => Some(Verdict::Claims(claims)),
                Err(_) => return refuse(&ApiError::Unauthenticated, request_id),
            }
        } else {
            None
        };
        let (parts, body) = request.into_parts();
        let body = match axum::body::to_bytes(body, MAX_PAYLOAD).await {
            Ok(body) => body,
            Err(_) => return refuse(&ApiError::TooLarge { limit: MAX_PAYLOAD }, request_id),
        };
        let event = payload_v2(
            &parts,
            &body,
            route.method,
            route.path,
            params,
            verdict,
            peer,
            request_id,
        );
        let lambda_request: lambda_http::Request = LambdaRequest::ApiGatewayV2(event).into();
        to_axum(invoke(route, &self.services, lambda_request).await)
    }
}

/// Runs a request through its route as its Lambda function would: with only
/// the ports the route declares (a handler reaching for another gets a 500
/// here as on AWS), its access checked first.
pub async fn invoke(
    route: &ApiRoute,
    services: &Services,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    shim::invoke(route, Arc::new(services.only(route.ports)), request).await
}

/// The HTTP API payload v2 API Gateway would send for this request.
#[allow(clippy::too_many_arguments)]
fn payload_v2(
    parts: &axum::http::request::Parts,
    body: &Bytes,
    method: &str,
    template: &str,
    params: Vec<(String, String)>,
    verdict: Option<Verdict>,
    peer: SocketAddr,
    request_id: &str,
) -> ApiGatewayV2httpRequest {
    let now = chrono::Utc::now();
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = parts.method.clone();
    http.path = Some(parts.uri.path().to_string());
    http.protocol = Some(format!("{:?}", parts.version));
    http.source_ip = Some(peer.ip().to_string());
    http.user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(format!("{method} {template}"));
    context.account_id = Some("000000000000".into());
    context.apiid = Some("local".into());
    context.domain_name = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    context.stage = Some("$default".into());
    context.request_id = Some(request_id.to_string());
    context.time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context.time_epoch = now.timestamp_millis();
    context.http = http;
    match verdict {
        Some(Verdict::Claims(claims)) => {
            let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
            jwt.claims = claims;
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.jwt = Some(jwt);
            context.authorizer = Some(authorizer);
        }
        Some(Verdict::Context(fields)) => {
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.fields = fields;
            context.authorizer = Some(authorizer);
        }
        None => {}
    }

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = context.route_key.clone();
    event.raw_path = Some(parts.uri.path().to_string());
    let query = parts.uri.query().unwrap_or_default();
    event.raw_query_string = Some(query.to_string());
    event.query_string_parameters = query.parse().unwrap_or_default();
    event.headers = parts.headers.clone();
    event.path_parameters = params.into_iter().collect();
    event.request_context = context;
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event.body = Some(text.to_string()),
            Err(_) => {
                event.body = Some(STANDARD.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

/// A problem response for requests that never reach the route table.
pub fn problem_response(error: &ApiError) -> Response<AxumBody> {
    to_axum(problem(error, None))
}
