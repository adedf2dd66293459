//! The API Gateway HTTP API emulator (API Gateway v2, `ProtocolType: HTTP`):
//! one listener per HTTP API of the template. The `$default` stage is served
//! at the root (`http://127.0.0.1:PORT/items/1`), a named stage under its
//! name (`/prod/items/1`, and `rawPath` keeps the stage, as on AWS). What it
//! answers, as HTTP APIs do:
//!
//! - no route for the method and path, and no `$default` route, or a path
//!   outside a named stage: 404 `{"message":"Not Found"}`;
//! - a CORS preflight, when the API configures CORS: 204 from the gateway
//!   ([`cors`]);
//! - bodies over 10 MB: 413 `{"message":"Request Entity Too Large"}`;
//! - an authorizer's refusal ([`auth`]): 401 `{"message":"Unauthorized"}` or
//!   403 `{"message":"Forbidden"}`; its failure: 500;
//! - the integration's timeout (`TimeoutInMillis`, at most 30 s, divided by
//!   the time scale): 503 `{"message":"Service Unavailable"}`, the
//!   invocation running on;
//! - a function error, crash, throttle or malformed answer: 500
//!   `{"message":"Internal Server Error"}`.
//!
//! Every answer carries `apigw-requestid`. Requests are metered in 512 KB
//! units for the cost model ($1.00 per million).
//!
//! Modules: [`event`] (payload formats 1.0 and 2.0, authorizer events),
//! [`response`] (format 2.0 answers), [`auth`], [`cors`]; routing is shared
//! with REST APIs ([`super::rest::routing`]).

pub(crate) mod auth;
pub(crate) mod cors;
pub(crate) mod event;
pub(crate) mod response;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use mocks::server::Server;
use serde_json::json;
use tokio::net::TcpListener;

use super::GatewayError;
use super::events::new_request_id;
use super::meters::{HttpApiKind, HttpApiReading};
use super::rest::response::map_response;
use super::rest::routing::route_for;
use super::rest::{Backend, bind_error, decode, forwarded_headers, metered, query_pairs};
use crate::lambda::{LambdaEmulator, Outcome};
use crate::template::{HttpApi, HttpAuthorizer, HttpRoute, IdentitySource, PayloadFormat};
use crate::time_scale::TimeScale;
use auth::{JwtKeys, Verdict};
use event::{HttpRequest, RouteFacts};

/// API Gateway's payload limit for HTTP APIs (10 MB).
pub(crate) const MAX_HTTP_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// HTTP API settings.
#[derive(Debug, Clone)]
pub struct HttpApiSettings {
    /// Divides the integration timeouts.
    pub time_scale: TimeScale,
    /// Account id for `requestContext.accountId` and route ARNs.
    pub account_id: String,
    /// Region for route ARNs.
    pub region: String,
    /// Largest request body (10 MB).
    pub max_payload_bytes: usize,
    /// The JWKS JWT authorizers check tokens with (the identity mock's).
    pub jwks_url: Option<String>,
}

#[derive(Debug)]
struct HttpState {
    api: HttpApi,
    settings: HttpApiSettings,
    backend: Backend,
    keys: JwtKeys,
}

/// A running HTTP API.
#[derive(Debug)]
pub struct HttpApiGateway {
    state: Arc<HttpState>,
    server: Server,
}

impl HttpApiGateway {
    /// Serves an API on a bound listener.
    pub async fn start(
        api: HttpApi,
        lambda: LambdaEmulator,
        settings: HttpApiSettings,
        listener: TcpListener,
    ) -> Result<Self, GatewayError> {
        let keys = JwtKeys::new(settings.jwks_url.clone());
        let backend = Backend::bind(HttpApiKind::Http, &api.logical_id, lambda, &listener)?;
        let state = Arc::new(HttpState {
            api,
            settings,
            backend,
            keys,
        });
        let app = Router::new().fallback(serve).with_state(state.clone());
        let server = Server::serve("HTTP API gateway", listener, app)
            .map_err(bind_error(&state.api.logical_id))?;
        Ok(Self { state, server })
    }

    pub fn api(&self) -> &HttpApi {
        &self.state.api
    }

    /// The listener address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The stage's base URL (`http://127.0.0.1:PORT` for `$default`,
    /// `http://127.0.0.1:PORT/{stage}` otherwise).
    pub fn url(&self) -> String {
        match self.state.api.stage.as_str() {
            "$default" => self.server.base_url(),
            stage => format!("{}/{stage}", self.server.base_url()),
        }
    }

    /// Stops listening and waits (briefly) for invocations in flight; the
    /// requests it answered (for the cost model).
    pub async fn shutdown_metered(self) -> HttpApiReading {
        self.state.backend.stop(self.server).await
    }
}

/// An HTTP API's own JSON error answer.
fn http_error(status: StatusCode, message: &str, request_id: &str) -> Response {
    let mut response = (status, axum::Json(json!({"message": message}))).into_response();
    if let Ok(id) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("apigw-requestid", id);
    }
    response
}

