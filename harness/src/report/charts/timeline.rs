//! The timeline chart of report.html: sessions (or conformance cases) as
//! rows against the run's clock, their events as marks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{Frame, format_seconds, nice_ceiling};
use crate::report::markup::{shorten, text};
use crate::report::model::SessionReport;

/// Colours of the received message types, in the order the types sort.
const PALETTE: [&str; 8] = [
    "#0891b2", "#7c3aed", "#db2777", "#65a30d", "#ea580c", "#0d9488", "#9333ea", "#ca8a04",
];

/// One row of a timeline: a session (or a conformance case).
pub(crate) struct TimelineRow<'a> {
    /// Shown left of the row (`#3`, `2.1.1`).
    pub label: String,
    pub session: &'a SessionReport,
}

/// How an event kind is drawn: its legend name and colour.
fn kind_colour(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "connect" => "#16a34a",
        "send" => "#2563eb",
        "stream" => "#93c5fd",
        "expect" => "#166534",
        "close" => "#111827",
        "failure" => "#dc2626",
        _ => return None,
    })
}

/// The real duration of a stream event (`12.5 s of audio`, scenario time).
fn stream_ms(detail: &str, time_scale: f64) -> f64 {
    detail
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0.0, |seconds| {
            seconds * 1e3 / time_scale.max(f64::MIN_POSITIVE)
        })
}

/// Marks that fall on the same pixel, merged.
#[derive(Default)]
struct Merged {
    count: u64,
    first_ms: u64,
    last_ms: u64,
    span_ms: f64,
}

/// Sessions as rows against the run's clock: a grey bar for the session's
/// life, tall green ticks for connects, blue ticks above the bar for sends,
/// light blue spans for audio streams, ticks below it for receives (coloured
/// by message type), dark dots for met expectations, black bars for closes
/// and red dots for failures. Marks on the same pixel merge (their tooltip
/// counts them), so a row stays small however many messages it saw.
pub(crate) fn timeline(rows: &[TimelineRow<'_>], time_scale: f64) -> String {
    const ROW: f64 = 20.0;
    const LEGEND: f64 = 26.0;
    let mut types = BTreeSet::new();
    // The axis starts at the run's start, so its ticks are round seconds.
    let start = 0u64;
    let mut end = 0u64;
    for row in rows {
        let session = row.session;
        end = end.max(session.started_at_ms + session.duration_ms);
        for event in &session.timeline {
            end = end.max(event.at_ms);
            if event.kind == "receive" {
                types.insert(event.detail.as_str());
            }
        }
        if let Some(close) = &session.close {
            end = end.max(close.at_ms);
        }
    }
    let colour_of_type: BTreeMap<&str, &str> = types
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, PALETTE[i % PALETTE.len()]))
        .collect();
    let frame = Frame {
        width: 960.0,
        height: LEGEND + ROW * rows.len() as f64 + 30.0,
        left: 96.0,
        right: 16.0,
        top: LEGEND,
        bottom: 30.0,
        x_max: nice_ceiling((end - start) as f64),
        y_max: 1.0,
    };
    let x_of = |at_ms: u64| frame.x(at_ms.saturating_sub(start) as f64);
    let mut out = String::new();
    frame.open(&mut out, &format!("timeline of {} session(s)", rows.len()));
    legend(&mut out, &colour_of_type);
    for (index, row) in rows.iter().enumerate() {
        let top = LEGEND + ROW * index as f64;
        let session = row.session;
        if index % 2 == 1 {
            let _ = write!(
                out,
                r##"<rect x="0" y="{top:.1}" width="{w:.1}" height="{ROW}" fill="#f9fafb"/>"##,
                w = frame.width
            );
        }
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" text-anchor="end" class="{class}">{label}</text>"##,
            x = frame.left - 6.0,
            y = top + 14.0,
            class = if session.passed { "axis" } else { "axis bad" },
            label = text(&shorten(&row.label, 14)),
        );
        let begin = x_of(session.started_at_ms);
        let finish = x_of(session.started_at_ms + session.duration_ms);
        let _ = write!(
            out,
            r##"<rect x="{begin:.1}" y="{y:.1}" width="{w:.1}" height="4" fill="#d1d5db"><title>{title}</title></rect>"##,
            y = top + 8.0,
            w = (finish - begin).max(1.0),
            title = text(&format!(
                "{}: {} sent, {} received, {} failure(s), {:.2} s",
                row.label,
                session.sent,
                session.received,
                session.failures.len(),
                session.duration_ms as f64 / 1e3
            )),
        );
        let mut merged: BTreeMap<(i64, &str, &str), Merged> = BTreeMap::new();
        for event in &session.timeline {
            if event.kind != "receive" && kind_colour(&event.kind).is_none() {
                continue;
            }
            let key = (
                x_of(event.at_ms).floor() as i64,
                event.kind.as_str(),
                event.detail.as_str(),
            );
            let entry = merged.entry(key).or_insert_with(|| Merged {
                first_ms: event.at_ms,
                ..Merged::default()
            });
            entry.count += 1;
            entry.last_ms = event.at_ms;
            if event.kind == "stream" {
                entry.span_ms = entry.span_ms.max(stream_ms(&event.detail, time_scale));
            }
        }
        for ((x, kind, detail), mark) in &merged {
            let x = *x as f64;
            let colour = match *kind {
                "receive" => colour_of_type.get(detail).copied().unwrap_or(PALETTE[0]),
                other => kind_colour(other).unwrap_or("#6b7280"),
            };
            let when = if mark.count > 1 {
                format!(
                    " ×{} at {}–{}",
                    mark.count,
                    format_seconds(mark.first_ms as f64),
                    format_seconds(mark.last_ms as f64)
                )
            } else {
                format!(" at {}", format_seconds(mark.first_ms as f64))
            };
            let title = text(&format!("{kind} {}{when}", shorten(detail, 200)));
            let _ = match *kind {
                "connect" => write!(
                    out,
                    r#"<line x1="{x}" y1="{a:.1}" x2="{x}" y2="{b:.1}" stroke="{colour}" stroke-width="2"><title>{title}</title></line>"#,
                    a = top + 1.0,
                    b = top + ROW - 1.0
                ),
                "send" => write!(
                    out,
                    r#"<line x1="{x}" y1="{a:.1}" x2="{x}" y2="{b:.1}" stroke="{colour}"><title>{title}</title></line>"#,
                    a = top + 2.0,
                    b = top + 9.0
                ),
                "receive" => write!(
                    out,
                    r#"<line x1="{x}" y1="{a:.1}" x2="{x}" y2="{b:.1}" stroke="{colour}"><title>{title}</title></line>"#,
                    a = top + 11.0,
                    b = top + 18.0
                ),
                "stream" => {
                    let width = (frame.x(mark.span_ms) - frame.left).max(1.0);
                    write!(
                        out,
                        r#"<rect x="{x}" y="{y:.1}" width="{w:.1}" height="12" fill="{colour}" fill-opacity="0.6"><title>{title}</title></rect>"#,
                        y = top + 4.0,
                        w = width
                    )
                }
                "expect" => write!(
                    out,
                    r#"<circle cx="{x}" cy="{y:.1}" r="2.5" fill="{colour}"><title>{title}</title></circle>"#,
                    y = top + 10.0
                ),
                "close" => write!(
                    out,
                    r#"<rect x="{a:.1}" y="{y:.1}" width="3" height="{h:.1}" fill="{colour}"><title>{title}</title></rect>"#,
                    a = x - 1.5,
                    y = top + 1.0,
                    h = ROW - 2.0
                ),
                _ => write!(
                    out,
                    r##"<circle cx="{x}" cy="{y:.1}" r="4.5" fill="{colour}" stroke="#fff"><title>{title}</title></circle>"##,
                    y = top + 10.0
                ),
            };
        }
    }
    frame.x_time_axis(&mut out, start as f64);
    out.push_str("</svg>");
    out
}

