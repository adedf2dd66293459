//! Tests of report.html on the made-up report with one of everything.

use super::*;
use crate::report::sample;

/// Parses the page as XML and returns the number of each element.
fn elements(page: &str) -> std::collections::BTreeMap<String, usize> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(page);
    let mut counts = std::collections::BTreeMap::new();
    let mut depth = 0i64;
    loop {
        match reader.read_event() {
            Ok(Event::Start(tag)) => {
                depth += 1;
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                *counts.entry(name).or_insert(0) += 1;
            }
            Ok(Event::Empty(tag)) => {
                let name = String::from_utf8_lossy(tag.name().as_ref()).into_owned();
                *counts.entry(name).or_insert(0) += 1;
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{}",
                reader.buffer_position(),
                &page[..(reader.buffer_position() as usize).min(page.len())]
            ),
        }
    }
    assert_eq!(depth, 0, "every element is closed");
    counts
}

#[test]
fn the_page_is_well_formed_and_has_every_chart() {
    let page = render(&sample::report());
    let counts = elements(&page);
    // Two percentile charts, one series, two timelines, one cost chart.
    assert_eq!(counts["svg"], 6, "{counts:?}");
    assert_eq!(counts["section"], 10);
    assert_eq!(page, render(&sample::report()), "deterministic");
}

#[test]
fn nothing_is_loaded_from_anywhere() {
    let page = render(&sample::report());
    assert!(page.contains(
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"/>"#
    ));
    for forbidden in [
        "<script",
        "src=",
        "href=\"http",
        "url(",
        "@import",
        "<link",
        "<iframe",
    ] {
        assert!(!page.contains(forbidden), "{forbidden} in the page");
    }
}

#[test]
fn failures_show_expected_received_paths_transcript_and_reproduce() {
    let page = render(&sample::report());
    for needed in [
        "<h3>Scenario speaking-smoke, session #1: payload schema</h3>",
        "<h4>Expected</h4><pre>\"backend/spec/speaking.asyncapi.yaml\"</pre>",
        "\"region\": 42",
        "<td><code>/region</code></td><td><code>/properties/region/type</code></td>",
        "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;\u{FFFD}",
        "harness run scenarios/speaking/smoke.yaml --target ws://127.0.0.1:9 --sessions 1",
        r##"<a href="#case-SpeakingWebSocketApi-2.1.1">2.1.1</a>"##,
        r#"id="case-SpeakingWebSocketApi-2.1.1""#,
    ] {
        assert!(page.contains(needed), "{needed}");
    }
}

#[test]
fn suites_show_every_verdict_and_close_verdict() {
    let page = render(&sample::report());
    for verdict in ["PASS", "FAIL", "NON-STRICT", "INFO", "UNIMPLEMENTED"] {
        assert!(page.contains(&badge(verdict)), "{verdict}");
    }
    assert!(page.contains("case 2.1.1 &amp; &lt;friends&gt;"));
    assert!(page.contains(r#"<span class="badge v-fail">FAIL</span> 1000 by client"#));
}

#[test]
fn stack_and_cost_sections() {
    let page = render(&sample::report());
    for needed in [
        "<td>SpeakingFunction</td><td class=\"n\">53</td><td class=\"n\">2</td><td class=\"n\">530.4 ms</td><td class=\"n\">950.2 ms</td>",
        "$connect 1, audio_chunk 51",
        "<h3>SpeakingFunction: 1 warnings or errors logged</h3>",
        "audio relayed out of order: received 17 ms",
        "<h3>A month of 1000 sessions (no free tiers)</h3>",
        "<code>2 GB x 840 s x $0.0000166667 = $0.0280</code>",
        "one session&apos;s cost by component",
    ] {
        assert!(page.contains(needed), "{needed}");
    }
    let mut bare = sample::report();
    bare.cost = None;
    bare.stack = None;
    let page = render(&bare);
    assert!(page.contains("This run computed no cost."));
    assert!(page.contains("Not metered"));
    assert_eq!(elements(&page)["svg"], 5);
}

#[test]
fn big_runs_draw_the_failing_sessions_first() {
    let mut report = sample::report();
    let template = report.scenarios[0].sessions[0].clone();
    let failing = report.scenarios[0].sessions[1].clone();
    report.scenarios[0].sessions = (0..500)
        .map(|index| {
            let mut session = if index % 100 == 99 {
                failing.clone()
            } else {
                template.clone()
            };
            session.index = index;
            session
        })
        .collect();
    let page = render(&report);
    assert!(page.contains("(showing 60 of 500, every failing one first)"));
    for index in [99, 199, 299, 399, 499] {
        assert!(
            page.contains(&format!(r#"class="axis bad">#{index}</text>"#)),
            "#{index} drawn"
        );
    }
    assert!(page.contains(">#0</text>") && !page.contains(">#100</text>"));
}
