//! A workflow's definition: one trigger and a graph of steps, as plain
//! values, and the checks a definition passes before it is saved. No I/O
//! (the workflow handlers check table names against the project).
//!
//! A step names what follows it (`next`, each edge with an optional
//! `branch` of a `condition` or `switch`, and an optional `when`
//! expression) and where a failure goes (`on_error`). The graph has no
//! cycle, every step is reached from `start`, and a step's expressions
//! read only the outputs of steps that ran before it (its ancestors).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cron::Schedule;
use super::expr::{self, Reference, STEP_ROOTS};
use crate::http::FieldError;
use crate::tenancy::Role;

/// Most steps a workflow holds.
pub const MAX_STEPS: usize = 100;
/// Most edges a step has.
pub const MAX_EDGES: usize = 20;
/// The longest a whole execution may run, by default.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;
/// The longest a whole execution may run.
pub const MAX_TIMEOUT_SECS: u64 = 31 * 24 * 3600;
/// A step's time limit by default.
pub const DEFAULT_STEP_TIMEOUT_MS: u64 = 30_000;
/// The longest time limit of a step (the engine's function runs 90 s at
/// most, its queue hides a message 120 s).
pub const MAX_STEP_TIMEOUT_MS: u64 = 60_000;
/// Most attempts of a step.
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest a delay step waits.
pub const MAX_DELAY_SECS: u64 = 30 * 24 * 3600;
/// A step id, a variable's name, a switch case: a lower-case identifier.
pub const ID_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";

/// What starts a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = WorkflowTrigger)]
pub enum Trigger {
    /// By hand (`POST …/execute/`) only.
    Manual,
    /// A domain event of the workflow's project.
    Event {
        /// The event's source, `nocode.runtime` …
        source: String,
        /// Its type (`record.created`), or `*` for any.
        detail_type: String,
        /// An expression over `event` that must hold.
        #[serde(default)]
        condition: Option<String>,
    },
    /// A cron schedule.
    Schedule {
        /// Five fields: minute, hour, day of month, month, day of week.
        cron: String,
        /// An IANA time zone (default UTC).
        #[serde(default)]
        timezone: Option<String>,
    },
    /// An HTTP POST to the workflow's secret URL.
    Webhook {
        /// A signature the sender adds, checked before anything runs.
        #[serde(default)]
        signature: Option<Signature>,
    },
}

impl Trigger {
    /// Its kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Event { .. } => "event",
            Trigger::Schedule { .. } => "schedule",
            Trigger::Webhook { .. } => "webhook",
        }
    }
}

/// An HMAC-SHA256 signature of a webhook's body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookSignature)]
pub struct Signature {
    /// The header that carries it (`X-Hub-Signature-256`).
    #[schema(pattern = "^[A-Za-z0-9-]{1,100}$")]
    pub header: String,
    /// The shared secret; never shown again once saved.
    #[schema(min_length = 16, max_length = 256)]
    pub secret: String,
    /// Text before the hex digest (`sha256=`).
    #[serde(default)]
    #[schema(max_length = 32)]
    pub prefix: Option<String>,
}

/// One step of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = WorkflowStep)]
pub struct Step {
    /// Unique in the workflow: a lower-case identifier.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub id: String,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
    /// The steps that follow it.
    #[serde(default)]
    pub next: Vec<Edge>,
    /// Attempts and backoff when it fails.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Its time limit, in milliseconds (default 30 s, at most 60 s).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 60000)]
    pub timeout_ms: Option<u64>,
    /// The step a failure goes to, once its attempts are spent (else the
    /// execution fails).
    #[serde(default)]
    pub on_error: Option<String>,
}

/// An edge to a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowEdge)]
pub struct Edge {
    /// The step it leads to.
    pub to: String,
    /// Taken only when the step chose this branch (`true`/`false` of a
    /// condition, a case or `default` of a switch).
    #[serde(default)]
    pub branch: Option<String>,
    /// Taken only when this expression holds.
    #[serde(default)]
    pub when: Option<String>,
}

/// Attempts and backoff of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StepRetry)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    #[schema(minimum = 1, maximum = 10)]
    pub max_attempts: u32,
    /// The first wait, in milliseconds; each next one doubles, with jitter.
    #[serde(default = "default_backoff")]
    #[schema(minimum = 10, maximum = 3600000)]
    pub backoff_ms: u64,
}

