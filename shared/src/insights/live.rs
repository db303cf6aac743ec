//! The live view's last seconds: per route, a ring of one slot a second,
//! each with its counts and a coarse sketch. Memory is bounded by the ring's
//! length times the routes of the table; an old slot is reused, not kept.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::sketch::Sketch;

/// How many seconds the live view looks back.
pub const WINDOW_SECS: i64 = 10;

#[derive(Default)]
struct Slot {
    /// The Unix second it counts; a slot of another second is stale.
    second: i64,
    requests: u64,
    server_errors: u64,
    sketch: Option<Sketch>,
}

/// The last [`WINDOW_SECS`] seconds of every route.
#[derive(Default)]
pub struct LiveWindow {
    routes: HashMap<String, Vec<Slot>>,
}

/// One route over the window, as the live view streams it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveRoute {
    /// The method and path template.
    pub route: String,
    /// Requests a second, over the window.
    pub requests_per_second: f64,
    /// The share of requests answered with a 5xx.
    pub error_rate: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
}

impl LiveWindow {
    /// Counts one request of `route` ended in Unix second `second`.
    pub fn record(&mut self, route: &str, second: i64, latency: Duration, server_error: bool) {
        let ring = match self.routes.get_mut(route) {
            Some(ring) => ring,
            None => self
                .routes
                .entry(route.to_string())
                .or_insert_with(|| (0..WINDOW_SECS).map(|_| Slot::default()).collect()),
        };
        let Some(slot) = ring.get_mut(second.rem_euclid(WINDOW_SECS) as usize) else {
            return;
        };
        if slot.second != second {
            *slot = Slot {
                second,
                ..Slot::default()
            };
        }
        slot.requests += 1;
        slot.server_errors += u64::from(server_error);
        slot.sketch
            .get_or_insert_with(Sketch::coarse)
            .record(latency);
    }

    /// Every route with a request in the [`WINDOW_SECS`] seconds up to
    /// `now` (a Unix second), by route.
    pub fn snapshot(&self, now: i64) -> Vec<LiveRoute> {
        let mut live: Vec<LiveRoute> = self
            .routes
            .iter()
            .filter_map(|(route, ring)| {
                let fresh = ring
                    .iter()
                    .filter(|s| s.requests > 0 && s.second > now - WINDOW_SECS && s.second <= now);
                let (mut requests, mut errors, mut sketch) = (0, 0, Sketch::coarse());
                for slot in fresh {
                    requests += slot.requests;
                    errors += slot.server_errors;
                    if let Some(s) = &slot.sketch {
                        // Coarse sketches of one kind always merge.
                        let _ = sketch.merge(s);
                    }
                }
                (requests > 0).then(|| LiveRoute {
                    route: route.clone(),
                    requests_per_second: requests as f64 / WINDOW_SECS as f64,
                    error_rate: errors as f64 / requests as f64,
                    p50_ms: sketch.quantile_ms(0.5),
                    p95_ms: sketch.quantile_ms(0.95),
                    p99_ms: sketch.quantile_ms(0.99),
                })
            })
            .collect();
        live.sort_by(|a, b| a.route.cmp(&b.route));
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_the_last_ten_seconds_only() {
        let mut window = LiveWindow::default();
        let ms = Duration::from_millis;
        window.record("GET /a", 100, ms(10), false);
        for second in 105..=110 {
            window.record("GET /a", second, ms(20), second == 110);
        }
        window.record("GET /b", 95, ms(5), false);
        let live = window.snapshot(110);
        assert_eq!(live.len(), 1, "{live:?}");
        let a = &live[0];
        assert_eq!(a.route, "GET /a");
        assert!((a.requests_per_second - 0.6).abs() < 1e-9);
        assert!((a.error_rate - 1.0 / 6.0).abs() < 1e-9);
        assert!((a.p50_ms - 20.0).abs() < 0.5 && a.p99_ms >= a.p50_ms);
        // A slot ten seconds old is reused for the new second.
        window.record("GET /a", 111, ms(30), false);
        window.record("GET /a", 115, ms(30), false);
        assert!(window.snapshot(120).iter().all(|r| r.route == "GET /a"));
        assert!(window.snapshot(200).is_empty());
    }
}
