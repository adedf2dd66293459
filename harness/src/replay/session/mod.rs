//! One session: a WebSocket client (the harness's client module's handshake
//! and reader loop) that runs a scenario's
//! steps in order. A reader task judges every received message against the
//! contract, times turn latency (end of an audio stream to the first turn
//! reply) and fills the inbox; the step runner sends, streams audio at
//! real-time pace divided by the time scale, and waits for expectations.

mod conversing;
mod receiving;
mod sending;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::inbox::Inbox;
use crate::contract::asyncapi::{Contract, Verdict};
use crate::cost::rules::{WEBSOCKET_MESSAGE_UNIT_BYTES, metered_units};
use crate::metrics::Metrics;
use crate::report::model::{CloseReport, Failure, SessionReport};
use crate::scenario::audio::{Clip, encode_chunk};
use crate::scenario::matching::{matches, mismatches};
use crate::scenario::model::{
    ChunkFormat, Connect, Expect, ExpectClose, Matcher, Microphone, Step,
};
use crate::scenario::template::{Vars, render, render_value};
use crate::time_scale::TimeScale;
use crate::turns::{Checkpoint, ConversationPlan, Tracker};

/// The metric of how late each audio chunk left against its real-time
/// schedule (the harness's own pacing; high values mean it is overloaded).
pub const STREAM_LATENESS: &str = "stream_lateness";

/// Default deadline for `expect` and `expect_close` (real time).
const DEFAULT_WITHIN: Duration = Duration::from_secs(30);

use crate::replay::client::Socket;
type Writer = SplitSink<Socket, Message>;

/// Everything a session needs.
#[derive(Clone)]
pub struct SessionPlan {
    /// Session number.
    pub index: u32,
    /// The API's WebSocket URL.
    pub url: String,
    /// The steps.
    pub steps: Arc<Vec<Step>>,
    /// Clips by file name.
    pub clips: Arc<std::collections::BTreeMap<String, Arc<Clip>>>,
    /// Variables (built-ins and the scenario's, rendered for this session).
    pub vars: Vars,
    /// Turn replies.
    pub turn_replies: Arc<Vec<String>>,
    /// Tolerated messages.
    pub tolerate: Arc<Vec<std::collections::BTreeMap<String, Matcher>>>,
    /// Turn tracking and the conversation checks (speech APIs).
    pub conversation: Option<ConversationPlan>,
    /// The candidate's microphone.
    pub microphone: Option<Arc<Microphone>>,
    /// The clips' transcripts (sidecar `.txt` files), by file.
    pub clip_texts: Arc<std::collections::BTreeMap<String, String>>,
    /// The contract.
    pub contract: Option<Arc<Contract>>,
    /// Time scale.
    pub time_scale: TimeScale,
    /// Metrics of the run.
    pub metrics: Arc<Metrics>,
    /// The run's start.
    pub run_start: Instant,
    /// A command that reproduces this session.
    pub reproduce: String,
    /// Counts completed steps (progress bars).
    pub progress: Arc<dyn Fn() + Send + Sync>,
}

/// Counters and marks shared with the reader task.
#[derive(Debug, Default)]
struct Shared {
    sent: u64,
    received: u64,
    bytes_sent: u64,
    bytes_received: u64,
    units_sent: u64,
    units_received: u64,
    turn_mark: Option<Instant>,
    contract_failures: Vec<Failure>,
    tracker: Option<Tracker>,
}

struct Runner {
    plan: SessionPlan,
    inbox: Arc<Inbox>,
    shared: Arc<Mutex<Shared>>,
    writer: Option<Writer>,
    reader: Option<tokio::task::JoinHandle<()>>,
    vars: Vars,
    last_send: Option<(String, Instant)>,
    failures: Vec<Failure>,
    steps_completed: u32,
    closed_by_client: Option<(u16, Instant)>,
    /// When the step before the current one began (expectations take only
    /// what arrived after it).
    previous_step_began: Option<Instant>,
    current_step_began: Option<Instant>,
    /// Silence streamed since the last clip of a `stream_audio` utterance.
    silence_since_speech: Option<Duration>,
    checkpoints: Vec<Checkpoint>,
    conversation: Option<crate::report::model::ConversationReport>,
}

