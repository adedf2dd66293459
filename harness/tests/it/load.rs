//! `harness load` and `harness merge` end to end, as a user runs them: the
//! harness binary against the local stack it starts (the echo API and the
//! IELTS HTTP API). A plan whose thresholds hold exits 0; a plan built to
//! fail exits 99; an open model corrects for coordinated omission; two
//! segments merged give the counts of one run of the whole plan; quotas and
//! targets are checked before anything starts.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;
use serde_json::Value;

fn plan(name: &str) -> PathBuf {
    workspace().join("scenarios/load").join(name)
}

/// Runs the harness binary; returns its output.
fn harness(args: &[&str]) -> Output {
    let functions = build_backend();
    std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(workspace())
        .arg("--quiet")
        .args(args)
        .arg("--no-build")
        .arg("--functions-dir")
        .arg(&functions)
        .output()
        .expect("run harness")
}

fn merge(dirs: &[PathBuf], report_dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("--quiet")
        .arg("merge")
        .args(dirs)
        .arg("--report-dir")
        .arg(report_dir)
        .output()
        .expect("run harness merge")
}

/// The one run folder under `dir`.
fn run_folder(dir: &Path) -> PathBuf {
    let folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("report dir")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders[0].clone()
}

fn read(folder: &Path, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(folder.join(file)).expect(file)).expect(file)
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn load(plan_file: &str, extra: &[&str], report_dir: &Path) -> (Output, PathBuf) {
    let path = plan(plan_file);
    let mut args = vec![
        "load",
        path.to_str().unwrap(),
        "--report-dir",
        report_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = harness(&args);
    let folder = if report_dir.exists() {
        run_folder(report_dir)
    } else {
        PathBuf::new()
    };
    (output, folder)
}

#[test]
fn a_plan_whose_thresholds_hold_passes_and_writes_both_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (output, folder) = load("echo-closed.yaml", &[], dir.path());
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("threshold echo→echo.p95<2s") && stdout.contains("PASS"),
        "{stdout}"
    );
    let summary = read(&folder, "load.json");
    assert_eq!(summary["sessions"], 12, "4 users x 3 sessions");
    assert_eq!(summary["failed_sessions"], 0);
    // Each session: a connect and five round trips, each a goose request.
    assert_eq!(summary["counts"]["operations"], 72);
    assert_eq!(summary["goose"]["requests"], 72);
    assert_eq!(summary["goose"]["by_request"]["WS echo→echo"], 60);
    assert!(
        summary["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["passed"] == true)
    );
    let report = read(&folder, "report.json");
    assert_eq!(report["passed"], true);
    assert_eq!(report["metrics"]["echo→echo"]["count"], 60);
    assert_eq!(report["metrics"]["connect"]["count"], 12);
    assert_eq!(
        report["stack"]["functions"]["EchoFunction"]["by_route"]["echo"],
        60
    );
    for goose_file in ["goose.html", "goose.json"] {
        assert!(
            folder.join(goose_file).is_file(),
            "goose's own {goose_file}"
        );
    }
    let goose: Value = read(&folder, "goose.json");
    assert!(
        goose.to_string().contains("echo→echo"),
        "goose's report names the operations"
    );
}

#[test]
fn a_plan_built_to_fail_exits_with_status_99() {
    let dir = tempfile::tempdir().unwrap();
    let (output, folder) = load("echo-must-fail.yaml", &[], dir.path());
    assert_eq!(output.status.code(), Some(99), "{}", describe(&output));
    let summary = read(&folder, "load.json");
    let verdicts: Vec<(String, bool)> = summary["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["rule"].as_str().unwrap().to_owned(),
                j["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("echo→echo.p95<1us".to_owned(), false),
            ("connect.count<1".to_owned(), false),
            ("error_rate<1%".to_owned(), true),
        ]
    );
    assert_eq!(read(&folder, "report.json")["passed"], false);
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL: report in"));
}

