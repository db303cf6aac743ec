//! The execution engine: the `automation-engine` worker takes messages of
//! the `workflow-runs` queue — a new execution's `workflow.execution_started`
//! (from the outbox, through the `workflow-start` rule) or a step's turn
//! (`{"execution_id", "step"}`) — and advances the execution.
//!
//! How it stays exactly-once where it matters:
//! - An execution is one item written whole under its version
//!   ([`super::executions`]): a step's result, the variables it set, the
//!   steps it leads to (marked `queued`) and the execution's end commit in
//!   one write, before any of those steps' messages is sent.
//! - A step that touches the world (an HTTP request, a record, a mail) is
//!   first taken — `running`, with a lease — in a write of its own; a
//!   duplicate message finds it taken and comes back later, a message
//!   after the lease finds it free (its taker died) and runs it again.
//!   A step that only computes (`condition`, `switch`, `transform`,
//!   `set_variable`, `stop`, `noop`, `emit_event`, whose event commits with
//!   its result) runs in a row with the pure steps after it, in the same
//!   write: run twice, it gives the same and only one write wins.
//! - A done step's message, delivered again, sends again the messages of
//!   the steps still `queued` (their first send may have been lost) and
//!   changes nothing else.
//! - Record steps create with an id derived from the execution and the
//!   step, so a record step run again finds the record it made.
//!
//! Failures: a step is tried `retry.max_attempts` times, waiting
//! `backoff_ms` doubled each time with ±25 % jitter (through the queue's
//! delay; longer waits hop); then `on_error` takes over, or the execution
//! fails. A message that lands in the dead-letter queue fails its execution
//! ([`handle_dead_letters`]). Executions and steps have time limits.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{Action, DEFAULT_STEP_TIMEOUT_MS, Definition, Step, StopOutcome};
use super::executions::{self, Execution, ExecutionStatus, StepRun, StepStatus, stamp};
use super::{expr, steps, workflows};
use crate::change::{Change, ChangeError};
use crate::http::ApiError;
use crate::ports::events::DomainEvent;
use crate::ports::queue::{MAX_DELAY, OutgoingMessage};
use crate::services::Services;

/// The engine's queue.
pub const QUEUE: &str = "workflow-runs";
/// Pure steps one write carries at most; the rest go on in a new message.
const MAX_CHAIN: usize = 20;
/// Writes one message retries when other writes win the execution.
const WRITE_ATTEMPTS: usize = 8;
/// How long past its time limit a taken step's lease lasts.
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(30);

/// A step's turn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The execution.
    pub execution_id: String,
    /// The step; the definition's start when absent.
    #[serde(default)]
    pub step: Option<String>,
}

/// Definitions by workflow and version.
type Definitions = Mutex<HashMap<(String, u64), Arc<Definition>>>;

/// Definitions are immutable, so kept per process.
fn cache() -> &'static Definitions {
    static CACHE: std::sync::OnceLock<Definitions> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

async fn definition(
    services: &Services,
    execution: &Execution,
) -> Result<Arc<Definition>, ApiError> {
    let key = (execution.workflow_id.clone(), execution.definition_version);
    if let Some(found) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(found);
    }
    let read = Arc::new(
        workflows::definition_at(
            services.table()?,
            &execution.workflow_id,
            execution.definition_version,
        )
        .await?,
    );
    if let Ok(mut cache) = cache().lock() {
        // A bound that needs no eviction policy: a process meets few.
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&read));
    }
    Ok(read)
}

/// What one message asks: a turn, from either form.
fn turn_of(message: &SqsMessage) -> Result<Turn, String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    if let Ok(turn) = serde_json::from_str::<Turn>(body) {
        return Ok(turn);
    }
    let envelope: EventBridgeEvent<Value> =
        serde_json::from_str(body).map_err(|e| format!("neither a turn nor an event: {e}"))?;
    let id = envelope
        .detail
        .get("execution_id")
        .and_then(Value::as_str)
        .ok_or("the event names no execution")?;
    Ok(Turn {
        execution_id: id.to_string(),
        step: None,
    })
}

