//! A data table's schema, as plain values: field types and options, the
//! checks a new field passes, the limits of a table, and how a schema
//! changes (add, rename, remove, change a field). No I/O: the table
//! handlers call these, and the records API reads what they produce.
//!
//! Every field has a stable id (`fld_…`) that stored records and indexes
//! use, so renaming a field never rewrites data. A removed field's id is
//! never reused.

use regex::RegexBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::FieldError;

/// Most fields a table holds.
pub const MAX_FIELDS: usize = 100;
/// Most keys a table's fields keep: each unique field counts one, each
/// indexed field one (a field both unique and indexed, two). A record's
/// write releases and claims two items for each key whose value changes,
/// beside the record, its audit entry and its event, all in one
/// transaction of at most [`crate::ports::table::MAX_TRANSACTION_WRITES`].
pub const MAX_KEYED_FIELDS: usize = 10;
/// Longest field name.
pub const MAX_FIELD_NAME: usize = 64;
/// Longest pattern a field may carry, in characters.
pub const MAX_PATTERN: usize = 500;
/// Largest compiled pattern, in bytes.
const MAX_COMPILED_PATTERN: usize = 1 << 16;
/// Most choices of a select field, and the longest choice.
pub const MAX_CHOICES: usize = 100;
/// The longest choice, in characters.
pub const MAX_CHOICE: usize = 100;
/// Field names every record has; no field may take them.
pub const SYSTEM_FIELDS: [(&str, FieldType); 4] = [
    ("id", FieldType::Text),
    ("created_at", FieldType::Datetime),
    ("updated_at", FieldType::Datetime),
    ("created_by", FieldType::Text),
];
/// A record shows its version beside its fields, so no field takes it.
pub const VERSION_FIELD: &str = "version";
/// A list shows a record's expanded relations under this name.
pub const EXPAND_FIELD: &str = "expand";
/// A field name: a lower-case identifier.
pub const FIELD_NAME_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Text of any length.
    LongText,
    /// A whole number.
    Integer,
    /// A number with a fraction.
    Decimal,
    /// True or false.
    Boolean,
    /// A calendar date (`YYYY-MM-DD`).
    Date,
    /// A moment (RFC 3339).
    Datetime,
    /// An e-mail address.
    Email,
    /// A web address.
    Url,
    /// One of the field's choices.
    SingleSelect,
    /// Some of the field's choices.
    MultiSelect,
    /// Any JSON value.
    Json,
    /// A record of a table of the same project (or several).
    Relation,
    /// An uploaded file.
    File,
}

impl FieldType {
    fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::LongText | FieldType::Email | FieldType::Url
        )
    }

    fn is_number(self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Decimal)
    }

    fn is_select(self) -> bool {
        matches!(self, FieldType::SingleSelect | FieldType::MultiSelect)
    }

    /// Whether stored values of `self` always read as `to`, so the type may
    /// change without touching data.
    pub fn converts_to(self, to: FieldType) -> bool {
        use FieldType::*;
        self == to
            || to == Json && !matches!(self, Relation | File)
            || matches!(
                (self, to),
                (Text, LongText)
                    | (LongText, Text)
                    | (Email | Url, Text | LongText)
                    | (Integer, Decimal)
                    | (Integer | Decimal | Boolean | Date | Datetime, Text)
                    | (Date, Datetime)
                    | (SingleSelect, MultiSelect | Text)
            )
    }
}

/// What a relation field points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    /// A table of the same project.
    pub table_id: String,
    /// Whether a record relates to several records.
    #[serde(default)]
    pub many: bool,
}

