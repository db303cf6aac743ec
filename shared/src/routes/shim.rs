//! Between the runtime and a handler: the one place a request meets its
//! route's access. Lambda (`crate::lambda`) and the local gateway both call
//! [`invoke`], so a scoped handler only ever runs for a member with the role
//! its route declares, on every backend.

use std::sync::Arc;

use lambda_http::{Body, Request, Response};

use super::{Access, ApiRoute, Handler};
use crate::http::{ApiError, HandlerResult, caller, carries_key, problem, request_id};
use crate::services::Services;
use crate::tenancy::guard;

/// Runs `request` through `route`: checks its access (401 without a caller,
/// 404 for a non-member, 403 for a lower role), calls the handler and turns
/// an error into its problem response. `services` holds the route's ports
/// and no others.
pub async fn invoke(route: &ApiRoute, services: Arc<Services>, request: Request) -> Response<Body> {
    let id = request_id(&request).map(str::to_owned);
    match run(route, services, request).await {
        Ok(response) => response,
        Err(error) => problem(&error, id.as_deref()),
    }
}

async fn run(route: &ApiRoute, services: Arc<Services>, request: Request) -> HandlerResult {
    // App keys open the records routes only; anywhere else a key is refused
    // even beside a valid token, so a leaked key never learns more.
    if !route.access.accepts_keys() && carries_key(&request) {
        return Err(ApiError::ApiKeyNotAccepted);
    }
    match (route.access, route.handler) {
        (Access::Public, Handler::Plain(handler)) => handler(services, request).await,
        (Access::SignedIn, Handler::Plain(handler)) => {
            caller(&request)?;
            handler(services, request).await
        }
        (Access::Scoped(scope), Handler::Scoped(handler)) => {
            let tenant = guard::resolve(&services, &request, &scope).await?;
            handler(services, request, tenant).await
        }
        _ => Err(ApiError::Internal(format!(
            "{}: its handler does not match its access",
            route.function
        ))),
    }
}
