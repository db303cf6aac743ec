//! The `next` cursor of a records list: the last record's position in the
//! sort, sealed with an HMAC over the table and the query it came from, so
//! it cannot be forged, nor replayed against another table, filter or sort.
//!
//! The signing key lives in the platform's table (one item, written once by
//! whichever function first needs it, under a condition so two cold starts
//! agree), and each process keeps its copy: no setting to deploy, the same
//! on Lambda and locally.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::ApiError;
use crate::ports::table::{Condition, Key, TableError, to_item};
use crate::services::Services;

type HmacSha256 = Hmac<Sha256>;

/// The name the process remembers the key by.
const SECRET: &str = "runtime.cursor";
/// Where the key is kept.
fn key_item() -> Key {
    Key::new("RUNTIME", "CURSOR_KEY")
}

/// The signing key: the process's copy, else the table's, else a new one.
pub async fn signing_key(services: &Services) -> Result<Vec<u8>, ApiError> {
    if let Some(key) = services.remembered(SECRET) {
        return Ok(key);
    }
    let table = services.table()?;
    let stored = |item: &crate::ports::table::Item| {
        item.get("key")
            .and_then(Value::as_str)
            .and_then(|k| URL_SAFE_NO_PAD.decode(k).ok())
    };
    let key = match table.get(&key_item()).await?.as_ref().and_then(stored) {
        Some(key) => key,
        None => {
            let fresh = crate::random::bytes::<32>().to_vec();
            let item = to_item(&json!({
                "pk": key_item().pk, "sk": key_item().sk, "key": URL_SAFE_NO_PAD.encode(&fresh),
            }))?;
            match table.put(item, Some(Condition::Absent)).await {
                Ok(()) => fresh,
                // Another process wrote it first: theirs is the key.
                Err(TableError::ConditionFailed) => table
                    .get(&key_item())
                    .await?
                    .as_ref()
                    .and_then(stored)
                    .ok_or_else(|| ApiError::Internal("the cursor key vanished".into()))?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    services.remember(SECRET, key.clone());
    Ok(key)
}

/// What a cursor is bound to: the table and the query's filter and sort.
pub fn binding(table_id: &str, filter: &str, sort: &str) -> String {
    let digest = Sha256::digest(format!("{table_id}\n{filter}\n{sort}").as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn mac(key: &[u8], payload: &str) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac =
        HmacSha256::new_from_slice(key).unwrap_or_else(|_| HmacSha256::new(&Default::default()));
    mac.update(payload.as_bytes());
    mac
}

/// A cursor after `position`, for the query `binding` names.
pub fn seal(key: &[u8], binding: &str, position: &[String]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(json!({"b": binding, "p": position}).to_string());
    let tag = mac(key, &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
}

/// The position a cursor holds, if it is one this query sealed.
pub fn open(key: &[u8], binding: &str, text: &str) -> Option<Vec<String>> {
    let (payload, tag) = text.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, payload).verify_truncated_left(&tag).ok()?;
    let json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if json.get("b")?.as_str()? != binding {
        return None;
    }
    json.get("p")?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_its_own_query_and_key() {
        let key = [7u8; 32];
        let here = binding("T1", "qty > 1", "-qty");
        let position = vec!["nc000000000000000".to_string(), "s3031".to_string()];
        let cursor = seal(&key, &here, &position);
        assert_eq!(open(&key, &here, &cursor), Some(position));
        assert_eq!(open(&key, &binding("T2", "qty > 1", "-qty"), &cursor), None);
        assert_eq!(open(&key, &binding("T1", "qty > 2", "-qty"), &cursor), None);
        assert_eq!(open(&[8u8; 32], &here, &cursor), None);
        let (payload, tag) = cursor.split_once('.').unwrap_or_default();
        let forged = format!("{}x.{tag}", payload);
        assert_eq!(open(&key, &here, &forged), None);
        assert_eq!(open(&key, &here, "garbage"), None);
    }
}
