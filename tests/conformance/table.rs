//! The item table port: every behaviour on the embedded table and on DynamoDB (moto).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::adapters::aws::DynamoTable;
use shared::adapters::embedded::EmbeddedTable;
use shared::ports::table::{
    CancelReason, Condition, Cursor, Index, Item, ItemTable, ItemTableExt, Key, Query, SortRange,
    TableError, Update, Write,
};

use crate::harness;

pub struct Fixture {
    table: Arc<dyn ItemTable>,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    async fn embedded() -> Self {
        let dir = harness::data_dir();
        let table = EmbeddedTable::open(dir.path()).expect("open embedded table");
        Self {
            table: Arc::new(table),
            _dir: Some(dir),
        }
    }

    async fn aws() -> Self {
        let sdk = harness::sdk_config().await;
        let name = harness::unique("table");
        nocode::emulator::create_table(&sdk, &name)
            .await
            .expect("create table on moto");
        Self {
            table: Arc::new(DynamoTable::from_client(
                aws_sdk_dynamodb::Client::new(&sdk),
                name,
            )),
            _dir: None,
        }
    }
}

fn item(value: Value) -> Item {
    value.as_object().cloned().expect("an object")
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["sk"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn seed(t: &dyn ItemTable, pk: &str, sks: &[&str]) {
    for sk in sks {
        t.put(item(json!({"pk": pk, "sk": sk, "n": 1})), None)
            .await
            .expect("seed put");
    }
}

/// Reads every page of a query, checking pages never exceed the limit.
async fn all_pages(t: &dyn ItemTable, query: Query) -> (Vec<Item>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = t
            .query(&query.clone().after(cursor.take()))
            .await
            .expect("query page");
        assert!(page.items.len() <= query.limit as usize);
        pages += 1;
        items.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(Cursor::parse(next.as_str()).expect("cursor parses")),
            None => return (items, pages),
        }
        assert!(pages < 100, "paging does not end");
    }
}

async fn put_then_get_round_trips_every_json_type(f: &Fixture) {
    let original = item(json!({
        "pk": "ORG#1", "sk": "PROJECT#1",
        "name": "Shop", "count": 42, "ratio": 0.25, "negative": -7,
        "big": 9_007_199_254_740_993_u64, "active": true, "none": null,
        "tags": ["a", "b", 3], "nested": {"deep": {"x": 1, "list": [{"y": "z"}]}},
        "empty": ""
    }));
    f.table.put(original.clone(), None).await.expect("put");
    let read = f
        .table
        .get(&Key::new("ORG#1", "PROJECT#1"))
        .await
        .expect("get");
    assert_eq!(read, Some(original));
}

async fn get_of_a_missing_item_is_none(f: &Fixture) {
    assert_eq!(f.table.get(&Key::new("ORG#1", "NOPE")).await, Ok(None));
}

async fn typed_values_round_trip_through_serde(f: &Fixture) {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Project {
        pk: String,
        sk: String,
        name: String,
        version: u64,
        tables: Vec<String>,
    }
    let project = Project {
        pk: "ORG#1".into(),
        sk: "PROJECT#9".into(),
        name: "CRM".into(),
        version: 3,
        tables: vec!["contacts".into()],
    };
    f.table.put_as(&project, None).await.expect("put_as");
    let back: Option<Project> = f
        .table
        .get_as(&Key::new("ORG#1", "PROJECT#9"))
        .await
        .expect("get_as");
    assert_eq!(back, Some(project));
}

