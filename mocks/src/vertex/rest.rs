//! `POST /regions/{region}/{v1|v1beta1}/projects/{P}/locations/{L}/publishers/
//! google/models/{MODEL}:generateContent`: bearer auth, Google-shaped errors,
//! a deterministic answer. A request whose text has the line
//! `TASK: ielts_speaking_assessment` and asks for `application/json` gets the
//! [`assessment`](super::assessment) of its transcript; other requests get a
//! fixed-form answer.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::assessment::{assess, is_assessment_request};
use super::casing::normalize_keys;
use super::errors::GoogleError;
use super::faults::{FaultStage, InvalidAssessmentVariant, VertexFault};
use super::models;
use super::server_messages::TurnUsage;
use super::state::VertexState;
use crate::lifecycle;
use crate::speech::text_tokens;
use crate::token_rules::{self, Provider};

/// The path parameters.
#[derive(Debug, Deserialize)]
pub(super) struct ModelPath {
    region: String,
    version: String,
    project: String,
    location: String,
    model_action: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(default)]
    response_mime_type: Option<String>,
    #[serde(default)]
    thinking_config: Option<ThinkingConfig>,
}

/// `generationConfig.thinkingConfig`: `thinkingBudget` is an int32, which
/// proto3 JSON accepts as a number or a string.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    #[serde(default)]
    thinking_budget: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentRequest {
    contents: Vec<Content>,
    #[serde(default)]
    system_instruction: Option<Content>,
    #[serde(default)]
    generation_config: Option<GenerationConfig>,
}

impl GenerateContentRequest {
    fn text(&self) -> String {
        let system = self.system_instruction.iter();
        let texts: Vec<&str> = system
            .chain(self.contents.iter())
            .flat_map(|content| content.parts.iter())
            .filter_map(|part| part.text.as_deref())
            .collect();
        texts.join("\n")
    }

    /// The thinking budget asked for (`None`: dynamic thinking, the
    /// default of the 2.5 models).
    fn thinking_budget(&self) -> Result<Option<i64>, GoogleError> {
        let budget = self
            .generation_config
            .as_ref()
            .and_then(|config| config.thinking_config.as_ref())
            .and_then(|thinking| thinking.thinking_budget.as_ref());
        let parsed = match budget {
            None => return Ok(None),
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.parse().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(budget) if budget >= -1 && i32::try_from(budget).is_ok() => Ok(Some(budget)),
            _ => Err(GoogleError::invalid_argument(format!(
                "Invalid value at 'generation_config.thinking_config.thinking_budget' (TYPE_INT32), \
                 {}: -1 (dynamic), 0 (off) or a positive budget",
                budget.map_or_else(String::new, Value::to_string)
            ))),
        }
    }

    fn wants_json(&self) -> bool {
        self.generation_config
            .as_ref()
            .and_then(|config| config.response_mime_type.as_deref())
            .is_some_and(|mime| mime.eq_ignore_ascii_case("application/json"))
    }
}

/// The handler.
pub(super) async fn generate_content(
    State(state): State<Arc<VertexState>>,
    Path(path): Path<ModelPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&state, &path, &headers, &body) {
        Ok((json, delay)) => {
            tokio::time::sleep(delay).await;
            Json(json).into_response()
        }
        Err(error) => error.into_response(),
    }
}

fn answer(
    state: &VertexState,
    path: &ModelPath,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Value, Duration), GoogleError> {
    let (model, action) = path
        .model_action
        .split_once(':')
        .unwrap_or((&path.model_action, ""));
    let resource = format!(
        "projects/{}/locations/{}/publishers/google/models/{model}",
        path.project, path.location
    );
    if !matches!(path.version.as_str(), "v1" | "v1beta1") || action != "generateContent" {
        return Err(GoogleError::not_found(format!(
            "The requested URL /{}/{resource}:{action} was not found on this server.",
            path.version
        )));
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state
        .authorize(authorization)
        .map_err(|refusal| GoogleError::unauthenticated(refusal.google_reason()))?;
    if path.region != "global" && path.location != path.region {
        return Err(GoogleError::invalid_argument(format!(
            "Location \"{}\" does not match the endpoint location \"{}\".",
            path.location, path.region
        )));
    }
    if path.project != state.config.project && path.project != state.account.project_id() {
        return Err(GoogleError::permission_denied(format!(
            "Permission denied on resource project {}.",
            path.project
        )));
    }
    if models::admit(model, models::Family::Text, lifecycle::today()).is_err() {
        return Err(GoogleError::not_found(models::not_found_message(&resource)));
    }
    let faults = state
        .faults()
        .take(FaultStage::GenerateContent, &path.region);
    if faults.contains(&VertexFault::Throttle) {
        return Err(GoogleError::resource_exhausted(
            "Resource exhausted. Please try again later. Please refer to \
             https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
        ));
    }
    let invalid = faults.iter().find_map(|fault| match fault {
        VertexFault::InvalidAssessment { variant } => Some(*variant),
        _ => None,
    });
    let delay: Duration = faults
        .iter()
        .filter_map(|fault| match fault {
            VertexFault::SlowAnswer { ms } => Some(state.scaled(Duration::from_millis(*ms))),
            _ => None,
        })
        .sum();
    let request = parse_request(body)?;
    let thinking_budget = request.thinking_budget()?;
    let prompt = request.text();
    let text = if request.wants_json() && is_assessment_request(&prompt) {
        assessment_json(&prompt, invalid)
    } else if request.wants_json() {
        json!({"answer": plain_answer(model, &prompt)}).to_string()
    } else {
        plain_answer(model, &prompt)
    };
    let usage = TurnUsage {
        prompt_text: text_tokens(&prompt),
        candidates_text: text_tokens(&text),
        thoughts: token_rules::built_in(Provider::Vertex).thinking_tokens(thinking_budget),
        ..TurnUsage::default()
    };
    let call_number = state.record_generate_content(model, &usage);
    let answer = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": usage.to_usage_metadata(),
        "modelVersion": model,
        "responseId": format!("mock-{call_number:08x}"),
    });
    Ok((answer, delay))
}

