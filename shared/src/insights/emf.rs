//! Request metrics on Lambda: CloudWatch embedded metric format lines,
//! written by `metrics_cloudwatch_embedded` (a recorder of the `metrics`
//! facade) to stdout, which Lambda sends to CloudWatch Logs, which turns
//! them into metrics. No API call and no agent: the cost is a log line.
//!
//! Each request adds to the names of [`super::metric_names`] under its two
//! dimension sets; the recorder writes one document per dimension set.
//! Dimensions are only the function, the route and the module, so the
//! number of metrics stays bounded by the route table, not by tenants.

use std::io::Write;

use metrics::Unit;
use metrics_cloudwatch_embedded::{Builder, Collector};

use super::metric_names::{
    DIMENSION_FUNCTION, DIMENSION_MODULE, DIMENSION_ROUTE, ERRORS, LATENCY, METRICS_NAMESPACE,
    REQUESTS,
};
use crate::requests::{Observation, Observer};

/// The process's EMF recorder (the `metrics` facade has one per process).
pub struct Emf {
    collector: &'static Collector,
}

impl Emf {
    /// Installs the recorder; `timestamp` fixes every line's time (tests).
    /// Fails when the process already has a recorder.
    pub fn install(timestamp: Option<u64>) -> Result<Self, String> {
        let mut builder = Builder::new()
            .cloudwatch_namespace(METRICS_NAMESPACE)
            // `Errors` is written as 0 too: its average is the error rate.
            .emit_zeros(true);
        if let Some(timestamp) = timestamp {
            builder = builder.with_timestamp(timestamp);
        }
        let collector = builder.init().map_err(|e| e.to_string())?;
        metrics::describe_histogram!(LATENCY, Unit::Milliseconds, "time in the handler");
        metrics::describe_counter!(REQUESTS, Unit::Count, "requests answered");
        metrics::describe_counter!(ERRORS, Unit::Count, "requests answered with a 5xx");
        Ok(Self { collector })
    }

    /// Writes what was recorded since the last flush, one line per
    /// dimension set (after each invocation, to stdout).
    pub fn flush(&self, writer: impl Write) -> std::io::Result<()> {
        self.collector.flush(writer)
    }
}

