//! Vertex AI `generateContent` (REST) for one-shot JSON answers, used for the
//! speaking assessment once the conversation is over.

use serde_json::{Value, json};

/// Where to call.
#[derive(Debug, Clone)]
pub(crate) struct GenerateConfig {
    /// Base URL with a `{region}` placeholder (as for Live).
    pub base_url_template: String,
    /// Vertex location.
    pub region: String,
    /// GCP project.
    pub project: String,
    /// Model id (`gemini-2.5-flash`).
    pub model: String,
}

impl GenerateConfig {
    /// The `:generateContent` URL.
    pub(crate) fn url(&self) -> String {
        let base = self.base_url_template.replace("{region}", &self.region);
        format!(
            "{}/v1/projects/{}/locations/{}/publishers/google/models/{}:generateContent",
            base.trim_end_matches('/'),
            self.project,
            self.region,
            self.model
        )
    }
}

/// Token counts of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct GenerateUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GenerateError {
    /// Network or HTTP failure.
    #[error("generateContent HTTP failure: {0}")]
    Http(String),
    /// A non-2xx answer.
    #[error("generateContent answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: String,
    },
    /// An answer without text.
    #[error("generateContent answered without a text part")]
    NoText,
}

/// Asks for a JSON answer to `prompt` (with `system` instructions).
pub(crate) async fn generate_json(
    http: &reqwest::Client,
    config: &GenerateConfig,
    bearer: &str,
    system: &str,
    prompt: &str,
) -> Result<(String, GenerateUsage), GenerateError> {
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": prompt}]}],
        "systemInstruction": {"parts": [{"text": system}]},
        "generationConfig": {"responseMimeType": "application/json", "temperature": 0.2}
    });
    let answer = http
        .post(config.url())
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .map_err(|e| GenerateError::Http(e.to_string()))?;
    let status = answer.status();
    let text = answer
        .text()
        .await
        .map_err(|e| GenerateError::Http(e.to_string()))?;
    if !status.is_success() {
        return Err(GenerateError::Status {
            status: status.as_u16(),
            body: text,
        });
    }
    let value: Value =
        serde_json::from_str(&text).map_err(|e| GenerateError::Http(format!("not JSON: {e}")))?;
    let output = value
        .pointer("/candidates/0/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect::<String>();
    if output.is_empty() {
        return Err(GenerateError::NoText);
    }
    let count = |name: &str| {
        value
            .pointer(&format!("/usageMetadata/{name}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok((
        output,
        GenerateUsage {
            input_tokens: count("promptTokenCount"),
            output_tokens: count("candidatesTokenCount"),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shape() {
        let config = GenerateConfig {
            base_url_template: "https://{region}-aiplatform.googleapis.com".into(),
            region: "me-central1".into(),
            project: "proj".into(),
            model: "gemini-2.5-flash".into(),
        };
        assert_eq!(
            config.url(),
            "https://me-central1-aiplatform.googleapis.com/v1/projects/proj/locations/me-central1/publishers/google/models/gemini-2.5-flash:generateContent"
        );
    }
}
