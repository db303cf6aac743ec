//! The route table: every Lambda function of the platform, declared once.
//!
//! An API function has a method, a path, whether it needs a signed-in caller,
//! the ports its handler uses and the handler itself; a worker function has its
//! trigger (a queue or a schedule) instead of a path. The local gateway routes
//! by this table, the OpenAPI document is generated from it, each binary in
//! `functions/` runs one entry of it, and a test holds template.yaml to it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::cognito::CognitoEventUserPoolsPreSignup;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, Response};

use crate::foundation::{audit, auth, invitations, members, organizations, users};
use crate::services::{Port, Services};
use crate::{health, insights};

/// A boxed future, as every handler in the table returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An API handler: errors are already problem responses.
pub type ApiHandler = fn(Arc<Services>, Request) -> BoxFuture<Response<Body>>;

/// An SQS worker: answers which messages of the batch failed.
pub type QueueHandler = fn(Arc<Services>, SqsEvent) -> BoxFuture<SqsBatchResponse>;

/// A Cognito pre-sign-up trigger: answers the event with its response filled.
pub type PreSignUpHandler = fn(
    Arc<Services>,
    CognitoEventUserPoolsPreSignup,
) -> BoxFuture<Result<CognitoEventUserPoolsPreSignup, String>>;

/// A scheduled worker: the error goes to the log and Lambda retries.
pub type ScheduleHandler = fn(Arc<Services>, EventBridgeEvent) -> BoxFuture<Result<(), String>>;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone.
    Public,
    /// A caller with a valid access token (the JWT authorizer checks it).
    SignedIn,
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
    pub auth: Auth,
    /// The ports its handler uses (and so its IAM policy).
    pub ports: &'static [Port],
    /// The module it belongs to (its OpenAPI tag).
    pub module: &'static str,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// The JSON body it reads, for the OpenAPI document.
    pub request: Option<BodySchema>,
    /// The JSON body it answers with on success.
    pub response: Option<BodySchema>,
    /// The handler.
    pub handler: ApiHandler,
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
    /// The user pool's pre-sign-up hook (attached when the stack's
    /// `AutoConfirm` parameter is true; the embedded pool has the setting
    /// built in).
    PreSignUp {
        /// The handler.
        handler: PreSignUpHandler,
    },
    /// A schedule (`rate(1 minute)` or `cron(…)`).
    Schedule {
        /// The EventBridge schedule expression.
        expression: &'static str,
        /// The handler.
        handler: ScheduleHandler,
    },
}

/// One worker function.
#[derive(Clone, Copy)]
pub struct WorkerRoute {
    /// The function's name.
    pub function: &'static str,
    /// What invokes it.
    pub trigger: Trigger,
    /// The ports its handler uses.
    pub ports: &'static [Port],
    /// What it does.
    pub summary: &'static str,
}

/// Wraps `async fn(Arc<Services>, Request) -> HandlerResult` as an [`ApiHandler`].
macro_rules! api {
    ($handler:path) => {{
        fn handle(services: Arc<Services>, request: Request) -> BoxFuture<Response<Body>> {
            Box::pin($crate::http::respond(services, request, $handler))
        }
        handle as ApiHandler
    }};
}

