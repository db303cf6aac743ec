//! `GET …/records/`: a table's records filtered, sorted, paged, counted,
//! trimmed to some fields and with relations expanded. The query's text is
//! parsed and checked by plain modules ([`super::filter`],
//! [`super::predicate`]) and planned by [`super::plan`]; this module runs
//! the plan against the table port.
//!
//! What one request may read is bounded: [`SCAN_BUDGET`] records checked
//! and [`ENTRY_BUDGET`] index entries. A query that needs more answers 400
//! `index_needed`, naming the field whose index would answer it.

use std::collections::{HashMap, HashSet};

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::cursor;
use super::filter::{self, MAX_FILTER};
use super::keys;
use super::plan::{self, Access, Driver, Plan, Range};
use super::predicate::{self, Cell, Column, Pred, Row, SortKey, Source};
use super::records::{RecordView, Stored, data_of, record_key, view};
use super::values::Data;
use crate::http::schema::QueryParam;
use crate::http::{ApiError, FieldError, HandlerResult, json, query_param};
use crate::ports::table::{Cursor, Item, ItemTable, MAX_BATCH_GET, Query, SortRange, from_item};
use crate::services::Services;
use crate::studio::tables::{self, DataTable};
use crate::tenancy::Tenant;

/// Most records one request checks against its filter.
pub const SCAN_BUDGET: usize = 2_000;
/// Most index entries one request reads.
pub const ENTRY_BUDGET: usize = 20_000;
/// Most records a count checks.
pub const COUNT_BUDGET: usize = 10_000;
/// Most records a page holds, and its default.
pub const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 20;
/// Most relation fields one request expands.
pub const MAX_EXPAND: usize = 5;

/// The list's query parameters, for the OpenAPI document.
pub const QUERY: &[QueryParam] = &[
    QueryParam {
        name: "limit",
        description: "Records per page (at most 200)",
        schema: limit_schema,
    },
    QueryParam {
        name: "next",
        description: "The previous page's `next`, for this same filter and sort",
        schema: next_schema,
    },
    QueryParam {
        name: "filter",
        description: "A filter expression (docs/filter.md), e.g. `status = 'open' && priority >= 2`",
        schema: filter_schema,
    },
    QueryParam {
        name: "sort",
        description: "Fields to sort by, `-` for descending: `-priority,created_at`; ties by id",
        schema: text_schema,
    },
    QueryParam {
        name: "fields",
        description: "Only these of the table's fields (system fields always come)",
        schema: text_schema,
    },
    QueryParam {
        name: "expand",
        description: "Relation fields whose records come along, under `expand` (at most 5)",
        schema: text_schema,
    },
    QueryParam {
        name: "count",
        description: "`true` adds `total`: how many records match",
        schema: count_schema,
    },
];

fn filter_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(MAX_FILTER))
        .build()
}

fn text_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .build()
}

fn count_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["true", "false"]))
        .build()
}

fn limit_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(1))
        .maximum(Some(MAX_LIMIT as u32))
        .default(Some(DEFAULT_LIMIT.into()))
        .build()
}

fn next_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"))
        .description(Some(
            "Opaque and signed: the `next` of the previous page, as given",
        ))
        .build()
}

/// A page of records.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordPage {
    /// The records, in the sort's order.
    pub items: Vec<RecordView>,
    /// Pass as `?next=` (with the same filter and sort) for the page after.
    pub next: Option<String>,
    /// How many records match, when `count=true` asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

fn bad(param: &str, message: impl Into<String>, span: Option<filter::Span>) -> ApiError {
    let error = FieldError::new(param, message);
    ApiError::BadQuery {
        code: "invalid_query",
        errors: vec![match span {
            Some(s) => error.at(s.start, s.end),
            None => error,
        }],
    }
}

fn index_needed(field: &str, message: String) -> ApiError {
    ApiError::BadQuery {
        code: "index_needed",
        errors: vec![FieldError::new(field, message)],
    }
}

/// A request's list query, checked against the table.
struct ListQuery {
    binding: String,
    filter: Option<Pred>,
    sort: Vec<SortKey>,
    fields: Option<HashSet<String>>,
    expand: Vec<(String, String, bool)>,
    count: bool,
    limit: usize,
    after: Option<Vec<String>>,
}

