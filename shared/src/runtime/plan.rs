//! The query planner: which items of a table's partition a list reads, as
//! plain values (no I/O). Ranges are inclusive supersets of what the
//! filter selects; every record read is checked against the whole filter,
//! so a range only has to be cheap, never exact.
//!
//! Sort keys, in the table's partition (see [`super::records`]):
//! records `R#<id>`, index entries `I#<field>#<generation>#<key>#<id>`
//! with the key of [`super::keys`].
//!
//! A list is answered one of two ways:
//! - **in order**: the sort's first key is the id (or `created_at`), or an
//!   indexed field followed by the id in the same direction; the records
//!   (or the field's index entries) are read in that order, from the
//!   cursor on, until the page is full;
//! - **collected**: the filter's most selective indexed term (or, with
//!   none, the whole partition) gives every candidate, which are checked
//!   and sorted in memory.
//!
//! When both exist, the collected plan is tried first and given up for the
//! ordered one as soon as its term selects more than [`PROBE`] entries.

use super::keys::{Scalar, encode};
use super::predicate::{Column, Pred, SortKey, Source};
use crate::runtime::filter::Op;

/// Entries a collected plan may select before an ordered one is preferred.
pub const PROBE: usize = 200;

/// The sort key prefix of a table's records.
pub const RECORD_PREFIX: &str = "R#";
/// The sort key prefix of its index entries.
pub const INDEX_PREFIX: &str = "I#";

/// Above every key body and record id (`~` sorts after hex digits, tags
/// and id characters).
const TOP: &str = "~";

/// Sort keys between two bounds, both included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// Least sort key.
    pub lo: String,
    /// Greatest sort key.
    pub hi: String,
}

/// The prefix of one index's entries.
pub fn index_prefix(field_id: &str, generation: u32) -> String {
    format!("{INDEX_PREFIX}{field_id}#{generation}#")
}

/// The sort key of one index entry.
pub fn entry_key(field_id: &str, generation: u32, key: &str, record_id: &str) -> String {
    format!("{}{key}#{record_id}", index_prefix(field_id, generation))
}

/// What a plan reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Access {
    /// These records, by id.
    Ids(Vec<String>),
    /// The records, in id order, between the bounds.
    Records(Range),
    /// One index's entries, in the ranges' order.
    Index {
        /// The indexed column.
        column: Column,
        /// The field id.
        field_id: String,
        /// The index's generation.
        generation: u32,
        /// Ascending, not overlapping.
        ranges: Vec<Range>,
    },
}

/// One way to read candidates.
#[derive(Clone, Debug, PartialEq)]
pub struct Driver {
    /// What it reads.
    pub access: Access,
    /// Whether it reads in the sort's order (else the candidates are
    /// collected and sorted).
    pub ordered: bool,
}

/// A list's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Tried first.
    pub first: Driver,
    /// The ordered driver to fall back on when `first` collects too much.
    pub fallback: Option<Driver>,
}

/// The bounds an indexed term selects, as (lo, hi) of key bodies: `None`
/// for an open end. Null is never in a comparison's range.
fn term_bounds(op: Op, value: &Scalar) -> Option<(Option<String>, Option<String>)> {
    let key = encode(value);
    match op {
        Op::Eq => Some((Some(format!("{key}#")), Some(format!("{key}#{TOP}")))),
        Op::Gt | Op::Ge => Some((Some(format!("{key}#")), None)),
        Op::Lt | Op::Le => Some((None, Some(format!("{key}#{TOP}")))),
        _ => None,
    }
}

/// The ranges of a column's index a term selects (keys without prefix),
/// and its estimated cost: lower is more selective.
fn term_ranges(term: &Pred, unique: bool) -> Option<(Vec<(String, String)>, u32)> {
    let nulls = (
        format!("{}#", encode(&Scalar::Null)),
        format!("{}#{TOP}", encode(&Scalar::Null)),
    );
    let above_null = format!("{}#{TOP}", encode(&Scalar::Null));
    match term {
        // Multi-valued fields have no index, so every comparison here is
        // of one value.
        Pred::Compare { op, value, .. } => {
            let (lo, hi) = term_bounds(*op, value)?;
            let cost = match (op, unique) {
                (Op::Eq, true) => 1,
                (Op::Eq, false) => 10,
                _ if lo.is_some() && hi.is_some() => 100,
                _ => 300,
            };
            Some((
                vec![(lo.unwrap_or(above_null), hi.unwrap_or_else(|| TOP.into()))],
                cost,
            ))
        }
        Pred::In {
            negated: false,
            values,
            ..
        } => {
            let mut keys: Vec<String> = values.iter().map(encode).collect();
            keys.sort();
            keys.dedup();
            let cost = 10 * keys.len() as u32;
            Some((
                keys.into_iter()
                    .map(|k| (format!("{k}#"), format!("{k}#{TOP}")))
                    .collect(),
                cost,
            ))
        }
        Pred::IsNull { negated: false, .. } => Some((vec![nulls], 30)),
        _ => None,
    }
}

