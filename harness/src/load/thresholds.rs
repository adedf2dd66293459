//! k6-like thresholds: rules such as `turn_latency.p95<1500ms`,
//! `http_req.p(99)<=800ms`, `connect.max<2s`, `error_rate<1%`, `checks>99%`,
//! parsed ([`Rule::parse`]) and judged against a run's percentiles and rates
//! ([`evaluate`]). A latency rule names a metric (any histogram of the run:
//! `connect`, `turn_latency`, `start_speaking→session_ready`, `http_req`, a
//! route's name) and a statistic (`p50`, `p90`, `p95`, `p99`, `p999`,
//! `p(N)`, `med`, `avg`, `min`, `max`, `count`); a bare number is
//! milliseconds, as in k6. A rate rule names `error_rate` (failed operations
//! over all), `http_req_failed` (the same for HTTP requests) or `checks`
//! (passed checks over all) with a fraction or a percentage. A rule on a
//! metric without samples fails: a threshold that cannot be judged is not met.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::Summary;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Comparison {
    const ALL: [(&'static str, Comparison); 6] = [
        ("<=", Comparison::LessOrEqual),
        (">=", Comparison::GreaterOrEqual),
        ("==", Comparison::Equal),
        ("!=", Comparison::NotEqual),
        ("<", Comparison::Less),
        (">", Comparison::Greater),
    ];

    fn symbol(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }

    /// Whether `observed OP limit` holds.
    pub(crate) fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Comparison::Less => observed < limit,
            Comparison::LessOrEqual => observed <= limit,
            Comparison::Greater => observed > limit,
            Comparison::GreaterOrEqual => observed >= limit,
            Comparison::Equal => observed == limit,
            Comparison::NotEqual => observed != limit,
        }
    }
}

/// What a rule measures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Measure {
    /// A statistic of a latency histogram (values in milliseconds).
    Latency {
        /// The metric's name.
        metric: String,
        statistic: Statistic,
    },
    /// A rate from 0 to 1.
    Rate(RateMetric),
}

/// A histogram statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Statistic {
    /// A percentile, 0 to 100.
    Percentile(f64),
    Mean,
    /// Smallest.
    Min,
    /// Largest.
    Max,
    /// Samples (a count, not a latency).
    Count,
}

/// The rates a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateMetric {
    /// Failed operations (WebSocket and HTTP) over all operations.
    ErrorRate,
    /// Failed HTTP requests over all HTTP requests.
    HttpReqFailed,
    /// Passed checks (contract checks, expected statuses) over all checks.
    Checks,
}

impl RateMetric {
    fn name(self) -> &'static str {
        match self {
            RateMetric::ErrorRate => "error_rate",
            RateMetric::HttpReqFailed => "http_req_failed",
            RateMetric::Checks => "checks",
        }
    }
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    /// What it measures.
    pub measure: Measure,
    /// How it compares.
    pub comparison: Comparison,
    /// The limit: milliseconds for latencies, a count for `count`, 0 to 1 for rates.
    pub limit: f64,
}

/// Why a rule did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadRule(String);

fn bad(message: impl Into<String>) -> BadRule {
    BadRule(message.into())
}

fn parse_statistic(text: &str) -> Option<Statistic> {
    let percentile = |digits: &str| -> Option<Statistic> {
        let value: f64 = digits.parse().ok()?;
        (value > 0.0 && value <= 100.0).then_some(Statistic::Percentile(value))
    };
    match text {
        "avg" | "mean" => Some(Statistic::Mean),
        "min" => Some(Statistic::Min),
        "max" => Some(Statistic::Max),
        "med" => Some(Statistic::Percentile(50.0)),
        "count" => Some(Statistic::Count),
        "p999" => Some(Statistic::Percentile(99.9)),
        _ => {
            if let Some(inner) = text.strip_prefix("p(").and_then(|t| t.strip_suffix(')')) {
                percentile(inner)
            } else if let Some(digits) = text.strip_prefix('p') {
                if digits.chars().all(|c| c.is_ascii_digit()) && !digits.is_empty() {
                    percentile(digits)
                } else {
                    None
                }
            } else {
                None
            }
        }
    }
}