/// Handles one SQS batch, its messages side by side; answers the failed ones.
pub async fn handle(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    let mut running = tokio::task::JoinSet::new();
    for message in event.records {
        let services = Arc::clone(&services);
        running.spawn(async move {
            let id = message.message_id.clone().unwrap_or_default();
            let outcome = match turn_of(&message) {
                Ok(turn) => advance(&services, &turn).await,
                Err(why) => Err(why),
            };
            (id, outcome)
        });
    }
    let mut response = SqsBatchResponse::default();
    while let Some(joined) = running.join_next().await {
        let (id, outcome) = match joined {
            Ok(done) => done,
            Err(error) => (String::new(), Err(format!("the step task failed: {error}"))),
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = id, %error, "step not advanced");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Sends a step's turn, after `delay` (hops past the queue's longest delay
/// are taken by the step's `not_before`/`wake_at`).
async fn send_turn(
    services: &Services,
    execution_id: &str,
    step: &str,
    delay: Duration,
) -> Result<(), String> {
    let body = serde_json::to_string(&Turn {
        execution_id: execution_id.into(),
        step: Some(step.into()),
    })
    .map_err(|e| e.to_string())?;
    let mut message = OutgoingMessage::new(body);
    if !delay.is_zero() {
        message = message.delayed(delay.min(MAX_DELAY));
    }
    services
        .queue()
        .map_err(|e| e.to_string())?
        .send(QUEUE, message)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn send_all(
    services: &Services,
    execution_id: &str,
    sends: &[(String, Duration)],
) -> Result<(), String> {
    for (step, delay) in sends {
        send_turn(services, execution_id, step, *delay).await?;
    }
    Ok(())
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (at - now).to_std().unwrap_or_default()
}

/// The names a step's expressions read.
pub fn context(execution: &Execution) -> Value {
    let outputs: Map<String, Value> = execution
        .steps
        .iter()
        .filter(|(_, run)| run.is_done())
        .map(|(id, run)| (id.clone(), run.output.clone().unwrap_or(Value::Null)))
        .collect();
    json!({
        "trigger": execution.trigger.payload,
        "steps": outputs,
        "vars": execution.vars,
        "execution": {"id": execution.id, "started_at": execution.created_at, "chain": execution.chain},
        "workflow": {"id": execution.workflow_id, "name": execution.workflow_name},
    })
}

/// What a step gave.
#[derive(Debug, Default)]
pub struct Done {
    /// Its output.
    pub output: Value,
    /// Its rendered configuration.
    pub input: Option<Value>,
    /// The branch it chose.
    pub branch: Option<String>,
    /// A variable it set.
    pub var: Option<(String, Value)>,
    /// How it ends the execution, if it does.
    pub stop: Option<(StopOutcome, Option<String>)>,
    /// Events to publish with its result.
    pub events: Vec<DomainEvent>,
}

/// Why a step failed.
#[derive(Debug)]
pub struct Failure {
    /// For a person.
    pub message: String,
    /// Its rendered configuration, when it got that far.
    pub input: Option<Value>,
}

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            input: None,
        }
    }
}

/// What a write decided to do once it commits.
#[derive(Debug, Default)]
struct Plan {
    sends: Vec<(String, Duration)>,
    events: Vec<DomainEvent>,
}

