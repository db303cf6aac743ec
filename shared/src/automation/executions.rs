//! Executions: one run of a workflow, kept as one item — its trigger's
//! payload, every step's state (input, output, attempts, timing, error),
//! the variables set so far — written whole under a version condition, so
//! a step's result, the steps it leads to and the execution's end commit
//! together or not at all ([`super::engine`]).
//!
//! The item is `EXEC#<id>` / `EXEC`, listed by workflow on gsi1
//! (`EXECS#<workflow>`) and by workflow and status on gsi2, its state as
//! JSON text (`body`: DynamoDB nests 32 levels, step outputs may nest
//! deeper). Starting one commits it with `workflow.execution_started`,
//! which the `workflow-start` rule hands to the engine's queue: what was
//! accepted is run, even if the process stops right after.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::EVENTS;
use super::workflows::{self, Workflow};
use crate::change::{Change, ChangeError};
use crate::http::schema::QueryParam;
use crate::http::{
    ApiError, HandlerResult, Page, json, json_body, page_params, path_param, query_param,
};
use crate::ports::events::DomainEvent;
use crate::ports::table::{Condition, Index, Item, ItemTable, Key, Query, Write};
use crate::services::Services;
use crate::tenancy::audit::{self, Target};
use crate::tenancy::{OrganizationId, ProjectId, Tenant};

/// The event of a new execution (it also starts the engine).
pub const STARTED: &str = "workflow.execution_started";
/// … of one that succeeded.
pub const SUCCEEDED: &str = "workflow.execution_succeeded";
/// … of one that failed.
pub const FAILED: &str = "workflow.execution_failed";
/// … of one cancelled.
pub const CANCELLED: &str = "workflow.execution_cancelled";
/// The audited action of a cancellation.
pub const CANCEL: &str = "workflow.execution_cancelled";
/// The audited action of a retry.
pub const RETRY: &str = "workflow.execution_retried";
/// The largest trigger payload an execution keeps, as JSON.
pub const MAX_PAYLOAD: usize = 128 * 1024;
/// The largest output a step keeps, as JSON.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// The largest execution, as JSON (an item holds 400 KB).
pub const MAX_EXECUTION: usize = 350 * 1024;
/// Most workflows that may lead to one another through events.
pub const MAX_CHAIN: u32 = 4;

/// Where an execution stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Accepted; its first step is on its way.
    Queued,
    /// A step has started.
    Running,
    /// Done, every step that ran succeeded (or had its failure handled).
    Succeeded,
    /// A step failed with no `on_error`, a `stop` said so, or it ran out of time.
    Failed,
    /// Cancelled by a person.
    Cancelled,
}

impl ExecutionStatus {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Cancelled => "cancelled",
        }
    }

    /// Whether nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Succeeded | ExecutionStatus::Failed | ExecutionStatus::Cancelled
        )
    }

    fn parse(text: &str) -> Option<Self> {
        [
            ExecutionStatus::Queued,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// Where a step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Reached; its message is on its way (or waiting out a backoff).
    Queued,
    /// Taken by an engine, until its lease ends.
    Running,
    /// A delay, until `wake_at`.
    Waiting,
    /// Done.
    Succeeded,
    /// Failed once its attempts were spent.
    Failed,
}

/// One step's run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepRun {
    /// Where it stands.
    pub status: Option<StepStatus>,
    /// Attempts started.
    #[serde(default)]
    pub attempts: u32,
    /// Its configuration, templates rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// What it gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    /// The branch it chose (a condition or a switch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Why its last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When its first attempt started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// How long its last attempt took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Until when an engine holds it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<String>,
    /// Not before this moment (a retry's backoff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// When a delay ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_at: Option<String>,
}

impl StepRun {
    /// Whether it is done, either way.
    pub fn is_done(&self) -> bool {
        matches!(
            self.status,
            Some(StepStatus::Succeeded) | Some(StepStatus::Failed)
        )
    }
}

