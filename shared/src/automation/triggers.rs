//! What starts workflows on their own: domain events, schedules and
//! webhooks. Each start commits with a marker naming what started it
//! (`START#<workflow>` / `<event id>` or `<due minute>`), under a condition
//! that it is new: a redelivered event, two overlapping ticks or a late
//! one start each execution once.

use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::cron::{Schedule, minute_key};
use super::definition::Trigger;
use super::executions::{self, Accepted, ExecutionStatus, MAX_CHAIN, TriggerRecord, stamp};
use super::expr;
use super::workflows::{self, ScheduleItem, Subscription};
use crate::change::Change;
use crate::http::{ApiError, HandlerResult, json, path_param};
use crate::ports::table::{
    Condition, Index, Item, ItemTable, Key, Query, Write, from_item, to_keyed_item,
};
use crate::services::Services;

/// Markers of started executions expire after this long (the table's TTL);
/// no event or tick comes back that late.
const MARKER_TTL_SECS: i64 = 14 * 24 * 3600;
/// Due minutes one tick looks back over, at most.
const CATCH_UP_MINUTES: i64 = 180;
/// Occurrences of one schedule one tick starts, at most.
const CATCH_UP_RUNS: usize = 60;

/// The write that makes a start happen once.
fn marker(workflow_id: &str, what: &str, now: DateTime<Utc>) -> Write {
    let mut item = Item::new();
    item.insert("pk".into(), json!(format!("START#{workflow_id}")));
    item.insert("sk".into(), json!(what));
    item.insert(
        "expires_at".into(),
        json!(now.timestamp() + MARKER_TTL_SECS),
    );
    Write::Put {
        item,
        condition: Some(Condition::Absent),
    }
}

// ------------------------------------------------------------------ events

/// Handles one SQS batch of the `event-triggers` queue.
pub async fn handle_events(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    crate::routes::queued::each_event(&event, "event not matched", |envelope| {
        matched(&services, envelope)
    })
    .await
}

/// Whether a subscription takes an event.
fn takes(subscription: &Subscription, event: &EventBridgeEvent<Value>, ctx: &Value) -> bool {
    let source = event.source.as_str();
    subscription.source == source
        && (subscription.detail_type == "*" || subscription.detail_type == event.detail_type)
        && subscription
            .condition
            .as_deref()
            // A condition that cannot be read takes nothing.
            .is_none_or(|c| expr::holds(c, ctx).unwrap_or(false))
}