impl Observer for Emf {
    fn observe(&self, observation: &Observation) {
        let milliseconds = observation.latency.as_secs_f64() * 1000.0;
        let error = u64::from(observation.is_server_error());
        let by_route = [
            (DIMENSION_FUNCTION, observation.function.to_string()),
            (DIMENSION_ROUTE, observation.route.clone()),
        ];
        let by_module = [(DIMENSION_MODULE, observation.module.to_string())];
        for labels in [&by_route[..], &by_module[..]] {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|(name, value)| metrics::Label::new(*name, value.clone()))
                .collect();
            metrics::histogram!(LATENCY, labels.clone()).record(milliseconds);
            metrics::counter!(REQUESTS, labels.clone()).increment(1);
            metrics::counter!(ERRORS, labels).increment(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use serde_json::{Map, Value};

    use super::*;
    use crate::insights::metric_names::{DIMENSION_SETS, UNIT_COUNT, UNIT_MILLISECONDS};

    /// The units CloudWatch accepts (`MetricDatum.Unit`).
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    type Checked = Result<(), String>;

    fn fail(why: impl Into<String>) -> Checked {
        Err(why.into())
    }

    /// Checks one line against the EMF specification's required members;
    /// gives each metric's unit and values, with the line's dimension set.
    fn check_document(
        line: &str,
        units: &mut Vec<(String, String)>,
        sets: &mut Vec<Vec<String>>,
    ) -> Checked {
        let document: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let aws = document
            .get("_aws")
            .and_then(Value::as_object)
            .ok_or("no `_aws` object")?;
        if !aws.get("Timestamp").is_some_and(Value::is_u64) {
            return fail("`_aws.Timestamp` is not an integer of milliseconds");
        }
        let directives = aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .ok_or("no `CloudWatchMetrics` array")?;
        if directives.is_empty() {
            return fail("no metric directive");
        }
        for directive in directives {
            if !directive.get("Namespace").is_some_and(Value::is_string) {
                return fail("a directive without a `Namespace` string");
            }
            let dimension_sets = directive
                .get("Dimensions")
                .and_then(Value::as_array)
                .ok_or("a directive without a `Dimensions` array")?;
            for set in dimension_sets {
                let names = set.as_array().ok_or("a dimension set that is no array")?;
                if names.len() > 30 {
                    return fail("more than 30 dimensions in a set");
                }
                let mut set_names = Vec::new();
                for name in names {
                    let name = name.as_str().ok_or("a dimension name that is no string")?;
                    if !document.get(name).is_some_and(Value::is_string) {
                        return fail(format!("dimension {name} is no string member"));
                    }
                    set_names.push(name.to_string());
                }
                sets.push(set_names);
            }
            let metrics = directive
                .get("Metrics")
                .and_then(Value::as_array)
                .ok_or("a directive without a `Metrics` array")?;
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or("a metric without a `Name` string")?;
                if let Some(unit) = metric.get("Unit") {
                    let unit = unit.as_str().ok_or("a `Unit` that is no string")?;
                    if !UNITS.contains(&unit) {
                        return fail(format!("{unit} is no CloudWatch unit"));
                    }
                    units.push((name.to_string(), unit.to_string()));
                }
                match document.get(name) {
                    Some(Value::Number(_)) => {}
                    Some(Value::Array(values))
                        if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                    _ => return fail(format!("{name} holds no number or array of numbers")),
                }
            }
        }
        Ok(())
    }

    // The recorder is global to the test binary: this is the only test
    // that installs it.
    #[test]
    fn one_request_writes_lines_the_emf_specification_accepts() -> Checked {
        const AT: u64 = 1_764_756_000_000;
        let emf = Emf::install(Some(AT))?;
        emf.observe(&Observation {
            function: "studio-projects-get",
            module: "studio",
            route: "GET /api/v1/studio/projects/{id}".into(),
            status: 503,
            latency: Duration::from_micros(12_500),
            organization: Some("01ORG".into()),
            project: None,
            at: chrono::Utc::now(),
        });
        let mut out = Vec::new();
        emf.flush(&mut out).map_err(|e| e.to_string())?;
        let text = String::from_utf8(out).map_err(|e| e.to_string())?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), DIMENSION_SETS.len(), "{text}");
        let (mut units, mut sets) = (Vec::new(), Vec::new());
        for line in &lines {
            check_document(line, &mut units, &mut sets)?;
            let document: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
            assert_eq!(document["_aws"]["Timestamp"], AT);
            assert_eq!(
                document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                METRICS_NAMESPACE
            );
            assert_eq!(document[LATENCY], serde_json::json!([12.5]));
            assert_eq!(document[REQUESTS], 1);
            assert_eq!(document[ERRORS], 1);
        }
        // Both sets of metric_names, and no other dimension (no tenant).
        let want: HashSet<Vec<String>> = DIMENSION_SETS
            .iter()
            .map(|set| set.iter().map(|n| n.to_string()).collect())
            .collect();
        assert_eq!(sets.into_iter().collect::<HashSet<_>>(), want);
        assert!(!text.contains("01ORG"));
        for (name, unit) in units {
            let want = if name == LATENCY {
                UNIT_MILLISECONDS
            } else {
                UNIT_COUNT
            };
            assert_eq!(unit, want, "{name}");
        }
        // A flush writes only what came since the last one; zeros are
        // written for counters so `Errors` averages to the error rate.
        let mut again = Vec::new();
        emf.flush(&mut again).map_err(|e| e.to_string())?;
        let again = String::from_utf8(again).map_err(|e| e.to_string())?;
        assert!(!again.contains(LATENCY), "{again}");
        Ok(())
    }
}
