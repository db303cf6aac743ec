//! A parsed filter and sort checked against a table's schema, and their
//! evaluation on one record. Plain functions, no I/O.
//!
//! The check resolves every name to a [`Column`] (a field of the table or
//! a system field), every literal to the [`Scalar`] the column compares
//! with (date macros resolved against the `now` given), and refuses what
//! cannot hold: an unknown field, an operator the type has no meaning for,
//! a literal of another type, a choice the field does not have. Each
//! refusal names the field and its byte span.
//!
//! Semantics, for the docs (docs/filter.md): a missing value is `null`;
//! comparisons with `null` are false except `!=` and `!~`; on a multi-valued
//! field the plain form holds when every value does (and there is one, for
//! `=`, `~` and the orderings), the `?` form when some value does; `in`
//! holds when some value is listed; `~` is a case-insensitive substring
//! test.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::Value;

use super::filter::{Expr, Literal, Op, Span};
use super::keys::{self, Scalar};
use super::values::Data;
use crate::studio::schema::{Field, FieldType, SYSTEM_FIELDS, VERSION_FIELD};

/// Where a column's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// The record id.
    Id,
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `created_by`.
    CreatedBy,
    /// `version`.
    Version,
    /// A field of the table, by id.
    Field(String),
}

/// A name a filter or sort may use.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The name, as the request says it.
    pub name: String,
    /// What it reads.
    pub source: Source,
    /// Its type.
    pub kind: FieldType,
    /// Whether it holds a list (multi-select, a relation to many).
    pub many: bool,
    /// The choices of a select field.
    pub choices: Option<Vec<String>>,
    /// Its index's generation, when it has one that is ready.
    pub index: Option<u32>,
}

impl Column {
    fn of_field(field: &Field) -> Self {
        Column {
            name: field.name.clone(),
            source: Source::Field(field.id.clone()),
            kind: field.kind,
            many: field.kind == FieldType::MultiSelect
                || field.relation.as_ref().is_some_and(|r| r.many),
            choices: field.choices.clone(),
            index: (field.indexed && field.index_ready).then_some(field.index_generation),
        }
    }

    fn system(name: &str, kind: FieldType, source: Source) -> Self {
        Column {
            name: name.into(),
            source,
            kind,
            many: false,
            choices: None,
            index: None,
        }
    }

    /// Whether its values are neither scalars nor lists of them (JSON, files).
    pub fn opaque(&self) -> bool {
        matches!(self.kind, FieldType::Json | FieldType::File)
    }

    /// The field id it reads, for a field of the table.
    pub fn field_id(&self) -> Option<&str> {
        match &self.source {
            Source::Field(id) => Some(id),
            _ => None,
        }
    }
}

/// The columns of a table: its fields, then the system fields.
pub fn columns(fields: &[Field]) -> Vec<Column> {
    let mut columns: Vec<Column> = fields.iter().map(Column::of_field).collect();
    for (name, kind) in SYSTEM_FIELDS {
        let source = match name {
            "id" => Source::Id,
            "created_at" => Source::CreatedAt,
            "updated_at" => Source::UpdatedAt,
            _ => Source::CreatedBy,
        };
        columns.push(Column::system(name, kind, source));
    }
    columns.push(Column::system(
        VERSION_FIELD,
        FieldType::Integer,
        Source::Version,
    ));
    columns
}

/// A record as a filter reads it.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// Its id.
    pub id: &'a str,
    /// `created_at`.
    pub created_at: &'a str,
    /// `updated_at`.
    pub updated_at: &'a str,
    /// `created_by`.
    pub created_by: &'a str,
    /// Its version.
    pub version: u64,
    /// Its values, by field id.
    pub data: &'a Data,
}

/// What a record holds in a column.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// One value (or null).
    One(Scalar),
    /// A list of values.
    Many(Vec<Scalar>),
    /// A value that is no scalar: whether there is one.
    Opaque(bool),
}

