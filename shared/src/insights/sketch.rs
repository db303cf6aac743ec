//! Latency percentiles that survive merging: an HDR histogram of
//! microseconds. Hourly rollups are merged into days, and counts from many
//! processes into one item, so percentiles come from merged histograms,
//! never from averages of percentiles.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// The longest latency told apart from longer ones: an hour, in µs. A
/// Lambda runs at most 15 minutes, so nothing real reaches it.
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Three significant digits: a percentile is off by at most 0.1 %, inside
/// the 1 % the dashboards promise; two digits (1 %) would leave no margin.
const PRECISE: u8 = 3;

/// Two digits, for the live view's short-lived per-second sketches: an
/// eighth of the memory, still within 1 %.
const COARSE: u8 = 2;

/// Why a stored sketch cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum SketchError {
    /// Not base64, or not a serialized histogram.
    #[error("not a stored latency sketch: {0}")]
    Unreadable(String),
    /// A histogram that cannot be merged into this one.
    #[error("latency sketches do not merge: {0}")]
    Merge(String),
}

/// A mergeable record of latencies.
#[derive(Clone, Debug)]
pub struct Sketch {
    digits: u8,
    /// Made at the first latency: an empty sketch costs nothing.
    histogram: Option<Histogram<u64>>,
}

impl Sketch {
    /// An empty sketch for stored rollups (three significant digits).
    pub fn new() -> Self {
        Self::with_digits(PRECISE)
    }

    /// An empty sketch with two significant digits (the live view).
    pub fn coarse() -> Self {
        Self::with_digits(COARSE)
    }

    fn with_digits(digits: u8) -> Self {
        Self {
            digits,
            histogram: None,
        }
    }

    /// The histogram, made on first use. Auto-resizing: memory grows with
    /// the longest latency seen, not with the hour the range allows.
    fn histogram(&mut self) -> Option<&mut Histogram<u64>> {
        if self.histogram.is_none() {
            // Only a digit count beyond the crate's 0..=5 fails; ours are
            // constants inside it.
            self.histogram = Histogram::new(self.digits).ok();
        }
        self.histogram.as_mut()
    }

    /// Records one latency (clamped to 1 µs ..= 1 h).
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let micros = micros.clamp(1, HIGHEST_MICROS);
        if let Some(histogram) = self.histogram() {
            // `record` grows the histogram to the value; saturating would
            // clamp it to what the histogram covers so far.
            if histogram.record(micros).is_err() {
                histogram.saturating_record(micros);
            }
        }
    }

    /// Adds every latency of `other`.
    pub fn merge(&mut self, other: &Sketch) -> Result<(), SketchError> {
        let Some(source) = &other.histogram else {
            return Ok(());
        };
        match self.histogram() {
            Some(histogram) => histogram
                .add(source)
                .map_err(|e| SketchError::Merge(format!("{e:?}"))),
            None => Err(SketchError::Merge("no histogram".into())),
        }
    }

    /// How many latencies it holds.
    pub fn count(&self) -> u64 {
        self.histogram.as_ref().map_or(0, Histogram::len)
    }

    /// The latency at quantile `q` (0.5 for the median), in milliseconds;
    /// 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        match &self.histogram {
            Some(histogram) if !histogram.is_empty() => {
                // The histogram answers the highest value equivalent to the
                // bucket's; its middle is the better estimate of the
                // samples in it.
                let value = histogram.value_at_quantile(q);
                histogram.median_equivalent(value) as f64 / 1000.0
            }
            _ => 0.0,
        }
    }

    /// The sketch as text for the table: a compressed V2 histogram, base64.
    pub fn to_text(&self) -> Result<String, SketchError> {
        let empty;
        let histogram = match &self.histogram {
            Some(histogram) => histogram,
            None => {
                empty = Histogram::<u64>::new(self.digits)
                    .map_err(|e| SketchError::Unreadable(format!("{e:?}")))?;
                &empty
            }
        };
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(histogram, &mut bytes)
            .map_err(|e| SketchError::Unreadable(format!("{e:?}")))?;
        Ok(STANDARD.encode(bytes))
    }

    /// A sketch [`Sketch::to_text`] wrote.
    pub fn from_text(text: &str) -> Result<Self, SketchError> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| SketchError::Unreadable(e.to_string()))?;
        let mut histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| SketchError::Unreadable(format!("{e:?}")))?;
        // Merging a longer latency into a read-back sketch must grow it.
        histogram.auto(true);
        Ok(Self {
            digits: PRECISE,
            histogram: Some(histogram),
        })
    }
}

