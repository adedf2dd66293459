//! An HTTP client for the REST APIs of the local stack whose every answer is
//! checked against backend/spec/http.openapi.yaml, and helpers the HTTP API
//! tests share (accounts, admin, direct DynamoDB access).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use harness::contract::openapi::Contract;
use harness::stack::LocalStack;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The HTTP API's logical id in the template (seed 002's REST API).
pub(crate) const REST_API: &str = "IeltsRestApi";

/// The same function behind an API Gateway HTTP API (seed 003).
pub(crate) const HTTP_API: &str = "IeltsHttpApi";

/// The admin address the tests' stacks declare in `AdminEmails`.
pub(crate) const ADMIN_EMAIL: &str = "admin@ieltsaiprep.test";

/// The contract, loaded once.
pub(crate) fn contract() -> Arc<Contract> {
    static CONTRACT: OnceLock<Arc<Contract>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| {
            let path = super::workspace().join("backend/spec/http.openapi.yaml");
            Arc::new(Contract::load(&path).expect("the OpenAPI document loads"))
        })
        .clone()
}

/// Stack options for HTTP API tests: diagnostics off, an admin address.
pub(crate) fn http_options(time_scale: f64) -> harness::stack::StackOptions {
    let mut options = super::options(time_scale);
    options
        .load
        .parameter_overrides
        .insert("AdminEmails".into(), ADMIN_EMAIL.into());
    options
}

/// One answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The raw body.
    pub bytes: Vec<u8>,
}

impl Answer {
    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with this status; returns its detail.
    pub(crate) fn problem(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.json);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.json
        );
        assert_eq!(self.json["status"], status);
        self.json["detail"].as_str().unwrap_or_default().to_owned()
    }
}

/// A client of one REST API.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    /// `http://127.0.0.1:PORT/prod`.
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    /// The stack's HTTP API on its REST API (seed 002).
    pub(crate) fn of(stack: &LocalStack) -> Self {
        Self::at(stack.rest(REST_API).expect("the REST API runs").url())
    }

    /// The stack's HTTP API on its API Gateway HTTP API (seed 003).
    pub(crate) fn of_http_api(stack: &LocalStack) -> Self {
        Self::at(stack.http_api(HTTP_API).expect("the HTTP API runs").url())
    }

    fn at(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    /// Sends a request with raw bytes; checks the answer against the contract
    /// when the operation is documented.
    pub(crate) async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let method_value = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .http
            .request(method_value, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.expect("the API answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = Answer {
            status,
            headers,
            json,
            bytes,
        };
        let bare_path = path.split('?').next().unwrap_or(path);
        let contract = contract();
        if contract.template_for(method, bare_path).is_some()
            && let Err(violation) = contract.check(
                method,
                bare_path,
                status,
                answer.header("content-type"),
                &answer.bytes,
            )
        {
            panic!("contract violation: {violation}\nbody: {}", answer.json);
        }
        answer
    }

    /// Sends JSON (or nothing) with an optional bearer token.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = Vec::new();
        if let Some(bearer) = &bearer {
            headers.push(("authorization", bearer.as_str()));
        }
        let bytes = match body {
            Some(value) => {
                headers.push(("content-type", "application/json"));
                value.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        self.raw(method, path, &headers, bytes).await
    }

    /// Registers an account (201) and signs in; the session token and user id.
    pub(crate) async fn sign_up(&self, email: &str, password: &str) -> (String, String) {
        let created = self
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": password, "full_name": "Test Candidate"})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.json);
        let user_id = created.json["user"]["user_id"].as_str().unwrap().to_owned();
        (self.sign_in(email, password).await, user_id)
    }

    /// Signs in (200); the session token.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> String {
        let login = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.json);
        login.json["session_token"].as_str().unwrap().to_owned()
    }

    /// An admin session (the stack's `AdminEmails` account).
    pub(crate) async fn admin(&self) -> String {
        self.sign_up(ADMIN_EMAIL, "admin-password-1").await.0
    }

    /// Sets a user's base tier through the admin API.
    pub(crate) async fn grant_tier(&self, admin: &str, user_id: &str, tier: &str) {
        let updated = self
            .call(
                "PUT",
                &format!("/api/admin/users/{user_id}"),
                Some(admin),
                Some(json!({"subscription_tier": tier})),
            )
            .await;
        assert_eq!(updated.status, 200, "{}", updated.json);
    }
}

/// A DynamoDB client on the stack's DynamoDB.
pub(crate) async fn dynamodb(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    stack.dynamodb_client().await
}

/// Every item of a table, as JSON text (one string per item).
pub(crate) async fn scan_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<String> {
    harness::dynamodb::scan::scan_all(client, table)
        .await
        .expect("scan")
        .iter()
        .map(|item| format!("{item:?}"))
        .collect()
}

/// Sends the usual kinds of bad input to a JSON route and asserts each gets
/// a 4xx problem document: malformed JSON, another media type, no body, a
/// JSON array, missing fields, each field with a wrong type, an unknown
/// field, and a body over the route's limit.
pub(crate) async fn assert_bad_input_refused(
    api: &Api,
    method: &str,
    path: &str,
    token: Option<&str>,
    valid: Value,
) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let expect = |answer: Answer, status: u16, what: &str| {
        assert_eq!(
            answer.status, status,
            "{method} {path} with {what}: {}",
            answer.json
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
    };
    expect(
        api.raw(method, path, &headers, b"{\"a\":".to_vec()).await,
        400,
        "malformed JSON",
    );
    let mut plain = headers.clone();
    plain[0] = ("content-type", "text/plain");
    expect(
        api.raw(method, path, &plain, valid.to_string().into_bytes())
            .await,
        415,
        "text/plain",
    );
    expect(
        api.raw(method, path, &headers, Vec::new()).await,
        400,
        "no body",
    );
    expect(
        api.raw(method, path, &headers, b"[1,2]".to_vec()).await,
        400,
        "an array",
    );
    expect(
        api.raw(method, path, &headers, b"{}".to_vec()).await,
        400,
        "no fields",
    );
    for (field, value) in valid.as_object().unwrap() {
        let mut wrong = valid.clone();
        wrong[field] = if value.is_string() {
            json!(12345)
        } else {
            json!("not the right type")
        };
        let answer = api
            .raw(method, path, &headers, wrong.to_string().into_bytes())
            .await;
        expect(answer, 400, &format!("a wrong type for {field}"));
    }
    let mut unknown = valid.clone();
    unknown["unexpected_field"] = json!(true);
    expect(
        api.raw(method, path, &headers, unknown.to_string().into_bytes())
            .await,
        400,
        "an unknown field",
    );
    let oversized = format!("{{\"padding\":\"{}\"}}", "x".repeat(200 * 1024));
    expect(
        api.raw(method, path, &headers, oversized.into_bytes())
            .await,
        413,
        "an oversized body",
    );
}

/// An App Store receipt the stores mock signs: `product` bought now in
/// `transaction` (also the original transaction), expiring `expires_in_ms`
/// from now (negative: already expired).
pub(crate) fn apple_receipt(
    product: &str,
    transaction: &str,
    expires_in_ms: i64,
    sandbox: bool,
) -> mocks::stores::AppleReceipt {
    let now_ms = chrono::Utc::now().timestamp_millis();
    mocks::stores::AppleReceipt {
        bundle_id: "com.ieltsaiprep.app".into(),
        product_id: product.into(),
        transaction_id: transaction.into(),
        original_transaction_id: transaction.into(),
        purchase_date_ms: now_ms,
        expires_date_ms: now_ms + expires_in_ms,
        sandbox,
    }
}