/// A field as a builder describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// A lower-case identifier, unique in the table.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Every record must have it.
    #[serde(default)]
    pub required: bool,
    /// No two records share a value.
    #[serde(default)]
    pub unique: bool,
    /// Records can be filtered and sorted by it quickly.
    #[serde(default)]
    pub indexed: bool,
    /// The value a record gets when it gives none.
    #[serde(default)]
    pub default: Option<Value>,
    /// Least length (text) or value (numbers).
    #[serde(default)]
    pub min: Option<f64>,
    /// Greatest length (text) or value (numbers).
    #[serde(default)]
    pub max: Option<f64>,
    /// A regular expression text must match (text and long text).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub pattern: Option<String>,
    /// The choices of a select field.
    #[serde(default)]
    pub choices: Option<Vec<String>>,
    /// The table a relation field points at.
    #[serde(default)]
    pub relation: Option<Relation>,
    /// A file field's largest file, in bytes (default 10 MiB).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1073741824)]
    pub max_size: Option<u64>,
    /// A file field's accepted media types: `image/png`, or `image/*` for a
    /// family (default: any).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub accept: Option<Vec<String>>,
}

/// A field of a table: its spec, checked, and its stable id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field {
    /// Stable across renames: what stored records use.
    pub id: String,
    /// A lower-case identifier, unique in the table.
    pub name: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Every record must have it.
    pub required: bool,
    /// No two records share a value.
    pub unique: bool,
    /// Records can be filtered and sorted by it quickly.
    pub indexed: bool,
    /// The value a record gets when it gives none.
    pub default: Option<Value>,
    /// Least length (text) or value (numbers).
    pub min: Option<f64>,
    /// Greatest length (text) or value (numbers).
    pub max: Option<f64>,
    /// A regular expression text must match.
    pub pattern: Option<String>,
    /// The choices of a select field.
    pub choices: Option<Vec<String>>,
    /// The table a relation field points at.
    pub relation: Option<Relation>,
    /// A file field's largest file, in bytes.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// A file field's accepted media types (`type/subtype` or `type/*`).
    #[serde(default)]
    pub accept: Option<Vec<String>>,
    /// The generation of its index: a new one is built whenever the field
    /// becomes indexed or its type changes the index's order.
    #[serde(default)]
    pub index_generation: u32,
    /// Whether its index holds every record: a new index is filled by the
    /// runtime's index worker, and filters use it once it is ready.
    #[serde(default = "ready")]
    pub index_ready: bool,
}

fn ready() -> bool {
    true
}

impl Field {
    /// How many keys a record write keeps for this field: one for a
    /// unique value, one for an index, one for a file (its upload is
    /// claimed in the record's transaction).
    pub fn keys(&self) -> usize {
        usize::from(self.unique)
            + usize::from(self.indexed)
            + usize::from(self.kind == FieldType::File)
    }
}

/// Which types order alike in an index: a type change within one class
/// keeps the index.
fn key_class(kind: FieldType) -> u8 {
    use FieldType::*;
    match kind {
        Integer | Decimal => 0,
        Text | Email | Url | SingleSelect | Relation => 1,
        Date => 2,
        Datetime => 3,
        Boolean => 4,
        _ => 5,
    }
}

/// One change to a table's schema.
#[derive(Clone, Debug, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchemaChange {
    /// Adds a field.
    AddField {
        /// The new field.
        field: FieldSpec,
    },
    /// Renames a field; its data stays.
    RenameField {
        /// The field.
        field_id: String,
        /// Its new name.
        #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
        name: String,
    },
    /// Removes a field; its data is gone from reads.
    RemoveField {
        /// The field.
        field_id: String,
    },
    /// Changes a field's type (where stored values convert) or options;
    /// the spec replaces the field's whole spec, its id stays.
    ChangeField {
        /// The field.
        field_id: String,
        /// Its new spec.
        field: FieldSpec,
    },
}