fn term_column(term: &Pred) -> Option<&Column> {
    match term {
        Pred::Compare { column, .. } | Pred::In { column, .. } | Pred::IsNull { column, .. } => {
            Some(column)
        }
        _ => None,
    }
}

/// The terms every match satisfies: the top-level `&&`.
fn conjuncts(filter: Option<&Pred>) -> Vec<&Pred> {
    match filter {
        Some(Pred::And(terms)) => terms.iter().flat_map(|t| conjuncts(Some(t))).collect(),
        Some(term) => vec![term],
        None => Vec::new(),
    }
}

/// Intersects ranges of one column's terms: the tightest bounds; a list
/// of several (an `in`) wins over bounds.
fn intersect(all: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    if let Some(list) = all.iter().find(|r| r.len() > 1) {
        return list.clone();
    }
    let mut lo = String::new();
    let mut hi = TOP.to_string();
    for ranges in all {
        for (l, h) in ranges {
            if l > lo {
                lo = l;
            }
            if h < hi {
                hi = h;
            }
        }
    }
    vec![(lo, hi)]
}

fn index_access(column: &Column, ranges: Vec<(String, String)>) -> Option<Access> {
    let generation = column.index?;
    let field_id = column.field_id()?.to_string();
    let prefix = index_prefix(&field_id, generation);
    Some(Access::Index {
        column: column.clone(),
        generation,
        ranges: ranges
            .into_iter()
            .map(|(lo, hi)| Range {
                lo: format!("{prefix}{lo}"),
                hi: format!("{prefix}{hi}"),
            })
            .collect(),
        field_id,
    })
}

fn all_records() -> Range {
    Range {
        lo: RECORD_PREFIX.into(),
        hi: format!("{RECORD_PREFIX}{TOP}"),
    }
}

/// The ids an `id = …` or `id in (…)` term names.
fn named_ids(term: &Pred) -> Option<Vec<String>> {
    let text = |s: &Scalar| match s {
        Scalar::Text(t) => Some(t.clone()),
        _ => None,
    };
    match term {
        Pred::Compare {
            column: Column {
                source: Source::Id, ..
            },
            op: Op::Eq,
            value,
            ..
        } => Some(vec![text(value)?]),
        Pred::In {
            column: Column {
                source: Source::Id, ..
            },
            negated: false,
            values,
        } => values.iter().map(text).collect(),
        _ => None,
    }
}

/// The ordered driver of a sort, when there is one, narrowed by the
/// terms on its column.
fn ordered(sort: &[SortKey], terms: &[&Pred], unique: &dyn Fn(&Column) -> bool) -> Option<Driver> {
    let first = sort.first()?;
    let id_follows = |at: usize| {
        sort.get(at)
            .is_some_and(|k| k.column.source == Source::Id && k.descending == first.descending)
    };
    let access = match first.column.source {
        Source::Id => Access::Records(all_records()),
        Source::CreatedAt if id_follows(1) => Access::Records(all_records()),
        Source::Field(_) if first.column.index.is_some() && id_follows(1) => {
            let on_column: Vec<Vec<(String, String)>> = terms
                .iter()
                .filter(|t| term_column(t).is_some_and(|c| c.name == first.column.name))
                .filter_map(|t| term_ranges(t, unique(&first.column)).map(|(r, _)| r))
                .collect();
            let ranges = if on_column.is_empty() {
                vec![(String::new(), TOP.to_string())]
            } else {
                intersect(on_column)
            };
            index_access(&first.column, ranges)?
        }
        _ => return None,
    };
    Some(Driver {
        access,
        ordered: true,
    })
}

