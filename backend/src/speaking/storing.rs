//! Writing a session's outcome durably: session-table transitions retried
//! while the store fails ([`with_retries`]), and the assessment stored once
//! ([`store_assessment`]): the write is conditional on its id, so a retry
//! cannot make a second one, and it is retried while DynamoDB throttles or
//! is unreachable, until the owner's time runs out.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::SpeakingDeps;
use crate::dynamo_json;
use crate::session_owner::session_item::SessionError;

/// The first pause before trying again (then doubled).
const RETRY_FIRST: Duration = Duration::from_millis(200);
/// The longest pause between attempts.
const RETRY_MAX: Duration = Duration::from_secs(3);

/// Runs a session-table call again (a few times, with a pause) when the
/// store failed; a refused precondition is an answer, not a failure.
pub(crate) async fn with_retries<F, Fut>(mut call: F) -> Result<(), SessionError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), SessionError>>,
{
    let mut pause = RETRY_FIRST;
    for _ in 0..5 {
        match call().await {
            Err(SessionError::Store { message, .. }) => {
                tracing::warn!("sessions table: {message}; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
            other => return other,
        }
    }
    call().await
}

/// Stores the assessment `document` once, giving up at `give_up`. A retry
/// that finds it stored by an attempt whose answer was lost counts as stored.
pub(crate) async fn store_assessment(
    deps: &SpeakingDeps,
    document: &Value,
    give_up: Instant,
    session_id: &str,
) -> Result<(), String> {
    let Some(object) = document.as_object() else {
        return Err("the assessment is not a JSON object".to_owned());
    };
    let mut item = dynamo_json::to_item(object);
    item.insert(
        "timestamp".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::S(crate::clock::now_rfc3339()),
    );
    let mut pause = RETRY_FIRST;
    loop {
        let attempt = deps
            .dynamodb
            .put_item()
            .table_name(&deps.settings.assessments_table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(assessment_id)")
            .send()
            .await;
        let error = match attempt {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        if error.code() == Some("ConditionalCheckFailedException") {
            return Ok(()); // an earlier attempt stored it
        }
        let text = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
        if Instant::now() + pause >= give_up {
            return Err(text);
        }
        tracing::warn!(session = %session_id, "storing the assessment: {text}; retrying in {pause:?}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_owner::session_item::SessionStatus;

    #[tokio::test]
    async fn store_failures_are_retried_and_answers_are_not() {
        let mut calls = 0;
        let result = with_retries(|| {
            calls += 1;
            let answer = if calls < 3 {
                Err(SessionError::Store {
                    operation: "UpdateItem",
                    message: "throttled".into(),
                })
            } else {
                Ok(())
            };
            async move { answer }
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let refused = with_retries(|| {
            calls += 1;
            async { Err(SessionError::NotInState(SessionStatus::Active)) }
        })
        .await;
        assert!(refused.is_err());
        assert_eq!(calls, 1, "a refusal is an answer");
    }
}