/// The schema of a request's list of changes: each variant closed to
/// unknown properties, as serde reads it (utoipa leaves a tagged enum's
/// variants open).
pub fn changes_schema() -> utoipa::openapi::schema::Array {
    use utoipa::PartialSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, Schema};
    let mut one = SchemaChange::schema();
    if let RefOr::T(Schema::OneOf(one_of)) = &mut one {
        for variant in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = variant {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
    ArrayBuilder::new()
        .items(one)
        .max_items(Some(MAX_CHANGES))
        .build()
}

/// Most schema changes one request carries.
pub const MAX_CHANGES: usize = 100;

/// Why a schema was refused: the fields at fault, or a limit.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// Field-level problems, each with its JSON path.
    #[error("{} field(s) are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// More fields than [`MAX_FIELDS`].
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
    /// More unique or indexed fields than [`MAX_KEYED_FIELDS`].
    #[error("more than {MAX_KEYED_FIELDS} unique or indexed fields")]
    TooManyKeyedFields,
}

/// A field name as [`FIELD_NAME_PATTERN`] says, not a system field's.
pub fn check_field_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_ok || !rest_ok || name.len() > MAX_FIELD_NAME {
        return Err(format!(
            "must be a lower-case identifier (a letter, then letters, digits or _), at most {MAX_FIELD_NAME} characters"
        ));
    }
    if SYSTEM_FIELDS.iter().any(|(system, _)| *system == name)
        || name == VERSION_FIELD
        || name == EXPAND_FIELD
    {
        return Err("is a system field's name".into());
    }
    Ok(())
}

fn whole(n: f64) -> bool {
    n.fract() == 0.0 && n >= 0.0
}

fn date_ok(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() && text.len() == 10
}

/// Whether `value` is one `kind` holds within the field's options.
fn value_fits(spec: &FieldSpec, kind: FieldType, value: &Value) -> Result<(), String> {
    let choices = spec.choices.as_deref().unwrap_or_default();
    // A bound a value passes, said with the bound, so a person can fix it.
    let within = |n: f64, unit: &str| -> Result<(), String> {
        if let Some(min) = spec.min.filter(|m| n < *m) {
            return Err(format!("is less than the field's minimum of {min}{unit}"));
        }
        if let Some(max) = spec.max.filter(|m| n > *m) {
            return Err(format!("is more than the field's maximum of {max}{unit}"));
        }
        Ok(())
    };
    let wrong = |what: &str| Err(format!("is not {what}"));
    match (kind, value) {
        (FieldType::Json, _) => Ok(()),
        (FieldType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(n) => within(n as f64, ""),
            None => wrong("a whole number"),
        },
        (FieldType::Decimal, Value::Number(n)) => match n.as_f64() {
            Some(n) => within(n, ""),
            None => wrong("a number"),
        },
        (FieldType::Boolean, Value::Bool(_)) => Ok(()),
        (FieldType::Date, Value::String(s)) if date_ok(s) => Ok(()),
        (FieldType::Date, _) => wrong("a date (YYYY-MM-DD)"),
        (FieldType::Datetime, Value::String(s))
            if chrono::DateTime::parse_from_rfc3339(s).is_ok() =>
        {
            Ok(())
        }
        (FieldType::Datetime, _) => wrong("an RFC 3339 time"),
        (FieldType::SingleSelect, Value::String(s)) if choices.contains(s) => Ok(()),
        (FieldType::MultiSelect, Value::Array(items))
            if items
                .iter()
                .all(|v| v.as_str().is_some_and(|s| choices.iter().any(|c| c == s))) =>
        {
            Ok(())
        }
        (FieldType::SingleSelect | FieldType::MultiSelect, _) => Err(format!(
            "is not among the field's choices ({})",
            choices.join(", ")
        )),
        (kind, Value::String(s)) if kind.is_text() => {
            match kind {
                FieldType::Email if crate::tenancy::Email::parse(s).is_err() => {
                    return wrong("an e-mail address");
                }
                FieldType::Url if !url::Url::parse(s).is_ok_and(|u| u.has_host()) => {
                    return wrong("a web address");
                }
                _ => {}
            }
            within(s.chars().count() as f64, " characters")?;
            let matches = spec.pattern.as_deref().is_none_or(|p| {
                RegexBuilder::new(p)
                    .size_limit(MAX_COMPILED_PATTERN)
                    .build()
                    .is_ok_and(|r| r.is_match(s))
            });
            if matches {
                Ok(())
            } else {
                Err("does not match the field's pattern".into())
            }
        }
        (FieldType::Integer, _) => wrong("a whole number"),
        (FieldType::Decimal, _) => wrong("a number"),
        (FieldType::Boolean, _) => wrong("true or false"),
        _ => wrong("text"),
    }
}