async fn put_if_absent_fails_when_the_item_exists(f: &Fixture) {
    let first = item(json!({"pk": "U#1", "sk": "PROFILE", "name": "first"}));
    f.table
        .put(first.clone(), Some(Condition::Absent))
        .await
        .expect("first put");
    let second = item(json!({"pk": "U#1", "sk": "PROFILE", "name": "second"}));
    assert_eq!(
        f.table.put(second, Some(Condition::Absent)).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(
        f.table.get(&Key::new("U#1", "PROFILE")).await,
        Ok(Some(first))
    );
}

async fn put_if_present_fails_when_the_item_is_absent(f: &Fixture) {
    let it = item(json!({"pk": "U#2", "sk": "PROFILE"}));
    assert_eq!(
        f.table.put(it, Some(Condition::Exists)).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(f.table.get(&Key::new("U#2", "PROFILE")).await, Ok(None));
}

async fn version_condition_guards_concurrent_edits(f: &Fixture) {
    let key = Key::new("ORG#1", "PAGE#1");
    f.table
        .put(
            item(json!({"pk": "ORG#1", "sk": "PAGE#1", "title": "v1", "version": 1})),
            None,
        )
        .await
        .expect("put v1");
    let edit = |title: &str| {
        Update::of(key.clone())
            .set("title", title)
            .add("version", 1)
            .when(Condition::version_is(1))
    };
    let saved = f.table.update(edit("mine")).await.expect("first edit");
    assert_eq!(saved["version"], json!(2));
    assert_eq!(
        f.table.update(edit("theirs")).await,
        Err(TableError::ConditionFailed)
    );
    let now = f.table.get(&key).await.expect("get").expect("exists");
    assert_eq!(now["title"], json!("mine"));
    // A put guarded by the version works the same way.
    let replace = item(json!({"pk": "ORG#1", "sk": "PAGE#1", "title": "put", "version": 3}));
    assert_eq!(
        f.table
            .put(replace.clone(), Some(Condition::version_is(1)))
            .await,
        Err(TableError::ConditionFailed)
    );
    f.table
        .put(replace, Some(Condition::version_is(2)))
        .await
        .expect("put at the right version");
}

async fn absent_or_expired_condition_allows_idempotent_retries(f: &Fixture) {
    let record = |expiry: i64| {
        item(
            json!({"pk": "IDEMPOTENCY#k", "sk": "IDEMPOTENCY", "status": "INPROGRESS", "expiry": expiry}),
        )
    };
    let claim = |now: i64| {
        Condition::Or(vec![
            Condition::Absent,
            Condition::LessThan("expiry".into(), json!(now)),
        ])
    };
    f.table
        .put(record(100), Some(claim(50)))
        .await
        .expect("first claim");
    assert_eq!(
        f.table.put(record(200), Some(claim(60))).await,
        Err(TableError::ConditionFailed)
    );
    f.table
        .put(record(300), Some(claim(150)))
        .await
        .expect("claim after expiry");
}

async fn a_greater_than_condition_keeps_a_counter_above_a_floor(f: &Fixture) {
    let key = Key::new("ORG#F", "ORG");
    f.table
        .put(item(json!({"pk": "ORG#F", "sk": "ORG", "owners": 2})), None)
        .await
        .expect("put");
    let drop_owner = || {
        Update::of(key.clone())
            .add("owners", -1)
            .when(Condition::GreaterThan("owners".into(), json!(1)))
    };
    let after = f.table.update(drop_owner()).await.expect("2 -> 1");
    assert_eq!(after["owners"], json!(1));
    assert_eq!(
        f.table.update(drop_owner()).await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(
        f.table.get(&key).await.expect("get").expect("item")["owners"],
        json!(1)
    );
}

async fn update_sets_removes_and_adds_and_returns_the_new_item(f: &Fixture) {
    let key = Key::new("ORG#1", "COUNTER");
    f.table
        .put(
            item(json!({"pk": "ORG#1", "sk": "COUNTER", "n": 5, "stale": "x", "keep": true})),
            None,
        )
        .await
        .expect("put");
    let new = f
        .table
        .update(
            Update::of(key.clone())
                .set("label", "hits")
                .remove("stale")
                .add("n", 3),
        )
        .await
        .expect("update");
    let expected =
        item(json!({"pk": "ORG#1", "sk": "COUNTER", "n": 8, "label": "hits", "keep": true}));
    assert_eq!(new, expected);
    assert_eq!(f.table.get(&key).await, Ok(Some(expected)));
}

async fn update_of_an_absent_item_creates_it_unless_the_condition_forbids(f: &Fixture) {
    let key = Key::new("ORG#1", "NEW");
    assert_eq!(
        f.table
            .update(Update::of(key.clone()).add("n", 1).when(Condition::Exists))
            .await,
        Err(TableError::ConditionFailed)
    );
    assert_eq!(f.table.get(&key).await, Ok(None));
    let created = f
        .table
        .update(Update::of(key.clone()).add("n", 1))
        .await
        .expect("upsert");
    assert_eq!(created, item(json!({"pk": "ORG#1", "sk": "NEW", "n": 1})));
}

async fn update_cannot_change_the_key(f: &Fixture) {
    let result = f
        .table
        .update(Update::of(Key::new("a", "b")).set("sk", "c"))
        .await;
    assert!(matches!(result, Err(TableError::Invalid(_))), "{result:?}");
}

async fn delete_honours_its_condition_and_tolerates_absence(f: &Fixture) {
    let key = Key::new("ORG#1", "DOOMED");
    f.table
        .put(
            item(json!({"pk": "ORG#1", "sk": "DOOMED", "version": 2})),
            None,
        )
        .await
        .expect("put");
    assert_eq!(
        f.table.delete(&key, Some(Condition::version_is(1))).await,
        Err(TableError::ConditionFailed)
    );
    assert!(f.table.get(&key).await.expect("get").is_some());
    f.table
        .delete(&key, Some(Condition::version_is(2)))
        .await
        .expect("delete");
    assert_eq!(f.table.get(&key).await, Ok(None));
    f.table.delete(&key, None).await.expect("delete absent");
    assert_eq!(
        f.table.delete(&key, Some(Condition::Exists)).await,
        Err(TableError::ConditionFailed)
    );
}

async fn query_reads_one_partition_by_prefix_forward_and_backward(f: &Fixture) {
    seed(
        &*f.table,
        "ORG#1",
        &[
            "MEMBER#b",
            "MEMBER#a",
            "PROJECT#2",
            "PROJECT#1",
            "PROJECT#3",
            "ZZ",
        ],
    )
    .await;
    seed(&*f.table, "ORG#2", &["PROJECT#x"]).await;
    seed(&*f.table, "ORG#10", &["PROJECT#y"]).await;
    let forward = f
        .table
        .query(&Query::partition("ORG#1").begins_with("PROJECT#"))
        .await
        .expect("query");
    assert_eq!(sks(&forward.items), ["PROJECT#1", "PROJECT#2", "PROJECT#3"]);
    assert_eq!(forward.next, None);
    let backward = f
        .table
        .query(&Query::partition("ORG#1").begins_with("PROJECT#").backward())
        .await
        .expect("query");
    assert_eq!(
        sks(&backward.items),
        ["PROJECT#3", "PROJECT#2", "PROJECT#1"]
    );
    let whole = f
        .table
        .query(&Query::partition("ORG#1"))
        .await
        .expect("query");
    assert_eq!(whole.items.len(), 6);
    let none = f
        .table
        .query(&Query::partition("ORG#3"))
        .await
        .expect("query");
    assert!(none.items.is_empty() && none.next.is_none());
}

async fn query_reads_sort_key_ranges(f: &Fixture) {
    seed(
        &*f.table,
        "LOG#1",
        &["2026-01", "2026-02", "2026-03", "2026-04"],
    )
    .await;
    let range = |r: SortRange| Query::partition("LOG#1").range(r);
    let read = |q: Query| async move { sks(&f.table.query(&q).await.expect("query").items) };
    assert_eq!(
        read(range(SortRange::Between(
            "2026-02".into(),
            "2026-03".into()
        )))
        .await,
        ["2026-02", "2026-03"]
    );
    assert_eq!(
        read(range(SortRange::AtLeast("2026-03".into()))).await,
        ["2026-03", "2026-04"]
    );
    assert_eq!(
        read(range(SortRange::AtMost("2026-02".into())).backward()).await,
        ["2026-02", "2026-01"]
    );
    assert_eq!(
        read(range(SortRange::Equals("2026-04".into()))).await,
        ["2026-04"]
    );
    assert!(
        read(range(SortRange::Between("2027".into(), "2028".into())))
            .await
            .is_empty()
    );
}

async fn query_pages_with_an_opaque_cursor_both_ways(f: &Fixture) {
    let keys: Vec<String> = (0..7).map(|i| format!("ITEM#{i:02}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    seed(&*f.table, "ORG#P", &refs).await;
    let (items, pages) = all_pages(&*f.table, Query::partition("ORG#P").limit(3)).await;
    assert_eq!(sks(&items), keys);
    assert_eq!(pages, 3);
    let (items, pages) = all_pages(&*f.table, Query::partition("ORG#P").limit(3).backward()).await;
    let mut reversed = keys.clone();
    reversed.reverse();
    assert_eq!(sks(&items), reversed);
    assert_eq!(pages, 3);
    // An exact multiple of the limit ends without an empty extra page.
    let (items, pages) = all_pages(&*f.table, Query::partition("ORG#P").limit(7)).await;
    assert_eq!((items.len(), pages), (7, 1));
}

async fn a_cursor_from_another_partition_or_garbage_is_refused(f: &Fixture) {
    seed(&*f.table, "ORG#A", &["X#1", "X#2"]).await;
    seed(&*f.table, "ORG#B", &["X#1", "X#2"]).await;
    let page = f
        .table
        .query(&Query::partition("ORG#A").limit(1))
        .await
        .expect("query");
    let cursor = page.next.expect("a next page");
    let stolen = f
        .table
        .query(&Query::partition("ORG#B").limit(1).after(Some(cursor)))
        .await;
    assert_eq!(stolen, Err(TableError::InvalidCursor));
    assert_eq!(Cursor::parse("%%%"), Err(TableError::InvalidCursor));
}

async fn secondary_index_queries_follow_item_changes(f: &Fixture) {
    let member = |org: &str, user: &str, role: &str| {
        item(json!({
            "pk": format!("ORG#{org}"), "sk": format!("MEMBER#{user}"),
            "gsi1pk": format!("USER#{user}"), "gsi1sk": format!("ORG#{org}"), "role": role
        }))
    };
    for (org, user) in [("1", "ann"), ("2", "ann"), ("3", "ann"), ("1", "bob")] {
        f.table
            .put(member(org, user, "viewer"), None)
            .await
            .expect("put");
    }
    // Not in the index: no gsi attributes.
    seed(&*f.table, "ORG#1", &["PROJECT#1"]).await;
    let ann = |q: Query| async move { f.table.query(&q).await.expect("index query") };
    let page = ann(Query::partition("USER#ann").on(Index::Gsi1)).await;
    assert_eq!(sks(&page.items), ["MEMBER#ann", "MEMBER#ann", "MEMBER#ann"]);
    let orgs: Vec<_> = page.items.iter().map(|i| i["pk"].clone()).collect();
    assert_eq!(orgs, [json!("ORG#1"), json!("ORG#2"), json!("ORG#3")]);
    let back = ann(Query::partition("USER#ann")
        .on(Index::Gsi1)
        .backward()
        .limit(2))
    .await;
    assert_eq!(back.items[0]["pk"], json!("ORG#3"));
    let rest = ann(Query::partition("USER#ann")
        .on(Index::Gsi1)
        .backward()
        .limit(2)
        .after(back.next))
    .await;
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0]["pk"], json!("ORG#1"));
    assert!(rest.next.is_none());
    // Moving and deleting items moves them in the index.
    f.table
        .update(Update::of(Key::new("ORG#2", "MEMBER#ann")).set("gsi1pk", "USER#zed"))
        .await
        .expect("move");
    f.table
        .delete(&Key::new("ORG#3", "MEMBER#ann"), None)
        .await
        .expect("delete");
    let after = ann(Query::partition("USER#ann").on(Index::Gsi1)).await;
    assert_eq!(after.items.len(), 1);
    let zed = ann(Query::partition("USER#zed")
        .on(Index::Gsi1)
        .begins_with("ORG#2"))
    .await;
    assert_eq!(zed.items.len(), 1);
    assert_eq!(zed.items[0]["role"], json!("viewer"));
    // The second index works the same way.
    f.table
        .put(
            item(json!({"pk": "A", "sk": "B", "gsi2pk": "EMAIL#x@y.z", "gsi2sk": "USER"})),
            None,
        )
        .await
        .expect("put");
    let by_email = ann(Query::partition("EMAIL#x@y.z").on(Index::Gsi2)).await;
    assert_eq!(sks(&by_email.items), ["B"]);
}

async fn a_transaction_applies_every_write(f: &Fixture) {
    f.table
        .put(
            item(json!({"pk": "ORG#T", "sk": "COUNT", "projects": 0})),
            None,
        )
        .await
        .expect("seed");
    f.table
        .put(item(json!({"pk": "ORG#T", "sk": "OLD"})), None)
        .await
        .expect("seed");
    f.table
        .put(
            item(json!({"pk": "ORG#T", "sk": "PLAN", "tier": "free"})),
            None,
        )
        .await
        .expect("seed");
    f.table
        .transact(vec![
            Write::Put {
                item: item(json!({"pk": "ORG#T", "sk": "PROJECT#1", "name": "p"})),
                condition: Some(Condition::Absent),
            },
            Write::Update(Update::of(Key::new("ORG#T", "COUNT")).add("projects", 1)),
            Write::Delete {
                key: Key::new("ORG#T", "OLD"),
                condition: Some(Condition::Exists),
            },
            Write::Check {
                key: Key::new("ORG#T", "PLAN"),
                condition: Condition::Equals("tier".into(), json!("free")),
            },
        ])
        .await
        .expect("transaction");
    let all = f
        .table
        .query(&Query::partition("ORG#T"))
        .await
        .expect("query");
    assert_eq!(sks(&all.items), ["COUNT", "PLAN", "PROJECT#1"]);
    assert_eq!(all.items[0]["projects"], json!(1));
}

async fn a_failed_condition_cancels_the_whole_transaction_and_says_which(f: &Fixture) {
    f.table
        .put(item(json!({"pk": "ORG#X", "sk": "TAKEN"})), None)
        .await
        .expect("seed");
    let result = f
        .table
        .transact(vec![
            Write::Put {
                item: item(json!({"pk": "ORG#X", "sk": "NEW"})),
                condition: None,
            },
            Write::Update(Update::of(Key::new("ORG#X", "COUNT")).add("n", 1)),
            Write::Put {
                item: item(json!({"pk": "ORG#X", "sk": "TAKEN", "overwritten": true})),
                condition: Some(Condition::Absent),
            },
        ])
        .await;
    let Err(error) = result else {
        panic!("the transaction should be cancelled")
    };
    assert_eq!(
        error,
        TableError::TransactionCancelled {
            reasons: vec![
                CancelReason::None,
                CancelReason::None,
                CancelReason::ConditionFailed
            ]
        }
    );
    let all = f
        .table
        .query(&Query::partition("ORG#X"))
        .await
        .expect("query");
    assert_eq!(all.items, vec![item(json!({"pk": "ORG#X", "sk": "TAKEN"}))]);
}

async fn a_transaction_is_bounded_and_touches_each_item_once(f: &Fixture) {
    let put = |sk: String| Write::Put {
        item: item(json!({"pk": "ORG#B", "sk": sk})),
        condition: None,
    };
    let too_many: Vec<_> = (0..26).map(|i| put(format!("{i}"))).collect();
    assert!(matches!(
        f.table.transact(too_many).await,
        Err(TableError::Invalid(_))
    ));
    assert!(matches!(
        f.table
            .transact(vec![put("1".into()), put("1".into())])
            .await,
        Err(TableError::Invalid(_))
    ));
    let max: Vec<_> = (0..25).map(|i| put(format!("{i:02}"))).collect();
    f.table.transact(max).await.expect("25 writes");
    let (items, _) = all_pages(&*f.table, Query::partition("ORG#B")).await;
    assert_eq!(items.len(), 25);
}

async fn batch_get_returns_the_items_that_exist_in_the_order_asked(f: &Fixture) {
    seed(&*f.table, "ORG#G", &["A", "B", "C"]).await;
    let got = f
        .table
        .batch_get(&[
            Key::new("ORG#G", "C"),
            Key::new("ORG#G", "MISSING"),
            Key::new("ORG#G", "A"),
        ])
        .await
        .expect("batch get");
    assert_eq!(sks(&got), ["C", "A"]);
    assert!(matches!(
        f.table.batch_get(&[]).await,
        Err(TableError::Invalid(_))
    ));
}

async fn items_without_a_string_key_are_refused(f: &Fixture) {
    for bad in [
        json!({"pk": "a"}),
        json!({"pk": 1, "sk": "b"}),
        json!({"pk": "", "sk": "b"}),
    ] {
        let result = f.table.put(item(bad.clone()), None).await;
        assert!(matches!(result, Err(TableError::Invalid(_))), "{bad}");
    }
}

async fn the_backend_answers_a_health_probe(f: &Fixture) {
    assert_eq!(f.table.probe().await, Ok(()));
}

conformance!(Fixture:
    the_backend_answers_a_health_probe,
    put_then_get_round_trips_every_json_type,
    get_of_a_missing_item_is_none,
    typed_values_round_trip_through_serde,
    put_if_absent_fails_when_the_item_exists,
    put_if_present_fails_when_the_item_is_absent,
    version_condition_guards_concurrent_edits,
    absent_or_expired_condition_allows_idempotent_retries,
    a_greater_than_condition_keeps_a_counter_above_a_floor,
    update_sets_removes_and_adds_and_returns_the_new_item,
    update_of_an_absent_item_creates_it_unless_the_condition_forbids,
    update_cannot_change_the_key,
    delete_honours_its_condition_and_tolerates_absence,
    query_reads_one_partition_by_prefix_forward_and_backward,
    query_reads_sort_key_ranges,
    query_pages_with_an_opaque_cursor_both_ways,
    a_cursor_from_another_partition_or_garbage_is_refused,
    secondary_index_queries_follow_item_changes,
    a_transaction_applies_every_write,
    a_failed_condition_cancels_the_whole_transaction_and_says_which,
    a_transaction_is_bounded_and_touches_each_item_once,
    batch_get_returns_the_items_that_exist_in_the_order_asked,
    items_without_a_string_key_are_refused,
);
