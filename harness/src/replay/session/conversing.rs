//! The conversational side of a session: utterances (a `stream_audio` run, or
//! an `answer`), the candidate's open microphone (silence streamed while the
//! runner waits), `answer` (speak once the model's turn has ended and played
//! out), `expect_turn` (a checkpoint on the model's next turn), and the
//! conversation checks at the end.

use super::*;
use crate::scenario::model::{Answer, ExpectTurn};
use crate::scenario::pauses::edge_quiet;
use crate::turns::checks::{self, Judged};

/// Default wait for the model's turn (real time).
const TURN_WITHIN: Duration = Duration::from_secs(60);
/// Default pause between the end of the model's playout and the first word.
const THINK: Duration = Duration::from_secs(1);
/// Default silence between the clips of one answer.
const GAP: Duration = Duration::from_millis(300);
/// How often a runner without a microphone looks at the turns while it waits.
const POLL: Duration = Duration::from_millis(50);

impl Runner {
    fn with_tracker<T>(&self, f: impl FnOnce(&mut Tracker) -> T) -> Option<T> {
        self.shared
            .lock()
            .expect("shared lock")
            .tracker
            .as_mut()
            .map(f)
    }

    fn end_of_utterance(&self) -> Duration {
        self.plan
            .conversation
            .as_ref()
            .map_or(Duration::from_millis(800), |c| c.profile.end_of_utterance)
    }

    /// A step that is not audio ends a `stream_audio` utterance.
    pub(super) fn utterance_boundary(&mut self, step: &Step) {
        if !matches!(step, Step::StreamAudio(_) | Step::StreamSilence(_)) {
            self.end_stream_utterance();
        }
    }

    fn end_stream_utterance(&mut self) {
        if self.silence_since_speech.take().is_some() {
            self.with_tracker(Tracker::end_speech);
        }
    }

    /// A `stream_audio` step joins the open utterance (when the silence
    /// written since its last clip is shorter than the end of utterance) or
    /// starts one.
    pub(super) fn begin_stream_utterance(&mut self) {
        if self.silence_since_speech.is_none() {
            let now = Instant::now();
            self.with_tracker(|t| t.begin_speech(now, None, false, false));
        }
        self.silence_since_speech = Some(Duration::ZERO);
    }

    /// Silence written after speech: long enough, it ends the utterance.
    pub(super) fn count_silence(&mut self, duration: Duration) {
        let end_of_utterance = self.end_of_utterance();
        if let Some(silence) = self.silence_since_speech.as_mut() {
            *silence += duration;
            if *silence >= end_of_utterance {
                self.end_stream_utterance();
            }
        }
    }

    /// `wait`: with a microphone, silence streams meanwhile.
    pub(super) async fn pause(&mut self, span: Duration, name: &str) -> bool {
        let until = tokio::time::Instant::now() + self.plan.time_scale.to_real(span);
        if self.plan.microphone.is_none() || self.writer.is_none() {
            tokio::time::sleep_until(until).await;
            return true;
        }
        self.listen_until(until, name, |_, _| false).await.is_some()
    }

