//! The Nova Sonic APIs' contracts and the files that exercise them: both
//! AsyncAPI documents are well formed and cover the template's routes; every
//! scenario and conformance suite file added for them parses (scenarios with
//! their audio); the conformance suites pass against the local stack, and
//! so do the scenarios (seed 001's wscat and Python flows, a spoken
//! conversation, the troubleshooting entries; seed 003's conversation).

mod nova_support;
mod support;

use std::path::{Path, PathBuf};

use harness::scenario::{self, LoadedScenario, Suite};
use nova_support::runner::{Runner, clip_transcripts};
use nova_support::*;
use serde_json::Value;
use support::*;

const SUITES: &[(&str, &str)] = &[
    ("buddy.yaml", "nova-sonic.asyncapi.yaml"),
    ("nova-sonic-stream.yaml", "nova-sonic-stream.asyncapi.yaml"),
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

fn spec_for_api(api: &str) -> Spec {
    match api {
        BUDDY => Spec::load("nova-sonic.asyncapi.yaml"),
        STREAM => Spec::load("nova-sonic-stream.asyncapi.yaml"),
        other => panic!("no Nova Sonic spec for {other}"),
    }
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
                if let scenario::Step::Send(send) = step {
                    if let Some(message) = &send.message {
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

/// Runs steps of a file against `stack`; returns failures.
async fn run_cases(
    stack: &harness::stack::LocalStack,
    time_scale: f64,
    dir: &Path,
    api: &str,
    tolerate: Vec<std::collections::BTreeMap<String, scenario::Matcher>>,
    runs: Vec<(String, Vec<scenario::Step>, Option<u16>)>,
) -> Vec<String> {
    let spec = spec_for_api(api);
    let mut runner = Runner {
        url: stack.websocket(api).unwrap().url(),
        spec: &spec,
        dir: dir.to_path_buf(),
        time_scale,
        tolerate,
        vars: [
            ("session".to_owned(), "0".to_owned()),
            ("run_id".to_owned(), "test".to_owned()),
        ]
        .into_iter()
        .collect(),
    };
    let mut failures = Vec::new();
    for (name, steps, close) in runs {
        if let Err(e) = runner.run(&steps, close).await {
            failures.push(format!("{name}: {e}"));
        }
    }
    failures
}

async fn stack_for(
    parameters: &std::collections::BTreeMap<String, String>,
    time_scale: f64,
) -> harness::stack::LocalStack {
    let mut options = speaking_options(time_scale);
    options.transcripts = clip_transcripts(&scenarios().join("audio"));
    options.load.parameter_overrides.extend(parameters.clone());
    start(options).await
}

#[tokio::test]
async fn the_conformance_suites_pass() {
    let time_scale = 10.0;
    let stack = stack_for(&Default::default(), time_scale).await;
    let mut failures = Vec::new();
    for (file, _) in SUITES {
        let suite = suite(file);
        assert!(
            suite.parameters.is_empty(),
            "the suites run on the default stack"
        );
        let runs = suite
            .cases
            .iter()
            .map(|case| {
                (
                    format!("{file} case {}", case.id),
                    case.steps.clone(),
                    case.close,
                )
            })
            .collect();
        failures.extend(
            run_cases(
                &stack,
                time_scale,
                &scenarios().join("conformance"),
                &suite.api,
                suite.tolerate.clone(),
                runs,
            )
            .await,
        );
    }
    stack.stop().await;
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn the_scenarios_pass() {
    let time_scale = 10.0;
    let loaded: Vec<LoadedScenario> = scenario_files()
        .iter()
        .map(|p| scenario::load(p).unwrap())
        .collect();
    // One stack per set of template parameters.
    let mut groups: std::collections::BTreeMap<Vec<(String, String)>, Vec<&LoadedScenario>> =
        Default::default();
    for scenario in &loaded {
        let key = scenario.scenario.parameters.clone().into_iter().collect();
        groups.entry(key).or_default().push(scenario);
    }
    let mut failures = Vec::new();
    for (parameters, scenarios) in groups {
        let stack = stack_for(&parameters.into_iter().collect(), time_scale).await;
        for loaded in scenarios {
            let name = loaded
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            failures.extend(
                run_cases(
                    &stack,
                    time_scale,
                    loaded.path.parent().unwrap(),
                    &loaded.scenario.api,
                    loaded.scenario.tolerate.clone(),
                    vec![(name, loaded.scenario.steps.clone(), None)],
                )
                .await,
            );
        }
        // The wrong model id scenario raised its alert.
        if stack
            .template()
            .parameters
            .get("NovaSonicModelId")
            .and_then(Value::as_str)
            == Some("amazon.nova-sonic-v9:0")
        {
            assert!(
                !stack.mocks().sns.messages().is_empty(),
                "a model_failure alert"
            );
        }
        stack.stop().await;
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
