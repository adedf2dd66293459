//! Inline SVG charts for report.html, drawn in Rust: no chart library and no
//! script, so the page works offline and one report always renders to the
//! same bytes.
//!
//! - [`percentiles`]: p50 / p90 / p95 / p99 / p99.9 / max of one metric;
//! - [`over_time`]: one metric's samples against the run's clock;
//! - [`timeline()`]: sessions as rows, their events (connect, sends, streams,
//!   receives by message type, expectations, failures, close) as marks
//!   (module [`mod@timeline`]);
//! - [`bars`]: labelled horizontal bars (the cost by component).
//!
//! Every mark carries a `<title>`, which browsers show as a tooltip.

pub(crate) mod timeline;

use std::fmt::Write as _;

pub(crate) use timeline::{TimelineRow, timeline};

use super::markup::{attr, shorten, text};
use crate::metrics::{Sample, Summary};

/// The smallest of 1, 1.2, 1.6, 2, 3, 4, 5, 6 or 8 times a power of ten
/// that is at least `value` (1 for nothing to show): the top of an axis,
/// whose quarters are round too.
pub(crate) fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let exponent = value.log10().floor() as i32;
    // Dividing by an exact power of ten keeps 0.3 from becoming 0.30000000000000004.
    let scale = |step: f64| {
        if exponent < 0 {
            step / 10f64.powi(-exponent)
        } else {
            step * 10f64.powi(exponent)
        }
    };
    [1.0, 1.2, 1.6, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(scale)
        .find(|candidate| *candidate >= value * (1.0 - 1e-9))
        .unwrap_or_else(|| scale(10.0))
}

/// A duration given in microseconds, for labels: `850 µs`, `12.3 ms`, `2.75 s`.
pub(crate) fn format_us(us: f64) -> String {
    if us == 0.0 {
        return "0".to_owned();
    }
    match us {
        us if us < 1.0 => format!("{us:.2} µs"),
        us if us < 10.0 => format!("{us:.1} µs"),
        us if us < 1_000.0 => format!("{us:.0} µs"),
        us if us < 10_000.0 => format!("{:.2} ms", us / 1e3),
        us if us < 100_000.0 => format!("{:.1} ms", us / 1e3),
        us if us < 1_000_000.0 => format!("{:.0} ms", us / 1e3),
        us if us < 10_000_000.0 => format!("{:.2} s", us / 1e6),
        us if us < 100_000_000.0 => format!("{:.1} s", us / 1e6),
        us => format!("{:.0} s", us / 1e6),
    }
}

/// Seconds given in milliseconds, for time axes: `0 s`, `1.5 s`, `90 s`.
fn format_seconds(ms: f64) -> String {
    let seconds = ms / 1e3;
    if seconds == seconds.round() {
        format!("{seconds:.0} s")
    } else if (seconds * 10.0) == (seconds * 10.0).round() {
        format!("{seconds:.1} s")
    } else {
        format!("{seconds:.2} s")
    }
}

/// The plotting area of a chart and its linear scales.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, value: f64) -> f64 {
        let span = self.width - self.left - self.right;
        self.left + (value / self.x_max).clamp(0.0, 1.0) * span
    }

    fn y(&self, value: f64) -> f64 {
        let span = self.height - self.top - self.bottom;
        self.height - self.bottom - (value / self.y_max).clamp(0.0, 1.0) * span
    }

    fn open(&self, out: &mut String, label: &str) {
        let _ = write!(
            out,
            r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}"><title>{title}</title>"#,
            w = self.width,
            h = self.height,
            label = attr(label),
            title = text(label),
        );
    }

    /// Horizontal grid lines with the y axis' labels.
    fn y_grid(&self, out: &mut String, format: &dyn Fn(f64) -> String) {
        for step in 0..=4 {
            let value = self.y_max * f64::from(step) / 4.0;
            let y = self.y(value);
            let _ = write!(
                out,
                r##"<line x1="{x1:.1}" y1="{y:.1}" x2="{x2:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end" class="axis">{label}</text>"##,
                x1 = self.left,
                x2 = self.width - self.right,
                tx = self.left - 6.0,
                ty = y + 4.0,
                label = text(&format(value)),
            );
        }
    }

    /// The time axis along the bottom (milliseconds, labelled in seconds).
    fn x_time_axis(&self, out: &mut String, origin_ms: f64) {
        let baseline = self.height - self.bottom;
        for step in 0..=4 {
            let value = self.x_max * f64::from(step) / 4.0;
            let x = self.x(value);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{baseline:.1}" x2="{x:.1}" y2="{tick:.1}" stroke="#9ca3af"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle" class="axis">{label}</text>"##,
                tick = baseline + 4.0,
                ty = baseline + 16.0,
                label = text(&format_seconds(origin_ms + value)),
            );
        }
    }
}