impl From<&Field> for FieldSpec {
    fn from(field: &Field) -> Self {
        FieldSpec {
            name: field.name.clone(),
            kind: field.kind,
            required: field.required,
            unique: field.unique,
            indexed: field.indexed,
            default: field.default.clone(),
            min: field.min,
            max: field.max,
            pattern: field.pattern.clone(),
            choices: field.choices.clone(),
            relation: field.relation.clone(),
            max_size: field.max_size,
            accept: field.accept.clone(),
        }
    }
}

/// Whether a record's value fits a field: its type and options (the
/// records API checks every value with it).
pub fn check_value(field: &Field, value: &Value) -> Result<(), String> {
    let kind = field.kind;
    value_fits(&FieldSpec::from(field), kind, value)
}

/// Checks a spec; `path` prefixes each error's field (`fields[2]`).
/// `relation.table_id` is checked by the caller, who can read the project.
pub fn check_spec(spec: &FieldSpec, path: &str) -> Result<FieldType, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut fail = |field: &str, why: String| {
        errors.push(FieldError::new(format!("{path}.{field}"), why));
        false
    };
    // Whether every check so far passed: a default is checked against
    // options only once they hold.
    let mut clean = true;
    if let Err(why) = check_field_name(&spec.name) {
        clean &= fail("name", why);
    }
    let kind = spec.kind;
    let no_key = matches!(
        kind,
        FieldType::LongText | FieldType::Json | FieldType::File | FieldType::MultiSelect
    ) || (kind == FieldType::Relation
        && spec.relation.as_ref().is_some_and(|r| r.many));
    if no_key && spec.unique {
        clean &= fail("unique", format!("a {kind:?} field cannot be unique"));
    }
    if no_key && spec.indexed {
        clean &= fail("indexed", format!("a {kind:?} field cannot be indexed"));
    }
    // min and max: lengths for text, values for numbers, nothing else.
    for (name, bound) in [("min", spec.min), ("max", spec.max)] {
        match bound {
            Some(_) if !kind.is_text() && !kind.is_number() => {
                clean &= fail(name, "applies to text and number fields only".into())
            }
            Some(n) if kind.is_text() && !whole(n) => {
                clean &= fail(name, "is a length: a whole number, 0 or more".into())
            }
            Some(n) if kind == FieldType::Integer && n.fract() != 0.0 => {
                clean &= fail(name, "is a whole number for an integer field".into())
            }
            _ => {}
        }
    }
    if let (Some(min), Some(max)) = (spec.min, spec.max)
        && min > max
    {
        clean &= fail("max", "is less than min".into());
    }
    if let Some(pattern) = &spec.pattern {
        if !matches!(kind, FieldType::Text | FieldType::LongText) {
            clean &= fail("pattern", "applies to text fields only".into());
        } else if pattern.chars().count() > MAX_PATTERN {
            clean &= fail(
                "pattern",
                format!("is longer than {MAX_PATTERN} characters"),
            );
        } else if let Err(e) = RegexBuilder::new(pattern)
            .size_limit(MAX_COMPILED_PATTERN)
            .build()
        {
            clean &= fail(
                "pattern",
                format!("is not a usable regular expression: {e}"),
            );
        }
    }
    match (&spec.choices, kind.is_select()) {
        (None, true) => clean &= fail("choices", "a select field needs its choices".into()),
        (Some(_), false) => clean &= fail("choices", "apply to select fields only".into()),
        (Some(choices), true) => {
            let mut seen = std::collections::HashSet::new();
            if choices.is_empty() || choices.len() > MAX_CHOICES {
                clean &= fail("choices", format!("are 1 to {MAX_CHOICES}"));
            }
            for (i, choice) in choices.iter().enumerate() {
                let count = choice.chars().count();
                if count == 0 || count > MAX_CHOICE || choice.chars().any(char::is_control) {
                    clean &= fail(
                        &format!("choices[{i}]"),
                        format!("is 1 to {MAX_CHOICE} characters, no control character"),
                    );
                } else if !seen.insert(choice) {
                    clean &= fail(&format!("choices[{i}]"), "is there twice".into());
                }
            }
        }
        (None, false) => {}
    }
    match (&spec.relation, kind) {
        (None, FieldType::Relation) => {
            clean &= fail("relation", "a relation field needs its table".into())
        }
        (Some(_), k) if k != FieldType::Relation => {
            clean &= fail("relation", "applies to relation fields only".into())
        }
        _ => {}
    }
    if kind != FieldType::File {
        if spec.max_size.is_some() {
            clean &= fail("max_size", "applies to file fields only".into());
        }
        if spec.accept.is_some() {
            clean &= fail("accept", "applies to file fields only".into());
        }
    }
    if let Some(size) = spec.max_size
        && !(1..=MAX_FILE_SIZE).contains(&size)
    {
        clean &= fail("max_size", format!("is 1 to {MAX_FILE_SIZE} bytes"));
    }
    if let Some(accept) = &spec.accept {
        if accept.len() > MAX_ACCEPT {
            clean &= fail("accept", format!("lists at most {MAX_ACCEPT} media types"));
        }
        for (i, media) in accept.iter().enumerate() {
            if !media_range_ok(media) {
                clean &= fail(
                    &format!("accept[{i}]"),
                    "is a media type such as image/png, or a family such as image/*".into(),
                );
            }
        }
    }
    if let Some(default) = &spec.default {
        if matches!(kind, FieldType::Relation | FieldType::File) {
            fail("default", format!("a {kind:?} field has no default"));
        } else if !default.is_null()
            && clean
            && let Err(why) = value_fits(spec, kind, default)
        {
            fail("default", why);
        }
    }
    if errors.is_empty() {
        Ok(kind)
    } else {
        Err(errors)
    }
}

