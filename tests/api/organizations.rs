//! Organizations, members, invitations and the audit log, end to end.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, assert_problem};

fn org_path(org: &str) -> String {
    format!("/api/v1/foundation/organizations/{org}/")
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect()
}

async fn an_organization_is_created_listed_read_renamed_and_deleted_with_audit(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "  Acme  ").await;

    let (status, list) = app
        .json(
            Method::GET,
            "/api/v1/foundation/organizations",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], org.as_str());
    assert_eq!(list["items"][0]["name"], "Acme");
    assert_eq!(list["items"][0]["role"], "owner");

    let (status, got) = app
        .json(Method::GET, &org_path(&org), None, Some(&owner.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (got["version"].as_u64(), got["owners"].as_u64()),
        (Some(1), Some(1))
    );

    let (status, renamed) = app
        .json(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"name": "Acme Inc", "version": 1})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        (renamed["name"].as_str(), renamed["version"].as_u64()),
        (Some("Acme Inc"), Some(2))
    );

    // A stale version is a 412 and writes no success entry.
    let response = app
        .call(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"name": "Stale", "version": 1})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "stale_version").await;

    let entries = app.audit(&org, &owner, "").await;
    assert_eq!(
        actions(&entries),
        ["organization.updated", "organization.created"]
    );
    for entry in &entries {
        assert_eq!(entry["actor"], owner.id.as_str());
        assert_eq!(entry["target_type"], "organization");
        assert_eq!(entry["target_id"], org.as_str());
        assert_eq!(entry["outcome"], "success");
        assert!(entry["request_id"].is_string() && entry["source_ip"] == "127.0.0.1");
    }

    let response = app
        .call(Method::DELETE, &org_path(&org), None, Some(&owner.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // No member can read the log of a deleted organization any more; the
    // entry is there all the same.
    let log = app
        .services
        .table()
        .expect("table")
        .query(&shared::ports::table::Query::partition(format!("AUDIT#{org}")).backward())
        .await
        .expect("audit partition");
    assert_eq!(log.items[0]["action"], "organization.deleted");
    assert_eq!(log.items[0]["actor"], owner.id.as_str());
    let response = app
        .call(Method::GET, &org_path(&org), None, Some(&owner.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let (_, list) = app
        .json(
            Method::GET,
            "/api/v1/foundation/organizations",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(list["items"], json!([]));
    app.stop().await;
}

async fn an_organization_carries_a_description_set_changed_and_cleared(app: TestApp) {
    let owner = app.signed_up_user().await;
    let (status, created) = app
        .json(
            Method::POST,
            "/api/v1/foundation/organizations",
            Some(json!({"name": "Described", "description": "  Our shop  "})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["description"], "Our shop");
    let org = created["id"].as_str().expect("id").to_string();
    let (_, list) = app
        .json(
            Method::GET,
            "/api/v1/foundation/organizations",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(list["items"][0]["description"], "Our shop");

    // Only the description changes; the name stays.
    let (status, changed) = app
        .json(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"description": "x".repeat(1000)})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["name"], "Described");
    assert_eq!(changed["description"].as_str().map(str::len), Some(1000));

    let response = app
        .call(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"description": "x".repeat(1001)})),
            Some(&owner.access),
        )
        .await;
    let problem = assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "description");

    let (status, cleared) = app
        .json(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"description": null})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert!(cleared["description"].is_null(), "{cleared}");
    assert_eq!(cleared["version"], 3);
    app.stop().await;
}

