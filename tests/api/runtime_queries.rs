//! The records list's query language end to end, on both backends:
//! filters, sorts, the signed cursor, counts, `fields=` and `expand=`, each
//! refusal with its position, the scan budget; and a property test that
//! walks every cursor page of random filters and sorts over random records
//! and compares them with an evaluation written here, apart from the
//! platform's own.

use std::cmp::Ordering;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, User, assert_problem};

struct Tables {
    owner: User,
    project: String,
    tasks: String,
    people: String,
}

impl Tables {
    fn records(&self, table: &str) -> String {
        format!(
            "/api/v1/runtime/projects/{}/tables/{table}/records",
            self.project
        )
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// `GET` of a list with these query parameters.
async fn list(
    app: &TestApp,
    t: &Tables,
    table: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let path = format!("{}?{}", t.records(table), query.join("&"));
    app.json(Method::GET, &path, None, Some(&t.owner.access))
        .await
}

async fn setup(app: &TestApp) -> Tables {
    let owner = app.signed_up_user().await;
    let org = app.organization(&owner, "Acme").await;
    let project = app.project(&owner, &org, "Work").await;
    let add = |body: Value| {
        let (owner, project) = (owner.clone(), project.clone());
        async move {
            let table = app.add_table(&owner, &project, body).await;
            table["id"].as_str().expect("id").to_string()
        }
    };
    let people = add(json!({"name": "People", "fields": [
        {"name": "email", "type": "email", "required": true, "unique": true}
    ]}))
    .await;
    let tasks = add(json!({"name": "Tasks", "fields": [
        {"name": "title", "type": "text"},
        {"name": "n", "type": "integer", "indexed": true},
        {"name": "m", "type": "integer"},
        {"name": "s", "type": "single_select", "choices": ["a", "b", "c"], "indexed": true},
        {"name": "flag", "type": "boolean", "indexed": true},
        {"name": "due", "type": "date", "indexed": true},
        {"name": "owner", "type": "relation", "relation": {"table_id": people}},
        {"name": "helpers", "type": "relation", "relation": {"table_id": people, "many": true}}
    ]}))
    .await;
    Tables {
        owner,
        project,
        tasks,
        people,
    }
}

async fn create(app: &TestApp, t: &Tables, table: &str, body: Value) -> Value {
    let (status, record) = app
        .json(
            Method::POST,
            &t.records(table),
            Some(body),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{record}");
    record
}

/// Every page of a list, by its cursor.
async fn walk(app: &TestApp, t: &Tables, params: &[(&str, &str)]) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..200 {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        if let Some(cursor) = &next {
            all.push(("next", cursor));
        }
        let (status, page) = list(app, t, &t.tasks, &all).await;
        if status != StatusCode::OK {
            return Err(format!("{status}: {page}"));
        }
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_string()),
            None => return Ok(items),
        }
    }
    Err("more than 200 pages".into())
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect()
}

