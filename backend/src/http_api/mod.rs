//! The IELTS HTTP API (seeds 002 and 003): the web app's and the mobile
//! app's JSON API, one Lambda function (`http-api`, `ielts-ai-prep-{env}`)
//! behind an API Gateway REST API with `ANY /` and `ANY /{proxy+}` (seed
//! 002) and an HTTP API with the same routes (seed 003, payload format 2.0,
//! whose `rawPath` carries a named stage, removed here). Every
//! route and schema is in backend/spec/http.openapi.yaml; every error is an
//! `application/problem+json` document ([`problem`]).
//!
//! Areas: [`auth`] (register, login with bcrypt and 24-hour sessions,
//! logout, profile) and [`reset`] (password reset by e-mail);
//! [`assessments`] (writing through Nova Micro, reading and listening scored
//! with [`scoring`]'s official tables, history, speaking history) with
//! [`writing`] (the prompt and the model answer's validation) and [`model`]
//! (Bedrock Converse); [`questions`] (the question bank and rubrics);
//! [`qr`] (QR login); [`entitlements`] and [`purchases`] (App Store and
//! Google Play receipts to subscription tiers); [`gdpr`] (export, delete);
//! [`admin`]; [`reports`] (content reports, AI safety logs); [`mobile`]
//! (mobile config and dashboard, the index and health). Plumbing:
//! [`router`], [`input`], [`store`].

pub(crate) mod admin;
pub(crate) mod assessments;
pub(crate) mod auth;
pub(crate) mod entitlements;
pub(crate) mod gdpr;
pub mod input;
pub(crate) mod mobile;
pub(crate) mod model;
pub(crate) mod problem;
pub(crate) mod purchases;
pub(crate) mod qr;
pub(crate) mod questions;
pub(crate) mod reports;
pub(crate) mod reset;
pub mod router;
pub(crate) mod scoring;
pub mod store;
pub(crate) mod writing;

use http::HeaderMap;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use crate::config::EnvVars;
use crate::credentials::GcpCredentials;
use input::ApiRequest;
use problem::{ApiError, ApiResult};
use router::Route;
use store::Tables;

/// App Store settings.
#[derive(Debug, Clone)]
pub struct AppleSettings {
    /// `APPLE_VERIFY_URL` (production `verifyReceipt`).
    pub verify_url: String,
    /// `APPLE_SANDBOX_VERIFY_URL`.
    pub sandbox_url: String,
    /// `APPLE_BUNDLE_ID`: receipts of other apps are refused.
    pub bundle_id: String,
    /// `APPLE_SHARED_SECRET`.
    pub shared_secret: String,
}

/// Google Play settings.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// `GOOGLE_PLAY_API_URL` (`https://androidpublisher.googleapis.com`).
    pub api_url: String,
    /// `GOOGLE_PLAY_PACKAGE_NAME`.
    pub package_name: String,
    /// `GOOGLE_PLAY_CREDENTIALS_SECRET`: the Secrets Manager secret of the
    /// service account.
    pub credentials_secret: String,
}

/// E-mail settings (SendGrid's v3 API).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `EMAIL_API_URL`.
    pub api_url: String,
    /// `SENDGRID_API_KEY`.
    pub api_key: String,
    /// `EMAIL_FROM`.
    pub from: String,
}

/// Settings from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ENVIRONMENT`.
    pub environment: String,
    /// `AWS_REGION`.
    pub region: String,
    /// `BCRYPT_COST` (4 to 31; the template's default is 12).
    pub bcrypt_cost: u32,
    /// `ADMIN_EMAILS`: accounts registered with these get the admin role.
    pub admin_emails: Vec<String>,
    /// `CORS_ALLOWED_ORIGINS`: origins whose requests get CORS headers.
    pub cors_origins: Vec<String>,
    /// `PUBLIC_APP_URL`: the web app, for links in mails and QR codes.
    pub public_app_url: String,
    /// `SPEAKING_WEBSOCKET_URL`: the speaking API the mobile app connects to.
    pub speaking_websocket_url: Option<String>,
    /// `BEDROCK_MODEL_ID` (Nova Micro).
    pub model_id: String,
    /// App Store.
    pub apple: AppleSettings,
    /// Google Play.
    pub google: GoogleSettings,
    /// E-mail.
    pub email: EmailSettings,
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

