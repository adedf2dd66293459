//! App store receipt checks, as the backend's purchase verification calls them
//! (seed 003): Apple's `verifyReceipt` (`POST /verifyReceipt`, and the sandbox
//! at `POST /sandbox/verifyReceipt`) and Google Play's Android Publisher API
//! (`GET /androidpublisher/v3/applications/{package}/purchases/subscriptionsv2/tokens/{token}`).
//!
//! Receipts and purchase tokens are minted by the mock ([`StoresMock::apple_receipt`],
//! [`StoresMock::google_purchase_token`]): their content is readable JSON
//! signed with the mock's key, so they are deterministic, and anything the
//! mock did not mint, or that was altered, is refused the way the stores
//! refuse a forgery: Apple answers `status` 21003 ("The receipt could not be
//! authenticated"), Google answers 400 `Invalid Value`. Apple also checks the
//! shared secret (21004) and the environment (21007: a sandbox receipt sent
//! to production; 21008 the reverse). Google requires a bearer token that is
//! a JWT for the Android Publisher audience or scope, unexpired (its
//! signature is not checked). Every check is recorded ([`StoresMock::checks`]).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::server::Server;

/// The key the mock signs receipts and tokens with.
const SIGNING_KEY: &str = "speechgate-stores-mock-signing-key";

/// The audience of a Google Play self-signed JWT.
pub const ANDROID_PUBLISHER_AUDIENCE: &str = "https://androidpublisher.googleapis.com/";

/// An App Store purchase of an auto-renewable subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppleReceipt {
    /// The app's bundle id.
    pub bundle_id: String,
    /// The product bought.
    pub product_id: String,
    /// This transaction.
    pub transaction_id: String,
    /// The first transaction of the subscription (stable across renewals).
    pub original_transaction_id: String,
    /// Purchase time, epoch ms.
    pub purchase_date_ms: i64,
    /// Expiry, epoch ms.
    pub expires_date_ms: i64,
    /// A sandbox (TestFlight, Xcode) purchase rather than a production one.
    pub sandbox: bool,
}

/// A Google Play subscription purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GooglePurchase {
    /// The app's package name.
    pub package_name: String,
    /// The subscription product.
    pub product_id: String,
    /// The order (`GPA.xxxx-xxxx-xxxx-xxxxx`).
    pub order_id: String,
    /// Start, epoch ms.
    pub start_time_ms: i64,
    /// Expiry, epoch ms.
    pub expiry_time_ms: i64,
}

/// Which store a check went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    /// App Store production `verifyReceipt`.
    AppleProduction,
    /// App Store sandbox `verifyReceipt`.
    AppleSandbox,
    /// Google Play Android Publisher.
    GooglePlay,
}

/// One receipt check the mock answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    /// Where.
    pub store: Store,
    /// Apple's `status`, or Google's HTTP status.
    pub status: i64,
}

#[derive(Debug)]
struct StoresState {
    apple_shared_secret: String,
    unavailable: bool,
    checks: Vec<StoreCheck>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<StoresState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, StoresState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, store: Store, status: i64) {
        self.lock().checks.push(StoreCheck { store, status });
    }
}

/// A running app store mock.
#[derive(Debug)]
pub struct StoresMock {
    running: Server,
    shared: Arc<Shared>,
}

