//! The API Gateway REST API emulator: one listener per REST API of the
//! template, serving its stage at `http://127.0.0.1:PORT/{stage}/...` with
//! Lambda proxy integrations (payload format 1.0), as AWS does:
//!
//! - a path outside the stage: 403 `{"message":"Forbidden"}`; no route for
//!   the path and method: 403 `{"message":"Missing Authentication Token"}`;
//! - CORS preflight (`OPTIONS` when the API declares `Cors`) answered by the
//!   gateway, for the declared origins only;
//! - bodies over 10 MB: 413 `{"message":"Request Too Long"}`;
//! - the 29 s integration timeout (divided by the time scale): 504
//!   `{"message":"Endpoint request timed out"}`, the invocation running on;
//! - a function error, crash or malformed response: 502
//!   `{"message":"Internal server error"}`; a throttled function: 500.
//!
//! Modules: [`routing`] (resource matching), [`event`] (the proxy event),
//! [`response`] (mapping the function's answer back).

pub(crate) mod event;
pub(crate) mod response;
pub(crate) mod routing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use mocks::server::Server;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::GatewayError;
use super::meters::{HttpApiKind, HttpApiMeters, HttpApiReading};
use crate::lambda::{LambdaEmulator, Outcome, uuid_like};
use crate::template::{RestApi, RestCors, short_id};
use crate::time_scale::TimeScale;
use event::{ApiFacts, ProxyRequest, proxy_event};
use response::MappedResponse;

/// API Gateway's payload limit for REST APIs (10 MB).
pub(crate) const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// REST API settings.
#[derive(Debug, Clone)]
pub struct RestSettings {
    /// Divides the integration timeout.
    pub time_scale: TimeScale,
    /// Account id for `requestContext.accountId`.
    pub account_id: String,
    /// Largest request body (10 MB).
    pub max_payload_bytes: usize,
}

#[derive(Debug)]
struct RestState {
    api: RestApi,
    settings: RestSettings,
    backend: Backend,
}

/// What the REST and HTTP API emulators keep per running API: the functions,
/// the listener's address, the invocations in flight and the meters.
#[derive(Debug)]
pub(crate) struct Backend {
    kind: HttpApiKind,
    lambda: LambdaEmulator,
    pub(crate) domain_name: String,
    tasks: TaskTracker,
    pub(crate) meters: Arc<HttpApiMeters>,
}

impl Backend {
    /// The backend of the API `api` served on `listener`, metered as `kind`.
    pub(crate) fn bind(
        kind: HttpApiKind,
        api: &str,
        lambda: LambdaEmulator,
        listener: &TcpListener,
    ) -> Result<Self, GatewayError> {
        Ok(Self {
            kind,
            lambda,
            domain_name: listener.local_addr().map_err(bind_error(api))?.to_string(),
            tasks: TaskTracker::new(),
            meters: Arc::new(HttpApiMeters::new(kind)),
        })
    }

    /// Invokes a function within `limit` (real time): `None` when it ran out
    /// (the invocation runs on), `Some(None)` when the invocation could not
    /// be made.
    pub(crate) async fn invoke(
        &self,
        function: &str,
        event: &Value,
        label: String,
        limit: Duration,
    ) -> Option<Option<Outcome>> {
        let lambda = self.lambda.clone();
        let function = function.to_owned();
        let payload = Bytes::from(event.to_string());
        let invocation = self
            .tasks
            .spawn(async move { lambda.invoke(&function, payload, Some(label)).await });
        match tokio::time::timeout(limit, invocation).await {
            Err(_) => None,
            Ok(Ok(Ok(outcome))) => Some(Some(outcome)),
            Ok(Ok(Err(e))) => {
                tracing::error!("invoke: {e}");
                Some(None)
            }
            Ok(Err(join)) => {
                tracing::error!("invocation task failed: {join}");
                Some(None)
            }
        }
    }

    /// A function's mapped answer as the HTTP response: REST APIs answer 502
    /// for a status out of range and default the content type to JSON.
    pub(crate) fn respond(&self, mapped: MappedResponse, request_id: &str) -> Response {
        let rest = self.kind == HttpApiKind::Rest;
        let mut response = Response::new(Body::from(mapped.body));
        *response.status_mut() = StatusCode::from_u16(mapped.status).unwrap_or(if rest {
            StatusCode::BAD_GATEWAY
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        });
        let headers = response.headers_mut();
        for (name, value) in mapped.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
        if rest && !headers.contains_key("content-type") {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
        }
        let id_header = if rest {
            "x-amzn-requestid"
        } else {
            "apigw-requestid"
        };
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(id_header, id);
        }
        response
    }

    /// Stops listening and waits (briefly) for invocations in flight; the
    /// requests answered (for the cost model).
    pub(crate) async fn stop(&self, server: Server) -> HttpApiReading {
        server.begin_stop();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.tasks.wait()).await;
        server.stop().await;
        self.meters.reading()
    }
}

