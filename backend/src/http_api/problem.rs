//! Every error the HTTP API answers, as RFC 9457 problem details
//! (`application/problem+json`: `type`, `title`, `status`, `detail`,
//! `instance`, and `errors` naming each bad field). Bad input is always a
//! 4xx; a 5xx means an upstream or the API itself failed, and its detail
//! never carries internal messages (those go to the logs).

use serde::Serialize;
use serde_json::{Value, json};

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: a dotted path into the JSON body (`answers.3`), or the query
    /// parameter's name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What went wrong with a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// Fields are missing, of the wrong type or out of range.
    #[error("invalid request: {detail}")]
    Validation {
        /// Summary.
        detail: String,
        /// Each bad field.
        errors: Vec<FieldError>,
    },
    /// The body is not `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is larger than the route accepts.
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    /// No valid session.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Authenticated, not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The user's plan does not include this.
    #[error("entitlement required: {0}")]
    EntitlementRequired(String),
    /// No such thing (or not the caller's).
    #[error("not found: {0}")]
    NotFound(String),
    /// The route exists with other methods.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods it has.
        allowed: Vec<&'static str>,
    },
    /// The request conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A token that was valid once and is not any more.
    #[error("gone: {0}")]
    Gone(String),
    /// A store receipt or purchase token that does not verify.
    #[error("invalid receipt: {0}")]
    InvalidReceipt(String),
    /// An upstream (model, store, mail) answered wrongly.
    #[error("upstream failure: {0}")]
    Upstream(String),
    /// An upstream is unavailable right now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The caller must wait (failed sign-ins over the limit).
    #[error("too many requests: {detail}")]
    TooManyRequests {
        /// What the client is told.
        detail: String,
        /// Seconds until a retry can succeed (`Retry-After`).
        retry_after: u64,
    },
    /// The API failed (the detail the client sees is generic).
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A validation error about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError::new(field, message);
        Self::Validation {
            detail: format!("{}: {}", error.field, error.message),
            errors: vec![error],
        }
    }

    /// A validation error about several fields.
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation { detail, errors }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedJson(_) | Self::Validation { .. } => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) | Self::EntitlementRequired(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) => 409,
            Self::Gone(_) => 410,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::InvalidReceipt(_) => 422,
            Self::TooManyRequests { .. } => 429,
            Self::Internal => 500,
            Self::Upstream(_) => 502,
            Self::Unavailable(_) => 503,
        }
    }

    /// The problem type's slug (`/problems/{slug}`) and title.
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::MalformedJson(_) => ("malformed-json", "Malformed JSON"),
            Self::Validation { .. } => ("validation-error", "Invalid request"),
            Self::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Payload too large"),
            Self::Unauthorized(_) => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::EntitlementRequired(_) => ("entitlement-required", "Plan upgrade required"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::Gone(_) => ("gone", "Gone"),
            Self::InvalidReceipt(_) => ("invalid-receipt", "Purchase not verified"),
            Self::Upstream(_) => ("upstream-error", "Upstream service failed"),
            Self::Unavailable(_) => ("service-unavailable", "Service unavailable"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::Internal => ("internal-error", "Internal error"),
        }
    }

    /// What the client is told.
    pub fn detail(&self) -> String {
        match self {
            Self::MalformedJson(detail) => format!("The request body is not valid JSON: {detail}"),
            Self::Validation { detail, .. } => detail.clone(),
            Self::UnsupportedMediaType => {
                "The request body must be JSON (Content-Type: application/json).".to_owned()
            }
            Self::PayloadTooLarge { limit } => {
                format!("The request body exceeds the {limit}-byte limit of this route.")
            }
            Self::MethodNotAllowed { allowed } => {
                format!("This route accepts {}.", allowed.join(", "))
            }
            Self::TooManyRequests { detail, .. } => detail.clone(),
            Self::Unauthorized(detail)
            | Self::Forbidden(detail)
            | Self::EntitlementRequired(detail)
            | Self::NotFound(detail)
            | Self::Conflict(detail)
            | Self::Gone(detail)
            | Self::InvalidReceipt(detail)
            | Self::Upstream(detail)
            | Self::Unavailable(detail) => detail.clone(),
            Self::Internal => "The request could not be completed. Try again later.".to_owned(),
        }
    }

    /// The problem document for a request to `instance` (its path).
    pub fn body(&self, instance: &str) -> Value {
        let (slug, title) = self.kind();
        let mut body = json!({
            "type": format!("/problems/{slug}"),
            "title": title,
            "status": self.status(),
            "detail": self.detail(),
            "instance": instance,
        });
        if let Self::Validation { errors, .. } = self {
            body["errors"] = json!(errors);
        }
        body
    }

    /// Extra headers the status calls for (`WWW-Authenticate`, `Allow`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Unauthorized(_) => vec![("www-authenticate", "Bearer".to_owned())],
            Self::MethodNotAllowed { allowed } => vec![("allow", allowed.join(", "))],
            Self::TooManyRequests { retry_after, .. } => {
                vec![("retry-after", retry_after.to_string())]
            }
            _ => Vec::new(),
        }
    }
}

/// A result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Logs an internal failure and hides it from the client.
pub(crate) fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
    tracing::error!("{context}: {error}");
    ApiError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_status_type_and_field_errors() {
        let error = ApiError::fields(vec![
            FieldError::new("email", "is required"),
            FieldError::new("password", "must be a string"),
        ]);
        let body = error.body("/api/auth/register");
        assert_eq!(body["status"], 400);
        assert_eq!(body["type"], "/problems/validation-error");
        assert_eq!(body["instance"], "/api/auth/register");
        assert_eq!(body["errors"][1]["field"], "password");
        assert_eq!(
            body["detail"],
            "email: is required; password: must be a string"
        );
    }

    #[test]
    fn internal_errors_hide_their_cause_and_statuses_are_right() {
        let hidden = internal("dynamodb put", "ResourceNotFoundException: table xyz");
        assert!(!hidden.detail().contains("xyz"));
        assert_eq!(hidden.status(), 500);
        assert_eq!(
            ApiError::Unauthorized("x".into()).headers()[0].0,
            "www-authenticate"
        );
        assert_eq!(
            ApiError::MethodNotAllowed {
                allowed: vec!["GET", "PUT"]
            }
            .headers()[0]
                .1,
            "GET, PUT"
        );
        for (error, status) in [
            (ApiError::MalformedJson("x".into()), 400),
            (ApiError::UnsupportedMediaType, 415),
            (ApiError::PayloadTooLarge { limit: 1 }, 413),
            (ApiError::EntitlementRequired("x".into()), 403),
            (ApiError::Gone("x".into()), 410),
            (ApiError::InvalidReceipt("x".into()), 422),
            (ApiError::Unavailable("x".into()), 503),
            (
                ApiError::TooManyRequests {
                    detail: "x".into(),
                    retry_after: 9,
                },
                429,
            ),
        ] {
            assert_eq!(error.status(), status);
        }
    }
}