/// Milliseconds from `1500ms`, `1.5s`, `800us`, `2m` or a bare number (ms).
fn parse_latency(text: &str) -> Option<f64> {
    let units = [
        ("ms", 1.0),
        ("us", 0.001),
        ("µs", 0.001),
        ("s", 1000.0),
        ("m", 60_000.0),
    ];
    for (unit, scale) in units {
        if let Some(number) = text.strip_suffix(unit) {
            return number
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v * scale);
        }
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A rate from `1%` or `0.01`.
fn parse_rate(text: &str) -> Option<f64> {
    match text.strip_suffix('%') {
        Some(number) => number.trim().parse::<f64>().ok().map(|v| v / 100.0),
        None => text.parse::<f64>().ok(),
    }
    .filter(|v| v.is_finite())
}

impl Rule {
    /// Parses `metric.stat OP value` or `rate OP value`.
    pub(crate) fn parse(text: &str) -> Result<Self, BadRule> {
        let text = text.trim();
        let (at, symbol, comparison) = Comparison::ALL
            .iter()
            .filter_map(|(symbol, comparison)| {
                text.find(symbol).map(|at| (at, *symbol, *comparison))
            })
            .min_by_key(|(at, symbol, _)| (*at, std::cmp::Reverse(symbol.len())))
            .ok_or_else(|| bad("no comparison (<, <=, >, >=, ==, !=)"))?;
        let left = text[..at].trim();
        let right = text[at + symbol.len()..].trim();
        if left.is_empty() || right.is_empty() {
            return Err(bad("a rule is `metric.statistic < value`"));
        }
        let rate = [
            RateMetric::ErrorRate,
            RateMetric::HttpReqFailed,
            RateMetric::Checks,
        ]
        .into_iter()
        .find(|r| r.name() == left || format!("{}.rate", r.name()) == left);
        if let Some(rate) = rate {
            let limit = parse_rate(right)
                .ok_or_else(|| bad(format!("{right:?} is not a rate (1% or 0.01)")))?;
            return Ok(Rule {
                measure: Measure::Rate(rate),
                comparison,
                limit,
            });
        }
        // `p(99.9)` holds a dot of its own: split before it.
        let split_at = match left.rfind(".p(") {
            Some(at) if left.ends_with(')') => Some(at),
            _ => left.rfind('.'),
        };
        let (metric, statistic) = split_at
            .map(|at| (&left[..at], &left[at + 1..]))
            .and_then(|(metric, stat)| Some((metric, parse_statistic(stat)?)))
            .ok_or_else(|| {
                bad(format!(
                    "{left:?} is neither a rate (error_rate, http_req_failed, checks) nor \
                     metric.statistic (p95, p(99), avg, min, max, med, count)"
                ))
            })?;
        if metric.trim().is_empty() {
            return Err(bad("the metric's name is missing"));
        }
        let limit = if statistic == Statistic::Count {
            right
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(format!("{right:?} is not a count")))?
        } else {
            parse_latency(right)
                .ok_or_else(|| bad(format!("{right:?} is not a latency (1500ms, 1.5s, 800us)")))?
        };
        Ok(Rule {
            measure: Measure::Latency {
                metric: metric.trim().to_owned(),
                statistic,
            },
            comparison,
            limit,
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.comparison.symbol();
        match &self.measure {
            Measure::Rate(rate) => write!(f, "{}{op}{}%", rate.name(), self.limit * 100.0),
            Measure::Latency { metric, statistic } => {
                let stat = match statistic {
                    Statistic::Percentile(p) => format!("p({p})"),
                    Statistic::Mean => "avg".to_owned(),
                    Statistic::Min => "min".to_owned(),
                    Statistic::Max => "max".to_owned(),
                    Statistic::Count => "count".to_owned(),
                };
                let unit = if *statistic == Statistic::Count {
                    ""
                } else {
                    "ms"
                };
                write!(f, "{metric}.{stat}{op}{}{unit}", self.limit)
            }
        }
    }
}

/// The counts behind the rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Operations (timed WebSocket operations, HTTP requests, failures).
    pub operations: u64,
    /// Failed operations.
    pub failed: u64,
    pub http_requests: u64,
    /// Failed HTTP requests.
    pub http_failed: u64,
    /// Checks made.
    pub checks: u64,
    pub checks_passed: u64,
}

impl Counts {
    /// Adds another run's counts (segments merged).
    pub fn add(&mut self, other: &Counts) {
        self.operations += other.operations;
        self.failed += other.failed;
        self.http_requests += other.http_requests;
        self.http_failed += other.http_failed;
        self.checks += other.checks;
        self.checks_passed += other.checks_passed;
    }

    fn rate(&self, metric: RateMetric) -> Option<f64> {
        let (part, whole) = match metric {
            RateMetric::ErrorRate => (self.failed, self.operations),
            RateMetric::HttpReqFailed => (self.http_failed, self.http_requests),
            RateMetric::Checks => (self.checks_passed, self.checks),
        };
        (whole > 0).then(|| part as f64 / whole as f64)
    }
}

/// A judged rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Judgement {
    /// The rule as written.
    pub rule: String,
    /// Whether it held.
    pub passed: bool,
    /// What was observed (ms, a count, or a rate from 0 to 1); absent without samples.
    pub observed: Option<f64>,
    /// The observation in words.
    pub detail: String,
}

