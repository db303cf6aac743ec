//! The route table: every Lambda function of the platform, declared once.
//!
//! Each module declares its own [`Module`] next to its code (its API routes
//! and its workers); [`MODULES`] gathers them. An API entry states everything
//! its function needs once: method, path, access, ports, request and response
//! bodies, success status and handler. From this table the local gateway
//! routes, the OpenAPI document is generated, `cargo run -- generate` writes
//! `template.yaml` and the `functions/` binaries, and each binary finds its
//! entry by its own name at compile time ([`function`]).

pub mod queued;
pub mod shim;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::Request;

use crate::http::HandlerResult;
use crate::services::{Port, Services};
use crate::tenancy::Tenant;
use crate::tenancy::grant::KeyScope;
use crate::tenancy::guard::{Scope, ScopeKind};
use crate::tenancy::roles::Role;

/// A boxed future, as every handler in the table returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A handler of a public or signed-in route.
pub type PlainHandler = fn(Arc<Services>, Request) -> BoxFuture<HandlerResult>;

/// A handler of a scoped route: it gets the tenant the guard resolved.
pub type ScopedHandler = fn(Arc<Services>, Request, Tenant) -> BoxFuture<HandlerResult>;

/// An API handler, of the kind its route's access calls for.
#[derive(Clone, Copy)]
pub enum Handler {
    /// For [`Access::Public`] and [`Access::SignedIn`].
    Plain(PlainHandler),
    /// For [`Access::Scoped`].
    Scoped(ScopedHandler),
}

/// An SQS worker: answers which messages of the batch failed.
pub type QueueHandler = fn(Arc<Services>, SqsEvent) -> BoxFuture<SqsBatchResponse>;

/// A Cognito pre-sign-up trigger: answers the event with its response filled.
pub type PreSignUpHandler = fn(
    Arc<Services>,
    CognitoEventUserPoolsPreSignup,
) -> BoxFuture<Result<CognitoEventUserPoolsPreSignup, String>>;

/// A table stream worker: answers the first record that failed, from which
/// the stream retries.
pub type StreamHandler = fn(
    Arc<Services>,
    aws_lambda_events::dynamodb::Event,
) -> BoxFuture<aws_lambda_events::streams::DynamoDbEventResponse>;

/// A scheduled worker: the error goes to the log and Lambda retries.
pub type ScheduleHandler = fn(Arc<Services>, EventBridgeEvent) -> BoxFuture<Result<(), String>>;

/// A Lambda authorizer of the HTTP API: answers the context the guarded
/// function receives (it always lets the request through; the function
/// refuses what the context says is refused, with a problem of its own).
pub type AuthorizerHandler = fn(
    Arc<Services>,
    aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request,
) -> BoxFuture<std::collections::HashMap<String, serde_json::Value>>;

/// Who may call a route; checked before its handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A caller with a valid access token (the JWT authorizer checks it).
    SignedIn,
    /// A signed-in member of the route's organization or project with at
    /// least a role: a non-member gets 404, a lower role 403.
    Scoped(Scope),
}

impl Access {
    /// Members of the organization whose id is the path parameter `param`.
    pub const fn organization(param: &'static str, least: Role) -> Self {
        Access::Scoped(Scope {
            kind: ScopeKind::Organization,
            param,
            least,
            audit: None,
            keys: None,
        })
    }

    /// Members of the organization of the project whose id is `param`.
    pub const fn project(param: &'static str, least: Role) -> Self {
        Access::Scoped(Scope {
            kind: ScopeKind::Project,
            param,
            least,
            audit: None,
            keys: None,
        })
    }

    /// Members of the organization of the workflow whose id is `param`.
    pub const fn workflow(param: &'static str, least: Role) -> Self {
        Access::Scoped(Scope {
            kind: ScopeKind::Workflow,
            param,
            least,
            audit: None,
            keys: None,
        })
    }

    /// Members of the organization of the app whose id is `param`.
    pub const fn app(param: &'static str, least: Role) -> Self {
        Access::Scoped(Scope {
            kind: ScopeKind::App,
            param,
            least,
            audit: None,
            keys: None,
        })
    }

