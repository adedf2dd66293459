//! How a session ends: the closing grace that lets Maya finish, then the
//! assessment (asked for within the time left, stored once, told to the
//! client) or the session's failure, and the relay items purged whatever
//! happened.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CLOSING_GRACE, Ending, Owner, QUIET_ENOUGH, Step};
use crate::clock::{now_epoch_s, now_rfc3339};
use crate::session_owner::relay::RelayItem;
use crate::session_owner::session_item::SessionStatus;
use crate::speaking::assessment;
use crate::speaking::messages::{self, errors};
use crate::speaking::storing::{store_assessment, with_retries};
use crate::vertex::generate::{GenerateConfig, generate_json};
use crate::vertex::live::{LiveEvent, LiveSession};

impl Owner<'_> {
    /// Lets the examiner finish the turn in progress (the candidate's last
    /// words included): events are taken until a turn completes, the stream has
    /// been quiet for a moment, or the grace period ends.
    async fn closing_grace(&mut self, live: &mut LiveSession) {
        let until = tokio::time::Instant::now() + CLOSING_GRACE.min(self.margin / 4);
        // Bounded as a whole, not only while waiting for events: handling an
        // event can write to the model, and a write the model does not read
        // would hold the owner until Lambda's timeout killed it with the
        // assessment unsent (seen at 60x: `speaking::troubleshooting_the_15_…`).
        let grace = async {
            let _ = live.audio_stream_end().await;
            loop {
                let quiet = (tokio::time::Instant::now() + QUIET_ENOUGH).min(until);
                let Ok(Some(events)) = tokio::time::timeout_at(quiet, live.next_events()).await
                else {
                    break;
                };
                let done = events
                    .iter()
                    .any(|e| matches!(e, LiveEvent::TurnComplete(_) | LiveEvent::Closed { .. }));
                let quiet: Vec<LiveEvent> = events
                    .into_iter()
                    .filter(|e| !matches!(e, LiveEvent::GoAway(_) | LiveEvent::Closed { .. }))
                    .collect();
                if let Step::End(_) = self.on_events(quiet, live).await {
                    break;
                }
                if done {
                    break;
                }
            }
        };
        if tokio::time::timeout_at(until, grace).await.is_err() {
            tracing::warn!(
                session = %self.session.session_id,
                "the closing grace ran out while the model stream was busy: ending without it"
            );
        }
        self.flush_examiner();
    }

    /// Ends the session as `ending` says.
    pub(super) async fn finish(mut self, mut live: LiveSession, ending: Ending) {
        let now = now_epoch_s();
        let session_id = self.session.session_id.clone();
        let sessions = &self.call.deps.owner.sessions;
        match &ending {
            Ending::Completed | Ending::TimeLimit => {
                self.closing_grace(&mut live).await;
                // The Live socket closes while the assessment is asked for:
                // a model that is not reading (its close frame waits up to
                // a second) must not spend the time left to assess.
                let time_limit = ending == Ending::TimeLimit;
                tokio::join!(live.close(), self.complete(time_limit, true));
            }
            Ending::Disconnected(_) | Ending::Gone if self.ended_before_leaving().await => {
                // The candidate ended the test and left at once: the
                // assessment is still theirs (stored; nobody to tell).
                tracing::info!(session = %session_id, "end_speaking came before the client left: assessing");
                tokio::join!(live.close(), self.complete(false, false));
            }
            Ending::Disconnected(_) | Ending::Gone => {
                live.close().await;
                let _ = with_retries(|| {
                    sessions.transition(
                        &session_id,
                        SessionStatus::Active,
                        SessionStatus::Disconnected,
                        now,
                        &[],
                    )
                })
                .await;
            }
            Ending::Failed(reason) => {
                live.close().await;
                tracing::error!(session = %session_id, "model failure: {reason}");
                let extra = [("ended_by", reason.clone())];
                let _ = with_retries(|| {
                    sessions.transition(
                        &session_id,
                        SessionStatus::Active,
                        SessionStatus::Failed,
                        now,
                        &extra,
                    )
                })
                .await;
                self.call.post_error(errors::MODEL_FAILED).await;
            }
        }
        // No audio outlives the session.
        self.inbox.purge().await;
    }

    /// Whether the client sent `end_speaking` before it left: the relay is
    /// read until the leave grace passes (`LEAVE_GRACE_MS`; the message's
    /// invocation may run after `$disconnect`'s), and no later than the
    /// margin the assessment needs before the function's deadline.
    async fn ended_before_leaving(&mut self) -> bool {
        let settings = &self.call.deps.settings;
        let latest = self
            .deadline
            .checked_sub(self.margin)
            .unwrap_or(self.deadline);
        let until = (Instant::now() + settings.leave_grace).min(latest);
        let poll = settings.relay_settle.max(Duration::from_millis(10));
        loop {
            match self.inbox.take().await {
                Ok(items) if items.iter().any(|i| matches!(i, RelayItem::End)) => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(session = %self.session.session_id, "relay read failed: {e}")
                }
            }
            if Instant::now() + poll > until {
                return false;
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// Asks for the assessment (one retry on an invalid answer), stores it
    /// and, when `notify`, tells the client. The client hears
    /// `assessment_complete` only once the assessment is stored; when it
    /// cannot be stored the session fails and the client is told so.
    async fn complete(&mut self, time_limit: bool, notify: bool) {
        let deps = self.call.deps;
        let session_id = self.session.session_id.clone();
        let generate = GenerateConfig {
            base_url_template: deps.settings.vertex_base_url.clone(),
            region: self.config.region.clone(),
            project: self.account.project_id.clone(),
            model: deps.settings.assessment_model.clone(),
        };
        let prompt = assessment::prompt(&self.start.assessment_type, &self.transcript);
        // The model's answer must leave time to store it and tell the client.
        let answer_by = self
            .deadline
            .checked_sub(self.margin / 2)
            .unwrap_or(self.deadline);
        let asked = Instant::now();
        let mut last_problem = String::new();
        let mut valid = None;
        for _attempt in 0..2 {
            let bearer = match self.account.bearer_token(now_epoch_s()) {
                Ok(bearer) => bearer,
                Err(e) => {
                    last_problem = format!("the service account could not sign a token: {e}");
                    break;
                }
            };
            let answer = tokio::time::timeout_at(
                answer_by.into(),
                generate_json(
                    &deps.http,
                    &generate,
                    &bearer,
                    assessment::ASSESSOR_INSTRUCTIONS,
                    &prompt,
                ),
            )
            .await;
            let Ok(answer) = answer else {
                last_problem = format!(
                    "the assessment model did not answer within {} ms, the time left before the function's deadline",
                    answer_by.saturating_duration_since(asked).as_millis()
                );
                break;
            };
            match answer {
                Ok((text, usage)) => {
                    self.usage.assessment.input_tokens += usage.input_tokens;
                    self.usage.assessment.output_tokens += usage.output_tokens;
                    match assessment::validate(&text) {
                        Ok(answer) => {
                            valid = Some(answer);
                            break;
                        }
                        Err(problem) => {
                            last_problem =
                                format!("the model returned an invalid assessment: {problem}")
                        }
                    }
                }
                Err(e) => last_problem = format!("the assessment model failed: {e}"),
            }
        }
        let now = now_epoch_s();
        let Some(answer) = valid else {
            tracing::error!(session = %session_id, "assessment rejected: {last_problem}");
            self.fail(&last_problem, notify).await;
            return;
        };
        let document = self.document(&answer, time_limit);
        let assessment_id = document["assessment_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // A quarter of the margin is left to record and tell the outcome.
        let give_up = self
            .deadline
            .checked_sub(self.margin / 4)
            .unwrap_or(self.deadline);
        if let Err(e) = store_assessment(deps, &document, give_up, &session_id).await {
            tracing::error!(session = %session_id, "storing the assessment failed: {e}");
            self.fail(&format!("storing the assessment failed: {e}"), notify)
                .await;
            return;
        }
        // Completed, whether still active or marked disconnected meanwhile
        // (the client left after end_speaking).
        let extra = [("assessment_id", assessment_id)];
        let mut client_left = false;
        for from in [SessionStatus::Active, SessionStatus::Disconnected] {
            let moved = with_retries(|| {
                deps.owner.sessions.transition(
                    &session_id,
                    from,
                    SessionStatus::Completed,
                    now,
                    &extra,
                )
            })
            .await;
            if moved.is_ok() {
                client_left = from == SessionStatus::Disconnected;
                break;
            }
        }
        // Nobody to tell when `$disconnect` came meanwhile.
        if notify && !client_left {
            let _ = self
                .call
                .post(&messages::assessment_complete(document))
                .await;
        }
    }

    /// Ends the session as failed (from active, or disconnected meanwhile)
    /// and tells the client when `notify`.
    async fn fail(&self, reason: &str, notify: bool) {
        let deps = self.call.deps;
        let session_id = &self.session.session_id;
        let now = now_epoch_s();
        let extra = [("ended_by", reason.to_owned())];
        for from in [SessionStatus::Active, SessionStatus::Disconnected] {
            let moved = with_retries(|| {
                deps.owner
                    .sessions
                    .transition(session_id, from, SessionStatus::Failed, now, &extra)
            })
            .await;
            if moved.is_ok() {
                break;
            }
        }
        if notify {
            self.call
                .post_error(&errors::assessment_failed(reason))
                .await;
        }
    }

    fn document(&self, answer: &assessment::ModelAssessment, time_limit: bool) -> Value {
        let bands: Vec<f64> = assessment::CRITERIA
            .iter()
            .map(|c| answer.criteria[*c].band)
            .collect();
        let criteria: serde_json::Map<String, Value> = assessment::CRITERIA
            .iter()
            .map(|c| (c.to_string(), json!({"band": answer.criteria[*c].band, "feedback": answer.criteria[*c].feedback})))
            .collect();
        let mut document = json!({
            "assessment_id": format!("speaking-{}-{}", self.session.connection_id.trim_end_matches('='), self.session.created_at),
            "session_id": self.session.session_id,
            "user_id": self.session.user_id,
            "type": "speaking",
            "assessment_type": self.start.assessment_type,
            "overall_band": assessment::overall_band(&bands),
            "criteria": criteria,
            "feedback": answer.overall_feedback,
            "improvement_plan": answer.improvement_plan,
            "transcript": self.transcript,
            "model": self.call.deps.settings.assessment_model,
            "live_model": self.config.model,
            "region": self.config.region,
            "duration_seconds": (self.began.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "ended_by": if time_limit { "time_limit" } else { "completed" },
            "completed_at": now_rfc3339(),
            "usage": self.usage,
            "resumptions": self.resumptions,
        });
        if time_limit {
            document["notice"] = json!(
                "The session reached the 15-minute limit of the speaking service, so Maya ended the test \
                 and assessed what was said so far."
            );
        }
        document
    }
}