/// Every API function.
pub static API: &[ApiRoute] = &[
    ApiRoute {
        function: "health",
        method: "GET",
        path: "/api/v1/health",
        auth: Auth::Public,
        ports: &Port::ALL,
        module: "platform",
        summary: "Version, backend and the status of each port",
        request: None,
        response: Some(BodySchema::of::<health::Health>()),
        handler: api!(health::get),
    },
    ApiRoute {
        function: "foundation-auth-register",
        method: "POST",
        path: "/api/v1/foundation/auth/register/client",
        auth: Auth::Public,
        ports: &[Port::Identity, Port::Events],
        module: "foundation",
        summary: "Create an account",
        request: Some(BodySchema::of::<auth::RegisterRequest>()),
        response: Some(BodySchema::of::<auth::RegisterResponse>()),
        handler: api!(auth::register),
    },
    ApiRoute {
        function: "foundation-auth-login",
        method: "POST",
        path: "/api/v1/foundation/auth/login",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Sign in with e-mail and password",
        request: Some(BodySchema::of::<auth::LoginRequest>()),
        response: Some(BodySchema::of::<auth::LoginResponse>()),
        handler: api!(auth::login),
    },
    ApiRoute {
        function: "foundation-auth-logout",
        method: "POST",
        path: "/api/v1/foundation/auth/logout",
        auth: Auth::SignedIn,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Sign out everywhere",
        request: None,
        response: None,
        handler: api!(auth::logout),
    },
    ApiRoute {
        function: "foundation-users-me",
        method: "GET",
        path: "/api/v1/foundation/users/me",
        auth: Auth::SignedIn,
        ports: &[Port::Identity, Port::Table],
        module: "foundation",
        summary: "The signed-in user's account and profile",
        request: None,
        response: Some(BodySchema::of::<users::Me>()),
        handler: api!(users::get),
    },
    ApiRoute {
        function: "foundation-users-me-update",
        method: "PATCH",
        path: "/api/v1/foundation/users/me",
        auth: Auth::SignedIn,
        ports: &[Port::Identity, Port::Table],
        module: "foundation",
        summary: "Change the signed-in user's profile",
        request: Some(BodySchema::of::<users::ProfilePatch>()),
        response: Some(BodySchema::of::<users::Me>()),
        handler: api!(users::update),
    },
    ApiRoute {
        function: "foundation-auth-confirm",
        method: "POST",
        path: "/api/v1/foundation/auth/confirm",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Confirm a sign-up with the e-mailed code",
        request: Some(BodySchema::of::<auth::ConfirmRequest>()),
        response: None,
        handler: api!(auth::confirm),
    },
    ApiRoute {
        function: "foundation-auth-resend-code",
        method: "POST",
        path: "/api/v1/foundation/auth/resend-code",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Send a new sign-up code",
        request: Some(BodySchema::of::<auth::EmailRequest>()),
        response: Some(BodySchema::of::<auth::DeliveryResponse>()),
        handler: api!(auth::resend_code),
    },
    ApiRoute {
        function: "foundation-auth-refresh",
        method: "POST",
        path: "/api/v1/foundation/auth/refresh",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "New tokens from a refresh token",
        request: Some(BodySchema::of::<auth::RefreshRequest>()),
        response: Some(BodySchema::of::<auth::RefreshResponse>()),
        handler: api!(auth::refresh),
    },
    ApiRoute {
        function: "foundation-auth-password-forgot",
        method: "POST",
        path: "/api/v1/foundation/auth/password/forgot",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Send a password reset code",
        request: Some(BodySchema::of::<auth::EmailRequest>()),
        response: Some(BodySchema::of::<auth::DeliveryResponse>()),
        handler: api!(auth::forgot_password),
    },
    ApiRoute {
        function: "foundation-auth-password-reset",
        method: "POST",
        path: "/api/v1/foundation/auth/password/reset",
        auth: Auth::Public,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Set a new password with the reset code",
        request: Some(BodySchema::of::<auth::ResetRequest>()),
        response: None,
        handler: api!(auth::reset_password),
    },
    ApiRoute {
        function: "foundation-auth-password-change",
        method: "POST",
        path: "/api/v1/foundation/auth/password/change",
        auth: Auth::SignedIn,
        ports: &[Port::Identity],
        module: "foundation",
        summary: "Change the signed-in user's password",
        request: Some(BodySchema::of::<auth::ChangePasswordRequest>()),
        response: None,
        handler: api!(auth::change_password),
    },
    ApiRoute {
        function: "foundation-organizations-create",
        method: "POST",
        path: "/api/v1/foundation/organizations",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Identity, Port::Events],
        module: "foundation",
        summary: "Create an organization; the caller becomes its owner",
        request: Some(BodySchema::of::<organizations::CreateOrganization>()),
        response: Some(BodySchema::of::<organizations::OrganizationView>()),
        handler: api!(organizations::create),
    },
    ApiRoute {
        function: "foundation-organizations-list",
        method: "GET",
        path: "/api/v1/foundation/organizations",
        auth: Auth::SignedIn,
        ports: &[Port::Table],
        module: "foundation",
        summary: "The caller's organizations",
        request: None,
        response: Some(BodySchema::of::<organizations::OrganizationPage>()),
        handler: api!(organizations::list),
    },
    ApiRoute {
        function: "foundation-organizations-get",
        method: "GET",
        path: "/api/v1/foundation/organizations/{id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table],
        module: "foundation",
        summary: "One organization (members)",
        request: None,
        response: Some(BodySchema::of::<organizations::OrganizationView>()),
        handler: api!(organizations::get),
    },
    ApiRoute {
        function: "foundation-organizations-update",
        method: "PATCH",
        path: "/api/v1/foundation/organizations/{id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Rename an organization (admins)",
        request: Some(BodySchema::of::<organizations::UpdateOrganization>()),
        response: Some(BodySchema::of::<organizations::OrganizationView>()),
        handler: api!(organizations::update),
    },
    ApiRoute {
        function: "foundation-organizations-delete",
        method: "DELETE",
        path: "/api/v1/foundation/organizations/{id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Delete an organization (owners)",
        request: None,
        response: None,
        handler: api!(organizations::delete),
    },
    ApiRoute {
        function: "foundation-members-list",
        method: "GET",
        path: "/api/v1/foundation/organizations/{id}/members",
        auth: Auth::SignedIn,
        ports: &[Port::Table],
        module: "foundation",
        summary: "The members (members)",
        request: None,
        response: Some(BodySchema::of::<members::MemberPage>()),
        handler: api!(members::list),
    },
    ApiRoute {
        function: "foundation-members-update",
        method: "PATCH",
        path: "/api/v1/foundation/organizations/{id}/members/{user_id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Change a member's role (admins; owners for owner)",
        request: Some(BodySchema::of::<members::ChangeRole>()),
        response: Some(BodySchema::of::<members::MemberView>()),
        handler: api!(members::change_role),
    },
    ApiRoute {
        function: "foundation-members-remove",
        method: "DELETE",
        path: "/api/v1/foundation/organizations/{id}/members/{user_id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Remove a member (admins; owners for owners)",
        request: None,
        response: None,
        handler: api!(members::remove),
    },
    ApiRoute {
        function: "foundation-organizations-leave",
        method: "POST",
        path: "/api/v1/foundation/organizations/{id}/leave",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Leave an organization (not its last owner)",
        request: None,
        response: None,
        handler: api!(members::leave),
    },
    ApiRoute {
        function: "foundation-audit-list",
        method: "GET",
        path: "/api/v1/foundation/organizations/{id}/audit",
        auth: Auth::SignedIn,
        ports: &[Port::Table],
        module: "foundation",
        summary: "The audit log, filtered (admins)",
        request: None,
        response: Some(BodySchema::of::<audit::AuditPage>()),
        handler: api!(audit::list),
    },
    ApiRoute {
        function: "foundation-invitations-create",
        method: "POST",
        path: "/api/v1/foundation/organizations/{id}/invitations",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Invite an e-mail address with a role (admins)",
        request: Some(BodySchema::of::<invitations::CreateInvitation>()),
        response: Some(BodySchema::of::<invitations::CreatedInvitation>()),
        handler: api!(invitations::create),
    },
    ApiRoute {
        function: "foundation-invitations-list",
        method: "GET",
        path: "/api/v1/foundation/organizations/{id}/invitations",
        auth: Auth::SignedIn,
        ports: &[Port::Table],
        module: "foundation",
        summary: "The invitations (admins)",
        request: None,
        response: Some(BodySchema::of::<invitations::InvitationPage>()),
        handler: api!(invitations::list),
    },
    ApiRoute {
        function: "foundation-invitations-revoke",
        method: "DELETE",
        path: "/api/v1/foundation/organizations/{id}/invitations/{invitation_id}",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Events],
        module: "foundation",
        summary: "Revoke a pending invitation (admins)",
        request: None,
        response: None,
        handler: api!(invitations::revoke),
    },
    ApiRoute {
        function: "foundation-invitations-accept",
        method: "POST",
        path: "/api/v1/foundation/invitations/accept",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Identity, Port::Events],
        module: "foundation",
        summary: "Accept an invitation sent to the caller's e-mail",
        request: Some(BodySchema::of::<invitations::InvitationToken>()),
        response: Some(BodySchema::of::<members::MemberView>()),
        handler: api!(invitations::accept),
    },
    ApiRoute {
        function: "foundation-invitations-decline",
        method: "POST",
        path: "/api/v1/foundation/invitations/decline",
        auth: Auth::SignedIn,
        ports: &[Port::Table, Port::Identity, Port::Events],
        module: "foundation",
        summary: "Decline an invitation sent to the caller's e-mail",
        request: Some(BodySchema::of::<invitations::InvitationToken>()),
        response: None,
        handler: api!(invitations::decline),
    },
];