/// Names in a comma list, each with its span.
fn names(text: &str) -> Vec<(&str, filter::Span)> {
    let mut out = Vec::new();
    let mut start = 0;
    for part in text.split(',') {
        let lead = part.len() - part.trim_start().len();
        let name = part.trim();
        out.push((
            name,
            filter::Span {
                start: start + lead,
                end: start + lead + name.len(),
            },
        ));
        start += part.len() + 1;
    }
    out
}

async fn read_query<'r>(
    services: &Services,
    param: &(dyn Fn(&str) -> Option<&'r str> + Sync),
    table: &DataTable,
) -> Result<ListQuery, ApiError> {
    let columns = predicate::columns(&table.fields);
    let filter_text = param("filter").unwrap_or_default();
    let sort_text = param("sort").unwrap_or_default();
    let filter = if filter_text.trim().is_empty() {
        None
    } else {
        let expr =
            filter::parse(filter_text).map_err(|e| bad("filter", e.message, Some(e.span)))?;
        let now = chrono::Utc::now();
        Some(
            predicate::check(&columns, &expr, now)
                .map_err(|e| bad("filter", e.message, Some(e.span)))?,
        )
    };
    let sort = if sort_text.trim().is_empty() {
        Vec::new()
    } else {
        predicate::sort(&columns, sort_text).map_err(|e| bad("sort", e.message, Some(e.span)))?
    };
    let sort = predicate::with_tie_break(&columns, sort);
    let fields = match param("fields").filter(|t| !t.trim().is_empty()) {
        None => None,
        Some(text) => {
            let mut chosen = HashSet::new();
            for (name, span) in names(text) {
                // Every column may be named; the system ones always come.
                if !columns.iter().any(|c| c.name == name) {
                    return Err(bad(
                        "fields",
                        format!("`{name}` is no field of this table"),
                        Some(span),
                    ));
                }
                chosen.insert(name.to_string());
            }
            Some(chosen)
        }
    };
    let mut expand: Vec<(String, String, bool)> = Vec::new();
    if let Some(text) = param("expand").filter(|t| !t.trim().is_empty()) {
        for (name, span) in names(text) {
            let field = table.fields.iter().find(|f| f.name == name);
            let Some((field, relation)) = field.and_then(|f| Some((f, f.relation.as_ref()?)))
            else {
                return Err(bad(
                    "expand",
                    format!("`{name}` is no relation field of this table"),
                    Some(span),
                ));
            };
            if expand.iter().any(|(n, ..)| n == name) {
                return Err(bad(
                    "expand",
                    format!("`{name}` is named twice"),
                    Some(span),
                ));
            }
            if expand.len() == MAX_EXPAND {
                return Err(bad(
                    "expand",
                    format!("at most {MAX_EXPAND} fields expand"),
                    Some(span),
                ));
            }
            expand.push((field.name.clone(), relation.table_id.clone(), relation.many));
        }
    }
    let count = match param("count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(bad("count", "is `true` or `false`", None)),
    };
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be a number from 1 to {MAX_LIMIT}"))
            })?,
    };
    let binding = cursor::binding(&table.id, filter_text, sort_text);
    let after = match param("next") {
        None => None,
        Some(text) => {
            let key = cursor::signing_key(services).await?;
            let position = cursor::open(&key, &binding, text)
                .filter(|p| p.len() == sort.len())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "next",
                        "not a cursor of this list: same table, filter and sort",
                    )
                })?;
            Some(position)
        }
    };
    Ok(ListQuery {
        binding,
        filter,
        sort,
        fields,
        expand,
        count,
        limit,
        after,
    })
}

fn row_of<'a>(stored: &'a Stored, data: &'a Data) -> Row<'a> {
    Row {
        id: &stored.id,
        created_at: &stored.created_at,
        updated_at: &stored.updated_at,
        created_by: stored.created_by.as_str(),
        version: stored.version,
        data,
    }
}

/// A record read, with its values parsed once.
struct Candidate {
    stored: Stored,
    data: Data,
}

