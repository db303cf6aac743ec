//! Invitations: an admin invites an e-mail address with a role; the invitee,
//! signed in with that address, accepts or declines with the token.
//!
//! The token is random, shown once in the create response and stored only
//! as its SHA-256 hash (indexed on gsi2 so accepting is one query). An
//! invitation expires after 7 days and is accepted at most once.
//!
//! Items: `ORG#<org>` / `INVITE#<id>`, `gsi2pk = INVITE#<token hash>`.

use std::sync::Arc;

use super::FoundationError;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::change::{Change, ChangeError};
use crate::http::{
    ApiError, DEFAULT_BODY_LIMIT, HandlerResult, Page, access_token, json, json_body, no_content,
    page_params, path_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::mail::{Mail, MessageKind};
use crate::ports::table::{Condition, Index, Key, Query, Update, Write, from_item, to_keyed_item};
use crate::services::Services;
use crate::tenancy::Email;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::guard::{self, member_item};
use crate::tenancy::{Membership, RequestMeta, Role, Tenant, keys};
use crate::tenancy::{OrganizationId, UserId};

/// The audited action of an invitation.
pub const CREATED: &str = "invitation.created";
/// The audited action of a revocation.
pub const REVOKED: &str = "invitation.revoked";

/// Where an invitation stands; only a pending one can be settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Waiting for the invitee.
    Pending,
    /// The invitee joined.
    Accepted,
    /// The invitee said no.
    Declined,
    /// An admin withdrew it.
    Revoked,
}

/// How long an invitation can be accepted.
pub const VALIDITY_DAYS: i64 = 7;

/// An invitation as stored and shown (never with its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Sortable id.
    pub id: String,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The invited address (lower case).
    pub email: String,
    /// The role the invitee gets.
    pub role: Role,
    /// Where it stands.
    pub status: InvitationStatus,
    /// Who invited.
    pub invited_by: UserId,
    /// When.
    pub created_at: String,
    /// Until when it can be accepted.
    pub expires_at: String,
    /// Optimistic concurrency version.
    pub version: u64,
}

/// The created invitation, with its token: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: Invitation,
    /// The secret the invitee accepts with.
    pub token: String,
}

/// `POST /organizations/{id}/invitations/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    /// Who to invite.
    #[schema(schema_with = crate::http::schema::email)]
    pub email: String,
    /// The role they get.
    pub role: Role,
}

/// `POST /invitations/accept/` and `/decline/`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationToken {
    /// The token from the invitation.
    #[schema(schema_with = crate::http::schema::invitation_token)]
    pub token: String,
}

fn key(organization_id: &str, id: &str) -> Key {
    Key::new(
        keys::organization_partition(organization_id),
        format!("{INVITE_PREFIX}{id}"),
    )
}

/// The sort key prefix of invitation items.
const INVITE_PREFIX: &str = "INVITE#";

