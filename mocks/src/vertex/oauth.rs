//! The OAuth 2.0 token endpoint the key file's `token_uri` names
//! (`POST /token`), for clients that exchange a signed assertion for an
//! access token (the JWT-bearer grant, as `gcp_auth` or `yup-oauth2` do)
//! instead of sending a self-signed JWT. Form body:
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`;
//! the assertion's `aud` must be the `token_uri`. Answers
//! `{"access_token", "expires_in", "token_type": "Bearer"}`, or Google's
//! OAuth error shape `{"error", "error_description"}` with status 400.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::auth::unix_now;
use super::state::VertexState;

/// The grant type of a signed-assertion exchange.
pub(super) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Lifetime of the access tokens issued, in seconds.
pub(super) const ACCESS_TOKEN_LIFETIME_SECS: u64 = 3600;

/// Decodes an `application/x-www-form-urlencoded` body.
pub(super) fn form_fields(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /token`.
pub(super) async fn token(State(state): State<Arc<VertexState>>, body: Bytes) -> Response {
    let fields = form_fields(&String::from_utf8_lossy(&body));
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some(JWT_BEARER_GRANT) {
        return oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", field("grant_type").unwrap_or("")),
        );
    }
    let Some(assertion) = field("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let now = unix_now();
    if let Err(refusal) = state
        .account
        .verify_assertion(assertion, &state.token_uri(), now)
    {
        return oauth_error("invalid_grant", &format!("Invalid JWT: {refusal}"));
    }
    let access_token = state.issue_access_token(now + ACCESS_TOKEN_LIFETIME_SECS);
    Json(json!({
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_LIFETIME_SECS - 1,
        "token_type": "Bearer",
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            form_fields("grant_type=urn%3Aietf%3Aparams&assertion=a.b+c&flag"),
            vec![
                ("grant_type".to_owned(), "urn:ietf:params".to_owned()),
                ("assertion".to_owned(), "a.b c".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }
}
