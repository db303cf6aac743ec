//! Values as comparable scalars, and their order-preserving key encoding:
//! the text of an index item's sort key compares (as UTF-8 bytes, as
//! DynamoDB and the embedded table compare) exactly as the values do.
//! Plain functions, no I/O; the filter's evaluation, the planner and the
//! index writes all compare through [`Scalar`].
//!
//! Encoding, by a one-letter tag then a body, so one field's keys never mix
//! classes (a field has one type; `null` sorts first, as in SQLite):
//!
//! | value    | key                                               |
//! |----------|---------------------------------------------------|
//! | null     | `0`                                               |
//! | boolean  | `b0`, `b1`                                        |
//! | number   | `n` + 16 hex digits of the IEEE 754 bits, flipped so they sort |
//! | date     | `d` + `YYYY-MM-DD`                                |
//! | datetime | `t` + 16 hex digits of the UTC nanoseconds, sign flipped |
//! | text     | `s` + hex of the UTF-8 bytes (first [`MAX_TEXT_KEY`] bytes) |
//!
//! Every body is fixed-length or hex, and hex digits sort above `#`, so a
//! key followed by `#<record id>` keeps (value, id) order.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use crate::studio::schema::FieldType;

/// The text bytes a key holds; longer values share a key with every value
/// of the same prefix (they stay correct: reads re-check the record).
pub const MAX_TEXT_KEY: usize = 400;

/// A field value as it compares.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// No value.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Integers and decimals, compared as 64-bit floats.
    Number(f64),
    /// A calendar date.
    Date(NaiveDate),
    /// A moment, in UTC.
    Instant(DateTime<Utc>),
    /// Text, compared by its UTF-8 bytes.
    Text(String),
}

impl Scalar {
    fn rank(&self) -> u8 {
        match self {
            Scalar::Null => 0,
            Scalar::Bool(_) => 1,
            Scalar::Number(_) => 2,
            Scalar::Date(_) => 3,
            Scalar::Instant(_) => 4,
            Scalar::Text(_) => 5,
        }
    }

