//! Between the runtime and a handler: the one place a request meets its
//! route's access. Lambda (`crate::lambda`) and the local gateway both call
//! [`invoke`], so a scoped handler only ever runs for a member with the role
//! its route declares, on every backend. It is also where every request is
//! timed and handed to the request observer (`requests`).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use lambda_http::{Body, Request, Response};

use super::{Access, ApiRoute, Handler};
use crate::http::{ApiError, HandlerResult, caller, carries_key, problem, request_id};
use crate::requests::{self, Observation};
use crate::services::Services;
use crate::tenancy::guard;

/// The organization and project a scoped request was let into.
type Tenancy = Option<(String, Option<String>)>;

/// Runs `request` through `route`: checks its access (401 without a caller,
/// 404 for a non-member, 403 for a lower role), calls the handler and turns
/// an error into its problem response. `services` holds the route's ports
/// and no others. The request observer, if any, learns of it.
pub async fn invoke(route: &ApiRoute, services: Arc<Services>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let id = request_id(&request).map(str::to_owned);
    let mut tenancy = None;
    let response = match run(route, services, request, &mut tenancy).await {
        Ok(response) => response,
        Err(error) => problem(&error, id.as_deref()),
    };
    if let Some(observer) = requests::current() {
        let (organization, project) = tenancy.map_or((None, None), |(o, p)| (Some(o), p));
        observer.observe(&Observation {
            function: route.function,
            module: module_of(route.function),
            route: format!("{} {}", route.method, route.path),
            status: response.status().as_u16(),
            latency: started.elapsed(),
            organization,
            project,
            at: chrono::Utc::now(),
        });
    }
    response
}

/// The module a function belongs to, from the route table, looked up once.
fn module_of(function: &str) -> &'static str {
    static MODULES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MODULES
        .get_or_init(|| {
            super::MODULES
                .iter()
                .flat_map(|m| m.api.iter().map(|r| (r.function, m.name)))
                .collect()
        })
        .get(function)
        .copied()
        .unwrap_or("platform")
}

async fn run(
    route: &ApiRoute,
    services: Arc<Services>,
    request: Request,
    tenancy: &mut Tenancy,
) -> HandlerResult {
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
            *tenancy = Some((
                tenant.organization_id.as_str().to_string(),
                tenant.project_id.as_ref().map(|p| p.as_str().to_string()),
            ));
            handler(services, request, tenant).await
        }
        _ => Err(ApiError::Internal(format!(
            "{}: its handler does not match its access",
            route.function
        ))),
    }
}