impl Settings {
    /// Reads the environment, with the template's defaults.
    pub fn from_env() -> Self {
        let vars = EnvVars::process();
        let var = |name: &str, default: &str| vars.text(name, default);
        Self {
            environment: var("ENVIRONMENT", "production"),
            region: var("AWS_REGION", "us-east-1"),
            bcrypt_cost: vars
                .parsed_or("BCRYPT_COST", bcrypt::DEFAULT_COST)
                .clamp(4, 31),
            admin_emails: list(&var("ADMIN_EMAILS", ""))
                .into_iter()
                .map(|e| e.to_lowercase())
                .collect(),
            cors_origins: list(&var("CORS_ALLOWED_ORIGINS", "")),
            public_app_url: var("PUBLIC_APP_URL", "https://www.ieltsaiprep.com"),
            speaking_websocket_url: vars.optional("SPEAKING_WEBSOCKET_URL"),
            model_id: var("BEDROCK_MODEL_ID", "amazon.nova-micro-v1:0"),
            apple: AppleSettings {
                verify_url: var(
                    "APPLE_VERIFY_URL",
                    "https://buy.itunes.apple.com/verifyReceipt",
                ),
                sandbox_url: var(
                    "APPLE_SANDBOX_VERIFY_URL",
                    "https://sandbox.itunes.apple.com/verifyReceipt",
                ),
                bundle_id: var("APPLE_BUNDLE_ID", "com.ieltsaiprep.app"),
                shared_secret: var("APPLE_SHARED_SECRET", ""),
            },
            google: GoogleSettings {
                api_url: var(
                    "GOOGLE_PLAY_API_URL",
                    "https://androidpublisher.googleapis.com",
                ),
                package_name: var("GOOGLE_PLAY_PACKAGE_NAME", "com.ieltsaiprep.app"),
                credentials_secret: var(
                    "GOOGLE_PLAY_CREDENTIALS_SECRET",
                    "google-play-service-account",
                ),
            },
            email: EmailSettings {
                api_url: var("EMAIL_API_URL", "https://api.sendgrid.com"),
                api_key: var("SENDGRID_API_KEY", ""),
                from: var("EMAIL_FROM", "noreply@ieltsaiprep.com"),
            },
        }
    }
}

/// The function's dependencies, built once per instance.
#[derive(Debug)]
pub struct HttpDeps {
    /// DynamoDB.
    pub db: aws_sdk_dynamodb::Client,
    /// Bedrock Runtime (Converse with Nova Micro).
    pub bedrock: aws_sdk_bedrockruntime::Client,
    /// The Google Play service account (Secrets Manager, cached).
    pub google_credentials: GcpCredentials,
    /// HTTP client for the stores and the e-mail API.
    pub http: reqwest::Client,
    /// Table names.
    pub tables: Tables,
    /// Settings.
    pub settings: Settings,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Self {
        Self {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The problem document for an error on `path`.
    pub fn problem(error: &ApiError, path: &str) -> Self {
        let mut headers = vec![(
            "content-type".to_owned(),
            "application/problem+json".to_owned(),
        )];
        headers.extend(error.headers().into_iter().map(|(k, v)| (k.to_owned(), v)));
        Self {
            status: error.status(),
            headers,
            body: error.body(path).to_string().into_bytes(),
        }
    }
}

async fn serve(deps: &HttpDeps, route: Route, request: &ApiRequest) -> ApiResult<ApiResponse> {
    match route {
        Route::Index => mobile::index(deps, request).await,
        Route::Health => mobile::health(deps).await,
        Route::Register => auth::register(deps, request).await,
        Route::Login => auth::login(deps, request).await,
        Route::Logout => auth::logout(deps, request).await,
        Route::PasswordResetRequest => reset::request_reset(deps, request).await,
        Route::PasswordResetConfirm => reset::confirm_reset(deps, request).await,
        Route::ProfileGet => auth::profile(deps, request).await,
        Route::ProfileUpdate => auth::update_profile(deps, request).await,
        Route::WritingAssessment => assessments::writing(deps, request).await,
        Route::ReadingAssessment => assessments::comprehension(deps, request, "reading").await,
        Route::ListeningAssessment => assessments::comprehension(deps, request, "listening").await,
        Route::AssessmentHistory => assessments::history(deps, request, None).await,
        Route::SpeakingHistory => assessments::history(deps, request, Some("speaking")).await,
        Route::AssessmentGet(id) => assessments::get(deps, request, &id).await,
        Route::Questions => questions::list(deps, request).await,
        Route::QuestionGet(id) => questions::get(deps, request, &id).await,
        Route::QrGenerate => qr::generate(deps, request).await,
        Route::QrRedeem => qr::redeem(deps, request).await,
        Route::MobileConfig => mobile::config(deps, request).await,
        Route::MobileDashboard => mobile::dashboard(deps, request).await,
        Route::PurchaseApple => purchases::apple(deps, request).await,
        Route::PurchaseGoogle => purchases::google(deps, request).await,
        Route::Entitlements => entitlements::list(deps, request).await,
        Route::GdprExport => gdpr::export(deps, request).await,
        Route::GdprDelete => gdpr::delete(deps, request).await,
        Route::ReportCreate => reports::create(deps, request).await,
        Route::ReportList => reports::list(deps, request).await,
        Route::AdminUsers => admin::users(deps, request).await,
        Route::AdminUserUpdate(id) => admin::update_user(deps, request, &id).await,
        Route::AdminReports => admin::reports(deps, request).await,
        Route::AdminReportUpdate(id) => admin::update_report(deps, request, &id).await,
        Route::AdminSafetyLogs => admin::safety_logs(deps, request).await,
        Route::AdminQuestionCreate => questions::create(deps, request).await,
        Route::AdminQuestionDelete(id) => questions::delete(deps, request, &id).await,
        Route::AdminRubrics => questions::rubrics(deps, request).await,
        Route::AdminRubricPut(id) => questions::put_rubric(deps, request, &id).await,
    }
}

/// Answers one request: the route's handler, or a problem document; CORS
/// headers for the allowed origins; never cached.
pub async fn dispatch(deps: &HttpDeps, request: &ApiRequest) -> ApiResponse {
    let result = match router::resolve(&request.method, &request.path) {
        Ok(route) => serve(deps, route, request).await,
        Err(error) => Err(error),
    };
    let mut response = match result {
        Ok(response) => response,
        Err(error) => ApiResponse::problem(&error, &request.path),
    };
    response
        .headers
        .push(("cache-control".into(), "no-store".into()));
    if let Some(origin) = request.header("origin")
        && deps.settings.cors_origins.iter().any(|o| o == origin)
    {
        response
            .headers
            .push(("access-control-allow-origin".into(), origin.to_owned()));
        response.headers.push(("vary".into(), "Origin".into()));
    }
    response
}

/// The domain and stage the client called (REST API or HTTP API event).
fn domain_and_stage(request: &Request) -> (String, String) {
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(context)) => (
            context.domain_name.clone().unwrap_or_default(),
            context.stage.clone().unwrap_or_default(),
        ),
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => (
            context.domain_name.clone().unwrap_or_default(),
            context.stage.clone().unwrap_or_default(),
        ),
        _ => (String::new(), String::new()),
    }
}