impl Candidate {
    fn of(item: Item) -> Result<Self, ApiError> {
        let stored: Stored = from_item(item)?;
        let data = data_of(&stored)?;
        Ok(Self { stored, data })
    }

    fn row(&self) -> Row<'_> {
        row_of(&self.stored, &self.data)
    }
}

/// The records of these ids, as a map by id (a batch get keeps no order).
async fn fetch(
    store: &dyn ItemTable,
    table_id: &str,
    ids: &[String],
) -> Result<HashMap<String, Candidate>, ApiError> {
    let mut found = HashMap::with_capacity(ids.len());
    let keys: Vec<_> = ids.iter().map(|id| record_key(table_id, id)).collect();
    for chunk in keys.chunks(MAX_BATCH_GET) {
        for item in store.batch_get(chunk).await? {
            let candidate = Candidate::of(item)?;
            found.insert(candidate.stored.id.clone(), candidate);
        }
    }
    Ok(found)
}

/// An index entry: the record it names, its key body, and the keys of
/// the record's indexed fields it carries.
struct Entry {
    id: String,
    key: String,
    copies: Map<String, Value>,
}

fn entry_of(item: &mut Item, prefix: &str) -> Option<Entry> {
    let sk = item.get("sk")?.as_str()?;
    let rest = sk.strip_prefix(prefix)?;
    let (key, id) = rest.rsplit_once('#')?;
    let (id, key) = (id.to_string(), key.to_string());
    let copies = match item.remove("keys") {
        Some(Value::Object(copies)) => copies,
        _ => Map::new(),
    };
    Some(Entry { id, key, copies })
}

/// What an entry tells of a column: the id, and the value of an indexed
/// field whose ready index generation it carries (a text cut to the key's
/// length says nothing).
fn known(column: &Column, entry: &Entry) -> Option<Cell> {
    match &column.source {
        Source::Id => Some(Cell::One(keys::Scalar::Text(entry.id.clone()))),
        Source::Field(id) => {
            let (generation, key) = entry.copies.get(id)?.as_str()?.split_once(':')?;
            if generation.parse::<u32>().ok()? != column.index? {
                return None;
            }
            if key.starts_with('s') && key.len() > 2 * keys::MAX_TEXT_KEY {
                return None;
            }
            keys::decode(key).map(Cell::One)
        }
        _ => None,
    }
}

/// Whether the record an entry names may match: only what the entry
/// proves it does not is left unread.
fn may_match(query: &ListQuery, entry: &Entry) -> bool {
    query
        .filter
        .as_ref()
        .is_none_or(|f| predicate::evaluate(f, &|c| known(c, entry)) != Some(false))
}

/// Where in `range` a read in `descending` order starts after `from`:
/// `None` when the whole range is before it.
fn start_in(range: &Range, from: Option<&str>, descending: bool) -> Option<Option<String>> {
    let Some(from) = from else {
        return Some(None);
    };
    if descending {
        if from <= range.lo.as_str() {
            None
        } else if from > range.hi.as_str() {
            Some(None)
        } else {
            Some(Some(from.to_string()))
        }
    } else if from >= range.hi.as_str() {
        None
    } else if from < range.lo.as_str() {
        Some(None)
    } else {
        Some(Some(from.to_string()))
    }
}

fn range_query(
    partition: &str,
    range: &Range,
    start: Option<String>,
    descending: bool,
    limit: u32,
) -> Query {
    let mut query = Query::partition(partition)
        .range(SortRange::Between(range.lo.clone(), range.hi.clone()))
        .limit(limit);
    if descending {
        query = query.backward();
    }
    if let Some(sk) = start {
        let mut position = std::collections::BTreeMap::new();
        position.insert("pk".to_string(), partition.to_string());
        position.insert("sk".to_string(), sk);
        query = query.after(Some(Cursor::from_position(&position)));
    }
    query
}

/// What a run found: the page (one more than asked when more follow).
struct Found {
    rows: Vec<Candidate>,
    more: bool,
}