    /// The same access, and also an app's API key (`X-Api-Key`) with
    /// `scope` on the project (a project route only).
    pub const fn or_key(self, scope: KeyScope) -> Self {
        match self {
            Access::Scoped(s) => Access::Scoped(Scope {
                keys: Some(scope),
                ..s
            }),
            other => other,
        }
    }

    /// Whether an app's API key may call the route (its authorizer then
    /// takes either a user's token or a key).
    pub const fn accepts_keys(self) -> bool {
        matches!(self, Access::Scoped(Scope { keys: Some(_), .. }))
    }

    /// The same access; a refusal for the role is audited as `action`
    /// (routes that change something).
    pub const fn audited(self, action: &'static str) -> Self {
        match self {
            Access::Scoped(scope) => Access::Scoped(Scope {
                audit: Some(action),
                ..scope
            }),
            other => other,
        }
    }

    /// Whether the JWT authorizer guards the route.
    pub const fn needs_token(self) -> bool {
        !matches!(self, Access::Public)
    }

    /// The scope, on a scoped route.
    pub const fn scope(self) -> Option<Scope> {
        match self {
            Access::Scoped(scope) => Some(scope),
            _ => None,
        }
    }
}

/// One API function.
#[derive(Clone, Copy)]
pub struct ApiRoute {
    /// The function's name: its binary in `functions/` and its resource in
    /// template.yaml (in CamelCase there).
    pub function: &'static str,
    /// `GET`, `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path template, without trailing slash: `/api/v1/studio/projects/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The ports its handler uses (and so its IAM policy); it gets no other.
    pub ports: &'static [Port],
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// The JSON body it reads, for the OpenAPI document.
    pub request: Option<BodySchema>,
    /// The query parameters it reads ([`crate::http::schema::PAGE`] for a
    /// paged list).
    pub query: &'static [crate::http::schema::QueryParam],
    /// The JSON body it answers with on success.
    pub response: Option<BodySchema>,
    /// The status of success: 200, 201, 202 or 204.
    pub status: u16,
    /// The other statuses it may answer, beyond those every route may (400,
    /// 404, 422, 429, 500; 413 with a body; 401 with a token; 403 when
    /// scoped): 409, 412 … The OpenAPI document lists them all.
    pub refusals: &'static [u16],
    /// The handler.
    pub handler: Handler,
}

/// A body type's OpenAPI schema, taken from its `utoipa::ToSchema` derive.
#[derive(Clone, Copy)]
pub struct BodySchema {
    /// The component name.
    pub name: fn() -> std::borrow::Cow<'static, str>,
    /// The schema itself.
    pub schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    /// The schemas it refers to.
    pub nested: fn(
        &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ),
}

impl BodySchema {
    /// The schema of `T`.
    pub const fn of<T: utoipa::ToSchema>() -> Self {
        Self {
            name: T::name,
            schema: T::schema,
            nested: T::schemas,
        }
    }

    /// The schema of a [`crate::http::Page`] of `T`, named `<T>Page` (a
    /// generic schema's own name would be the same for every `T`).
    pub const fn page_of<T: utoipa::ToSchema>() -> Self {
        fn name<T: utoipa::ToSchema>() -> std::borrow::Cow<'static, str> {
            format!("{}Page", T::name()).into()
        }
        // The page's schema refers to `T` by name; utoipa's generic derive
        // does not register it, so the page does, with what `T` refers to.
        fn nested<T: utoipa::ToSchema>(
            schemas: &mut Vec<(
                String,
                utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
            )>,
        ) {
            schemas.push((T::name().into_owned(), T::schema()));
            T::schemas(schemas);
        }
        Self {
            name: name::<T>,
            schema: <crate::http::Page<T> as utoipa::PartialSchema>::schema,
            nested: nested::<T>,
        }
    }
}