/// Runs a pure step over the execution as it stands.
fn run_pure(execution: &Execution, step: &Step) -> Result<Done, Failure> {
    let ctx = context(execution);
    let render = |value: &Value| expr::render(value, &ctx).map_err(Failure::new);
    match &step.action {
        Action::Condition { condition } => {
            let holds = expr::holds(condition, &ctx).map_err(Failure::new)?;
            Ok(Done {
                output: json!({"result": holds}),
                branch: Some(holds.to_string()),
                ..Done::default()
            })
        }
        Action::Switch { value, cases } => {
            let value = expr::eval(value, &ctx).map_err(Failure::new)?;
            let text = expr::as_text(&value);
            let branch = if cases.contains(&text) {
                text
            } else {
                "default".into()
            };
            Ok(Done {
                output: json!({"value": value, "case": branch}),
                branch: Some(branch),
                ..Done::default()
            })
        }
        Action::Transform { value } => Ok(Done {
            output: render(value)?,
            ..Done::default()
        }),
        Action::SetVariable { name, value } => {
            let value = render(value)?;
            Ok(Done {
                output: json!({ name.as_str(): value }),
                var: Some((name.clone(), value)),
                ..Done::default()
            })
        }
        Action::Stop { outcome, message } => {
            let message = match message {
                Some(m) => Some(expr::as_text(&render(&Value::String(m.clone()))?)),
                None => None,
            };
            Ok(Done {
                output: json!({"outcome": outcome, "message": message}),
                stop: Some((*outcome, message)),
                ..Done::default()
            })
        }
        Action::Noop => Ok(Done::default()),
        Action::EmitEvent { name, detail } => {
            let data = render(detail)?;
            let event = DomainEvent::new(
                super::EVENTS,
                format!("custom.{name}"),
                json!({
                    "organization_id": execution.organization_id,
                    "project_id": execution.project_id,
                    "workflow_id": execution.workflow_id,
                    "execution_id": execution.id,
                    "chain": execution.chain + 1,
                    "data": data,
                }),
            );
            Ok(Done {
                output: json!({"event_id": event.id, "detail_type": event.detail_type}),
                events: vec![event],
                ..Done::default()
            })
        }
        other => Err(Failure::new(format!(
            "{} is not a step the engine runs in a row",
            other.kind()
        ))),
    }
}

/// Whether the engine runs a step in a row with others, in one write.
fn in_a_row(step: &Step) -> bool {
    step.action.is_pure() || matches!(step.action, Action::EmitEvent { .. })
}

fn bounded_output(value: Value) -> Result<Value, Failure> {
    let size = serde_json::to_vec(&value).map_or(0, |b| b.len());
    if size > executions::MAX_OUTPUT {
        return Err(Failure::new(format!(
            "its output is {size} bytes, over the {} a step keeps; transform it down",
            executions::MAX_OUTPUT
        )));
    }
    Ok(value)
}

/// The backoff before attempt `attempts + 1`: doubled each time, ±25 %.
fn backoff(step: &Step, attempts: u32) -> Duration {
    let base = step.retry.map_or(1000, |r| r.backoff_ms);
    let exponent = attempts.saturating_sub(1).min(20);
    let wait = base.saturating_mul(1u64 << exponent).min(24 * 3600 * 1000);
    let jitter = u64::from_le_bytes(crate::random::bytes::<8>()) % (wait / 2 + 1);
    Duration::from_millis(wait - wait / 4 + jitter)
}

fn max_attempts(step: &Step) -> u32 {
    step.retry.map_or(1, |r| r.max_attempts)
}

fn step_timeout(step: &Step) -> Duration {
    Duration::from_millis(step.timeout_ms.unwrap_or(DEFAULT_STEP_TIMEOUT_MS))
}

