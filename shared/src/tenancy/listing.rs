//! "Mine" lists: what a caller sees across every organization they are a
//! member of (projects, apps), read organization by organization in the
//! order of their memberships. The list's `next` is its own position (an
//! organization and the table's cursor inside it), opaque like every cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys;
use crate::http::{ApiError, Page};
use crate::ports::table::{Cursor, Index, Item, ItemTable, MAX_QUERY_LIMIT, Query};

/// Most organizations one page reads, so a caller of many stays bounded.
const MAX_ORGANIZATIONS_PER_PAGE: usize = 50;

/// Where a list across organizations stands.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    org: String,
    after: Option<String>,
}

fn bad_cursor() -> ApiError {
    ApiError::invalid("next", "not a cursor of this list")
}

impl Position {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Result<Self, ApiError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_cursor())?;
        serde_json::from_slice(&bytes).map_err(|_| bad_cursor())
    }
}

/// One page of the items `query` names in each organization `user` is a
/// member of (`query(organization, limit, after)`), from `next` on.
pub async fn across_organizations(
    table: &dyn ItemTable,
    user: &str,
    limit: u32,
    next: Option<&str>,
    query: impl Fn(&str, u32, Option<Cursor>) -> Query,
) -> Result<Page<Item>, ApiError> {
    let position = next.map(Position::decode).transpose()?;
    let memberships = table
        .query(
            &Query::partition(keys::user_partition(user))
                .on(Index::Gsi1)
                .begins_with("ORG#")
                .limit(MAX_QUERY_LIMIT),
        )
        .await?;
    let organizations: Vec<String> = memberships
        .items
        .iter()
        .filter_map(|m| m.get("organization_id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let (start, mut after) = match position {
        None => (0, None),
        Some(p) => {
            let at = organizations
                .iter()
                .position(|o| *o == p.org)
                .ok_or_else(bad_cursor)?;
            let after = p
                .after
                .map(|c| Cursor::parse(&c))
                .transpose()
                .map_err(|_| bad_cursor())?;
            (at, after)
        }
    };
    let mut items = Vec::new();
    let mut next = None;
    let at = |organization: Option<&String>, after: Option<String>| {
        organization.map(|o| Position {
            org: o.clone(),
            after,
        })
    };
    for (index, organization) in organizations
        .iter()
        .enumerate()
        .skip(start)
        .take(MAX_ORGANIZATIONS_PER_PAGE)
    {
        loop {
            let wanted = limit - items.len() as u32;
            let page = table
                .query(&query(organization, wanted, after.take()))
                .await?;
            items.extend(page.items);
            if items.len() as u32 == limit {
                next = match page.next {
                    Some(cursor) => at(Some(organization), Some(cursor.as_str().to_string())),
                    None => at(organizations.get(index + 1), None),
                };
                break;
            }
            match page.next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        if next.is_some() {
            break;
        }
        // Read as far as one page may: go on from the next organization.
        if index + 1 == start + MAX_ORGANIZATIONS_PER_PAGE {
            next = at(organizations.get(index + 1), None);
        }
    }
    Ok(Page {
        items,
        next: next.map(|p| p.encode()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_position_reads_back() -> Result<(), ApiError> {
        let position = Position {
            org: "01H".into(),
            after: Some("abc".into()),
        };
        let back = Position::decode(&position.encode())?;
        assert_eq!(back.org, "01H");
        assert_eq!(back.after.as_deref(), Some("abc"));
        assert!(Position::decode("not base64 json!").is_err());
        Ok(())
    }
}