impl Row<'_> {
    /// The record's value in a column.
    pub fn cell(&self, column: &Column) -> Cell {
        let text = |s: &str| Cell::One(Scalar::Text(s.to_string()));
        let moment = |s: &str| Cell::One(keys::instant_of(s).map_or(Scalar::Null, Scalar::Instant));
        match &column.source {
            Source::Id => text(self.id),
            Source::CreatedBy => text(self.created_by),
            Source::CreatedAt => moment(self.created_at),
            Source::UpdatedAt => moment(self.updated_at),
            Source::Version => Cell::One(Scalar::Number(self.version as f64)),
            Source::Field(id) => {
                let value = self.data.get(id).filter(|v| !v.is_null());
                if column.opaque() {
                    return Cell::Opaque(value.is_some());
                }
                if column.many {
                    let items = match value {
                        Some(Value::Array(items)) => items.iter().collect(),
                        Some(one) => vec![one],
                        None => Vec::new(),
                    };
                    // Each element compares as the single-valued form would.
                    let kind = if column.kind == FieldType::MultiSelect {
                        FieldType::SingleSelect
                    } else {
                        column.kind
                    };
                    return Cell::Many(
                        items
                            .into_iter()
                            .filter_map(|v| keys::scalar(kind, Some(v)))
                            .collect(),
                    );
                }
                Cell::One(keys::scalar(column.kind, value).unwrap_or(Scalar::Null))
            }
        }
    }

    /// The record's value in a single-valued column, as a sort reads it.
    pub fn scalar(&self, column: &Column) -> Scalar {
        match self.cell(column) {
            Cell::One(s) => s,
            _ => Scalar::Null,
        }
    }
}

/// A checked filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    /// Every one holds.
    And(Vec<Pred>),
    /// Some one holds.
    Or(Vec<Pred>),
    /// `column op value`.
    Compare {
        /// The column.
        column: Column,
        /// The comparison (never with a null value: those are [`Pred::IsNull`]).
        op: Op,
        /// The `?` form.
        any: bool,
        /// The value.
        value: Scalar,
    },
    /// `column in (…)`, or `not in`.
    In {
        /// The column.
        column: Column,
        /// `not in`.
        negated: bool,
        /// The values (null among them for `null`).
        values: Vec<Scalar>,
    },
    /// `column is null`, or `is not null`.
    IsNull {
        /// The column.
        column: Column,
        /// `is not null`.
        negated: bool,
    },
}

/// A refusal of a filter or sort: what, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    /// What is wrong, naming the field.
    pub message: String,
    /// Where.
    pub span: Span,
}

fn refuse<T>(span: Span, message: String) -> Result<T, CheckError> {
    Err(CheckError { message, span })
}

fn resolve<'c>(columns: &'c [Column], name: &str, span: Span) -> Result<&'c Column, CheckError> {
    columns.iter().find(|c| c.name == name).map_or_else(
        || refuse(span, format!("`{name}` is no field of this table")),
        Ok,
    )
}

fn macro_instant(name: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = now.date_naive();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    match name {
        "now" => Some(now),
        "today" => midnight(today),
        "yesterday" => midnight(today - Duration::days(1)),
        "tomorrow" => midnight(today + Duration::days(1)),
        "month_start" => midnight(today.with_day(1)?),
        "year_start" => midnight(today.with_day(1)?.with_month(1)?),
        _ => None,
    }
}

/// A literal as the column compares it, or why it cannot be.
fn literal_for(
    column: &Column,
    literal: &Literal,
    span: Span,
    now: DateTime<Utc>,
) -> Result<Scalar, CheckError> {
    let name = &column.name;
    let kind = column.kind;
    let wrong = |what: &str| refuse(span, format!("`{name}` is compared with {what}"));
    if *literal == Literal::Null {
        return Ok(Scalar::Null);
    }
    match kind {
        FieldType::Integer | FieldType::Decimal => match literal {
            Literal::Number(n) => Ok(Scalar::Number(if *n == 0.0 { 0.0 } else { *n })),
            _ => wrong("numbers"),
        },
        FieldType::Boolean => match literal {
            Literal::Bool(b) => Ok(Scalar::Bool(*b)),
            _ => wrong("true or false"),
        },
        FieldType::Date | FieldType::Datetime => {
            let instant = match literal {
                Literal::Macro(m) => macro_instant(m, now),
                Literal::Text(t) => keys::instant_of(t),
                _ => None,
            };
            match (instant, kind) {
                (Some(t), FieldType::Date) => Ok(Scalar::Date(t.date_naive())),
                (Some(t), _) => Ok(Scalar::Instant(t)),
                (None, _) => {
                    wrong("dates ('2024-05-01', an RFC 3339 moment or a macro like @today)")
                }
            }
        }
        FieldType::Json | FieldType::File => refuse(
            span,
            format!("`{name}` is a {kind:?} field: test it with `is null` or `is not null` only"),
        ),
        _ => match literal {
            Literal::Text(t) => {
                if let Some(choices) = &column.choices
                    && !choices.contains(t)
                {
                    return refuse(span, format!("`{t}` is no choice of `{name}`"));
                }
                Ok(Scalar::Text(t.clone()))
            }
            _ => wrong("quoted text"),
        },
    }
}