/// The API's base URL as the client called it: `https://{domainName}/{stage}`,
/// or `https://{domainName}` for an HTTP API's `$default` stage (`http://`
/// for a loopback domain, as the local stack serves it).
fn base_url(request: &Request) -> String {
    let (domain, stage) = domain_and_stage(request);
    let scheme = if domain.starts_with("127.") || domain.starts_with("localhost") {
        "http"
    } else {
        "https"
    };
    match stage.as_str() {
        "" | "$default" => format!("{scheme}://{domain}"),
        stage => format!("{scheme}://{domain}/{stage}"),
    }
}

/// The path inside the API: a REST event's `path`, or an HTTP API event's
/// `rawPath` without the named stage it starts with.
fn api_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let is_http_api = matches!(
        request.request_context_ref(),
        Some(lambda_http::request::RequestContext::ApiGatewayV2(_))
    );
    let (_, stage) = domain_and_stage(request);
    if is_http_api && !stage.is_empty() && stage != "$default" {
        match raw
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage.as_str()))
        {
            Some("") => return "/".to_owned(),
            Some(rest) if rest.starts_with('/') => return rest.to_owned(),
            _ => {}
        }
    }
    raw.to_owned()
}

/// The Lambda handler: an API Gateway event (REST API, or HTTP API in
/// payload format 1.0 or 2.0) in, a proxy response out.
pub async fn handle(deps: &HttpDeps, event: Request) -> Result<Response<Body>, lambda_http::Error> {
    let query = event
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let request = ApiRequest {
        method: event.method().as_str().to_owned(),
        path: api_path(&event),
        query,
        headers: event.headers().clone(),
        body: event.body().to_vec(),
        base_url: base_url(&event),
    };
    let response = dispatch(deps, &request).await;
    let mut builder = Response::builder().status(response.status);
    let mut headers = HeaderMap::new();
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    if let Some(target) = builder.headers_mut() {
        *target = headers;
    }
    let body = if response.body.is_empty() {
        Body::Empty
    } else {
        Body::Text(String::from_utf8_lossy(&response.body).into_owned())
    };
    Ok(builder.body(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_api_event(stage: &str, raw_path: &str) -> Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "ANY /{proxy+}",
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {"host": "abc.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc",
                "domainName": "abc.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "curl"},
                "requestId": "r", "routeKey": "ANY /{proxy+}", "stage": stage,
                "time": "06/Dec/2026:15:08:21 +0000", "timeEpoch": 1,
            },
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn http_api_events_lose_a_named_stage_from_the_path_and_keep_it_in_the_base_url() {
        let named = http_api_event("prod", "/prod/api/health");
        assert_eq!(api_path(&named), "/api/health");
        assert_eq!(
            base_url(&named),
            "https://abc.execute-api.us-east-1.amazonaws.com/prod"
        );
        let default = http_api_event("$default", "/api/health");
        assert_eq!(api_path(&default), "/api/health");
        assert_eq!(
            base_url(&default),
            "https://abc.execute-api.us-east-1.amazonaws.com"
        );
        // A path that only starts like the stage keeps it.
        assert_eq!(
            api_path(&http_api_event("prod", "/production/x")),
            "/production/x"
        );
    }
}
