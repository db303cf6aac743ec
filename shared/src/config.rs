//! Settings read once from the environment at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `NOCODE_BACKEND` | `embedded` or `aws` | `embedded` |
//! | `NOCODE_DATA_DIR` | embedded data folder | `.nocode` |
//! | `NOCODE_PUBLIC_URL` | base URL of the local gateway (embedded presigned URLs, token issuer) | `http://127.0.0.1:8000` |
//! | `NOCODE_AUTO_CONFIRM` | embedded pool confirms sign-ups at once | `true` |
//! | `NOCODE_TABLE_NAME` | DynamoDB table | — |
//! | `NOCODE_BUCKET_<NAME>` | S3 bucket of a logical bucket (`NOCODE_BUCKET_DOCUMENTS`) | — |
//! | `NOCODE_QUEUE_URL_<NAME>` | SQS URL of a logical queue (`NOCODE_QUEUE_URL_WORKFLOW_RUNS`, `…_WORKFLOW_RUNS_DLQ`) | — |
//! | `NOCODE_EVENT_BUS` | EventBridge bus name | — |
//! | `NOCODE_USER_POOL_ID`, `NOCODE_USER_POOL_CLIENT_ID` | Cognito pool and app client | — |
//! | `NOCODE_MAIL_FROM` | verified SES sender of the platform's mail (none: no mail) | — |
//! | `NOCODE_HTTP_ALLOW` | addresses and CIDR ranges a workflow's HTTP step may call although they are private (`127.0.0.1,10.0.0.0/8`) | none |
//! | `AWS_ENDPOINT_URL` | emulator endpoint (read by the SDK itself) | — |
//!
//! AWS resources are optional one by one: a function whose route needs only
//! the table runs without bucket or queue settings, and an adapter asked for
//! a resource that is not configured answers with its `Unknown…` error.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::resources::{BUCKETS, QUEUES, dead_letter_name};

/// Which adapters the process uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded, durable backends under a data folder.
    Embedded(EmbeddedSettings),
    /// The AWS SDK adapters (real AWS or an emulator).
    Aws(AwsSettings),
}

/// Settings of the embedded backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedSettings {
    /// Where every embedded backend keeps its files.
    pub data_dir: PathBuf,
    /// Base URL the local gateway answers on.
    pub public_url: String,
    /// Whether sign-ups are confirmed without a code.
    pub auto_confirm: bool,
}

impl EmbeddedSettings {
    /// Defaults for a data folder.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            public_url: DEFAULT_PUBLIC_URL.into(),
            auto_confirm: true,
        }
    }
}

/// Names of the AWS resources, as template.yaml passes them to functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// The DynamoDB table.
    pub table_name: Option<String>,
    /// Logical bucket name → S3 bucket.
    pub buckets: BTreeMap<String, String>,
    /// Logical queue name (dead-letter queues included) → SQS queue URL.
    pub queue_urls: BTreeMap<String, String>,
    /// The EventBridge bus.
    pub event_bus: Option<String>,
    /// The Cognito user pool id.
    pub user_pool_id: Option<String>,
    /// The Cognito app client id.
    pub user_pool_client_id: Option<String>,
    /// The verified SES sender of the platform's own mail.
    pub mail_from: Option<String>,
    /// An endpoint override (emulators).
    pub endpoint_url: Option<String>,
}

/// The default base URL of the local gateway.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8000";

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A variable holds a value out of its domain.
    #[error("{name} = `{value}` is not valid: {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
}

impl Backend {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        match get("NOCODE_BACKEND").as_deref() {
            None | Some("embedded") => {
                let mut settings = EmbeddedSettings::new(
                    get("NOCODE_DATA_DIR").unwrap_or_else(|| ".nocode".into()),
                );
                if let Some(url) = get("NOCODE_PUBLIC_URL") {
                    settings.public_url = url.trim_end_matches('/').to_string();
                }
                if let Some(v) = get("NOCODE_AUTO_CONFIRM") {
                    settings.auto_confirm = parse_bool("NOCODE_AUTO_CONFIRM", &v)?;
                }
                Ok(Backend::Embedded(settings))
            }
            Some("aws") => Ok(Backend::Aws(AwsSettings::from_lookup(lookup))),
            Some(other) => Err(ConfigError::Invalid {
                name: "NOCODE_BACKEND",
                value: other.into(),
                expected: "`embedded` or `aws`",
            }),
        }
    }
}