fn default_backoff() -> u64 {
    1000
}

/// How a `stop` step ends the execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// The execution succeeds.
    Success,
    /// The execution fails, with the message.
    Failure,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = StepAction)]
pub enum Action {
    /// An HTTP request; its output is `{status, headers, body}`.
    HttpRequest {
        /// GET, POST, PUT, PATCH, DELETE or HEAD.
        method: String,
        /// The URL (a template).
        url: String,
        /// Headers (templates).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// A JSON body (templates inside).
        #[serde(default)]
        body: Option<Value>,
        /// Whether a status of 400 or more fails the step (default true).
        #[serde(default = "yes")]
        fail_on_status: bool,
    },
    /// Chooses the branch `true` or `false`.
    Condition {
        /// The expression.
        #[serde(rename = "if")]
        condition: String,
    },
    /// Chooses the branch named by the value, or `default`.
    Switch {
        /// The expression whose value picks the case.
        value: String,
        /// The cases.
        cases: Vec<String>,
    },
    /// Creates a record of a table of the project.
    CreateRecord {
        /// The table's id or name.
        table: String,
        /// Values by field name (templates inside).
        values: Map<String, Value>,
    },
    /// Changes a record.
    UpdateRecord {
        /// The table's id or name.
        table: String,
        /// The record's id (a template).
        record: String,
        /// Values by field name (templates inside).
        values: Map<String, Value>,
    },
    /// Deletes a record.
    DeleteRecord {
        /// The table's id or name.
        table: String,
        /// The record's id (a template).
        record: String,
    },
    /// Reads records: output `{items, next}`.
    QueryRecords {
        /// The table's id or name.
        table: String,
        /// A filter (docs/filter.md; a template).
        #[serde(default)]
        filter: Option<String>,
        /// A sort (`-created_at`).
        #[serde(default)]
        sort: Option<String>,
        /// At most this many (default 20, at most 200).
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Builds a value from expressions.
    Transform {
        /// The value (templates inside).
        value: Value,
    },
    /// Waits: a number of seconds, or until a moment.
    Delay {
        /// Seconds to wait.
        #[serde(default)]
        seconds: Option<u64>,
        /// An RFC 3339 moment to wait for (a template).
        #[serde(default)]
        until: Option<String>,
    },
    /// Publishes a domain event `custom.<name>` of the project.
    EmitEvent {
        /// Its name: `order.shipped` becomes `custom.order.shipped`.
        name: String,
        /// Its detail (templates inside).
        #[serde(default)]
        detail: Value,
    },
    /// Sets `vars.<name>` for the steps after it.
    SetVariable {
        /// The variable.
        name: String,
        /// Its value (templates inside).
        value: Value,
    },
    /// Ends the execution.
    Stop {
        /// Success or failure.
        outcome: StopOutcome,
        /// Why (a template).
        #[serde(default)]
        message: Option<String>,
    },
    /// Does nothing (a join point, a placeholder).
    Noop,
    /// Mails the organization's members of the given roles.
    Notify {
        /// Who: `owner`, `admin`, `editor`, `viewer`.
        roles: Vec<Role>,
        /// The subject (a template).
        subject: String,
        /// The text (a template).
        body: String,
    },
    /// Makes the draft manifest of each app of the project again.
    RefreshAppDrafts,
}

fn yes() -> bool {
    true
}

impl Action {
    /// Its type's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::HttpRequest { .. } => "http_request",
            Action::Condition { .. } => "condition",
            Action::Switch { .. } => "switch",
            Action::CreateRecord { .. } => "create_record",
            Action::UpdateRecord { .. } => "update_record",
            Action::DeleteRecord { .. } => "delete_record",
            Action::QueryRecords { .. } => "query_records",
            Action::Transform { .. } => "transform",
            Action::Delay { .. } => "delay",
            Action::EmitEvent { .. } => "emit_event",
            Action::SetVariable { .. } => "set_variable",
            Action::Stop { .. } => "stop",
            Action::Noop => "noop",
            Action::Notify { .. } => "notify",
            Action::RefreshAppDrafts => "refresh_app_drafts",
        }
    }

    /// Whether it only computes from what it reads: run again, it gives
    /// the same and touches nothing (the engine runs such steps in a row,
    /// with one write).
    pub fn is_pure(&self) -> bool {
        matches!(
            self,
            Action::Condition { .. }
                | Action::Switch { .. }
                | Action::Transform { .. }
                | Action::SetVariable { .. }
                | Action::Stop { .. }
                | Action::Noop
        )
    }

    /// The table it names, for the handlers to check.
    pub fn table(&self) -> Option<&str> {
        match self {
            Action::CreateRecord { table, .. }
            | Action::UpdateRecord { table, .. }
            | Action::DeleteRecord { table, .. }
            | Action::QueryRecords { table, .. } => Some(table),
            _ => None,
        }
    }
}

