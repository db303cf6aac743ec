//! What the ingest worker keeps of each domain event, as plain data and
//! the writes that store it (no I/O here):
//!
//! - one raw item per event in its organization's day partition
//!   (`pk = INSIGHTS#<org>#DAY#<yyyy-mm-dd>`, `sk = <ms>#<event id>`), the
//!   sort key ordering a day's events by time; it expires after the
//!   retention (`NOCODE_ANALYTICS_RETENTION_DAYS`, 90 by default) through
//!   the table's TTL;
//! - counters per organization, metric (the event's type), hour and day,
//!   organization-wide and per project, added to atomically. They are
//!   spread over [`SHARDS`] partitions (`INSIGHTS#<org>#COUNT#<shard>`,
//!   the shard from the event id), so a busy organization's adds land on
//!   several keys; a read sums the shards.
//!
//! Each event is stored once: the ingest worker commits these writes with
//! a marker of the event's id that must not exist yet.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ports::table::{Condition, Item, Key, Update, Write};

/// Counter partitions per organization.
pub const SHARDS: u32 = 4;
/// The organization of events that name none (sign-ups and the like): kept,
/// counted, and shown to nobody.
pub const PLATFORM: &str = "PLATFORM";
/// Days raw events are kept unless the setting says otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;
/// Markers of stored events outlive any redelivery (SQS keeps a message
/// for 14 days at most).
const MARKER_TTL_DAYS: i64 = 15;
/// The counters' "no project" value: organization-wide.
pub const ALL_PROJECTS: &str = "-";

/// How long raw events are kept: `NOCODE_ANALYTICS_RETENTION_DAYS` (1 to
/// 3650), else 90 days.
pub fn retention_days() -> i64 {
    std::env::var("NOCODE_ANALYTICS_RETENTION_DAYS")
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|days| (1..=3650).contains(days))
        .unwrap_or(DEFAULT_RETENTION_DAYS)
}

/// Counters' time buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// A UTC hour: `2026-12-03T10`.
    Hour,
    /// A UTC day: `2026-12-03`.
    Day,
}

impl Granularity {
    /// Parses `hour` or `day`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    /// The name stored in counter keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The bucket holding `at`.
    pub fn period(self, at: DateTime<Utc>) -> String {
        match self {
            Self::Hour => at.format("%Y-%m-%dT%H").to_string(),
            Self::Day => at.format("%Y-%m-%d").to_string(),
        }
    }

    /// The length of one bucket.
    pub fn step(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::days(1),
        }
    }
}

/// One domain event as insights reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// The event's own id (the same in every delivery).
    pub id: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `nocode.<module>`.
    pub source: String,
    /// Its type: the counters' metric.
    pub detail_type: String,
    /// Its organization, or [`PLATFORM`].
    pub organization: String,
    /// Its project, when it has one.
    pub project: Option<String>,
    /// Who did it (the detail's `by`), when it says.
    pub actor: Option<String>,
    /// The detail, as published.
    pub detail: Value,
}

impl Observed {
    /// Reads an event's detail: its id is required, the rest is optional.
    pub fn read(
        source: &str,
        detail_type: &str,
        at: DateTime<Utc>,
        detail: &Value,
    ) -> Result<Self, String> {
        let text = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_string);
        let id = text(crate::ports::events::EVENT_ID).ok_or("the event has no id in its detail")?;
        // Precise times come in the detail where a module puts them; the
        // envelope's have whole seconds.
        let at = text("at")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map_or(at, |t| t.with_timezone(&Utc));
        Ok(Self {
            id,
            at,
            source: source.to_string(),
            detail_type: detail_type.to_string(),
            organization: text("organization_id").unwrap_or_else(|| PLATFORM.into()),
            project: text("project_id"),
            actor: text("by").or_else(|| text("actor")),
            detail: detail.clone(),
        })
    }
}

/// The partition of an organization's events of one day.
pub fn day_partition(organization: &str, day: &str) -> String {
    format!("INSIGHTS#{organization}#DAY#{day}")
}

/// The sort key of an event in its day: time first, then the id.
pub fn event_sort_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{:013}#{id}", at.timestamp_millis().max(0))
}