async fn filters_sorts_pages_counts_trims_and_expands(app: TestApp) {
    let t = setup(&app).await;
    let ada = create(&app, &t, &t.people, json!({"email": "ada@example.com"})).await;
    let bob = create(&app, &t, &t.people, json!({"email": "bob@example.com"})).await;
    let mut made = Vec::new();
    for (i, s) in ["a", "b", "a", "c", "a", "b", "a"].iter().enumerate() {
        let record = create(
            &app,
            &t,
            &t.tasks,
            json!({"title": format!("Task {i}"), "n": i % 3, "s": s, "owner": ada["id"],
                   "helpers": [ada["id"], bob["id"]]}),
        )
        .await;
        made.push(record);
    }
    // A relation may name one record twice (read once).
    let twice = json!({"title": "Twice", "helpers": [ada["id"], ada["id"]]});
    let (status, body) = app
        .json(
            Method::POST,
            &t.records(&t.tasks),
            Some(twice),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .call(
            Method::DELETE,
            &format!(
                "{}/{}",
                t.records(&t.tasks),
                body["id"].as_str().unwrap_or("")
            ),
            None,
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // An indexed equality with an ordered sort, paged two at a time.
    let pages = walk(
        &app,
        &t,
        &[
            ("filter", "s = 'a' && n >= 1"),
            ("sort", "-n"),
            ("limit", "1"),
        ],
    )
    .await
    .expect("pages");
    let titles: Vec<&str> = pages.iter().filter_map(|r| r["title"].as_str()).collect();
    // s = a: tasks 0 (n 0), 2 (n 2), 4 (n 1), 6 (n 0); ties by id descending.
    assert_eq!(titles, ["Task 2", "Task 4"]);
    let (status, counted) = list(
        &app,
        &t,
        &t.tasks,
        &[("filter", "s = 'a'"), ("count", "true"), ("limit", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counted["total"], 4);
    assert_eq!(counted["items"].as_array().map(Vec::len), Some(1));
    // Newest first, two fields only, relations expanded.
    let (_, page) = list(
        &app,
        &t,
        &t.tasks,
        &[
            ("sort", "-created_at"),
            ("fields", "title"),
            ("expand", "owner,helpers"),
            ("limit", "2"),
        ],
    )
    .await;
    let first = &page["items"][0];
    assert_eq!(first["title"], "Task 6");
    assert!(first.get("n").is_none() && first["version"] == 1, "{first}");
    assert_eq!(first["expand"]["owner"]["email"], "ada@example.com");
    assert_eq!(first["expand"]["helpers"][1]["email"], "bob@example.com");
    // By id, and by a list of ids.
    let wanted = format!(
        "id in ('{}', '{}')",
        made[1]["id"].as_str().unwrap_or(""),
        made[3]["id"].as_str().unwrap_or("")
    );
    let (_, page) = list(&app, &t, &t.tasks, &[("filter", &wanted)]).await;
    assert_eq!(ids(page["items"].as_array().expect("items")).len(), 2);

    // Refusals name the parameter, the field and where it is.
    for (param, text, start, end) in [
        ("filter", "nope = 1", 0, 4),
        ("filter", "n = 'x'", 4, 7),
        ("filter", "s = 'z'", 4, 7),
        ("filter", "n >", 3, 3),
        ("sort", "n,helpers", 2, 9),
        ("fields", "title,nope", 6, 10),
        ("expand", "title", 0, 5),
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("{}?{param}={}", t.records(&t.tasks), encode(text)),
                None,
                Some(&t.owner.access),
            )
            .await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
        assert_eq!(problem["errors"][0]["field"], param, "{text}");
        let position = &problem["errors"][0]["position"];
        assert!(
            position["start"].as_u64() >= Some(start.min(end) as u64)
                && position["end"].as_u64() <= Some(end.max(start) as u64 + 1),
            "{text}: {problem}"
        );
    }
    // A cursor is bound to its table, filter and sort, and is signed.
    let (_, page) = list(&app, &t, &t.tasks, &[("filter", "s = 'a'"), ("limit", "1")]).await;
    let cursor = page["next"].as_str().expect("a next page").to_string();
    for params in [
        vec![("filter", "s = 'b'"), ("next", cursor.as_str())],
        vec![
            ("filter", "s = 'a'"),
            ("sort", "-n"),
            ("next", cursor.as_str()),
        ],
    ] {
        let (status, problem) = list(&app, &t, &t.tasks, &params).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "next");
    }
    let (status, _) = list(
        &app,
        &t,
        &t.people,
        &[("filter", "s = 'a'"), ("next", cursor.as_str())],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the people table has no field s"
    );
    let (status, _) = list(&app, &t, &t.people, &[("next", cursor.as_str())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let forged = format!("{}A", cursor);
    let (status, _) = list(
        &app,
        &t,
        &t.tasks,
        &[("filter", "s = 'a'"), ("next", forged.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = list(&app, &t, &t.tasks, &[("limit", "201")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

/// A filter or sort that only a full read answers is refused past the
/// scan budget, naming the field to index. The records are seeded through
/// the table port, as a bulk import would write them.
async fn past_the_scan_budget_a_query_names_the_field_to_index(app: TestApp) {
    let t = setup(&app).await;
    let one = create(&app, &t, &t.tasks, json!({"title": "seed", "m": 1})).await;
    let store = app.services.table().expect("table");
    let partition = shared::runtime::partition(&t.tasks);
    let m_id = {
        let (_, table) = app
            .json(
                Method::GET,
                &format!("/api/v1/studio/projects/{}/tables/{}", t.project, t.tasks),
                None,
                Some(&t.owner.access),
            )
            .await;
        table["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == "m"))
            .and_then(|f| f["id"].as_str())
            .expect("m")
            .to_string()
    };
    let budget = shared::runtime::listing::SCAN_BUDGET;
    for i in 0..=budget {
        let id = ulid::Ulid::generate().to_string();
        let mut item = Map::new();
        for (k, v) in one.as_object().expect("a record") {
            if ["id", "created_at", "updated_at", "created_by", "version"].contains(&k.as_str()) {
                item.insert(k.clone(), v.clone());
            }
        }
        item.insert("pk".into(), json!(partition));
        item.insert("sk".into(), json!(format!("R#{id}")));
        item.insert("id".into(), json!(id));
        item.insert("table_id".into(), json!(t.tasks));
        item.insert("project_id".into(), json!(t.project));
        item.insert("data".into(), json!(json!({&m_id: i + 2}).to_string()));
        store.put(item, None).await.expect("seeded");
    }
    for (params, field) in [
        (vec![("filter", "m = 1")], "m"),
        (vec![("sort", "m")], "m"),
        (
            vec![("filter", "title = 'seed'"), ("count", "true")],
            "title",
        ),
    ] {
        let (status, problem) = list(&app, &t, &t.tasks, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{params:?}");
        assert_eq!(problem["code"], "index_needed");
        let named = problem["errors"][0]["field"].as_str().unwrap_or_default();
        assert!(named == field || named == "count", "{params:?}: {problem}");
    }
    // What reads in order needs no budget: the newest page comes at once.
    let (status, page) = list(
        &app,
        &t,
        &t.tasks,
        &[("sort", "-created_at"), ("limit", "3")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(3));
    app.stop().await;
}

/// Index entries of one field's generation, read through the table port.
async fn entries(app: &TestApp, table: &str, field: &str, generation: u32) -> usize {
    let store = app.services.table().expect("table");
    let query = shared::ports::table::Query::partition(shared::runtime::partition(table))
        .begins_with(format!("I#{field}#{generation}#"))
        .limit(1000);
    store
        .query(&query)
        .await
        .map(|p| p.items.len())
        .unwrap_or(0)
}

async fn a_new_index_is_filled_then_used_and_a_dropped_one_cleared(app: TestApp) {
    let t = setup(&app).await;
    for m in [3, 1, 2, 1] {
        create(&app, &t, &t.tasks, json!({"m": m})).await;
    }
    let path = format!("/api/v1/studio/projects/{}/tables/{}", t.project, t.tasks);
    let (_, table) = app
        .json(Method::GET, &path, None, Some(&t.owner.access))
        .await;
    let field = |table: &Value, name: &str| {
        table["fields"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name))
            .cloned()
            .expect("a field")
    };
    let m = field(&table, "m")["id"].as_str().expect("id").to_string();
    let change = |kind: &str| {
        json!({"changes": [{"op": "change_field", "field_id": m,
                            "field": {"name": "m", "type": kind, "indexed": true}}]})
    };
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(change("integer")),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let shown = field(&changed, "m");
    assert_eq!(
        (
            shown["index_ready"].clone(),
            shown["index_generation"].clone()
        ),
        (json!(false), json!(1))
    );
    let ready = nocode_tests::eventually(std::time::Duration::from_secs(30), || async {
        let (_, table) = app
            .json(Method::GET, &path, None, Some(&t.owner.access))
            .await;
        (field(&table, "m")["index_ready"] == true).then_some(())
    })
    .await;
    assert!(ready.is_some(), "the index was filled and marked ready");
    assert_eq!(entries(&app, &t.tasks, &m, 1).await, 4);
    let (_, page) = list(&app, &t, &t.tasks, &[("sort", "-m"), ("filter", "m <= 2")]).await;
    let values: Vec<i64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|r| r["m"].as_i64())
        .collect();
    assert_eq!(values, [2, 1, 1]);
    // A type change that orders differently builds a new generation and
    // clears the old one.
    let (status, changed) = app
        .json(
            Method::PATCH,
            &path,
            Some(change("text")),
            Some(&t.owner.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(field(&changed, "m")["index_generation"], 2);
    let rebuilt = nocode_tests::eventually(std::time::Duration::from_secs(30), || async {
        let old = entries(&app, &t.tasks, &m, 1).await;
        let new = entries(&app, &t.tasks, &m, 2).await;
        (old == 0 && new == 4).then_some(())
    })
    .await;
    assert!(
        rebuilt.is_some(),
        "generation 2 filled, generation 1 cleared"
    );
    let (_, page) = list(&app, &t, &t.tasks, &[("filter", "m = '1'")]).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    app.stop().await;
}

// The property test: random records, random filters and sorts.

#[derive(Clone, Debug)]
enum Term {
    Cmp(&'static str, &'static str, Value),
    In(&'static str, bool, Vec<Value>),
    Null(&'static str, bool),
    Like(&'static str, bool, String),
    And(Vec<Term>),
    Or(Vec<Term>),
}

fn literal(field: &str) -> BoxedStrategy<Value> {
    match field {
        "n" | "m" => (-1i64..5).prop_map(Value::from).boxed(),
        "s" => prop::sample::select(vec!["a", "b", "c"])
            .prop_map(Value::from)
            .boxed(),
        "flag" => any::<bool>().prop_map(Value::from).boxed(),
        "due" => (1u32..6)
            .prop_map(|d| json!(format!("2024-01-0{d}")))
            .boxed(),
        _ => prop::sample::select(vec!["x", "xy", "y", "Xz", ""])
            .prop_map(Value::from)
            .boxed(),
    }
}

fn leaf() -> impl Strategy<Value = Term> {
    let field = prop::sample::select(vec!["n", "m", "s", "flag", "due", "title"]);
    field.prop_flat_map(|f| {
        let ops: Vec<&'static str> = match f {
            "flag" => vec!["=", "!="],
            _ => vec!["=", "!=", "<", "<=", ">", ">="],
        };
        prop_oneof![
            4 => (prop::sample::select(ops), literal(f)).prop_map(move |(op, v)| Term::Cmp(f, op, v)),
            1 => (any::<bool>(), prop::collection::vec(literal(f), 1..4)).prop_map(move |(neg, vs)| Term::In(f, neg, vs)),
            1 => any::<bool>().prop_map(move |neg| Term::Null(f, neg)),
            1 => (any::<bool>(), prop::sample::select(vec!["x", "y", "Z"])).prop_map(|(neg, s)| Term::Like("title", neg, s.to_string())),
        ]
    })
}

fn term() -> impl Strategy<Value = Term> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Term::And),
            prop::collection::vec(inner, 2..3).prop_map(Term::Or),
        ]
    })
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn render(term: &Term) -> String {
    match term {
        Term::Cmp(f, op, v) => format!("{f} {op} {}", text_of(v)),
        Term::In(f, neg, vs) => format!(
            "{f} {}in ({})",
            if *neg { "not " } else { "" },
            vs.iter().map(text_of).collect::<Vec<_>>().join(", ")
        ),
        Term::Null(f, neg) => format!("{f} is {}null", if *neg { "not " } else { "" }),
        Term::Like(f, neg, s) => format!("{f} {} '{s}'", if *neg { "!~" } else { "~" }),
        Term::And(ts) => format!(
            "({})",
            ts.iter().map(render).collect::<Vec<_>>().join(" && ")
        ),
        Term::Or(ts) => format!(
            "({})",
            ts.iter().map(render).collect::<Vec<_>>().join(" || ")
        ),
    }
}

/// Values compare within their type; a missing value is null, below all.
fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => Ordering::Equal,
    }
}

fn holds(term: &Term, record: &Value) -> bool {
    let value = |f: &str| record.get(f).cloned().unwrap_or(Value::Null);
    match term {
        Term::Cmp(f, op, v) => {
            let have = value(f);
            if have.is_null() {
                return *op == "!=";
            }
            let o = order(&have, v);
            match *op {
                "=" => o.is_eq(),
                "!=" => o.is_ne(),
                "<" => o.is_lt(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                _ => o.is_ge(),
            }
        }
        Term::In(f, neg, vs) => vs.iter().any(|v| order(&value(f), v).is_eq()) != *neg,
        Term::Null(f, neg) => value(f).is_null() != *neg,
        Term::Like(f, neg, s) => match value(f) {
            Value::String(have) => have.to_lowercase().contains(&s.to_lowercase()) != *neg,
            _ => *neg,
        },
        Term::And(ts) => ts.iter().all(|t| holds(t, record)),
        Term::Or(ts) => ts.iter().any(|t| holds(t, record)),
    }
}

fn record() -> impl Strategy<Value = Value> {
    let maybe = |s: BoxedStrategy<Value>| prop::option::weighted(0.8, s);
    (
        maybe(literal("n")),
        maybe(literal("m")),
        maybe(literal("s")),
        maybe(literal("flag")),
        maybe(literal("due")),
        maybe(literal("title")),
    )
        .prop_map(|(n, m, s, flag, due, title)| {
            let mut body = Map::new();
            for (k, v) in [
                ("n", n),
                ("m", m),
                ("s", s),
                ("flag", flag),
                ("due", due),
                ("title", title),
            ] {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            Value::Object(body)
        })
}

fn sort() -> impl Strategy<Value = Vec<(&'static str, bool)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "n",
                "m",
                "s",
                "flag",
                "due",
                "title",
                "created_at",
                "id",
            ]),
            any::<bool>(),
        ),
        0..3,
    )
    .prop_map(|mut keys| {
        let mut seen = std::collections::HashSet::new();
        keys.retain(|(k, _)| seen.insert(*k));
        if let Some(at) = keys.iter().position(|(k, _)| *k == "id") {
            keys.truncate(at + 1);
        }
        keys
    })
}

fn expected(records: &[Value], filter: Option<&Term>, sort: &[(&str, bool)]) -> Vec<String> {
    let mut matched: Vec<&Value> = records
        .iter()
        .filter(|r| filter.is_none_or(|f| holds(f, r)))
        .collect();
    let tie_descending = sort.last().is_some_and(|(_, d)| *d);
    matched.sort_by(|a, b| {
        for (key, descending) in sort {
            let o = order(&a[*key], &b[*key]);
            let o = if *descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        let o = order(&a["id"], &b["id"]);
        if tie_descending { o.reverse() } else { o }
    });
    ids(&matched.into_iter().cloned().collect::<Vec<_>>())
}

async fn random_filters_and_sorts_agree_with_an_evaluation_of_their_own(app: TestApp) {
    let t = setup(&app).await;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let records_strategy = prop::collection::vec(record(), 25..30);
    let bodies = records_strategy
        .new_tree(&mut runner)
        .expect("records")
        .current();
    let mut records = Vec::new();
    for body in bodies {
        let made = create(&app, &t, &t.tasks, body.clone()).await;
        let mut shown = body;
        for key in ["id", "created_at"] {
            shown[key] = made[key].clone();
        }
        records.push(shown);
    }
    let cases = if app.moto_url.is_some() { 25 } else { 60 };
    for case in 0..cases {
        let filter = prop::option::weighted(0.85, term())
            .new_tree(&mut runner)
            .expect("filter")
            .current();
        let sort = sort().new_tree(&mut runner).expect("sort").current();
        let limit = (1usize..8).new_tree(&mut runner).expect("limit").current();
        let filter_text = filter.as_ref().map(render).unwrap_or_default();
        let sort_text: Vec<String> = sort
            .iter()
            .map(|(k, d)| format!("{}{k}", if *d { "-" } else { "" }))
            .collect();
        let sort_text = sort_text.join(",");
        let limit_text = limit.to_string();
        let mut params = vec![("limit", limit_text.as_str())];
        if !filter_text.is_empty() {
            params.push(("filter", filter_text.as_str()));
        }
        if !sort_text.is_empty() {
            params.push(("sort", sort_text.as_str()));
        }
        let got = walk(&app, &t, &params).await;
        let want = expected(&records, filter.as_ref(), &sort);
        let got = got.map(|items| ids(&items));
        assert!(
            got.as_ref() == Ok(&want),
            "case {case}: filter `{filter_text}`, sort `{sort_text}`, limit {limit}: got {got:?}, want {want:?}"
        );
    }
    app.stop().await;
}

crate::helpers::on_both_backends!(
    filters_sorts_pages_counts_trims_and_expands,
    past_the_scan_budget_a_query_names_the_field_to_index,
    a_new_index_is_filled_then_used_and_a_dropped_one_cleared,
    random_filters_and_sorts_agree_with_an_evaluation_of_their_own,
);