/// A listener error of the API `api`.
pub(crate) fn bind_error(api: &str) -> impl Fn(std::io::Error) -> GatewayError + '_ {
    move |source| GatewayError::Bind {
        api: api.to_owned(),
        source,
    }
}

/// A running REST API.
#[derive(Debug)]
pub struct RestGateway {
    state: Arc<RestState>,
    server: Server,
}

impl RestGateway {
    /// Serves an API on a bound listener.
    pub async fn start(
        api: RestApi,
        lambda: LambdaEmulator,
        settings: RestSettings,
        listener: TcpListener,
    ) -> Result<Self, GatewayError> {
        // REST APIs are billed per request (HTTP APIs would be per 512 KB).
        let backend = Backend::bind(HttpApiKind::Rest, &api.logical_id, lambda, &listener)?;
        let state = Arc::new(RestState {
            api,
            settings,
            backend,
        });
        let app = Router::new().fallback(serve).with_state(state.clone());
        let server = Server::serve("REST API gateway", listener, app)
            .map_err(bind_error(&state.api.logical_id))?;
        Ok(Self { state, server })
    }

    pub fn api(&self) -> &RestApi {
        &self.state.api
    }

    /// The listener address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The stage's base URL (`http://127.0.0.1:PORT/{stage}`).
    pub fn url(&self) -> String {
        format!("{}/{}", self.server.base_url(), self.state.api.stage)
    }

    /// Stops listening and waits (briefly) for invocations in flight.
    pub async fn shutdown(self) {
        let _ = self.shutdown_metered().await;
    }

    /// [`Self::shutdown`], returning the requests it answered (for the cost model).
    pub async fn shutdown_metered(self) -> HttpApiReading {
        self.state.backend.stop(self.server).await
    }
}

/// Answers a request and meters its declared size and the answer's.
pub(crate) async fn metered<F>(
    meters: &HttpApiMeters,
    request: Request,
    answer: impl FnOnce(Request) -> F,
) -> Response
where
    F: Future<Output = Response>,
{
    let request_bytes = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let response = answer(request).await;
    let response_bytes = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    meters.record(request_bytes, response_bytes);
    response
}

/// API Gateway's own JSON error answer.
fn gateway_error(
    status: StatusCode,
    message: &str,
    error_type: Option<&str>,
    request_id: &str,
) -> Response {
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    let headers = response.headers_mut();
    if let Some(kind) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        headers.insert("x-amzn-errortype", kind);
    }
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request's headers as the event carries them, plus the
/// `x-forwarded-*` headers API Gateway adds.
pub(crate) fn forwarded_headers(headers: &HeaderMap, peer: SocketAddr) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .chain([
            ("x-forwarded-for".to_owned(), peer.ip().to_string()),
            ("x-forwarded-port".to_owned(), peer.port().to_string()),
            ("x-forwarded-proto".to_owned(), "http".to_owned()),
        ])
        .collect()
}

/// The preflight answer: CORS headers only for an allowed origin.
fn preflight(cors: &RestCors, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    out.insert("content-type", HeaderValue::from_static("application/json"));
    out.insert("vary", HeaderValue::from_static("Origin"));
    let origin = header(headers, "origin");
    let allowed = match origin {
        Some(origin) if cors.allow_origins.iter().any(|o| o == "*") => Some(origin.to_owned()),
        Some(origin) if cors.allow_origins.iter().any(|o| o == origin) => Some(origin.to_owned()),
        _ => None,
    };
    let Some(origin) = allowed else {
        return response;
    };
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(HeaderName::from_static(name), value);
        }
    };
    set("access-control-allow-origin", origin);
    set("access-control-allow-methods", cors.allow_methods.join(","));
    if !cors.allow_headers.is_empty() {
        set("access-control-allow-headers", cors.allow_headers.join(","));
    }
    if let Some(max_age) = cors.max_age {
        set("access-control-max-age", max_age.to_string());
    }
    if cors.allow_credentials {
        set("access-control-allow-credentials", "true".to_owned());
    }
    response
}

pub(crate) fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map(form_urlencoded_pairs).unwrap_or_default()
}

/// `a=1&b=x%20y` as decoded pairs (`+` stays a plus sign, as in API Gateway's REST events).
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(part), String::new()),
        })
        .collect()
}

