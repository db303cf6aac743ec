//! Schedule expressions as EventBridge writes them. The local gateway ticks
//! `rate(…)` schedules itself; `cron(…)` arrives with automation.

use std::time::Duration;

/// The interval of a `rate(N unit)` expression (`minute(s)`, `hour(s)`, `day(s)`).
pub fn rate_interval(expression: &str) -> Option<Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (count, unit) = inner.trim().split_once(' ')?;
    let count: u64 = count.parse().ok().filter(|n| *n > 0)?;
    let seconds = match (count, unit.trim()) {
        (1, "minute") | (2.., "minutes") => 60,
        (1, "hour") | (2.., "hours") => 3600,
        (1, "day") | (2.., "days") => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(count * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_like_eventbridge_writes_them() {
        assert_eq!(
            rate_interval("rate(1 minute)"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_interval("rate(5 minutes)"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            rate_interval("rate(2 hours)"),
            Some(Duration::from_secs(7200))
        );
        for bad in [
            "rate(1 minutes)",
            "rate(2 minute)",
            "rate(0 days)",
            "cron(0 * * * ? *)",
            "rate(x minute)",
        ] {
            assert_eq!(rate_interval(bad), None, "{bad}");
        }
    }
}
