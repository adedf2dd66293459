//! The old full assessment (two clips per answer, split by a pause) kept as
//! a regression fixture: it must fail the barge-in and one-turn-per-utterance
//! checks. A module of its own so it runs first: it needs the machine alone,
//! and libtest starts tests in name order, one whenever a slot frees; placed
//! after the other machine-saturating tests, it held a test slot for nearly
//! two minutes waiting for their lock while doing nothing.

use crate::conversation::{SCALE, failed_checks, load, run_options};
use crate::support::*;
use harness::replay::{Run, Target};
use harness::scenario;

#[tokio::test]
async fn the_old_split_answer_assessment_fails_barge_in_and_one_turn_per_utterance() {
    // Its split rests on the order of the chunks: alone on the machine.
    let _serial = MACHINE_SATURATING.lock().await;
    let _alone = machine_alone();
    let mut old = load("regressions/split-answers.yaml");
    assert!(
        old.warnings.iter().any(|w| w.contains("two utterances")),
        "the loader warns about the pauses: {:#?}",
        old.warnings
    );
    // The greeting and the first eight answers (all but the first of two
    // clips each). Whether Maya's reply to a first half starts while the
    // second half streams depends on the pipeline's latency at the moment:
    // three answers once gave no such overlap (one hunt run of three), while
    // eight gave overlaps in two or more answers in each run tried.
    let until = old
        .scenario
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, scenario::Step::WaitQuiet(_)))
        .nth(8)
        .map(|(i, _)| i + 1)
        .unwrap();
    old.scenario.steps.truncate(until);
    // Its expectations were written when a leftover frame could meet them;
    // under the strict rule a fast reply that lands during a clip ends the
    // session before the overlap this test is about. The conversation checks
    // judge it either way.
    for step in &mut old.scenario.steps {
        if let scenario::Step::Expect(expect) = step {
            expect.reach_back = true;
        }
    }
    let clips = [(old.path.as_path(), &old.clips)];
    let run = Run::start(
        run_options(Target::Local(Box::new(options(SCALE)))),
        &old.scenario.parameters,
        &clips,
    )
    .await
    .unwrap();
    let report = run.scenario(&old).await.unwrap();
    run.finish(Vec::new(), Vec::new()).await;
    let failed = failed_checks(&report);
    assert!(
        failed.contains("conversation.1") && failed.contains("conversation.2"),
        "{failed:?}\n{:#?}",
        report.sessions[0].failures
    );
}