/// The field a budget refusal names: the first filtered or sorted column
/// without an index.
fn hint(query: &ListQuery) -> String {
    fn unindexed(pred: &Pred, out: &mut Vec<String>) {
        match pred {
            Pred::And(terms) | Pred::Or(terms) => terms.iter().for_each(|t| unindexed(t, out)),
            Pred::Compare { column, .. }
            | Pred::In { column, .. }
            | Pred::IsNull { column, .. } => {
                if column.index.is_none() && column.source != Source::Id {
                    out.push(column.name.clone());
                }
            }
        }
    }
    let mut names = Vec::new();
    if let Some(first) = query.sort.first()
        && first.column.index.is_none()
        && !matches!(first.column.source, Source::Id | Source::CreatedAt)
    {
        names.push(first.column.name.clone());
    }
    if let Some(filter) = &query.filter {
        unindexed(filter, &mut names);
    }
    names.into_iter().next().unwrap_or_else(|| "filter".into())
}

fn too_broad(query: &ListQuery) -> ApiError {
    let field = hint(query);
    index_needed(
        &field,
        format!(
            "answering this reads more than {SCAN_BUDGET} records; mark `{field}` indexed (or narrow the filter with an indexed field)"
        ),
    )
}

/// Reads in the sort's order from the cursor on until the page is full.
async fn run_ordered(
    store: &dyn ItemTable,
    table: &DataTable,
    query: &ListQuery,
    access: &Access,
) -> Result<Found, ApiError> {
    let partition = super::partition(&table.id);
    let descending = query.sort.first().is_some_and(|k| k.descending);
    let want = query.limit + 1;
    // With a filter to check, read ahead: most candidates may not match.
    let mut chunk = if query.filter.is_some() {
        (want * 2).min(MAX_BATCH_GET)
    } else {
        want.min(MAX_BATCH_GET)
    } as u32;
    let mut rows = Vec::new();
    let mut checked = 0;
    let mut entries_read = 0;
    let mut scanned = 0;
    // The cursor's position as a sort key of what this access reads.
    let (ranges, from, index) =
        match access {
            Access::Records(range) => {
                let from = query.after.as_ref().and_then(|p| p.last()).and_then(|k| {
                    match keys::decode(k) {
                        Some(keys::Scalar::Text(id)) => {
                            Some(format!("{}{id}", plan::RECORD_PREFIX))
                        }
                        _ => None,
                    }
                });
                (vec![range.clone()], from, None)
            }
            Access::Index {
                column,
                field_id,
                generation,
                ranges,
            } => {
                let from = query.after.as_ref().and_then(|p| {
                    let id = match keys::decode(p.last()?)? {
                        keys::Scalar::Text(id) => id,
                        _ => return None,
                    };
                    Some(plan::entry_key(field_id, *generation, p.first()?, &id))
                });
                (
                    ranges.clone(),
                    from,
                    Some((column, plan::index_prefix(field_id, *generation))),
                )
            }
            Access::Ids(_) => return Err(ApiError::Internal("ids are never read in order".into())),
        };
    let mut ordered_ranges = ranges;
    if descending {
        ordered_ranges.reverse();
    }
    'ranges: for range in &ordered_ranges {
        let Some(start) = start_in(range, from.as_deref(), descending) else {
            continue;
        };
        let mut read = range_query(&partition, range, start, descending, chunk);
        loop {
            let page = store.query(&read).await?;
            scanned += page.items.len();
            let batch: Vec<Candidate> = match &index {
                None => page
                    .items
                    .into_iter()
                    .map(Candidate::of)
                    .collect::<Result<_, _>>()?,
                Some((column, prefix)) => {
                    entries_read += page.items.len();
                    if entries_read > ENTRY_BUDGET {
                        return Err(too_broad(query));
                    }
                    let entries: Vec<Entry> = page
                        .items
                        .into_iter()
                        .filter_map(|mut i| entry_of(&mut i, prefix))
                        .filter(|e| may_match(query, e))
                        .collect();
                    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
                    let mut found = fetch(store, &table.id, &ids).await?;
                    entries
                        .into_iter()
                        .filter_map(|entry| {
                            let candidate = found.remove(&entry.id)?;
                            // An entry a concurrent write has moved on from.
                            let current = keys::encode(&candidate.row().scalar(column));
                            (current == entry.key).then_some(candidate)
                        })
                        .collect()
                }
            };
            for candidate in batch {
                checked += 1;
                let keep = query
                    .filter
                    .as_ref()
                    .is_none_or(|f| predicate::matches(f, &candidate.row()));
                if keep {
                    rows.push(candidate);
                    if rows.len() == want {
                        break 'ranges;
                    }
                }
            }
            if checked > SCAN_BUDGET {
                return Err(too_broad(query));
            }
            match page.next {
                Some(next) => {
                    // Read about what the rest of the page needs at the rate
                    // the filter has matched so far, a fifth more.
                    let rate = rows.len().max(1) as f64 / scanned.max(1) as f64;
                    let needed = (want - rows.len()) as f64 / rate * 1.2;
                    chunk = (needed.ceil() as usize).clamp(10, MAX_BATCH_GET) as u32;
                    read = read.limit(chunk).after(Some(next));
                }
                None => break,
            }
        }
    }
    let more = rows.len() == want;
    rows.truncate(query.limit);
    Ok(Found { rows, more })
}

