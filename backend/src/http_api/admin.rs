//! Admin routes (seed 002's admin dashboard), for users whose `role` is
//! `admin`: list users and set their role or base tier, review content
//! reports, read the AI safety logs. Everyone else gets 403.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{EMAIL_CLAIM, profile_json, require_admin};
use super::entitlements::Tier;
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::reports::report_json;
use super::store::{self, conditional_failed, decode_cursor, encode_cursor, get_s, s, store_error};
use super::{ApiResponse, HttpDeps};
use crate::clock;
use crate::dynamo_json;

/// `GET /api/admin/users` (`limit`, `cursor`).
pub(crate) async fn users(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let limit = request.page_size(50, 200)?;
    let start = request
        .query_value("cursor")
        .map(|c| decode_cursor(c, &["user_id"]))
        .transpose()?;
    let page = deps
        .db
        .scan()
        .table_name(&deps.tables.users)
        .filter_expression("attribute_not_exists(item_type) OR item_type <> :claim")
        .expression_attribute_values(":claim", s(EMAIL_CLAIM))
        .limit(limit)
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(|e| store_error("list users", e))?;
    let users: Vec<Value> = page
        .items()
        .iter()
        .map(|u| {
            let mut profile = profile_json(u, get_s(u, "subscription_tier").unwrap_or("free"));
            profile["updated_at"] = json!(get_s(u, "updated_at"));
            profile
        })
        .collect();
    let next = page
        .last_evaluated_key
        .filter(|k| !k.is_empty())
        .map(|k| encode_cursor(&k));
    Ok(ApiResponse::json(
        200,
        &json!({"users": users, "next_cursor": next}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserUpdate {
    #[serde(default, deserialize_with = "super::input::present")]
    role: Option<String>,
    #[serde(default, deserialize_with = "super::input::present")]
    subscription_tier: Option<String>,
}

/// `PUT /api/admin/users/{id}`.
pub(crate) async fn update_user(
    deps: &HttpDeps,
    request: &ApiRequest,
    id: &str,
) -> ApiResult<ApiResponse> {
    let principal = require_admin(deps, request).await?;
    let body: UserUpdate = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    if body.role.is_none() && body.subscription_tier.is_none() {
        checks.fail("body", "set role, subscription_tier or both");
    }
    if body
        .role
        .as_deref()
        .is_some_and(|r| !matches!(r, "user" | "admin"))
    {
        checks.fail("role", "must be user or admin");
    }
    if body
        .subscription_tier
        .as_deref()
        .is_some_and(|t| Tier::parse(t).is_none())
    {
        checks.fail(
            "subscription_tier",
            "must be free, writing, speaking or full",
        );
    }
    checks.finish()?;
    if id == principal.user_id && body.role.as_deref() == Some("user") {
        return Err(ApiError::Conflict(
            "An admin cannot remove their own admin role".into(),
        ));
    }
    let not_found = || ApiError::NotFound(format!("User {id} not found"));
    if !store::plausible_id(id) || id.starts_with("email#") {
        return Err(not_found());
    }
    let mut sets = vec!["updated_at = :now"];
    let mut update = deps
        .db
        .update_item()
        .table_name(&deps.tables.users)
        .key("user_id", s(id))
        .condition_expression("attribute_exists(user_id) AND attribute_exists(email)")
        .expression_attribute_values(":now", s(clock::now_rfc3339_millis()))
        .return_values(ReturnValue::AllNew);
    if let Some(role) = &body.role {
        sets.push("#role = :role");
        update = update
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role));
    }
    if let Some(tier) = &body.subscription_tier {
        sets.push("subscription_tier = :tier");
        update = update.expression_attribute_values(":tier", s(tier));
    }
    let updated = update
        .update_expression(format!("SET {}", sets.join(", ")))
        .send()
        .await;
    let user = match updated {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) if conditional_failed(&e) => return Err(not_found()),
        Err(e) => return Err(store_error("update user", e)),
    };
    let tier = get_s(&user, "subscription_tier")
        .unwrap_or("free")
        .to_owned();
    Ok(ApiResponse::json(
        200,
        &json!({"user": profile_json(&user, &tier)}),
    ))
}

/// `GET /api/admin/reports` (`status`: open, resolved or dismissed; default open).
pub(crate) async fn reports(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let status = request.query_value("status").unwrap_or("open");
    if !matches!(status, "open" | "resolved" | "dismissed") {
        return Err(ApiError::field(
            "status",
            "must be open, resolved or dismissed",
        ));
    }
    let mut items = store::query_all(
        &deps.db,
        &deps.tables.content_reports,
        "status-index",
        "status",
        status,
    )
    .await?;
    items.sort_by(|a, b| get_s(b, "created_at").cmp(&get_s(a, "created_at")));
    let reports: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut report = report_json(item);
            report["user_id"] = json!(get_s(item, "user_id"));
            report
        })
        .collect();
    Ok(ApiResponse::json(200, &json!({"reports": reports})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportUpdate {
    status: String,
    resolution: String,
}

/// `PUT /api/admin/reports/{id}`.
pub(crate) async fn update_report(
    deps: &HttpDeps,
    request: &ApiRequest,
    id: &str,
) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let body: ReportUpdate = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    if !matches!(body.status.as_str(), "resolved" | "dismissed") {
        checks.fail("status", "must be resolved or dismissed");
    }
    checks.text("resolution", &body.resolution, 1, 2000);
    checks.finish()?;
    let not_found = || ApiError::NotFound(format!("Report {id} not found"));
    if !store::plausible_id(id) {
        return Err(not_found());
    }
    let updated = deps
        .db
        .update_item()
        .table_name(&deps.tables.content_reports)
        .key("report_id", s(id))
        .update_expression("SET #status = :status, resolution = :resolution, updated_at = :now")
        .condition_expression("attribute_exists(report_id)")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":status", s(&body.status))
        .expression_attribute_values(":resolution", s(body.resolution.trim()))
        .expression_attribute_values(":now", s(clock::now_rfc3339_millis()))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    match updated {
        Ok(out) => Ok(ApiResponse::json(
            200,
            &json!({"report": report_json(&out.attributes.unwrap_or_default())}),
        )),
        Err(e) if conditional_failed(&e) => Err(not_found()),
        Err(e) => Err(store_error("update report", e)),
    }
}

/// `GET /api/admin/safety-logs` (`flagged=true`, `limit`, `cursor`).
pub(crate) async fn safety_logs(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    require_admin(deps, request).await?;
    let limit = request.page_size(50, 200)?;
    let flagged = match request.query_value("flagged") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(ApiError::field("flagged", "must be true or false")),
    };
    let start = request
        .query_value("cursor")
        .map(|c| decode_cursor(c, &["log_id"]))
        .transpose()?;
    let mut scan = deps
        .db
        .scan()
        .table_name(&deps.tables.safety_logs)
        .limit(limit)
        .set_exclusive_start_key(start);
    if flagged {
        scan = scan
            .filter_expression("flagged = :yes")
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
    }
    let page = scan
        .send()
        .await
        .map_err(|e| store_error("list safety logs", e))?;
    let logs: Vec<Value> = page
        .items()
        .iter()
        .map(|i| Value::Object(dynamo_json::from_item(i)))
        .collect();
    let next = page
        .last_evaluated_key
        .filter(|k| !k.is_empty())
        .map(|k| encode_cursor(&k));
    Ok(ApiResponse::json(
        200,
        &json!({"logs": logs, "next_cursor": next}),
    ))
}
