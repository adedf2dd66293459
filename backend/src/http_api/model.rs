//! Nova Micro through Bedrock's Converse API (`aws-sdk-bedrockruntime`):
//! one system prompt, one user message, the answer's text and token usage.
//! Errors are classified for the client: access not granted or a bad
//! request is the API's fault (502), throttling and outages are 503.

use aws_sdk_bedrockruntime::error::DisplayErrorContext;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};

use super::HttpDeps;
use super::problem::{ApiError, ApiResult};

/// What the model answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelReply {
    pub text: String,
    /// Input tokens billed.
    pub input_tokens: i32,
    /// Output tokens billed.
    pub output_tokens: i32,
}

/// Asks the configured model once.
pub(crate) async fn converse(
    deps: &HttpDeps,
    system: &str,
    user: &str,
    max_tokens: i32,
) -> ApiResult<ModelReply> {
    let message = Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(user.to_owned()))
        .build()
        .map_err(|e| super::problem::internal("build message", e))?;
    let answer = deps
        .bedrock
        .converse()
        .model_id(&deps.settings.model_id)
        .system(SystemContentBlock::Text(system.to_owned()))
        .messages(message)
        .inference_config(
            InferenceConfiguration::builder()
                .max_tokens(max_tokens)
                .temperature(0.2)
                .build(),
        )
        .send()
        .await;
    let output = match answer {
        Ok(output) => output,
        Err(error) => {
            let service = error.as_service_error();
            let busy = service.is_some_and(|e| {
                e.is_throttling_exception()
                    || e.is_service_unavailable_exception()
                    || e.is_model_not_ready_exception()
                    || e.is_internal_server_exception()
            });
            tracing::error!("Bedrock Converse failed: {}", DisplayErrorContext(&error));
            return Err(if busy {
                ApiError::Unavailable("The assessment model is busy. Try again shortly.".into())
            } else {
                ApiError::Upstream("Model not available".into())
            });
        }
    };
    let text = output
        .output()
        .and_then(|o| o.as_message().ok())
        .map(|m| {
            m.content()
                .iter()
                .filter_map(|block| block.as_text().ok())
                .cloned()
                .collect::<Vec<_>>()
                .join("")
        })
        .unwrap_or_default();
    let (input_tokens, output_tokens) = output
        .usage()
        .map(|u| (u.input_tokens(), u.output_tokens()))
        .unwrap_or_default();
    Ok(ModelReply {
        text,
        input_tokens,
        output_tokens,
    })
}
