//! What an app's API key may do, as the authorizer verified it: the
//! project it opens, read or write, the tables it is kept to and its rate.
//!
//! The runtime module issues and checks keys; the authorizer (a Lambda
//! authorizer on AWS, the local gateway here) hands the verified grant to
//! the function in the request's authorizer context, and the guard holds a
//! route to it. A key never reaches a route that does not accept keys.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::http::ApiError;
use crate::ports::table::{Condition, ItemTable, Key, TableError, Update};

/// The authorizer context's `principal` of a request signed with a user's
/// access token.
pub const USER: &str = "user";
/// … of a request carrying a valid API key.
pub const KEY: &str = "key";
/// … of a request whose credentials were refused (the function answers 401).
pub const NONE: &str = "none";
/// The header an app's client sends its key in.
pub const HEADER: &str = "x-api-key";
/// The prefix of the caller id a key acts under (`created_by`, audit actor),
/// so it never reads as a user's.
pub const ACTOR_PREFIX: &str = "apikey:";

/// What a route lets a key do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyScope {
    /// `records:read`.
    Read,
    /// `records:write`.
    Write,
}

impl KeyScope {
    /// Its name in a key's scopes.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyScope::Read => "records:read",
            KeyScope::Write => "records:write",
        }
    }

    /// The scope a name stands for.
    pub fn parse(text: &str) -> Option<Self> {
        [KeyScope::Read, KeyScope::Write]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A verified key's rights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key's id (never its secret).
    pub key_id: String,
    /// The app it belongs to.
    pub app_id: String,
    /// The app's organization.
    pub organization_id: String,
    /// The app's project: the only one the key opens.
    pub project_id: String,
    /// What it may do.
    pub scopes: Vec<KeyScope>,
    /// The tables it is kept to; empty: every table of the project.
    pub tables: Vec<String>,
    /// Requests a minute.
    pub rate_limit: u32,
}

impl KeyGrant {
    /// The caller id it acts under.
    pub fn actor(&self) -> String {
        format!("{ACTOR_PREFIX}{}", self.key_id)
    }

    /// Whether it may do what `scope` names.
    pub fn allows(&self, scope: KeyScope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether it opens `table_id`.
    pub fn opens_table(&self, table_id: &str) -> bool {
        self.tables.is_empty() || self.tables.iter().any(|t| t == table_id)
    }

    /// The authorizer context that carries it (scalars only: API Gateway
    /// passes a Lambda authorizer's context values as they are).
    pub fn context(&self) -> HashMap<String, Value> {
        let scopes: Vec<&str> = self.scopes.iter().map(|s| s.as_str()).collect();
        HashMap::from([
            ("principal".into(), json!(KEY)),
            ("key_id".into(), json!(self.key_id)),
            ("app_id".into(), json!(self.app_id)),
            ("organization_id".into(), json!(self.organization_id)),
            ("project_id".into(), json!(self.project_id)),
            ("scopes".into(), json!(scopes.join(" "))),
            ("tables".into(), json!(self.tables.join(" "))),
            ("rate_limit".into(), json!(self.rate_limit)),
        ])
    }

    /// The grant an authorizer context carries, if it carries one.
    pub fn from_context(context: &HashMap<String, Value>) -> Option<Self> {
        let text = |name: &str| context.get(name).and_then(Value::as_str);
        if text("principal") != Some(KEY) {
            return None;
        }
        let words = |name: &str| -> Vec<String> {
            text(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        Some(Self {
            key_id: text("key_id")?.to_string(),
            app_id: text("app_id")?.to_string(),
            organization_id: text("organization_id")?.to_string(),
            project_id: text("project_id")?.to_string(),
            scopes: words("scopes")
                .iter()
                .filter_map(|s| KeyScope::parse(s))
                .collect(),
            tables: words("tables"),
            rate_limit: context
                .get("rate_limit")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .and_then(|n| u32::try_from(n).ok())?,
        })
    }
}

/// The authorizer context of refused credentials: the function answers 401
/// with `reason` (a Lambda authorizer that says "no" makes API Gateway
/// answer 403 with a body of its own, so the refusal is the function's).
pub fn refused_context(reason: &str) -> HashMap<String, Value> {
    HashMap::from([
        ("principal".into(), json!(NONE)),
        ("refusal".into(), json!(reason)),
    ])
}

/// The authorizer context of a verified user access token: its claims.
pub fn user_context(claims: HashMap<String, String>) -> HashMap<String, Value> {
    let mut context: HashMap<String, Value> = claims
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    context.insert("principal".into(), json!(USER));
    context
}

/// Length of one rate window.
const WINDOW_SECS: i64 = 60;

/// Counts one request against the key's rate: 429 with the seconds until
/// the window turns once it has made `rate_limit` this minute. One atomic
/// add on an item per key and minute, which the table's TTL removes.
pub async fn spend(table: &dyn ItemTable, grant: &KeyGrant, now: i64) -> Result<(), ApiError> {
    let window = now.div_euclid(WINDOW_SECS);
    let update = Update::of(Key::new(
        format!("RATE#{}", grant.key_id),
        format!("W#{window}"),
    ))
    .add("count", 1)
    .set("expires_at", (window + 2) * WINDOW_SECS)
    .when(Condition::Or(vec![
        Condition::AttributeAbsent("count".into()),
        Condition::LessThan("count".into(), Value::from(grant.rate_limit)),
    ]));
    match table.update(update).await {
        Ok(_) => Ok(()),
        Err(TableError::ConditionFailed) => Err(ApiError::Throttled {
            retry_after: Some(((window + 1) * WINDOW_SECS - now).max(1) as u64),
        }),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> KeyGrant {
        KeyGrant {
            key_id: "k1".into(),
            app_id: "a1".into(),
            organization_id: "o1".into(),
            project_id: "p1".into(),
            scopes: vec![KeyScope::Read],
            tables: vec!["t1".into(), "t2".into()],
            rate_limit: 600,
        }
    }

    #[test]
    fn a_grant_travels_in_the_authorizer_context() {
        let grant = grant();
        assert_eq!(KeyGrant::from_context(&grant.context()), Some(grant));
        let mut as_text = super::tests::grant().context();
        as_text.insert("rate_limit".into(), json!("600"));
        assert_eq!(
            KeyGrant::from_context(&as_text),
            Some(super::tests::grant())
        );
        assert_eq!(KeyGrant::from_context(&refused_context("expired")), None);
        let user = user_context(HashMap::from([("sub".to_string(), "u".to_string())]));
        assert_eq!(KeyGrant::from_context(&user), None);
    }

    #[test]
    fn a_grant_opens_its_tables_and_scopes_only() {
        let mut grant = grant();
        assert!(grant.allows(KeyScope::Read) && !grant.allows(KeyScope::Write));
        assert!(grant.opens_table("t2") && !grant.opens_table("t3"));
        grant.tables.clear();
        assert!(grant.opens_table("t3"));
        assert_eq!(grant.actor(), "apikey:k1");
    }
}
