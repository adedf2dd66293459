//! A session's inbox: every message the server sent, in order, waiting for
//! the `expect` steps that consume them; the socket's close; the wire
//! transcript of the last frames both ways; and the session's timeline. The
//! reader task fills it, the step runner reads it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Notify;

use crate::report::model::{TimelineEvent, WireEntry};

/// How many frames the transcript keeps.
const TRANSCRIPT_FRAMES: usize = 40;
/// Longest text kept per transcript frame.
const TRANSCRIPT_TEXT: usize = 400;
/// How many events a session's timeline keeps.
const TIMELINE_EVENTS: usize = 5_000;
/// How many unconsumed messages are kept (the oldest are dropped past it).
const INBOX_LIMIT: usize = 20_000;

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Its JSON (None: not JSON).
    pub value: Option<Value>,
    pub text: String,
    /// Taken by an `expect`.
    pub consumed: bool,
}

/// How the socket ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    /// Close code (1005 without one, 1006 without a close frame).
    pub code: u16,
    pub reason: String,
    /// When.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct State {
    messages: VecDeque<Received>,
    closed: Option<Closed>,
    transcript: VecDeque<WireEntry>,
    timeline: Vec<TimelineEvent>,
}

/// The inbox.
#[derive(Debug)]
pub struct Inbox {
    state: Mutex<State>,
    notify: Notify,
    run_start: Instant,
}