/// A bar chart of one metric's percentiles (values in µs).
pub(crate) fn percentiles(name: &str, summary: &Summary) -> String {
    let values = [
        ("p50", summary.p50_us),
        ("p90", summary.p90_us),
        ("p95", summary.p95_us),
        ("p99", summary.p99_us),
        ("p99.9", summary.p999_us),
        ("max", summary.max_us),
    ];
    let frame = Frame {
        width: 360.0,
        height: 220.0,
        left: 64.0,
        right: 8.0,
        top: 20.0,
        bottom: 26.0,
        x_max: values.len() as f64,
        y_max: nice_ceiling(summary.max_us as f64),
    };
    let mut out = String::new();
    frame.open(&mut out, &format!("{name}: latency percentiles"));
    frame.y_grid(&mut out, &format_us);
    let slot = (frame.width - frame.left - frame.right) / values.len() as f64;
    for (index, (label, value)) in values.iter().enumerate() {
        let x = frame.left + slot * index as f64 + slot * 0.2;
        let y = frame.y(*value as f64);
        let height = frame.height - frame.bottom - y;
        let shown = format_us(*value as f64);
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{height:.1}" fill="#2563eb"><title>{title}</title></rect><text x="{cx:.1}" y="{vy:.1}" text-anchor="middle" class="value">{shown}</text><text x="{cx:.1}" y="{ly:.1}" text-anchor="middle" class="axis">{label}</text>"##,
            w = slot * 0.6,
            title = text(&format!("{label}: {shown}")),
            cx = x + slot * 0.3,
            vy = y - 4.0,
            shown = text(&shown),
            ly = frame.height - frame.bottom + 16.0,
        );
    }
    out.push_str("</svg>");
    out
}

/// A scatter chart of one metric's samples against the run's clock.
pub(crate) fn over_time(name: &str, samples: &[Sample]) -> String {
    let frame = Frame {
        width: 560.0,
        height: 200.0,
        left: 64.0,
        right: 16.0,
        top: 12.0,
        bottom: 30.0,
        x_max: nice_ceiling(samples.iter().map(|s| s.at_ms).max().unwrap_or(0) as f64),
        y_max: nice_ceiling(samples.iter().map(|s| s.value_us).max().unwrap_or(0) as f64),
    };
    let mut out = String::new();
    frame.open(&mut out, &format!("{name} over the run"));
    frame.y_grid(&mut out, &format_us);
    frame.x_time_axis(&mut out, 0.0);
    if samples.is_empty() {
        out.push_str(
            r#"<text x="280" y="100" text-anchor="middle" class="axis">no samples</text>"#,
        );
    }
    out.push_str(r##"<g fill="#2563eb" fill-opacity="0.6">"##);
    for sample in samples {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2.2"/>"#,
            frame.x(sample.at_ms as f64),
            frame.y(sample.value_us as f64)
        );
    }
    out.push_str("</g></svg>");
    out
}