/// What started an execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriggerRecord {
    /// `manual`, `event`, `schedule`, `webhook` or `retry`.
    pub kind: String,
    /// What its expressions read as `trigger`.
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// An execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Execution {
    /// Sortable id.
    pub id: String,
    /// Its workflow.
    pub workflow_id: String,
    /// The workflow's name when it started.
    pub workflow_name: String,
    /// The workflow's project.
    pub project_id: ProjectId,
    /// The project's organization.
    pub organization_id: OrganizationId,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// The version of the definition it runs.
    pub definition_version: u64,
    /// What started it.
    pub trigger: TriggerRecord,
    /// How many workflows led to it through events (0: a person, a
    /// schedule, a webhook or a studio change did).
    pub chain: u32,
    /// Its steps, by id.
    pub steps: BTreeMap<String, StepRun>,
    /// What `set_variable` steps set.
    #[schema(value_type = Object)]
    pub vars: Map<String, Value>,
    /// When it was accepted (RFC 3339).
    pub created_at: String,
    /// When it ended (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// When it runs out of time (RFC 3339).
    pub deadline: String,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The execution it retries.
    #[serde(default)]
    pub retry_of: Option<String>,
    /// Moves with every write.
    pub version: u64,
}

/// An execution in a list: without its steps and variables.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExecutionSummary {
    /// Sortable id.
    pub id: String,
    /// Its workflow.
    pub workflow_id: String,
    /// Where it stands.
    pub status: ExecutionStatus,
    /// What started it.
    pub trigger_kind: String,
    /// When it was accepted.
    pub created_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A page of executions, with their count when asked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExecutionPage {
    /// The executions, newest first.
    pub items: Vec<ExecutionSummary>,
    /// Pass as `?next=` for the page after.
    pub next: Option<String>,
    /// How many match, when `count=true` asked (at most 100,000 counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The answer to a request that starts an execution.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The execution's id.
    pub execution_id: String,
    /// Always `queued`.
    pub status: ExecutionStatus,
}

impl Execution {
    /// The item's key.
    pub fn key(id: &str) -> Key {
        Key::new(format!("EXEC#{id}"), "EXEC")
    }

    fn item(&self) -> Result<Item, ApiError> {
        let body = serde_json::to_string(self).map_err(|e| ApiError::Internal(e.to_string()))?;
        if body.len() > MAX_EXECUTION {
            return Err(ApiError::Internal(format!(
                "execution {} would be {} bytes, over {MAX_EXECUTION}",
                self.id,
                body.len()
            )));
        }
        let key = Self::key(&self.id);
        let mut item = Item::new();
        item.insert("pk".into(), json!(key.pk));
        item.insert("sk".into(), json!(key.sk));
        item.insert("id".into(), json!(self.id));
        item.insert("status".into(), json!(self.status.as_str()));
        item.insert("version".into(), json!(self.version));
        item.insert("body".into(), json!(body));
        item.insert(
            "gsi1pk".into(),
            json!(format!("EXECS#{}", self.workflow_id)),
        );
        item.insert("gsi1sk".into(), json!(self.id));
        item.insert(
            "gsi2pk".into(),
            json!(format!(
                "EXECS#{}#{}",
                self.workflow_id,
                self.status.as_str()
            )),
        );
        item.insert("gsi2sk".into(), json!(self.id));
        Ok(item)
    }

    fn from_item(item: &Item) -> Result<Self, ApiError> {
        let body = item
            .get("body")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::Internal("an execution item without its body".into()))?;
        serde_json::from_str(body).map_err(|e| ApiError::Internal(format!("execution: {e}")))
    }

    /// The write that stores it: new, or over the version it was read at.
    pub fn write(&self, read_at: Option<u64>) -> Result<Write, ApiError> {
        Ok(Write::Put {
            item: self.item()?,
            condition: Some(match read_at {
                None => Condition::Absent,
                Some(version) => Condition::version_is(version),
            }),
        })
    }

    /// Its summary.
    pub fn summary(&self) -> ExecutionSummary {
        ExecutionSummary {
            id: self.id.clone(),
            workflow_id: self.workflow_id.clone(),
            status: self.status,
            trigger_kind: self.trigger.kind.clone(),
            created_at: self.created_at.clone(),
            finished_at: self.finished_at.clone(),
            error: self.error.clone(),
        }
    }

    /// An event about it.
    pub fn event(&self, detail_type: &str) -> DomainEvent {
        DomainEvent::new(
            EVENTS,
            detail_type,
            json!({
                "organization_id": self.organization_id,
                "project_id": self.project_id,
                "workflow_id": self.workflow_id,
                "execution_id": self.id,
                "status": self.status.as_str(),
                "trigger": self.trigger.kind,
                "error": self.error,
                "chain": self.chain,
            }),
        )
    }
}