fn shorten(text: &str) -> String {
    if text.len() <= TRANSCRIPT_TEXT {
        return text.to_owned();
    }
    let mut end = TRANSCRIPT_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

impl Inbox {
    /// An empty inbox for a run that started at `run_start`.
    pub fn new(run_start: Instant) -> Self {
        Self {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            run_start,
        }
    }

    /// Milliseconds since the run started.
    pub fn offset_ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.run_start).as_millis() as u64
    }

    /// Records a frame in the transcript.
    pub fn wire(&self, direction: &str, text: &str) {
        let entry = WireEntry {
            at_ms: self.offset_ms(Instant::now()),
            direction: direction.to_owned(),
            text: shorten(text),
        };
        let mut state = self.state.lock().expect("inbox lock");
        if state.transcript.len() == TRANSCRIPT_FRAMES {
            state.transcript.pop_front();
        }
        state.transcript.push_back(entry);
    }

    /// Adds an event to the timeline.
    pub fn event(&self, kind: &str, detail: impl Into<String>) {
        let event = TimelineEvent {
            at_ms: self.offset_ms(Instant::now()),
            kind: kind.to_owned(),
            detail: detail.into(),
        };
        let mut state = self.state.lock().expect("inbox lock");
        if state.timeline.len() < TIMELINE_EVENTS {
            state.timeline.push(event);
        }
    }

    /// Stores a received message and wakes the runner.
    pub fn push(&self, text: String, value: Option<Value>) {
        {
            let mut state = self.state.lock().expect("inbox lock");
            if state.messages.len() == INBOX_LIMIT {
                state.messages.pop_front();
            }
            state.messages.push_back(Received {
                at: Instant::now(),
                value,
                text,
                consumed: false,
            });
        }
        self.notify.notify_waiters();
    }

    /// Records the close and wakes the runner.
    pub fn close(&self, code: u16, reason: String) {
        {
            let mut state = self.state.lock().expect("inbox lock");
            if state.closed.is_none() {
                state.closed = Some(Closed {
                    code,
                    reason,
                    at: Instant::now(),
                });
            }
        }
        self.notify.notify_waiters();
    }

    /// A new socket of the same session opened: the previous close no longer
    /// ends the session's waits (its messages stay, for the report).
    pub fn reopen(&self) {
        self.state.lock().expect("inbox lock").closed = None;
    }

    /// The close, if the socket ended.
    pub fn closed(&self) -> Option<Closed> {
        self.state.lock().expect("inbox lock").closed.clone()
    }

    /// Takes the first unconsumed message `accept` accepts.
    pub fn take(&self, mut accept: impl FnMut(&Received) -> bool) -> Option<Received> {
        let mut state = self.state.lock().expect("inbox lock");
        let found = state
            .messages
            .iter_mut()
            .find(|m| !m.consumed && accept(m))?;
        found.consumed = true;
        Some(found.clone())
    }

    /// Whether an unconsumed message that `accept` accepts is waiting.
    pub fn has_unconsumed(&self, mut accept: impl FnMut(&Received) -> bool) -> bool {
        let state = self.state.lock().expect("inbox lock");
        state.messages.iter().any(|m| !m.consumed && accept(m))
    }

    /// Waits until something arrives, the socket closes, or `deadline` passes
    /// (false then).
    pub async fn wait(&self, deadline: tokio::time::Instant, seen: usize) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let state = self.state.lock().expect("inbox lock");
            if state.messages.len() != seen || state.closed.is_some() {
                return true;
            }
        }
        tokio::time::timeout_at(deadline, notified).await.is_ok()
    }

    /// How many messages have arrived (to detect new ones).
    pub fn len(&self) -> usize {
        self.state.lock().expect("inbox lock").messages.len()
    }

    /// Whether nothing arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The last message of a type, for "received vs expected" detail.
    pub fn last_of_type(&self, kind: &str) -> Option<Value> {
        let state = self.state.lock().expect("inbox lock");
        state
            .messages
            .iter()
            .rev()
            .filter_map(|m| m.value.as_ref())
            .find(|v| v.get("type").and_then(Value::as_str) == Some(kind))
            .cloned()
    }

    /// Every message kept (taken or not), in order.
    pub fn messages(&self) -> Vec<Received> {
        self.state
            .lock()
            .expect("inbox lock")
            .messages
            .iter()
            .cloned()
            .collect()
    }

    /// Unconsumed messages.
    pub fn leftovers(&self) -> Vec<Received> {
        self.state
            .lock()
            .expect("inbox lock")
            .messages
            .iter()
            .filter(|m| !m.consumed)
            .cloned()
            .collect()
    }

    /// The transcript so far.
    pub fn transcript(&self) -> Vec<WireEntry> {
        self.state
            .lock()
            .expect("inbox lock")
            .transcript
            .iter()
            .cloned()
            .collect()
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Vec<TimelineEvent> {
        self.state.lock().expect("inbox lock").timeline.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_reconnection_clears_the_close_but_keeps_the_messages() {
        let inbox = Inbox::new(Instant::now());
        inbox.push("a".into(), None);
        inbox.close(1000, String::new());
        assert!(inbox.closed().is_some());
        inbox.reopen();
        assert!(inbox.closed().is_none());
        assert_eq!(inbox.len(), 1);
    }

    #[test]
    fn take_consumes_in_order() {
        let inbox = Inbox::new(Instant::now());
        for n in 0..3 {
            inbox.push(
                format!("{n}"),
                Some(serde_json::json!({"n": n, "type": "x"})),
            );
        }
        let first = inbox
            .take(|m| {
                m.value
                    .as_ref()
                    .is_some_and(|v| v["n"].as_i64().unwrap() >= 1)
            })
            .unwrap();
        assert_eq!(first.text, "1");
        assert_eq!(inbox.leftovers().len(), 2);
        assert!(inbox.take(|m| m.text == "1").is_none(), "consumed once");
    }

    #[tokio::test]
    async fn wait_wakes_on_push_and_times_out() {
        let inbox = std::sync::Arc::new(Inbox::new(Instant::now()));
        let writer = inbox.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.push("hi".into(), None);
        });
        assert!(
            inbox
                .wait(tokio::time::Instant::now() + Duration::from_secs(5), 0)
                .await
        );
        assert!(
            !inbox
                .wait(tokio::time::Instant::now() + Duration::from_millis(20), 1)
                .await
        );
    }

    #[test]
    fn transcript_is_bounded_and_shortened() {
        let inbox = Inbox::new(Instant::now());
        for _ in 0..100 {
            inbox.wire("in", &"x".repeat(1000));
        }
        let transcript = inbox.transcript();
        assert_eq!(transcript.len(), TRANSCRIPT_FRAMES);
        assert!(transcript[0].text.ends_with("(1000 bytes)"));
    }
}
