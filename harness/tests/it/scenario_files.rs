//! Every scenario, conformance suite and load plan in scenarios/ loads, every clip has a
//! transcript, and scenarios/scenario.schema.json is the current schema.

use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

/// Load plans (scenarios/load, scenarios/http) name their users, arrivals or
/// request mix at the top level; scenarios have steps.
fn is_load_plan(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().any(|line| {
        ["users:", "arrival:", "mix:", "scenario:"]
            .iter()
            .any(|key| line.starts_with(key))
    })
}

#[test]
fn every_scenario_and_suite_and_load_plan_loads() {
    let mut files = Vec::new();
    yaml_files(&scenarios_dir(), &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for path in files {
        if path.components().any(|c| c.as_os_str() == "conformance") {
            harness::scenario::load_suite(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else if is_load_plan(&path) {
            harness::load::plan::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else {
            harness::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn every_clip_has_a_transcript() {
    let audio = scenarios_dir().join("audio");
    for entry in std::fs::read_dir(&audio).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "wav") {
            let transcript =
                std::fs::read_to_string(path.with_extension("txt")).unwrap_or_default();
            assert!(
                !transcript.trim().is_empty(),
                "{} has no transcript",
                path.display()
            );
            let clip = harness::scenario::audio::Clip::read(&path).unwrap();
            assert_eq!(clip.sample_rate, 16_000, "{}", path.display());
        }
    }
}

#[test]
fn the_published_schema_is_current() {
    let published: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scenarios_dir().join("scenario.schema.json")).unwrap(),
    )
    .unwrap();
    // Compared without printing both schemas: the command to run says enough.
    assert!(
        published == harness::scenario::json_schema(),
        "scenarios/scenario.schema.json is out of date; regenerate: \
         cargo run --bin harness -- scenario-schema > scenarios/scenario.schema.json"
    );
}
