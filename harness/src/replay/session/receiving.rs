//! The receiving side of a session: the reader task that judges every frame
//! against the contract, times turn latency and request/reply pairs, and
//! fills the inbox the step runner waits on.

use super::*;
use crate::replay::client::pump;

/// The reader task: judges, times and stores every received frame.
pub(super) async fn read(
    reader: SplitStream<Socket>,
    inbox: Arc<Inbox>,
    shared: Arc<Mutex<Shared>>,
    plan: SessionPlan,
) {
    let judged = inbox.clone();
    pump(reader, inbox, |text, value, now| {
        let kind = value
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut state = shared.lock().expect("shared lock");
        state.received += 1;
        state.bytes_received += text.len() as u64;
        state.units_received += metered_units(text.len() as u64, WEBSOCKET_MESSAGE_UNIT_BYTES);
        let latency = match (state.tracker.as_mut(), value) {
            (Some(tracker), Some(value)) => tracker.received(now, value),
            _ => None,
        };
        if let Some(latency) = latency {
            plan.metrics
                .record("turn_latency", latency, plan.run_start.elapsed());
        }
        if let (Some(kind), Some(mark), None) = (&kind, state.turn_mark, &state.tracker)
            && plan.turn_replies.contains(kind)
        {
            plan.metrics.record(
                "turn_latency",
                now.saturating_duration_since(mark),
                plan.run_start.elapsed(),
            );
            state.turn_mark = None;
        }
        if let Some(contract) = &plan.contract {
            judge(contract, text, &judged, &mut state, &plan);
        }
    })
    .await;
}

fn judge(contract: &Contract, text: &str, inbox: &Inbox, state: &mut Shared, plan: &SessionPlan) {
    let verdict = contract.judge_server(text);
    plan.metrics.conformance(&verdict);
    let (check, message, violations) = match verdict {
        Verdict::Valid(_) => return,
        Verdict::Invalid { name, violations } => (
            "payload schema",
            format!("{name} breaks the contract"),
            violations,
        ),
        Verdict::Unknown { claimed } => (
            "known message type",
            format!(
                "a message the contract does not define (type {})",
                claimed.unwrap_or_else(|| "absent".to_owned())
            ),
            Vec::new(),
        ),
        Verdict::NotJson => (
            "known message type",
            "a message that is not JSON".to_owned(),
            Vec::new(),
        ),
    };
    plan.metrics.error(check);
    state.contract_failures.push(Failure {
        step: "receive".to_owned(),
        check: check.to_owned(),
        message,
        expected: Some(Value::String(contract.path.clone())),
        received: serde_json::from_str(text)
            .ok()
            .or_else(|| Some(Value::String(text.to_owned()))),
        violations,
        transcript: inbox.transcript(),
        reproduce: plan.reproduce.clone(),
    });
}
