//! One Nova Sonic stream through aws-sdk-bedrockruntime's
//! `invoke_model_with_bidirectional_stream`: the opening events are queued
//! before `send()` is awaited (the model says nothing until it has input),
//! input goes through an unbounded channel the SDK signs and frames, and a
//! reader task turns output events into [`OutputEvent`]s on a channel (so
//! the owner can wait on it in a `select!` without losing half-read events).
//! Errors are classified into [`SonicError`], which says what the client and
//! the operator should hear.

use std::time::Duration;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, SdkError};
use aws_sdk_bedrockruntime::operation::invoke_model_with_bidirectional_stream::InvokeModelWithBidirectionalStreamError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::primitives::event_stream::EventStreamSender;
use aws_sdk_bedrockruntime::types::error::{
    InvokeModelWithBidirectionalStreamInputError, InvokeModelWithBidirectionalStreamOutputError,
};
use aws_sdk_bedrockruntime::types::{
    BidirectionalInputPayloadPart, InvokeModelWithBidirectionalStreamInput,
    InvokeModelWithBidirectionalStreamOutput,
};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::output::{self, OutputEvent};
use super::protocol::{self, HistoryLine, PromptSettings, Role};

type Input =
    Result<InvokeModelWithBidirectionalStreamInput, InvokeModelWithBidirectionalStreamInputError>;

/// Why a stream failed, classified by what should happen next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SonicError {
    /// AccessDeniedException / ResourceNotFoundException, or an invalid model
    /// id: model access not granted or the wrong model (seed 001's "Model
    /// not available").
    #[error("model not available: {0}")]
    ModelNotAvailable(String),
    /// ThrottlingException / ServiceQuotaExceededException.
    #[error("throttled: {0}")]
    Throttled(String),
    /// ValidationException: the input broke a rule.
    #[error("validation: {0}")]
    Validation(String),
    /// ModelTimeoutException: the stream reached its 8-minute limit.
    #[error("stream time limit: {0}")]
    StreamLimit(String),
    /// Any other service or transport failure.
    #[error("invocation failed: {0}")]
    Failed(String),
    /// `send()` did not answer in time.
    #[error("no answer from Bedrock within {0:?}")]
    OpenTimeout(Duration),
    /// The stream's input side is closed.
    #[error("the stream is closed")]
    Closed,
}

fn classify_open(error: &SdkError<InvokeModelWithBidirectionalStreamError>) -> SonicError {
    let message = DisplayErrorContext(error).to_string();
    let Some(service) = error.as_service_error() else {
        return SonicError::Failed(message);
    };
    if service.is_access_denied_exception() || service.is_resource_not_found_exception() {
        SonicError::ModelNotAvailable(message)
    } else if service.is_throttling_exception() || service.is_service_quota_exceeded_exception() {
        SonicError::Throttled(message)
    } else if service.is_validation_exception() {
        if message.to_lowercase().contains("model identifier") {
            SonicError::ModelNotAvailable(message)
        } else {
            SonicError::Validation(message)
        }
    } else if service.is_model_timeout_exception() {
        SonicError::StreamLimit(message)
    } else {
        SonicError::Failed(message)
    }
}

fn classify_output<R: std::fmt::Debug>(
    error: &SdkError<InvokeModelWithBidirectionalStreamOutputError, R>,
) -> SonicError {
    let message = DisplayErrorContext(error).to_string();
    let Some(service) = error.as_service_error() else {
        return SonicError::Failed(message);
    };
    if service.is_model_timeout_exception() {
        SonicError::StreamLimit(message)
    } else if service.is_throttling_exception() {
        SonicError::Throttled(message)
    } else if service.is_validation_exception() {
        SonicError::Validation(message)
    } else {
        SonicError::Failed(message)
    }
}

fn chunk(event: &Value) -> Input {
    Ok(InvokeModelWithBidirectionalStreamInput::Chunk(
        BidirectionalInputPayloadPart::builder()
            .bytes(Blob::new(event.to_string()))
            .build(),
    ))
}