fn parse_request(body: &[u8]) -> Result<GenerateContentRequest, GoogleError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GoogleError::invalid_argument(format!("Invalid JSON payload received. {e}"))
    })?;
    let request: GenerateContentRequest =
        serde_json::from_value(normalize_keys(value)).map_err(|e| {
            GoogleError::invalid_argument(format!("Invalid JSON payload received. {e}"))
        })?;
    let has_text = request
        .contents
        .iter()
        .any(|content| content.parts.iter().any(|part| part.text.is_some()));
    if !has_text {
        return Err(GoogleError::invalid_argument(
            "Unable to submit request because it must include at least one parts field, \
             which describes the prompt input.",
        ));
    }
    Ok(request)
}

/// The assessment as JSON text, broken as the fault says.
fn assessment_json(prompt: &str, invalid: Option<InvalidAssessmentVariant>) -> String {
    let mut value = serde_json::to_value(assess(prompt)).unwrap_or_default();
    match invalid {
        Some(InvalidAssessmentVariant::MissingCriterion) => {
            if let Some(criteria) = value["criteria"].as_object_mut() {
                criteria.remove("pronunciation");
            }
        }
        Some(InvalidAssessmentVariant::BandOutOfRange) => {
            value["criteria"]["lexical_resource"]["band"] = json!(11);
        }
        None => {}
    }
    value.to_string()
}

fn plain_answer(model: &str, prompt: &str) -> String {
    let words = prompt.split_whitespace().count();
    let last_line = prompt
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let opening: String = last_line.chars().take(60).collect();
    format!(
        "This is a deterministic answer from the {model} mock. Your prompt had {words} words; \
         its last line begins \"{opening}\"."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_in_both_casings() {
        let camel = parse_request(
            br#"{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"responseMimeType": "application/json"}}"#,
        )
        .unwrap();
        let snake = parse_request(
            br#"{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generation_config": {"response_mime_type": "application/json"}}"#,
        )
        .unwrap();
        assert!(camel.wants_json() && snake.wants_json());
        assert!(parse_request(b"{}").is_err());
        assert!(parse_request(br#"{"contents": []}"#).is_err());
        assert!(parse_request(b"nope").is_err());
    }

    #[test]
    fn the_thinking_budget_is_read_and_bad_ones_named() {
        let with = |config: &str| {
            parse_request(
                format!(r#"{{"contents": [{{"role": "user", "parts": [{{"text": "hi"}}]}}], "generationConfig": {config}}}"#)
                    .as_bytes(),
            )
            .unwrap()
            .thinking_budget()
        };
        assert_eq!(with("{}").unwrap(), None);
        assert_eq!(
            with(r#"{"thinkingConfig": {"thinkingBudget": 0}}"#).unwrap(),
            Some(0)
        );
        assert_eq!(
            with(r#"{"thinkingConfig": {"thinkingBudget": "128"}}"#).unwrap(),
            Some(128)
        );
        assert_eq!(
            with(r#"{"thinking_config": {"thinking_budget": -1}}"#).unwrap(),
            Some(-1)
        );
        for bad in [r#""lots""#, "-2", "1.5", "4294967296"] {
            let error = with(&format!(
                r#"{{"thinkingConfig": {{"thinkingBudget": {bad}}}}}"#
            ))
            .expect_err(bad);
            assert!(
                error.to_string().contains("thinking_budget"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn faults_break_the_assessment() {
        let prompt = "TASK: ielts_speaking_assessment\nTRANSCRIPT:\nCandidate: I like it.";
        let missing: Value = serde_json::from_str(&assessment_json(
            prompt,
            Some(InvalidAssessmentVariant::MissingCriterion),
        ))
        .unwrap();
        assert!(missing["criteria"].get("pronunciation").is_none());
        let eleven: Value = serde_json::from_str(&assessment_json(
            prompt,
            Some(InvalidAssessmentVariant::BandOutOfRange),
        ))
        .unwrap();
        assert_eq!(eleven["criteria"]["lexical_resource"]["band"], 11);
    }
}
