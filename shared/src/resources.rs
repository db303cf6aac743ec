//! The platform's named resources, declared once: queues, buckets, event rules
//! and the user pool's password policy. The embedded adapters, the emulator
//! provisioning (infra/) and template.yaml all follow these lists.

use std::time::Duration;

use crate::ports::events::DomainEvent;

/// A queue and its dead-letter policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// Logical name; the dead-letter queue is `<name>-dlq`.
    pub name: &'static str,
    /// Receives after which a message moves to the dead-letter queue.
    pub max_receives: u32,
    /// Default visibility timeout of a received message.
    pub visibility_timeout: Duration,
    /// Most messages one batch of its worker holds (Lambda's `BatchSize`:
    /// 10 is one receive; more needs a batching window).
    pub batch_size: u32,
    /// How long Lambda gathers a fuller batch (`MaximumBatchingWindowInSeconds`);
    /// zero: a batch is one receive.
    pub batching_window: Duration,
}

impl QueueSpec {
    /// The logical name of this queue's dead-letter queue.
    pub fn dead_letter_name(&self) -> String {
        dead_letter_name(self.name)
    }
}

/// The logical name of a queue's dead-letter queue.
pub fn dead_letter_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// Every queue the workers consume.
pub const QUEUES: &[QueueSpec] = &[
    // The engine's function runs up to 90 s; a turn stays hidden longer.
    QueueSpec {
        name: "workflow-runs",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(120),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    QueueSpec {
        name: "event-triggers",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(30),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    QueueSpec {
        name: "insights-ingest",
        max_receives: 3,
        visibility_timeout: Duration::from_secs(30),
        // Counting is cheap per event and waits for nothing: fuller batches
        // mean fewer invocations on Lambda and bigger commits locally.
        batch_size: 100,
        batching_window: Duration::from_secs(1),
    },
    QueueSpec {
        name: "studio-cleanup",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    QueueSpec {
        name: "runtime-cleanup",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    // A records batch its request left is finished from here.
    QueueSpec {
        name: "runtime-batch",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    // Filling an index goes on in continuations, each within one run.
    QueueSpec {
        name: "runtime-index",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    // Apps' drafts follow their projects; deleted apps are cleared.
    QueueSpec {
        name: "runtime-apps",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
    // Files given back are deleted.
    QueueSpec {
        name: "runtime-files",
        max_receives: 5,
        visibility_timeout: Duration::from_secs(60),
        batch_size: 10,
        batching_window: Duration::ZERO,
    },
];

/// The spec of a declared queue, if `name` is one (dead-letter queues are not).
pub fn queue(name: &str) -> Option<&'static QueueSpec> {
    QUEUES.iter().find(|q| q.name == name)
}

/// Every bucket: uploaded documents, project exports, deployed app bundles,
/// page trees too large for a table item, the files of records.
pub const BUCKETS: &[&str] = &["documents", "exports", "bundles", "pages", "files"];

/// How a rule matches one field of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Any value.
    Any,
    /// A value starting with this prefix.
    Prefix(&'static str),
    /// One of these values.
    OneOf(&'static [&'static str]),
}

impl Match {
    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Match::Any => true,
            Match::Prefix(p) => value.starts_with(p),
            Match::OneOf(values) => values.contains(&value),
        }
    }

    /// The EventBridge pattern fragment, `None` for [`Match::Any`].
    pub fn pattern(&self) -> Option<serde_json::Value> {
        match self {
            Match::Any => None,
            Match::Prefix(p) => Some(serde_json::json!([{ "prefix": p }])),
            Match::OneOf(values) => Some(serde_json::json!(values)),
        }
    }
}

/// An event rule: events whose source and detail-type match go to a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Rule name.
    pub name: &'static str,
    /// Match on `source`.
    pub source: Match,
    /// Match on `detail-type`.
    pub detail_type: Match,
    /// Logical name of the target queue.
    pub target_queue: &'static str,
}

impl Rule {
    /// Whether an event matches this rule.
    pub fn matches(&self, event: &DomainEvent) -> bool {
        self.source.matches(&event.source) && self.detail_type.matches(&event.detail_type)
    }

    /// The rule as an EventBridge event pattern (JSON text).
    pub fn event_pattern(&self) -> String {
        let mut pattern = serde_json::Map::new();
        if let Some(p) = self.source.pattern() {
            pattern.insert("source".into(), p);
        }
        if let Some(p) = self.detail_type.pattern() {
            pattern.insert("detail-type".into(), p);
        }
        serde_json::Value::Object(pattern).to_string()
    }
}

/// Every rule of the platform's event bus.
pub const RULES: &[Rule] = &[
    // Every platform event feeds insights.
    Rule {
        name: "insights-ingest",
        source: Match::Prefix("nocode."),
        detail_type: Match::Any,
        target_queue: "insights-ingest",
    },
    // Changes in the builder's modules may fire event-triggered workflows.
    Rule {
        name: "event-triggers",
        source: Match::OneOf(&["nocode.foundation", "nocode.studio", "nocode.runtime"]),
        detail_type: Match::Any,
        target_queue: "event-triggers",
    },
    // … and so may failed executions and the events workflows emit (not
    // the start and end of every execution, which only insights counts).
    Rule {
        name: "automation-failures",
        source: Match::OneOf(&["nocode.automation"]),
        detail_type: Match::OneOf(&["workflow.execution_failed"]),
        target_queue: "event-triggers",
    },
    Rule {
        name: "automation-custom",
        source: Match::OneOf(&["nocode.automation"]),
        detail_type: Match::Prefix("custom."),
        target_queue: "event-triggers",
    },
    // A new execution's first turn comes from its committed start event.
    Rule {
        name: "workflow-start",
        source: Match::OneOf(&["nocode.automation"]),
        detail_type: Match::OneOf(&["workflow.execution_started"]),
        target_queue: "workflow-runs",
    },
    // A deleted project's partition, or a deleted page's history, is
    // cleared after it.
    Rule {
        name: "studio-cleanup",
        source: Match::OneOf(&["nocode.studio"]),
        detail_type: Match::OneOf(&["project.deleted", "page.deleted"]),
        target_queue: "studio-cleanup",
    },
    // A deleted table's records, or a deleted project's tables' records,
    // are cleared after them.
    Rule {
        name: "runtime-cleanup",
        source: Match::OneOf(&["nocode.studio"]),
        detail_type: Match::OneOf(&["table.deleted", "project.deleted"]),
        target_queue: "runtime-cleanup",
    },
    // Every records batch is looked at again once its request must be
    // done, and finished if it was not.
    Rule {
        name: "runtime-batch",
        source: Match::OneOf(&["nocode.runtime"]),
        detail_type: Match::OneOf(&["record.batch_started"]),
        target_queue: "runtime-batch",
    },
    // A schema change's new indexes are filled, its dropped ones cleared.
    Rule {
        name: "runtime-index",
        source: Match::OneOf(&["nocode.studio"]),
        detail_type: Match::OneOf(&["table.schema_changed"]),
        target_queue: "runtime-index",
    },
    // A deleted project takes its apps (their drafts follow studio's
    // changes through each project's default workflow).
    Rule {
        name: "runtime-apps",
        source: Match::OneOf(&["nocode.studio"]),
        detail_type: Match::OneOf(&["project.deleted"]),
        target_queue: "runtime-apps",
    },
    // A new app's first draft; a deleted app's versions, keys and manifests.
    Rule {
        name: "runtime-apps-own",
        source: Match::OneOf(&["nocode.runtime"]),
        detail_type: Match::OneOf(&["app.created", "app.deleted"]),
        target_queue: "runtime-apps",
    },
    // Files records gave back are deleted.
    Rule {
        name: "runtime-files",
        source: Match::OneOf(&["nocode.runtime"]),
        detail_type: Match::OneOf(&["file.released"]),
        target_queue: "runtime-files",
    },
    // … and those of removed fields, deleted tables and projects.
    Rule {
        name: "runtime-files-studio",
        source: Match::OneOf(&["nocode.studio"]),
        detail_type: Match::OneOf(&["table.schema_changed", "table.deleted", "project.deleted"]),
        target_queue: "runtime-files",
    },
];

/// The user pool's password policy (NIST SP 800-63B): a length range and no
/// composition rules. Commonly used and easily guessed passwords are refused
/// before the pool is called (`foundation::password`), since Cognito has no
/// such check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Shortest password, in characters.
    pub min_length: usize,
    /// Longest password, in characters (Cognito's limit).
    pub max_length: usize,
    /// Needs an upper-case letter (never, per NIST; spelled out for the pool).
    pub require_uppercase: bool,
    /// Needs a lower-case letter.
    pub require_lowercase: bool,
    /// Needs a digit.
    pub require_numbers: bool,
    /// Needs a symbol.
    pub require_symbols: bool,
}

/// The policy every user pool of the platform uses.
pub const PASSWORD_POLICY: PasswordPolicy = PasswordPolicy {
    min_length: 8,
    max_length: 256,
    require_uppercase: false,
    require_lowercase: false,
    require_numbers: false,
    require_symbols: false,
};

impl PasswordPolicy {
    /// Checks a password's length; the error says which bound it misses.
    pub fn check(&self, password: &str) -> Result<(), String> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(format!("must be at least {} characters", self.min_length));
        }
        if length > self.max_length {
            return Err(format!("must be at most {} characters", self.max_length));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_are_ones_lambda_accepts() {
        for queue in QUEUES {
            // An SQS event source takes 1 to 10,000; above 10 only with a window.
            assert!((1..=10_000).contains(&queue.batch_size), "{}", queue.name);
            assert!(
                queue.batch_size <= 10 || !queue.batching_window.is_zero(),
                "{} needs a batching window",
                queue.name
            );
            assert!(queue.batching_window <= Duration::from_secs(300));
        }
    }

    #[test]
    fn rules_match_like_their_patterns() {
        let studio = DomainEvent::new("studio", "project.created", json!({}));
        let insights = DomainEvent::new("insights", "metric.recorded", json!({}));
        let foreign = DomainEvent {
            source: "other".into(),
            ..DomainEvent::new("other", "x", json!({}))
        };
        let targets = |e: &DomainEvent| {
            RULES
                .iter()
                .filter(|r| r.matches(e))
                .map(|r| r.target_queue)
                .collect::<Vec<_>>()
        };
        assert_eq!(targets(&studio), ["insights-ingest", "event-triggers"]);
        assert_eq!(targets(&insights), ["insights-ingest"]);
        assert!(targets(&foreign).is_empty());
        assert_eq!(
            RULES[0].event_pattern(),
            r#"{"source":[{"prefix":"nocode."}]}"#
        );
    }

    #[test]
    fn every_rule_targets_a_declared_queue() {
        for rule in RULES {
            assert!(queue(rule.target_queue).is_some(), "{}", rule.name);
        }
    }

    #[test]
    fn the_password_policy_bounds_length_only() {
        assert!(PASSWORD_POLICY.check("lowercase only").is_ok());
        assert!(
            PASSWORD_POLICY
                .check("sevench")
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            PASSWORD_POLICY
                .check(&"a".repeat(257))
                .unwrap_err()
                .contains("at most 256")
        );
        assert!(PASSWORD_POLICY.check(&"é".repeat(256)).is_ok());
    }
}
