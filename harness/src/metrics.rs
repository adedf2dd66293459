//! Latency metrics with HDR histograms: microsecond precision, constant
//! memory, mergeable across workers. One histogram per metric name
//! (`connect`, `turn_latency`, `start_speaking→session_ready`, ...), a bounded
//! map of error kinds to counts, and a bounded series of samples over time for
//! the report's latency-over-time chart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Highest value a histogram records (1 hour, in µs); larger values are clamped.
pub const MAX_MICROS: u64 = 3_600_000_000;
/// How many distinct error kinds are kept; the rest count under "other".
pub const MAX_ERROR_KINDS: usize = 64;
/// How many samples the over-time series keeps per metric.
pub const MAX_SERIES: usize = 2_000;

/// Percentiles of one metric, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min_us: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

/// One sample in the over-time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sample {
    /// Milliseconds since the run started.
    pub at_ms: u64,
    /// The value in µs.
    pub value_us: u64,
}

/// A new histogram (1 µs to 1 hour, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Summarises a histogram.
pub fn summarize(histogram: &Histogram<u64>) -> Summary {
    Summary {
        count: histogram.len(),
        min_us: histogram.min(),
        mean_us: (histogram.mean() * 10.0).round() / 10.0,
        p50_us: histogram.value_at_quantile(0.50),
        p90_us: histogram.value_at_quantile(0.90),
        p95_us: histogram.value_at_quantile(0.95),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        max_us: histogram.max(),
    }
}

/// Contract checks over all received messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConformanceTally {
    /// Messages checked.
    pub checked: u64,
    /// Valid ones.
    pub valid: u64,
    /// Known type, invalid payload.
    pub invalid: u64,
    /// Unknown type or shape (or not JSON).
    pub unknown: u64,
    /// Valid messages by message name.
    pub by_message: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Inner {
    histograms: BTreeMap<String, Histogram<u64>>,
    series: BTreeMap<String, Vec<Sample>>,
    errors: BTreeMap<String, u64>,
    conformance: ConformanceTally,
}

/// Where a tapped [`Metrics`] sends everything it is given instead of keeping
/// it: load runs tap each session's metrics to hand every operation to the
/// load driver as well as to the run's metrics.
pub trait MetricsTap: Send + Sync + std::fmt::Debug {
    /// A latency (see [`Metrics::record`]).
    fn record(&self, name: &str, value: Duration, at: Duration);
    /// An error of a kind (see [`Metrics::error`]).
    fn error(&self, kind: &str);
    /// A contract verdict (see [`Metrics::conformance`]).
    fn conformance(&self, verdict: &crate::contract::asyncapi::Verdict);
}

/// The metrics of a run (shared by every session).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// When set, every record goes there and nothing is kept here.
    tap: Option<Arc<dyn MetricsTap>>,
}

impl Metrics {
    /// Metrics that keep nothing and pass everything to `tap`.
    pub fn tapped(tap: Arc<dyn MetricsTap>) -> Self {
        Self {
            inner: Mutex::default(),
            tap: Some(tap),
        }
    }

    /// Forgets everything recorded so far (histograms, series, errors,
    /// contract tally): a load run's warm-up passes are reported apart and
    /// the run's figures are its last pass's.
    pub fn reset(&self) {
        *self.inner.lock().expect("metrics lock") = Inner::default();
    }

    /// Records a latency under `name`, at `at` since the run started.
    pub fn record(&self, name: &str, value: Duration, at: Duration) {
        if let Some(tap) = &self.tap {
            tap.record(name, value, at);
            return;
        }
        let micros = u64::try_from(value.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        let mut inner = self.inner.lock().expect("metrics lock");
        inner
            .histograms
            .entry(name.to_owned())
            .or_insert_with(new_histogram)
            .saturating_record(micros);
        let series = inner.series.entry(name.to_owned()).or_default();
        if series.len() < MAX_SERIES {
            series.push(Sample {
                at_ms: at.as_millis() as u64,
                value_us: micros,
            });
        }
    }

    /// Counts an error of a kind (bounded: past [`MAX_ERROR_KINDS`] kinds, "other").
    pub fn error(&self, kind: &str) {
        if let Some(tap) = &self.tap {
            tap.error(kind);
            return;
        }
        let mut inner = self.inner.lock().expect("metrics lock");
        let known = inner.errors.contains_key(kind) || inner.errors.len() < MAX_ERROR_KINDS;
        let key = if known {
            kind.to_owned()
        } else {
            "other".to_owned()
        };
        *inner.errors.entry(key).or_insert(0) += 1;
    }

    /// Counts a contract verdict.
    pub fn conformance(&self, verdict: &crate::contract::asyncapi::Verdict) {
        use crate::contract::asyncapi::Verdict;
        if let Some(tap) = &self.tap {
            tap.conformance(verdict);
            return;
        }
        let mut inner = self.inner.lock().expect("metrics lock");
        let tally = &mut inner.conformance;
        tally.checked += 1;
        match verdict {
            Verdict::Valid(name) => {
                tally.valid += 1;
                *tally.by_message.entry(name.clone()).or_insert(0) += 1;
            }
            Verdict::Invalid { .. } => tally.invalid += 1,
            Verdict::Unknown { .. } | Verdict::NotJson => tally.unknown += 1,
        }
    }

    /// The contract tally.
    pub fn conformance_tally(&self) -> ConformanceTally {
        self.inner.lock().expect("metrics lock").conformance.clone()
    }

    /// Summaries by metric name.
    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        let inner = self.inner.lock().expect("metrics lock");
        inner
            .histograms
            .iter()
            .map(|(name, h)| (name.clone(), summarize(h)))
            .collect()
    }

