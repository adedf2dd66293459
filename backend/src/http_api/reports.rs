//! Content moderation and AI safety (seed 002's `ielts-content-reports` and
//! `ielts-ai-safety-logs`): users report an assessment's AI feedback or a
//! question (`POST /api/reports`, `GET /api/reports`); every model call
//! writes a safety log (model, task, sizes, token usage, the flags the
//! input checks raised, whether the output validated), kept 90 days.

use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::authenticate;
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::model::ModelReply;
use super::problem::{ApiError, ApiResult};
use super::store::{self, Item, get_item, get_s, n, s};
use super::{ApiResponse, HttpDeps};
use crate::clock;

/// How long safety logs are kept (TTL).
pub(crate) const SAFETY_LOG_TTL_SECONDS: i64 = 90 * 24 * 60 * 60;

/// The reasons a report may give.
pub(crate) const REASONS: [&str; 5] = [
    "inaccurate_score",
    "inappropriate_content",
    "offensive_feedback",
    "technical_issue",
    "other",
];

/// One model call, as the safety log records it.
#[derive(Debug, Clone)]
pub(crate) struct SafetyEvent<'a> {
    /// Who.
    pub user_id: &'a str,
    /// The assessment it was for, when one was stored.
    pub assessment_id: Option<&'a str>,
    /// `writing_assessment`, `reading_feedback`, ...
    pub task: &'a str,
    /// Characters sent.
    pub input_chars: usize,
    /// The model's reply (usage), when it answered.
    pub reply: Option<&'a ModelReply>,
    /// Flags the input checks raised.
    pub flags: Vec<&'static str>,
    /// Whether the reply passed validation.
    pub output_valid: bool,
}

/// Writes a safety log (failures are logged, never fail the request).
pub(crate) async fn log_model_call(deps: &HttpDeps, event: SafetyEvent<'_>) {
    let mut flags = event.flags.clone();
    if !event.output_valid {
        flags.push("invalid_model_output");
    }
    let mut item: Item = [
        ("log_id", s(store::new_id())),
        ("user_id", s(event.user_id)),
        ("timestamp", s(clock::now_rfc3339_millis())),
        ("model", s(&deps.settings.model_id)),
        ("task", s(event.task)),
        ("input_chars", n(event.input_chars as i64)),
        (
            "expires_at",
            n(clock::now_epoch_s() + SAFETY_LOG_TTL_SECONDS),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    item.insert(
        "flagged".into(),
        aws_sdk_dynamodb::types::AttributeValue::Bool(!flags.is_empty()),
    );
    item.insert(
        "output_valid".into(),
        aws_sdk_dynamodb::types::AttributeValue::Bool(event.output_valid),
    );
    item.insert(
        "flags".into(),
        aws_sdk_dynamodb::types::AttributeValue::L(flags.iter().map(|f| s(*f)).collect()),
    );
    if let Some(id) = event.assessment_id {
        item.insert("assessment_id".into(), s(id));
    }
    if let Some(reply) = event.reply {
        item.insert("input_tokens".into(), n(i64::from(reply.input_tokens)));
        item.insert("output_tokens".into(), n(i64::from(reply.output_tokens)));
    }
    if let Err(e) = store::put_item(&deps.db, &deps.tables.safety_logs, item).await {
        tracing::error!("safety log not written: {e}");
    }
}

/// A report as clients see it.
pub(crate) fn report_json(item: &Item) -> Value {
    json!({
        "report_id": get_s(item, "report_id"),
        "target_type": get_s(item, "target_type"),
        "target_id": get_s(item, "target_id"),
        "reason": get_s(item, "reason"),
        "details": get_s(item, "details"),
        "status": get_s(item, "status"),
        "resolution": get_s(item, "resolution"),
        "created_at": get_s(item, "created_at"),
        "updated_at": get_s(item, "updated_at"),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    target_type: String,
    target_id: String,
    reason: String,
    #[serde(default, deserialize_with = "super::input::present")]
    details: Option<String>,
}

/// `POST /api/reports`: the target must exist (an assessment must be the caller's).
pub(crate) async fn create(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: ReportBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    if !matches!(body.target_type.as_str(), "assessment" | "question") {
        checks.fail("target_type", "must be assessment or question");
    }
    checks.text("target_id", &body.target_id, 1, 128);
    if !REASONS.contains(&body.reason.as_str()) {
        checks.fail("reason", format!("must be one of {}", REASONS.join(", ")));
    }
    if let Some(details) = &body.details {
        checks.text("details", details, 0, 2000);
    }
    checks.finish()?;
    let target = match body.target_type.as_str() {
        "assessment" => get_item(
            &deps.db,
            &deps.tables.assessments,
            "assessment_id",
            &body.target_id,
        )
        .await?
        .filter(|item| get_s(item, "user_id") == Some(principal.user_id.as_str())),
        _ => {
            get_item(
                &deps.db,
                &deps.tables.questions,
                "question_id",
                &body.target_id,
            )
            .await?
        }
    };
    if target.is_none() {
        return Err(ApiError::NotFound(format!(
            "No {} {} to report",
            body.target_type, body.target_id
        )));
    }
    let now = clock::now_rfc3339_millis();
    let mut item: Item = [
        ("report_id", s(store::new_id())),
        ("user_id", s(&principal.user_id)),
        ("target_type", s(&body.target_type)),
        ("target_id", s(&body.target_id)),
        ("reason", s(&body.reason)),
        ("status", s("open")),
        ("created_at", s(&now)),
        ("updated_at", s(&now)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(details) = body.details.filter(|d| !d.trim().is_empty()) {
        item.insert("details".into(), s(details));
    }
    store::put_item(&deps.db, &deps.tables.content_reports, item.clone()).await?;
    Ok(ApiResponse::json(
        201,
        &json!({"report": report_json(&item)}),
    ))
}

/// `GET /api/reports`: the caller's reports, newest first.
pub(crate) async fn list(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let mut items = store::query_all(
        &deps.db,
        &deps.tables.content_reports,
        "user_id-index",
        "user_id",
        &principal.user_id,
    )
    .await?;
    items.sort_by(|a, b| get_s(b, "created_at").cmp(&get_s(a, "created_at")));
    let reports: Vec<Value> = items.iter().map(report_json).collect();
    Ok(ApiResponse::json(200, &json!({"reports": reports})))
}
