//! Password reset (seed 002): a request mails a one-hour reset link through
//! the e-mail API (SendGrid's v3 `mail/send`) and answers the same whether
//! or not the account exists; the token is stored only as its digest, in
//! the sessions table (`session_type` `password_reset`, TTL `expires_at`),
//! and a conditional delete makes it single-use. A reset ends every login
//! session of the user.

use serde::Deserialize;
use serde_json::json;

use super::auth::{LOGIN_SESSION, find_user_by_email, hash_password, normalise_email};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::store::{self, Item, conditional_failed, get_n, get_s, n, s, store_error};
use super::{ApiResponse, EmailSettings, HttpDeps};
use crate::clock;

/// How long a reset link works.
pub(crate) const RESET_TTL_SECONDS: i64 = 60 * 60;

/// The `session_type` of reset tokens.
pub(crate) const RESET_TOKEN: &str = "password_reset";

/// What the request answers, account or not.
pub(crate) const RESET_REQUESTED: &str =
    "If an account exists for this email, a password reset link has been sent.";

fn reset_key(token: &str) -> String {
    format!("reset#{}", store::digest(token))
}

/// Sends one plain-text mail through the e-mail API.
pub(crate) async fn send_email(
    http: &reqwest::Client,
    settings: &EmailSettings,
    to: &str,
    subject: &str,
    text: &str,
) -> Result<(), String> {
    let body = json!({
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": settings.from},
        "subject": subject,
        "content": [{"type": "text/plain", "value": text}],
    });
    let url = format!("{}/v3/mail/send", settings.api_url.trim_end_matches('/'));
    let response = http
        .post(url)
        .bearer_auth(&settings.api_key)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("e-mail API unreachable: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Err(format!("e-mail API answered {status}: {text}"))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    email: String,
}

/// `POST /api/auth/password-reset`: 202 whatever the address.
pub(crate) async fn request_reset(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let body: ResetRequest = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.email("email", body.email.trim());
    checks.finish()?;
    let email = normalise_email(&body.email);
    if let Some(user) = find_user_by_email(deps, &email).await? {
        let token = store::random_token();
        let expires_at = clock::now_epoch_s() + RESET_TTL_SECONDS;
        let item: Item = [
            ("session_id", s(reset_key(&token))),
            ("user_id", s(get_s(&user, "user_id").unwrap_or_default())),
            ("session_type", s(RESET_TOKEN)),
            ("created_at", n(clock::now_epoch_s())),
            ("expires_at", n(expires_at)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        store::put_item(&deps.db, &deps.tables.sessions, item).await?;
        let link = format!(
            "{}/reset-password?token={token}",
            deps.settings.public_app_url.trim_end_matches('/')
        );
        let text = format!(
            "Someone asked to reset the password of your IELTS AI Prep account.\n\n\
             Open this link within an hour to choose a new password:\n{link}\n\n\
             If it was not you, ignore this message; your password stays as it is."
        );
        if let Err(e) = send_email(
            &deps.http,
            &deps.settings.email,
            &email,
            "Reset your IELTS AI Prep password",
            &text,
        )
        .await
        {
            // The answer must not reveal whether the account exists.
            tracing::error!("password reset mail failed: {e}");
        }
    }
    Ok(ApiResponse::json(202, &json!({"message": RESET_REQUESTED})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetConfirm {
    token: String,
    new_password: String,
}

/// `POST /api/auth/password-reset/confirm`.
pub(crate) async fn confirm_reset(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let body: ResetConfirm = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("token", &body.token, 1, 256);
    checks.password("new_password", &body.new_password);
    checks.finish()?;
    let invalid = || ApiError::Validation {
        detail: "Invalid or expired reset token".into(),
        errors: vec![super::problem::FieldError::new(
            "token",
            "is invalid or expired",
        )],
    };
    // Consume the token first: of two confirmations only one can delete it.
    let deleted = deps
        .db
        .delete_item()
        .table_name(&deps.tables.sessions)
        .key("session_id", s(reset_key(&body.token)))
        .condition_expression("session_type = :reset")
        .expression_attribute_values(":reset", s(RESET_TOKEN))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .send()
        .await;
    let token = match deleted {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) if conditional_failed(&e) => return Err(invalid()),
        Err(e) => return Err(store_error("consume reset token", e)),
    };
    if get_n(&token, "expires_at").unwrap_or(0) <= clock::now_epoch_s() {
        return Err(invalid());
    }
    let user_id = get_s(&token, "user_id").unwrap_or_default().to_owned();
    let hash = hash_password(deps.settings.bcrypt_cost, &body.new_password).await?;
    let updated = deps
        .db
        .update_item()
        .table_name(&deps.tables.users)
        .key("user_id", s(&user_id))
        .update_expression("SET password_hash = :hash, updated_at = :now")
        .condition_expression("attribute_exists(user_id)")
        .expression_attribute_values(":hash", s(hash))
        .expression_attribute_values(":now", s(clock::now_rfc3339_millis()))
        .send()
        .await;
    match updated {
        Ok(_) => {}
        Err(e) if conditional_failed(&e) => return Err(invalid()),
        Err(e) => return Err(store_error("update password", e)),
    }
    let sessions = store::query_all(
        &deps.db,
        &deps.tables.sessions,
        "user_id-index",
        "user_id",
        &user_id,
    )
    .await?;
    for session in sessions
        .iter()
        .filter(|item| get_s(item, "session_type") == Some(LOGIN_SESSION))
    {
        let id = get_s(session, "session_id").unwrap_or_default();
        store::delete_item(&deps.db, &deps.tables.sessions, "session_id", id).await?;
    }
    Ok(ApiResponse::json(
        200,
        &json!({"message": "Password updated. Sign in with the new password."}),
    ))
}