    /// The order of values: by class first (null first), then by value.
    pub fn order(&self, other: &Scalar) -> Ordering {
        match (self, other) {
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Number(a), Scalar::Number(b)) => a.total_cmp(b),
            (Scalar::Date(a), Scalar::Date(b)) => a.cmp(b),
            (Scalar::Instant(a), Scalar::Instant(b)) => a.cmp(b),
            (Scalar::Text(a), Scalar::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// The value as JSON, as a record shows it.
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Number(n) => number_json(*n),
            Scalar::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Scalar::Instant(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Scalar::Text(s) => Value::String(s.clone()),
        }
    }
}

fn number_json(n: f64) -> Value {
    // Whole numbers within the exact range read back as integers.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A date macro or a date's text as a moment: midnight UTC for a date.
pub fn instant_of(text: &str) -> Option<DateTime<Utc>> {
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A stored value of a field of `kind` as it compares: the conversions a
/// type change allows are made here (a date of a datetime field is its
/// midnight). `None` for what is no scalar (lists, JSON), or a value that
/// does not fit the type.
pub fn scalar(kind: FieldType, value: Option<&Value>) -> Option<Scalar> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Some(Scalar::Null);
    };
    match (kind, value) {
        (FieldType::Boolean, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (FieldType::Integer | FieldType::Decimal, Value::Number(n)) => n
            .as_f64()
            .map(|n| Scalar::Number(if n == 0.0 { 0.0 } else { n })),
        (FieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(Scalar::Date),
        (FieldType::Datetime, Value::String(s)) => instant_of(s).map(Scalar::Instant),
        (
            FieldType::Text
            | FieldType::Email
            | FieldType::Url
            | FieldType::SingleSelect
            | FieldType::Relation,
            Value::String(s),
        ) => Some(Scalar::Text(s.clone())),
        // A number or a boolean of a field that became text reads as text.
        (FieldType::Text, Value::Number(n)) => Some(Scalar::Text(n.to_string())),
        (FieldType::Text, Value::Bool(b)) => Some(Scalar::Text(b.to_string())),
        _ => None,
    }
}

/// The order-preserving key text of a scalar.
pub fn encode(value: &Scalar) -> String {
    match value {
        Scalar::Null => "0".into(),
        Scalar::Bool(b) => if *b { "b1" } else { "b0" }.into(),
        Scalar::Number(n) => {
            let bits = n.to_bits();
            // Positive numbers: set the sign bit; negative: flip every bit.
            let ordered = if bits >> 63 == 0 {
                bits | 1 << 63
            } else {
                !bits
            };
            format!("n{ordered:016x}")
        }
        Scalar::Date(d) => format!("d{}", d.format("%Y-%m-%d")),
        Scalar::Instant(t) => {
            let nanos = t.timestamp_nanos_opt().unwrap_or(i64::MAX);
            format!("t{:016x}", (nanos as u64) ^ 1 << 63)
        }
        Scalar::Text(s) => {
            let mut key = String::with_capacity(1 + 2 * s.len().min(MAX_TEXT_KEY));
            key.push('s');
            for byte in s.as_bytes().iter().take(MAX_TEXT_KEY) {
                key.push_str(&format!("{byte:02x}"));
            }
            key
        }
    }
}

/// The scalar a key holds (a text longer than [`MAX_TEXT_KEY`] comes back
/// cut to it), or `None` for what [`encode`] never writes.
pub fn decode(key: &str) -> Option<Scalar> {
    let (tag, body) = key.split_at_checked(1)?;
    let hex = |body: &str| {
        u64::from_str_radix(body, 16)
            .ok()
            .filter(|_| body.len() == 16)
    };
    match tag {
        "0" if body.is_empty() => Some(Scalar::Null),
        "b" => match body {
            "0" => Some(Scalar::Bool(false)),
            "1" => Some(Scalar::Bool(true)),
            _ => None,
        },
        "n" => {
            let ordered = hex(body)?;
            let bits = if ordered >> 63 == 1 {
                ordered & !(1 << 63)
            } else {
                !ordered
            };
            Some(Scalar::Number(f64::from_bits(bits)))
        }
        "d" => NaiveDate::parse_from_str(body, "%Y-%m-%d")
            .ok()
            .filter(|_| body.len() == 10)
            .map(Scalar::Date),
        "t" => {
            let nanos = (hex(body)? ^ 1 << 63) as i64;
            Some(Scalar::Instant(DateTime::from_timestamp_nanos(nanos)))
        }
        "s" => {
            if body.len() % 2 != 0 {
                return None;
            }
            let bytes = (0..body.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(body.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            String::from_utf8(bytes).ok().map(Scalar::Text)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date() -> impl Strategy<Value = NaiveDate> {
        (-100_000i32..2_900_000).prop_filter_map("a date", |days| {
            NaiveDate::from_ymd_opt(1970, 1, 1)?
                .checked_add_signed(chrono::Duration::days(days.into()))
        })
    }

    /// Every class, each with the values that stress it: negative and
    /// positive numbers, zero, huge and tiny ones; moments before 1970;
    /// text with every byte range, including what sorts below `#`.
    fn scalar_of_class(class: u8) -> BoxedStrategy<Scalar> {
        match class {
            0 => Just(Scalar::Null).boxed(),
            1 => any::<bool>().prop_map(Scalar::Bool).boxed(),
            2 => prop_oneof![
                any::<i64>().prop_map(|n| n as f64),
                any::<f64>().prop_filter("finite", |n| n.is_finite()),
                Just(0.0),
            ]
            .prop_map(|n| Scalar::Number(if n == 0.0 { 0.0 } else { n }))
            .boxed(),
            3 => date().prop_map(Scalar::Date).boxed(),
            4 => (-9_000_000_000_000_000_000i64..9_000_000_000_000_000_000)
                .prop_map(|n| Scalar::Instant(DateTime::from_timestamp_nanos(n)))
                .boxed(),
            _ => any::<String>().prop_map(Scalar::Text).boxed(),
        }
    }

    fn pair() -> impl Strategy<Value = (Scalar, Scalar)> {
        (0u8..6).prop_flat_map(|class| {
            // Half the time one side is null: nulls sort first in every class.
            let other = prop_oneof![scalar_of_class(class), Just(Scalar::Null)];
            (scalar_of_class(class), other)
        })
    }

    proptest! {
        #[test]
        fn keys_sort_as_their_values((a, b) in pair()) {
            let (ka, kb) = (encode(&a), encode(&b));
            let short = |s: &Scalar| matches!(s, Scalar::Text(t) if t.len() > MAX_TEXT_KEY);
            if !short(&a) && !short(&b) {
                prop_assert_eq!(ka.as_bytes().cmp(kb.as_bytes()), a.order(&b));
            }
            // Followed by a record id, the order still holds.
            let (ia, ib) = (format!("{ka}#01A"), format!("{kb}#01B"));
            if a.order(&b) != Ordering::Equal && !short(&a) && !short(&b) {
                prop_assert_eq!(ia.cmp(&ib), a.order(&b));
            }
        }

        #[test]
        fn keys_round_trip((a, _) in pair()) {
            let back = decode(&encode(&a));
            match &a {
                Scalar::Text(t) if t.len() > MAX_TEXT_KEY => prop_assert!(back.is_none() || back != Some(a.clone())),
                _ => prop_assert_eq!(back, Some(a.clone())),
            }
        }
    }

    #[test]
    fn stored_values_become_scalars_of_their_field_type() {
        use serde_json::json;
        assert_eq!(
            scalar(FieldType::Datetime, Some(&json!("2024-05-01"))),
            instant_of("2024-05-01T00:00:00Z").map(Scalar::Instant)
        );
        assert_eq!(
            scalar(
                FieldType::Datetime,
                Some(&json!("2024-05-01T02:00:00+02:00"))
            ),
            scalar(FieldType::Datetime, Some(&json!("2024-05-01T00:00:00Z")))
        );
        assert_eq!(scalar(FieldType::Integer, None), Some(Scalar::Null));
        assert_eq!(
            scalar(FieldType::Decimal, Some(&json!(-0.0))),
            Some(Scalar::Number(0.0))
        );
        assert_eq!(scalar(FieldType::MultiSelect, Some(&json!(["a"]))), None);
        assert_eq!(Scalar::Number(3.0).to_json(), json!(3));
    }
}