/// Records a step's end and everything that follows from it in memory:
/// the steps it leads to (pure ones run at once, others queued), the
/// execution's end. Gives what to do once written.
fn settle(
    execution: &mut Execution,
    definition: &Definition,
    step_id: &str,
    result: Result<Done, Failure>,
    now: DateTime<Utc>,
    plan: &mut Plan,
) {
    let mut work: Vec<(String, Option<Result<Done, Failure>>)> =
        vec![(step_id.to_string(), Some(result))];
    let mut ran = 0usize;
    while let Some((id, given)) = work.pop() {
        if execution.status.is_final() {
            break;
        }
        let Some(step) = definition.step(&id) else {
            continue;
        };
        let result = match given {
            Some(result) => result,
            None => {
                ran += 1;
                run_pure(execution, step)
            }
        };
        let run = execution.steps.entry(id.clone()).or_default();
        if run.started_at.is_none() {
            run.started_at = Some(stamp(now));
        }
        if run.attempts == 0 {
            run.attempts = 1;
        }
        let result = result.and_then(|mut done| {
            done.output = bounded_output(std::mem::take(&mut done.output))?;
            Ok(done)
        });
        let next: Vec<String> = match result {
            Ok(done) => {
                run.status = Some(StepStatus::Succeeded);
                run.output = Some(done.output);
                if done.input.is_some() {
                    run.input = done.input;
                }
                run.branch = done.branch.clone();
                run.error = None;
                run.finished_at = Some(stamp(now));
                run.lease_until = None;
                if let Some((name, value)) = done.var {
                    execution.vars.insert(name, value);
                }
                plan.events.extend(done.events);
                if let Some((outcome, message)) = done.stop {
                    finish(
                        execution,
                        match outcome {
                            StopOutcome::Success => ExecutionStatus::Succeeded,
                            StopOutcome::Failure => ExecutionStatus::Failed,
                        },
                        message
                            .or_else(|| Some(format!("stopped by step `{id}`")))
                            .filter(|_| outcome == StopOutcome::Failure),
                        now,
                        plan,
                    );
                    break;
                }
                taken(execution, step, done.branch.as_deref())
            }
            Err(failure) => {
                run.error = Some(failure.message.clone());
                if failure.input.is_some() {
                    run.input = failure.input;
                }
                run.lease_until = None;
                if run.attempts < max_attempts(step) {
                    let wait = backoff(step, run.attempts);
                    run.status = Some(StepStatus::Queued);
                    run.not_before = Some(stamp(
                        now + chrono::Duration::from_std(wait).unwrap_or_default(),
                    ));
                    plan.sends.push((id.clone(), wait));
                    continue;
                }
                run.status = Some(StepStatus::Failed);
                run.finished_at = Some(stamp(now));
                match &step.on_error {
                    Some(target) => vec![target.clone()],
                    None => {
                        let message = format!("step `{id}` failed: {}", failure.message);
                        finish(execution, ExecutionStatus::Failed, Some(message), now, plan);
                        break;
                    }
                }
            }
        };
        for target in next {
            // A step reached by two branches runs once, on the first.
            if execution.steps.contains_key(&target) {
                continue;
            }
            let Some(next_step) = definition.step(&target) else {
                continue;
            };
            if in_a_row(next_step) && ran < MAX_CHAIN {
                execution.steps.insert(target.clone(), StepRun::default());
                work.push((target, None));
            } else {
                execution.steps.insert(
                    target.clone(),
                    StepRun {
                        status: Some(StepStatus::Queued),
                        ..StepRun::default()
                    },
                );
                plan.sends.push((target, Duration::ZERO));
            }
        }
    }
    if execution.status == ExecutionStatus::Queued {
        execution.status = ExecutionStatus::Running;
    }
    let open = execution.steps.values().any(|run| {
        matches!(
            run.status,
            Some(StepStatus::Queued) | Some(StepStatus::Running) | Some(StepStatus::Waiting) | None
        )
    });
    if !open && !execution.status.is_final() {
        finish(execution, ExecutionStatus::Succeeded, None, now, plan);
    }
}

