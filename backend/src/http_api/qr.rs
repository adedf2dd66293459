//! QR login (seed 002's `ielts-genai-prep-qr-tokens`): a signed-in device
//! makes a token that lives five minutes (`expires_at`, also the TTL); the
//! device that scans it redeems it once for a session of the same user.
//! Single use is a conditional write (`used = false AND expires_at > now`),
//! so of two concurrent redemptions exactly one succeeds; the other gets
//! 410 "QR token already used".

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::Deserialize;
use serde_json::json;

use super::auth::{authenticate, session_answer};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::store::{
    self, Item, conditional_failed, get_bool, get_item, get_n, get_s, n, s, store_error,
};
use super::{ApiResponse, HttpDeps};
use crate::clock;

/// How long a QR token works (seed 002: 5 minutes).
pub(crate) const QR_TTL_SECONDS: i64 = 5 * 60;

/// `POST /api/qr/generate`.
pub(crate) async fn generate(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let token = store::random_token();
    let now = clock::now_epoch_s();
    let expires_at = now + QR_TTL_SECONDS;
    let mut item: Item = [
        ("token", s(&token)),
        ("user_id", s(&principal.user_id)),
        ("created_at", n(now)),
        ("expires_at", n(expires_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    item.insert("used".into(), AttributeValue::Bool(false));
    store::put_item(&deps.db, &deps.tables.qr_tokens, item).await?;
    let login_url = format!(
        "{}/qr-login?token={token}",
        deps.settings.public_app_url.trim_end_matches('/')
    );
    Ok(ApiResponse::json(
        201,
        &json!({
            "token": token,
            "expires_at": expires_at,
            "expires_in": QR_TTL_SECONDS,
            "login_url": login_url,
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemBody {
    token: String,
}

/// `POST /api/qr/redeem`.
pub(crate) async fn redeem(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let body: RedeemBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("token", &body.token, 1, 128);
    checks.finish()?;
    let now = clock::now_epoch_s();
    let claimed = deps
        .db
        .update_item()
        .table_name(&deps.tables.qr_tokens)
        .key("token", s(&body.token))
        .update_expression("SET used = :true, used_at = :now")
        .condition_expression("attribute_exists(#token) AND used = :false AND expires_at > :now")
        .expression_attribute_names("#token", "token")
        .expression_attribute_values(":true", AttributeValue::Bool(true))
        .expression_attribute_values(":false", AttributeValue::Bool(false))
        .expression_attribute_values(":now", n(now))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    let token = match claimed {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) if conditional_failed(&e) => {
            let existing = get_item(&deps.db, &deps.tables.qr_tokens, "token", &body.token).await?;
            return Err(match existing {
                None => ApiError::NotFound("QR token not found".into()),
                Some(item) if get_bool(&item, "used") == Some(true) => {
                    ApiError::Gone("QR token already used".into())
                }
                Some(item) if get_n(&item, "expires_at").unwrap_or(0) <= now => {
                    ApiError::Gone("QR token expired".into())
                }
                Some(_) => ApiError::Conflict("QR token could not be redeemed; try again".into()),
            });
        }
        Err(e) => return Err(store_error("redeem QR token", e)),
    };
    let user_id = get_s(&token, "user_id").unwrap_or_default();
    let user = get_item(&deps.db, &deps.tables.users, "user_id", user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("QR token not found".into()))?;
    Ok(ApiResponse::json(
        200,
        &session_answer(deps, &user, "qr").await?,
    ))
}