/// The value a statistic takes in a summary (ms, or a count).
fn statistic_of(summary: &Summary, statistic: Statistic, histogram: Option<&str>) -> f64 {
    let ms = |us: u64| us as f64 / 1000.0;
    match statistic {
        Statistic::Count => summary.count as f64,
        Statistic::Mean => summary.mean_us / 1000.0,
        Statistic::Min => ms(summary.min_us),
        Statistic::Max => ms(summary.max_us),
        Statistic::Percentile(p) => {
            let exact = [
                (50.0, summary.p50_us),
                (90.0, summary.p90_us),
                (95.0, summary.p95_us),
                (99.0, summary.p99_us),
                (99.9, summary.p999_us),
            ]
            .into_iter()
            .find(|(at, _)| *at == p)
            .map(|(_, us)| us);
            match (exact, histogram) {
                (Some(us), _) => ms(us),
                (None, Some(encoded)) => {
                    quantile_of(encoded, p / 100.0).map(ms).unwrap_or(f64::NAN)
                }
                (None, None) => f64::NAN,
            }
        }
    }
}

/// Any quantile of a serialized histogram.
fn quantile_of(encoded: &str, quantile: f64) -> Option<u64> {
    let metrics = crate::metrics::Metrics::default();
    let one: BTreeMap<String, String> = [("m".to_owned(), encoded.to_owned())].into();
    metrics.merge_serialized(&one).ok()?;
    metrics.quantile("m", quantile)
}

