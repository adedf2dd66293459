//! The chat assistant: one Bedrock Converse call per accepted message
//! (Nova Micro, `amazon.nova-micro-v1:0` unless `CHAT_MODEL_ID` says
//! otherwise) through aws-sdk-bedrockruntime, with the SDK's standard retries
//! for throttling and server errors. Failures that remain are mapped to the
//! client errors of [`super::messages`] with retry guidance: throttling and
//! model failures can be retried, a rejected request needs another message,
//! and "Model not available" (AccessDenied) will not pass by retrying.

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};

use super::messages::{ErrorCode, Reply, errors};

/// Nova Micro.
pub const DEFAULT_MODEL_ID: &str = "amazon.nova-micro-v1:0";
/// Output limit of a reply.
pub const DEFAULT_MAX_TOKENS: i32 = 512;
/// Seconds a client should wait after throttling or a model failure.
pub const RETRY_AFTER_SECONDS: i64 = 5;
/// The assistant's instructions.
pub const SYSTEM_PROMPT: &str = "You are the chat assistant of a language-learning app. \
Answer helpfully and concisely, in the language the user writes in.";

/// Why the assistant has no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssistantError {
    /// ThrottlingException after the SDK's retries.
    #[error("model throttled: {0}")]
    Throttled(String),
    /// ValidationException.
    #[error("model rejected the request: {0}")]
    Rejected(String),
    /// AccessDeniedException (model access not granted).
    #[error("model access denied: {0}")]
    AccessDenied(String),
    /// Anything else (timeouts, server errors, network, an answer without text).
    #[error("model call failed: {0}")]
    Failed(String),
}

impl AssistantError {
    /// The client error: code, sentence, retry-after seconds when retrying helps.
    pub fn client_error(&self) -> (ErrorCode, &'static str, Option<i64>) {
        match self {
            Self::Throttled(_) => (
                ErrorCode::ModelThrottled,
                errors::MODEL_THROTTLED,
                Some(RETRY_AFTER_SECONDS),
            ),
            Self::Rejected(_) => (ErrorCode::ModelRejected, errors::MODEL_REJECTED, None),
            Self::AccessDenied(_) => (
                ErrorCode::ModelNotAvailable,
                errors::MODEL_NOT_AVAILABLE,
                None,
            ),
            Self::Failed(_) => (
                ErrorCode::ModelUnavailable,
                errors::MODEL_UNAVAILABLE,
                Some(RETRY_AFTER_SECONDS),
            ),
        }
    }
}

fn classify<R: std::fmt::Debug>(error: SdkError<ConverseError, R>) -> AssistantError {
    let detail = DisplayErrorContext(&error).to_string();
    match error.as_service_error() {
        Some(e) if e.is_throttling_exception() => AssistantError::Throttled(detail),
        Some(e) if e.is_validation_exception() => AssistantError::Rejected(detail),
        Some(e) if e.is_access_denied_exception() => AssistantError::AccessDenied(detail),
        _ => AssistantError::Failed(detail),
    }
}

/// The Converse client and its settings.
#[derive(Debug, Clone)]
pub struct Assistant {
    client: Client,
    model_id: String,
    max_tokens: i32,
}

impl Assistant {
    /// An assistant on `model_id`.
    pub fn new(client: Client, model_id: impl Into<String>, max_tokens: i32) -> Self {
        Self {
            client,
            model_id: model_id.into(),
            max_tokens,
        }
    }

    /// The model id.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The assistant's reply to one user message.
    pub async fn reply(&self, text: &str) -> Result<Reply, AssistantError> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(text.to_owned()))
            .build()
            .map_err(|e| AssistantError::Failed(e.to_string()))?;
        let output = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(SYSTEM_PROMPT.to_owned()))
            .messages(message)
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(self.max_tokens)
                    .temperature(0.5)
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        let text: String = output
            .output()
            .and_then(|o| o.as_message().ok())
            .map(|m| {
                m.content()
                    .iter()
                    .filter_map(|block| block.as_text().ok())
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join("")
            })
            .filter(|text| !text.trim().is_empty())
            .ok_or_else(|| AssistantError::Failed("the answer has no text".to_owned()))?;
        let usage = output.usage();
        Ok(Reply {
            text,
            model: self.model_id.clone(),
            input_tokens: usage.map(|u| i64::from(u.input_tokens())).unwrap_or(0),
            output_tokens: usage.map(|u| i64::from(u.output_tokens())).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mocks::bedrock::{BedrockConfig, BedrockFault, BedrockMock, FaultRule, FaultTarget};

    async fn assistant(mock: &BedrockMock) -> Assistant {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_bedrockruntime::config::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .endpoint_url(mock.base_url())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Assistant::new(Client::new(&config), DEFAULT_MODEL_ID, DEFAULT_MAX_TOKENS)
    }

    #[tokio::test]
    async fn replies_with_usage_and_maps_every_fault() {
        let mock = BedrockMock::start(BedrockConfig::default()).await.unwrap();
        let assistant = assistant(&mock).await;
        let reply = assistant.reply("Hello there").await.unwrap();
        assert!(reply.text.contains("Hello there"), "{}", reply.text);
        assert!(reply.input_tokens > 0 && reply.output_tokens > 0);
        assert_eq!(reply.model, DEFAULT_MODEL_ID);
        let cases: [(BedrockFault, ErrorCode); 4] = [
            (
                BedrockFault::Throttling {
                    before_stream: false,
                },
                ErrorCode::ModelThrottled,
            ),
            (
                BedrockFault::Validation {
                    before_stream: false,
                },
                ErrorCode::ModelRejected,
            ),
            (BedrockFault::AccessDenied, ErrorCode::ModelNotAvailable),
            (
                BedrockFault::InternalError {
                    before_stream: false,
                },
                ErrorCode::ModelUnavailable,
            ),
        ];
        for (fault, code) in cases {
            mock.add_fault(FaultRule::once(fault.clone()).on(FaultTarget::Converse));
            let error = assistant.reply("Hi").await.unwrap_err();
            assert_eq!(error.client_error().0, code, "{fault:?}: {error}");
        }
        mock.set_model_access(DEFAULT_MODEL_ID, false);
        let denied = assistant.reply("Hi").await.unwrap_err();
        assert!(matches!(denied, AssistantError::AccessDenied(_)));
        assert_eq!(denied.client_error().2, None, "retrying will not help");
        mock.stop().await;
    }
}