impl StoresMock {
    /// Starts serving on `127.0.0.1:port` (0 picks a free one); Apple checks
    /// require `apple_shared_secret` as the request's `password`.
    pub async fn start(port: u16, apple_shared_secret: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(StoresState {
                apple_shared_secret: apple_shared_secret.to_owned(),
                unavailable: false,
                checks: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/verifyReceipt", post(apple_production))
            .route("/sandbox/verifyReceipt", post(apple_sandbox))
            .route(
                "/androidpublisher/v3/applications/{package}/purchases/subscriptionsv2/tokens/{token}",
                get(google_subscription),
            )
            .route("/_mock/stores/checks", get(list_checks))
            .with_state(Arc::clone(&shared));
        let running = Server::bind("store receipts mock", ("127.0.0.1", port), router).await?;
        Ok(Self { running, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.running.base_url()
    }

    /// The production `verifyReceipt` URL.
    pub fn apple_verify_url(&self) -> String {
        format!("{}/verifyReceipt", self.base_url())
    }

    /// The sandbox `verifyReceipt` URL.
    pub fn apple_sandbox_verify_url(&self) -> String {
        format!("{}/sandbox/verifyReceipt", self.base_url())
    }

    /// Changes the shared secret Apple checks expect.
    pub fn set_apple_shared_secret(&self, secret: &str) {
        self.shared.lock().apple_shared_secret = secret.to_owned();
    }

    /// While on, Apple answers 21005 (receipt server unavailable) and Google 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.lock().unavailable = unavailable;
    }

    /// Every check so far, oldest first.
    pub fn checks(&self) -> Vec<StoreCheck> {
        self.shared.lock().checks.clone()
    }

    /// A base64 receipt (`receipt-data`) for this purchase.
    pub fn apple_receipt(&self, receipt: &AppleReceipt) -> String {
        let payload = serde_json::to_string(receipt).expect("a receipt serializes");
        let signed = json!({"payload": payload, "signature": signature(&payload)});
        STANDARD.encode(signed.to_string())
    }

    /// A purchase token for this purchase.
    pub fn google_purchase_token(&self, purchase: &GooglePurchase) -> String {
        let payload = serde_json::to_string(purchase).expect("a purchase serializes");
        format!(
            "gp.{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            signature(&payload)
        )
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

fn signature(payload: &str) -> String {
    let digest = Sha256::digest(format!("{SIGNING_KEY}\n{payload}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a receipt was refused, as Apple's status codes.
fn read_apple_receipt(data: &str) -> Result<AppleReceipt, i64> {
    let bytes = STANDARD.decode(data.trim()).map_err(|_| 21002)?;
    let signed: Value = serde_json::from_slice(&bytes).map_err(|_| 21002)?;
    let payload = signed["payload"].as_str().ok_or(21002)?;
    if signed["signature"].as_str() != Some(signature(payload).as_str()) {
        return Err(21003);
    }
    serde_json::from_str(payload).map_err(|_| 21003)
}

fn apple_status(status: i64) -> Response {
    Json(json!({"status": status})).into_response()
}

async fn apple_production(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    apple_verify(&shared, Store::AppleProduction, &body)
}

async fn apple_sandbox(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    apple_verify(&shared, Store::AppleSandbox, &body)
}

fn apple_verify(shared: &Shared, store: Store, body: &[u8]) -> Response {
    let result = apple_check(shared, store, body);
    let status = result.as_ref().map_or_else(|s| *s, |_| 0);
    shared.record(store, status);
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(status) => apple_status(status),
    }
}

fn apple_check(shared: &Shared, store: Store, body: &[u8]) -> Result<Value, i64> {
    let (secret, unavailable) = {
        let state = shared.lock();
        (state.apple_shared_secret.clone(), state.unavailable)
    };
    if unavailable {
        return Err(21005);
    }
    // Apple answers 21000 when the request is not the JSON it expects.
    let request: Value = serde_json::from_slice(body).map_err(|_| 21000)?;
    let data = request["receipt-data"].as_str().ok_or(21002)?;
    let receipt = read_apple_receipt(data)?;
    if request["password"].as_str() != Some(secret.as_str()) {
        return Err(21004);
    }
    match (store, receipt.sandbox) {
        (Store::AppleProduction, true) => return Err(21007),
        (Store::AppleSandbox, false) => return Err(21008),
        _ => {}
    }
    let transaction = json!({
        "quantity": "1",
        "product_id": receipt.product_id,
        "transaction_id": receipt.transaction_id,
        "original_transaction_id": receipt.original_transaction_id,
        "purchase_date_ms": receipt.purchase_date_ms.to_string(),
        "expires_date_ms": receipt.expires_date_ms.to_string(),
        "is_trial_period": "false",
    });
    Ok(json!({
        "status": 0,
        "environment": if receipt.sandbox { "Sandbox" } else { "Production" },
        "receipt": {
            "receipt_type": if receipt.sandbox { "ProductionSandbox" } else { "Production" },
            "bundle_id": receipt.bundle_id,
            "application_version": "1",
            "in_app": [&transaction],
        },
        "latest_receipt_info": [transaction],
        "latest_receipt": data,
    }))
}

fn google_error(status: StatusCode, message: &str, reason: &str, code: &str) -> Response {
    let body = json!({
        "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": code,
        }
    });
    (status, Json(body)).into_response()
}

/// Whether the bearer token is an unexpired JWT for the Android Publisher API.
fn authorized(headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let mut parts = token.split('.');
    let (Some(_), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(claims) = URL_SAFE_NO_PAD
        .decode(claims)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return false;
    };
    let audience = claims["aud"].as_str() == Some(ANDROID_PUBLISHER_AUDIENCE)
        || claims["scope"]
            .as_str()
            .is_some_and(|scope| scope.contains("androidpublisher"));
    let unexpired = claims["exp"]
        .as_i64()
        .is_some_and(|exp| exp > Utc::now().timestamp());
    audience && unexpired
}

fn read_google_token(token: &str) -> Option<GooglePurchase> {
    let rest = token.strip_prefix("gp.")?;
    let (payload, sig) = rest.split_once('.')?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (signature(&payload) == sig)
        .then(|| serde_json::from_str(&payload).ok())
        .flatten()
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn google_subscription(
    State(shared): State<Arc<Shared>>,
    Path((package, token)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (status, response) = google_check(&shared, &package, &token, &headers);
    shared.record(Store::GooglePlay, i64::from(status.as_u16()));
    response
}

fn google_check(
    shared: &Shared,
    package: &str,
    token: &str,
    headers: &HeaderMap,
) -> (StatusCode, Response) {
    if shared.lock().unavailable {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        return (
            status,
            google_error(
                status,
                "The service is currently unavailable.",
                "backendError",
                "UNAVAILABLE",
            ),
        );
    }
    if !authorized(headers) {
        let status = StatusCode::UNAUTHORIZED;
        return (
            status,
            google_error(
                status,
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "required",
                "UNAUTHENTICATED",
            ),
        );
    }
    let purchase = read_google_token(token).filter(|p| p.package_name == package);
    let Some(purchase) = purchase else {
        let status = StatusCode::BAD_REQUEST;
        return (
            status,
            google_error(status, "Invalid Value", "invalid", "INVALID_ARGUMENT"),
        );
    };
    let state = if purchase.expiry_time_ms > Utc::now().timestamp_millis() {
        "SUBSCRIPTION_STATE_ACTIVE"
    } else {
        "SUBSCRIPTION_STATE_EXPIRED"
    };
    let body = json!({
        "kind": "androidpublisher#subscriptionPurchaseV2",
        "regionCode": "US",
        "startTime": rfc3339(purchase.start_time_ms),
        "subscriptionState": state,
        "latestOrderId": purchase.order_id,
        "acknowledgementState": "ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED",
        "lineItems": [{
            "productId": purchase.product_id,
            "expiryTime": rfc3339(purchase.expiry_time_ms),
        }],
    });
    (StatusCode::OK, Json(body).into_response())
}

async fn list_checks(State(shared): State<Arc<Shared>>) -> Json<Vec<StoreCheck>> {
    Json(shared.lock().checks.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> AppleReceipt {
        AppleReceipt {
            bundle_id: "com.example".into(),
            product_id: "p".into(),
            transaction_id: "1".into(),
            original_transaction_id: "1".into(),
            purchase_date_ms: 1,
            expires_date_ms: 2,
            sandbox: false,
        }
    }

    #[test]
    fn minted_receipts_read_back_and_altered_ones_do_not() {
        let payload = serde_json::to_string(&receipt()).unwrap();
        let good = STANDARD
            .encode(json!({"payload": payload, "signature": signature(&payload)}).to_string());
        assert_eq!(read_apple_receipt(&good), Ok(receipt()));
        let altered_payload = payload.replace("\"p\"", "\"premium\"");
        let forged = STANDARD.encode(
            json!({"payload": altered_payload, "signature": signature(&payload)}).to_string(),
        );
        assert_eq!(read_apple_receipt(&forged), Err(21003));
        assert_eq!(read_apple_receipt("%%%"), Err(21002));
        assert_eq!(read_apple_receipt(&STANDARD.encode("{}")), Err(21002));
    }

    #[test]
    fn google_tokens_check_their_signature() {
        let purchase = GooglePurchase {
            package_name: "com.example".into(),
            product_id: "p".into(),
            order_id: "GPA.1".into(),
            start_time_ms: 1,
            expiry_time_ms: 2,
        };
        let payload = serde_json::to_string(&purchase).unwrap();
        let token = format!(
            "gp.{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            signature(&payload)
        );
        assert_eq!(read_google_token(&token), Some(purchase));
        assert_eq!(read_google_token(&token.replace("gp.", "xx.")), None);
        assert_eq!(read_google_token(&format!("{token}0")), None);
        assert_eq!(read_google_token("gp.e30.abc"), None);
    }

    #[test]
    fn bearer_must_be_an_unexpired_publisher_jwt() {
        let jwt = |claims: Value| {
            let mut headers = HeaderMap::new();
            let token = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()));
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
            headers
        };
        let later = Utc::now().timestamp() + 600;
        assert!(authorized(&jwt(
            json!({"aud": ANDROID_PUBLISHER_AUDIENCE, "exp": later})
        )));
        assert!(authorized(&jwt(
            json!({"scope": "https://www.googleapis.com/auth/androidpublisher", "exp": later})
        )));
        assert!(!authorized(&jwt(
            json!({"aud": ANDROID_PUBLISHER_AUDIENCE, "exp": 1})
        )));
        assert!(!authorized(&jwt(
            json!({"aud": "https://other/", "exp": later})
        )));
        assert!(!authorized(&HeaderMap::new()));
    }
}
