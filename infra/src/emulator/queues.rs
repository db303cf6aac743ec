//! The platform's queues, each with its dead-letter queue and redrive policy.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use shared::resources::QUEUES;

use super::ProvisionError;

/// Creates every queue of `shared::resources::QUEUES` and its dead-letter
/// queue, names suffixed; gives logical name → queue URL for both.
pub async fn create_queues(
    sdk: &SdkConfig,
    suffix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let client = aws_sdk_sqs::Client::new(sdk);
    let mut urls = BTreeMap::new();
    for spec in QUEUES {
        let dlq_name = spec.dead_letter_name();
        let dlq_url = create(
            &client,
            &format!("nocode-{dlq_name}-{suffix}"),
            BTreeMap::new(),
        )
        .await?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| ProvisionError::new(format!("queue {dlq_name}"), e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| ProvisionError {
                resource: format!("queue {dlq_name}"),
                message: "no ARN returned".into(),
            })?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": spec.max_receives,
        });
        let attributes = BTreeMap::from([
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
            (
                QueueAttributeName::VisibilityTimeout,
                spec.visibility_timeout.as_secs().to_string(),
            ),
        ]);
        let url = create(
            &client,
            &format!("nocode-{}-{suffix}", spec.name),
            attributes,
        )
        .await?;
        urls.insert(spec.name.to_string(), url);
        urls.insert(dlq_name, dlq_url);
    }
    Ok(urls)
}

async fn create(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: BTreeMap<QueueAttributeName, String>,
) -> Result<String, ProvisionError> {
    let out = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes.into_iter().collect()))
        .send()
        .await
        .map_err(|e| ProvisionError::new(format!("queue {name}"), e))?;
    out.queue_url.ok_or_else(|| ProvisionError {
        resource: format!("queue {name}"),
        message: "no URL returned".into(),
    })
}
