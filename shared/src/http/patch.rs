//! Reading a PATCH body's optional fields: absent leaves a field as it is,
//! `null` clears it, a value sets it. Use on an `Option<Option<T>>` field
//! with `#[serde(default, with = "crate::http::patch")]`.

use serde::{Deserialize, Deserializer};

/// Absent → `None` (by `default`), `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}
