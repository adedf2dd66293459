//! Conformance suites: numbered cases (Autobahn style, `category.sub.n`), each
//! run as one fresh session, each with a verdict and a separate close verdict.
//!
//! | verdict | when |
//! |---|---|
//! | PASS | every step's expectation held and every message met the contract |
//! | NON-STRICT | the expectations held, but the server also sent an error nobody expected (and the contract allows it) |
//! | FAIL | an expectation failed, a message broke the contract, or an unknown message arrived |
//! | UNIMPLEMENTED | the case is marked unimplemented and did not pass |
//! | INFO | the case only records behaviour (`info` category) |
//!
//! The close verdict: PASS when the case's expected close code happened,
//! FAIL when another did, INFO when the case expects none.

use std::sync::Arc;

use super::{Run, RunError, session};
use crate::report::model::{CaseReport, SessionReport, SuiteReport};
use crate::scenario::LoadedSuite;
use crate::scenario::template::{Vars, resolve_definitions};

/// The verdict of a case from its session.
pub fn verdict(session: &SessionReport, unimplemented: bool, informational: bool) -> &'static str {
    let hard = session
        .failures
        .iter()
        .any(|f| f.check != "unexpected error");
    let soft = session
        .failures
        .iter()
        .any(|f| f.check == "unexpected error");
    match (informational, hard, soft, unimplemented) {
        (true, _, _, _) => "INFO",
        (false, false, false, _) => "PASS",
        (false, true, _, true) | (false, false, true, true) => "UNIMPLEMENTED",
        (false, true, _, false) => "FAIL",
        (false, false, true, false) => "NON-STRICT",
    }
}

/// The close verdict.
pub fn close_verdict(session: &SessionReport, expected: Option<u16>) -> &'static str {
    match (expected, &session.close) {
        (None, _) => "INFO",
        (Some(code), Some(close)) if close.code == code => "PASS",
        _ => "FAIL",
    }
}

/// Runs every case of a suite (or the ones whose id starts with `only`).
pub async fn run_suite(
    run: &Run,
    loaded: &LoadedSuite,
    only: Option<&str>,
) -> Result<SuiteReport, RunError> {
    let suite = &loaded.suite;
    let path = loaded.path.as_path();
    let clips = Arc::new(loaded.clips.clone());
    let url = run.url_of(&suite.api)?;
    let contract = run.contract_of(&suite.api);
    let clip_texts = Arc::new(super::clip_texts_of(path, &clips));
    let mut cases = Vec::new();
    for (index, case) in suite.cases.iter().enumerate() {
        if only.is_some_and(|prefix| !case.id.starts_with(prefix)) {
            continue;
        }
        let builtins: Vars = [
            ("session", index.to_string()),
            ("run_id", run.run_id().to_owned()),
            ("case", case.id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let vars = resolve_definitions(&suite.variables, &builtins)
            .map_err(|e| RunError::Scenario(format!("suite {}: {e}", path.display())))?;
        let mut steps = case.steps.clone();
        if let Some(code) = case.close
            && !steps.iter().any(|s| {
                matches!(
                    s,
                    crate::scenario::Step::ExpectClose(_) | crate::scenario::Step::Disconnect(_)
                )
            })
        {
            steps.push(crate::scenario::Step::ExpectClose(
                crate::scenario::ExpectClose {
                    code: Some(code),
                    ..Default::default()
                },
            ));
        }
        let plan = session::SessionPlan {
            index: index as u32,
            url: url.clone(),
            steps: Arc::new(steps),
            clips: clips.clone(),
            vars,
            turn_replies: Arc::new(suite.turn_replies.clone()),
            tolerate: Arc::new(suite.tolerate.clone()),
            conversation: run.conversation_plan(&suite.api, suite.conversation.as_ref()),
            microphone: suite.microphone.clone().map(Arc::new),
            clip_texts: clip_texts.clone(),
            contract: contract.clone(),
            time_scale: run.options.time_scale,
            metrics: run.metrics().clone(),
            run_start: run.started,
            reproduce: format!(
                "harness conform --api {} --case {} --suite {}{}",
                suite.api,
                case.id,
                path.display(),
                run.target_args()
            ),
            progress: run.progress_callback(),
        };
        let session = session::run(plan).await;
        let informational = case
            .category
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("info"));
        cases.push(CaseReport {
            id: case.id.clone(),
            category: case.category.clone(),
            description: case.description.clone(),
            expectation: case.expectation.clone(),
            verdict: verdict(&session, case.unimplemented, informational).to_owned(),
            close_verdict: close_verdict(&session, case.close).to_owned(),
            session,
        });
    }
    Ok(SuiteReport {
        api: suite.api.clone(),
        path: path.display().to_string(),
        cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{CloseReport, Failure};

    fn session(checks: &[&str], close: Option<u16>) -> SessionReport {
        SessionReport {
            index: 0,
            passed: checks.is_empty(),
            started_at_ms: 0,
            duration_ms: 0,
            steps_completed: 0,
            sent: 0,
            received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            units_sent: 0,
            units_received: 0,
            close: close.map(|code| CloseReport {
                code,
                reason: String::new(),
                by: "server".into(),
                at_ms: 0,
            }),
            failures: checks
                .iter()
                .map(|check| Failure {
                    step: String::new(),
                    check: (*check).to_owned(),
                    message: String::new(),
                    expected: None,
                    received: None,
                    violations: Vec::new(),
                    transcript: Vec::new(),
                    reproduce: String::new(),
                })
                .collect(),
            timeline: Vec::new(),
            conversation: None,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&session(&[], None), false, false), "PASS");
        assert_eq!(
            verdict(&session(&["unexpected error"], None), false, false),
            "NON-STRICT"
        );
        assert_eq!(
            verdict(&session(&["payload schema"], None), false, false),
            "FAIL"
        );
        assert_eq!(
            verdict(&session(&["expectation"], None), true, false),
            "UNIMPLEMENTED"
        );
        assert_eq!(verdict(&session(&[], None), true, false), "PASS");
        assert_eq!(
            verdict(&session(&["expectation"], None), false, true),
            "INFO"
        );
    }

    #[test]
    fn close_verdicts() {
        assert_eq!(close_verdict(&session(&[], Some(1009)), Some(1009)), "PASS");
        assert_eq!(close_verdict(&session(&[], Some(1000)), Some(1009)), "FAIL");
        assert_eq!(close_verdict(&session(&[], None), Some(1009)), "FAIL");
        assert_eq!(close_verdict(&session(&[], Some(1000)), None), "INFO");
    }
}