/// Horizontal bars, one per labelled value, with each value printed by `format`.
pub(crate) fn bars(label: &str, items: &[(String, f64)], format: &dyn Fn(f64) -> String) -> String {
    const ROW: f64 = 24.0;
    let frame = Frame {
        width: 720.0,
        height: ROW * items.len() as f64 + 12.0,
        left: 180.0,
        right: 110.0,
        top: 6.0,
        bottom: 6.0,
        x_max: items
            .iter()
            .map(|(_, v)| *v)
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE),
        y_max: 1.0,
    };
    let mut out = String::new();
    frame.open(&mut out, label);
    for (index, (name, value)) in items.iter().enumerate() {
        let y = frame.top + ROW * index as f64;
        let end = frame.x(value.max(0.0));
        let shown = format(*value);
        let _ = write!(
            out,
            r##"<text x="{lx:.1}" y="{ty:.1}" text-anchor="end" class="axis">{name}</text><rect x="{x0:.1}" y="{ry:.1}" width="{w:.1}" height="16" fill="#0d9488"><title>{title}</title></rect><text x="{vx:.1}" y="{ty:.1}" class="value">{shown}</text>"##,
            lx = frame.left - 8.0,
            ty = y + 15.0,
            name = text(&shorten(name, 28)),
            x0 = frame.left,
            ry = y + 3.0,
            w = (end - frame.left).max(1.0),
            title = text(&format!("{name}: {shown}")),
            vx = end + 6.0,
            shown = text(&shown),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(values: [u64; 6]) -> Summary {
        Summary {
            count: 10,
            min_us: 1,
            mean_us: 1.0,
            p50_us: values[0],
            p90_us: values[1],
            p95_us: values[2],
            p99_us: values[3],
            p999_us: values[4],
            max_us: values[5],
        }
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 8.0);
        assert_eq!(nice_ceiling(1_000.0), 1_000.0);
        assert_eq!(nice_ceiling(1_001.0), 1_200.0);
        assert_eq!(nice_ceiling(2_400.0), 3_000.0);
        assert_eq!(nice_ceiling(0.3), 0.3);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_us(0.0), "0");
        assert_eq!(format_us(0.25), "0.25 µs");
        assert_eq!(format_us(2.5), "2.5 µs");
        assert_eq!(format_us(850.0), "850 µs");
        assert_eq!(format_us(1_234.0), "1.23 ms");
        assert_eq!(format_us(12_345.0), "12.3 ms");
        assert_eq!(format_us(2_752_500.0), "2.75 s");
        assert_eq!(format_seconds(1_500.0), "1.5 s");
        assert_eq!(format_seconds(90_000.0), "90 s");
    }

    #[test]
    fn percentile_bars_grow_with_their_values() {
        let svg = percentiles("turn_latency", &summary([100, 200, 300, 400, 500, 1_000]));
        // The y axis tops at 1 ms; the max bar fills the 174 px plotting height.
        assert!(svg.contains(r#"height="174.0""#), "{svg}");
        assert!(svg.contains(r#"height="87.0""#), "p99.9 is half: {svg}");
        assert!(svg.contains("<title>p99: 400 µs</title>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 6);
    }

    #[test]
    fn labels_are_escaped() {
        let svg = percentiles("a<b>&c", &summary([1, 1, 1, 1, 1, 1]));
        assert!(svg.contains("a&lt;b&gt;&amp;c"));
        assert!(!svg.contains("a<b>"));
    }

    #[test]
    fn an_empty_series_says_so() {
        assert!(over_time("connect", &[]).contains("no samples"));
        let svg = over_time(
            "connect",
            &[
                Sample {
                    at_ms: 0,
                    value_us: 10,
                },
                Sample {
                    at_ms: 1_000,
                    value_us: 20,
                },
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = bars(
            "cost",
            &[("Lambda".to_owned(), 2.0), ("DynamoDB".to_owned(), 1.0)],
            &|v| format!("${v}"),
        );
        // 720 - 180 - 110 = 430 px for the largest.
        assert!(svg.contains(r#"width="430.0""#), "{svg}");
        assert!(svg.contains(r#"width="215.0""#), "{svg}");
    }

    proptest! {
        #[test]
        fn nice_ceiling_is_an_upper_bound_within_half_again(value in 1e-6f64..1e12) {
            let top = nice_ceiling(value);
            prop_assert!(top >= value * (1.0 - 1e-9));
            prop_assert!(top <= value * 1.5 * (1.0 + 1e-9));
        }

        #[test]
        fn marks_stay_inside_the_plot(values in proptest::collection::vec((0u64..10_000_000, 0u64..100_000_000), 1..50)) {
            let samples: Vec<Sample> = values.iter().map(|(at_ms, value_us)| Sample { at_ms: *at_ms, value_us: *value_us }).collect();
            let svg = over_time("m", &samples);
            for circle in svg.split("<circle ").skip(1) {
                let number = |name: &str| -> f64 {
                    let rest = &circle[circle.find(name).unwrap() + name.len() + 2..];
                    rest[..rest.find('"').unwrap()].parse().unwrap()
                };
                let (cx, cy) = (number("cx"), number("cy"));
                prop_assert!((64.0..=544.0).contains(&cx), "cx {}", cx);
                prop_assert!((12.0..=170.0).contains(&cy), "cy {}", cy);
            }
        }
    }
}
