//! The JSON Schemas of the values handlers check field by field, so the
//! OpenAPI document states exactly what they enforce (a client, or a fuzzer,
//! can tell a valid request before sending it). Use on a field with
//! `#[schema(schema_with = crate::http::schema::email)]`; each checker next
//! to a schema here accepts exactly what the schema describes.
//!
//! Patterns avoid look-arounds so generators can produce matching strings.
//! "Control" is Unicode's Cc category (U+0000–U+001F, U+007F–U+009F).

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

use super::FieldError;

/// No whitespace and no control characters.
const VISIBLE: &str = r"[^\s\x00-\x1f\x7f-\x9f]";

/// The largest version a client may send: JavaScript's largest safe integer.
pub const MAX_VERSION: u64 = 9_007_199_254_740_991;

/// The longest display name, in characters.
pub const MAX_NAME: usize = 100;
/// The longest free-text description, in characters.
pub const MAX_DESCRIPTION: usize = 1000;
/// The longest code the pool e-mails.
pub const MAX_CODE: usize = 64;
/// The longest invitation token.
pub const MAX_INVITATION_TOKEN: usize = 256;
/// The longest refresh token.
pub const MAX_REFRESH_TOKEN: usize = 8192;

fn string(min: Option<usize>, max: Option<usize>, pattern: Option<String>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(min)
        .max_length(max)
        .pattern(pattern)
}