/// The steps a done step leads to: edges of its branch whose `when` holds.
fn taken(execution: &Execution, step: &Step, branch: Option<&str>) -> Vec<String> {
    let mut ctx = None;
    step.next
        .iter()
        .filter(|edge| match (&edge.branch, branch) {
            (Some(wanted), Some(chosen)) => wanted == chosen,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .filter(|edge| match &edge.when {
            None => true,
            Some(when) => {
                let ctx = ctx.get_or_insert_with(|| context(execution));
                // An edge whose condition cannot be read is not taken.
                expr::holds(when, ctx).unwrap_or(false)
            }
        })
        .map(|edge| edge.to.clone())
        .collect()
}

/// Ends an execution.
fn finish(
    execution: &mut Execution,
    status: ExecutionStatus,
    error: Option<String>,
    now: DateTime<Utc>,
    plan: &mut Plan,
) {
    execution.status = status;
    execution.error = error;
    execution.finished_at = Some(stamp(now));
    // What was queued will not run; its messages find the execution ended.
    plan.sends.clear();
    plan.events.push(execution.event(match status {
        ExecutionStatus::Succeeded => executions::SUCCEEDED,
        _ => executions::FAILED,
    }));
}

/// Writes the execution over the version read, with the plan's events.
async fn write(
    services: &Services,
    execution: &Execution,
    read_at: u64,
    plan: &Plan,
) -> Result<bool, String> {
    let mut change = Change::new().write(
        "execution",
        execution.write(Some(read_at)).map_err(|e| e.to_string())?,
    );
    for event in &plan.events {
        change = change.event(event.clone());
    }
    match change
        .commit(services.table().map_err(|e| e.to_string())?)
        .await
    {
        Ok(()) => Ok(true),
        Err(ChangeError::Refused("execution")) => Ok(false),
        Err(error) => Err(error.to_string()),
    }
}

/// Advances an execution by one turn.
pub async fn advance(services: &Services, turn: &Turn) -> Result<(), String> {
    let table = services.table().map_err(|e| e.to_string())?;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut execution) = executions::load(table, &turn.execution_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            // Never committed, or long gone: nothing to do.
            return Ok(());
        };
        if execution.status.is_final() {
            return Ok(());
        }
        let definition = definition(services, &execution)
            .await
            .map_err(|e| e.to_string())?;
        let step_id = turn
            .step
            .clone()
            .unwrap_or_else(|| definition.start.clone());
        let now = Utc::now();
        let read_at = execution.version;
        let mut plan = Plan::default();
        if parse_time(&execution.deadline).is_some_and(|d| now > d) {
            finish(
                &mut execution,
                ExecutionStatus::Failed,
                Some("the execution ran past its time limit".into()),
                now,
                &mut plan,
            );
            execution.version += 1;
            if write(services, &execution, read_at, &plan).await? {
                return Ok(());
            }
            continue;
        }
        let run = execution.steps.get(&step_id).cloned().unwrap_or_default();
        if run.is_done() {
            // A repeat: the steps it queued may have lost their messages.
            let queued: Vec<(String, Duration)> = execution
                .steps
                .iter()
                .filter(|(_, r)| r.status == Some(StepStatus::Queued))
                .map(|(id, r)| {
                    let wait = r
                        .not_before
                        .as_deref()
                        .and_then(parse_time)
                        .map_or(Duration::ZERO, |t| until(t, now));
                    (id.clone(), wait)
                })
                .collect();
            return send_all(services, &execution.id, &queued).await;
        }
        let Some(step) = definition.step(&step_id) else {
            return Err(format!("step `{step_id}` is not in the definition"));
        };
        match run.status {
            Some(StepStatus::Running)
                if let Some(lease) = run
                    .lease_until
                    .as_deref()
                    .and_then(parse_time)
                    .filter(|lease| *lease > now) =>
            {
                // Taken by another turn, or by a process that died. Failing
                // this message would spend its receives on a wait (and
                // dead-letter the execution after a restart); instead it
                // comes back when the lease ends, to find the step done or
                // free.
                return send_turn(services, &execution.id, &step_id, until(lease, now)).await;
            }
            Some(StepStatus::Queued)
                if run
                    .not_before
                    .as_deref()
                    .and_then(parse_time)
                    .is_some_and(|t| t > now) =>
            {
                let at = run
                    .not_before
                    .as_deref()
                    .and_then(parse_time)
                    .unwrap_or(now);
                return send_turn(services, &execution.id, &step_id, until(at, now)).await;
            }
            Some(StepStatus::Waiting) => {
                let wake = run.wake_at.as_deref().and_then(parse_time).unwrap_or(now);
                if wake > now {
                    return send_turn(services, &execution.id, &step_id, until(wake, now)).await;
                }
                let done = Done {
                    output: json!({"waited_until": run.wake_at}),
                    ..Done::default()
                };
                settle(
                    &mut execution,
                    &definition,
                    &step_id,
                    Ok(done),
                    now,
                    &mut plan,
                );
                execution.version += 1;
                if write(services, &execution, read_at, &plan).await? {
                    return send_all(services, &execution.id, &plan.sends).await;
                }
                continue;
            }
            _ => {}
        }
        if in_a_row(step) {
            let result = run_pure(&execution, step);
            settle(
                &mut execution,
                &definition,
                &step_id,
                result,
                now,
                &mut plan,
            );
            execution.version += 1;
            if write(services, &execution, read_at, &plan).await? {
                return send_all(services, &execution.id, &plan.sends).await;
            }
            continue;
        }
        if let Action::Delay { seconds, until: at } = &step.action {
            let wake = match (seconds, at) {
                (Some(seconds), _) => Ok(now + chrono::Duration::seconds(*seconds as i64)),
                (None, Some(text)) => expr::render_text(text, &context(&execution))
                    .map(|v| expr::as_text(&v))
                    .and_then(|t| {
                        parse_time(&t).ok_or_else(|| format!("`{t}` is no RFC 3339 moment"))
                    }),
                (None, None) => Err("a delay needs seconds or until".to_string()),
            };
            match wake {
                Ok(wake) => {
                    let entry = execution.steps.entry(step_id.clone()).or_default();
                    entry.status = Some(StepStatus::Waiting);
                    entry.attempts += 1;
                    entry.started_at.get_or_insert_with(|| stamp(now));
                    entry.wake_at = Some(stamp(wake));
                    if execution.status == ExecutionStatus::Queued {
                        execution.status = ExecutionStatus::Running;
                    }
                    plan.sends.push((step_id.clone(), until(wake, now)));
                }
                Err(why) => settle(
                    &mut execution,
                    &definition,
                    &step_id,
                    Err(Failure::new(why)),
                    now,
                    &mut plan,
                ),
            }
            execution.version += 1;
            if write(services, &execution, read_at, &plan).await? {
                return send_all(services, &execution.id, &plan.sends).await;
            }
            continue;
        }
        // A step that touches the world: take it, then run it.
        let attempt = run.attempts + 1;
        let lease =
            now + chrono::Duration::from_std(step_timeout(step)).unwrap_or_default() + LEASE_MARGIN;
        {
            let entry = execution.steps.entry(step_id.clone()).or_default();
            entry.status = Some(StepStatus::Running);
            entry.attempts = attempt;
            entry.started_at.get_or_insert_with(|| stamp(now));
            entry.lease_until = Some(stamp(lease));
            entry.not_before = None;
        }
        if execution.status == ExecutionStatus::Queued {
            execution.status = ExecutionStatus::Running;
        }
        execution.version += 1;
        if !write(services, &execution, read_at, &Plan::default()).await? {
            continue;
        }
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(
            step_timeout(step),
            steps::run(services, &execution, step, attempt),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(Failure::new(format!(
                "it took longer than its {} ms",
                step_timeout(step).as_millis()
            ))),
        };
        let elapsed = started.elapsed().as_millis() as u64;
        return record(
            services,
            &turn.execution_id,
            &step_id,
            attempt,
            result,
            elapsed,
        )
        .await;
    }
    Err("the execution kept changing under this turn".into())
}