async fn matched(services: &Services, event: EventBridgeEvent<Value>) -> Result<(), String> {
    let failed = |e: ApiError| e.to_string();
    super::defaults::ensure(services, &event)
        .await
        .map_err(failed)?;
    let Some(project) = event.detail.get("project_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let chain = event
        .detail
        .get("chain")
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    if chain >= MAX_CHAIN {
        tracing::warn!(
            chain,
            detail_type = event.detail_type,
            "workflows led to one another too far; not started"
        );
        return Ok(());
    }
    let id = event
        .detail
        .get(crate::ports::events::EVENT_ID)
        .and_then(Value::as_str)
        .ok_or("the event has no id")?
        .to_string();
    let table = services.table().map_err(failed)?;
    let page = table
        .query(&Query::partition(workflows::subscriptions(project)))
        .await
        .map_err(|e| e.to_string())?;
    if page.items.is_empty() {
        return Ok(());
    }
    let mut payload = json!({
        "event": {
            "id": id,
            "source": event.source,
            "type": event.detail_type,
            "time": event.time.map(|t| t.to_rfc3339()),
            "detail": event.detail,
        }
    });
    let ctx = json!({"event": payload["event"]});
    for item in page.items {
        let subscription: Subscription = from_item(item).map_err(|e| e.to_string())?;
        if !takes(&subscription, &event, &ctx) {
            continue;
        }
        // A record's event brings the record, as it is now.
        if payload.get("record").is_none()
            && let Some(record) = record_of(services, &event).await.map_err(failed)?
        {
            payload["record"] = record;
        }
        let Ok(workflow) = workflows::load(table, &subscription.workflow_id).await else {
            continue;
        };
        if !workflow.enabled {
            continue;
        }
        let trigger = TriggerRecord {
            kind: "event".into(),
            payload: payload.clone(),
        };
        let execution = executions::new(&workflow, trigger, chain + 1).map_err(failed)?;
        let once = Change::new().write("marker", marker(&workflow.id, &id, Utc::now()));
        executions::start(services, &execution, once)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// The record a record event names, as a read shows it (`None` once gone).
async fn record_of(
    services: &Services,
    event: &EventBridgeEvent<Value>,
) -> Result<Option<Value>, ApiError> {
    let text = |name: &str| event.detail.get(name).and_then(Value::as_str);
    let (Some(project), Some(table_id), Some(record_id)) =
        (text("project_id"), text("table_id"), text("record_id"))
    else {
        return Ok(None);
    };
    let store = services.table()?;
    let Some(table) = crate::studio::tables::find_in(store, project, table_id).await? else {
        return Ok(None);
    };
    match crate::runtime::records::read(services, &table, record_id).await {
        Ok(record) => Ok(Some(serde_json::to_value(record).unwrap_or(Value::Null))),
        Err(ApiError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

// ---------------------------------------------------------------- webhooks

/// The headers a webhook's payload keeps (lower case).
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    "x-request-id",
    "x-github-event",
];

/// Checks a webhook's signature: HMAC-SHA256 of the body, hex, after the
/// prefix, in the header.
fn signed(signature: &super::definition::Signature, request: &Request) -> bool {
    let Some(given) = request
        .headers()
        .get(signature.header.as_str())
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let given = given
        .strip_prefix(signature.prefix.as_deref().unwrap_or_default())
        .unwrap_or(given);
    let Ok(given) = hex_bytes(given.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(signature.secret.as_bytes()) else {
        return false;
    };
    mac.update(request.body().as_ref());
    mac.verify_slice(&given).is_ok()
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, ()> {
    if !text.len().is_multiple_of(2) {
        return Err(());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| ()))
        .collect()
}

/// `POST /automation/hooks/{token}` (anyone with the URL): starts the
/// workflow with the request as `trigger` (`body`, `query`, `headers`).
pub async fn webhook(services: Arc<Services>, request: Request) -> HandlerResult {
    let token = path_param(&request, "token")?;
    let table = services.table()?;
    let hook = table
        .get(&workflows::hook_key(token))
        .await?
        .ok_or(ApiError::NotFound)?;
    let id = hook
        .get("workflow_id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::Internal("a hook that names no workflow".into()))?;
    let workflow = workflows::load(table, id).await?;
    let definition = workflow.definition()?;
    // A disabled workflow, or one whose trigger is no longer a webhook,
    // has no URL.
    let Trigger::Webhook { signature } = &definition.trigger else {
        return Err(ApiError::NotFound);
    };
    if !workflow.enabled || workflow.webhook_token.as_deref() != Some(token) {
        return Err(ApiError::NotFound);
    }
    if let Some(signature) = signature
        && !signed(signature, &request)
    {
        return Err(ApiError::Unauthenticated);
    }
    let bytes = request.body().as_ref();
    if bytes.len() > executions::MAX_PAYLOAD {
        return Err(ApiError::TooLarge {
            limit: executions::MAX_PAYLOAD,
        });
    }
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    };
    let query: Map<String, Value> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        })
        .unwrap_or_default();
    let headers: Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            request
                .headers()
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(|v| (name.to_string(), Value::String(v.to_string())))
        })
        .collect();
    let trigger = TriggerRecord {
        kind: "webhook".into(),
        payload: json!({"body": body, "query": query, "headers": headers}),
    };
    let execution = executions::new(&workflow, trigger, 0)?;
    executions::start(&services, &execution, Change::new()).await?;
    json(
        StatusCode::ACCEPTED,
        &Accepted {
            execution_id: execution.id,
            status: ExecutionStatus::Queued,
        },
    )
}

// ---------------------------------------------------------------- schedules

/// The scheduler's state: the last minute it went through.
fn state_key() -> Key {
    Key::new("SCHEDULER#AUTOMATION", "STATE")
}

/// The scheduled worker, ticked every minute; the tick's own time is the
/// clock (so a test's tick names the moment it stands for).
pub async fn tick(services: Arc<Services>, event: EventBridgeEvent) -> Result<(), String> {
    let now = event.time.unwrap_or_else(Utc::now);
    let started = run_due(&services, now).await.map_err(|e| e.to_string())?;
    if started > 0 {
        tracing::info!(started, "scheduled executions started");
    }
    Ok(())
}

/// Starts every scheduled run due at or before `now`, each once; gives
/// how many it started.
pub async fn run_due(services: &Services, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let table = services.table()?;
    let through = table
        .get(&state_key())
        .await?
        .and_then(|item| {
            item.get("through")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        })
        .map(|t| t.with_timezone(&Utc));
    let now_minute = floor_minute(now);
    let from = match through {
        Some(through) => {
            (through + Duration::minutes(1)).max(now_minute - Duration::minutes(CATCH_UP_MINUTES))
        }
        None => now_minute - Duration::minutes(5),
    };
    let mut started = 0;
    let mut minute = from;
    while minute <= now_minute {
        started += due_in(services, table, &minute_key(minute), now).await?;
        minute += Duration::minutes(1);
    }
    // Ticks may overlap: whoever writes last, the markers kept the starts
    // single; the state only saves work, so it is written when the minute
    // moved (a schedule saved later in a minute gone through is due in a
    // later one).
    if through == Some(now_minute) {
        return Ok(started);
    }
    let mut state = Item::new();
    let key = state_key();
    state.insert("pk".into(), json!(key.pk));
    state.insert("sk".into(), json!(key.sk));
    state.insert("through".into(), json!(stamp(now_minute)));
    table.put(state, None).await?;
    Ok(started)
}

fn floor_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp() - at.timestamp().rem_euclid(60), 0).unwrap_or(at)
}