/// The gsi2 partition that finds an invitation by its token's hash.
fn token_partition(hash: &str) -> String {
    format!("{INVITE_PREFIX}{hash}")
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn item(invitation: &Invitation, hash: &str) -> Result<crate::ports::table::Item, ApiError> {
    let mut item = to_keyed_item(invitation, key(&invitation.organization_id, &invitation.id))?;
    item.insert("gsi2pk".into(), Value::String(token_partition(hash)));
    item.insert("gsi2sk".into(), Value::String("INVITE".into()));
    Ok(item)
}

fn pending() -> Condition {
    Condition::Equals("status".into(), json!(InvitationStatus::Pending))
}

/// Invites an address (admins; only owners invite owners).
pub async fn create(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let body: CreateInvitation = json_body(&request, DEFAULT_BODY_LIMIT)?;
    let email = Email::parse(&body.email).map_err(|why| ApiError::invalid("email", why))?;
    let action = CREATED;
    if body.role == Role::Owner && tenant.role() < Role::Owner {
        return Err(guard::refuse(&services, meta, id, action).await);
    }
    let token = crate::random::token();
    let now = Utc::now();
    let invitation = Invitation {
        id: ulid::Ulid::generate().to_string(),
        organization_id: id.into(),
        email: email.as_str().to_lowercase(),
        role: body.role,
        status: InvitationStatus::Pending,
        invited_by: meta.caller.sub.clone(),
        created_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        expires_at: (now + Duration::days(VALIDITY_DAYS))
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        version: 1,
    };
    Change::new()
        .write(
            "invitation",
            Write::Put {
                item: item(&invitation, &token_hash(&token))?,
                condition: Some(Condition::Absent),
            },
        )
        .write(
            "audit",
            audit::record(
                meta,
                id,
                action,
                Target {
                    kind: "invitation",
                    id: &invitation.id,
                },
            )?,
        )
        .event(DomainEvent::new(
            "foundation",
            action,
            json!({"organization_id": id, "invitation_id": invitation.id, "role": invitation.role}),
        ))
        .commit(services.table()?)
        .await?;
    mail(&services, &invitation, &token).await;
    json(
        StatusCode::CREATED,
        &CreatedInvitation { invitation, token },
    )
}

/// Mails the token to the invitee where the platform has a mailer. A
/// failure is logged: the invitation stands and the inviting admin holds the
/// token too.
async fn mail(services: &Services, invitation: &Invitation, token: &str) {
    let Some(mailer) = services.mailer() else {
        return;
    };
    let organization = super::organizations::load(services, &invitation.organization_id)
        .await
        .map(|o| o.name)
        .unwrap_or_else(|_| "an organization".into());
    let subject = format!(
        "You are invited to join {organization} as {}",
        invitation.role.as_str()
    );
    let sent = mailer
        .send(&Mail {
            to: &invitation.email,
            subject: &subject,
            kind: MessageKind::Invitation,
            secret: token,
        })
        .await;
    if let Err(error) = sent {
        tracing::error!(%error, invitation_id = invitation.id, "invitation mail not written");
    }
}

/// Lists invitations (admins).
pub async fn list(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let page = services
        .table()?
        .query(
            &Query::partition(keys::organization_partition(&tenant.organization_id))
                .begins_with(INVITE_PREFIX)
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let items = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    json(StatusCode::OK, &Page::<Invitation>::new(items, page.next))
}

/// Revokes a pending invitation (admins).
pub async fn revoke(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let (meta, id) = (&tenant.meta, tenant.organization_id.as_str());
    let invitation_id = path_param(&request, "invitation_id")?;
    let action = REVOKED;
    let table = services.table()?;
    if table.get(&key(id, invitation_id)).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let event = DomainEvent::new(
        "foundation",
        action,
        json!({"organization_id": id, "invitation_id": invitation_id}),
    );
    settle(
        &services,
        meta,
        id,
        invitation_id,
        InvitationStatus::Revoked,
        action,
        Change::new().event(event),
    )
    .await?;
    no_content()
}

/// Moves a pending invitation to `status` within `change` (its other writes
/// and events), all or nothing.
async fn settle(
    services: &Services,
    meta: &RequestMeta,
    organization_id: &str,
    invitation_id: &str,
    status: InvitationStatus,
    action: &str,
    change: Change,
) -> Result<(), ApiError> {
    let change = change
        .write(
            "invitation",
            Write::Update(
                Update::of(key(organization_id, invitation_id))
                    .set("status", json!(status))
                    .add("version", 1)
                    .when(pending()),
            ),
        )
        .write(
            "audit",
            audit::record(
                meta,
                organization_id,
                action,
                Target {
                    kind: "invitation",
                    id: invitation_id,
                },
            )?,
        );
    match change.commit(services.table()?).await {
        Ok(()) => Ok(()),
        Err(ChangeError::Refused("member")) => Err(ApiError::from(FoundationError::AlreadyMember)),
        Err(ChangeError::Refused(_)) => Err(ApiError::from(FoundationError::InvitationNotPending)),
        Err(e) => Err(e.into()),
    }
}

/// The pending invitation a token names, for the signed-in invitee: another
/// address gets 404, as an unknown token does.
async fn for_invitee(
    services: &Services,
    request: &Request,
) -> Result<(RequestMeta, Invitation, String), ApiError> {
    let meta = RequestMeta::of(request)?;
    let body: InvitationToken = json_body(request, DEFAULT_BODY_LIMIT)?;
    if !crate::http::schema::check_secret(&body.token, crate::http::schema::MAX_INVITATION_TOKEN) {
        return Err(ApiError::invalid("token", "is not an invitation token"));
    }
    let found = services
        .table()?
        .query(
            &Query::partition(token_partition(&token_hash(&body.token)))
                .on(Index::Gsi2)
                .limit(1),
        )
        .await?;
    let invitation: Invitation = found
        .items
        .into_iter()
        .next()
        .map(from_item)
        .transpose()?
        .ok_or(ApiError::NotFound)?;
    let user = services
        .identity()?
        .get_user(access_token(request)?)
        .await?;
    let email = user
        .attributes
        .get("email")
        .map(|e| e.to_lowercase())
        .unwrap_or_default();
    if email != invitation.email {
        return Err(ApiError::NotFound);
    }
    if invitation.status != InvitationStatus::Pending {
        return Err(ApiError::from(FoundationError::InvitationNotPending));
    }
    let expired = DateTime::parse_from_rfc3339(&invitation.expires_at)
        .map(|t| t < Utc::now())
        .unwrap_or(true);
    if expired {
        return Err(ApiError::from(FoundationError::InvitationExpired));
    }
    Ok((meta, invitation, email))
}

/// Accepts an invitation: the caller becomes a member with its role.
pub async fn accept(services: Arc<Services>, request: Request) -> HandlerResult {
    let (meta, invitation, email) = for_invitee(&services, &request).await?;
    let org = invitation.organization_id.as_str();
    let member = Membership {
        organization_id: org.into(),
        user_id: meta.caller.sub.clone(),
        email,
        role: invitation.role,
        joined_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        version: 1,
    };
    let owners = (member.role == Role::Owner).then(|| {
        Write::Update(
            Update::of(super::organizations::key(org))
                .add("owners", 1)
                .when(Condition::Exists),
        )
    });
    let change = Change::new()
        .write(
            "member",
            Write::Put {
                item: member_item(&member)?,
                condition: Some(Condition::Absent),
            },
        )
        .maybe("owners", owners)
        .event(DomainEvent::new(
            "foundation",
            "invitation.accepted",
            json!({"organization_id": org, "invitation_id": invitation.id, "user_id": meta.caller.sub}),
        ))
        .event(DomainEvent::new(
            "foundation",
            "member.added",
            json!({"organization_id": org, "user_id": meta.caller.sub, "role": member.role}),
        ));
    settle(
        &services,
        &meta,
        org,
        &invitation.id,
        InvitationStatus::Accepted,
        "invitation.accepted",
        change,
    )
    .await?;
    json(StatusCode::OK, &super::members::MemberView::from(member))
}

/// Declines an invitation.
pub async fn decline(services: Arc<Services>, request: Request) -> HandlerResult {
    let (meta, invitation, _) = for_invitee(&services, &request).await?;
    let org = invitation.organization_id.as_str();
    let event = DomainEvent::new(
        "foundation",
        "invitation.declined",
        json!({"organization_id": org, "invitation_id": invitation.id}),
    );
    settle(
        &services,
        &meta,
        org,
        &invitation.id,
        InvitationStatus::Declined,
        "invitation.declined",
        Change::new().event(event),
    )
    .await?;
    no_content()
}