async fn bad_organization_input_is_a_422_and_creates_nothing(app: TestApp) {
    let owner = app.signed_up_user().await;
    for (body, field) in [
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": 5}), "name"),
        (json!({}), "name"),
        (json!({"name": "ok", "owner": "me"}), "owner"),
        (
            json!({"name": "ok", "description": "d".repeat(1001)}),
            "description",
        ),
        (json!({"name": "ok", "description": 7}), "description"),
    ] {
        let response = app
            .call(
                Method::POST,
                "/api/v1/foundation/organizations",
                Some(body),
                Some(&owner.access),
            )
            .await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let (_, list) = app
        .json(
            Method::GET,
            "/api/v1/foundation/organizations",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(list["items"], json!([]));
    app.stop().await;
}

async fn my_organizations_come_in_pages(app: TestApp) {
    let owner = app.signed_up_user().await;
    for name in ["a", "b", "c"] {
        app.organization(&owner, name).await;
    }
    let (_, first) = app
        .json(
            Method::GET,
            "/api/v1/foundation/organizations?limit=2",
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let next = first["next"].as_str().expect("a next page");
    let (_, second) = app
        .json(
            Method::GET,
            &format!("/api/v1/foundation/organizations?limit=2&next={next}"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next"].is_null());
    let response = app
        .call(
            Method::GET,
            "/api/v1/foundation/organizations?limit=0",
            None,
            Some(&owner.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    app.stop().await;
}

async fn the_last_owner_can_never_be_removed_demoted_or_leave(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Solo").await;
    let me = format!(
        "/api/v1/foundation/organizations/{org}/members/{}/",
        owner.id
    );
    let response = app
        .call(
            Method::PATCH,
            &me,
            Some(json!({"role": "admin"})),
            Some(&owner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_owner").await;
    let response = app
        .call(Method::DELETE, &me, None, Some(&owner.access))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_owner").await;
    let leave = format!("/api/v1/foundation/organizations/{org}/leave/");
    let response = app
        .call(Method::POST, &leave, None, Some(&owner.access))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "last_owner").await;

    // With a second owner, the first may step down.
    let second = app.member(&org, &owner, "owner").await;
    let (status, body) = app
        .json(
            Method::PATCH,
            &me,
            Some(json!({"role": "admin"})),
            Some(&second.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "admin");
    let (_, got) = app
        .json(Method::GET, &org_path(&org), None, Some(&second.access))
        .await;
    assert_eq!(got["owners"], 1);
    let success_actions = actions(&app.audit(&org, &second, "outcome=success").await)
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(
        success_actions
            .iter()
            .filter(|a| *a == "member.role_changed")
            .count(),
        1
    );
    app.stop().await;
}

async fn members_are_listed_changed_removed_and_leave(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Team").await;
    let admin = app.member(&org, &owner, "admin").await;
    let viewer = app.member(&org, &admin, "viewer").await;
    let leaver = app.member(&org, &admin, "editor").await;

    let members = format!("/api/v1/foundation/organizations/{org}/members/");
    let (status, list) = app
        .json(Method::GET, &members, None, Some(&viewer.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(4));

    let viewer_path = format!("{members}{}", viewer.id);
    let (status, one) = app
        .json(Method::GET, &viewer_path, None, Some(&leaver.access))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["email"], viewer.email.as_str());
    assert_eq!(one["role"], "viewer");
    let response = app
        .call(
            Method::GET,
            &format!("{members}{}", ulid::Ulid::generate()),
            None,
            Some(&viewer.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;

    let (status, changed) = app
        .json(
            Method::PATCH,
            &viewer_path,
            Some(json!({"role": "editor"})),
            Some(&admin.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["role"], "editor");

    // An admin cannot make owners, and the refusal is audited.
    let response = app
        .call(
            Method::PATCH,
            &viewer_path,
            Some(json!({"role": "owner"})),
            Some(&admin.access),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let denied = app.audit(&org, &owner, "outcome=denied").await;
    assert_eq!(actions(&denied), ["member.role_changed"]);
    assert_eq!(denied[0]["actor"], admin.id.as_str());
    let response = app
        .call(
            Method::PATCH,
            &viewer_path,
            Some(json!({"role": "root"})),
            Some(&admin.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let response = app
        .call(Method::DELETE, &viewer_path, None, Some(&admin.access))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(Method::GET, &org_path(&org), None, Some(&viewer.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;

    let response = app
        .call(
            Method::POST,
            &format!("/api/v1/foundation/organizations/{org}/leave"),
            None,
            Some(&leaver.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let entries = app.audit(&org, &owner, "target_type=member").await;
    assert_eq!(
        actions(&entries),
        ["member.left", "member.removed", "member.role_changed"]
    );
    app.stop().await;
}

async fn a_member_accepting_another_invitation_is_told_they_are_one_already(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Twice").await;
    let member = app.member(&org, &owner, "viewer").await;
    let (status, invitation) = app
        .json(
            Method::POST,
            &format!("/api/v1/foundation/organizations/{org}/invitations/"),
            Some(json!({"email": member.email, "role": "editor"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/invitations/accept",
            Some(json!({"token": invitation["token"]})),
            Some(&member.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "already_member").await;
    // Nothing changed: still a viewer, the invitation still pending.
    let (_, one) = app
        .json(
            Method::GET,
            &format!(
                "/api/v1/foundation/organizations/{org}/members/{}",
                member.id
            ),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(one["role"], "viewer");
    let (_, list) = app
        .json(
            Method::GET,
            &format!("/api/v1/foundation/organizations/{org}/invitations/"),
            None,
            Some(&owner.access),
        )
        .await;
    let pending = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["status"] == "pending")
        .count();
    assert_eq!(pending, 1);
    app.stop().await;
}

async fn an_invitation_is_accepted_once_by_its_addressee_only(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Invites").await;
    let invitee_email = format!(
        "{}@example.com",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let invitations = format!("/api/v1/foundation/organizations/{org}/invitations/");
    let (status, invitation) = app
        .json(
            Method::POST,
            &invitations,
            Some(json!({"email": invitee_email.to_uppercase(), "role": "editor"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    let token = invitation["token"].as_str().expect("token").to_string();
    assert_eq!(invitation["status"], "pending");
    assert_eq!(invitation["email"], invitee_email.as_str());

    // The list never shows the token.
    let (_, list) = app
        .json(Method::GET, &invitations, None, Some(&owner.access))
        .await;
    assert_eq!(list["items"][0]["id"], invitation["id"]);
    assert!(list["items"][0].get("token").is_none());
    assert!(!list.to_string().contains(&token));

    let stranger = app.signed_up_user().await;
    let accept = "/api/v1/foundation/invitations/accept/";
    let response = app
        .call(
            Method::POST,
            accept,
            Some(json!({"token": token})),
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .call(
            Method::POST,
            accept,
            Some(json!({"token": "made-up"})),
            Some(&stranger.access),
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;

    // The invitee's mail carries the same token (the local mailbox, or SES).
    let mail = app.mail_to(&invitee_email).await;
    assert_eq!(mail.len(), 1, "one mail to the invitee");
    assert!(mail[0].contains(&token), "the mail carries the token");
    let invitee = app.signed_up_user_with(&invitee_email).await;
    let (status, member) = app
        .json(
            Method::POST,
            accept,
            Some(json!({"token": token})),
            Some(&invitee.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["role"], "editor");
    let response = app
        .call(
            Method::POST,
            accept,
            Some(json!({"token": token})),
            Some(&invitee.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "invitation_not_pending").await;
    let (status, _) = app
        .json(Method::GET, &org_path(&org), None, Some(&invitee.access))
        .await;
    assert_eq!(status, StatusCode::OK);

    let entries = app.audit(&org, &owner, "target_type=invitation").await;
    assert_eq!(
        actions(&entries),
        ["invitation.accepted", "invitation.created"]
    );
    assert_eq!(entries[0]["actor"], invitee.id.as_str());
    app.stop().await;
}

async fn a_revoked_or_declined_invitation_cannot_be_accepted(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Revokes").await;
    let invitations = format!("/api/v1/foundation/organizations/{org}/invitations/");
    let invite = |email: String| {
        let app = &app;
        let owner = &owner;
        let invitations = invitations.clone();
        async move {
            let (_, body) = app
                .json(
                    Method::POST,
                    &invitations,
                    Some(json!({"email": email, "role": "viewer"})),
                    Some(&owner.access),
                )
                .await;
            body
        }
    };
    let revoked_user = app.signed_up_user().await;
    let revoked = invite(revoked_user.email.clone()).await;
    let response = app
        .call(
            Method::DELETE,
            &format!("{invitations}{}", revoked["id"].as_str().expect("id")),
            None,
            Some(&owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/invitations/accept",
            Some(json!({"token": revoked["token"]})),
            Some(&revoked_user.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "invitation_not_pending").await;

    let decliner = app.signed_up_user().await;
    let declined = invite(decliner.email.clone()).await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/invitations/decline",
            Some(json!({"token": declined["token"]})),
            Some(&decliner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .call(
            Method::POST,
            "/api/v1/foundation/invitations/accept",
            Some(json!({"token": declined["token"]})),
            Some(&decliner.access),
        )
        .await;
    assert_problem(response, StatusCode::CONFLICT, "invitation_not_pending").await;
    let response = app
        .call(Method::GET, &org_path(&org), None, Some(&decliner.access))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;

    let entries = app.audit(&org, &owner, "target_type=invitation").await;
    assert_eq!(
        actions(&entries),
        [
            "invitation.declined",
            "invitation.created",
            "invitation.revoked",
            "invitation.created"
        ]
    );
    assert_eq!(entries[0]["actor"], decliner.id.as_str());
    // The refused accepts wrote nothing.
    assert!(!actions(&app.audit(&org, &owner, "").await).contains(&"invitation.accepted"));
    // Both outcomes were announced.
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let table = app.services.table().expect("table");
    for event in ["invitation.revoked", "invitation.declined"] {
        let seen = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
            crate::helpers::counted(table, &org, &day, event)
                .await
                .filter(|count| *count == 1)
        })
        .await;
        assert!(seen.is_some(), "{event} was announced once");
    }
    app.stop().await;
}

async fn the_audit_log_filters_by_actor_action_target_and_time_and_pages(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Audit").await;
    let before = chrono::Utc::now();
    for i in 0..3 {
        let (status, _) = app
            .json(
                Method::PATCH,
                &org_path(&org),
                Some(json!({"name": format!("n{i}")})),
                Some(&owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let admin = app.member(&org, &owner, "admin").await;
    let by_admin = app
        .audit(&org, &owner, &format!("actor={}", admin.id))
        .await;
    assert_eq!(actions(&by_admin), ["invitation.accepted"]);
    let updates = app.audit(&org, &owner, "action=organization.updated").await;
    assert_eq!(updates.len(), 3);
    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let recent = app
        .audit(&org, &owner, &format!("from={}", since.replace('+', "%2B")))
        .await;
    assert!(!actions(&recent).contains(&"organization.created"));
    assert_eq!(recent.len(), 5);
    let response = app
        .call(
            Method::GET,
            &format!("/api/v1/foundation/organizations/{org}/audit?from=yesterday"),
            None,
            Some(&owner.access),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Pages of two, filtered, cover every update once.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query = match &next {
            Some(cursor) => format!("action=organization.updated&limit=2&next={cursor}"),
            None => "action=organization.updated&limit=2".to_string(),
        };
        let (status, page) = app
            .json(
                Method::GET,
                &format!("/api/v1/foundation/organizations/{org}/audit?{query}"),
                None,
                Some(&owner.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3);
    let _: &User = &admin;
    app.stop().await;
}

async fn every_organization_change_is_announced_as_a_domain_event(app: TestApp) {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Events").await;
    let (status, _) = app
        .json(
            Method::PATCH,
            &org_path(&org),
            Some(json!({"name": "Renamed"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let member = app.member(&org, &owner, "viewer").await;
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!(
                "/api/v1/foundation/organizations/{org}/members/{}",
                member.id
            ),
            Some(json!({"role": "editor"})),
            Some(&owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The insights worker counts every event it receives, per organization.
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let table = app.services.table().expect("table");
    for (event, count) in [
        ("organization.created", 1),
        ("organization.updated", 1),
        ("invitation.created", 1),
        ("invitation.accepted", 1),
        ("member.added", 2),
        ("member.role_changed", 1),
    ] {
        let seen = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
            let counted = crate::helpers::counted(table, &org, &day, event).await?;
            (counted == count).then_some(())
        })
        .await;
        assert!(seen.is_some(), "{event} was counted {count} time(s)");
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(
    an_organization_is_created_listed_read_renamed_and_deleted_with_audit,
    an_organization_carries_a_description_set_changed_and_cleared,
    bad_organization_input_is_a_422_and_creates_nothing,
    my_organizations_come_in_pages,
    the_last_owner_can_never_be_removed_demoted_or_leave,
    members_are_listed_changed_removed_and_leave,
    a_member_accepting_another_invitation_is_told_they_are_one_already,
    an_invitation_is_accepted_once_by_its_addressee_only,
    a_revoked_or_declined_invitation_cannot_be_accepted,
    the_audit_log_filters_by_actor_action_target_and_time_and_pages,
    every_organization_change_is_announced_as_a_domain_event,
);
