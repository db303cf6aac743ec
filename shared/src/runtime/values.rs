//! A record's values against its table's schema, as plain functions: what
//! a write may set (names to field ids, each value checked, defaults and
//! required fields), and what a read shows (field ids to current names,
//! stored values converted to the field's current type). No I/O.
//!
//! Records store values by field id, so a rename never rewrites them and a
//! removed field's values are simply never shown again. A type change is
//! allowed only where stored values convert ([`crate::studio::schema`]);
//! the conversion happens here, on read.

use serde_json::{Map, Value};

use crate::http::FieldError;
use crate::studio::schema::{self, Field, FieldType, SYSTEM_FIELDS};

/// Stored values, by field id.
pub type Data = Map<String, Value>;

/// Longest text any text field holds, whatever its own max says.
pub const MAX_TEXT: usize = 100_000;
/// Most records one relation value names.
pub const MAX_RELATED: usize = 100;
/// Longest record id a relation names.
const MAX_ID: usize = 64;

/// How a write treats the fields it does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A new record: unnamed fields take their default; required ones must
    /// be named or have one.
    Create,
    /// `PUT`: like a creation, over the record's old values.
    Replace,
    /// `PATCH`: unnamed fields keep their values.
    Merge,
}

/// The records a write's relation values name: (field, target table, ids).
pub type Related = Vec<(String, String, Vec<String>)>;

/// An upload a write attaches to a file field: the records API checks
/// the stored object and claims the upload in the record's transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileClaim {
    /// The field's name.
    pub field: String,
    /// The field's id.
    pub field_id: String,
    /// The upload's id.
    pub file_id: String,
}

/// What a write will store, and the relations to check exist.
#[derive(Debug, PartialEq)]
pub struct Checked {
    /// The record's values, by field id.
    pub data: Data,
    /// The records its relation fields name.
    pub related: Related,
    /// The uploads it attaches (values not yet checked against the store:
    /// each holds its file id until then).
    pub files: Vec<FileClaim>,
}