    /// Any quantile (0 to 1) of a metric, in µs.
    pub fn quantile(&self, name: &str, quantile: f64) -> Option<u64> {
        let inner = self.inner.lock().expect("metrics lock");
        inner
            .histograms
            .get(name)
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(quantile))
    }

    /// The over-time series by metric name.
    pub fn series(&self) -> BTreeMap<String, Vec<Sample>> {
        self.inner.lock().expect("metrics lock").series.clone()
    }

    /// Error counts by kind.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.inner.lock().expect("metrics lock").errors.clone()
    }

    /// The histograms serialized (HDR V2 deflate, base64), for merging across workers.
    pub fn serialized(&self) -> BTreeMap<String, String> {
        use base64::Engine as _;
        use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
        let inner = self.inner.lock().expect("metrics lock");
        let mut serializer = V2DeflateSerializer::new();
        inner
            .histograms
            .iter()
            .filter_map(|(name, h)| {
                let mut bytes = Vec::new();
                serializer.serialize(h, &mut bytes).ok()?;
                Some((
                    name.clone(),
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                ))
            })
            .collect()
    }

    /// Adds serialized histograms from another worker.
    pub fn merge_serialized(&self, histograms: &BTreeMap<String, String>) -> Result<(), String> {
        use base64::Engine as _;
        use hdrhistogram::serialization::Deserializer;
        let mut inner = self.inner.lock().expect("metrics lock");
        for (name, encoded) in histograms {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("{name}: {e}"))?;
            let other: Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| format!("{name}: {e:?}"))?;
            inner
                .histograms
                .entry(name.clone())
                .or_insert_with(new_histogram)
                .add(&other)
                .map_err(|e| format!("{name}: {e:?}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percentiles_in_microseconds() {
        let metrics = Metrics::default();
        for ms in 1..=100 {
            metrics.record("turn_latency", Duration::from_millis(ms), Duration::ZERO);
        }
        let summary = &metrics.summaries()["turn_latency"];
        assert_eq!(summary.count, 100);
        assert!((49_900..=50_100).contains(&summary.p50_us), "{summary:?}");
        assert!((98_900..=99_100).contains(&summary.p99_us), "{summary:?}");
        assert!(summary.max_us >= 100_000);
    }

    #[test]
    fn a_reset_forgets_every_figure() {
        let metrics = Metrics::default();
        metrics.record("http_req", Duration::from_millis(5), Duration::ZERO);
        metrics.error("HTTP 500");
        metrics.reset();
        assert!(metrics.summaries().is_empty());
        assert!(metrics.series().is_empty());
        assert!(metrics.errors().is_empty());
        metrics.record("http_req", Duration::from_millis(7), Duration::ZERO);
        assert_eq!(metrics.summaries()["http_req"].count, 1);
    }

    #[test]
    fn error_kinds_are_bounded() {
        let metrics = Metrics::default();
        for i in 0..(MAX_ERROR_KINDS + 10) {
            metrics.error(&format!("kind-{i}"));
        }
        let errors = metrics.errors();
        assert_eq!(errors.len(), MAX_ERROR_KINDS + 1);
        assert_eq!(errors["other"], 10);
    }

    proptest! {
        #[test]
        fn merging_two_halves_equals_one_run(values in proptest::collection::vec(1u64..10_000_000, 1..300), split in 0usize..300) {
            let split = split.min(values.len());
            let whole = Metrics::default();
            let left = Metrics::default();
            let right = Metrics::default();
            for (i, v) in values.iter().enumerate() {
                let d = Duration::from_micros(*v);
                whole.record("m", d, Duration::ZERO);
                if i < split { left.record("m", d, Duration::ZERO) } else { right.record("m", d, Duration::ZERO) }
            }
            let merged = Metrics::default();
            merged.merge_serialized(&left.serialized()).unwrap();
            merged.merge_serialized(&right.serialized()).unwrap();
            prop_assert_eq!(merged.summaries()["m"].clone(), whole.summaries()["m"].clone());
        }
    }
}