/// What starts a worker.
#[derive(Clone, Copy)]
pub enum Trigger {
    /// Batches of messages from a queue (logical name).
    Queue {
        /// The queue.
        queue: &'static str,
        /// The handler.
        handler: QueueHandler,
    },
    /// Batches of the table's stream (new images, in commit order per
    /// partition), filtered to new items whose partition key starts with
    /// `key_prefix`.
    TableStream {
        /// The filter on `pk`.
        key_prefix: &'static str,
        /// The handler.
        handler: StreamHandler,
    },
    /// The user pool's pre-sign-up hook (attached when the stack's
    /// `AutoConfirm` parameter is true; the embedded pool has the setting
    /// built in).
    PreSignUp {
        /// The handler.
        handler: PreSignUpHandler,
    },
    /// The HTTP API's Lambda authorizer of the routes that take app keys
    /// ([`Access::accepts_keys`]); in the root stack, beside the API.
    Authorizer {
        /// The handler.
        handler: AuthorizerHandler,
    },
    /// A schedule (`rate(1 minute)` or `cron(…)`).
    Schedule {
        /// The EventBridge schedule expression.
        expression: &'static str,
        /// The handler.
        handler: ScheduleHandler,
    },
}

/// The stream filter of a [`Trigger::TableStream`] (Lambda's
/// `FilterCriteria` pattern): new items whose `pk` starts with `key_prefix`.
pub fn stream_filter(key_prefix: &str) -> String {
    serde_json::json!({
        "eventName": ["INSERT"],
        "dynamodb": { "Keys": { "pk": { "S": [{ "prefix": key_prefix }] } } },
    })
    .to_string()
}

/// One worker function.
#[derive(Clone, Copy)]
pub struct WorkerRoute {
    /// The function's name.
    pub function: &'static str,
    /// What invokes it.
    pub trigger: Trigger,
    /// The ports its handler uses; it gets no other.
    pub ports: &'static [Port],
    /// What it does.
    pub summary: &'static str,
    /// How long one invocation may run, in seconds; `None`: the platform's
    /// default (10). A queue hides a message longer than its workers run.
    pub timeout_secs: Option<u32>,
}

/// One module's functions, declared next to its code.
#[derive(Clone, Copy)]
pub struct Module {
    /// `platform`, `foundation`, `studio`, `automation`, `runtime` or
    /// `insights`: the OpenAPI tag, the nested stack, the functions' prefix.
    pub name: &'static str,
    /// Its API functions.
    pub api: &'static [ApiRoute],
    /// Its workers.
    pub workers: &'static [WorkerRoute],
}

/// Every module's functions.
pub const MODULES: &[Module] = &[
    crate::health::MODULE,
    crate::foundation::routes::MODULE,
    crate::studio::routes::MODULE,
    crate::runtime::routes::MODULE,
    crate::insights::MODULE,
    crate::automation::routes::MODULE,
];

/// Wraps `async fn(Arc<Services>, Request) -> HandlerResult` as a [`Handler`].
macro_rules! plain {
    ($handler:path) => {{
        fn handle(
            services: ::std::sync::Arc<$crate::services::Services>,
            request: ::lambda_http::Request,
        ) -> $crate::routes::BoxFuture<$crate::http::HandlerResult> {
            Box::pin($handler(services, request))
        }
        $crate::routes::Handler::Plain(handle)
    }};
}
pub(crate) use plain;

/// Wraps `async fn(Arc<Services>, Request, Tenant) -> HandlerResult` as a
/// [`Handler`] of a scoped route.
macro_rules! scoped {
    ($handler:path) => {{
        fn handle(
            services: ::std::sync::Arc<$crate::services::Services>,
            request: ::lambda_http::Request,
            tenant: $crate::tenancy::Tenant,
        ) -> $crate::routes::BoxFuture<$crate::http::HandlerResult> {
            Box::pin($handler(services, request, tenant))
        }
        $crate::routes::Handler::Scoped(handle)
    }};
}
pub(crate) use scoped;

/// Every API function, module by module.
pub fn api() -> impl Iterator<Item = &'static ApiRoute> {
    MODULES.iter().flat_map(|m| m.api.iter())
}

/// Every worker function, module by module.
pub fn workers() -> impl Iterator<Item = &'static WorkerRoute> {
    MODULES.iter().flat_map(|m| m.workers.iter())
}