/// The file id a stored or written file value names: the id itself, or
/// an object with it (what a read shows, sent back unchanged).
pub fn file_id(value: &Value) -> Option<&str> {
    let id = match value {
        Value::String(id) => id.as_str(),
        Value::Object(map) => map.get("id")?.as_str()?,
        _ => return None,
    };
    (!id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

fn relation_ids(field: &Field, value: &Value) -> Option<Vec<String>> {
    let many = field.relation.as_ref().is_some_and(|r| r.many);
    fn id_ok(v: &Value) -> Option<&str> {
        v.as_str().filter(|s| !s.is_empty() && s.len() <= MAX_ID)
    }
    match value {
        Value::String(_) if !many => id_ok(value).map(|s| vec![s.to_string()]),
        Value::Array(items) if many && items.len() <= MAX_RELATED => {
            items.iter().map(|v| id_ok(v).map(str::to_string)).collect()
        }
        _ => None,
    }
}

/// Checks one value for its field; `Ok` carries the relation ids it names.
fn check(field: &Field, value: &Value) -> Result<Vec<String>, String> {
    match field.kind {
        FieldType::Relation => relation_ids(field, value).ok_or_else(|| {
            if field.relation.as_ref().is_some_and(|r| r.many) {
                format!("is a list of at most {MAX_RELATED} record ids")
            } else {
                "is one record id".into()
            }
        }),
        FieldType::File => match file_id(value) {
            Some(_) => Ok(Vec::new()),
            None => {
                Err("is an upload's id (from the files route), or the file a read showed".into())
            }
        },
        _ => {
            if let Value::String(s) = value
                && s.len() > MAX_TEXT
            {
                return Err(format!("is at most {MAX_TEXT} bytes"));
            }
            schema::check_value(field, value).map(|()| Vec::new())
        }
    }
}

/// Checks a write's `values` (field names to values) against `fields`:
/// every problem is listed, named by field. `current` is the record's
/// stored data for a replace or a merge.
pub fn write(
    fields: &[Field],
    values: &Map<String, Value>,
    current: Option<&Data>,
    mode: Mode,
) -> Result<Checked, Vec<FieldError>> {
    let mut errors = Vec::new();
    for name in values.keys() {
        if SYSTEM_FIELDS.iter().any(|(system, _)| system == name) {
            errors.push(FieldError::new(name, "is kept by the platform"));
        } else if !fields.iter().any(|f| &f.name == name) {
            errors.push(FieldError::new(name, "is no field of this table"));
        }
    }
    let mut data = match (mode, current) {
        (Mode::Merge, Some(current)) => current.clone(),
        _ => Data::new(),
    };
    // Values of fields the schema no longer has are dropped on every write.
    data.retain(|id, _| fields.iter().any(|f| &f.id == id));
    let mut related = Vec::new();
    let mut files = Vec::new();
    for field in fields {
        let value = match values.get(&field.name) {
            Some(Value::Null) => {
                data.remove(&field.id);
                None
            }
            Some(value) => Some(value.clone()),
            None if mode == Mode::Merge => None,
            None => field.default.clone(),
        };
        if let Some(value) = value {
            match check(field, &value) {
                Ok(ids) => {
                    if let (false, Some(relation)) = (ids.is_empty(), &field.relation) {
                        related.push((field.name.clone(), relation.table_id.clone(), ids));
                    }
                    let stored = current.and_then(|c| c.get(&field.id));
                    match (field.kind, file_id(&value)) {
                        // The file it holds already: kept as stored.
                        (FieldType::File, Some(id)) if stored.and_then(file_id) == Some(id) => {
                            if let Some(stored) = stored {
                                data.insert(field.id.clone(), stored.clone());
                            }
                        }
                        (FieldType::File, Some(id)) => {
                            files.push(FileClaim {
                                field: field.name.clone(),
                                field_id: field.id.clone(),
                                file_id: id.to_string(),
                            });
                            data.insert(field.id.clone(), Value::String(id.to_string()));
                        }
                        _ => {
                            data.insert(field.id.clone(), value);
                        }
                    }
                }
                Err(why) => errors.push(FieldError::new(&field.name, why)),
            }
        }
        let absent = !data.contains_key(&field.id);
        if field.required && absent && !errors.iter().any(|e| e.field == field.name) {
            errors.push(FieldError::new(&field.name, "is required"));
        }
    }
    if errors.is_empty() {
        Ok(Checked {
            data,
            related,
            files,
        })
    } else {
        Err(errors)
    }
}

/// A stored value as its field's current type shows it: the conversions
/// the schema allows (a number as text, a date as a moment, one choice as
/// a list of one …).
fn convert(kind: FieldType, value: &Value) -> Value {
    match (kind, value) {
        (FieldType::Text | FieldType::LongText, Value::Number(n)) => Value::String(n.to_string()),
        (FieldType::Text | FieldType::LongText, Value::Bool(b)) => Value::String(b.to_string()),
        (FieldType::Datetime, Value::String(s)) if s.len() == 10 => {
            Value::String(format!("{s}T00:00:00Z"))
        }
        (FieldType::MultiSelect, Value::String(s)) => Value::Array(vec![Value::String(s.clone())]),
        _ => value.clone(),
    }
}

/// A record's stored values as a read shows them: by current field name,
/// in the schema's order, fields the schema no longer has left out.
pub fn read(fields: &[Field], data: &Data) -> Map<String, Value> {
    fields
        .iter()
        .filter_map(|f| {
            data.get(&f.id)
                .map(|v| (f.name.clone(), convert(f.kind, v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studio::schema::{FieldSpec, SchemaChange, apply, new_fields};
    use serde_json::json;

    fn fields() -> Result<Vec<Field>, String> {
        let specs: Vec<FieldSpec> = serde_json::from_value(json!([
            {"name": "title", "type": "text", "required": true, "max": 10},
            {"name": "qty", "type": "integer", "default": 1, "min": 0},
            {"name": "tags", "type": "single_select", "choices": ["a", "b"]},
            {"name": "owner", "type": "relation", "relation": {"table_id": "T"}}
        ]))
        .map_err(|e| e.to_string())?;
        new_fields(&specs).map_err(|e| e.to_string())
    }

    fn values(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_write_lists_every_bad_field_by_name() -> Result<(), String> {
        let fields = fields()?;
        let bad = values(json!({"qty": -1, "tags": "c", "id": "x", "nope": 1, "owner": 5}));
        let errors = write(&fields, &bad, None, Mode::Create)
            .err()
            .unwrap_or_default();
        let mut names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["id", "nope", "owner", "qty", "tags", "title"]);
        Ok(())
    }

    #[test]
    fn defaults_fill_a_creation_and_a_merge_keeps_the_rest() -> Result<(), String> {
        let fields = fields()?;
        let made = write(
            &fields,
            &values(json!({"title": "Hi", "owner": "R1"})),
            None,
            Mode::Create,
        )
        .map_err(|e| format!("{e:?}"))?;
        assert_eq!(made.data.get(&fields[1].id), Some(&json!(1)));
        assert_eq!(
            made.related,
            [("owner".into(), "T".into(), vec!["R1".into()])]
        );
        let merged = write(
            &fields,
            &values(json!({"qty": 5, "owner": null})),
            Some(&made.data),
            Mode::Merge,
        )
        .map_err(|e| format!("{e:?}"))?;
        let shown = read(&fields, &merged.data);
        assert_eq!(Value::Object(shown), json!({"title": "Hi", "qty": 5}));
        Ok(())
    }

    #[test]
    fn a_rename_keeps_values_a_removal_hides_them_a_type_change_converts() -> Result<(), String> {
        let fields = fields()?;
        let made = write(
            &fields,
            &values(json!({"title": "Hi", "qty": 3, "tags": "a"})),
            None,
            Mode::Create,
        )
        .map_err(|e| format!("{e:?}"))?;
        let changes: Vec<SchemaChange> = serde_json::from_value(json!([
            {"op": "rename_field", "field_id": fields[0].id, "name": "heading"},
            {"op": "remove_field", "field_id": fields[1].id},
            {"op": "change_field", "field_id": fields[2].id, "field": {"name": "tags", "type": "multi_select", "choices": ["a", "b"]}}
        ]))
        .map_err(|e| e.to_string())?;
        let evolved = apply(&fields, &changes).map_err(|e| e.to_string())?;
        let shown = read(&evolved, &made.data);
        assert_eq!(
            Value::Object(shown),
            json!({"heading": "Hi", "tags": ["a"]})
        );
        Ok(())
    }
}
