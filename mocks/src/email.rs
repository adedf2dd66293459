//! An e-mail API mock in SendGrid's v3 shape (seed 002 sends its password
//! reset mails through SendGrid): `POST /v3/mail/send` with a bearer API key
//! and a JSON body (`personalizations[].to[].email`, `from.email`,
//! `subject`, `content[].value`), answering 202 with an `X-Message-Id`.
//! Every accepted message is recorded for tests ([`EmailMock::messages`],
//! `GET /_mock/email/messages`). A missing key answers 401 and a malformed
//! body 400, both with SendGrid's `{"errors": [{"message", "field"}]}`;
//! [`EmailMock::set_unavailable`] makes it answer 503.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

use crate::server::Server;

/// A message the mock accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentEmail {
    /// The id in `X-Message-Id`.
    pub message_id: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Sender.
    pub from: String,
    /// Subject.
    pub subject: String,
    /// The text of every content part, joined by blank lines.
    pub body: String,
}

#[derive(Debug, Default)]
struct EmailState {
    messages: Vec<SentEmail>,
    unavailable: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<EmailState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, EmailState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running e-mail API mock.
#[derive(Debug)]
pub struct EmailMock {
    running: Server,
    shared: Arc<Shared>,
}

impl EmailMock {
    /// Starts serving on `127.0.0.1:port` (0 picks a free one).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/v3/mail/send", post(send))
            .route("/_mock/email/messages", get(list))
            .with_state(Arc::clone(&shared));
        let running = Server::bind("e-mail mock", ("127.0.0.1", port), router).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT` (the API's base URL).
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// Every accepted message, oldest first.
    pub fn messages(&self) -> Vec<SentEmail> {
        self.shared.lock().messages.clone()
    }

    /// While on, sending answers 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.lock().unavailable = unavailable;
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

fn errors(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    (
        status,
        Json(json!({"errors": [{"message": message, "field": field, "help": null}]})),
    )
        .into_response()
}

/// A SendGrid v3 body's parts.
#[derive(Debug)]
struct Mail {
    to: Vec<String>,
    from: String,
    subject: String,
    text: String,
}

/// Reads a SendGrid v3 body; `Err((message, field))` when it is malformed.
fn parse(body: &[u8]) -> Result<Mail, (String, &'static str)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ("Bad Request: invalid JSON".to_owned(), "body"))?;
    let to: Vec<String> = value["personalizations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["to"].as_array().cloned().unwrap_or_default())
        .filter_map(|to| to["email"].as_str().map(str::to_owned))
        .collect();
    if to.is_empty() || to.iter().any(|address| !address.contains('@')) {
        return Err((
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.".to_owned(),
            "personalizations.0.to",
        ));
    }
    let from = value["from"]["email"]
        .as_str()
        .filter(|address| address.contains('@'))
        .ok_or((
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.".to_owned(),
            "from",
        ))?
        .to_owned();
    let subject = value["subject"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(("The subject is required.".to_owned(), "subject"))?
        .to_owned();
    let parts: Vec<String> = value["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["value"].as_str().map(str::to_owned))
        .collect();
    if parts.is_empty() {
        return Err((
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.".to_owned(),
            "content",
        ));
    }
    Ok(Mail {
        to,
        from,
        subject,
        text: parts.join("\n\n"),
    })
}

async fn send(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if shared.lock().unavailable {
        return errors(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None);
    }
    let keyed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| !key.trim().is_empty());
    if !keyed {
        return errors(
            StatusCode::UNAUTHORIZED,
            "The provided authorization grant is invalid, expired, or revoked",
            None,
        );
    }
    let Mail {
        to,
        from,
        subject,
        text,
    } = match parse(&body) {
        Ok(parsed) => parsed,
        Err((message, field)) => return errors(StatusCode::BAD_REQUEST, &message, Some(field)),
    };
    let message_id = {
        let mut state = shared.lock();
        let message_id = format!("mock-{:016x}", state.messages.len() + 1);
        state.messages.push(SentEmail {
            message_id: message_id.clone(),
            to,
            from,
            subject,
            body: text,
        });
        message_id
    };
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(value) = HeaderValue::from_str(&message_id) {
        response.headers_mut().insert("x-message-id", value);
    }
    response
}

async fn list(State(shared): State<Arc<Shared>>) -> Json<Vec<SentEmail>> {
    Json(shared.lock().messages.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sendgrid_body_and_names_the_bad_field() {
        let body = json!({
            "personalizations": [{"to": [{"email": "a@example.com"}]}],
            "from": {"email": "noreply@example.com"},
            "subject": "Reset",
            "content": [{"type": "text/plain", "value": "Hello"}],
        });
        let Mail {
            to,
            from,
            subject,
            text,
        } = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(to, ["a@example.com"]);
        assert_eq!(
            (from.as_str(), subject.as_str(), text.as_str()),
            ("noreply@example.com", "Reset", "Hello")
        );
        for (field, broken) in [
            ("personalizations.0.to", json!({"personalizations": []})),
            (
                "from",
                json!({"personalizations": [{"to": [{"email": "a@b"}]}]}),
            ),
        ] {
            assert_eq!(parse(broken.to_string().as_bytes()).unwrap_err().1, field);
        }
        assert_eq!(parse(b"nope").unwrap_err().1, "body");
    }
}