fn ordered(kind: FieldType) -> bool {
    !matches!(kind, FieldType::Boolean | FieldType::Json | FieldType::File)
}

fn textual(kind: FieldType) -> bool {
    !matches!(
        kind,
        FieldType::Integer
            | FieldType::Decimal
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::Datetime
            | FieldType::Json
            | FieldType::File
    )
}

fn check_expr(columns: &[Column], expr: &Expr, now: DateTime<Utc>) -> Result<Pred, CheckError> {
    match expr {
        Expr::And(terms) => Ok(Pred::And(
            terms
                .iter()
                .map(|t| check_expr(columns, t, now))
                .collect::<Result<_, _>>()?,
        )),
        Expr::Or(terms) => Ok(Pred::Or(
            terms
                .iter()
                .map(|t| check_expr(columns, t, now))
                .collect::<Result<_, _>>()?,
        )),
        Expr::IsNull { field, negated } => Ok(Pred::IsNull {
            column: resolve(columns, &field.0, field.1)?.clone(),
            negated: *negated,
        }),
        Expr::In {
            field,
            negated,
            values,
        } => {
            let column = resolve(columns, &field.0, field.1)?;
            if column.opaque() {
                literal_for(column, &Literal::Bool(true), field.1, now)?;
            }
            let values = values
                .iter()
                .map(|(literal, span)| literal_for(column, literal, *span, now))
                .collect::<Result<_, _>>()?;
            Ok(Pred::In {
                column: column.clone(),
                negated: *negated,
                values,
            })
        }
        Expr::Compare {
            field,
            op,
            any,
            value,
        } => {
            let column = resolve(columns, &field.0, field.1)?;
            let scalar = literal_for(column, &value.0, value.1, now)?;
            let name = &column.name;
            if scalar == Scalar::Null {
                return match op {
                    Op::Eq | Op::Ne => Ok(Pred::IsNull {
                        column: column.clone(),
                        negated: *op == Op::Ne,
                    }),
                    _ => refuse(value.1, "only `=` and `!=` compare with null".into()),
                };
            }
            let fits = match op {
                Op::Eq | Op::Ne => true,
                Op::Like | Op::NotLike => textual(column.kind),
                _ => ordered(column.kind),
            };
            if !fits {
                return refuse(
                    field.1,
                    format!(
                        "`{name}` is a {:?} field: it has no `{}`",
                        column.kind,
                        op_text(*op)
                    ),
                );
            }
            Ok(Pred::Compare {
                column: column.clone(),
                op: *op,
                any: *any,
                value: scalar,
            })
        }
    }
}

/// An operator as a filter writes it.
pub fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Like => "~",
        Op::NotLike => "!~",
    }
}

/// Checks a parsed filter against a table's columns.
pub fn check(columns: &[Column], expr: &Expr, now: DateTime<Utc>) -> Result<Pred, CheckError> {
    check_expr(columns, expr, now)
}

fn compare(op: Op, cell: &Scalar, value: &Scalar) -> bool {
    use std::cmp::Ordering::*;
    match (op, cell) {
        (Op::Ne | Op::NotLike, Scalar::Null) => true,
        (_, Scalar::Null) => false,
        (Op::Like | Op::NotLike, Scalar::Text(text)) => {
            let Scalar::Text(needle) = value else {
                return false;
            };
            let found = text.to_lowercase().contains(&needle.to_lowercase());
            found == (op == Op::Like)
        }
        (Op::Like | Op::NotLike, _) => false,
        _ => {
            let order = cell.order(value);
            match op {
                Op::Eq => order == Equal,
                Op::Ne => order != Equal,
                Op::Gt => order == Greater,
                Op::Ge => order != Less,
                Op::Lt => order == Less,
                Op::Le => order != Greater,
                Op::Like | Op::NotLike => false,
            }
        }
    }
}

/// Whether a record matches a checked filter.
pub fn matches(pred: &Pred, row: &Row<'_>) -> bool {
    evaluate(pred, &|column| Some(row.cell(column))) == Some(true)
}

