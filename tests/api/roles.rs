//! The role matrix: every org-scoped route, called by an owner, an admin, an
//! editor, a viewer and a non-member, answers exactly as DESIGN.md §6 says.
//! A non-member always gets 404 and not a byte of the organization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User};

const ORG_NAME: &str = "Matrix Org Secret Name";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Editor,
    Admin,
    Owner,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// What a call needs prepared just for it.
#[derive(Clone, Copy)]
enum Fresh {
    Nothing,
    /// A viewer to act on: `{user_id}`.
    Member,
    /// A pending invitation to act on: `{invitation_id}`.
    Invitation,
    /// The caller is a new member of the caller's role (leaving spends them).
    Caller,
}

struct Case {
    method: Method,
    /// Template of the table, `{id}` for the organization.
    template: &'static str,
    body: fn() -> Option<Value>,
    fresh: Fresh,
    /// The lowest role allowed.
    least: Role,
    success: StatusCode,
}

fn cases() -> Vec<Case> {
    let none = || None;
    vec![
        Case {
            method: Method::GET,
            template: "/api/v1/foundation/organizations/{id}",
            body: none,
            fresh: Fresh::Nothing,
            least: Role::Viewer,
            success: StatusCode::OK,
        },
        Case {
            method: Method::PATCH,
            template: "/api/v1/foundation/organizations/{id}",
            body: || Some(json!({"name": ORG_NAME})),
            fresh: Fresh::Nothing,
            least: Role::Admin,
            success: StatusCode::OK,
        },
        Case {
            method: Method::GET,
            template: "/api/v1/foundation/organizations/{id}/members",
            body: none,
            fresh: Fresh::Nothing,
            least: Role::Viewer,
            success: StatusCode::OK,
        },
        Case {
            method: Method::PATCH,
            template: "/api/v1/foundation/organizations/{id}/members/{user_id}",
            body: || Some(json!({"role": "editor"})),
            fresh: Fresh::Member,
            least: Role::Admin,
            success: StatusCode::OK,
        },
        Case {
            method: Method::DELETE,
            template: "/api/v1/foundation/organizations/{id}/members/{user_id}",
            body: none,
            fresh: Fresh::Member,
            least: Role::Admin,
            success: StatusCode::NO_CONTENT,
        },
        Case {
            method: Method::POST,
            template: "/api/v1/foundation/organizations/{id}/leave",
            body: none,
            fresh: Fresh::Caller,
            least: Role::Viewer,
            success: StatusCode::NO_CONTENT,
        },
        Case {
            method: Method::GET,
            template: "/api/v1/foundation/organizations/{id}/audit",
            body: none,
            fresh: Fresh::Nothing,
            least: Role::Admin,
            success: StatusCode::OK,
        },
        Case {
            method: Method::POST,
            template: "/api/v1/foundation/organizations/{id}/invitations",
            body: || {
                Some(
                    json!({"email": format!("{}@example.com", ulid::Ulid::generate().to_string().to_lowercase()), "role": "viewer"}),
                )
            },
            fresh: Fresh::Nothing,
            least: Role::Admin,
            success: StatusCode::CREATED,
        },
        Case {
            method: Method::GET,
            template: "/api/v1/foundation/organizations/{id}/invitations",
            body: none,
            fresh: Fresh::Nothing,
            least: Role::Admin,
            success: StatusCode::OK,
        },
        Case {
            method: Method::DELETE,
            template: "/api/v1/foundation/organizations/{id}/invitations/{invitation_id}",
            body: none,
            fresh: Fresh::Invitation,
            least: Role::Admin,
            success: StatusCode::NO_CONTENT,
        },
        // Last: it ends the organization.
        Case {
            method: Method::DELETE,
            template: "/api/v1/foundation/organizations/{id}",
            body: none,
            fresh: Fresh::Nothing,
            least: Role::Owner,
            success: StatusCode::NO_CONTENT,
        },
    ]
}

#[test]
fn the_matrix_covers_every_org_scoped_route_of_the_table() {
    let covered: Vec<(String, String)> = cases()
        .iter()
        .map(|c| (c.method.to_string(), c.template.to_string()))
        .collect();
    for route in shared::routes::API {
        if route.path.starts_with("/api/v1/") && route.path.contains("/organizations/{id}") {
            assert!(
                covered.contains(&(route.method.to_string(), route.path.to_string())),
                "{} {} has no row in the role matrix",
                route.method,
                route.path
            );
        }
    }
}

struct World {
    org: String,
    owner: User,
    members: Vec<(Role, User)>,
    outsider: User,
}

async fn prepare(
    app: &TestApp,
    world: &World,
    case: &Case,
    role: Option<Role>,
) -> (String, Option<User>) {
    let mut path = case.template.replace("{id}", &world.org);
    let mut caller = None;
    match case.fresh {
        Fresh::Nothing => {}
        Fresh::Member => {
            let victim = app.member(&world.org, &world.owner, "viewer").await;
            path = path.replace("{user_id}", &victim.id);
        }
        Fresh::Invitation => {
            let email = format!(
                "{}@example.com",
                ulid::Ulid::generate().to_string().to_lowercase()
            );
            let (_, invitation) = app
                .json(
                    Method::POST,
                    &format!("/api/v1/foundation/organizations/{}/invitations", world.org),
                    Some(json!({"email": email, "role": "viewer"})),
                    Some(&world.owner.access),
                )
                .await;
            path = path.replace("{invitation_id}", invitation["id"].as_str().expect("id"));
        }
        Fresh::Caller => {
            if let Some(role) = role {
                caller = Some(app.member(&world.org, &world.owner, role.name()).await);
            }
        }
    }
    (path, caller)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_org_scoped_route_answers_each_role_exactly() {
    let app = TestApp::embedded().await;
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, ORG_NAME).await;
    let mut members = vec![];
    for role in [Role::Admin, Role::Editor, Role::Viewer] {
        members.push((role, app.member(&org, &owner, role.name()).await));
    }
    let outsider = app.signed_up_user().await;
    // The outsider has an organization of their own: being signed in and a
    // member elsewhere must not matter.
    app.organization(&outsider, "Elsewhere").await;
    let world = World {
        org,
        owner,
        members,
        outsider,
    };

    for case in cases() {
        // The owner goes last, so a deleting call runs after every refusal.
        let callers: Vec<(Option<Role>, &User)> = world
            .members
            .iter()
            .map(|(role, user)| (Some(*role), user))
            .chain([(None, &world.outsider), (Some(Role::Owner), &world.owner)])
            .collect();
        for (role, user) in callers {
            let (path, fresh_caller) = prepare(&app, &world, &case, role).await;
            // A leaving owner is a fresh second owner, not the last one.
            let caller = fresh_caller.as_ref().unwrap_or(user);
            let response = app
                .call(
                    case.method.clone(),
                    &path,
                    (case.body)(),
                    Some(&caller.access),
                )
                .await;
            let status = response.status();
            let body = response.text().await.expect("body");
            let expected = match role {
                None => StatusCode::NOT_FOUND,
                Some(role) if role >= case.least => case.success,
                Some(_) => StatusCode::FORBIDDEN,
            };
            assert_eq!(
                status, expected,
                "{} {} as {:?}: {body}",
                case.method, case.template, role
            );
            if role.is_none() {
                assert!(
                    !body.contains(ORG_NAME),
                    "the outsider saw the organization: {body}"
                );
                assert!(
                    !body.contains(&world.owner.id),
                    "the outsider saw a member: {body}"
                );
            }
        }
    }
    app.stop().await;
}