/// A file field's largest file when it names none.
pub const DEFAULT_FILE_SIZE: u64 = 10 * 1024 * 1024;
/// The largest file any file field takes.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024 * 1024;
/// Most media types a file field lists.
pub const MAX_ACCEPT: usize = 20;

/// A media type (`image/png`) or a family of them (`image/*`), lower case.
fn media_range_ok(text: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 100
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    match text.split_once('/') {
        Some((family, "*")) => token(family),
        Some((family, kind)) => token(family) && token(kind),
        None => false,
    }
}

/// Whether a file field takes a file of `media_type` (its `accept`; any
/// when it lists none).
pub fn accepts(field: &Field, media_type: &str) -> bool {
    let media_type = media_type.to_ascii_lowercase();
    let Some(accept) = &field.accept else {
        return true;
    };
    accept.iter().any(|range| match range.strip_suffix("/*") {
        Some(family) => media_type.split_once('/').is_some_and(|(f, _)| f == family),
        None => *range == media_type,
    })
}

/// A new field's id: stable for the field's life.
pub fn new_field_id() -> String {
    format!("fld_{}", ulid::Ulid::generate().to_string().to_lowercase())
}

fn build(id: String, spec: &FieldSpec, kind: FieldType) -> Field {
    Field {
        id,
        name: spec.name.clone(),
        kind,
        required: spec.required,
        unique: spec.unique,
        indexed: spec.indexed,
        default: spec.default.clone().filter(|d| !d.is_null()),
        min: spec.min,
        max: spec.max,
        pattern: spec.pattern.clone(),
        choices: spec.choices.clone(),
        relation: spec.relation.clone(),
        max_size: spec.max_size,
        accept: spec.accept.clone(),
        index_generation: u32::from(spec.indexed),
        index_ready: true,
    }
}