/// Plans a list: `sort` with its tie-break ([`super::predicate::with_tie_break`]);
/// `unique` says which columns hold unique values.
pub fn plan(filter: Option<&Pred>, sort: &[SortKey], unique: &dyn Fn(&Column) -> bool) -> Plan {
    let terms = conjuncts(filter);
    if let Some(ids) = terms.iter().find_map(|t| named_ids(t)) {
        return Plan {
            first: Driver {
                access: Access::Ids(ids),
                ordered: false,
            },
            fallback: None,
        };
    }
    let in_order = ordered(sort, &terms, unique);
    let sort_column = sort.first().map(|k| k.column.name.as_str());
    // The most selective indexed term on another column than the ordered
    // driver's (that one's terms already narrow it).
    let best = terms
        .iter()
        .filter_map(|t| {
            let column = term_column(t)?;
            column.index?;
            if in_order.is_some() && Some(column.name.as_str()) == sort_column {
                return None;
            }
            let (ranges, cost) = term_ranges(t, unique(column))?;
            Some((cost, column, ranges))
        })
        .min_by_key(|(cost, ..)| *cost);
    let collected = best.and_then(|(_, column, ranges)| {
        let on_column: Vec<Vec<(String, String)>> = terms
            .iter()
            .filter(|t| term_column(t).is_some_and(|c| c.name == column.name))
            .filter_map(|t| term_ranges(t, unique(column)).map(|(r, _)| r))
            .collect();
        let ranges = if on_column.is_empty() {
            ranges
        } else {
            intersect(on_column)
        };
        index_access(column, ranges).map(|access| Driver {
            access,
            ordered: false,
        })
    });
    match (collected, in_order) {
        (Some(first), fallback) => Plan { first, fallback },
        (None, Some(first)) => Plan {
            first,
            fallback: None,
        },
        (None, None) => Plan {
            first: Driver {
                access: Access::Records(all_records()),
                ordered: false,
            },
            fallback: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::filter::parse;
    use crate::runtime::predicate::{self, check, columns, with_tie_break};
    use crate::studio::schema::{FieldSpec, new_fields};
    use serde_json::json;

    fn setup() -> Result<Vec<Column>, String> {
        let specs: Vec<FieldSpec> = serde_json::from_value(json!([
            {"name": "title", "type": "text"},
            {"name": "priority", "type": "integer", "indexed": true},
            {"name": "status", "type": "single_select", "choices": ["open", "done"], "indexed": true},
            {"name": "code", "type": "text", "indexed": true, "unique": true}
        ]))
        .map_err(|e| e.to_string())?;
        Ok(columns(&new_fields(&specs).map_err(|e| e.to_string())?))
    }

    fn planned(filter: &str, sort: &str) -> Result<Plan, String> {
        let columns = setup()?;
        let pred = if filter.is_empty() {
            None
        } else {
            let expr = parse(filter).map_err(|e| e.message)?;
            Some(check(&columns, &expr, chrono::Utc::now()).map_err(|e| e.message)?)
        };
        let keys = if sort.is_empty() {
            Vec::new()
        } else {
            predicate::sort(&columns, sort).map_err(|e| e.message)?
        };
        let keys = with_tie_break(&columns, keys);
        Ok(plan(pred.as_ref(), &keys, &|c: &Column| c.name == "code"))
    }

    fn indexed(access: &Access) -> Option<(&str, usize)> {
        match access {
            Access::Index { column, ranges, .. } => Some((column.name.as_str(), ranges.len())),
            _ => None,
        }
    }

    #[test]
    fn the_most_selective_indexed_term_drives_and_an_ordered_sort_is_the_fallback()
    -> Result<(), String> {
        let plan = planned("status = 'open' && code = 'x' && title ~ 'a'", "-priority")?;
        assert_eq!(indexed(&plan.first.access), Some(("code", 1)));
        assert!(!plan.first.ordered);
        let fallback = plan.fallback.ok_or("a fallback")?;
        assert_eq!(indexed(&fallback.access), Some(("priority", 1)));
        assert!(fallback.ordered);
        Ok(())
    }

    #[test]
    fn terms_on_the_sorted_field_narrow_its_ordered_read() -> Result<(), String> {
        let plan = planned("priority >= 2 && priority < 5", "priority")?;
        assert!(plan.first.ordered && plan.fallback.is_none());
        let Access::Index { ranges, .. } = &plan.first.access else {
            return Err("an index read".into());
        };
        assert!(ranges[0].lo.contains("#nc000") && ranges[0].hi.contains("#nc014"));
        let listed = planned("priority in (3, 1, 3)", "priority")?;
        assert_eq!(indexed(&listed.first.access), Some(("priority", 2)));
        Ok(())
    }

    #[test]
    fn ids_are_read_directly_and_no_index_scans_the_records() -> Result<(), String> {
        let by_id = planned("id in ('A', 'B') && status = 'open'", "")?;
        assert_eq!(
            by_id.first.access,
            Access::Ids(vec!["A".into(), "B".into()])
        );
        let scan = planned("title ~ 'x' || status = 'open'", "title")?;
        assert_eq!(scan.first.access, Access::Records(all_records()));
        assert!(!scan.first.ordered);
        let newest = planned("title ~ 'x'", "-created_at")?;
        assert!(newest.first.ordered);
        Ok(())
    }
}