/// Runs one session to its end.
pub async fn run(plan: SessionPlan) -> SessionReport {
    let started = Instant::now();
    let inbox = Arc::new(Inbox::new(plan.run_start));
    let tracker = plan
        .conversation
        .as_ref()
        .map(|c| Tracker::new(c.profile.clone(), plan.time_scale.factor(), started));
    let mut runner = Runner {
        vars: plan.vars.clone(),
        plan,
        inbox,
        shared: Arc::new(Mutex::new(Shared {
            tracker,
            ..Shared::default()
        })),
        writer: None,
        reader: None,
        last_send: None,
        failures: Vec::new(),
        steps_completed: 0,
        closed_by_client: None,
        previous_step_began: None,
        current_step_began: None,
        silence_since_speech: None,
        checkpoints: Vec::new(),
        conversation: None,
    };
    let steps = runner.plan.steps.clone();
    let completed = runner.run_steps(&steps, "steps").await;
    if completed {
        runner.finish().await;
    } else if let Some(reader) = runner.reader.take() {
        reader.abort();
    }
    runner.judge_conversation().await;
    runner.report(started)
}

impl Runner {
    fn fail(
        &mut self,
        step: &str,
        check: &str,
        message: String,
        expected: Option<Value>,
        received: Option<Value>,
    ) {
        self.inbox.event("failure", format!("{step}: {message}"));
        self.plan.metrics.error(check);
        self.failures.push(Failure {
            step: step.to_owned(),
            check: check.to_owned(),
            message,
            expected,
            received,
            violations: Vec::new(),
            transcript: self.inbox.transcript(),
            reproduce: self.plan.reproduce.clone(),
        });
    }

