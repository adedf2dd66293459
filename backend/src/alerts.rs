//! Alerts to an SNS topic through aws-sdk-sns (seed 001's "SNS topic for
//! alerts", `ALERTS_TOPIC_ARN`): what deserves a person's attention, and
//! nothing else. Two kinds: the model failed (Nova Sonic not available,
//! throttled, a broken stream: users cannot talk to the assistant), and a
//! patient who sounds in distress. Each alert is a JSON message with an
//! `alert_type` message attribute so subscribers can filter.

use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use serde_json::{Map, Value, json};

/// Phrases that make what a patient says sound like distress.
const DISTRESS_PHRASES: &[&str] = &[
    "help me",
    "i fell",
    "i've fallen",
    "i have fallen",
    "i fall",
    "chest pain",
    "can't breathe",
    "cannot breathe",
    "cant breathe",
    "hard to breathe",
    "emergency",
    "call an ambulance",
    "ambulance",
    "i'm hurt",
    "i am hurt",
    "it hurts",
    "bleeding",
    "i'm scared",
    "i am scared",
    "i'm lost",
    "i am lost",
    "dizzy",
];

/// Whether `text` sounds like the speaker is in distress: one of the
/// phrases, on word boundaries, in any case.
pub fn is_distress(text: &str) -> bool {
    let lower = text.to_lowercase().replace('’', "'");
    DISTRESS_PHRASES.iter().any(|phrase| {
        lower
            .match_indices(phrase)
            .any(|(at, _)| on_word_boundaries(&lower, at, phrase.len()))
    })
}

fn on_word_boundaries(text: &str, at: usize, len: usize) -> bool {
    let before = text[..at].chars().next_back();
    let after = text[at + len..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// The speech model failed or is not available.
    ModelFailure,
    /// A patient said something that sounds like distress.
    PatientDistress,
}

impl AlertKind {
    /// The `alert_type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::ModelFailure => "model_failure",
            AlertKind::PatientDistress => "patient_distress",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// SNS subject (ASCII, at most 100 characters; longer is cut).
    pub subject: String,
    /// Details: session, patient, model, what was said or what failed.
    pub details: Map<String, Value>,
}

impl Alert {
    /// The message body: `{"alert_type": ..., "subject": ..., ...details}`.
    pub fn message(&self) -> String {
        let mut body = self.details.clone();
        body.insert("alert_type".to_owned(), json!(self.kind.as_str()));
        body.insert("subject".to_owned(), json!(self.subject));
        Value::Object(body).to_string()
    }

    /// The subject as SNS accepts it: printable ASCII, at most 100 characters.
    pub fn sns_subject(&self) -> String {
        self.subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(100)
            .collect()
    }
}

/// Why an alert was not published.
#[derive(Debug, thiserror::Error)]
#[error("SNS Publish to {topic} failed: {message}")]
pub struct AlertError {
    /// The topic.
    pub topic: String,
    /// The SDK's error with its context.
    pub message: String,
}

/// The alerts topic.
#[derive(Debug, Clone)]
pub struct Alerts {
    client: Client,
    topic_arn: String,
}

impl Alerts {
    /// Alerts to `topic_arn` (`ALERTS_TOPIC_ARN`).
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publishes an alert; returns the SNS message id.
    pub async fn publish(&self, alert: &Alert) -> Result<String, AlertError> {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(alert.kind.as_str())
            .build()
            .map_err(|e| AlertError {
                topic: self.topic_arn.clone(),
                message: e.to_string(),
            })?;
        let answer = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(alert.sns_subject())
            .message(alert.message())
            .message_attributes("alert_type", attribute)
            .send()
            .await
            .map_err(|e| AlertError {
                topic: self.topic_arn.clone(),
                message: DisplayErrorContext(e).to_string(),
            })?;
        Ok(answer.message_id().unwrap_or_default().to_owned())
    }

    /// Publishes, logging instead of failing (an alert must never end a session).
    pub async fn send(&self, alert: &Alert) {
        match self.publish(alert).await {
            Ok(id) => {
                tracing::info!(alert = alert.kind.as_str(), message_id = %id, "alert published")
            }
            Err(e) => tracing::error!(alert = alert.kind.as_str(), "{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn distress_phrases_on_word_boundaries() {
        assert!(is_distress("Help me, I fell in the kitchen"));
        assert!(is_distress("I have CHEST PAIN"));
        assert!(is_distress("I can’t breathe"));
        assert!(!is_distress("Who is Sarah?"));
        assert!(!is_distress("What do I do this morning?"));
        assert!(!is_distress("I felt fine"), "fell is not felt");
        assert!(!is_distress("the helpmeet"), "inside a word");
    }

    #[test]
    fn messages_and_subjects() {
        let mut details = Map::new();
        details.insert("patientId".into(), json!("pt-001"));
        let alert = Alert {
            kind: AlertKind::PatientDistress,
            subject: format!("Buddy: John may need help — {}", "x".repeat(200)),
            details,
        };
        let body: Value = serde_json::from_str(&alert.message()).unwrap();
        assert_eq!(body["alert_type"], "patient_distress");
        assert_eq!(body["patientId"], "pt-001");
        let subject = alert.sns_subject();
        assert_eq!(subject.chars().count(), 100);
        assert!(subject.is_ascii());
    }

    proptest! {
        #[test]
        fn any_text_with_a_phrase_is_distress(prefix in "[a-z ]{0,20}", suffix in "[a-z ]{0,20}") {
            let text = format!("{prefix} help me {suffix}");
            prop_assert!(is_distress(&text));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = is_distress(&text);
        }
    }
}
