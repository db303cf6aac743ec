//! A workflow's schedule: a five-field cron expression (minute, hour, day
//! of month, month, day of week) read in an IANA time zone, so "9:00 every
//! weekday" stays 9:00 across daylight saving time. Parsed once at the
//! edge; the scheduler only asks for the next due minute after a moment.

use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A checked schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

impl Schedule {
    /// Reads a five-field cron expression and an optional time zone
    /// (default UTC); the error says which is wrong.
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, String> {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "is five fields (minute hour day-of-month month day-of-week), not {fields}"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| format!("is not a cron expression: {e}"))?;
        let zone = match timezone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name)
                .map_err(|_| format!("`{name}` is no IANA time zone (Europe/Paris, UTC …)"))?,
        };
        Ok(Self { cron, zone })
    }

    /// The first due minute strictly after `after` (whole minutes, UTC).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        let utc = next.with_timezone(&Utc);
        utc.with_second(0).and_then(|t| t.with_nanosecond(0))
    }
}

/// A moment's minute, as the scheduler's buckets name it.
pub fn minute_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_next_minute_follows_the_expression() {
        let every_five = Schedule::parse("*/5 * * * *", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            every_five.next_after(at("2026-12-02T10:03:30Z")),
            Some(at("2026-12-02T10:05:00Z"))
        );
        assert_eq!(
            every_five.next_after(at("2026-12-02T10:05:00Z")),
            Some(at("2026-12-02T10:10:00Z"))
        );
    }

    #[test]
    fn a_time_zone_keeps_local_time_across_daylight_saving() {
        let nine =
            Schedule::parse("0 9 * * 1-5", Some("Europe/Paris")).unwrap_or_else(|e| panic!("{e}"));
        // Winter: UTC+1.
        assert_eq!(
            nine.next_after(at("2026-12-02T00:00:00Z")),
            Some(at("2026-12-02T08:00:00Z"))
        );
        // Summer: UTC+2.
        assert_eq!(
            nine.next_after(at("2026-07-01T00:00:00Z")),
            Some(at("2026-07-01T07:00:00Z"))
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert!(
            Schedule::parse("* * * *", None)
                .unwrap_err()
                .contains("five fields")
        );
        assert!(Schedule::parse("0 0 * * * *", None).is_err());
        assert!(Schedule::parse("61 * * * *", None).is_err());
        assert!(
            Schedule::parse("* * * * *", Some("Mars/Olympus"))
                .unwrap_err()
                .contains("time zone")
        );
    }
}