/// The timeline's legend: the event kinds, then the message types received.
fn legend(out: &mut String, colour_of_type: &BTreeMap<&str, &str>) {
    let mut x = 8.0;
    let entries = ["connect", "send", "stream", "expect", "close", "failure"]
        .into_iter()
        .map(|kind| (kind.to_owned(), kind_colour(kind).unwrap_or("#6b7280")))
        .chain(
            colour_of_type
                .iter()
                .map(|(kind, colour)| (format!("← {kind}"), *colour)),
        );
    for (label, colour) in entries {
        let label = shorten(&label, 28);
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="8" width="10" height="10" fill="{colour}"/><text x="{tx:.1}" y="17" class="axis">{label}</text>"#,
            tx = x + 14.0,
            label = text(&label),
        );
        x += 22.0 + 6.5 * label.chars().count() as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::TimelineEvent;

    fn session(events: &[(u64, &str, &str)]) -> SessionReport {
        SessionReport {
            index: 0,
            passed: true,
            started_at_ms: 0,
            duration_ms: 10_000,
            steps_completed: 0,
            sent: 0,
            received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            units_sent: 0,
            units_received: 0,
            close: None,
            failures: Vec::new(),
            timeline: events
                .iter()
                .map(|(at_ms, kind, detail)| TimelineEvent {
                    at_ms: *at_ms,
                    kind: (*kind).to_owned(),
                    detail: (*detail).to_owned(),
                })
                .collect(),
            conversation: None,
        }
    }

    #[test]
    fn timeline_marks_each_kind_and_merges_same_pixel_receives() {
        let mut events = vec![
            (0, "connect", "101 in 5 ms"),
            (10, "send", "start_speaking"),
            (20, "stream", "2.0 s of audio"),
            (2_500, "expect", "matched session_ready"),
            (9_000, "failure", "steps[3]: no matching message in time"),
            (9_500, "close", "server closed with 1011 boom"),
        ];
        for at in 3_000..3_007 {
            events.push((at, "receive", "maya_audio"));
        }
        events.push((4_000, "receive", "maya_transcript"));
        let session = session(&events);
        let svg = timeline(
            &[TimelineRow {
                label: "#0".to_owned(),
                session: &session,
            }],
            2.0,
        );
        assert!(svg.contains("receive maya_audio ×7 at 3 s–3.01 s"), "{svg}");
        assert!(svg.contains("← maya_transcript"), "legend: {svg}");
        assert!(svg.contains("failure steps[3]: no matching message in time"));
        assert!(svg.contains("close server closed with 1011 boom"));
        // A 2 s stream at time scale 2 lasts 1 s of the 10 s axis: 84.8 px.
        assert!(svg.contains(r#"width="84.8" height="12""#), "{svg}");
    }
}
