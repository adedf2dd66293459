//! In-app purchase verification (seed 003): an App Store receipt goes to
//! Apple's `verifyReceipt` (production first, the sandbox on status 21007),
//! a Google Play purchase token to the Android Publisher API
//! (`purchases.subscriptionsv2.get`, authorised by a JWT signed with the
//! service account from Secrets Manager). A verified, unexpired
//! subscription writes an entitlement keyed by the store transaction, with a
//! condition that keeps one purchase from entitling two accounts. Forged
//! receipts get 422; a store that cannot answer, 503.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::{Principal, authenticate};
use super::entitlements::{Tier, effective_tier, entitlement_json, product_tier};
use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult};
use super::store::{self, Item, conditional_failed, n, s, store_error};
use super::{ApiResponse, HttpDeps};
use crate::clock;

/// The audience of the Google Play JWT.
const ANDROID_PUBLISHER: &str = "https://androidpublisher.googleapis.com/";

/// How long a store may take to answer.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// A verified subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// `apple#{original_transaction_id}` or `google#{token digest}`.
    pub entitlement_id: String,
    /// `apple` or `google`.
    pub store: &'static str,
    /// The product.
    pub product_id: String,
    /// The store's transaction or order id.
    pub transaction_id: String,
    /// Expiry, epoch ms.
    pub expires_at_ms: i64,
    /// `Production` or `Sandbox`.
    pub environment: String,
}

fn unavailable(store: &str) -> ApiError {
    ApiError::Unavailable(format!(
        "{store} verification is unavailable. Try again shortly."
    ))
}