/// Judges every rule against the run's summaries, serialized histograms and counts.
pub(crate) fn evaluate(
    rules: &[String],
    summaries: &BTreeMap<String, Summary>,
    histograms: &BTreeMap<String, String>,
    counts: &Counts,
) -> Vec<Judgement> {
    rules
        .iter()
        .map(|text| {
            let judged = |passed: bool, observed: Option<f64>, detail: String| Judgement {
                rule: text.clone(),
                passed,
                observed,
                detail,
            };
            let rule = match Rule::parse(text) {
                Ok(rule) => rule,
                Err(e) => return judged(false, None, format!("not a rule: {e}")),
            };
            match &rule.measure {
                Measure::Rate(rate) => match counts.rate(*rate) {
                    Some(value) => judged(
                        rule.comparison.holds(value, rule.limit),
                        Some(value),
                        format!("{} = {:.3}%", rate.name(), value * 100.0),
                    ),
                    None => judged(false, None, format!("{} has no samples", rate.name())),
                },
                Measure::Latency { metric, statistic } => match summaries.get(metric) {
                    Some(summary) if summary.count > 0 => {
                        let value = statistic_of(
                            summary,
                            *statistic,
                            histograms.get(metric).map(String::as_str),
                        );
                        let unit = if *statistic == Statistic::Count {
                            ""
                        } else {
                            " ms"
                        };
                        judged(
                            rule.comparison.holds(value, rule.limit),
                            Some(value),
                            format!("observed {value:.3}{unit} over {} samples", summary.count),
                        )
                    }
                    _ => judged(false, None, format!("no samples of {metric}")),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(p95_ms: u64, count: u64) -> Summary {
        Summary {
            count,
            min_us: 1,
            mean_us: 1000.0,
            p50_us: 1000,
            p90_us: 1000,
            p95_us: p95_ms * 1000,
            p99_us: p95_ms * 1000,
            p999_us: p95_ms * 1000,
            max_us: p95_ms * 1000,
        }
    }

    #[test]
    fn the_forms_of_the_issue_parse() {
        let rule = Rule::parse("turn_latency.p95<1500ms").unwrap();
        assert_eq!(
            rule.measure,
            Measure::Latency {
                metric: "turn_latency".into(),
                statistic: Statistic::Percentile(95.0)
            }
        );
        assert_eq!((rule.comparison, rule.limit), (Comparison::Less, 1500.0));
        let rule = Rule::parse("error_rate<1%").unwrap();
        assert_eq!(rule.measure, Measure::Rate(RateMetric::ErrorRate));
        assert!((rule.limit - 0.01).abs() < 1e-12);
        assert_eq!(
            Rule::parse("checks>99%").unwrap().comparison,
            Comparison::Greater
        );
        assert_eq!(
            Rule::parse("http_req.p(99.9) <= 1.5s").unwrap().limit,
            1500.0
        );
        assert_eq!(Rule::parse("connect.max<800us").unwrap().limit, 0.8);
        assert_eq!(
            Rule::parse("start_speaking→session_ready.avg<300")
                .unwrap()
                .limit,
            300.0
        );
        assert_eq!(Rule::parse("http_req.count>=1000").unwrap().limit, 1000.0);
        assert_eq!(Rule::parse("error_rate.rate<0.05").unwrap().limit, 0.05);
    }

    #[test]
    fn bad_rules_say_why() {
        for (text, why) in [
            ("turn_latency.p95", "no comparison"),
            ("turn_latency<5ms", "neither a rate"),
            ("turn_latency.p95<fast", "not a latency"),
            ("error_rate<lots", "not a rate"),
            ("<5ms", "metric.statistic"),
            ("turn_latency.p(101)<5ms", "neither a rate"),
        ] {
            let error = Rule::parse(text).unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn rules_hold_or_break_and_missing_metrics_fail() {
        let summaries: BTreeMap<String, Summary> =
            [("turn_latency".to_owned(), summary(1200, 10))].into();
        let counts = Counts {
            operations: 200,
            failed: 1,
            checks: 100,
            checks_passed: 100,
            ..Counts::default()
        };
        let rules: Vec<String> = [
            "turn_latency.p95<1500ms",
            "turn_latency.p95<1s",
            "error_rate<1%",
            "error_rate<0.1%",
            "checks>99%",
            "connect.p95<100ms",
            "http_req_failed<1%",
        ]
        .map(str::to_owned)
        .into();
        let verdicts: Vec<bool> = evaluate(&rules, &summaries, &BTreeMap::new(), &counts)
            .iter()
            .map(|j| j.passed)
            .collect();
        assert_eq!(verdicts, [true, false, true, false, true, false, false]);
    }

    #[test]
    fn an_odd_percentile_reads_the_histogram() {
        let metrics = crate::metrics::Metrics::default();
        for ms in 1..=1000 {
            metrics.record(
                "m",
                std::time::Duration::from_millis(ms),
                std::time::Duration::ZERO,
            );
        }
        let judged = evaluate(
            &["m.p(75)<800ms".to_owned()],
            &metrics.summaries(),
            &metrics.serialized(),
            &Counts::default(),
        );
        let observed = judged[0].observed.unwrap();
        assert!((749.0..=751.0).contains(&observed), "{observed}");
        assert!(judged[0].passed);
    }

    fn metric_name() -> impl Strategy<Value = String> {
        "[a-z_]{1,12}(→[a-z_]{1,8})?"
    }

    fn statistic() -> impl Strategy<Value = Statistic> {
        prop_oneof![
            (1u32..=100).prop_map(|p| Statistic::Percentile(f64::from(p))),
            Just(Statistic::Mean),
            Just(Statistic::Min),
            Just(Statistic::Max),
            Just(Statistic::Count),
        ]
    }

    fn comparison() -> impl Strategy<Value = Comparison> {
        proptest::sample::select(Comparison::ALL.map(|(_, c)| c).to_vec())
    }

    proptest! {
        #[test]
        fn printed_rules_parse_back(metric in metric_name(), statistic in statistic(), comparison in comparison(), limit in 0u32..1_000_000) {
            let rule = Rule { measure: Measure::Latency { metric, statistic }, comparison, limit: f64::from(limit) };
            prop_assert_eq!(Rule::parse(&rule.to_string()).unwrap(), rule);
        }

        #[test]
        fn printed_rate_rules_parse_back(which in 0usize..3, comparison in comparison(), percent in 0u32..=100) {
            let rate = [RateMetric::ErrorRate, RateMetric::HttpReqFailed, RateMetric::Checks][which];
            let rule = Rule { measure: Measure::Rate(rate), comparison, limit: f64::from(percent) / 100.0 };
            let parsed = Rule::parse(&rule.to_string()).unwrap();
            prop_assert_eq!(parsed.measure, rule.measure);
            prop_assert!((parsed.limit - rule.limit).abs() < 1e-9);
        }

        #[test]
        fn the_parser_never_panics(text in "\\PC{0,40}") {
            let _ = Rule::parse(&text);
        }

        #[test]
        fn a_latency_rule_agrees_with_the_comparison(p95 in 1u64..10_000, limit in 1u32..10_000) {
            let summaries: BTreeMap<String, Summary> = [("m".to_owned(), summary(p95, 5))].into();
            let judged = evaluate(&[format!("m.p95<{limit}ms")], &summaries, &BTreeMap::new(), &Counts::default());
            prop_assert_eq!(judged[0].passed, (p95 as f64) < f64::from(limit));
        }
    }
}