fn internal_error(request_id: &str) -> Response {
    http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        request_id,
    )
}

async fn serve(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let meters = state.backend.meters.clone();
    metered(&meters, request, |request| async move {
        let headers = request.headers().clone();
        let preflight = cors::is_preflight(request.method().as_str(), &headers);
        let mut response = answer(state.clone(), peer, request).await;
        // A preflight's answer is complete; every other answer (a function's
        // 204 included) gets the API's CORS headers.
        if let Some(cors) = &state.api.cors
            && !preflight
        {
            cors::decorate(cors, &headers, &mut response);
        }
        response
    })
    .await
}

/// The path inside the stage, or `None` for a path outside it.
fn stage_path<'a>(stage: &str, raw_path: &'a str) -> Option<&'a str> {
    if stage == "$default" {
        return Some(raw_path);
    }
    match raw_path
        .strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(stage))
    {
        Some("") => Some("/"),
        Some(rest) if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// The route for a request: the best path match, else `$default`.
fn find_route<'a>(
    routes: &'a [HttpRoute],
    method: &str,
    path: &str,
) -> Option<(&'a HttpRoute, BTreeMap<String, String>)> {
    if let Some(found) = route_for(routes, method, path) {
        return Some((found.route, found.parameters));
    }
    routes
        .iter()
        .find(|route| route.path == "$default")
        .map(|route| (route, BTreeMap::new()))
}

fn identity_value(
    source: &IdentitySource,
    headers: &[(String, String)],
    query: &[(String, String)],
) -> Option<String> {
    let (pairs, name, case_blind) = match source {
        IdentitySource::Header(name) => (headers, name, true),
        IdentitySource::QueryString(name) => (query, name, false),
    };
    pairs
        .iter()
        .rev()
        .find(|(n, _)| {
            if case_blind {
                n.eq_ignore_ascii_case(name)
            } else {
                n == name
            }
        })
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

async fn answer(state: Arc<HttpState>, peer: SocketAddr, request: Request) -> Response {
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_owned();
    let Some(path) = stage_path(&state.api.stage, &raw_path).map(decode) else {
        return http_error(StatusCode::NOT_FOUND, "Not Found", &request_id);
    };
    let limit = state.settings.max_payload_bytes;
    let Ok(body) = to_bytes(Body::new(body), limit).await else {
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return http_error(status, "Request Entity Too Large", &request_id);
    };
    let method = parts.method.as_str().to_owned();
    if let Some(cors) = &state.api.cors
        && cors::is_preflight(&method, &parts.headers)
    {
        return cors::preflight(cors, &parts.headers);
    }
    let Some((route, parameters)) = find_route(&state.api.routes, &method, &path) else {
        return http_error(StatusCode::NOT_FOUND, "Not Found", &request_id);
    };
    let headers = forwarded_headers(&parts.headers, peer);
    let query = query_pairs(parts.uri.query());
    let source_ip = peer.ip().to_string();
    let request = HttpRequest {
        method: &method,
        raw_path: &raw_path,
        path: &path,
        raw_query: parts.uri.query().unwrap_or_default(),
        query: &query,
        headers: &headers,
        body: &body,
        source_ip: &source_ip,
    };
    let route_key = route.key();
    let facts = RouteFacts {
        api_id: &state.api.api_id,
        stage: &state.api.stage,
        account_id: &state.settings.account_id,
        region: &state.settings.region,
        domain_name: &state.backend.domain_name,
        route_key: &route_key,
        route_path: &route.path,
        path_parameters: &parameters,
    };
    let authorizer = match &route.authorizer {
        None => None,
        Some(name) => match authorize(&state, name, route, &request, &facts, &request_id).await {
            Verdict::Allow(context) => Some(context),
            Verdict::Unauthorized(challenge) => {
                let mut response =
                    http_error(StatusCode::UNAUTHORIZED, "Unauthorized", &request_id);
                if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    response.headers_mut().insert("www-authenticate", value);
                }
                return response;
            }
            Verdict::Forbidden => {
                return http_error(StatusCode::FORBIDDEN, "Forbidden", &request_id);
            }
            Verdict::Failed(fault) => {
                tracing::warn!(api = %state.api.logical_id, route = %route_key, "authorizer failed: {fault}");
                return internal_error(&request_id);
            }
        },
    };
    let now = Utc::now();
    let event = match route.payload_format {
        PayloadFormat::V2 => {
            event::v2_event(&request, &facts, authorizer.as_ref(), &request_id, now)
        }
        PayloadFormat::V1 => {
            event::v1_event(&request, &facts, authorizer.as_ref(), &request_id, now)
        }
    };
    let label = route_key.clone();
    let limit = state.settings.time_scale.to_real(route.timeout);
    let invocation = state.backend.invoke(&route.function, &event, label, limit);
    let outcome = match invocation.await {
        Some(outcome) => outcome,
        None => {
            return http_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable",
                &request_id,
            );
        }
    };
    let body = match outcome {
        Some(Outcome::Success { body }) => body,
        other => {
            let label = other.as_ref().map_or("not invoked", Outcome::label);
            tracing::warn!(api = %state.api.logical_id, route = %route_key, "integration failed: {label}");
            return internal_error(&request_id);
        }
    };
    let mapped = match route.payload_format {
        PayloadFormat::V2 => response::map_v2(&body),
        PayloadFormat::V1 => map_response(&body, Some("*/*"), &["*/*".to_owned()]),
    };
    match mapped {
        Ok(mapped) => state.backend.respond(mapped, &request_id),
        Err(malformed) => {
            tracing::warn!(api = %state.api.logical_id, route = %route_key, "{malformed}");
            internal_error(&request_id)
        }
    }
}