/// A function of the table, found by name.
#[derive(Clone, Copy)]
pub enum Function {
    /// An API function.
    Api(ApiRoute),
    /// A worker.
    Worker(WorkerRoute),
}

impl Function {
    /// The ports it declares.
    pub const fn ports(&self) -> &'static [Port] {
        match self {
            Function::Api(route) => route.ports,
            Function::Worker(worker) => worker.ports,
        }
    }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The function named `name`, at compile time: a binary calls it with its
/// own name (`env!("CARGO_BIN_NAME")`), so a binary whose name is no entry of
/// the table does not compile, and it links only its own handler, not the
/// whole table.
pub const fn function(name: &str) -> Function {
    let mut m = 0;
    while m < MODULES.len() {
        let module = &MODULES[m];
        let mut i = 0;
        while i < module.api.len() {
            if same(module.api[i].function, name) {
                return Function::Api(module.api[i]);
            }
            i += 1;
        }
        let mut i = 0;
        while i < module.workers.len() {
            if same(module.workers[i].function, name) {
                return Function::Worker(module.workers[i]);
            }
            i += 1;
        }
        m += 1;
    }
    panic!("no function of the route table has this binary's name")
}

/// The outcome of looking a request up in the table.
#[derive(Clone)]
pub enum Found<'a> {
    /// A route matched; its path parameters in template order.
    Route(&'a ApiRoute),
    /// The path exists but not with this method; the methods it has.
    WrongMethod(Vec<&'static str>),
    /// No route has this path.
    NoRoute,
}

/// Finds the route of a request; a path answers with or without its trailing
/// slash. Gives the path parameters too.
pub fn find(method: &str, path: &str) -> (Found<'static>, Vec<(String, String)>) {
    // As API Gateway does, a path with a literal segment where another
    // route has a parameter (`/projects/import`, `/projects/{id}`) is the
    // literal route's alone: its methods are the only ones it answers.
    let matching: Vec<(&'static ApiRoute, Vec<(String, String)>)> = api()
        .filter_map(|route| match_path(route.path, path).map(|params| (route, params)))
        .collect();
    let Some(fewest) = matching.iter().map(|(_, params)| params.len()).min() else {
        return (Found::NoRoute, Vec::new());
    };
    let mut allowed = Vec::new();
    for (route, params) in matching.into_iter().filter(|(_, p)| p.len() == fewest) {
        if route.method.eq_ignore_ascii_case(method) {
            return (Found::Route(route), params);
        }
        allowed.push(route.method);
    }
    let found = if allowed.is_empty() {
        Found::NoRoute
    } else {
        Found::WrongMethod(allowed)
    };
    (found, Vec::new())
}

/// Matches a path against a template with `{name}` segments.
pub fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let mut wanted = template.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => match w.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                Some(name) if !g.is_empty() => params.push((name.to_string(), g.to_string())),
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

/// The API function of that name.
pub fn api_route(function: &str) -> Option<&'static ApiRoute> {
    api().find(|r| r.function == function)
}

/// The worker function of that name.
pub fn worker(function: &str) -> Option<&'static WorkerRoute> {
    workers().find(|w| w.function == function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn templates_match_with_or_without_trailing_slash() {
        let t = "/api/v1/studio/projects/{id}/add_table";
        let want = Some(vec![("id".to_string(), "p1".to_string())]);
        assert_eq!(match_path(t, "/api/v1/studio/projects/p1/add_table"), want);
        assert_eq!(match_path(t, "/api/v1/studio/projects/p1/add_table/"), want);
        assert_eq!(match_path(t, "/api/v1/studio/projects//add_table"), None);
        assert_eq!(match_path(t, "/api/v1/studio/projects/p1"), None);
        assert_eq!(
            match_path(t, "/api/v1/studio/projects/p1/add_table/x"),
            None
        );
        assert_eq!(match_path("/api/v1/health", "/api/v1/health//"), None);
    }

    #[test]
    fn the_table_is_consistent() {
        let mut names = HashSet::new();
        let mut routes = HashSet::new();
        for module in MODULES {
            assert!(
                [
                    "platform",
                    "foundation",
                    "studio",
                    "automation",
                    "runtime",
                    "insights"
                ]
                .contains(&module.name)
            );
            let prefix = format!("{}-", module.name);
            for route in module.api {
                let name = route.function;
                assert!(names.insert(name), "{name} twice");
                assert!(
                    module.name == "platform" || name.starts_with(&prefix),
                    "{name}"
                );
                assert!(route.path.starts_with("/api/v1/") && !route.path.ends_with('/'));
                assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&route.method));
                assert!(routes.insert((route.method, route.path)), "{}", route.path);
                assert!([200, 201, 202, 204].contains(&route.status), "{name}");
                for status in route.refusals {
                    assert!(
                        [401, 403, 409, 412, 503].contains(status),
                        "{name}: {status}"
                    );
                }
                assert_eq!(route.status == 204, route.response.is_none(), "{name}");
                let names_a_tenant =
                    route.path.contains("/organizations/{") || route.path.contains("/projects/{");
                assert!(
                    !names_a_tenant || route.access.scope().is_some(),
                    "{name}: its path names a tenant, its access no scope"
                );
                match (route.access, route.handler) {
                    (Access::Scoped(scope), Handler::Scoped(_)) => {
                        let param = format!("{{{}}}", scope.param);
                        assert!(route.path.contains(&param), "{name}: no {param}");
                        // The guard reads the membership from the table.
                        assert!(route.ports.contains(&Port::Table), "{name}");
                        if route.method != "GET" {
                            assert!(scope.audit.is_some(), "{name}: a change, unaudited");
                        }
                        if let Some(keys) = scope.keys {
                            assert_eq!(
                                scope.kind,
                                ScopeKind::Project,
                                "{name}: keys open projects"
                            );
                            let reads = route.method == "GET";
                            assert_eq!(keys == KeyScope::Read, reads, "{name}: its key scope");
                        }
                    }
                    (Access::Public | Access::SignedIn, Handler::Plain(_)) => {}
                    _ => panic!("{name}: its handler does not take its access's scope"),
                }
            }
            for worker in module.workers {
                let name = worker.function;
                assert!(names.insert(name), "{name} twice");
                assert!(
                    module.name == "platform" || name.starts_with(&prefix),
                    "{name}"
                );
                if let Trigger::Queue { queue, .. } = worker.trigger {
                    let declared = crate::resources::queue(queue).is_some()
                        || crate::resources::QUEUES
                            .iter()
                            .any(|q| q.dead_letter_name() == queue);
                    assert!(declared, "{queue}");
                }
            }
        }
    }

    #[test]
    fn a_function_is_found_by_name_at_compile_time() {
        const HEALTH: Function = function("health");
        assert!(matches!(HEALTH, Function::Api(r) if r.path == "/api/v1/health"));
        const TICK: Function = function("scheduler-tick");
        assert!(matches!(TICK, Function::Worker(w) if w.function == "scheduler-tick"));
    }

    #[test]
    fn a_known_path_with_another_method_is_told_apart() {
        assert!(matches!(find("GET", "/api/v1/health/").0, Found::Route(_)));
        assert!(matches!(
            find("DELETE", "/api/v1/health").0,
            Found::WrongMethod(methods) if methods == ["GET"]
        ));
        assert!(matches!(find("GET", "/api/v1/nope").0, Found::NoRoute));
    }

    #[test]
    fn a_literal_segment_beats_a_parameter() {
        let import = "/api/v1/studio/projects/import";
        assert!(matches!(
            find("POST", import).0,
            Found::Route(r) if r.function == "studio-projects-import"
        ));
        assert!(matches!(
            find("GET", import).0,
            Found::WrongMethod(methods) if methods == ["POST"]
        ));
        let (found, params) = find("GET", "/api/v1/studio/projects/p1");
        assert!(matches!(found, Found::Route(r) if r.function == "studio-projects-get"));
        assert_eq!(params, [("id".to_string(), "p1".to_string())]);
    }
}