impl Default for Sketch {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded xorshift generator: the recorded set is the same every run.
    struct Samples(u64);

    impl Samples {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            // 53 random bits in (0, 1).
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        /// A log-normal latency around 12 ms with a long tail, with one
        /// request in fifty a slow one around 400 ms: what an API answers.
        fn latency(&mut self) -> Duration {
            let (u1, u2) = (self.uniform(), self.uniform());
            let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            let median_ms = if self.uniform() < 0.02 { 400.0 } else { 12.0 };
            Duration::from_secs_f64(median_ms * (0.6 * normal).exp() / 1000.0)
        }
    }

    /// The exact percentile of sorted samples (nearest rank), in ms.
    fn exact(sorted: &[Duration], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1].as_secs_f64() * 1000.0
    }

    fn assert_within_one_percent(sketch: &Sketch, sorted: &[Duration]) {
        for q in [0.5, 0.95, 0.99] {
            let (want, got) = (exact(sorted, q), sketch.quantile_ms(q));
            let error = (got - want).abs() / want;
            assert!(error < 0.01, "p{}: {got} ms for {want} ms", q * 100.0);
        }
    }

    #[test]
    fn percentiles_of_100_000_latencies_are_within_one_percent() {
        let mut samples = Samples(0x5eed_1a7e_2026_1203);
        let recorded: Vec<Duration> = (0..100_000).map(|_| samples.latency()).collect();
        let mut whole = Sketch::new();
        for latency in &recorded {
            whole.record(*latency);
        }
        let mut sorted = recorded.clone();
        sorted.sort();
        assert_eq!(whole.count(), 100_000);
        assert_within_one_percent(&whole, &sorted);
    }

    #[test]
    fn stored_and_merged_sketches_keep_their_percentiles() -> Result<(), SketchError> {
        let mut samples = Samples(0x0dd_ba11_2026_1203);
        let recorded: Vec<Duration> = (0..100_000).map(|_| samples.latency()).collect();
        // Ten processes each record a share, store it, and a reader merges.
        let mut merged = Sketch::new();
        for share in recorded.chunks(10_000) {
            let mut sketch = Sketch::new();
            for latency in share {
                sketch.record(*latency);
            }
            merged.merge(&Sketch::from_text(&sketch.to_text()?)?)?;
        }
        let mut sorted = recorded;
        sorted.sort();
        assert_eq!(merged.count(), 100_000);
        assert_within_one_percent(&merged, &sorted);
        Ok(())
    }

    #[test]
    fn a_coarse_sketch_is_within_one_percent_too() {
        let mut samples = Samples(7);
        let mut sketch = Sketch::coarse();
        let mut recorded: Vec<Duration> = (0..10_000).map(|_| samples.latency()).collect();
        for latency in &recorded {
            sketch.record(*latency);
        }
        recorded.sort();
        assert_within_one_percent(&sketch, &recorded);
    }

    #[test]
    fn extremes_are_clamped_and_garbage_is_refused() {
        let mut sketch = Sketch::new();
        sketch.record(Duration::ZERO);
        sketch.record(Duration::from_secs(10 * 3600));
        assert_eq!(sketch.count(), 2);
        assert!(sketch.quantile_ms(1.0) <= 3_600_000.0 * 1.001);
        assert_eq!(Sketch::new().quantile_ms(0.5), 0.0);
        assert!(Sketch::from_text("not a sketch").is_err());
        assert!(Sketch::from_text("AAAA").is_err());
    }
}