/// An open Nova Sonic stream.
#[derive(Debug)]
pub struct SonicStream {
    /// Prompt name and voice.
    settings: PromptSettings,
    /// The SDK's input; `None` once the input has ended.
    input: Option<mpsc::UnboundedSender<Input>>,
    /// Parsed output, then at most one error, then the end.
    output: mpsc::Receiver<Result<OutputEvent, SonicError>>,
    /// Reads the SDK's output into `output`.
    reader: JoinHandle<()>,
    /// The open AUDIO content block, if any.
    audio_content: Option<String>,
    /// Counter behind content names.
    contents: u64,
}

impl SonicStream {
    /// Opens a stream on `model_id` with the system prompt and the history
    /// (reopening after the time limit), waiting at most `open_timeout`.
    pub async fn open(
        client: &Client,
        model_id: &str,
        settings: PromptSettings,
        system_prompt: &str,
        history: &[HistoryLine],
        open_timeout: Duration,
    ) -> Result<Self, SonicError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
        for event in protocol::opening(&settings, system_prompt, history) {
            tx.send(chunk(&event)).map_err(|_| SonicError::Closed)?;
        }
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let sent = client
            .invoke_model_with_bidirectional_stream()
            .model_id(model_id)
            .body(EventStreamSender::from(body))
            .send();
        let response = tokio::time::timeout(open_timeout, sent)
            .await
            .map_err(|_| SonicError::OpenTimeout(open_timeout))?
            .map_err(|e| classify_open(&e))?;
        let (events_tx, output) = mpsc::channel(256);
        let mut receiver = response.body;
        let reader = tokio::spawn(async move {
            loop {
                let next = match receiver.recv().await {
                    Ok(Some(InvokeModelWithBidirectionalStreamOutput::Chunk(part))) => {
                        let bytes = part.bytes().map(|b| b.as_ref()).unwrap_or_default();
                        match output::parse_output(bytes) {
                            Ok(event) => Ok(event),
                            Err(bad) => {
                                tracing::warn!("{bad}");
                                continue;
                            }
                        }
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(error) => Err(classify_output(&error)),
                };
                let failed = next.is_err();
                if events_tx.send(next).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Self {
            settings,
            input: Some(tx),
            output,
            reader,
            audio_content: None,
            contents: 0,
        })
    }

    fn send(&self, event: &Value) -> Result<(), SonicError> {
        self.input
            .as_ref()
            .ok_or(SonicError::Closed)?
            .send(chunk(event))
            .map_err(|_| SonicError::Closed)
    }

    fn next_content_name(&mut self, kind: &str) -> String {
        self.contents += 1;
        format!("{kind}-{}", self.contents)
    }

    /// A typed user turn (an interactive USER text block).
    pub fn send_text_turn(&mut self, text: &str) -> Result<(), SonicError> {
        let name = self.next_content_name("text");
        for event in protocol::text_content(&self.settings, &name, Role::User, true, text) {
            self.send(&event)?;
        }
        Ok(())
    }

    /// User audio (16 kHz 16-bit mono PCM); opens the AUDIO block first if needed.
    pub fn send_audio(&mut self, pcm: &[u8]) -> Result<(), SonicError> {
        let name = match &self.audio_content {
            Some(name) => name.clone(),
            None => {
                let name = self.next_content_name("audio");
                self.send(&protocol::audio_content_start(&self.settings, &name))?;
                self.audio_content = Some(name.clone());
                name
            }
        };
        for event in protocol::audio_input(&self.settings, &name, pcm) {
            self.send(&event)?;
        }
        Ok(())
    }

    /// Whether an AUDIO block is open.
    pub fn audio_open(&self) -> bool {
        self.audio_content.is_some()
    }

    /// Ends the input: closes the AUDIO block, then promptEnd and sessionEnd.
    /// The model finishes what it is saying, then ends its output.
    pub fn end_input(&mut self) {
        if let Some(name) = self.audio_content.take() {
            let _ = self.send(&protocol::content_end(&self.settings, &name));
        }
        let _ = self.send(&protocol::prompt_end(&self.settings));
        let _ = self.send(&protocol::session_end());
        self.input = None;
    }

    /// The next output event; `None` when the stream has ended.
    pub async fn next_event(&mut self) -> Option<Result<OutputEvent, SonicError>> {
        self.output.recv().await
    }

    /// Ends the input if still open and stops reading (dropping does the same).
    pub fn close(self) {}
}

impl Drop for SonicStream {
    fn drop(&mut self) {
        if self.input.is_some() {
            self.end_input();
        }
        self.reader.abort();
    }
}
