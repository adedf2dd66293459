//! Properties of the harness's parsers of files users write: scenario and
//! conformance-suite files, SAM templates and WAV clips. Inputs are the
//! repository's real files with random damage (lines dropped, duplicated or
//! swapped, characters replaced, values retyped) as well as YAML built from
//! random JSON values and plain noise: each is read or refused with an
//! error that says what is wrong, never a panic.

use harness::scenario::audio::Clip;
use harness::template::{LoadOptions, load_str};
use proptest::prelude::*;
use serde_json::Value;

fn read(relative: &str) -> String {
    std::fs::read_to_string(crate::support::workspace().join(relative)).unwrap()
}

/// One edit to a text: drop, duplicate or swap a line, or replace a character.
#[derive(Debug, Clone)]
enum Damage {
    Drop(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    Replace(prop::sample::Index, char),
    Truncate(prop::sample::Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Damage::Drop),
        any::<prop::sample::Index>().prop_map(Damage::Duplicate),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Damage::Swap(a, b)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                Just(':'),
                Just('-'),
                Just(' '),
                Just('!'),
                Just('{'),
                Just('['),
                Just('&'),
                Just('*'),
                Just('0'),
                any::<char>()
            ]
        )
            .prop_map(|(i, c)| Damage::Replace(i, c)),
        any::<prop::sample::Index>().prop_map(Damage::Truncate),
    ]
}

fn apply(text: &str, damages: &[Damage]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for damage in damages {
        if lines.is_empty() {
            break;
        }
        match damage {
            Damage::Drop(i) => {
                lines.remove(i.index(lines.len()));
            }
            Damage::Duplicate(i) => {
                let at = i.index(lines.len());
                lines.insert(at, lines[at].clone());
            }
            Damage::Swap(a, b) => {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            Damage::Replace(i, c) => {
                let at = i.index(lines.len());
                let mut chars: Vec<char> = lines[at].chars().collect();
                if !chars.is_empty() {
                    let position = i.index(chars.len());
                    chars[position] = *c;
                }
                lines[at] = chars.into_iter().collect();
            }
            Damage::Truncate(i) => lines.truncate(i.index(lines.len()).max(1)),
        }
    }
    lines.join("\n")
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[0-9]{1,4}(ms|s|m|h)".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    proptest::sample::select(vec![
                        "name",
                        "target",
                        "api",
                        "sessions",
                        "steps",
                        "count",
                        "arrival",
                        "connect",
                        "send",
                        "expect",
                        "wait",
                        "repeat",
                        "stream_audio",
                        "disconnect",
                        "file",
                        "chunk_ms",
                        "within",
                        "type",
                        "times"
                    ])
                    .prop_map(str::to_owned),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_scenario_files_are_read_or_refused_with_a_reason(
        file in proptest::sample::select(vec![
            "scenarios/chat/chat-basic.yaml",
            "scenarios/speaking/full-assessment.yaml",
        ]),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let text = apply(&read(file), &damages);
        if let Err(reason) = harness::scenario::parse(&text) {
            prop_assert!(!reason.trim().is_empty());
        }
        if let Err(reason) = harness::scenario::parse_suite(&text) {
            prop_assert!(!reason.trim().is_empty());
        }
    }

    #[test]
    fn random_yaml_documents_are_read_or_refused_with_a_reason(value in json_value()) {
        let text = serde_yaml_ng::to_string(&value).unwrap();
        if let Err(reason) = harness::scenario::parse(&text) {
            prop_assert!(!reason.trim().is_empty());
        }
        if let Err(reason) = harness::scenario::parse_suite(&text) {
            prop_assert!(!reason.trim().is_empty());
        }
        if let Err(error) = load_str(&text, &LoadOptions::default()) {
            prop_assert!(!error.to_string().trim().is_empty());
        }
    }

    #[test]
    fn damaged_templates_are_resolved_or_refused_with_a_reason(
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        let text = apply(&read("backend/template.yaml"), &damages);
        if let Err(error) = load_str(&text, &LoadOptions::default()) {
            prop_assert!(!error.to_string().trim().is_empty());
        }
    }

    #[test]
    fn any_wav_bytes_are_a_clip_or_a_reason(
        header_fields in proptest::collection::vec(any::<u8>(), 0..40),
        keep_riff in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = if keep_riff { b"RIFF\x00\x10\x00\x00WAVEfmt ".to_vec() } else { Vec::new() };
        bytes.extend(header_fields);
        bytes.extend(b"data");
        bytes.extend((data.len() as u32).to_le_bytes());
        bytes.extend(data);
        match Clip::from_bytes(&bytes, "random.wav") {
            Ok(clip) => prop_assert!(clip.samples.len() <= bytes.len()),
            Err(error) => prop_assert!(error.to_string().starts_with("audio file random.wav: ")),
        }
    }
}

#[test]
fn the_damage_applies_and_the_real_files_read() {
    let text = "a: 1\nb: 2\nc: 3";
    assert_eq!(apply(text, &[]), text);
    assert!(harness::scenario::parse(&read("scenarios/chat/chat-basic.yaml")).is_ok());
    assert!(load_str(&read("backend/template.yaml"), &LoadOptions::default()).is_ok());
    let clip = read_clip("scenarios/audio/buddy-morning.wav");
    assert!(clip.samples.len() > 1000);
}

fn read_clip(relative: &str) -> Clip {
    let bytes = std::fs::read(crate::support::workspace().join(relative)).unwrap();
    Clip::from_bytes(&bytes, relative).unwrap()
}
