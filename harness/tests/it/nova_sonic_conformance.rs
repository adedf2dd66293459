//! The Nova Sonic APIs' contracts and the files that exercise them: both
//! AsyncAPI documents are well formed and cover the template's routes; every
//! scenario and conformance suite file added for them parses (scenarios with
//! their audio); the conformance suites pass against the local stack, and
//! so do the scenarios (seed 001's wscat and Python flows, a spoken
//! conversation, the troubleshooting entries; seed 003's conversation).

use std::path::PathBuf;

use crate::nova_support::*;
use crate::support::*;
use harness::replay::{self, Run, RunOptions, Target, conformance};
use harness::scenario::{self, LoadedScenario, Suite};
use harness::time_scale::TimeScale;
use serde_json::Value;

const SUITES: &[(&str, &str)] = &[
    ("BuddyWebSocketApi.yaml", "nova-sonic.asyncapi.yaml"),
    (
        "NovaSonicStreamWebSocketApi.yaml",
        "nova-sonic-stream.asyncapi.yaml",
    ),
];

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios().join("nova-sonic"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn suite(file: &str) -> Suite {
    let text = std::fs::read_to_string(scenarios().join("conformance").join(file)).unwrap();
    scenario::parse_suite(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_scenario_and_suite_file_parses() {
    let files = scenario_files();
    assert!(files.len() >= 7, "{files:?}");
    for path in &files {
        let loaded = scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!([BUDDY, STREAM].contains(&loaded.scenario.api.as_str()));
        for clip in loaded.clips.values() {
            assert_eq!(
                clip.sample_rate,
                16_000,
                "{}: clips are 16 kHz",
                path.display()
            );
        }
    }
    for (file, spec_file) in SUITES {
        let suite = suite(file);
        assert!(!suite.cases.is_empty());
        let spec = Spec::load(spec_file);
        // The positive cases' JSON messages are client messages of the contract.
        for case in suite.cases.iter().filter(|c| !c.negative) {
            for step in &case.steps {
                if let scenario::Step::Send(send) = step
                    && let Some(message) = &send.message
                {
                    assert!(
                        spec.matches("client", message).is_some(),
                        "case {}: {message} is no client message of {spec_file}",
                        case.id
                    );
                }
            }
        }
    }
}

#[test]
fn the_contracts_cover_the_template_routes_and_close_every_server_message() {
    let template = harness::template::load_file(&template(), &Default::default()).unwrap();
    for (api, spec_file) in [
        (BUDDY, "nova-sonic.asyncapi.yaml"),
        (STREAM, "nova-sonic-stream.asyncapi.yaml"),
    ] {
        let path = workspace().join("backend/spec").join(spec_file);
        let document: Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(document["info"]["x-template-api"], api);
        let messages = document["components"]["messages"].as_object().unwrap();
        for (name, message) in messages {
            let direction = message["x-direction"].as_str().unwrap();
            assert!(["client", "server"].contains(&direction), "{name}");
            if direction == "server" {
                assert_eq!(
                    message["payload"]["additionalProperties"], false,
                    "{spec_file} {name}"
                );
            }
        }
        let actions: Vec<&str> = messages
            .values()
            .filter(|m| m["x-direction"] == "client")
            .filter_map(|m| m["payload"]["properties"]["action"]["const"].as_str())
            .collect();
        for route in template.websocket_apis[api].routes.keys() {
            if !route.starts_with('$') {
                assert!(
                    actions.contains(&route.as_str()),
                    "{spec_file} documents route {route}"
                );
            }
        }
        for action in &actions {
            assert!(
                template.websocket_apis[api].routes.contains_key(*action),
                "{action} is routed"
            );
        }
        // Every operation's message exists.
        let spec = Spec::load(spec_file);
        assert!(spec.names("server").contains(&"error"));
        assert!(spec.names("server").contains(&"gatewayMessage"));
    }
}

/// Run options for the local stack at `time_scale` (the harness's own engine).
fn run_options(time_scale: f64) -> RunOptions {
    RunOptions {
        target: Target::Local(Box::new(streaming_options(time_scale))),
        time_scale: TimeScale::new(time_scale).unwrap(),
        sessions: None,
        spec_dir: workspace().join("backend/spec"),
        command: "cargo test -p harness --test it nova_sonic_conformance::".to_owned(),
        progress: false,
    }
}

fn failures_of(report: &harness::report::model::RunReport) -> Vec<String> {
    let mut failures = Vec::new();
    for suite in &report.suites {
        for case in suite
            .cases
            .iter()
            .filter(|c| c.verdict != "PASS" && c.verdict != "INFO")
        {
            failures.push(format!(
                "{} case {}: {} {:?}",
                suite.path, case.id, case.verdict, case.session.failures
            ));
        }
        for case in suite.cases.iter().filter(|c| c.close_verdict == "FAIL") {
            failures.push(format!(
                "{} case {}: close {:?}",
                suite.path, case.id, case.session.close
            ));
        }
    }
    for scenario in &report.scenarios {
        for session in scenario.sessions.iter().filter(|s| !s.passed) {
            failures.push(format!("{}: {:?}", scenario.path, session.failures));
        }
    }
    failures
}

#[tokio::test]
async fn the_conformance_suites_pass() {
    // Open microphones at 10x: a turn ends after 150 ms of quiet, less than
    // a stall of a loaded machine; no other such test at once.
    let _serial = MACHINE_SATURATING.lock().await;
    let mut failures = Vec::new();
    for (file, _) in SUITES {
        let loaded = scenario::load_suite(&scenarios().join("conformance").join(file)).unwrap();
        let clips = [(loaded.path.as_path(), &loaded.clips)];
        let run = Run::start(run_options(10.0), &loaded.suite.parameters, &clips)
            .await
            .unwrap();
        let suite_report = conformance::run_suite(&run, &loaded, None).await.unwrap();
        let report = run.finish(Vec::new(), vec![suite_report]).await;
        failures.extend(failures_of(&report));
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn the_scenarios_pass() {
    // As above: open microphones at 10x.
    let _serial = MACHINE_SATURATING.lock().await;
    let loaded: Vec<LoadedScenario> = scenario_files()
        .iter()
        .map(|p| scenario::load(p).unwrap())
        .collect();
    // One stack per set of template parameters.
    let mut groups: std::collections::BTreeMap<Vec<(String, String)>, Vec<LoadedScenario>> =
        Default::default();
    for scenario in loaded {
        let key = scenario.scenario.parameters.clone().into_iter().collect();
        groups.entry(key).or_default().push(scenario);
    }
    let mut failures = Vec::new();
    for (_, scenarios) in groups {
        let report = replay::run_scenarios(&scenarios, run_options(10.0))
            .await
            .unwrap();
        failures.extend(failures_of(&report));
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
