//! Reading a request the way every handler does: the caller from the JWT
//! authorizer's claims (never by parsing a token), the request id, and a JSON
//! body within a size limit, with field-level errors.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use super::problem::{ApiError, FieldError};
use crate::tenancy::grant::{self, KeyGrant};

/// The default largest JSON body a route accepts.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The signed-in user making a request, as API Gateway's JWT authorizer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The user's stable id (`sub`).
    pub sub: crate::tenancy::UserId,
    /// The pool's username (`username` claim).
    pub username: String,
    /// The app client the token was issued to.
    pub client_id: Option<String>,
}

fn v2_context(
    request: &Request,
) -> Option<&aws_lambda_events::apigw::ApiGatewayV2httpRequestContext> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    }
}

/// The authorizer's verdict on a request: the JWT authorizer's claims,
/// or a Lambda authorizer's context (the routes that also take app keys).
enum Verdict<'r> {
    /// A JWT authorizer's claims.
    Claims(&'r std::collections::HashMap<String, String>),
    /// A Lambda authorizer's context ([`crate::tenancy::grant`]).
    Context(&'r std::collections::HashMap<String, serde_json::Value>),
}

fn verdict(request: &Request) -> Option<Verdict<'_>> {
    let authorizer = v2_context(request)?.authorizer.as_ref()?;
    match &authorizer.jwt {
        Some(jwt) => Some(Verdict::Claims(&jwt.claims)),
        None if !authorizer.fields.is_empty() => Some(Verdict::Context(&authorizer.fields)),
        None => None,
    }
}

/// The app key the authorizer verified, on a route that takes keys; 401
/// when the authorizer refused the key it was shown.
pub fn key_grant(request: &Request) -> Result<Option<KeyGrant>, ApiError> {
    match verdict(request) {
        Some(Verdict::Context(context)) => {
            match context.get("principal").and_then(|p| p.as_str()) {
                Some(grant::KEY) => KeyGrant::from_context(context)
                    .map(Some)
                    .ok_or(ApiError::Unauthenticated),
                Some(grant::NONE) => Err(refusal(context)),
                _ => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn refusal(context: &std::collections::HashMap<String, serde_json::Value>) -> ApiError {
    match context.get("refusal").and_then(|r| r.as_str()) {
        Some(reason) if reason.starts_with("key") => ApiError::InvalidApiKey,
        _ => ApiError::Unauthenticated,
    }
}

/// The caller, or 401 when the request carries no verified credentials. A
/// request made with an app key acts as `apikey:<key id>`.
pub fn caller(request: &Request) -> Result<Caller, ApiError> {
    let claims = match verdict(request).ok_or(ApiError::Unauthenticated)? {
        Verdict::Claims(claims) => claims.clone(),
        Verdict::Context(context) => match context.get("principal").and_then(|p| p.as_str()) {
            Some(grant::USER) => context
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect(),
            Some(grant::KEY) => {
                let grant = KeyGrant::from_context(context).ok_or(ApiError::Unauthenticated)?;
                return Ok(Caller {
                    sub: grant.actor().into(),
                    username: grant.actor(),
                    client_id: None,
                });
            }
            _ => return Err(refusal(context)),
        },
    };
    // Only access tokens authorize API calls; an id token is refused.
    if claims.get("token_use").map(String::as_str) != Some("access") {
        return Err(ApiError::Unauthenticated);
    }
    let sub = claims
        .get("sub")
        .filter(|s| !s.is_empty())
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Caller {
        sub: sub.as_str().into(),
        username: claims
            .get("username")
            .cloned()
            .unwrap_or_else(|| sub.clone()),
        client_id: claims.get("client_id").cloned(),
    })
}

/// Whether the request carries an app key header (the routes that take no
/// keys refuse it).
pub fn carries_key(request: &Request) -> bool {
    request.headers().contains_key(grant::HEADER)
}

/// The caller's access token, to hand to the identity port (Cognito's
/// sign-out and user calls take it). The authorizer has already verified it;
/// handlers never decode it.
pub fn access_token(request: &Request) -> Result<&str, ApiError> {
    request
        .headers()
        .get(lambda_http::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(ApiError::Unauthenticated)
}

/// The id API Gateway gave the request, for logs and problem documents.
pub fn request_id(request: &Request) -> Option<&str> {
    v2_context(request).and_then(|c| c.request_id.as_deref())
}

/// A path parameter of the route's template (`{id}`). The router fills every
/// parameter its template names, so a missing one is a routing bug: a 500.
pub fn path_param<'r>(request: &'r Request, name: &str) -> Result<&'r str, ApiError> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .ok_or_else(|| ApiError::Internal(format!("the route has no path parameter `{name}`")))
}

/// A query string parameter.
pub fn query_param<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// A query parameter holding an RFC 3339 time, if given; one that does not
/// parse is added to `errors` under its name.
pub fn query_time(
    request: &Request,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = query_param(request, name)?;
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(time) => Some(time.with_timezone(&chrono::Utc)),
        Err(_) => {
            errors.push(FieldError::new(name, "must be an RFC 3339 time"));
            None
        }
    }
}

/// Largest page a list route returns.
pub const MAX_PAGE: u32 = 100;
/// The page size when a request names none.
pub const DEFAULT_PAGE: u32 = 20;

/// The `limit` of a list: 20 when absent, else 1 to [`MAX_PAGE`].
pub fn page_limit(request: &Request) -> Result<u32, ApiError> {
    match query_param(request, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be a number from 1 to {MAX_PAGE}"))
            }),
    }
}