/// Every candidate a collected access names, checked against the filter;
/// `None` when `probe` is set and the access names more entries than it.
async fn collect(
    store: &dyn ItemTable,
    table: &DataTable,
    query: &ListQuery,
    access: &Access,
    probe: Option<usize>,
    budget: usize,
) -> Result<Option<Vec<Candidate>>, ApiError> {
    let partition = super::partition(&table.id);
    let mut candidates = Vec::new();
    match access {
        Access::Ids(ids) => {
            let mut found = fetch(store, &table.id, ids).await?;
            let mut seen = HashSet::new();
            for id in ids {
                if seen.insert(id)
                    && let Some(c) = found.remove(id)
                {
                    candidates.push(c);
                }
            }
        }
        Access::Records(range) => {
            let mut read = range_query(&partition, range, None, false, MAX_BATCH_GET as u32 * 10);
            loop {
                let page = store.query(&read).await?;
                for item in page.items {
                    candidates.push(Candidate::of(item)?);
                }
                if candidates.len() > budget {
                    return Err(too_broad(query));
                }
                match page.next {
                    Some(next) => read = read.after(Some(next)),
                    None => break,
                }
            }
        }
        Access::Index {
            field_id,
            generation,
            ranges,
            ..
        } => {
            let prefix = plan::index_prefix(field_id, *generation);
            let mut ids = Vec::new();
            let mut seen = HashSet::new();
            let mut entries = 0;
            let limit = probe.map_or(1000, |p| p + 1) as u32;
            for range in ranges {
                let mut read = range_query(&partition, range, None, false, limit);
                loop {
                    let page = store.query(&read).await?;
                    let named = page.items.len();
                    for entry in page
                        .items
                        .into_iter()
                        .filter_map(|mut i| entry_of(&mut i, &prefix))
                    {
                        if may_match(query, &entry) && seen.insert(entry.id.clone()) {
                            ids.push(entry.id);
                        }
                    }
                    entries += named;
                    if probe.is_some_and(|p| entries > p) {
                        return Ok(None);
                    }
                    if ids.len() > budget || entries > ENTRY_BUDGET {
                        return Err(too_broad(query));
                    }
                    match page.next {
                        Some(next) => read = read.after(Some(next)),
                        None => break,
                    }
                }
            }
            let mut found = fetch(store, &table.id, &ids).await?;
            candidates.extend(ids.iter().filter_map(|id| found.remove(id)));
        }
    }
    candidates.retain(|c| {
        query
            .filter
            .as_ref()
            .is_none_or(|f| predicate::matches(f, &c.row()))
    });
    Ok(Some(candidates))
}

