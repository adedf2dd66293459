//! GDPR (seed 002): export every item the API holds about the caller as one
//! JSON document, and delete them all: the user and the e-mail claim, login
//! and speaking sessions and reset tokens, assessments (speaking ones too),
//! QR tokens, entitlements, content reports and AI safety logs. Deletion
//! asks for the password again.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{authenticate, email_claim_key, verify_password};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::store::{self, get_s};
use super::{ApiResponse, HttpDeps};
use crate::clock;

/// The phrase a deletion must carry.
pub(crate) const CONFIRMATION: &str = "DELETE MY ACCOUNT";

/// The tables found through `user_id-index`: (export name, table, key attribute, hidden attributes).
fn user_tables(
    deps: &HttpDeps,
) -> [(&'static str, &str, &'static str, &'static [&'static str]); 6] {
    let t = &deps.tables;
    [
        (
            "sessions",
            t.sessions.as_str(),
            "session_id",
            &["session_id"],
        ),
        ("assessments", t.assessments.as_str(), "assessment_id", &[]),
        ("qr_tokens", t.qr_tokens.as_str(), "token", &["token"]),
        (
            "entitlements",
            t.entitlements.as_str(),
            "entitlement_id",
            &[],
        ),
        (
            "content_reports",
            t.content_reports.as_str(),
            "report_id",
            &[],
        ),
        ("ai_safety_logs", t.safety_logs.as_str(), "log_id", &[]),
    ]
}

/// `GET /api/gdpr/export`.
pub(crate) async fn export(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let mut document = Map::new();
    document.insert("exported_at".into(), json!(clock::now_rfc3339_millis()));
    document.insert(
        "user".into(),
        Value::Object(store::to_json(&principal.user, &["password_hash"])),
    );
    for (name, table, _, hidden) in user_tables(deps) {
        let items = store::query_all(
            &deps.db,
            table,
            "user_id-index",
            "user_id",
            &principal.user_id,
        )
        .await?;
        let values: Vec<Value> = items
            .iter()
            .map(|item| Value::Object(store::to_json(item, hidden)))
            .collect();
        document.insert(name.into(), Value::Array(values));
    }
    let mut response = ApiResponse::json(200, &Value::Object(document));
    response.headers.push((
        "content-disposition".into(),
        "attachment; filename=\"ielts-ai-prep-export.json\"".into(),
    ));
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    password: String,
    confirm: String,
}

/// `POST /api/gdpr/delete`.
pub(crate) async fn delete(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: DeleteBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("password", &body.password, 1, 1024);
    if body.confirm != CONFIRMATION {
        checks.fail("confirm", format!("must be \"{CONFIRMATION}\""));
    }
    checks.finish()?;
    let hash = get_s(&principal.user, "password_hash").unwrap_or_default();
    if !verify_password(&body.password, hash).await {
        return Err(ApiError::Forbidden("The password is not correct".into()));
    }
    // The caller's own login session goes last of all, and the user item
    // just before it: a delete cut short by a fault can be sent again with
    // the same token and finishes the job.
    let own_session = request.bearer_token().map(store::digest);
    let mut tables = user_tables(deps);
    tables.rotate_left(1); // sessions last
    let mut deleted = Map::new();
    for (name, table, key, _) in tables {
        let items = store::query_all(
            &deps.db,
            table,
            "user_id-index",
            "user_id",
            &principal.user_id,
        )
        .await?;
        for item in &items {
            let Some(id) = get_s(item, key) else { continue };
            if table == deps.tables.sessions && own_session.as_deref() == Some(id) {
                continue;
            }
            store::delete_item(&deps.db, table, key, id).await?;
        }
        deleted.insert(name.into(), json!(items.len()));
    }
    store::delete_item(
        &deps.db,
        &deps.tables.users,
        "user_id",
        &email_claim_key(&principal.email),
    )
    .await?;
    store::delete_item(&deps.db, &deps.tables.users, "user_id", &principal.user_id).await?;
    if let Some(own) = &own_session {
        store::delete_item(&deps.db, &deps.tables.sessions, "session_id", own).await?;
    }
    deleted.insert("users".into(), json!(1));
    tracing::info!(user = %principal.user_id, "account deleted on request (GDPR)");
    Ok(ApiResponse::json(200, &json!({"deleted": deleted})))
}