impl AwsSettings {
    /// Reads the AWS resource names from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the AWS resource names through `lookup`; each is optional.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let mut aws = AwsSettings {
            table_name: get("NOCODE_TABLE_NAME"),
            event_bus: get("NOCODE_EVENT_BUS"),
            user_pool_id: get("NOCODE_USER_POOL_ID"),
            user_pool_client_id: get("NOCODE_USER_POOL_CLIENT_ID"),
            mail_from: get("NOCODE_MAIL_FROM"),
            endpoint_url: get("AWS_ENDPOINT_URL"),
            ..AwsSettings::default()
        };
        for bucket in BUCKETS {
            if let Some(name) = get(&format!("NOCODE_BUCKET_{}", env_suffix(bucket))) {
                aws.buckets.insert((*bucket).to_string(), name);
            }
        }
        for spec in QUEUES {
            for queue in [spec.name.to_string(), dead_letter_name(spec.name)] {
                if let Some(url) = get(&format!("NOCODE_QUEUE_URL_{}", env_suffix(&queue))) {
                    aws.queue_urls.insert(queue, url);
                }
            }
        }
        aws
    }
}

/// `workflow-runs` → `WORKFLOW_RUNS`: the suffix of a resource's variable.
pub fn env_suffix(logical_name: &str) -> String {
    logical_name.to_ascii_uppercase().replace('-', "_")
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value: value.into(),
            expected: "true or false",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn backend(vars: &[(&str, &str)]) -> Result<Backend, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Backend::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn embedded_is_the_default() {
        assert_eq!(
            backend(&[]).unwrap(),
            Backend::Embedded(EmbeddedSettings::new(".nocode"))
        );
    }

    #[test]
    fn aws_settings_name_each_resource() {
        let Backend::Aws(aws) = backend(&[
            ("NOCODE_BACKEND", "aws"),
            ("NOCODE_TABLE_NAME", "t"),
            ("NOCODE_BUCKET_DOCUMENTS", "docs-bucket"),
            ("NOCODE_QUEUE_URL_WORKFLOW_RUNS_DLQ", "http://q/dlq"),
        ])
        .unwrap() else {
            panic!("expected aws")
        };
        assert_eq!(aws.table_name.as_deref(), Some("t"));
        assert_eq!(aws.buckets["documents"], "docs-bucket");
        assert_eq!(aws.queue_urls["workflow-runs-dlq"], "http://q/dlq");
        assert_eq!(aws.event_bus, None);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(backend(&[("NOCODE_BACKEND", "gcp")]).is_err());
        assert!(backend(&[("NOCODE_AUTO_CONFIRM", "maybe")]).is_err());
    }
}

// ------------------------------------------------------ outbound HTTP

/// Addresses a workflow's HTTP step may call although they are private
/// (`NOCODE_HTTP_ALLOW`): a list of CIDR ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    ranges: Vec<(IpAddr, u8)>,
}

impl AllowList {
    /// Reads a comma-separated list of addresses and CIDR ranges
    /// (`127.0.0.1`, `10.0.0.0/8`, `::1`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (address, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| format!("`{item}` is not an address or a CIDR range"))?;
            let full = if address.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => full,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= full)
                    .ok_or_else(|| format!("`{item}` has no valid prefix length"))?,
            };
            ranges.push((address, bits));
        }
        Ok(Self { ranges })
    }

    /// Whether the list opens `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.ranges
            .iter()
            .any(|(net, bits)| within(ip, *net, *bits))
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

impl AllowList {
    /// The list `NOCODE_HTTP_ALLOW` holds; a list that does not read is
    /// logged and taken as empty (nothing private opens by mistake).
    pub fn from_env() -> Self {
        match std::env::var("NOCODE_HTTP_ALLOW") {
            Ok(text) => Self::parse(&text).unwrap_or_else(|why| {
                tracing::error!(%why, "NOCODE_HTTP_ALLOW does not read; nothing private is open");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }
}