/// A changed field keeps its index when it stays indexed in the same key
/// class; one that becomes indexed (or changes class) gets a new
/// generation, to be built.
fn rebuilt(before: &Field, mut after: Field) -> Field {
    after.index_generation = before.index_generation;
    after.index_ready = before.index_ready || !before.indexed;
    let same = before.indexed && key_class(before.kind) == key_class(after.kind);
    if after.indexed && !same {
        after.index_generation += 1;
        after.index_ready = false;
    }
    after
}

/// The limits and the name uniqueness of a whole schema.
fn check_whole(fields: &[Field], path: &str) -> Result<(), SchemaError> {
    if fields.len() > MAX_FIELDS {
        return Err(SchemaError::TooManyFields);
    }
    if fields.iter().map(Field::keys).sum::<usize>() > MAX_KEYED_FIELDS {
        return Err(SchemaError::TooManyKeyedFields);
    }
    let mut seen = std::collections::HashSet::new();
    let mut errors = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if !seen.insert(field.name.as_str()) {
            errors.push(FieldError::new(
                format!("{path}[{i}].name"),
                format!("`{}` is the name of another field", field.name),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::Invalid(errors))
    }
}

/// The fields of a new table, each checked, with fresh ids.
pub fn new_fields(specs: &[FieldSpec]) -> Result<Vec<Field>, SchemaError> {
    fields_at(specs, "fields")
}

/// [`new_fields`] of specs found at `path` in the request.
pub fn fields_at(specs: &[FieldSpec], path: &str) -> Result<Vec<Field>, SchemaError> {
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match check_spec(spec, &format!("{path}[{i}]")) {
            Ok(kind) => fields.push(build(new_field_id(), spec, kind)),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(SchemaError::Invalid(errors));
    }
    check_whole(&fields, path)?;
    Ok(fields)
}

/// The indexes a schema change leaves behind, as (field id, generation):
/// a removed field's, one no longer indexed, one rebuilt under a new
/// generation. Their entries are the runtime's to clear.
pub fn dropped_indexes(before: &[Field], after: &[Field]) -> Vec<(String, u32)> {
    before
        .iter()
        .filter(|old| old.indexed)
        .filter(|old| {
            !after.iter().any(|new| {
                new.id == old.id && new.indexed && new.index_generation == old.index_generation
            })
        })
        .map(|old| (old.id.clone(), old.index_generation))
        .collect()
}

/// Applies changes in order to a schema: the new fields, or why not.
/// Nothing is applied unless everything is.
pub fn apply(fields: &[Field], changes: &[SchemaChange]) -> Result<Vec<Field>, SchemaError> {
    let mut next = fields.to_vec();
    let mut errors = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let path = format!("changes[{i}]");
        let position = |id: &str, next: &[Field]| next.iter().position(|f| f.id == id);
        let unknown = |errors: &mut Vec<FieldError>| {
            errors.push(FieldError::new(
                format!("{path}.field_id"),
                "is no field of this table",
            ));
        };
        match change {
            SchemaChange::AddField { field } => match check_spec(field, &format!("{path}.field")) {
                // A new field's index covers the records the table holds
                // once the index worker has filled it.
                Ok(kind) => next.push(Field {
                    index_ready: !field.indexed,
                    ..build(new_field_id(), field, kind)
                }),
                Err(e) => errors.extend(e),
            },
            SchemaChange::RenameField { field_id, name } => match position(field_id, &next) {
                None => unknown(&mut errors),
                Some(at) => match check_field_name(name) {
                    Ok(()) => next[at].name = name.clone(),
                    Err(why) => errors.push(FieldError::new(format!("{path}.name"), why)),
                },
            },
            SchemaChange::RemoveField { field_id } => match position(field_id, &next) {
                None => unknown(&mut errors),
                Some(at) => {
                    next.remove(at);
                }
            },
            SchemaChange::ChangeField { field_id, field } => match position(field_id, &next) {
                None => unknown(&mut errors),
                Some(at) => match check_spec(field, &format!("{path}.field")) {
                    Ok(kind) if !next[at].kind.converts_to(kind) => {
                        errors.push(FieldError::new(
                            format!("{path}.field.type"),
                            format!(
                                "a {:?} field's values do not convert to {kind:?}",
                                next[at].kind
                            ),
                        ));
                    }
                    Ok(kind) => {
                        next[at] = rebuilt(&next[at], build(next[at].id.clone(), field, kind))
                    }
                    Err(e) => errors.extend(e),
                },
            },
        }
    }
    if !errors.is_empty() {
        return Err(SchemaError::Invalid(errors));
    }
    check_whole(&next, "fields")?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(name: &str, kind: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            kind,
            required: false,
            unique: false,
            indexed: false,
            default: None,
            min: None,
            max: None,
            pattern: None,
            choices: None,
            relation: None,
            max_size: None,
            accept: None,
        }
    }

    type TestResult = Result<(), SchemaError>;

    /// The paths of a refusal's field errors; none for anything else.
    fn paths(result: Result<Vec<Field>, SchemaError>) -> Vec<String> {
        match result {
            Err(SchemaError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn every_type_makes_a_field_with_a_stable_id() -> TestResult {
        let mut specs: Vec<FieldSpec> = [
            FieldType::Text,
            FieldType::LongText,
            FieldType::Integer,
            FieldType::Decimal,
            FieldType::Boolean,
            FieldType::Date,
            FieldType::Datetime,
            FieldType::Email,
            FieldType::Url,
            FieldType::Json,
            FieldType::File,
        ]
        .iter()
        .enumerate()
        .map(|(i, k)| spec(&format!("f{i}"), *k))
        .collect();
        specs.push(FieldSpec {
            choices: Some(vec!["a".into(), "b".into()]),
            default: Some(json!("a")),
            ..spec("pick", FieldType::SingleSelect)
        });
        specs.push(FieldSpec {
            choices: Some(vec!["a".into(), "b".into()]),
            default: Some(json!(["a", "b"])),
            ..spec("tags", FieldType::MultiSelect)
        });
        specs.push(FieldSpec {
            relation: Some(Relation {
                table_id: "t".into(),
                many: true,
            }),
            ..spec("friends", FieldType::Relation)
        });
        let fields = new_fields(&specs)?;
        assert_eq!(fields.len(), 14);
        assert!(fields.iter().all(|f| f.id.starts_with("fld_")));
        let ids: std::collections::HashSet<_> = fields.iter().map(|f| &f.id).collect();
        assert_eq!(ids.len(), 14);
        Ok(())
    }

    #[test]
    fn options_that_do_not_fit_the_type_are_refused_with_their_path() {
        let bad = [
            FieldSpec {
                min: Some(1.5),
                ..spec("a", FieldType::Text)
            },
            FieldSpec {
                min: Some(5.0),
                max: Some(1.0),
                ..spec("b", FieldType::Integer)
            },
            FieldSpec {
                pattern: Some("(".into()),
                ..spec("c", FieldType::Text)
            },
            spec("d", FieldType::SingleSelect),
            FieldSpec {
                unique: true,
                ..spec("e", FieldType::Json)
            },
            FieldSpec {
                default: Some(json!("x")),
                ..spec("f", FieldType::Integer)
            },
            spec("g", FieldType::Relation),
            spec("created_at", FieldType::Text),
            spec("Bad Name", FieldType::Text),
        ];
        assert_eq!(
            paths(new_fields(&bad)),
            [
                "fields[0].min",
                "fields[1].max",
                "fields[2].pattern",
                "fields[3].choices",
                "fields[4].unique",
                "fields[5].default",
                "fields[6].relation",
                "fields[7].name",
                "fields[8].name",
            ]
        );
    }

    #[test]
    fn a_default_must_fit_the_field() {
        let text = FieldSpec {
            max: Some(3.0),
            pattern: Some("^[a-z]+$".into()),
            default: Some(json!("abcd")),
            ..spec("code", FieldType::Text)
        };
        assert!(check_spec(&text, "f").is_err());
        let ok = FieldSpec {
            default: Some(json!("abc")),
            ..text
        };
        assert!(check_spec(&ok, "f").is_ok());
        let email = FieldSpec {
            default: Some(json!("not-an-address")),
            ..spec("mail", FieldType::Email)
        };
        assert!(check_spec(&email, "f").is_err());
        let date = FieldSpec {
            default: Some(json!("2026-02-30")),
            ..spec("day", FieldType::Date)
        };
        assert!(check_spec(&date, "f").is_err());
    }

    #[test]
    fn limits_are_their_own_refusals() {
        let many: Vec<FieldSpec> = (0..=MAX_FIELDS)
            .map(|i| spec(&format!("f{i}"), FieldType::Text))
            .collect();
        assert_eq!(new_fields(&many), Err(SchemaError::TooManyFields));
        let keyed: Vec<FieldSpec> = (0..=MAX_KEYED_FIELDS)
            .map(|i| FieldSpec {
                indexed: true,
                ..spec(&format!("f{i}"), FieldType::Text)
            })
            .collect();
        assert_eq!(new_fields(&keyed), Err(SchemaError::TooManyKeyedFields));
        let twice = [spec("a", FieldType::Text), spec("a", FieldType::Integer)];
        assert_eq!(paths(new_fields(&twice)), ["fields[1].name"]);
    }

    #[test]
    fn a_schema_changes_by_add_rename_remove_and_allowed_type_changes() -> TestResult {
        let fields = new_fields(&[
            spec("title", FieldType::Text),
            spec("n", FieldType::Integer),
        ])?;
        let (title, n) = (fields[0].id.clone(), fields[1].id.clone());
        let next = apply(
            &fields,
            &[
                SchemaChange::RenameField {
                    field_id: title.clone(),
                    name: "heading".into(),
                },
                SchemaChange::ChangeField {
                    field_id: n.clone(),
                    field: spec("n", FieldType::Decimal),
                },
                SchemaChange::AddField {
                    field: spec("body", FieldType::LongText),
                },
            ],
        )?;
        assert_eq!(next[0].id, title, "a rename keeps the id");
        assert_eq!(next[0].name, "heading");
        assert_eq!(next[1].kind, FieldType::Decimal);
        assert_eq!(next[1].id, n);
        assert_eq!(next.len(), 3);
        let removed = apply(
            &next,
            &[SchemaChange::RemoveField {
                field_id: title.clone(),
            }],
        )?;
        assert!(removed.iter().all(|f| f.id != title));

        // Decimal values do not all read as integers: refused, nothing changes.
        let refused = apply(
            &next,
            &[
                SchemaChange::AddField {
                    field: spec("extra", FieldType::Text),
                },
                SchemaChange::ChangeField {
                    field_id: n,
                    field: spec("n", FieldType::Integer),
                },
            ],
        );
        assert_eq!(paths(refused), ["changes[1].field.type"]);
        let unknown = apply(
            &next,
            &[SchemaChange::RemoveField {
                field_id: "fld_nope".into(),
            }],
        );
        assert_eq!(paths(unknown), ["changes[0].field_id"]);
        Ok(())
    }

    #[test]
    fn conversions_only_go_where_values_still_read() {
        use FieldType::*;
        assert!(Integer.converts_to(Decimal));
        assert!(!Decimal.converts_to(Integer));
        assert!(Text.converts_to(LongText) && LongText.converts_to(Text));
        assert!(!Text.converts_to(Email));
        assert!(SingleSelect.converts_to(MultiSelect));
        assert!(!MultiSelect.converts_to(SingleSelect));
        assert!(Boolean.converts_to(Json));
        assert!(!Relation.converts_to(Json));
        assert!(!File.converts_to(Text));
    }
}
