//! The mobile API (seed 003's Capacitor app) and the service's own routes:
//! `GET /` (what seed 002's load test requests), `GET /api/health` (a real
//! DynamoDB round trip), `GET /api/mobile/config` (where the app's HTTP and
//! speaking WebSocket APIs are, the products it may sell) and
//! `GET /api/mobile/dashboard` (profile, plan and recent assessments in one call).

use serde_json::{Value, json};

use super::auth::{authenticate, profile_json};
use super::entitlements::{PRODUCTS, effective_tier, entitlement_json, user_entitlements};
use super::input::ApiRequest;
use super::problem::{ApiError, ApiResult};
use super::store::{self, get_s, s};
use super::{ApiResponse, HttpDeps};
use crate::clock;
use crate::dynamo_json;

/// The API's version (the OpenAPI document's `info.version`).
pub(crate) const API_VERSION: &str = "1.0.0";

/// `GET /`.
pub(crate) async fn index(deps: &HttpDeps, _request: &ApiRequest) -> ApiResult<ApiResponse> {
    Ok(ApiResponse::json(
        200,
        &json!({
            "service": "ielts-ai-prep",
            "version": API_VERSION,
            "environment": deps.settings.environment,
            "health": "/api/health",
        }),
    ))
}

/// `GET /api/health`: 200 when DynamoDB answers, 503 otherwise.
pub(crate) async fn health(deps: &HttpDeps) -> ApiResult<ApiResponse> {
    let probe = deps
        .db
        .get_item()
        .table_name(&deps.tables.users)
        .key("user_id", s("health#probe"))
        .send()
        .await;
    match probe {
        Ok(_) => Ok(ApiResponse::json(
            200,
            &json!({"status": "ok", "environment": deps.settings.environment, "checks": {"dynamodb": "ok"}, "time": clock::now_rfc3339_millis()}),
        )),
        Err(e) => {
            tracing::error!(
                "health probe failed: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            );
            Err(ApiError::Unavailable("DynamoDB is not answering".into()))
        }
    }
}

/// `GET /api/mobile/config`.
pub(crate) async fn config(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let products: Vec<Value> = PRODUCTS
        .iter()
        .map(|(id, tier)| json!({"product_id": id, "tier": tier.as_str(), "stores": ["apple", "google"]}))
        .collect();
    Ok(ApiResponse::json(
        200,
        &json!({
            "api_version": API_VERSION,
            "environment": deps.settings.environment,
            "region": deps.settings.region,
            "api_base_url": request.base_url,
            "speaking_websocket_url": deps.settings.speaking_websocket_url,
            "products": products,
            "features": {"qr_login": true, "writing": true, "reading": true, "listening": true, "speaking": deps.settings.speaking_websocket_url.is_some()},
        }),
    ))
}

/// `GET /api/mobile/dashboard`.
pub(crate) async fn dashboard(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let tier = effective_tier(deps, &principal.user).await?;
    let now = clock::now_epoch_ms();
    let entitlements: Vec<Value> = user_entitlements(deps, &principal.user_id)
        .await?
        .iter()
        .map(|item| entitlement_json(item, now))
        .collect();
    let page = deps
        .db
        .query()
        .table_name(&deps.tables.assessments)
        .index_name("user_id-index")
        .key_condition_expression("user_id = :u")
        .expression_attribute_values(":u", s(&principal.user_id))
        .scan_index_forward(false)
        .limit(5)
        .send()
        .await
        .map_err(|e| store::store_error("recent assessments", e))?;
    let recent: Vec<Value> = page
        .items()
        .iter()
        .map(|item| {
            let map = dynamo_json::from_item(item);
            json!({
                "assessment_id": get_s(item, "assessment_id"),
                "type": get_s(item, "type"),
                "overall_band": map.get("overall_band").cloned().unwrap_or(Value::Null),
                "timestamp": get_s(item, "timestamp"),
            })
        })
        .collect();
    Ok(ApiResponse::json(
        200,
        &json!({
            "user": profile_json(&principal.user, tier.as_str()),
            "subscription_tier": tier.as_str(),
            "entitlements": entitlements,
            "recent_assessments": recent,
        }),
    ))
}