/// Every step type, for the refusal of an unknown one.
pub const STEP_TYPES: &[&str] = &[
    "http_request",
    "condition",
    "switch",
    "create_record",
    "update_record",
    "delete_record",
    "query_records",
    "transform",
    "delay",
    "emit_event",
    "set_variable",
    "stop",
    "noop",
    "notify",
    "refresh_app_drafts",
];

/// A workflow's definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkflowDefinition)]
pub struct Definition {
    /// What starts it.
    pub trigger: Trigger,
    /// The step that runs first.
    pub start: String,
    /// Its steps.
    #[schema(min_items = 1, max_items = 100)]
    pub steps: Vec<Step>,
    /// The longest an execution may run, in seconds (default an hour).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2678400)]
    pub timeout_seconds: Option<u64>,
}

impl Definition {
    /// A step by id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// An execution's time limit.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// The definition as stored and shown: a webhook's secret blanked.
    pub fn redacted(&self) -> Definition {
        let mut shown = self.clone();
        if let Trigger::Webhook {
            signature: Some(signature),
        } = &mut shown.trigger
        {
            signature.secret = REDACTED.into();
        }
        shown
    }
}

/// What a saved secret reads as; sent back unchanged, it keeps the secret.
pub const REDACTED: &str = "********";

fn id_ok(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Reads a definition from JSON, naming the path of anything that does
/// not read (`definition.steps[2].type` for an unknown step type).
pub fn parse(value: &Value, path: &str) -> Result<Definition, Vec<FieldError>> {
    if let Some(steps) = value.get("steps").and_then(Value::as_array) {
        let mut errors = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            match step.get("type").and_then(Value::as_str) {
                Some(kind) if STEP_TYPES.contains(&kind) => {}
                Some(kind) => errors.push(FieldError::new(
                    format!("{path}.steps[{i}].type"),
                    format!(
                        "`{kind}` is no step type; the types are {}",
                        STEP_TYPES.join(", ")
                    ),
                )),
                None => errors.push(FieldError::new(
                    format!("{path}.steps[{i}].type"),
                    "is required",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    serde_path_to_error::deserialize::<_, Definition>(value.clone()).map_err(|e| {
        let at = e.path().to_string();
        let field = if at == "." {
            path.to_string()
        } else {
            format!("{path}.{at}")
        };
        vec![FieldError::new(field, e.into_inner().to_string())]
    })
}

/// The steps each step may reach.
fn edges_of(step: &Step) -> impl Iterator<Item = &str> {
    step.next
        .iter()
        .map(|e| e.to.as_str())
        .chain(step.on_error.as_deref())
}

/// Checks a definition: every refusal with its path under `path`.
pub fn check(definition: &Definition, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |at: String, why: String| errors.push(FieldError::new(at, why));
    let steps = &definition.steps;
    if steps.is_empty() || steps.len() > MAX_STEPS {
        fail(
            format!("{path}.steps"),
            format!("holds 1 to {MAX_STEPS} steps"),
        );
        return errors;
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        if !id_ok(&step.id) {
            fail(
                format!("{path}.steps[{i}].id"),
                "is a lower-case identifier (a letter, then letters, digits or _)".into(),
            );
        } else if index.insert(&step.id, i).is_some() {
            fail(
                format!("{path}.steps[{i}].id"),
                format!("`{}` is the id of another step", step.id),
            );
        }
    }
    if !index.contains_key(definition.start.as_str()) {
        fail(format!("{path}.start"), "names no step".into());
    }
    if definition
        .timeout_seconds
        .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_SECS)
    {
        fail(
            format!("{path}.timeout_seconds"),
            format!("is 1 to {MAX_TIMEOUT_SECS} seconds"),
        );
    }
    check_trigger(&definition.trigger, &format!("{path}.trigger"), &mut fail);
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}.steps[{i}]");
        if step.next.len() > MAX_EDGES {
            fail(
                format!("{at}.next"),
                format!("holds at most {MAX_EDGES} edges"),
            );
        }
        let branches = branches(&step.action);
        for (j, edge) in step.next.iter().enumerate() {
            if !index.contains_key(edge.to.as_str()) {
                fail(format!("{at}.next[{j}].to"), "names no step".into());
            }
            match (&edge.branch, &branches) {
                (Some(branch), Some(known)) if !known.contains(branch) => fail(
                    format!("{at}.next[{j}].branch"),
                    format!("is none of this step's branches: {}", known.join(", ")),
                ),
                (Some(_), None) => fail(
                    format!("{at}.next[{j}].branch"),
                    "only a condition or a switch step has branches".into(),
                ),
                _ => {}
            }
        }
        if let Some(target) = &step.on_error
            && !index.contains_key(target.as_str())
        {
            fail(format!("{at}.on_error"), "names no step".into());
        }
        if let Some(retry) = step.retry
            && !(1..=MAX_ATTEMPTS).contains(&retry.max_attempts)
        {
            fail(
                format!("{at}.retry.max_attempts"),
                format!("is 1 to {MAX_ATTEMPTS}"),
            );
        }
        if step
            .timeout_ms
            .is_some_and(|t| t == 0 || t > MAX_STEP_TIMEOUT_MS)
        {
            fail(
                format!("{at}.timeout_ms"),
                format!("is 1 to {MAX_STEP_TIMEOUT_MS} milliseconds"),
            );
        }
        check_action(&step.action, &at, &mut fail);
    }
    if !errors.is_empty() {
        return errors;
    }
    // The graph: no cycle, every step reached from the start.
    if let Some(cycle) = find_cycle(steps, &index) {
        let (i, j) = cycle;
        let at = match steps[i].next.iter().position(|e| e.to == steps[j].id) {
            Some(edge) => format!("{path}.steps[{i}].next[{edge}].to"),
            None => format!("{path}.steps[{i}].on_error"),
        };
        errors.push(FieldError::new(
            at,
            format!(
                "closes a cycle back to `{}`: a workflow's steps form no loop",
                steps[j].id
            ),
        ));
        return errors;
    }
    let reached = reachable(steps, &index, &definition.start);
    for (i, step) in steps.iter().enumerate() {
        if !reached.contains(&i) {
            errors.push(FieldError::new(
                format!("{path}.steps[{i}]"),
                format!(
                    "`{}` is reached from no step: nothing leads to it from the start",
                    step.id
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return errors;
    }
    // What each step's expressions read ran before it.
    let before = ancestors(steps, &index);
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{path}.steps[{i}]");
        let mut read = Vec::new();
        read.extend(action_refs(&step.action, &at, &mut errors));
        for (j, edge) in step.next.iter().enumerate() {
            if let Some(when) = &edge.when {
                let at = format!("{at}.next[{j}].when");
                match expr::check_expression(when) {
                    // An edge's condition runs after its step: it reads it too.
                    Ok(refs) => read.extend(refs.into_iter().map(|r| (at.clone(), r))),
                    Err(why) => errors.push(FieldError::new(at, why)),
                }
            }
        }
        for (at, reference) in read {
            if !STEP_ROOTS.contains(&reference.root.as_str()) {
                errors.push(FieldError::new(
                    at,
                    format!(
                        "reads `{}`, which is not there; expressions read {}",
                        reference.root,
                        STEP_ROOTS.join(", ")
                    ),
                ));
                continue;
            }
            let (true, Some(member)) = (reference.root == "steps", &reference.member) else {
                continue;
            };
            let edge_reads_own = at.contains(".next[") && member == &step.id;
            match index.get(member.as_str()) {
                None => errors.push(FieldError::new(
                    at,
                    format!("reads step `{member}`, which is no step"),
                )),
                Some(j) if !before[i].contains(j) && !edge_reads_own => {
                    errors.push(FieldError::new(
                        at,
                        format!(
                            "reads step `{member}`, which does not run before `{}`",
                            step.id
                        ),
                    ))
                }
                _ => {}
            }
        }
    }
    errors
}

/// The branches a step chooses among, if it chooses.
fn branches(action: &Action) -> Option<Vec<String>> {
    match action {
        Action::Condition { .. } => Some(vec!["true".into(), "false".into()]),
        Action::Switch { cases, .. } => {
            let mut all = cases.clone();
            all.push("default".into());
            Some(all)
        }
        _ => None,
    }
}

fn check_trigger(trigger: &Trigger, at: &str, fail: &mut dyn FnMut(String, String)) {
    match trigger {
        Trigger::Manual => {}
        Trigger::Event {
            source,
            detail_type,
            condition,
        } => {
            let word = |t: &str| {
                !t.is_empty()
                    && t.len() <= 100
                    && t.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            };
            if !source.starts_with("nocode.") || !word(source) {
                fail(
                    format!("{at}.source"),
                    "is a platform source: nocode.studio, nocode.runtime, nocode.automation …"
                        .into(),
                );
            }
            if detail_type != "*" && !word(detail_type) {
                fail(
                    format!("{at}.detail_type"),
                    "is an event type such as record.created, or * for any".into(),
                );
            }
            if let Some(condition) = condition {
                match expr::check_expression(condition) {
                    Ok(refs) => {
                        if let Some(other) = refs.iter().find(|r| r.root != "event") {
                            fail(
                                format!("{at}.condition"),
                                format!(
                                    "reads `{}`; a trigger's condition reads `event`",
                                    other.root
                                ),
                            );
                        }
                    }
                    Err(why) => fail(format!("{at}.condition"), why),
                }
            }
        }
        Trigger::Schedule { cron, timezone } => {
            if let Err(why) = Schedule::parse(cron, timezone.as_deref()) {
                let field = if why.contains("time zone") {
                    "timezone"
                } else {
                    "cron"
                };
                fail(format!("{at}.{field}"), why);
            }
        }
        Trigger::Webhook { signature } => {
            if let Some(signature) = signature {
                let header_ok = !signature.header.is_empty()
                    && signature.header.len() <= 100
                    && signature
                        .header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !header_ok {
                    fail(
                        format!("{at}.signature.header"),
                        "is a header name: letters, digits and -".into(),
                    );
                }
                let length = signature.secret.chars().count();
                if signature.secret != REDACTED && !(16..=256).contains(&length) {
                    fail(
                        format!("{at}.signature.secret"),
                        "is 16 to 256 characters".into(),
                    );
                }
                if signature.prefix.as_ref().is_some_and(|p| p.len() > 32) {
                    fail(
                        format!("{at}.signature.prefix"),
                        "is at most 32 characters".into(),
                    );
                }
            }
        }
    }
}

fn check_action(action: &Action, at: &str, fail: &mut dyn FnMut(String, String)) {
    match action {
        Action::HttpRequest { method, url, .. } => {
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
                fail(
                    format!("{at}.method"),
                    "is GET, POST, PUT, PATCH, DELETE or HEAD".into(),
                );
            }
            if url.trim().is_empty() {
                fail(format!("{at}.url"), "is required".into());
            }
        }
        Action::Switch { cases, .. } => {
            let mut seen = BTreeSet::new();
            if cases.is_empty() || cases.len() > MAX_EDGES {
                fail(format!("{at}.cases"), format!("are 1 to {MAX_EDGES}"));
            }
            for (i, case) in cases.iter().enumerate() {
                if case.is_empty() || case.len() > 100 || case == "default" || !seen.insert(case) {
                    fail(
                        format!("{at}.cases[{i}]"),
                        "is 1 to 100 characters, unique, not `default`".into(),
                    );
                }
            }
        }
        Action::CreateRecord { table, .. }
        | Action::UpdateRecord { table, .. }
        | Action::DeleteRecord { table, .. } => {
            if table.trim().is_empty() {
                fail(format!("{at}.table"), "is required".into());
            }
        }
        Action::QueryRecords { table, limit, .. } => {
            if table.trim().is_empty() {
                fail(format!("{at}.table"), "is required".into());
            }
            if limit.is_some_and(|l| l == 0 || l > 200) {
                fail(format!("{at}.limit"), "is 1 to 200".into());
            }
        }
        Action::Delay { seconds, until } => match (seconds, until) {
            (Some(s), None) if *s <= MAX_DELAY_SECS => {}
            (Some(_), None) => fail(
                format!("{at}.seconds"),
                format!("is at most {MAX_DELAY_SECS} (30 days)"),
            ),
            (None, Some(_)) => {}
            _ => fail(
                format!("{at}.seconds"),
                "a delay gives `seconds` or `until`, one of them".into(),
            ),
        },
        Action::EmitEvent { name, .. } => {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._".contains(&b));
            if !ok {
                fail(
                    format!("{at}.name"),
                    "is a lower-case name of letters, digits, _ and . (order.shipped)".into(),
                );
            }
        }
        Action::SetVariable { name, .. } => {
            if !id_ok(name) {
                fail(
                    format!("{at}.name"),
                    "is a lower-case identifier (a letter, then letters, digits or _)".into(),
                );
            }
        }
        Action::Notify { roles, subject, .. } => {
            if roles.is_empty() {
                fail(format!("{at}.roles"), "names at least one role".into());
            }
            if subject.trim().is_empty() {
                fail(format!("{at}.subject"), "is required".into());
            }
        }
        Action::Condition { .. }
        | Action::Transform { .. }
        | Action::Stop { .. }
        | Action::Noop
        | Action::RefreshAppDrafts => {}
    }
}

/// Every expression and template of an action, checked; the names each
/// reads, with its path.
fn action_refs(
    action: &Action,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<(String, Reference)> {
    let mut found = Vec::new();
    let mut text = |field: &str, value: &str, errors: &mut Vec<FieldError>| {
        let path = format!("{at}.{field}");
        match expr::check_template(value) {
            Ok(refs) => found.extend(refs.into_iter().map(|r| (path.clone(), r))),
            Err(why) => errors.push(FieldError::new(path, why)),
        }
    };
    let mut expression = Vec::new();
    match action {
        Action::HttpRequest {
            url, headers, body, ..
        } => {
            text("url", url, errors);
            for (name, value) in headers {
                text(&format!("headers.{name}"), value, errors);
            }
            if let Some(body) = body {
                found.extend(expr::check_value(body, &format!("{at}.body"), errors));
            }
        }
        Action::Condition { condition } => expression.push(("if", condition)),
        Action::Switch { value, .. } => expression.push(("value", value)),
        Action::CreateRecord { values, .. } => {
            found.extend(expr::check_value(
                &Value::Object(values.clone()),
                &format!("{at}.values"),
                errors,
            ));
        }
        Action::UpdateRecord { record, values, .. } => {
            text("record", record, errors);
            found.extend(expr::check_value(
                &Value::Object(values.clone()),
                &format!("{at}.values"),
                errors,
            ));
        }
        Action::DeleteRecord { record, .. } => text("record", record, errors),
        Action::QueryRecords { filter, .. } => {
            if let Some(filter) = filter {
                text("filter", filter, errors);
            }
        }
        Action::Transform { value } => {
            found.extend(expr::check_value(value, &format!("{at}.value"), errors))
        }
        Action::Delay { until, .. } => {
            if let Some(until) = until {
                text("until", until, errors);
            }
        }
        Action::EmitEvent { detail, .. } => {
            found.extend(expr::check_value(detail, &format!("{at}.detail"), errors))
        }
        Action::SetVariable { value, .. } => {
            found.extend(expr::check_value(value, &format!("{at}.value"), errors))
        }
        Action::Stop { message, .. } => {
            if let Some(message) = message {
                text("message", message, errors);
            }
        }
        Action::Notify { subject, body, .. } => {
            text("subject", subject, errors);
            text("body", body, errors);
        }
        Action::Noop | Action::RefreshAppDrafts => {}
    }
    for (field, source) in expression {
        let path = format!("{at}.{field}");
        match expr::check_expression(source) {
            Ok(refs) => found.extend(refs.into_iter().map(|r| (path.clone(), r))),
            Err(why) => errors.push(FieldError::new(path, why)),
        }
    }
    found
}

/// An edge (from, to) that closes a cycle, if the graph has one.
fn find_cycle(steps: &[Step], index: &HashMap<&str, usize>) -> Option<(usize, usize)> {
    // 0: not seen, 1: on the current path, 2: done.
    let mut state = vec![0u8; steps.len()];
    for root in 0..steps.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some((node, next)) = stack.pop() {
            let targets: Vec<usize> = edges_of(&steps[node])
                .filter_map(|t| index.get(t).copied())
                .collect();
            if next < targets.len() {
                stack.push((node, next + 1));
                let target = targets[next];
                match state[target] {
                    1 => return Some((node, target)),
                    0 => {
                        state[target] = 1;
                        stack.push((target, 0));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
            }
        }
    }
    None
}

fn reachable(steps: &[Step], index: &HashMap<&str, usize>, start: &str) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut work: Vec<usize> = index.get(start).copied().into_iter().collect();
    while let Some(node) = work.pop() {
        if seen.insert(node) {
            work.extend(edges_of(&steps[node]).filter_map(|t| index.get(t).copied()));
        }
    }
    seen
}

/// For each step, the steps that run before it on some path (the graph
/// has no cycle).
fn ancestors(steps: &[Step], index: &HashMap<&str, usize>) -> Vec<BTreeSet<usize>> {
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, step) in steps.iter().enumerate() {
        for target in edges_of(step).filter_map(|t| index.get(t).copied()) {
            parents[target].push(i);
        }
    }
    (0..steps.len())
        .map(|i| {
            let mut seen = BTreeSet::new();
            let mut work = parents[i].clone();
            while let Some(p) = work.pop() {
                if seen.insert(p) {
                    work.extend(parents[p].iter().copied());
                }
            }
            seen
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(steps: Value) -> Value {
        json!({"trigger": {"type": "manual"}, "start": "a", "steps": steps})
    }

    fn refusals(value: Value) -> Vec<String> {
        match parse(&value, "definition") {
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
            Ok(def) => check(&def, "definition")
                .into_iter()
                .map(|e| e.field)
                .collect(),
        }
    }

    #[test]
    fn a_good_graph_passes() {
        let ok = definition(json!([
            {"id": "a", "type": "set_variable", "name": "n", "value": "{{ trigger.body.n }}", "next": [{"to": "b"}]},
            {"id": "b", "type": "condition", "if": "{{ vars.n > 5 }}", "next": [
                {"to": "c", "branch": "true"}, {"to": "d", "branch": "false"}]},
            {"id": "c", "type": "transform", "value": {"n": "{{ steps.a }}"}, "next": [{"to": "e"}]},
            {"id": "d", "type": "http_request", "method": "GET", "url": "https://example.com/{{ vars.n }}",
             "retry": {"max_attempts": 3}, "on_error": "e", "next": [{"to": "e", "when": "{{ steps.d.status == 200 }}"}]},
            {"id": "e", "type": "noop"}
        ]));
        assert_eq!(refusals(ok), Vec::<String>::new());
    }

    #[test]
    fn each_flaw_is_named_at_its_path() {
        assert_eq!(
            refusals(definition(json!([{"id": "a", "type": "teleport"}]))),
            ["definition.steps[0].type"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "noop", "next": [{"to": "b"}]},
                {"id": "b", "type": "noop", "next": [{"to": "a"}]}
            ]))),
            ["definition.steps[1].next[0].to"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "noop"},
                {"id": "b", "type": "noop"}
            ]))),
            ["definition.steps[1]"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "transform", "value": "{{ steps.b.x }}", "next": [{"to": "b"}]},
                {"id": "b", "type": "noop"}
            ]))),
            ["definition.steps[0].value"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "noop", "next": [{"to": "nowhere"}]}
            ]))),
            ["definition.steps[0].next[0].to"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "condition", "if": "{{ 1 > 0 }}", "next": [{"to": "b", "branch": "maybe"}]},
                {"id": "b", "type": "noop"}
            ]))),
            ["definition.steps[0].next[0].branch"]
        );
        assert_eq!(
            refusals(definition(json!([
                {"id": "a", "type": "condition", "if": "{{ 1 > }}", "next": [{"to": "b", "branch": "true"}]},
                {"id": "b", "type": "noop"}
            ]))),
            ["definition.steps[0].if"]
        );
        assert_eq!(
            refusals(
                json!({"trigger": {"type": "schedule", "cron": "61 * * * *"}, "start": "a",
                "steps": [{"id": "a", "type": "noop"}]})
            ),
            ["definition.trigger.cron"]
        );
        assert_eq!(
            refusals(definition(
                json!([{"id": "a", "type": "transform", "value": "{{ secrets.x }}"}])
            )),
            ["definition.steps[0].value"]
        );
    }

    #[test]
    fn a_webhook_secret_is_never_shown() {
        let def: Definition = serde_json::from_value(json!({
            "trigger": {"type": "webhook", "signature": {"header": "X-Sig", "secret": "0123456789abcdef0123"}},
            "start": "a", "steps": [{"id": "a", "type": "noop"}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let shown = serde_json::to_string(&def.redacted()).unwrap_or_default();
        assert!(!shown.contains("0123456789abcdef0123"));
    }
}
