//! The single table: `pk`/`sk` strings, GSIs `gsi1` and `gsi2` projecting
//! everything, on-demand billing, a new-image stream (as template.yaml
//! declares it).

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use shared::ports::table::{Index, PK, SK};

use super::ProvisionError;

/// Creates the table `name` with its indexes.
pub async fn create_table(sdk: &SdkConfig, name: &str) -> Result<(), ProvisionError> {
    let resource = format!("table {name}");
    let fail = |e: aws_sdk_dynamodb::error::BuildError| ProvisionError::new(&resource, e);
    let key = |attr: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attr)
            .key_type(kind)
            .build()
    };
    let string_attr = |attr: &str| {
        AttributeDefinition::builder()
            .attribute_name(attr)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let mut request = aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        // The outbox publisher reads new images from the stream.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(fail)?,
        )
        .key_schema(key(PK, KeyType::Hash).map_err(fail)?)
        .key_schema(key(SK, KeyType::Range).map_err(fail)?)
        .attribute_definitions(string_attr(PK).map_err(fail)?)
        .attribute_definitions(string_attr(SK).map_err(fail)?);
    for index in Index::ALL {
        request = request
            .attribute_definitions(string_attr(index.partition_attr()).map_err(fail)?)
            .attribute_definitions(string_attr(index.sort_attr()).map_err(fail)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name())
                    .key_schema(key(index.partition_attr(), KeyType::Hash).map_err(fail)?)
                    .key_schema(key(index.sort_attr(), KeyType::Range).map_err(fail)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(fail)?,
            );
    }
    request
        .send()
        .await
        .map_err(|e| ProvisionError::new(&resource, e))?;
    Ok(())
}