fn or_null(builder: ObjectBuilder) -> Object {
    builder
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

// ------------------------------------------------------------- e-mail

fn email_builder() -> ObjectBuilder {
    let label = r"[^@\s.\x00-\x1f\x7f-\x9f]";
    string(
        None,
        Some(254),
        Some(format!(
            r"^[^@\s\x00-\x1f\x7f-\x9f]+@({label}+\.)+{label}{{2,}}$"
        )),
    )
    .description(Some(
        "An e-mail address: local@domain.tld, at most 254 characters",
    ))
}

/// An e-mail address (see [`crate::tenancy::Email`]).
pub fn email() -> Object {
    email_builder().build()
}

// -------------------------------------------------------------- names

/// A display name: 1 to 100 characters, not blank, no control characters.
pub fn name() -> Object {
    name_builder().build()
}

/// A display name, or `null`.
pub fn name_or_null() -> Object {
    or_null(name_builder())
}

fn name_builder() -> ObjectBuilder {
    string(
        Some(1),
        Some(MAX_NAME),
        Some(format!(
            r"^[^\x00-\x1f\x7f-\x9f]*{VISIBLE}[^\x00-\x1f\x7f-\x9f]*$"
        )),
    )
}

/// Checks a display name as [`name`] describes it; gives it trimmed.
pub fn check_name(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_NAME {
        return Err(format!("is longer than {MAX_NAME} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    Ok(trimmed.to_string())
}

/// A free text of at most 1,000 characters, or `null`.
pub fn description_or_null() -> Object {
    or_null(string(None, Some(MAX_DESCRIPTION), None))
}

/// Checks a description as [`description_or_null`] describes it; gives it
/// trimmed, and none when it is empty.
pub fn check_description(value: Option<&str>) -> Result<Option<String>, String> {
    let Some(text) = value else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(format!("is longer than {MAX_DESCRIPTION} characters"));
    }
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// A request's display name under `field`, checked; a refusal goes into
/// `errors` (so a handler reports every field at once).
pub fn take_name(field: &str, value: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    check_name(value)
        .map_err(|why| errors.push(FieldError::new(field, why)))
        .ok()
}

/// A PATCH's display name: absent leaves it as it is.
pub fn take_new_name(value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    value.and_then(|v| take_name("name", v, errors))
}

/// A request's description, checked; none when absent or empty.
pub fn take_description(value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    check_description(value)
        .map_err(|why| errors.push(FieldError::new("description", why)))
        .ok()
        .flatten()
}

/// A PATCH's description: absent leaves it (`None`), `null` or `""`
/// clears it (`Some(None)`).
pub fn take_new_description(
    value: Option<&Option<String>>,
    errors: &mut Vec<FieldError>,
) -> Option<Option<String>> {
    let text = value?;
    check_description(text.as_deref())
        .map_err(|why| errors.push(FieldError::new("description", why)))
        .ok()
}

// ---------------------------------------------------------- passwords

/// A new password: 8 to 256 characters (and not a common one, which no
/// schema can say: `foundation::password`).
pub fn new_password() -> Object {
    let policy = crate::resources::PASSWORD_POLICY;
    string(Some(policy.min_length), Some(policy.max_length), None)
        .description(Some(
            "Commonly used or easily guessed passwords are refused",
        ))
        .build()
}

/// A password given to sign in: 1 to 256 characters.
pub fn given_password() -> Object {
    string(
        Some(1),
        Some(crate::resources::PASSWORD_POLICY.max_length),
        None,
    )
    .build()
}

// ------------------------------------------------------------- tokens

/// A code or token we sent: 1 to `max` visible characters.
fn secret(max: usize) -> Object {
    string(None, None, Some(format!("^{VISIBLE}{{1,{max}}}$"))).build()
}

/// A code the pool e-mailed (at most 64 visible characters).
pub fn code() -> Object {
    secret(MAX_CODE)
}

/// An invitation token (at most 256 visible characters).
pub fn invitation_token() -> Object {
    secret(MAX_INVITATION_TOKEN)
}

/// A refresh token (at most 8,192 visible characters).
pub fn refresh_token() -> Object {
    secret(MAX_REFRESH_TOKEN)
}

/// Checks a code or token as [`code`] and its siblings describe it.
pub fn check_secret(value: &str, max: usize) -> bool {
    let length = value.chars().count();
    (1..=max).contains(&length) && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

// ------------------------------------------------------------ profile

/// A language tag like `en` or `en-GB`, or `null`.
pub fn locale_or_null() -> Object {
    or_null(string(
        None,
        None,
        Some(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$".into()),
    ))
}

/// A time zone like `Europe/Paris` or `UTC`, or `null`.
pub fn timezone_or_null() -> Object {
    or_null(string(
        None,
        Some(64),
        Some(r"^(UTC|[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)+)$".into()),
    ))
}

/// A blob key (segments joined by `/`, none empty, `.` or `..`; at most
/// 256 characters), or `null`.
pub fn blob_key_or_null() -> Object {
    let c = r"[^/\x00-\x1f\x7f-\x9f]";
    let first = r"[^/.\x00-\x1f\x7f-\x9f]";
    let segment = format!(r"({first}{c}*|\.{first}{c}*|\.\.{c}+)");
    or_null(string(
        None,
        Some(256),
        Some(format!("^{segment}(/{segment})*$")),
    ))
}

// ------------------------------------------------------------ version

/// An optimistic concurrency version: 0 to [`MAX_VERSION`].
pub fn version() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(0))
        .maximum(Some(MAX_VERSION as f64))
        .description(Some("The version read; a stale one is a 412"))
        .build()
}

/// Reads an optional version as [`version`] describes it: `null`, or a
/// whole number from 0 to [`MAX_VERSION`] (JSON Schema counts `3.0` as an
/// integer, so it is one here too). Use with
/// `#[serde(default, deserialize_with = "crate::http::schema::optional_version")]`.
pub fn optional_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::Deserialize;
    let value = Option::<serde_json::Number>::deserialize(d)?;
    let Some(number) = value else {
        return Ok(None);
    };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= MAX_VERSION as f64)
            .map(|f| f as u64)
    });
    match whole {
        Some(v) if v <= MAX_VERSION => Ok(Some(v)),
        _ => Err(serde::de::Error::custom(format!(
            "must be a whole number from 0 to {MAX_VERSION}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_visible() {
        assert_eq!(check_name("  Ada "), Ok("Ada".to_string()));
        assert!(check_name("   ").is_err());
        assert!(check_name("a\u{7}b").is_err());
        assert!(check_name(&"n".repeat(101)).is_err());
        assert!(check_name(&format!(" {}", "n".repeat(100))).is_err());
    }

    #[test]
    fn secrets_are_visible_and_bounded() {
        assert!(check_secret("123456", 64));
        assert!(!check_secret("", 64));
        assert!(!check_secret("12 34", 64));
        assert!(!check_secret(&"1".repeat(65), 64));
    }

    #[test]
    fn versions_are_whole_numbers_within_javascripts_safe_integers() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "optional_version")]
            version: Option<u64>,
        }
        let read = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.version);
        assert_eq!(read(r#"{"version": 3}"#).ok(), Some(Some(3)));
        assert_eq!(read(r#"{"version": 3.0}"#).ok(), Some(Some(3)));
        assert_eq!(read(r#"{"version": null}"#).ok(), Some(None));
        assert_eq!(read("{}").ok(), Some(None));
        assert_eq!(
            read(&format!(r#"{{"version": {MAX_VERSION}}}"#)).ok(),
            Some(Some(MAX_VERSION))
        );
        assert!(read(&format!(r#"{{"version": {}}}"#, MAX_VERSION + 1)).is_err());
        assert!(read(r#"{"version": 2.5}"#).is_err());
        assert!(read(r#"{"version": -1}"#).is_err());
    }
}

// ------------------------------------------------------- query parameters

/// A query parameter a route reads, with the schema its handler enforces.
#[derive(Clone, Copy)]
pub struct QueryParam {
    /// Its name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// What it may hold.
    pub schema: fn() -> Object,
}

fn page_limit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(super::request::MAX_PAGE))
        .default(Some(super::request::DEFAULT_PAGE.into()))
        .build()
}

fn cursor() -> Object {
    string(Some(1), None, Some("^[A-Za-z0-9_-]+$".into()))
        .description(Some("Opaque: the `next` of the previous page, as given"))
        .build()
}

/// Any text.
pub fn any_text() -> Object {
    ObjectBuilder::new().schema_type(Type::String).build()
}

/// An RFC 3339 time.
pub fn date_time() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .build()
}

fn outcome() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["success", "denied"]))
        .build()
}

/// `limit`: how many items a page holds.
pub const LIMIT: QueryParam = QueryParam {
    name: "limit",
    description: "Items per page",
    schema: page_limit,
};
/// `next`: where the page starts.
pub const NEXT: QueryParam = QueryParam {
    name: "next",
    description: "The previous page's `next`, to read the page after it",
    schema: cursor,
};
/// The parameters of every paged list.
pub const PAGE: &[QueryParam] = &[LIMIT, NEXT];
/// The audit log's parameters: its page and its filters.
pub const AUDIT: &[QueryParam] = &[
    LIMIT,
    NEXT,
    QueryParam {
        name: "actor",
        description: "Only entries by this user id",
        schema: any_text,
    },
    QueryParam {
        name: "action",
        description: "Only this action (`organization.updated` …)",
        schema: any_text,
    },
    QueryParam {
        name: "target_type",
        description: "Only entries about this kind of thing",
        schema: any_text,
    },
    QueryParam {
        name: "target_id",
        description: "Only entries about this thing",
        schema: any_text,
    },
    QueryParam {
        name: "outcome",
        description: "Only changes made, or only refusals",
        schema: outcome,
    },
    QueryParam {
        name: "from",
        description: "Only entries at or after this time (RFC 3339)",
        schema: date_time,
    },
    QueryParam {
        name: "to",
        description: "Only entries at or before this time (RFC 3339)",
        schema: date_time,
    },
];