/// The `limit` and the table cursor `next` of a list.
pub fn page_params(
    request: &Request,
) -> Result<(u32, Option<crate::ports::table::Cursor>), ApiError> {
    let limit = page_limit(request)?;
    let next = query_param(request, "next")
        .map(|text| {
            crate::ports::table::Cursor::parse(text)
                .map_err(|_| ApiError::invalid("next", "not a cursor of this list"))
        })
        .transpose()?;
    Ok((limit, next))
}

/// Parses the JSON body: 413 above `limit`, 400 when it is not JSON, 422 with
/// the field's path when a value has the wrong type, is missing or unknown.
pub fn json_body<T: DeserializeOwned>(request: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::TooLarge { limit });
    }
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(ApiError::Malformed("a JSON body is required".into()));
    };
    // Every body is an object; serde would also read a struct from an array
    // of its fields in order, which no schema of ours allows.
    if *first == b'[' {
        return Err(ApiError::invalid("", "the body must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => field_error(&path, &inner),
            _ => ApiError::Malformed(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// serde names a missing field only in its message, and its path stops at
/// the parent; pull the name out so the error points at the field itself.
fn field_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = error.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m)
        .to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (path, missing) {
        (".", Some(name)) => name.to_string(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_string(),
    };
    ApiError::Invalid(vec![FieldError::new(field, message)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn request(body: &str, claims: &str) -> Request {
        let event = format!(
            r#"{{"version":"2.0","routeKey":"POST /x","rawPath":"/x","rawQueryString":"",
            "headers":{{"content-type":"application/json"}},
            "requestContext":{{"accountId":"1","apiId":"a","domainName":"d","domainPrefix":"d",
              "http":{{"method":"POST","path":"/x","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"t"}},
              "requestId":"req-7","routeKey":"POST /x","stage":"$default","time":"t","timeEpoch":0
              {claims}}},
            "body":{body},"isBase64Encoded":false}}"#,
            body = serde_json::Value::from(body),
        );
        lambda_http::request::from_str(&event).expect("a v2 event")
    }

    const SIGNED_IN: &str = r#","authorizer":{"jwt":{"claims":{"sub":"u-1","username":"u-1","client_id":"c","token_use":"access"},"scopes":null}}"#;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct SignUp {
        email: String,
        age: u8,
        address: Option<Address>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Address {
        city: String,
    }

    #[test]
    fn the_caller_comes_from_the_authorizer_claims() {
        let r = request("{}", SIGNED_IN);
        let caller = caller(&r).expect("a caller");
        assert_eq!(caller.sub, "u-1");
        assert_eq!(caller.client_id.as_deref(), Some("c"));
        assert_eq!(request_id(&r), Some("req-7"));
        assert_eq!(
            super::caller(&request("{}", "")),
            Err(ApiError::Unauthenticated)
        );
        let id_token = SIGNED_IN.replace("\"access\"", "\"id\"");
        assert_eq!(
            super::caller(&request("{}", &id_token)),
            Err(ApiError::Unauthenticated)
        );
    }

    #[test]
    fn a_good_body_parses() {
        let body: SignUp = json_body(
            &request(r#"{"email":"a@b.c","age":3}"#, ""),
            DEFAULT_BODY_LIMIT,
        )
        .expect("parses");
        assert_eq!(body.email, "a@b.c");
    }

    #[test]
    fn body_errors_name_their_field() {
        let err =
            |body: &str| json_body::<SignUp>(&request(body, ""), DEFAULT_BODY_LIMIT).unwrap_err();
        let field = |e: ApiError| match e {
            ApiError::Invalid(errors) => errors[0].field.clone(),
            other => panic!("expected 422, got {other:?}"),
        };
        assert_eq!(field(err(r#"{"age":3}"#)), "email");
        assert_eq!(field(err(r#"{"email":"a","age":"x"}"#)), "age");
        assert_eq!(field(err(r#"{"email":"a","age":300}"#)), "age");
        assert_eq!(field(err(r#"{"email":"a","age":1,"admin":true}"#)), "admin");
        assert_eq!(
            field(err(r#"{"email":"a","age":1,"address":{}}"#)),
            "address.city"
        );
        assert!(matches!(err(r#"{"email":"#), ApiError::Malformed(_)));
        assert!(matches!(
            err(r#"{"email":"a","age":1} x"#),
            ApiError::Malformed(_)
        ));
        assert!(matches!(err(""), ApiError::Malformed(_)));
    }

    #[test]
    fn a_body_over_the_limit_is_too_large() {
        let r = request(r#"{"email":"aaaaaaaaaa","age":1}"#, "");
        assert_eq!(
            json_body::<SignUp>(&r, 10),
            Err(ApiError::TooLarge { limit: 10 })
        );
    }
}
