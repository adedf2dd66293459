//! Errors in Google's JSON shape: `{"error": {"code", "message", "status",
//! "details"}}`, with `WWW-Authenticate` on 401s as Google sends it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Google's text for a refused credential.
const UNAUTHENTICATED_MESSAGE: &str = "Request had invalid authentication credentials. \
     Expected OAuth 2 access token, login cookie or other valid authentication credential. \
     See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// An error answer from the REST API or a refused upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {status}: {message}")]
pub struct GoogleError {
    /// HTTP status code.
    pub code: u16,
    /// `google.rpc.Code` name, e.g. `INVALID_ARGUMENT`.
    pub status: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `google.rpc.ErrorInfo.reason`, when Google gives one.
    pub reason: Option<&'static str>,
}

impl GoogleError {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            reason: None,
        }
    }

    /// 400 INVALID_ARGUMENT.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", message)
    }

    /// 401 UNAUTHENTICATED with an `ErrorInfo` reason.
    pub fn unauthenticated(reason: &'static str) -> Self {
        Self {
            reason: Some(reason),
            ..Self::new(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE)
        }
    }

    /// 403 PERMISSION_DENIED.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(403, "PERMISSION_DENIED", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", message)
    }

    /// 429 RESOURCE_EXHAUSTED.
    pub fn resource_exhausted(message: impl Into<String>) -> Self {
        Self::new(429, "RESOURCE_EXHAUSTED", message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({"code": self.code, "message": self.message, "status": self.status});
        if let Some(reason) = self.reason {
            error["details"] = json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": "aiplatform.googleapis.com"},
            }]);
        }
        json!({ "error": error })
    }
}

impl From<GoogleError> for Response {
    fn from(error: GoogleError) -> Self {
        let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(error.body())).into_response();
        if error.code == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        response
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        self.into()
    }
}