/// A filter on what is known of a record: `cell` answers `None` for a
/// column it does not know, and so may the whole filter (three-valued, as
/// SQL's `NULL`). `Some(false)` means no record with those values matches.
pub fn evaluate(pred: &Pred, cell: &dyn Fn(&Column) -> Option<Cell>) -> Option<bool> {
    match pred {
        Pred::And(terms) => {
            let mut known = true;
            for term in terms {
                match evaluate(term, cell) {
                    Some(false) => return Some(false),
                    None => known = false,
                    Some(true) => {}
                }
            }
            known.then_some(true)
        }
        Pred::Or(terms) => {
            let mut known = true;
            for term in terms {
                match evaluate(term, cell) {
                    Some(true) => return Some(true),
                    None => known = false,
                    Some(false) => {}
                }
            }
            known.then_some(false)
        }
        Pred::IsNull { column, negated } => {
            let null = match cell(column)? {
                Cell::One(s) => s == Scalar::Null,
                Cell::Many(items) => items.is_empty(),
                Cell::Opaque(present) => !present,
            };
            Some(null != *negated)
        }
        Pred::In {
            column,
            negated,
            values,
        } => {
            let listed = |s: &Scalar| values.iter().any(|v| v.order(s).is_eq());
            let found = match cell(column)? {
                Cell::One(s) => listed(&s),
                Cell::Many(items) if items.is_empty() => listed(&Scalar::Null),
                Cell::Many(items) => items.iter().any(listed),
                Cell::Opaque(present) => !present && listed(&Scalar::Null),
            };
            Some(found != *negated)
        }
        Pred::Compare {
            column,
            op,
            any,
            value,
        } => Some(match cell(column)? {
            Cell::One(s) => compare(*op, &s, value),
            Cell::Many(items) => {
                if *any {
                    items.iter().any(|s| compare(*op, s, value))
                } else if matches!(op, Op::Ne | Op::NotLike) {
                    items.iter().all(|s| compare(*op, s, value))
                } else {
                    !items.is_empty() && items.iter().all(|s| compare(*op, s, value))
                }
            }
            Cell::Opaque(_) => false,
        }),
    }
}

/// One key of a sort: a column and its direction.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    /// The column.
    pub column: Column,
    /// Largest first.
    pub descending: bool,
}

/// Most keys a sort names.
pub const MAX_SORT_KEYS: usize = 5;

/// Parses and checks `sort=-priority,created_at`: names of single-valued
/// columns, each optionally prefixed by `-` (descending) or `+`. Ties are
/// broken by the record id, in the direction of the last key.
pub fn sort(columns: &[Column], text: &str) -> Result<Vec<SortKey>, CheckError> {
    let mut keys: Vec<SortKey> = Vec::new();
    let mut start = 0;
    for part in text.split(',') {
        let end = start + part.len();
        let lead = part.len() - part.trim_start().len();
        let trimmed = part.trim();
        let (descending, name) = match trimmed.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        let span = Span {
            start: start + lead,
            end: start + lead + trimmed.len(),
        };
        if name.is_empty() {
            return refuse(span, "names no field".into());
        }
        let column = resolve(columns, name, span)?;
        if column.many || column.opaque() {
            return refuse(span, format!("`{name}` holds no single value to sort by"));
        }
        if keys.iter().any(|k| k.column.name == name) {
            return refuse(span, format!("`{name}` is named twice"));
        }
        if keys.len() == MAX_SORT_KEYS {
            return refuse(span, format!("a sort names at most {MAX_SORT_KEYS} fields"));
        }
        let is_id = column.source == Source::Id;
        keys.push(SortKey {
            column: column.clone(),
            descending,
        });
        if is_id {
            // The id is unique: nothing after it can change the order.
            break;
        }
        start = end + 1;
    }
    Ok(keys)
}

/// The sort a request gets: its keys, then the id (in the direction of
/// the last key) unless a key already is the id. No sort is the id order,
/// which is creation order.
pub fn with_tie_break(columns: &[Column], mut keys: Vec<SortKey>) -> Vec<SortKey> {
    if keys.iter().any(|k| k.column.source == Source::Id) {
        return keys;
    }
    let descending = keys.last().is_some_and(|k| k.descending);
    if let Some(id) = columns.iter().find(|c| c.source == Source::Id) {
        keys.push(SortKey {
            column: id.clone(),
            descending,
        });
    }
    keys
}

/// A record's position in a sort: its value in each key, as key text.
pub fn position(keys: &[SortKey], row: &Row<'_>) -> Vec<String> {
    keys.iter()
        .map(|k| keys::encode(&row.scalar(&k.column)))
        .collect()
}