/// Sorts collected candidates and cuts the page after the cursor.
fn page_of(query: &ListQuery, candidates: Vec<Candidate>) -> Found {
    let mut keyed: Vec<(Vec<String>, Candidate)> = candidates
        .into_iter()
        .map(|c| (predicate::position(&query.sort, &c.row()), c))
        .collect();
    keyed.sort_by(|a, b| predicate::compare_positions(&query.sort, &a.0, &b.0));
    let mut rows: Vec<Candidate> = keyed
        .into_iter()
        .filter(|(position, _)| {
            query.after.as_ref().is_none_or(|after| {
                predicate::compare_positions(&query.sort, position, after).is_gt()
            })
        })
        .map(|(_, c)| c)
        .take(query.limit + 1)
        .collect();
    let more = rows.len() > query.limit;
    rows.truncate(query.limit);
    Found { rows, more }
}

async fn run(
    store: &dyn ItemTable,
    table: &DataTable,
    query: &ListQuery,
    plan: &Plan,
) -> Result<Found, ApiError> {
    let Driver { access, ordered } = &plan.first;
    if *ordered {
        return run_ordered(store, table, query, access).await;
    }
    // Collecting is worth it while it reads about what the ordered read
    // would: a few pages' worth.
    let probe = plan
        .fallback
        .as_ref()
        .map(|_| (4 * (query.limit + 1)).clamp(50, plan::PROBE));
    if let (Some(fallback), Some(limit)) = (&plan.fallback, probe)
        && broad::recently(&table.id, access, limit)
    {
        match run_ordered(store, table, query, &fallback.access).await {
            // The term is not that broad any more: probe it again.
            Err(ApiError::BadQuery { .. }) => broad::forget(&table.id, access),
            answer => return answer,
        }
    }
    match collect(store, table, query, access, probe, SCAN_BUDGET).await? {
        Some(candidates) => Ok(page_of(query, candidates)),
        None => match (&plan.fallback, probe) {
            (Some(fallback), Some(limit)) => {
                broad::remember(&table.id, access, limit);
                run_ordered(store, table, query, &fallback.access).await
            }
            _ => Err(too_broad(query)),
        },
    }
}

/// What this process saw of terms too broad to collect, for a minute: a
/// page of a popular value then goes straight to the ordered read instead
/// of probing its term again. A hint only; any answer is the same either way.
mod broad {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use super::Access;

    const FOR: Duration = Duration::from_secs(60);
    const MOST: usize = 10_000;

    fn memory() -> &'static Mutex<HashMap<String, (Instant, usize)>> {
        static MEMORY: OnceLock<Mutex<HashMap<String, (Instant, usize)>>> = OnceLock::new();
        MEMORY.get_or_init(Mutex::default)
    }

    fn key(table_id: &str, access: &Access) -> Option<String> {
        match access {
            Access::Index { ranges, .. } => Some(format!(
                "{table_id}|{}",
                ranges
                    .iter()
                    .map(|r| format!("{}..{}", r.lo, r.hi))
                    .collect::<Vec<_>>()
                    .join("|")
            )),
            _ => None,
        }
    }

    /// Whether the term named more than `limit` entries within the minute.
    pub(super) fn recently(table_id: &str, access: &Access, limit: usize) -> bool {
        let Some(key) = key(table_id, access) else {
            return false;
        };
        memory()
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
            .is_some_and(|(at, seen)| at.elapsed() < FOR && seen >= limit)
    }

    /// Remembers that the term named more than `seen` entries.
    pub(super) fn remember(table_id: &str, access: &Access, seen: usize) {
        let Some(key) = key(table_id, access) else {
            return;
        };
        if let Ok(mut memory) = memory().lock() {
            if memory.len() >= MOST {
                memory.clear();
            }
            memory.insert(key, (Instant::now(), seen));
        }
    }

    /// Forgets what it saw of the term.
    pub(super) fn forget(table_id: &str, access: &Access) {
        if let (Some(key), Ok(mut memory)) = (key(table_id, access), memory().lock()) {
            memory.remove(&key);
        }
    }
}

/// How many records match: the plan's first access, every candidate checked.
async fn count(
    store: &dyn ItemTable,
    table: &DataTable,
    query: &ListQuery,
    plan: &Plan,
) -> Result<u64, ApiError> {
    let over = || {
        index_needed(
            "count",
            format!(
                "a count checks at most {COUNT_BUDGET} records; narrow the filter with an indexed field"
            ),
        )
    };
    match collect(store, table, query, &plan.first.access, None, COUNT_BUDGET).await {
        Ok(Some(candidates)) => Ok(candidates.len() as u64),
        Ok(None) => Err(over()),
        Err(ApiError::BadQuery { .. }) => Err(over()),
        Err(e) => Err(e),
    }
}

