//! Load test of the insights ingest worker on the local platform:
//! `cargo bench --bench insights_ingest [-- --events 50000] [--pollers 4]`.
//!
//! The `insights-ingest` queue of a fresh data folder is filled with
//! `--events` distinct domain events (8 types, 2 organizations, half of
//! them in a project) and 5 % of them delivered a second time, in shuffled
//! order; then the local platform starts on that folder with its usual
//! workers and the clock runs until every counter holds exactly its
//! number of distinct events. It prints deliveries per second, distinct
//! events per second and what was lost or counted twice (the counters'
//! totals against the distinct events), writes target/bench/insights.json,
//! and exits non-zero below 5,000 distinct events/s or on any loss. The
//! clock includes the platform's start.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use nocode::gateway::{self, GatewayBackend, GatewayConfig, WorkerSettings};
use serde_json::{Value, json};
use shared::adapters::embedded::EmbeddedQueue;
use shared::config::{AllowList, EmbeddedSettings};
use shared::insights::analytics::Granularity;
use shared::ports::queue::{OutgoingMessage, Queue};

// The local platform's allocator, as in its binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TARGET_PER_S: f64 = 5000.0;
const TYPES: [&str; 8] = [
    "record.created",
    "record.updated",
    "record.deleted",
    "page.saved",
    "table.schema_changed",
    "workflow.execution_started",
    "workflow.execution_succeeded",
    "member.added",
];
const ORGANIZATIONS: [&str; 2] = ["org-load-a", "org-load-b"];

/// The value after `--name`, if given.
fn option(name: &str) -> Result<Option<usize>, std::num::ParseIntError> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events = option("--events")?.unwrap_or(50_000);
    let mut workers = WorkerSettings::default();
    if let Some(pollers) = option("--pollers")? {
        workers.pollers = pollers;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(events, workers))
}

/// A small deterministic generator (xorshift): the same load every run.
struct Shuffle(u64);

impl Shuffle {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn envelope(n: usize, now: chrono::DateTime<chrono::Utc>) -> (String, String, String) {
    let organization = ORGANIZATIONS[n % ORGANIZATIONS.len()];
    let detail_type = TYPES[n % TYPES.len()];
    let mut detail = json!({
        "event_id": format!("load-{n:08}"),
        "organization_id": organization,
        "n": n,
    });
    if n.is_multiple_of(2) {
        detail["project_id"] = json!("project-load");
    }
    let mut envelope = EventBridgeEvent::<Value>::default();
    envelope.version = Some("0".into());
    envelope.id = Some(format!("delivery-{n}"));
    envelope.detail_type = detail_type.into();
    envelope.source = "nocode.runtime".into();
    envelope.time = Some(now);
    envelope.detail = detail;
    (
        organization.to_string(),
        detail_type.to_string(),
        serde_json::to_string(&envelope).unwrap_or_default(),
    )
}

async fn run(events: usize, workers: WorkerSettings) -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let dir = root.join(format!("insights-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let now = chrono::Utc::now();

    // The deliveries, shuffled: every event once, 5 % of them twice.
    let mut order: Vec<usize> = (0..events).chain((0..events).step_by(20)).collect();
    let mut shuffle = Shuffle(0x9e37_79b9_7f4a_7c15);
    for i in (1..order.len()).rev() {
        let j = (shuffle.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for n in 0..events {
        let (organization, detail_type, _) = envelope(n, now);
        *expected.entry((organization, detail_type)).or_default() += 1;
    }
    {
        let queue = EmbeddedQueue::open(&dir)?;
        let filled = Instant::now();
        for chunk in order.chunks(10) {
            let messages = chunk
                .iter()
                .map(|n| OutgoingMessage::new(envelope(*n, now).2))
                .collect();
            queue.send_batch("insights-ingest", messages).await?;
        }
        eprintln!(
            "queued {} deliveries of {events} events in {:.1} s",
            order.len(),
            filled.elapsed().as_secs_f64()
        );
    }

    let started = Instant::now();
    let running = gateway::start(GatewayConfig {
        addr: "127.0.0.1:0".parse()?,
        backend: GatewayBackend::Embedded(EmbeddedSettings::new(&dir)),
        workers,
        public_url: None,
        bus_wrapper: None,
        http_allow: AllowList::parse("")?,
    })
    .await?;
    let table = running.services.table()?;
    let day = Granularity::Day.period(now);
    let counted = |totals: &BTreeMap<(String, String), u64>| totals.values().sum::<u64>();
    // Today's counter of each organization and type.
    let read_totals = || async {
        let mut totals = BTreeMap::new();
        for (organization, detail_type) in expected.keys() {
            let count = shared::insights::usage::count(
                table,
                organization,
                Granularity::Day,
                &day,
                detail_type,
                None,
            )
            .await?;
            totals.insert((organization.clone(), detail_type.clone()), count);
        }
        Ok::<_, shared::ports::table::TableError>(totals)
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_report = Instant::now();
    loop {
        let totals = read_totals().await?;
        if totals == expected || Instant::now() > deadline {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "{:.0} s: {} of {} events counted",
                started.elapsed().as_secs_f64(),
                counted(&totals),
                counted(&expected)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A moment more: a delivery counted twice would show now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let totals = read_totals().await?;
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let distinct = counted(&expected);
    let seen = counted(&totals);
    let lost = distinct.saturating_sub(seen);
    let twice = seen.saturating_sub(distinct);
    let deliveries_per_s = order.len() as f64 / elapsed;
    let report = json!({
        "events": distinct,
        "deliveries": order.len(),
        "seconds": (elapsed * 100.0).round() / 100.0,
        "deliveries_per_s": deliveries_per_s.round(),
        "events_per_s": (distinct as f64 / elapsed).round(),
        "lost": lost,
        "counted_twice": twice,
        "target_events_per_s": TARGET_PER_S,
    });
    println!("{report}");
    std::fs::write(root.join("insights.json"), report.to_string())?;
    if lost > 0 || twice > 0 {
        return Err(format!("{lost} events lost, {twice} counted twice").into());
    }
    let events_per_s = distinct as f64 / elapsed;
    if events_per_s < TARGET_PER_S {
        return Err(format!("{events_per_s:.0} events/s is below {TARGET_PER_S}").into());
    }
    Ok(())
}
