//! `harness repro`: every troubleshooting entry of the five seeds is a case,
//! and every case reproduces on the local stack (the symptom shows as the
//! seed documents it, and so does its fix). The list is checked against the
//! seeds' own troubleshooting headings when the seed documents are beside
//! the workspace (../shared/seeds).

use crate::support::*;
use harness::suites::repro::{self, ReproContext};

fn context() -> ReproContext {
    let mut base = options(1.0);
    base.load.parameter_overrides.clear();
    ReproContext { base }
}

#[tokio::test]
async fn every_case_reproduces_as_the_seeds_document_it() {
    let ctx = context();
    let mut failed = Vec::new();
    for case in repro::cases() {
        let started = std::time::Instant::now();
        match repro::reproduce(case, &ctx).await {
            Ok(outcome) => {
                eprintln!("{} ({:.1} s)", case.id, started.elapsed().as_secs_f64());
                for line in &outcome.notes.lines {
                    eprintln!("    {line}");
                }
                if !outcome.reproduced() {
                    failed.push(format!("{}: {:?}", case.id, outcome.notes.missing));
                }
            }
            Err(e) => failed.push(format!("{}: could not run: {e}", case.id)),
        }
    }
    assert!(failed.is_empty(), "not reproduced: {failed:#?}");
}

#[test]
fn the_cases_cover_every_troubleshooting_heading_of_the_seeds() {
    let seeds = workspace().join("../shared/seeds");
    let Ok(entries) = std::fs::read_dir(&seeds) else {
        eprintln!("no seed documents at {}: skipped", seeds.display());
        return;
    };
    let titles: Vec<&str> = repro::cases().iter().map(|c| c.title).collect();
    let mut headings = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let Some(start) = text.find("## Troubleshooting") else {
            continue;
        };
        for line in text[start..].lines().skip(1) {
            if line.starts_with("## ") && !line.starts_with("## Troubleshooting") {
                break;
            }
            if let Some(heading) = line
                .strip_prefix("####")
                .or_else(|| line.strip_prefix("###"))
            {
                let heading = heading
                    .trim_start_matches('#')
                    .trim()
                    .trim_matches('*')
                    .trim();
                if heading != "Common Issues" {
                    headings.push(heading.to_owned());
                }
            }
        }
    }
    assert!(headings.len() >= 16, "{headings:?}");
    for heading in &headings {
        assert!(
            titles.contains(&heading.as_str()),
            "no case for {heading:?}"
        );
    }
}

#[test]
fn the_command_lists_every_case_with_the_seeds_words() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["repro", "--list"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for case in repro::cases() {
        assert!(
            text.contains(case.id) && text.contains(case.fix),
            "{}",
            case.id
        );
    }
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["repro", "999-nothing", "--no-build"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("harness repro --list"));
}