/// Answers a request and meters it.
async fn serve(
    State(state): State<Arc<RestState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let meters = state.backend.meters.clone();
    metered(&meters, request, |request| answer(state, peer, request)).await
}

async fn answer(state: Arc<RestState>, peer: SocketAddr, request: Request) -> Response {
    let request_id = uuid_like();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_owned();
    let stage_prefix = format!("/{}", state.api.stage);
    let path = match raw_path.strip_prefix(&stage_prefix) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => decode(rest),
        _ => {
            return gateway_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                Some("ForbiddenException"),
                &request_id,
            );
        }
    };
    let limit = state.settings.max_payload_bytes;
    let Ok(body) = to_bytes(Body::new(body), limit).await else {
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return gateway_error(status, "Request Too Long", None, &request_id);
    };
    if parts.method == Method::OPTIONS
        && let Some(cors) = &state.api.cors
    {
        return preflight(cors, &parts.headers);
    }
    let method = parts.method.as_str().to_owned();
    let Some(found) = routing::route_for(&state.api.routes, &method, &path) else {
        return gateway_error(
            StatusCode::FORBIDDEN,
            "Missing Authentication Token",
            Some("MissingAuthenticationTokenException"),
            &request_id,
        );
    };
    let headers = forwarded_headers(&parts.headers, peer);
    let query = query_pairs(parts.uri.query());
    let binary = header(&parts.headers, "content-type")
        .is_some_and(|t| response::is_binary(t, &state.api.binary_media_types));
    let resource_id = short_id(&format!("{}{}", state.api.api_id, found.route.path), 6);
    let event = proxy_event(
        &ProxyRequest {
            method: &method,
            path: &path,
            resource: &found.route.path,
            path_parameters: &found.parameters,
            headers: &headers,
            query: &query,
            body: &body,
            binary,
            source_ip: &peer.ip().to_string(),
        },
        &ApiFacts {
            api_id: &state.api.api_id,
            stage: &state.api.stage,
            account_id: &state.settings.account_id,
            domain_name: &state.backend.domain_name,
            resource_id: &resource_id,
        },
        &request_id,
        Utc::now(),
    );
    let label = format!("{method} {}", found.route.path);
    let timeout = state.api.integration_timeout;
    let limit = state.settings.time_scale.to_real(timeout);
    let invocation = state
        .backend
        .invoke(&found.route.function, &event, label, limit);
    let outcome = match invocation.await {
        None => {
            return gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                None,
                &request_id,
            );
        }
        Some(Some(outcome)) => outcome,
        Some(None) => return internal_error(StatusCode::BAD_GATEWAY, &request_id),
    };
    let body = match outcome {
        Outcome::Success { body } => body,
        Outcome::Throttled => {
            return internal_error(StatusCode::INTERNAL_SERVER_ERROR, &request_id);
        }
        other => {
            tracing::warn!(api = %state.api.logical_id, "integration failed: {}", other.label());
            return internal_error(StatusCode::BAD_GATEWAY, &request_id);
        }
    };
    let accept = header(&parts.headers, "accept");
    match response::map_response(&body, accept, &state.api.binary_media_types) {
        Ok(mapped) => state.backend.respond(mapped, &request_id),
        Err(malformed) => {
            tracing::warn!(api = %state.api.logical_id, "Execution failed due to configuration error: {malformed}");
            internal_error(StatusCode::BAD_GATEWAY, &request_id)
        }
    }
}

fn internal_error(status: StatusCode, request_id: &str) -> Response {
    gateway_error(status, "Internal server error", None, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> RestCors {
        RestCors {
            allow_origins: vec![
                "https://ieltsaiprep.com".into(),
                "https://www.ieltsaiprep.com".into(),
            ],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["Content-Type".into()],
            max_age: Some(3600),
            allow_credentials: false,
        }
    }

    fn origin(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("origin", value.parse().unwrap());
        headers
    }

    #[test]
    fn preflight_answers_listed_origins_only() {
        let allowed = preflight(&cors(), &origin("https://www.ieltsaiprep.com"));
        let headers = allowed.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://www.ieltsaiprep.com"
        );
        assert_eq!(headers["access-control-allow-methods"], "GET,POST");
        assert_eq!(headers["access-control-max-age"], "3600");
        let refused = preflight(&cors(), &origin("https://evil.example"));
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert!(
            preflight(&cors(), &HeaderMap::new())
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }

    #[test]
    fn query_strings_decode_like_rest_events() {
        assert_eq!(
            form_urlencoded_pairs("a=1&b=x%20y&c&&a=2"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), String::new()),
                ("a".into(), "2".into()),
            ]
        );
    }
}
