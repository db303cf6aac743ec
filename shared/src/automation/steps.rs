//! The steps that touch the world: HTTP requests, records, mail and app
//! drafts. Each renders its configuration's templates over the execution
//! (`trigger`, `steps`, `vars` …), does one thing and gives its output;
//! the engine takes the step first and records what it gave
//! ([`super::engine`]). Record steps act through the runtime's own record
//! functions, as the workflow (`workflow:<id>`), so schema checks, unique
//! values, events and the audit log apply to them as to a person.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::definition::{Action, DEFAULT_STEP_TIMEOUT_MS, Step};
use super::engine::{Done, Failure, context};
use super::executions::Execution;
use super::expr;
use crate::http::{ApiError, Caller};
use crate::ports::http::{OutboundError, OutboundRequest};
use crate::ports::mail::{Mail, MessageKind};
use crate::ports::table::Query;
use crate::runtime::values::Mode;
use crate::runtime::{apps, drafts, listing, records};
use crate::services::Services;
use crate::studio::tables::{self, DataTable};
use crate::tenancy::guard::Membership;
use crate::tenancy::{RequestMeta, keys};

/// Runs one attempt of a step that touches the world.
pub async fn run(
    services: &Services,
    execution: &Execution,
    step: &Step,
    attempt: u32,
) -> Result<Done, Failure> {
    let ctx = context(execution);
    let text = |value: &str| {
        expr::render_text(value, &ctx)
            .map(|v| expr::as_text(&v))
            .map_err(Failure::new)
    };
    let render = |value: &Value| expr::render(value, &ctx).map_err(Failure::new);
    let api = |error: ApiError, input: &Value| Failure {
        message: describe(error),
        input: Some(input.clone()),
    };
    match &step.action {
        Action::HttpRequest {
            method,
            url,
            headers,
            body,
            fail_on_status,
        } => {
            let url = text(url)?;
            let mut rendered = Vec::new();
            for (name, value) in headers {
                rendered.push((name.clone(), text(value)?));
            }
            let body = body.as_ref().map(render).transpose()?;
            let input = json!({"method": method, "url": url, "headers": headers, "body": body});
            let mut sent_headers = rendered;
            // A request may be sent again (a lease that ran out, a crash
            // before its result was written): these let the receiver see
            // a repeat. A builder's own Idempotency-Key wins.
            let key = format!("{}:{}", execution.id, step.id);
            if !sent_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("idempotency-key"))
            {
                sent_headers.push(("idempotency-key".into(), key));
            }
            sent_headers.push(("x-nocode-execution".into(), execution.id.clone()));
            sent_headers.push(("x-nocode-step".into(), step.id.clone()));
            let payload = match &body {
                None => None,
                Some(Value::String(text)) => Some(text.clone().into_bytes()),
                Some(value) => {
                    if !sent_headers
                        .iter()
                        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                    {
                        sent_headers.push(("content-type".into(), "application/json".into()));
                    }
                    Some(value.to_string().into_bytes())
                }
            };
            let timeout = Duration::from_millis(step.timeout_ms.unwrap_or(DEFAULT_STEP_TIMEOUT_MS));
            let response = services
                .http()
                .send(OutboundRequest {
                    method: method.clone(),
                    url: url.clone(),
                    headers: sent_headers,
                    body: payload,
                    timeout,
                })
                .await
                .map_err(|e| Failure {
                    message: match e {
                        OutboundError::Refused(why) => format!("refused: {why}"),
                        OutboundError::Failed(why) => why,
                    },
                    input: Some(input.clone()),
                })?;
            let headers: Map<String, Value> = response
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), Value::String(v.clone())))
                .collect();
            let body = serde_json::from_slice::<Value>(&response.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&response.body).into_owned())
            });
            let output = json!({"status": response.status, "headers": headers, "body": body});
            if *fail_on_status && response.status >= 400 {
                return Err(Failure {
                    message: format!("the server answered {}", response.status),
                    input: Some(input),
                });
            }
            Ok(Done {
                output,
                input: Some(input),
                ..Done::default()
            })
        }
        Action::CreateRecord { table, values } => {
            let values = object(render(&Value::Object(values.clone()))?)?;
            let input = json!({"table": table, "values": values});
            let table = find_table(services, execution, table)
                .await
                .map_err(|e| api(e, &input))?;
            let id = record_id(execution, &step.id);
            let meta = acting(execution);
            let made = match records::create_in(services, &table, &meta, &values, Some(id.clone()))
                .await
            {
                Ok(made) => made,
                // Made by an earlier attempt of this very step.
                Err(ApiError::Conflict(conflict)) if conflict.code == "changed_concurrently" => {
                    records::read(services, &table, &id)
                        .await
                        .map_err(|e| api(e, &input))?
                }
                Err(error) => return Err(api(error, &input)),
            };
            done(serde_json::to_value(made).unwrap_or(Value::Null), input)
        }
        Action::UpdateRecord {
            table,
            record,
            values,
        } => {
            let record = text(record)?;
            let values = object(render(&Value::Object(values.clone()))?)?;
            let input = json!({"table": table, "record": record, "values": values});
            let table = find_table(services, execution, table)
                .await
                .map_err(|e| api(e, &input))?;
            let changed = records::change_in(
                services,
                &table,
                &acting(execution),
                &record,
                &values,
                None,
                Mode::Merge,
            )
            .await
            .map_err(|e| api(e, &input))?;
            done(serde_json::to_value(changed).unwrap_or(Value::Null), input)
        }
        Action::DeleteRecord { table, record } => {
            let record = text(record)?;
            let input = json!({"table": table, "record": record});
            let table = find_table(services, execution, table)
                .await
                .map_err(|e| api(e, &input))?;
            let deleted =
                match records::delete_in(services, &table, &acting(execution), &record, None).await
                {
                    Ok(()) => true,
                    // Gone already: an earlier attempt, or someone else.
                    Err(ApiError::NotFound) if attempt > 1 => false,
                    Err(error) => return Err(api(error, &input)),
                };
            done(json!({"id": record, "deleted": deleted}), input)
        }
        Action::QueryRecords {
            table,
            filter,
            sort,
            limit,
        } => {
            let filter = filter.as_deref().map(text).transpose()?;
            let limit = limit.unwrap_or(20).to_string();
            let input = json!({"table": table, "filter": filter, "sort": sort, "limit": limit});
            let table = find_table(services, execution, table)
                .await
                .map_err(|e| api(e, &input))?;
            let param = |name: &str| -> Option<&str> {
                match name {
                    "filter" => filter.as_deref(),
                    "sort" => sort.as_deref(),
                    "limit" => Some(limit.as_str()),
                    _ => None,
                }
            };
            let page = listing::query(services, &table, &param)
                .await
                .map_err(|e| api(e, &input))?;
            done(serde_json::to_value(page).unwrap_or(Value::Null), input)
        }
        Action::Notify {
            roles,
            subject,
            body,
        } => {
            let subject = text(subject)?;
            let body = text(body)?;
            let input = json!({"roles": roles, "subject": subject});
            let members = members(services, &execution.organization_id)
                .await
                .map_err(|e| api(e, &input))?;
            // A deployment with no sender sends no mail: said, not faked.
            let Some(mailer) = services.mailer() else {
                return done(
                    json!({"sent_to": [], "skipped": "no mail sender is set up"}),
                    input,
                );
            };
            let mut sent = Vec::new();
            for member in members.iter().filter(|m| roles.contains(&m.role)) {
                mailer
                    .send(&Mail {
                        to: &member.email,
                        subject: &subject,
                        kind: MessageKind::Notice,
                        secret: &body,
                    })
                    .await
                    .map_err(|why| Failure {
                        message: format!("mail to a member was not sent: {why}"),
                        input: Some(input.clone()),
                    })?;
                sent.push(member.user_id.to_string());
            }
            done(json!({"sent_to": sent}), input)
        }
        Action::RefreshAppDrafts => {
            let input = json!({});
            let store = services.table().map_err(|e| api(e, &input))?;
            let mut refreshed = Vec::new();
            for app in apps::of_project(store, &execution.project_id)
                .await
                .map_err(|e| api(e, &input))?
            {
                if let Some(app) = drafts::refresh(services, &app.id)
                    .await
                    .map_err(|e| api(e, &input))?
                {
                    refreshed.push(json!({"app_id": app.id, "revision": app.draft_revision}));
                }
            }
            done(json!({"apps": refreshed}), input)
        }
        other => Err(Failure::new(format!(
            "{} is not a step that runs on its own",
            other.kind()
        ))),
    }
}

