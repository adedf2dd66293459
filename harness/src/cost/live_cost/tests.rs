//! The Live lines of one session: measured at the reference length,
//! projected (not scaled) otherwise, and the curve.

use super::*;
use crate::cost::bill::Component;
use crate::cost::live::TurnSample;

const MODEL: &str = "gemini-live-2.5-flash-native-audio";

/// A session of `turns` turns, one every 40 s, whose context grows by 50
/// audio tokens a second, with 1,000 text tokens throughout.
fn session(turns: u64) -> Vec<TurnSample> {
    (0..turns)
        .map(|i| TurnSample {
            at_seconds: i as f64 * 40.0,
            prompt_audio: i * 2_000,
            prompt_text: 1_000,
            output_audio: 300,
            output_text: 0,
            trimmed: false,
        })
        .collect()
}

fn component(what: &str, quantity: f64) -> Component {
    Component {
        service: "Vertex AI".to_owned(),
        what: format!("{what} ({MODEL})"),
        quantity,
        unit: "token".to_owned(),
        unit_price: 0.0,
        free_tier: None,
        per_session: None,
    }
}

/// The run's Live components for `sessions` like [`session`].
fn components(sessions: &[Vec<TurnSample>]) -> Vec<Component> {
    let sum =
        |pick: fn(&TurnSample) -> u64| sessions.iter().flatten().map(pick).sum::<u64>() as f64;
    vec![
        component("audio input tokens", sum(|t| t.prompt_audio)),
        component("text input tokens", sum(|t| t.prompt_text)),
        component("audio output tokens", sum(|t| t.output_audio)),
    ]
}

fn pricing() -> PricingTable {
    PricingTable::built_in().unwrap()
}

#[test]
fn a_session_of_the_reference_length_is_measured() {
    // 21 turns over 14 minutes.
    let sessions = vec![session(21)];
    let usage = LiveTurnUsage::from_turns(MODEL, &sessions, 14.0 * 60.0).unwrap();
    let mut lines = components(&sessions);
    let live = assess_live(&usage, &pricing(), 14.0 * 60.0, 14.0 * 60.0, &mut lines);
    assert!(live.basis.starts_with("measured"), "{}", live.basis);
    assert!(lines.iter().all(|c| c.per_session.is_none()));
    let audio: u64 = sessions[0].iter().map(|t| t.prompt_audio).sum();
    assert!(
        live.input_arithmetic.contains("21 turns")
            && live
                .input_arithmetic
                .contains(&crate::cost::render::quantity(audio as f64)),
        "{}",
        live.input_arithmetic
    );
    let minutes: Vec<f64> = live.curve.iter().map(|p| p.minutes).collect();
    assert_eq!(minutes, [7.0, 14.0, 28.0]);
}

#[test]
fn a_shorter_run_is_projected_with_the_contexts_growth_not_scaled() {
    // 7 minutes played (11 turns), priced as 14 minutes.
    let sessions = vec![session(11)];
    let usage = LiveTurnUsage::from_turns(MODEL, &sessions, 7.0 * 60.0).unwrap();
    let mut lines = components(&sessions);
    let measured_audio = lines[0].quantity;
    let live = assess_live(&usage, &pricing(), 7.0 * 60.0, 14.0 * 60.0, &mut lines);
    assert!(live.basis.starts_with("projected"), "{}", live.basis);
    let projected = lines[0].per_session.expect("the audio input is projected");
    let linear = measured_audio * 2.0;
    assert!(
        projected > 1.8 * linear,
        "twice the length: about four times the prompt audio, not twice ({projected} vs {linear})"
    );
    assert!(lines[1].per_session.is_some() && lines[2].per_session.is_some());
    let table = crate::cost::bill::per_session(&lines, 1, 2.0);
    assert_eq!(
        table.lines[0].quantity, projected,
        "the tables carry the projection"
    );
    let one_session = crate::cost::bill::scaled(&lines, 1, 2.0);
    assert_eq!(
        one_session[0].quantity, projected,
        "so do the month and the seeds' comparisons"
    );
    assert!(one_session[0].per_session.is_none(), "applied once");
}

#[test]
fn the_curve_grows_faster_than_the_length() {
    let sessions = vec![session(21)];
    let usage = LiveTurnUsage::from_turns(MODEL, &sessions, 14.0 * 60.0).unwrap();
    let rates = LiveRates::of(&pricing(), MODEL);
    let points = curve(&usage.growth, &rates, Some((10.0, Some(5))), None);
    let minutes: Vec<f64> = points.iter().map(|p| p.minutes).collect();
    assert_eq!(minutes, [7.0, 10.0, 14.0, 28.0]);
    assert_eq!(points[1].turns, 5, "the what-if's own turn count");
    let (seven, fourteen, twenty_eight) = (&points[0], &points[2], &points[3]);
    assert!(fourteen.input_usd > 3.0 * seven.input_usd);
    assert!(twenty_eight.input_usd > 3.0 * fourteen.input_usd);
    assert!((twenty_eight.output_usd / fourteen.output_usd - 2.0).abs() < 0.1);
    assert!(fourteen.total_usd > 0.0);
}

#[test]
fn the_report_sets_compression_beside_the_open_context() {
    let sessions = vec![session(21)];
    let usage = LiveTurnUsage::from_turns(MODEL, &sessions, 14.0 * 60.0).unwrap();
    let mut lines = components(&sessions);
    let live = assess_live(&usage, &pricing(), 14.0 * 60.0, 14.0 * 60.0, &mut lines);
    assert_eq!(live.compression, DEFAULT_COMPRESSION, "the run had none");
    assert_eq!(live.curve.len(), live.compressed_curve.len());
    for (open, compressed) in live.curve.iter().zip(&live.compressed_curve) {
        assert_eq!(open.turns, compressed.turns);
        assert!(compressed.input_usd <= open.input_usd);
    }
    let (open, compressed) = (&live.curve[2], &live.compressed_curve[2]);
    assert!(
        compressed.input_usd < open.input_usd / 2.0,
        "28 minutes: {compressed:?} vs {open:?}"
    );
}