/// Writes the entitlement (refused if another user owns the transaction).
async fn grant(
    deps: &HttpDeps,
    principal: &Principal,
    verified: &Verified,
    tier: Tier,
) -> ApiResult<ApiResponse> {
    let now = clock::now_rfc3339_millis();
    let item: Item = [
        ("entitlement_id", s(&verified.entitlement_id)),
        ("user_id", s(&principal.user_id)),
        ("store", s(verified.store)),
        ("product_id", s(&verified.product_id)),
        ("tier", s(tier.as_str())),
        ("transaction_id", s(&verified.transaction_id)),
        ("environment", s(&verified.environment)),
        ("expires_at_ms", n(verified.expires_at_ms)),
        ("updated_at", s(&now)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let written = deps
        .db
        .put_item()
        .table_name(&deps.tables.entitlements)
        .set_item(Some(item.clone()))
        .condition_expression("attribute_not_exists(entitlement_id) OR user_id = :me")
        .expression_attribute_values(":me", s(&principal.user_id))
        .send()
        .await;
    match written {
        Ok(_) => {}
        Err(e) if conditional_failed(&e) => {
            return Err(ApiError::Conflict(
                "This purchase is already linked to another account".into(),
            ));
        }
        Err(e) => return Err(store_error("write entitlement", e)),
    }
    let tier = effective_tier(deps, &principal.user).await?;
    Ok(ApiResponse::json(
        200,
        &json!({
            "entitlement": entitlement_json(&item, clock::now_epoch_ms()),
            "subscription_tier": tier.as_str(),
        }),
    ))
}

fn known_product(product_id: &str) -> ApiResult<Tier> {
    product_tier(product_id).ok_or_else(|| {
        ApiError::InvalidReceipt(format!("Product {product_id} is not sold by this app"))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppleBody {
    receipt_data: String,
}

/// Asks one `verifyReceipt` endpoint.
async fn verify_receipt(deps: &HttpDeps, url: &str, receipt: &str) -> ApiResult<Value> {
    let request = json!({
        "receipt-data": receipt,
        "password": deps.settings.apple.shared_secret,
        "exclude-old-transactions": true,
    });
    let response = deps
        .http
        .post(url)
        .timeout(STORE_TIMEOUT)
        .json(&request)
        .send()
        .await
        .map_err(|e| {
            tracing::error!("verifyReceipt unreachable: {e}");
            unavailable("App Store")
        })?;
    if !response.status().is_success() {
        tracing::error!("verifyReceipt answered HTTP {}", response.status());
        return Err(unavailable("App Store"));
    }
    response.json().await.map_err(|e| {
        tracing::error!("verifyReceipt answer unreadable: {e}");
        ApiError::Upstream("The App Store answered unexpectedly".into())
    })
}

/// Reads Apple's answer: the latest transaction of a product this app sells.
pub(crate) fn read_apple_answer(answer: &Value, bundle_id: &str) -> ApiResult<Verified> {
    let status = answer["status"].as_i64().unwrap_or(-1);
    match status {
        0 => {}
        21000 | 21002 | 21003 | 21010 => {
            return Err(ApiError::InvalidReceipt(
                "The receipt could not be verified".into(),
            ));
        }
        21005 | 21009 | 21100..=21199 => return Err(unavailable("App Store")),
        other => {
            tracing::error!("verifyReceipt status {other}");
            return Err(ApiError::Upstream(
                "The App Store refused the verification".into(),
            ));
        }
    }
    if answer["receipt"]["bundle_id"].as_str() != Some(bundle_id) {
        return Err(ApiError::InvalidReceipt(
            "The receipt belongs to another app".into(),
        ));
    }
    let number = |v: &Value| {
        v.as_str()
            .and_then(|t| t.parse::<i64>().ok())
            .or_else(|| v.as_i64())
    };
    let latest = answer["latest_receipt_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["product_id"]
                .as_str()
                .is_some_and(|p| product_tier(p).is_some())
        })
        .max_by_key(|t| number(&t["expires_date_ms"]).unwrap_or(0))
        .ok_or_else(|| {
            ApiError::InvalidReceipt("The receipt holds no subscription of this app".into())
        })?;
    let original = latest["original_transaction_id"]
        .as_str()
        .unwrap_or_default();
    if original.is_empty() || original.len() > 64 {
        return Err(ApiError::InvalidReceipt(
            "The receipt could not be verified".into(),
        ));
    }
    Ok(Verified {
        entitlement_id: format!("apple#{original}"),
        store: "apple",
        product_id: latest["product_id"].as_str().unwrap_or_default().to_owned(),
        transaction_id: latest["transaction_id"]
            .as_str()
            .unwrap_or(original)
            .to_owned(),
        expires_at_ms: number(&latest["expires_date_ms"]).unwrap_or(0),
        environment: answer["environment"]
            .as_str()
            .unwrap_or("Production")
            .to_owned(),
    })
}

fn require_unexpired(verified: &Verified) -> ApiResult<()> {
    if verified.expires_at_ms <= clock::now_epoch_ms() {
        return Err(ApiError::InvalidReceipt(
            "The subscription in this purchase has expired".into(),
        ));
    }
    Ok(())
}

/// `POST /api/purchases/apple`.
pub(crate) async fn apple(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: AppleBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("receipt_data", &body.receipt_data, 1, 60_000);
    checks.finish()?;
    let settings = &deps.settings.apple;
    let mut answer = verify_receipt(deps, &settings.verify_url, &body.receipt_data).await?;
    if answer["status"].as_i64() == Some(21007) {
        answer = verify_receipt(deps, &settings.sandbox_url, &body.receipt_data).await?;
    }
    let verified = read_apple_answer(&answer, &settings.bundle_id)?;
    require_unexpired(&verified)?;
    let tier = known_product(&verified.product_id)?;
    grant(deps, &principal, &verified, tier).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleBody {
    product_id: String,
    purchase_token: String,
}

#[derive(Debug, Serialize)]
struct PlayClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

async fn play_token(deps: &HttpDeps) -> ApiResult<String> {
    let account = deps
        .google_credentials
        .service_account()
        .await
        .map_err(|e| {
            tracing::error!("Google Play credentials: {e}");
            unavailable("Google Play")
        })?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(account.private_key_id.clone());
    let now = clock::now_epoch_s();
    let claims = PlayClaims {
        iss: &account.client_email,
        sub: &account.client_email,
        aud: ANDROID_PUBLISHER,
        iat: now,
        exp: now + 3600,
    };
    let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
        .map_err(|e| super::problem::internal("Google Play key", e))?;
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| super::problem::internal("Google Play JWT", e))
}

/// Reads a `SubscriptionPurchaseV2` for `product_id`.
pub(crate) fn read_google_answer(
    answer: &Value,
    product_id: &str,
    token: &str,
) -> ApiResult<Verified> {
    let line = answer["lineItems"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|item| item["productId"].as_str() == Some(product_id))
        .ok_or_else(|| ApiError::InvalidReceipt("The purchase is for another product".into()))?;
    let state = answer["subscriptionState"].as_str().unwrap_or_default();
    if !matches!(
        state,
        "SUBSCRIPTION_STATE_ACTIVE" | "SUBSCRIPTION_STATE_IN_GRACE_PERIOD"
    ) {
        return Err(ApiError::InvalidReceipt(
            "The subscription in this purchase has expired".into(),
        ));
    }
    let expires_at_ms = line["expiryTime"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    Ok(Verified {
        entitlement_id: format!("google#{}", &store::digest(token)[..32]),
        store: "google",
        product_id: product_id.to_owned(),
        transaction_id: answer["latestOrderId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        expires_at_ms,
        environment: "Production".to_owned(),
    })
}

/// `POST /api/purchases/google`.
pub(crate) async fn google(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: GoogleBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("product_id", &body.product_id, 1, 128);
    checks.text("purchase_token", &body.purchase_token, 1, 4096);
    checks.finish()?;
    let tier = known_product(&body.product_id)?;
    let settings = &deps.settings.google;
    let encode = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let url = format!(
        "{}/androidpublisher/v3/applications/{}/purchases/subscriptionsv2/tokens/{}",
        settings.api_url.trim_end_matches('/'),
        encode(&settings.package_name),
        encode(&body.purchase_token)
    );
    let token = play_token(deps).await?;
    let response = deps
        .http
        .get(url)
        .bearer_auth(token)
        .timeout(STORE_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            tracing::error!("Android Publisher unreachable: {e}");
            unavailable("Google Play")
        })?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    match status.as_u16() {
        200 => {}
        400 | 404 | 410 => {
            return Err(ApiError::InvalidReceipt(
                "The purchase token could not be verified".into(),
            ));
        }
        401 | 403 => {
            tracing::error!("Android Publisher refused our credentials: {answer}");
            return Err(ApiError::Upstream(
                "Google Play refused the verification".into(),
            ));
        }
        _ => {
            tracing::error!("Android Publisher answered {status}: {answer}");
            return Err(unavailable("Google Play"));
        }
    }
    let verified = read_google_answer(&answer, &body.product_id, &body.purchase_token)?;
    require_unexpired(&verified)?;
    grant(deps, &principal, &verified, tier).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apple_answer(status: i64, bundle: &str, expires: i64) -> Value {
        json!({
            "status": status,
            "environment": "Sandbox",
            "receipt": {"bundle_id": bundle},
            "latest_receipt_info": [
                {"product_id": "ielts_writing_monthly", "transaction_id": "2", "original_transaction_id": "1", "expires_date_ms": expires.to_string()},
                {"product_id": "other_app_thing", "transaction_id": "9", "original_transaction_id": "9", "expires_date_ms": "99999999999999"},
            ],
        })
    }

    #[test]
    fn apple_answers() {
        let verified = read_apple_answer(&apple_answer(0, "app", 5), "app").unwrap();
        assert_eq!(verified.entitlement_id, "apple#1");
        assert_eq!(verified.product_id, "ielts_writing_monthly");
        assert_eq!(verified.expires_at_ms, 5);
        assert_eq!(verified.environment, "Sandbox");
        assert!(matches!(
            read_apple_answer(&apple_answer(21003, "app", 5), "app"),
            Err(ApiError::InvalidReceipt(_))
        ));
        assert!(matches!(
            read_apple_answer(&apple_answer(21005, "app", 5), "app"),
            Err(ApiError::Unavailable(_))
        ));
        assert!(matches!(
            read_apple_answer(&apple_answer(21004, "app", 5), "app"),
            Err(ApiError::Upstream(_))
        ));
        assert!(matches!(
            read_apple_answer(&apple_answer(0, "other", 5), "app"),
            Err(ApiError::InvalidReceipt(_))
        ));
        assert!(require_unexpired(&verified).is_err());
    }

    #[test]
    fn google_answers() {
        let answer = json!({
            "subscriptionState": "SUBSCRIPTION_STATE_ACTIVE",
            "latestOrderId": "GPA.1",
            "lineItems": [{"productId": "ielts_full_monthly", "expiryTime": "2099-01-01T00:00:00.000Z"}],
        });
        let verified = read_google_answer(&answer, "ielts_full_monthly", "tok").unwrap();
        assert!(verified.entitlement_id.starts_with("google#"));
        assert_eq!(verified.transaction_id, "GPA.1");
        assert!(require_unexpired(&verified).is_ok());
        assert!(read_google_answer(&answer, "ielts_writing_monthly", "tok").is_err());
        let mut expired = answer;
        expired["subscriptionState"] = json!("SUBSCRIPTION_STATE_EXPIRED");
        assert!(read_google_answer(&expired, "ielts_full_monthly", "tok").is_err());
    }
}