/// Every worker function.
pub static WORKERS: &[WorkerRoute] = &[
    WorkerRoute {
        function: "foundation-pre-sign-up",
        trigger: Trigger::PreSignUp {
            handler: |services, event| Box::pin(auth::pre_sign_up(services, event)),
        },
        ports: &[],
        summary: "Confirms sign-ups at once when the stack auto-confirms",
    },
    WorkerRoute {
        function: "insights-ingest",
        trigger: Trigger::Queue {
            queue: "insights-ingest",
            handler: |services, event| Box::pin(insights::ingest::handle(services, event)),
        },
        ports: &[Port::Table],
        summary: "Counts every domain event per organization, day and type",
    },
    WorkerRoute {
        function: "scheduler-tick",
        trigger: Trigger::Schedule {
            expression: "rate(1 minute)",
            handler: |services, event| Box::pin(health::scheduler_tick(services, event)),
        },
        ports: &[Port::Table],
        summary: "Runs once a minute; records the tick the health report shows",
    },
];

/// The outcome of looking a request up in the table.
#[derive(Clone, Copy)]
pub enum Found<'a> {
    /// A route matched; its path parameters in template order.
    Route(&'a ApiRoute),
    /// The path exists but not with this method.
    WrongMethod,
    /// No route has this path.
    NoRoute,
}