    /// Waits until `done` holds or `deadline` passes (Some(false)), streaming
    /// silence with the microphone; None when the session cannot go on.
    async fn listen_until(
        &mut self,
        deadline: tokio::time::Instant,
        name: &str,
        mut done: impl FnMut(&mut Tracker, Instant) -> bool,
    ) -> Option<bool> {
        let microphone = self
            .plan
            .microphone
            .clone()
            .filter(|_| self.writer.is_some());
        let interval = microphone.as_ref().map_or(POLL, |mic| {
            self.plan
                .time_scale
                .to_real(Duration::from_millis(u64::from(mic.chunk_ms)))
        });
        let silence = microphone.as_ref().map(|mic| {
            Clip::silence(
                Duration::from_millis(u64::from(mic.chunk_ms)),
                mic.sample_rate,
            )
        });
        let mut due = tokio::time::Instant::now();
        loop {
            let now = Instant::now();
            // Without turn tracking nothing can be done early: a `wait` waits.
            if self.with_tracker(|t| done(t, now)).unwrap_or(false) {
                return Some(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Some(false);
            }
            if self.inbox.closed().is_some() {
                return Some(false);
            }
            match (&microphone, &silence) {
                (Some(mic), Some(silence)) => {
                    tokio::time::sleep_until(due).await;
                    let (format, message) = (mic.format, mic.message.clone());
                    if !self
                        .send_chunk(
                            &silence.samples,
                            silence.sample_rate,
                            format,
                            &message,
                            name,
                            due,
                        )
                        .await
                    {
                        return None;
                    }
                }
                _ => {
                    let seen = self.inbox.len();
                    self.inbox.wait(due.min(deadline), seen).await;
                }
            }
            due += interval;
        }
    }

    /// `answer`: waits (listening) for the model to finish and its audio to
    /// play out, thinks, then speaks the clips as one utterance.
    /// Waits until the model's turns since the last utterance have ended and
    /// played out, then thinks for `think`; when the model starts talking
    /// again during that pause (a second turn, a repeat), waits for it too and
    /// thinks again, as a person at the browser would. False when the session
    /// cannot go on (the failure is recorded).
    async fn wait_for_quiet_then_think(
        &mut self,
        answer: &Answer,
        think: Duration,
        name: &str,
    ) -> bool {
        let within = answer.within.map_or(TURN_WITHIN, |w| w.0);
        let deadline = tokio::time::Instant::now() + within;
        let mut since = self.with_tracker(|t| t.last_prompt_end());
        loop {
            let heard = self
                .listen_until(deadline, name, |t, now| {
                    since.is_none_or(|since| t.model_done_since(since, now))
                })
                .await;
            match heard {
                None => return false,
                Some(false) => {
                    self.fail(
                        name,
                        "expectation",
                        format!(
                            "the model's turn did not end and play out within {} s of the last utterance, so the candidate never got to answer",
                            within.as_secs()
                        ),
                        None,
                        None,
                    );
                    return false;
                }
                Some(true) => {}
            }
            let quiet_from = Instant::now();
            if !self.pause(think, name).await {
                return false;
            }
            if !self
                .with_tracker(|t| t.turn_started_since(quiet_from))
                .unwrap_or(false)
            {
                return true;
            }
            since = Some(quiet_from);
        }
    }

    pub(super) async fn answer(&mut self, answer: &Answer, name: &str) -> bool {
        let Some(mic) = self.plan.microphone.clone() else {
            self.fail(
                name,
                "scenario",
                "answer needs a microphone".to_owned(),
                None,
                None,
            );
            return false;
        };
        // Without turn tracking (an API with no turn profile) there is no
        // model turn to wait for.
        let think = answer.think.map_or(THINK, |t| t.0);
        if answer.interrupt || self.plan.conversation.is_none() {
            if !self.pause(think, name).await {
                return false;
            }
        } else if !self.wait_for_quiet_then_think(answer, think, name).await {
            return false;
        }
        let now = Instant::now();
        let waited = !answer.interrupt;
        self.with_tracker(|t| t.begin_speech(now, answer.replies, answer.long_turn, waited));
        let gap = Clip::silence(answer.gap.map_or(GAP, |g| g.0), mic.sample_rate);
        for (index, file) in answer.clips.iter().enumerate() {
            if index > 0
                && !self
                    .stream(&gap, mic.chunk_ms, mic.format, &mic.message, name)
                    .await
            {
                return false;
            }
            let Some(clip) = self.plan.clips.get(file).cloned() else {
                self.fail(
                    name,
                    "scenario",
                    format!("clip {file} was not loaded"),
                    None,
                    None,
                );
                return false;
            };
            if !self
                .stream(&clip, mic.chunk_ms, mic.format, &mic.message, name)
                .await
            {
                return false;
            }
            let text = self.plan.clip_texts.get(file).cloned();
            let now = Instant::now();
            let quiet = self.plan.time_scale.to_real(edge_quiet(&clip).1);
            self.with_tracker(|t| t.add_clip(now, quiet, file, text.as_deref()));
        }
        self.with_tracker(Tracker::end_speech);
        true
    }

    /// `expect_turn`: the model's next turn (after the previous step began
    /// and after the last utterance) must end in time and say what is expected.
    pub(super) async fn expect_turn(&mut self, expect: &ExpectTurn, name: &str) -> bool {
        if self.plan.conversation.is_none() {
            self.fail(
                name,
                "scenario",
                "expect_turn needs turns: the API has no turn profile and the scenario no conversation block".to_string(),
                None,
                None,
            );
            return false;
        }
        let began = self.previous_step_began;
        let since = self
            .with_tracker(|t| began.map_or(t.opened, |b| b.max(t.last_prompt_end())))
            .unwrap_or_else(Instant::now);
        let played_out = expect.played_out.unwrap_or(true);
        let within = expect.within.map_or(TURN_WITHIN, |w| w.0);
        let deadline = tokio::time::Instant::now() + within;
        let mut found = None;
        let heard = self
            .listen_until(deadline, name, |t, now| {
                found = t.ended_turn_since(since, now, played_out);
                found.is_some()
            })
            .await;
        let mut checkpoint = Checkpoint {
            step: name.to_owned(),
            turn: found,
            part: expect.part.clone(),
            problem: None,
        };
        let text = found
            .and_then(|index| self.with_tracker(|t| t.turns[index].text.clone()))
            .unwrap_or_default();
        match (heard, found) {
            (None, _) => return false,
            (Some(_), None) => {
                checkpoint.problem =
                    Some(format!("no model turn ended within {} s", within.as_secs()));
            }
            (Some(_), Some(index)) => {
                let pattern = expect.says.as_deref().unwrap_or("");
                let matched = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&text));
                if !matched {
                    checkpoint.problem = Some(format!(
                        "turn {index} said {text:?}, expected it to match {pattern:?}"
                    ));
                }
            }
        }
        self.inbox.event(
            "turn",
            format!(
                "checkpoint {}: {text}",
                if checkpoint.problem.is_none() {
                    "held"
                } else {
                    "broke"
                }
            ),
        );
        let keep_going = checkpoint.turn.is_some();
        self.checkpoints.push(checkpoint);
        keep_going
    }

    /// At the end of the session: the turn list and the conversation checks.
    pub(super) async fn judge_conversation(&mut self) {
        let Some(plan) = self.plan.conversation.clone() else {
            return;
        };
        self.end_stream_utterance();
        let Some(mut tracker) = self.with_tracker(|t| t.clone()) else {
            return;
        };
        let ended = Instant::now();
        tracker.settle(ended + tracker.profile().quiet_gap);
        let texts: Vec<String> = tracker.turns.iter().map(|t| t.text.clone()).collect();
        let model_log = match &plan.model_log {
            Some(source) => source(texts).await,
            None => None,
        };
        let outcomes = if plan.checks {
            checks::judge(Judged {
                tracker: &tracker,
                replies_per_utterance: plan.replies_per_utterance,
                checkpoints: &self.checkpoints,
                model_log: model_log.as_ref(),
                ended,
            })
        } else {
            Vec::new()
        };
        for outcome in outcomes.iter().filter(|o| !o.passed) {
            self.plan.metrics.error(&outcome.id);
            self.failures.push(Failure {
                step: "conversation".to_owned(),
                check: format!("{} {}", outcome.id, outcome.name),
                message: outcome.problems.join("; "),
                expected: None,
                received: None,
                violations: Vec::new(),
                transcript: self.inbox.transcript(),
                reproduce: self.plan.reproduce.clone(),
            });
        }
        self.conversation = Some(crate::turns::summary::report(
            &tracker,
            model_log.as_ref(),
            outcomes,
            &self.inbox,
        ));
    }
}