/// An execution, if there is one.
pub async fn load(table: &dyn ItemTable, id: &str) -> Result<Option<Execution>, ApiError> {
    match table.get(&Execution::key(id)).await? {
        Some(item) => Ok(Some(Execution::from_item(&item)?)),
        None => Ok(None),
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// RFC 3339 with milliseconds, as every time of the platform.
pub fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new execution of `workflow`, not yet stored.
pub fn new(workflow: &Workflow, trigger: TriggerRecord, chain: u32) -> Result<Execution, ApiError> {
    let payload = serde_json::to_vec(&trigger.payload).map_or(0, |b| b.len());
    if payload > MAX_PAYLOAD {
        return Err(ApiError::TooLarge { limit: MAX_PAYLOAD });
    }
    let definition = workflow.definition()?;
    let started = now();
    let deadline = started
        + chrono::Duration::from_std(definition.timeout()).unwrap_or(chrono::Duration::hours(1));
    Ok(Execution {
        id: ulid::Ulid::generate().to_string(),
        workflow_id: workflow.id.clone(),
        workflow_name: workflow.name.clone(),
        project_id: workflow.project_id.clone(),
        organization_id: workflow.organization_id.clone(),
        status: ExecutionStatus::Queued,
        definition_version: workflow.definition_version,
        trigger,
        chain,
        steps: BTreeMap::new(),
        vars: Map::new(),
        created_at: stamp(started),
        finished_at: None,
        deadline: stamp(deadline),
        error: None,
        retry_of: None,
        version: 1,
    })
}

/// Commits a new execution with `more` (a marker that makes a trigger's
/// start happen once, an audit entry) and its start event; the engine
/// takes it from the event. `Ok(false)` when `more` was refused (already
/// started).
pub async fn start(
    services: &Services,
    execution: &Execution,
    more: Change,
) -> Result<bool, ApiError> {
    let committed = Change::new()
        .write("execution", execution.write(None)?)
        .then(more)
        .event(execution.event(STARTED))
        .commit(services.table()?)
        .await;
    match committed {
        Ok(()) => Ok(true),
        Err(ChangeError::Refused("marker")) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// `POST …/execute/`: the input the execution's `trigger.input` holds.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteWorkflow {
    /// A JSON object, read as `trigger.input` (empty when left out or null).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub input: Value,
}

/// Runs a workflow by hand (editors), enabled or not.
pub async fn execute(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let body: ExecuteWorkflow = json_body(&request, MAX_PAYLOAD + 1024)?;
    let input = match body.input {
        Value::Null => Value::Object(Default::default()),
        Value::Object(map) => Value::Object(map),
        _ => return Err(ApiError::invalid("input", "must be an object")),
    };
    let workflow = workflows::of_request(&services, &request).await?;
    let trigger = TriggerRecord {
        kind: "manual".into(),
        payload: json!({"input": input, "by": tenant.meta.caller.sub}),
    };
    let execution = new(&workflow, trigger, 0)?;
    let audit = audit::record(
        &tenant.meta,
        &workflow.organization_id,
        workflows::EXECUTED,
        Target {
            kind: "workflow",
            id: &workflow.id,
        },
    )?;
    start(&services, &execution, Change::new().write("audit", audit)).await?;
    json(
        StatusCode::ACCEPTED,
        &Accepted {
            execution_id: execution.id,
            status: ExecutionStatus::Queued,
        },
    )
}

fn status_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some([
            "queued",
            "running",
            "succeeded",
            "failed",
            "cancelled",
        ]))
        .build()
}

fn count_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .build()
}

/// The list's filters and page.
pub const LIST_QUERY: &[QueryParam] = &[
    crate::http::schema::LIMIT,
    crate::http::schema::NEXT,
    QueryParam {
        name: "status",
        description: "Only executions in this state",
        schema: status_schema,
    },
    QueryParam {
        name: "count",
        description: "`true` adds how many match (`total`)",
        schema: count_schema,
    },
];

/// Most executions a count reads.
const MAX_COUNT: u64 = 100_000;

