//! The event bus and the rules of `shared::resources::RULES`, each targeting
//! its queue.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use shared::resources::RULES;

use super::ProvisionError;

/// Creates the bus `name` and its rules; `queue_urls` maps logical queue
/// names to the URLs `create_queues` gave.
pub async fn create_bus(
    sdk: &SdkConfig,
    name: &str,
    queue_urls: &BTreeMap<String, String>,
) -> Result<(), ProvisionError> {
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    events
        .create_event_bus()
        .name(name)
        .send()
        .await
        .map_err(|e| ProvisionError::new(format!("bus {name}"), e))?;
    for rule in RULES {
        let resource = format!("rule {}", rule.name);
        let url = queue_urls
            .get(rule.target_queue)
            .ok_or_else(|| ProvisionError {
                resource: resource.clone(),
                message: format!("no queue `{}` was created", rule.target_queue),
            })?;
        let arn = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| ProvisionError::new(&resource, e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| ProvisionError {
                resource: resource.clone(),
                message: "the target queue has no ARN".into(),
            })?;
        events
            .put_rule()
            .name(rule.name)
            .event_bus_name(name)
            .event_pattern(rule.event_pattern())
            .send()
            .await
            .map_err(|e| ProvisionError::new(&resource, e))?;
        let target = Target::builder()
            .id(rule.target_queue)
            .arn(arn)
            .build()
            .map_err(|e| ProvisionError::new(&resource, e))?;
        events
            .put_targets()
            .rule(rule.name)
            .event_bus_name(name)
            .targets(target)
            .send()
            .await
            .map_err(|e| ProvisionError::new(&resource, e))?;
    }
    Ok(())
}
