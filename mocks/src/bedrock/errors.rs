//! Bedrock's HTTP error responses (restJson1): a status, the
//! `x-amzn-errortype` header naming the exception, and `{"message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::state::BedrockFault;

/// An error response the SDK maps to its typed exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status.
    pub status: StatusCode,
    /// Exception name (`ValidationException`, ...).
    pub error_type: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl AwsError {
    /// ValidationException (400).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    /// AccessDeniedException (403), as for a model whose access is not granted.
    pub fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        )
    }

    /// ThrottlingException (429).
    pub fn throttling() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )
    }

    /// InternalServerException (500).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "The server encountered an internal error. Try your request again.",
        )
    }

    /// ModelTimeoutException (408).
    pub fn model_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "ModelTimeoutException",
            "Model has timed out in processing the request. Try your request again.",
        )
    }

    /// ResourceNotFoundException (404): a model past its end-of-life date,
    /// in Bedrock's words.
    pub fn end_of_life() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "This model version has reached the end of its life. Please refer to the AWS \
             documentation for more details.",
        )
    }

    /// An unknown or unsupported model id.
    pub fn invalid_model() -> Self {
        Self::validation("The provided model identifier is invalid.")
    }

    fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    /// The error a fault produces before a stream opens (`None`: the fault
    /// acts later, inside the stream).
    pub fn before_stream(fault: &BedrockFault) -> Option<Self> {
        match fault {
            BedrockFault::AccessDenied => Some(Self::access_denied()),
            BedrockFault::Validation {
                before_stream: true,
            } => Some(Self::validation("Invalid input request (injected fault).")),
            BedrockFault::Throttling {
                before_stream: true,
            } => Some(Self::throttling()),
            BedrockFault::InternalError {
                before_stream: true,
            } => Some(Self::internal()),
            _ => None,
        }
    }

    /// The error a fault produces for Converse / InvokeModel (`None`: not an error).
    pub fn for_call(fault: &BedrockFault) -> Option<Self> {
        match fault {
            BedrockFault::AccessDenied => Some(Self::access_denied()),
            BedrockFault::Validation { .. } => {
                Some(Self::validation("Invalid input request (injected fault)."))
            }
            BedrockFault::Throttling { .. } => Some(Self::throttling()),
            BedrockFault::InternalError { .. } => Some(Self::internal()),
            BedrockFault::ModelTimeout { .. } => Some(Self::model_timeout()),
            BedrockFault::Latency { .. } | BedrockFault::StreamError => None,
        }
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type),
        );
        response
    }
}