/// Writes a taken step's result, if the step is still this attempt's.
async fn record(
    services: &Services,
    execution_id: &str,
    step_id: &str,
    attempt: u32,
    result: Result<Done, Failure>,
    elapsed_ms: u64,
) -> Result<(), String> {
    let table = services.table().map_err(|e| e.to_string())?;
    let mut result = Some(result);
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut execution) = executions::load(table, execution_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let ours = execution
            .steps
            .get(step_id)
            .is_some_and(|run| run.status == Some(StepStatus::Running) && run.attempts == attempt);
        if execution.status.is_final() || !ours {
            // Cancelled, timed out, or taken over after our lease.
            return Ok(());
        }
        let definition = definition(services, &execution)
            .await
            .map_err(|e| e.to_string())?;
        let read_at = execution.version;
        let now = Utc::now();
        let mut plan = Plan::default();
        let Some(given) = result.take() else {
            return Err("a result recorded twice".into());
        };
        // Keep a copy in case the write loses and has to be done again.
        let kept = match &given {
            Ok(done) => Ok(Done {
                output: done.output.clone(),
                input: done.input.clone(),
                branch: done.branch.clone(),
                var: done.var.clone(),
                stop: done.stop.clone(),
                events: done.events.clone(),
            }),
            Err(failure) => Err(Failure {
                message: failure.message.clone(),
                input: failure.input.clone(),
            }),
        };
        settle(&mut execution, &definition, step_id, given, now, &mut plan);
        if let Some(run) = execution.steps.get_mut(step_id) {
            run.duration_ms = Some(elapsed_ms);
        }
        execution.version += 1;
        if write(services, &execution, read_at, &plan).await? {
            return send_all(services, &execution.id, &plan.sends).await;
        }
        result = Some(kept);
    }
    Err("the execution kept changing while a result was recorded".into())
}