#[test]
fn an_http_plan_runs_its_mix_through_goose_and_checks_the_contract() {
    // The REST API (seed 002) and the HTTP API (seed 003) of the same function.
    for plan_name in ["http-health.yaml", "http-api-v2-health.yaml"] {
        let dir = tempfile::tempdir().unwrap();
        let (output, folder) = load(plan_name, &[], dir.path());
        assert!(
            output.status.success(),
            "{plan_name}: {}",
            describe(&output)
        );
        let summary = read(&folder, "load.json");
        assert_eq!(
            summary["counts"]["http_requests"], 50,
            "{plan_name}: 5 users x 10 requests"
        );
        assert_eq!(summary["counts"]["http_failed"], 0, "{plan_name}");
        assert_eq!(
            summary["counts"]["checks"], 100,
            "{plan_name}: a status and a contract check each"
        );
        assert_eq!(summary["goose"]["requests"], 50, "{plan_name}");
        let report = read(&folder, "report.json");
        assert_eq!(report["metrics"]["http_req"]["count"], 50, "{plan_name}");
        let by_route: u64 = ["GET /", "GET /api/health", "GET /api/mobile/config"]
            .iter()
            .map(|name| report["metrics"][name]["count"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(by_route, 50, "{plan_name}");
    }
}

#[test]
fn passes_run_on_one_stack_and_the_last_pass_is_judged() {
    let dir = tempfile::tempdir().unwrap();
    // 2 users x 5 requests a pass; `count<11` holds for one pass (10
    // requests), not for both together (20).
    let plan_file = dir.path().join("two-passes.yaml");
    std::fs::write(
        &plan_file,
        "name: two-passes\napi: IeltsRestApi\nusers: 2\nrequests_per_user: 5\nmix:\n  \
         - {name: \"GET /api/health\", method: GET, path: /api/health, weight: 1}\n\
         thresholds:\n  rules: [\"http_req.count<11\", \"http_req_failed<1%\"]\n",
    )
    .unwrap();
    let report_dir = dir.path().join("reports");
    let functions = build_backend();
    // Not quiet: the earlier pass's figures are printed.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .current_dir(workspace())
        .args(["load", plan_file.to_str().unwrap(), "--passes", "2"])
        .arg("--report-dir")
        .arg(&report_dir)
        .arg("--no-build")
        .arg("--functions-dir")
        .arg(&functions)
        .output()
        .expect("run harness");
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("pass 1 of 2 (warm-up, not judged): 10 operations")
            && stdout.contains("pass 2 of 2 (judged): 10 operations"),
        "{stdout}"
    );
    let folder = run_folder(&report_dir);
    let summary = read(&folder, "load.json");
    let passes = summary["passes"].as_array().expect("passes in load.json");
    assert_eq!(passes.len(), 2, "{summary}");
    for (number, pass) in passes.iter().enumerate() {
        assert_eq!(pass["pass"], number + 1);
        assert_eq!(pass["counts"]["http_requests"], 10, "{pass}");
        assert_eq!(pass["metrics"]["http_req"]["count"], 10, "{pass}");
        assert_eq!(pass["metrics"]["GET /api/health"]["count"], 10, "{pass}");
        let invocations: u64 = pass["invocations"]
            .as_object()
            .expect("invocations by function")
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(invocations, 10, "{pass}");
    }
    let cold_starts = |pass: &Value| -> u64 {
        pass["cold_starts"]
            .as_object()
            .map_or(0, |m| m.values().map(|n| n.as_u64().unwrap()).sum())
    };
    assert!(
        cold_starts(&passes[0]) >= 1,
        "the first pass starts instances: {}",
        passes[0]
    );
    // The run's figures are the last pass's.
    assert_eq!(summary["counts"], passes[1]["counts"]);
    assert_eq!(summary["goose"]["requests"], 10);
    let report = read(&folder, "report.json");
    assert_eq!(report["metrics"]["http_req"]["count"], 10);
    assert_eq!(report["metrics"], passes[1]["metrics"]);
    assert_eq!(report["passed"], true);
    let verdicts: Vec<(&str, bool)> = summary["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["rule"].as_str().unwrap(), j["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("http_req.count<11", true), ("http_req_failed<1%", true)]
    );
    // The stack's invocations cover both passes.
    let functions = report["stack"]["functions"].as_object().unwrap();
    let all: u64 = functions
        .values()
        .map(|f| f["invocations"].as_u64().unwrap())
        .sum();
    assert_eq!(all, 20);
}