/// The partition of one counter shard of an organization.
pub fn counter_partition(organization: &str, shard: u32) -> String {
    format!("INSIGHTS#{organization}#COUNT#{shard}")
}

/// A counter's sort key: granularity, period, metric, project.
pub fn counter_sort_key(
    granularity: Granularity,
    period: &str,
    metric: &str,
    project: &str,
) -> String {
    format!("{}#{period}#{metric}#{project}", granularity.as_str())
}

/// The shard an event adds to: spread by its id (FNV-1a, stable across
/// processes and releases, unlike std's hasher).
pub fn shard_of(id: &str) -> u32 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash % u64::from(SHARDS)) as u32
}

/// The key of the marker that an event was stored.
pub fn marker_key(id: &str) -> Key {
    Key::new(format!("INSIGHTS#EVENT#{id}"), "COUNTED")
}

/// The writes that store one event: its marker (which must be new), its
/// raw item and its counters' adds. Committed together, they happen once.
pub fn writes(event: &Observed, retention_days: i64) -> Vec<Write> {
    let marker = marker_key(&event.id);
    let mut writes = vec![Write::Put {
        item: object(json!({
            "pk": marker.pk,
            "sk": marker.sk,
            "expires_at": (event.at + Duration::days(MARKER_TTL_DAYS)).timestamp(),
        })),
        condition: Some(Condition::Absent),
    }];
    let day = Granularity::Day.period(event.at);
    writes.push(Write::Put {
        item: object(json!({
            "pk": day_partition(&event.organization, &day),
            "sk": event_sort_key(event.at, &event.id),
            "event_id": event.id,
            "at": event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "source": event.source,
            "type": event.detail_type,
            "organization_id": event.organization,
            "project_id": event.project,
            "actor": event.actor,
            "detail": event.detail,
            "expires_at": (event.at + Duration::days(retention_days)).timestamp(),
        })),
        // Stored before, then the marker expired: the same item again.
        condition: None,
    });
    let shard = counter_partition(&event.organization, shard_of(&event.id));
    let mut projects = vec![ALL_PROJECTS];
    if let Some(project) = &event.project {
        projects.push(project);
    }
    for granularity in [Granularity::Hour, Granularity::Day] {
        let period = granularity.period(event.at);
        for project in &projects {
            writes.push(Write::Update(
                Update::of(Key::new(
                    shard.clone(),
                    counter_sort_key(granularity, &period, &event.detail_type, project),
                ))
                .set("granularity", granularity.as_str())
                .set("period", period.as_str())
                .set("metric", event.detail_type.as_str())
                .set("project", *project)
                .add("count", 1),
            ));
        }
    }
    writes
}

fn object(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, project: Option<&str>) -> Observed {
        Observed {
            id: id.into(),
            at: DateTime::parse_from_rfc3339("2026-12-03T10:15:30.250Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            source: "nocode.runtime".into(),
            detail_type: "record.created".into(),
            organization: "org1".into(),
            project: project.map(str::to_string),
            actor: None,
            detail: json!({}),
        }
    }

    #[test]
    fn an_event_with_a_project_adds_to_four_counters_after_its_marker_and_item() {
        let writes = writes(&event("e1", Some("p1")), 90);
        assert_eq!(writes.len(), 6);
        assert!(matches!(
            &writes[0],
            Write::Put {
                condition: Some(Condition::Absent),
                ..
            }
        ));
        let without = super::writes(&event("e1", None), 90);
        assert_eq!(without.len(), 4);
    }

    #[test]
    fn shards_are_stable_and_all_used() {
        assert_eq!(shard_of("abc"), shard_of("abc"));
        let used: std::collections::BTreeSet<u32> =
            (0..100).map(|n| shard_of(&format!("event-{n}"))).collect();
        assert_eq!(used.len(), SHARDS as usize);
    }

    #[test]
    fn periods_name_utc_hours_and_days() {
        let at = event("e", None).at;
        assert_eq!(Granularity::Hour.period(at), "2026-12-03T10");
        assert_eq!(Granularity::Day.period(at), "2026-12-03");
        assert_eq!(event_sort_key(at, "e"), "1796292930250#e");
    }
}