/// The dead-letter worker: a turn that kept failing fails its execution.
pub async fn handle_dead_letters(services: Arc<Services>, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        let outcome = match turn_of(message) {
            Ok(turn) => fail_for_dead_letter(&services, &turn).await,
            Err(why) => {
                // Nothing to fail: the message is dropped, and said so.
                tracing::error!(message_id = ?message.message_id, %why, "a dead letter names no execution");
                Ok(())
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = ?message.message_id, %error, "dead letter not settled");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

async fn fail_for_dead_letter(services: &Services, turn: &Turn) -> Result<(), String> {
    let table = services.table().map_err(|e| e.to_string())?;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut execution) = executions::load(table, &turn.execution_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if execution.status.is_final() {
            return Ok(());
        }
        let read_at = execution.version;
        let mut plan = Plan::default();
        let step = turn.step.as_deref().unwrap_or("its start");
        finish(
            &mut execution,
            ExecutionStatus::Failed,
            Some(format!(
                "the turn of {step} failed on every delivery and went to the dead-letter queue"
            )),
            Utc::now(),
            &mut plan,
        );
        execution.version += 1;
        if write(services, &execution, read_at, &plan).await? {
            return Ok(());
        }
    }
    Err("the execution kept changing".into())
}

/// The steps' states as a person reads them: for tests and logs.
pub fn states(execution: &Execution) -> BTreeMap<String, Option<StepStatus>> {
    execution
        .steps
        .iter()
        .map(|(id, run)| (id.clone(), run.status))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::automation::definition;

    fn definition_of(value: Value) -> Definition {
        definition::parse(&value, "definition").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn execution(payload: Value) -> Execution {
        Execution {
            id: "e1".into(),
            workflow_id: "w1".into(),
            workflow_name: "wf".into(),
            project_id: "p1".into(),
            organization_id: "o1".into(),
            status: ExecutionStatus::Queued,
            definition_version: 1,
            trigger: executions::TriggerRecord {
                kind: "manual".into(),
                payload,
            },
            chain: 0,
            steps: BTreeMap::new(),
            vars: Map::new(),
            created_at: "2026-12-02T00:00:00.000Z".into(),
            finished_at: None,
            deadline: "2026-12-02T01:00:00.000Z".into(),
            error: None,
            retry_of: None,
            version: 1,
        }
    }

    fn four_steps() -> Definition {
        definition_of(
            json!({"trigger": {"type": "webhook"}, "start": "set", "steps": [
                {"id": "set", "type": "set_variable", "name": "n", "value": "{{ trigger.body.n }}", "next": [{"to": "check"}]},
                {"id": "check", "type": "condition", "if": "{{ vars.n > 5 }}", "next": [
                    {"to": "big", "branch": "true"}, {"to": "small", "branch": "false"}]},
                {"id": "big", "type": "transform", "value": {"size": "big"}, "next": [{"to": "done"}]},
                {"id": "small", "type": "transform", "value": {"size": "small"}, "next": [{"to": "done"}]},
                {"id": "done", "type": "noop"}
            ]}),
        )
    }

    #[test]
    fn pure_steps_run_in_a_row_and_end_the_execution() {
        let definition = four_steps();
        let mut e = execution(json!({"body": {"n": 7}}));
        let mut plan = Plan::default();
        let first = run_pure(&e, &definition.steps[0]);
        settle(&mut e, &definition, "set", first, Utc::now(), &mut plan);
        assert_eq!(e.status, ExecutionStatus::Succeeded);
        assert_eq!(e.vars["n"], json!(7));
        assert_eq!(e.steps["check"].branch.as_deref(), Some("true"));
        assert!(e.steps.contains_key("big") && !e.steps.contains_key("small"));
        assert_eq!(e.steps["done"].status, Some(StepStatus::Succeeded));
        assert!(plan.sends.is_empty());
        assert_eq!(plan.events.len(), 1);
        assert_eq!(plan.events[0].detail_type, executions::SUCCEEDED);
    }

    #[test]
    fn a_failure_is_retried_with_backoff_then_takes_its_error_path() {
        let definition = definition_of(
            json!({"trigger": {"type": "manual"}, "start": "call", "steps": [
                {"id": "call", "type": "http_request", "method": "GET", "url": "https://example.com",
                 "retry": {"max_attempts": 2, "backoff_ms": 1000}, "on_error": "handle"},
                {"id": "handle", "type": "noop"}
            ]}),
        );
        let mut e = execution(json!({}));
        e.steps.insert(
            "call".into(),
            StepRun {
                status: Some(StepStatus::Running),
                attempts: 1,
                ..StepRun::default()
            },
        );
        let now = Utc::now();
        let mut plan = Plan::default();
        settle(
            &mut e,
            &definition,
            "call",
            Err(Failure::new("503")),
            now,
            &mut plan,
        );
        assert_eq!(e.steps["call"].status, Some(StepStatus::Queued));
        let (step, wait) = &plan.sends[0];
        assert_eq!(step, "call");
        assert!(
            (750..=1250).contains(&(wait.as_millis() as u64)),
            "{wait:?}"
        );
        if let Some(run) = e.steps.get_mut("call") {
            run.attempts = 2;
        }
        let mut plan = Plan::default();
        settle(
            &mut e,
            &definition,
            "call",
            Err(Failure::new("503")),
            now,
            &mut plan,
        );
        assert_eq!(e.steps["call"].status, Some(StepStatus::Failed));
        assert_eq!(e.steps["handle"].status, Some(StepStatus::Succeeded));
        assert_eq!(e.status, ExecutionStatus::Succeeded);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        let definition = definition_of(
            json!({"trigger": {"type": "manual"}, "start": "a", "steps": [
            {"id": "a", "type": "http_request", "method": "GET", "url": "https://x",
             "retry": {"max_attempts": 5, "backoff_ms": 100}}]}),
        );
        for (attempts, base) in [(1u32, 100u64), (2, 200), (3, 400)] {
            let wait = backoff(&definition.steps[0], attempts).as_millis() as u64;
            assert!(
                wait >= base * 3 / 4 && wait <= base * 5 / 4,
                "{attempts}: {wait}"
            );
        }
    }
}