/// A workflow's executions, newest first (members).
pub async fn list(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    let (limit, cursor) = page_params(&request)?;
    let workflow = workflows::of_request(&services, &request).await?;
    let status = match query_param(&request, "status") {
        None => None,
        Some(text) => Some(ExecutionStatus::parse(text).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "is queued, running, succeeded, failed or cancelled",
            )
        })?),
    };
    let count = match query_param(&request, "count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("count", "is true or false")),
    };
    let query = |limit: u32, after| {
        match status {
            Some(status) => Query::partition(format!("EXECS#{}#{}", workflow.id, status.as_str()))
                .on(Index::Gsi2),
            None => Query::partition(format!("EXECS#{}", workflow.id)).on(Index::Gsi1),
        }
        .backward()
        .limit(limit)
        .after(after)
    };
    let table = services.table()?;
    let page = table.query(&query(limit, cursor)).await?;
    let items = page
        .items
        .iter()
        .map(|item| Execution::from_item(item).map(|e| e.summary()))
        .collect::<Result<Vec<_>, _>>()?;
    let total = if count {
        let mut total = 0u64;
        let mut after = None;
        loop {
            let page = table
                .query(&query(crate::ports::table::MAX_QUERY_LIMIT, after))
                .await?;
            total += page.items.len() as u64;
            match page.next {
                Some(next) if total < MAX_COUNT => after = Some(next),
                _ => break,
            }
        }
        Some(total)
    } else {
        None
    };
    json(
        StatusCode::OK,
        &ExecutionPage {
            items,
            next: Page::<()>::new(Vec::new(), page.next).next,
            total,
        },
    )
}

async fn of_workflow(services: &Services, request: &Request) -> Result<Execution, ApiError> {
    let workflow_id = path_param(request, "id")?;
    let id = path_param(request, "execution_id")?;
    load(services.table()?, id)
        .await?
        .filter(|e| e.workflow_id == workflow_id)
        .ok_or(ApiError::NotFound)
}

/// One execution with every step (members).
pub async fn get(services: Arc<Services>, request: Request, _tenant: Tenant) -> HandlerResult {
    json(StatusCode::OK, &of_workflow(&services, &request).await?)
}

/// Cancels an execution that has not ended (editors); an ended one is a 409.
pub async fn cancel(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let table = services.table()?;
    for _ in 0..5 {
        let mut execution = of_workflow(&services, &request).await?;
        if execution.status.is_final() {
            return Err(super::AutomationError::ExecutionEnded.into());
        }
        let read_at = execution.version;
        execution.status = ExecutionStatus::Cancelled;
        execution.finished_at = Some(stamp(now()));
        execution.error = Some(format!("cancelled by {}", tenant.meta.caller.sub));
        execution.version += 1;
        let audit = audit::record(
            &tenant.meta,
            &execution.organization_id,
            CANCEL,
            Target {
                kind: "execution",
                id: &execution.id,
            },
        )?;
        let committed = Change::new()
            .write("execution", execution.write(Some(read_at))?)
            .write("audit", audit)
            .event(execution.event(CANCELLED))
            .commit(table)
            .await;
        match committed {
            Ok(()) => return json(StatusCode::OK, &execution),
            Err(ChangeError::Refused("execution")) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::Conflict(
        crate::http::Conflict::CHANGED_CONCURRENTLY,
    ))
}

/// Runs a failed or cancelled execution again from its start, with the
/// same trigger payload, on the workflow as it is now (editors).
pub async fn retry(services: Arc<Services>, request: Request, tenant: Tenant) -> HandlerResult {
    let failed = of_workflow(&services, &request).await?;
    if !matches!(
        failed.status,
        ExecutionStatus::Failed | ExecutionStatus::Cancelled
    ) {
        return Err(super::AutomationError::NotRetryable.into());
    }
    let workflow = workflows::of_request(&services, &request).await?;
    let mut execution = new(&workflow, failed.trigger.clone(), failed.chain)?;
    execution.retry_of = Some(failed.id.clone());
    let audit = audit::record(
        &tenant.meta,
        &workflow.organization_id,
        RETRY,
        Target {
            kind: "execution",
            id: &failed.id,
        },
    )?;
    start(&services, &execution, Change::new().write("audit", audit)).await?;
    json(
        StatusCode::ACCEPTED,
        &Accepted {
            execution_id: execution.id,
            status: ExecutionStatus::Queued,
        },
    )
}
