//! The workflows every new project gets, visible and editable like any
//! other: one mails the organization's owners when an execution fails,
//! one keeps the project's apps' draft manifests made again after every
//! studio change. The matcher makes the first from `project.created` and
//! the second from the project's first `app.created` (a project without
//! apps has no drafts to keep, and runs nothing on each studio change),
//! each once (a marker in the same transaction).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};

use super::definition::{self, Definition};
use super::executions::{self, TriggerRecord};
use super::workflows::{self, Workflow};
use crate::change::{Change, ChangeError};
use crate::http::ApiError;
use crate::ports::table::{Condition, Item, Write};
use crate::services::Services;
use crate::studio::projects;

/// The defaults: their role, name, description and definition.
fn defaults() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "notify_failures",
            "Tell the owners when a run fails",
            "Mails the organization's owners each time an execution of this project fails.",
            json!({
                "trigger": {"type": "event", "source": "nocode.automation", "detail_type": "workflow.execution_failed"},
                "start": "notify",
                "steps": [{
                    "id": "notify", "type": "notify", "roles": ["owner"],
                    "subject": "A workflow run failed: {{ trigger.event.detail.workflow_id }}",
                    "body": "Execution {{ trigger.event.detail.execution_id }} failed: {{ trigger.event.detail.error }}"
                }]
            }),
        ),
        (
            "app_drafts",
            "Keep app drafts current",
            "Makes the draft manifest of each app of this project again after every studio change.",
            json!({
                "trigger": {"type": "event", "source": "nocode.studio", "detail_type": "*"},
                "start": "refresh",
                "steps": [{"id": "refresh", "type": "refresh_app_drafts"}]
            }),
        ),
    ]
}

/// Makes a new project's default workflows, once.
/// What an event makes: the defaults it brings and the marker that makes
/// them once.
fn made_by(detail_type: &str) -> Option<(&'static [&'static str], &'static str)> {
    match detail_type {
        crate::studio::projects::CREATED => Some((&["notify_failures"], "DEFAULTS")),
        crate::runtime::apps::CREATED => Some((&["app_drafts"], "DEFAULTS#APPS")),
        _ => None,
    }
}

/// Makes the default workflows `event` brings to its project, once.
pub async fn ensure(services: &Services, event: &EventBridgeEvent<Value>) -> Result<(), ApiError> {
    let Some((roles, marker_sk)) = made_by(&event.detail_type) else {
        return Ok(());
    };
    let Some(project_id) = event.detail.get("project_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let table = services.table()?;
    let project = match projects::load(table, project_id).await {
        Ok(project) => project,
        Err(ApiError::NotFound) => return Ok(()),
        Err(error) => return Err(error),
    };
    let mut marker = Item::new();
    marker.insert("pk".into(), json!(format!("WORKFLOWS#{project_id}")));
    marker.insert("sk".into(), json!(marker_sk));
    let mut change = Change::new().write(
        "marker",
        Write::Put {
            item: marker,
            condition: Some(Condition::Absent),
        },
    );
    let mut made = Vec::new();
    for (role, name, description, raw) in defaults() {
        if !roles.contains(&role) {
            continue;
        }
        let definition: Definition = definition::parse(&raw, "definition")
            .map_err(|e| ApiError::Internal(format!("default `{role}`: {e:?}")))?;
        let mut workflow: Workflow = workflows::new_workflow(
            &project,
            name.into(),
            Some(description.into()),
            true,
            &definition,
            &project.created_by,
        )?;
        workflow.default_of = Some(role.into());
        change = change.then(workflows::creation(&workflow, &definition)?);
        made.push(workflow);
    }
    match change.commit(table).await {
        Ok(()) => {}
        Err(ChangeError::Refused("marker")) => return Ok(()),
        Err(error) => return Err(error.into()),
    }
    // Studio changes made while the workflow was on its way found no
    // subscription: one run now catches the drafts up.
    for workflow in made
        .iter()
        .filter(|w| w.default_of.as_deref() == Some("app_drafts"))
    {
        let trigger = TriggerRecord {
            kind: "event".into(),
            payload: json!({"event": {"type": event.detail_type, "detail": event.detail}}),
        };
        let execution = executions::new(workflow, trigger, 0)?;
        executions::start(services, &execution, Change::new()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_workflows() {
        for (role, _, _, raw) in defaults() {
            let definition =
                definition::parse(&raw, "definition").unwrap_or_else(|e| panic!("{role}: {e:?}"));
            assert_eq!(definition::check(&definition, "definition"), [], "{role}");
        }
    }
}