/// How two positions of one sort compare, each key in its direction.
pub fn compare_positions(keys: &[SortKey], a: &[String], b: &[String]) -> std::cmp::Ordering {
    for ((key, a), b) in keys.iter().zip(a).zip(b) {
        let order = a.as_bytes().cmp(b.as_bytes());
        let order = if key.descending {
            order.reverse()
        } else {
            order
        };
        if order.is_ne() {
            return order;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::filter::parse;
    use crate::studio::schema::{FieldSpec, new_fields};
    use serde_json::json;

    fn setup() -> Result<(Vec<Field>, Vec<Column>), String> {
        let specs: Vec<FieldSpec> = serde_json::from_value(json!([
            {"name": "title", "type": "text"},
            {"name": "qty", "type": "integer", "indexed": true},
            {"name": "status", "type": "single_select", "choices": ["open", "done"]},
            {"name": "tags", "type": "multi_select", "choices": ["a", "b"]},
            {"name": "due", "type": "date"},
            {"name": "meta", "type": "json"}
        ]))
        .map_err(|e| e.to_string())?;
        let fields = new_fields(&specs).map_err(|e| e.to_string())?;
        let columns = columns(&fields);
        Ok((fields, columns))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_717_243_200, 0).unwrap_or_default() // 2024-06-01T12:00Z
    }

    fn checked(columns: &[Column], text: &str) -> Result<Pred, String> {
        let expr = parse(text).map_err(|e| e.message)?;
        check(columns, &expr, now()).map_err(|e| e.message)
    }

    #[test]
    fn refusals_name_the_field_and_where_it_is() -> Result<(), String> {
        let (_, columns) = setup()?;
        let cases = [
            ("nope = 1", "`nope` is no field", 0, 4),
            ("qty = 'x'", "`qty` is compared with numbers", 6, 9),
            ("status = 'late'", "`late` is no choice of `status`", 9, 15),
            ("qty ~ 1", "it has no `~`", 0, 3),
            ("meta = 'x'", "is null", 7, 10),
            ("title > null", "only `=` and `!=`", 8, 12),
            ("due >= 'soon'", "compared with dates", 7, 13),
        ];
        for (text, says, start, end) in cases {
            let expr = parse(text).map_err(|e| e.message)?;
            let error = check(&columns, &expr, now()).err().ok_or(text)?;
            assert!(error.message.contains(says), "{text}: {}", error.message);
            assert_eq!((error.span.start, error.span.end), (start, end), "{text}");
        }
        Ok(())
    }

    #[test]
    fn filters_evaluate_on_records() -> Result<(), String> {
        let (fields, columns) = setup()?;
        let data: Data = serde_json::from_value(json!({
            fields[0].id.clone(): "Hello World",
            fields[1].id.clone(): 3,
            fields[2].id.clone(): "open",
            fields[3].id.clone(): ["a"],
            fields[4].id.clone(): "2024-05-31",
        }))
        .map_err(|e| e.to_string())?;
        let row = Row {
            id: "01A",
            created_at: "2024-06-01T10:00:00.000Z",
            updated_at: "2024-06-01T10:00:00.000Z",
            created_by: "u1",
            version: 2,
            data: &data,
        };
        let holds = [
            "title ~ 'world'",
            "qty >= 3 && qty < 4",
            "status = 'open' || qty = 9",
            "tags ?= 'a' && tags = 'a' && tags != 'b'",
            "due = @yesterday && created_at < @now && created_at >= @today",
            "meta is null && title is not null && qty in (1, 3)",
            "status not in ('done') && version = 2 && id = '01A'",
            "tags !~ 'b' && title != null",
        ];
        for text in holds {
            assert!(matches(&checked(&columns, text)?, &row), "{text}");
        }
        let fails = [
            "qty > 3",
            "tags ?= 'b'",
            "title = 'hello world'",
            "due > @today",
        ];
        for text in fails {
            assert!(!matches(&checked(&columns, text)?, &row), "{text}");
        }
        Ok(())
    }

    #[test]
    fn sorts_resolve_with_spans_and_break_ties_by_id() -> Result<(), String> {
        let (_, columns) = setup()?;
        let keys = sort(&columns, "-qty, created_at").map_err(|e| e.message)?;
        let keys = with_tie_break(&columns, keys);
        let named: Vec<(&str, bool)> = keys
            .iter()
            .map(|k| (k.column.name.as_str(), k.descending))
            .collect();
        assert_eq!(named, [("qty", true), ("created_at", false), ("id", false)]);
        let error = sort(&columns, "qty,tags").err().ok_or("tags")?;
        assert_eq!((error.span.start, error.span.end), (4, 8));
        Ok(())
    }
}