/// Finds the route of a request; a path answers with or without its trailing
/// slash. Gives the path parameters too.
pub fn find(method: &str, path: &str) -> (Found<'static>, Vec<(String, String)>) {
    let mut path_exists = false;
    for route in API {
        if let Some(params) = match_path(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return (Found::Route(route), params);
            }
            path_exists = true;
        }
    }
    let found = if path_exists {
        Found::WrongMethod
    } else {
        Found::NoRoute
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
    API.iter().find(|r| r.function == function)
}

/// The worker function of that name.
pub fn worker(function: &str) -> Option<&'static WorkerRoute> {
    WORKERS.iter().find(|w| w.function == function)
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
        for route in API {
            assert!(names.insert(route.function), "{} twice", route.function);
            assert!(route.path.starts_with("/api/v1/") && !route.path.ends_with('/'));
            assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&route.method));
            assert!(
                [
                    "platform",
                    "foundation",
                    "studio",
                    "automation",
                    "runtime",
                    "insights"
                ]
                .contains(&route.module)
            );
        }
        for worker in WORKERS {
            assert!(names.insert(worker.function), "{} twice", worker.function);
            if let Trigger::Queue { queue, .. } = worker.trigger {
                assert!(crate::resources::queue(queue).is_some(), "{queue}");
            }
        }
        let mut routes = HashSet::new();
        for route in API {
            assert!(routes.insert((route.method, route.path)), "{}", route.path);
        }
    }

    #[test]
    fn a_known_path_with_another_method_is_told_apart() {
        assert!(matches!(find("GET", "/api/v1/health/").0, Found::Route(_)));
        assert!(matches!(
            find("DELETE", "/api/v1/health").0,
            Found::WrongMethod
        ));
        assert!(matches!(find("GET", "/api/v1/nope").0, Found::NoRoute));
    }
}