/// Starts the schedules due in one minute's bucket.
async fn due_in(
    services: &Services,
    table: &dyn ItemTable,
    minute: &str,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let mut started = 0;
    let mut after = None;
    loop {
        let page = table
            .query(
                &Query::partition(workflows::due_partition(minute))
                    .on(Index::Gsi2)
                    .after(after.take()),
            )
            .await?;
        for item in page.items {
            let schedule: ScheduleItem = from_item(item)?;
            started += fire(services, table, schedule, now).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(started),
        }
    }
}

/// Starts a schedule's due runs (each once) and moves it to its next
/// minute after `now`.
async fn fire(
    services: &Services,
    table: &dyn ItemTable,
    mut schedule: ScheduleItem,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let Ok(workflow) = workflows::load(table, &schedule.workflow_id).await else {
        return Ok(0);
    };
    let Ok(plan) = Schedule::parse(&schedule.cron, schedule.timezone.as_deref()) else {
        return Ok(0);
    };
    let mut started = 0;
    for _ in 0..CATCH_UP_RUNS {
        let Some(due) = DateTime::parse_from_rfc3339(&schedule.next_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
        else {
            return Ok(started);
        };
        if due > now || !workflow.enabled {
            return Ok(started);
        }
        let Some(next) = plan.next_after(due) else {
            return Ok(started);
        };
        let trigger = TriggerRecord {
            kind: "schedule".into(),
            payload: json!({"scheduled_for": stamp(due), "cron": schedule.cron, "timezone": schedule.timezone}),
        };
        let execution = executions::new(&workflow, trigger, 0)?;
        let moved = ScheduleItem {
            next_at: stamp(next),
            ..schedule.clone()
        };
        let mut item = to_keyed_item(&moved, workflows::schedule_key(&workflow.id))?;
        item.insert(
            "gsi2pk".into(),
            json!(workflows::due_partition(&minute_key(next))),
        );
        item.insert("gsi2sk".into(), json!(workflow.id));
        let advance = Write::Put {
            item,
            condition: Some(Condition::Equals("next_at".into(), json!(schedule.next_at))),
        };
        let once = Change::new()
            .write(
                "marker",
                marker(&workflow.id, &format!("AT#{}", minute_key(due)), now),
            )
            .write("schedule", advance);
        match executions::start(services, &execution, once).await {
            Ok(true) => started += 1,
            // Another tick started this run: read where it left the schedule.
            Ok(false) => {}
            Err(ApiError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
        match table.get(&workflows::schedule_key(&workflow.id)).await? {
            Some(item) => schedule = from_item(item)?,
            None => return Ok(started),
        }
    }
    Ok(started)
}