fn done(output: Value, input: Value) -> Result<Done, Failure> {
    Ok(Done {
        output,
        input: Some(input),
        ..Done::default()
    })
}

fn object(value: Value) -> Result<Map<String, Value>, Failure> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Failure::new("the values are not an object")),
    }
}

/// An API refusal, as a step's error: its code and every field's message.
fn describe(error: ApiError) -> String {
    let problem = error.problem(None);
    if problem.errors.is_empty() {
        return format!("{}: {}", problem.code, problem.detail);
    }
    let fields: Vec<String> = problem
        .errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect();
    format!("{}: {}", problem.code, fields.join("; "))
}

/// Who a workflow's writes are by: the workflow itself, one link further
/// down the chain of workflows that led to it.
fn acting(execution: &Execution) -> RequestMeta {
    let actor = format!("workflow:{}", execution.workflow_id);
    RequestMeta {
        caller: Caller {
            sub: actor.as_str().into(),
            username: actor,
            client_id: None,
        },
        request_id: Some(execution.id.clone()),
        source_ip: None,
        chain: execution.chain + 1,
    }
}

/// The id a record step's record gets: the moment the execution started
/// and a hash of the execution and the step, so every attempt of the step
/// names the same record.
fn record_id(execution: &Execution, step: &str) -> String {
    let millis = chrono::DateTime::parse_from_rfc3339(&execution.created_at)
        .map(|t| t.timestamp_millis().max(0) as u64)
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{}/{step}", execution.id).as_bytes());
    let mut random = [0u8; 16];
    random.copy_from_slice(&digest[..16]);
    let bits = u128::from_be_bytes(random) & ((1u128 << 80) - 1);
    ulid::Ulid::from_parts(millis, bits).to_string()
}

/// A table of the execution's project, by id or by name.
async fn find_table(
    services: &Services,
    execution: &Execution,
    named: &str,
) -> Result<DataTable, ApiError> {
    let store = services.table()?;
    if let Some(table) = tables::find_in(store, &execution.project_id, named).await? {
        return Ok(table);
    }
    tables::all_tables(store, &execution.project_id)
        .await?
        .into_iter()
        .find(|t| t.name.eq_ignore_ascii_case(named))
        .ok_or_else(|| ApiError::invalid("table", format!("`{named}` is no table of the project")))
}

/// An organization's members.
async fn members(services: &Services, organization: &str) -> Result<Vec<Membership>, ApiError> {
    let page = services
        .table()?
        .query(
            &Query::partition(keys::organization_partition(organization))
                .begins_with(keys::MEMBER_PREFIX),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .map(crate::ports::table::from_item)
        .collect::<Result<_, _>>()?)
}