/// The records each expanded relation names, by field name then id.
async fn expanded(
    services: &Services,
    query: &ListQuery,
    rows: &[Candidate],
    table: &DataTable,
) -> Result<HashMap<String, HashMap<String, RecordView>>, ApiError> {
    let store = services.table()?;
    let mut out = HashMap::new();
    for (name, target_id, _) in &query.expand {
        let Some(field) = table.fields.iter().find(|f| &f.name == name) else {
            continue;
        };
        let mut ids = Vec::new();
        let mut seen = HashSet::new();
        for row in rows {
            let listed = match row.data.get(&field.id) {
                Some(Value::String(id)) => vec![id.clone()],
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            for id in listed {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
        }
        if ids.is_empty() {
            continue;
        }
        let Some(target) = tables::find_in(store, &table.project_id, target_id).await? else {
            continue;
        };
        let found = fetch(store, &target.id, &ids).await?;
        let views = found
            .into_values()
            .map(|c| Ok((c.stored.id.clone(), view(&target, &c.stored)?)))
            .collect::<Result<HashMap<_, _>, ApiError>>()?;
        out.insert(name.clone(), views);
    }
    Ok(out)
}

/// Lists a table's records (members).
pub async fn list(
    services: std::sync::Arc<Services>,
    request: Request,
    tenant: Tenant,
) -> HandlerResult {
    let table = tables::load(&services, &request, &tenant).await?;
    let page = query(&services, &table, &|name| query_param(&request, name)).await?;
    json(StatusCode::OK, &page)
}

/// A page of a table's records as the list's parameters (`filter`,
/// `sort`, `limit`, `next`, `fields`, `expand`, `count`) ask: what the
/// records route answers, and what a workflow's query step reads.
pub async fn query<'r>(
    services: &Services,
    table: &DataTable,
    param: &(dyn Fn(&str) -> Option<&'r str> + Sync),
) -> Result<RecordPage, ApiError> {
    let query = read_query(services, param, table).await?;
    let unique = |c: &Column| {
        c.field_id()
            .is_some_and(|id| table.fields.iter().any(|f| f.id == id && f.unique))
    };
    let plan = plan::plan(query.filter.as_ref(), &query.sort, &unique);
    let store = services.table()?;
    let found = run(store, table, &query, &plan).await?;
    let total = if query.count {
        Some(count(store, table, &query, &plan).await?)
    } else {
        None
    };
    let next = match (found.more, found.rows.last()) {
        (true, Some(last)) => {
            let key = cursor::signing_key(services).await?;
            Some(cursor::seal(
                &key,
                &query.binding,
                &predicate::position(&query.sort, &last.row()),
            ))
        }
        _ => None,
    };
    let mut expansions = expanded(services, &query, &found.rows, table).await?;
    let mut items = Vec::with_capacity(found.rows.len());
    for row in &found.rows {
        let mut shown = view(table, &row.stored)?;
        if let Some(fields) = &query.fields {
            shown.values.retain(|name, _| fields.contains(name));
        }
        let mut expand = Map::new();
        for (name, _, many) in &query.expand {
            let Some(field) = table.fields.iter().find(|f| &f.name == name) else {
                continue;
            };
            let Some(views) = expansions.get_mut(name) else {
                continue;
            };
            let pick = |id: &str| views.get(id).and_then(|v| serde_json::to_value(v).ok());
            let value = match row.data.get(&field.id) {
                Some(Value::String(id)) if !many => pick(id),
                Some(Value::Array(ids)) => Some(Value::Array(
                    ids.iter()
                        .filter_map(|v| v.as_str().and_then(pick))
                        .collect(),
                )),
                _ => None,
            };
            if let Some(value) = value {
                expand.insert(name.clone(), value);
            }
        }
        if !query.expand.is_empty() {
            shown.expand = Some(expand);
        }
        items.push(shown);
    }
    Ok(RecordPage { items, next, total })
}
