//! The platform's S3 buckets, one per logical bucket of
//! [`shared::resources::BUCKETS`].

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use shared::resources::BUCKETS;

use super::ProvisionError;

/// Creates `nocode-<logical>-<suffix>` for every logical bucket and returns
/// logical name → bucket name. A bucket that already exists and is ours is
/// kept, so provisioning can run again.
pub async fn create_buckets(
    sdk: &SdkConfig,
    suffix: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    // Emulators answer path-style requests only.
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    // us-east-1 is the one region that refuses an explicit location constraint.
    let location = sdk
        .region()
        .map(|r| r.as_ref())
        .filter(|r| *r != "us-east-1")
        .map(|r| {
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(r))
                .build()
        });

    let mut buckets = BTreeMap::new();
    for logical in BUCKETS {
        let name = bucket_name(logical, suffix);
        let created = client
            .create_bucket()
            .bucket(&name)
            .set_create_bucket_configuration(location.clone())
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(ProvisionError::new(format!("bucket {name}"), e)),
        }
        buckets.insert((*logical).to_string(), name);
    }
    Ok(buckets)
}

/// A valid S3 bucket name: lower-case letters, digits and `-`.
fn bucket_name(logical: &str, suffix: &str) -> String {
    format!("nocode-{logical}-{suffix}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_bucket_names() {
        assert_eq!(
            bucket_name("documents", "B-01J_X"),
            "nocode-documents-b-01j-x"
        );
        assert_eq!(bucket_name("exports", "x."), "nocode-exports-x");
    }
}