    /// Runs steps; false when the session cannot go on.
    fn run_steps<'a>(
        &'a mut self,
        steps: &'a [Step],
        path: &'a str,
    ) -> futures_util::future::BoxFuture<'a, bool> {
        Box::pin(async move {
            for (index, step) in steps.iter().enumerate() {
                let name = format!("{path}[{index}]");
                if !matches!(step, Step::Repeat(_)) {
                    self.previous_step_began = self.current_step_began;
                    self.current_step_began = Some(Instant::now());
                }
                self.utterance_boundary(step);
                let ok = self.step(step, &name).await;
                self.steps_completed += 1;
                (self.plan.progress)();
                if !ok {
                    return false;
                }
            }
            true
        })
    }

    async fn step(&mut self, step: &Step, name: &str) -> bool {
        match step {
            Step::Connect(connect) => self.connect(connect, name).await,
            Step::Send(send) => {
                let (message, label) = if let Some(template) = &send.message {
                    match render_value(template, &self.vars) {
                        Ok(value) => {
                            let label = send.label.clone().or_else(|| {
                                value
                                    .get("action")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned)
                            });
                            (
                                Message::text(value.to_string()),
                                label.unwrap_or_else(|| "send".to_owned()),
                            )
                        }
                        Err(e) => {
                            self.fail(name, "scenario", e.to_string(), None, None);
                            return false;
                        }
                    }
                } else if let Some(raw) = &send.raw {
                    (
                        Message::text(raw.clone()),
                        send.label.clone().unwrap_or_else(|| "raw".to_owned()),
                    )
                } else {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(send.binary_base64.as_deref().unwrap_or_default())
                        .unwrap_or_default();
                    (
                        Message::binary(bytes),
                        send.label.clone().unwrap_or_else(|| "binary".to_owned()),
                    )
                };
                self.send(message, &label, name).await
            }
            Step::StreamAudio(stream) => {
                let Some(clip) = self.plan.clips.get(&stream.file).cloned() else {
                    self.fail(
                        name,
                        "scenario",
                        format!("clip {} was not loaded", stream.file),
                        None,
                        None,
                    );
                    return false;
                };
                self.begin_stream_utterance();
                let ok = self
                    .stream(&clip, stream.chunk_ms, stream.format, &stream.message, name)
                    .await;
                let text = self.plan.clip_texts.get(&stream.file).cloned();
                let quiet = self
                    .plan
                    .time_scale
                    .to_real(crate::scenario::pauses::edge_quiet(&clip).1);
                let mut shared = self.shared.lock().expect("shared lock");
                shared.turn_mark = Some(Instant::now());
                if let Some(tracker) = shared.tracker.as_mut() {
                    tracker.add_clip(Instant::now(), quiet, &stream.file, text.as_deref());
                }
                ok
            }
            Step::StreamSilence(silence) => {
                self.count_silence(silence.duration.0);
                let clip = Clip::silence(silence.duration.0, silence.sample_rate);
                self.stream(
                    &clip,
                    silence.chunk_ms,
                    silence.format,
                    &silence.message,
                    name,
                )
                .await
            }
            Step::Answer(answer) => self.answer(answer, name).await,
            Step::ExpectTurn(expect) => self.expect_turn(expect, name).await,
            Step::Expect(expect) => self.expect(expect, name).await,
            Step::ExpectClose(expect) => self.expect_close(expect, name).await,
            Step::Wait(span) => {
                self.inbox.event("wait", span.to_string());
                self.pause(span.0, name).await
            }
            Step::WaitQuiet(wait) => self.wait_quiet(wait, name).await,
            Step::Disconnect(disconnect) => {
                self.disconnect(disconnect.code).await;
                true
            }
            Step::Repeat(repeat) => {
                for round in 0..repeat.times {
                    let inner = format!("{name}.repeat[{round}]");
                    if !self.run_steps(&repeat.steps, &inner).await {
                        return false;
                    }
                }
                true
            }
        }
    }

    fn within(
        &self,
        within: Option<crate::scenario::duration::Span>,
        scenario: Option<crate::scenario::duration::Span>,
    ) -> Duration {
        match (within, scenario) {
            (Some(real), _) => real.0,
            (None, Some(scenario)) => self.plan.time_scale.to_real(scenario.0),
            (None, None) => DEFAULT_WITHIN,
        }
    }

    async fn expect(&mut self, expect: &Expect, name: &str) -> bool {
        let mut fields = expect.fields.clone();
        if let Some(kind) = &expect.message_type {
            fields.insert(
                "type".to_owned(),
                Matcher::Literal(Value::String(kind.clone())),
            );
        }
        // Field values may use variables.
        for matcher in fields.values_mut() {
            if let Matcher::Literal(value) = matcher
                && let Ok(rendered) = render_value(value, &self.vars)
            {
                *value = rendered;
            }
        }
        let wanted = serde_json::to_value(&fields).unwrap_or_default();
        let deadline =
            tokio::time::Instant::now() + self.within(expect.within, expect.within_scenario);
        // A reply to this step, not a leftover of an earlier one.
        let since = self.previous_step_began.filter(|_| !expect.reach_back);
        loop {
            let seen = self.inbox.len();
            let mut problem = None;
            let found = self.inbox.take(|m| match &m.value {
                Some(value) if since.is_none_or(|since| m.at >= since) => matches(value, &fields)
                    .unwrap_or_else(|e| {
                        problem = Some(e);
                        false
                    }),
                _ => false,
            });
            if let Some(e) = problem {
                self.fail(name, "scenario", e, Some(wanted), None);
                return false;
            }
            if let Some(message) = found {
                let value = message.value.unwrap_or_default();
                let kind = value
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message")
                    .to_owned();
                if let Some((label, sent)) = &self.last_send {
                    let metric = expect
                        .latency
                        .clone()
                        .unwrap_or_else(|| format!("{label}→{kind}"));
                    self.plan.metrics.record(
                        &metric,
                        message.at.saturating_duration_since(*sent),
                        self.plan.run_start.elapsed(),
                    );
                }
                for (variable, path) in &expect.capture {
                    if let Some(captured) = crate::scenario::matching::lookup(&value, path) {
                        let text = captured
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| captured.to_string());
                        self.vars.insert(variable.clone(), text);
                    }
                }
                self.inbox.event("expect", format!("matched {kind}"));
                return true;
            }
            if let Some(closed) = self.inbox.closed() {
                let last = expect
                    .message_type
                    .as_deref()
                    .and_then(|k| self.inbox.last_of_type(k));
                self.fail(
                    name,
                    "expectation",
                    format!(
                        "the socket closed ({} {}) before a matching message",
                        closed.code, closed.reason
                    ),
                    Some(wanted),
                    last,
                );
                return false;
            }
            if !self.inbox.wait(deadline, seen).await {
                let last = expect
                    .message_type
                    .as_deref()
                    .and_then(|k| self.inbox.last_of_type(k));
                let detail = last
                    .as_ref()
                    .map(|v| mismatches(v, &fields).join("; "))
                    .filter(|d| !d.is_empty());
                let earlier = since.is_some()
                    && self.inbox.has_unconsumed(|m| {
                        m.value
                            .as_ref()
                            .is_some_and(|v| matches(v, &fields).unwrap_or(false))
                    });
                let message = match detail {
                    Some(detail) => format!(
                        "no matching message in time; the last of that type differs: {detail}"
                    ),
                    None if earlier => "no matching message in time (one arrived before the \
                                        previous step began: a leftover, not a reply to this \
                                        step; `reach_back: true` accepts it)"
                        .to_owned(),
                    None => "no matching message in time".to_owned(),
                };
                self.fail(name, "expectation", message, Some(wanted), last);
                return false;
            }
        }
    }

    async fn expect_close(&mut self, expect: &ExpectClose, name: &str) -> bool {
        let deadline =
            tokio::time::Instant::now() + self.within(expect.within, expect.within_scenario);
        loop {
            let seen = self.inbox.len();
            if let Some(closed) = self.inbox.closed() {
                if let Some(code) = expect.code
                    && closed.code != code
                {
                    self.fail(
                        name,
                        "close code",
                        format!("closed with {} {}", closed.code, closed.reason),
                        Some(code.into()),
                        Some(closed.code.into()),
                    );
                    return false;
                }
                return true;
            }
            if !self.inbox.wait(deadline, seen).await && self.inbox.closed().is_none() {
                self.fail(
                    name,
                    "close code",
                    "the socket stayed open".to_owned(),
                    expect.code.map(Value::from),
                    None,
                );
                return false;
            }
        }
    }

    async fn wait_quiet(&mut self, wait: &crate::scenario::model::WaitQuiet, name: &str) -> bool {
        let quiet = self.plan.time_scale.to_real(wait.quiet.0);
        let limit =
            tokio::time::Instant::now() + wait.within.map_or(Duration::from_secs(60), |w| w.0);
        loop {
            let seen = self.inbox.len();
            let quiet_until = tokio::time::Instant::now() + quiet;
            if quiet_until > limit {
                self.fail(
                    name,
                    "expectation",
                    format!("the server never went quiet for {}", wait.quiet),
                    None,
                    None,
                );
                return false;
            }
            // Nothing new for the whole quiet period: done.
            if !self.inbox.wait(quiet_until, seen).await || self.inbox.closed().is_some() {
                self.inbox
                    .event("wait", format!("quiet for {}", wait.quiet));
                return true;
            }
        }
    }

    async fn disconnect(&mut self, code: Option<u16>) {
        if let Some(mut writer) = self.writer.take() {
            let frame = code.map(|code| CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            });
            let _ = writer.send(Message::Close(frame)).await;
            self.closed_by_client = Some((code.unwrap_or(1005), Instant::now()));
            self.inbox.event(
                "close",
                format!(
                    "client closed with {}",
                    code.map_or("no code".to_owned(), |c| c.to_string())
                ),
            );
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while self.inbox.closed().is_none() && self.inbox.wait(deadline, self.inbox.len()).await
            {
            }
        }
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }

    /// Ends a session whose steps all ran: closes the socket and flags
    /// error messages nobody expected.
    async fn finish(&mut self) {
        if self.writer.is_some() && self.inbox.closed().is_none() {
            self.disconnect(Some(1000)).await;
        } else if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        for message in self.inbox.leftovers() {
            let Some(value) = &message.value else {
                continue;
            };
            let is_error = value.get("type").and_then(Value::as_str) == Some("error")
                || (value.get("message").is_some() && value.get("connectionId").is_some());
            let tolerated = self
                .plan
                .tolerate
                .iter()
                .any(|t| matches(value, t).unwrap_or(false));
            if is_error && !tolerated {
                self.fail(
                    "end of session",
                    "unexpected error",
                    format!("an error no step expected: {}", message.text),
                    None,
                    Some(value.clone()),
                );
            }
        }
    }

    fn report(mut self, started: Instant) -> SessionReport {
        let shared = self.shared.lock().expect("shared lock");
        self.failures
            .extend(shared.contract_failures.iter().cloned());
        let close = match (self.inbox.closed(), self.closed_by_client) {
            (Some(closed), Some((_, at))) if closed.at >= at => Some(CloseReport {
                code: closed.code,
                reason: closed.reason,
                by: "client".to_owned(),
                at_ms: self.inbox.offset_ms(at),
            }),
            (Some(closed), _) => Some(CloseReport {
                code: closed.code,
                reason: closed.reason,
                by: "server".to_owned(),
                at_ms: self.inbox.offset_ms(closed.at),
            }),
            (None, Some((code, at))) => Some(CloseReport {
                code,
                reason: String::new(),
                by: "client".to_owned(),
                at_ms: self.inbox.offset_ms(at),
            }),
            (None, None) => None,
        };
        SessionReport {
            index: self.plan.index,
            passed: self.failures.is_empty(),
            started_at_ms: self.inbox.offset_ms(started),
            duration_ms: started.elapsed().as_millis() as u64,
            steps_completed: self.steps_completed,
            sent: shared.sent,
            received: shared.received,
            bytes_sent: shared.bytes_sent,
            bytes_received: shared.bytes_received,
            units_sent: shared.units_sent,
            units_received: shared.units_received,
            close,
            failures: self.failures.clone(),
            timeline: self.inbox.timeline(),
            conversation: self.conversation.take(),
        }
    }
}