/// Runs the route's authorizer `name`.
async fn authorize(
    state: &HttpState,
    name: &str,
    route: &HttpRoute,
    request: &HttpRequest<'_>,
    facts: &RouteFacts<'_>,
    request_id: &str,
) -> Verdict {
    let Some(authorizer) = state.api.authorizers.get(name) else {
        return Verdict::Failed(format!("no authorizer {name}"));
    };
    match authorizer {
        HttpAuthorizer::Jwt {
            issuer,
            audience,
            identity_source,
            ..
        } => {
            let token = identity_value(identity_source, request.headers, request.query);
            auth::check_jwt(
                &state.keys,
                token.as_deref(),
                issuer,
                audience,
                &route.scopes,
            )
            .await
        }
        HttpAuthorizer::Lambda {
            name,
            function,
            payload_format,
            simple_responses,
            identity_sources,
        } => {
            let mut identity = Vec::new();
            for source in identity_sources {
                match identity_value(source, request.headers, request.query) {
                    Some(value) => identity.push(value),
                    None => return Verdict::Unauthorized(None),
                }
            }
            let now = Utc::now();
            let v2 = *payload_format == PayloadFormat::V2;
            let event = if v2 {
                event::v2_authorizer_event(request, facts, &identity, request_id, now)
            } else {
                event::v1_authorizer_event(request, facts, &identity, request_id, now)
            };
            let label = format!("authorizer {name}");
            let limit = state.settings.time_scale.to_real(route.timeout);
            match state.backend.invoke(function, &event, label, limit).await {
                Some(Some(Outcome::Success { body })) => auth::lambda_verdict(
                    &body,
                    *simple_responses,
                    &event::route_arn(request, facts),
                    v2,
                ),
                Some(Some(other)) => {
                    Verdict::Failed(format!("authorizer {name} failed: {}", other.label()))
                }
                Some(None) => Verdict::Failed(format!("authorizer {name} could not be invoked")),
                None => Verdict::Failed(format!("authorizer {name} timed out")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn named_stages_own_their_prefix_and_default_owns_everything() {
        assert_eq!(stage_path("$default", "/a/b"), Some("/a/b"));
        assert_eq!(stage_path("prod", "/prod/a"), Some("/a"));
        assert_eq!(stage_path("prod", "/prod"), Some("/"));
        assert_eq!(stage_path("prod", "/production/a"), None);
        assert_eq!(stage_path("prod", "/a"), None);
    }

    fn route(method: &str, path: &str) -> HttpRoute {
        HttpRoute {
            path: path.into(),
            method: method.into(),
            function: format!("{method} {path}"),
            payload_format: PayloadFormat::V2,
            timeout: Duration::from_secs(5),
            authorizer: None,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn the_default_route_serves_what_no_path_matches() {
        let routes = vec![
            route("GET", "/items/{id}"),
            route("ANY", "$default"),
            route("POST", "/items"),
        ];
        let (found, parameters) = find_route(&routes, "GET", "/items/7").unwrap();
        assert_eq!(found.key(), "GET /items/{id}");
        assert_eq!(parameters["id"], "7");
        assert_eq!(
            find_route(&routes, "DELETE", "/items/7").unwrap().0.key(),
            "$default"
        );
        assert_eq!(
            find_route(&routes, "GET", "/$default").unwrap().0.key(),
            "$default"
        );
        assert!(find_route(&routes[..1], "GET", "/nothing").is_none());
    }

    #[test]
    fn identity_sources_read_headers_blind_to_case_and_queries_exactly() {
        let headers = vec![("Authorization".to_owned(), "Bearer x".to_owned())];
        let query = vec![("token".to_owned(), "t".to_owned())];
        let header = IdentitySource::Header("authorization".into());
        assert_eq!(
            identity_value(&header, &headers, &query).as_deref(),
            Some("Bearer x")
        );
        let exact = IdentitySource::QueryString("token".into());
        assert_eq!(
            identity_value(&exact, &headers, &query).as_deref(),
            Some("t")
        );
        let other_case = IdentitySource::QueryString("Token".into());
        assert!(identity_value(&other_case, &headers, &query).is_none());
    }
}