#[test]
fn an_open_model_times_each_session_from_its_intended_start() {
    let dir = tempfile::tempdir().unwrap();
    let (output, folder) = load("echo-open.yaml", &[], dir.path());
    assert!(output.status.success(), "{}", describe(&output));
    let summary = read(&folder, "load.json");
    assert_eq!(summary["model"], "open");
    // 5 -> 20 a second over 2 s (25), then 20 a second for 2 s (40).
    assert_eq!(summary["sessions"], 65);
    let report = read(&folder, "report.json");
    assert_eq!(report["metrics"]["session_start_lateness"]["count"], 65);
    let corrected = &report["metrics"]["connect"];
    let raw = &report["metrics"]["connect.raw"];
    assert_eq!(corrected["count"], 65);
    assert_eq!(raw["count"], 65);
    assert!(
        corrected["max_us"].as_u64() >= raw["max_us"].as_u64(),
        "the corrected connect time includes the lateness: {corrected} vs {raw}"
    );
}

#[test]
fn two_segments_merged_count_the_same_as_one_run_of_the_whole_plan() {
    let dir = tempfile::tempdir().unwrap();
    let whole_dir = dir.path().join("whole");
    let (output, whole) = load("echo-closed.yaml", &[], &whole_dir);
    assert!(output.status.success(), "{}", describe(&output));
    let mut parts = Vec::new();
    for segment in ["0/2", "1/2"] {
        let part_dir = dir.path().join(segment.replace('/', "-of-"));
        let (output, folder) = load("echo-closed.yaml", &["--segment", segment], &part_dir);
        assert!(output.status.success(), "{}", describe(&output));
        parts.push(folder);
    }
    let half = read(&parts[0], "load.json");
    assert_eq!(half["sessions"], 6, "users 0 and 1 of 4");
    let merged_dir = dir.path().join("merged");
    let output = merge(&parts, &merged_dir);
    assert!(output.status.success(), "{}", describe(&output));
    let merged = run_folder(&merged_dir);
    let (one, two) = (read(&whole, "load.json"), read(&merged, "load.json"));
    assert_eq!(two["segments"], serde_json::json!(["0/2", "1/2"]));
    for field in ["sessions", "failed_sessions", "counts"] {
        assert_eq!(one[field], two[field], "{field}");
    }
    assert_eq!(one["goose"]["requests"], two["goose"]["requests"]);
    assert_eq!(one["goose"]["by_request"], two["goose"]["by_request"]);
    let (one, two) = (read(&whole, "report.json"), read(&merged, "report.json"));
    for metric in ["connect", "echo→echo"] {
        assert_eq!(
            one["metrics"][metric]["count"], two["metrics"][metric]["count"],
            "{metric}"
        );
    }
    for route in ["$connect", "echo"] {
        assert_eq!(
            one["stack"]["functions"]["EchoFunction"]["by_route"][route],
            two["stack"]["functions"]["EchoFunction"]["by_route"][route],
            "{route}"
        );
    }
    assert_eq!(two["passed"], true);
    // The same segment twice is refused.
    let twice = merge(
        &[parts[0].clone(), parts[0].clone()],
        &dir.path().join("twice"),
    );
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("appears twice"));
}

#[test]
fn quotas_and_targets_are_checked_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let busy = dir.path().join("busy.yaml");
    std::fs::write(
        &busy,
        format!(
            "name: busy\napi: EchoWebSocketApi\nscenario: {}\narrival:\n  start_rate: 600\n  stages: [{{target: 600, duration: 1s}}]\n  max_in_flight: 10\n",
            plan("echo-session.yaml").display()
        ),
    )
    .unwrap();
    let output = harness(&[
        "load",
        busy.to_str().unwrap(),
        "--report-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("600 new WebSocket connections per second")
            && stderr.contains("quota of 500"),
        "{stderr}"
    );
    let output = harness(&[
        "load",
        plan("http-health.yaml").to_str().unwrap(),
        "--target",
        "wss://example.invalid/prod",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("starts with http:// or https://"));
    let output = harness(&[
        "load",
        plan("echo-closed.yaml").to_str().unwrap(),
        "--segment",
        "2/2",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 <= i < n"));
}
