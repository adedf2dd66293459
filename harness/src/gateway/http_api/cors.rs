//! An HTTP API's CORS, as API Gateway applies a `CorsConfiguration`:
//!
//! - a preflight request (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered by the gateway with 204,
//!   whatever the routes, and carries the CORS headers only for an allowed
//!   origin;
//! - every other answer to an allowed origin gets
//!   `access-control-allow-origin` (and `-expose-headers`, `-allow-credentials`
//!   when configured); CORS headers the integration set are dropped, as API
//!   Gateway ignores them once the API configures CORS.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::template::HttpCors;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a request is a CORS preflight.
pub(crate) fn is_preflight(method: &str, headers: &HeaderMap) -> bool {
    method == "OPTIONS"
        && headers.contains_key("origin")
        && headers.contains_key("access-control-request-method")
}

/// The `access-control-allow-origin` value for a request's origin, if allowed.
fn allowed_origin(cors: &HttpCors, headers: &HeaderMap) -> Option<String> {
    let origin = header(headers, "origin")?;
    if cors.allow_origins.iter().any(|o| o == origin) {
        Some(origin.to_owned())
    } else if cors.allow_origins.iter().any(|o| o == "*") {
        Some("*".to_owned())
    } else {
        None
    }
}

fn set(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        out.insert(HeaderName::from_static(name), value);
    }
}

/// The gateway's answer to a preflight request.
pub(crate) fn preflight(cors: &HttpCors, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let Some(origin) = allowed_origin(cors, headers) else {
        return response;
    };
    let requested_method = header(headers, "access-control-request-method").unwrap_or_default();
    let method_allowed = cors
        .allow_methods
        .iter()
        .any(|m| m == "*" || m.eq_ignore_ascii_case(requested_method));
    if !method_allowed {
        return response;
    }
    let out = response.headers_mut();
    set(out, "access-control-allow-origin", &origin);
    let methods = if cors.allow_methods.iter().any(|m| m == "*") {
        requested_method.to_owned()
    } else {
        cors.allow_methods.join(",")
    };
    set(out, "access-control-allow-methods", &methods);
    let requested_headers = header(headers, "access-control-request-headers");
    let allow_headers = if cors.allow_headers.iter().any(|h| h == "*") {
        requested_headers.map(str::to_owned)
    } else if cors.allow_headers.is_empty() {
        None
    } else {
        Some(cors.allow_headers.join(","))
    };
    if let Some(allow_headers) = allow_headers {
        set(out, "access-control-allow-headers", &allow_headers);
    }
    if let Some(max_age) = cors.max_age {
        set(out, "access-control-max-age", &max_age.to_string());
    }
    if cors.allow_credentials {
        set(out, "access-control-allow-credentials", "true");
    }
    response
}

/// Puts the configured CORS headers on an answer (and drops the integration's).
pub(crate) fn decorate(cors: &HttpCors, request: &HeaderMap, response: &mut Response) {
    let out = response.headers_mut();
    let integration_set: Vec<HeaderName> = out
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in integration_set {
        out.remove(name);
    }
    let Some(origin) = allowed_origin(cors, request) else {
        return;
    };
    set(out, "access-control-allow-origin", &origin);
    if !cors.expose_headers.is_empty() {
        set(
            out,
            "access-control-expose-headers",
            &cors.expose_headers.join(","),
        );
    }
    if cors.allow_credentials {
        set(out, "access-control-allow-credentials", "true");
    }
    if origin != "*" {
        out.append("vary", HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> HttpCors {
        HttpCors {
            allow_origins: vec!["https://ieltsaiprep.com".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into(), "authorization".into()],
            expose_headers: vec!["x-request-id".into()],
            max_age: Some(600),
            allow_credentials: true,
        }
    }

    fn request(origin: &str, method: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("origin", origin.parse().unwrap());
        if let Some(method) = method {
            headers.insert("access-control-request-method", method.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_gets_the_configuration() {
        let headers = request("https://ieltsaiprep.com", Some("POST"));
        assert!(is_preflight("OPTIONS", &headers));
        assert!(!is_preflight("GET", &headers));
        assert!(!is_preflight(
            "OPTIONS",
            &request("https://ieltsaiprep.com", None)
        ));
        let answer = preflight(&cors(), &headers);
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        let out = answer.headers();
        assert_eq!(
            out["access-control-allow-origin"],
            "https://ieltsaiprep.com"
        );
        assert_eq!(out["access-control-allow-methods"], "GET,POST");
        assert_eq!(
            out["access-control-allow-headers"],
            "content-type,authorization"
        );
        assert_eq!(out["access-control-max-age"], "600");
        assert_eq!(out["access-control-allow-credentials"], "true");
    }

    #[test]
    fn other_origins_and_methods_get_no_cors_headers() {
        for headers in [
            request("https://evil.example", Some("GET")),
            request("https://ieltsaiprep.com", Some("DELETE")),
        ] {
            let answer = preflight(&cors(), &headers);
            assert!(
                answer
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
        }
    }

    #[test]
    fn answers_carry_the_configured_headers_not_the_integrations() {
        let mut answer = StatusCode::OK.into_response();
        answer.headers_mut().insert(
            "access-control-allow-origin",
            HeaderValue::from_static("https://evil.example"),
        );
        decorate(
            &cors(),
            &request("https://ieltsaiprep.com", None),
            &mut answer,
        );
        let out = answer.headers();
        assert_eq!(
            out["access-control-allow-origin"],
            "https://ieltsaiprep.com"
        );
        assert_eq!(out["access-control-expose-headers"], "x-request-id");
        let mut refused = StatusCode::OK.into_response();
        refused
            .headers_mut()
            .insert("access-control-allow-origin", HeaderValue::from_static("*"));
        decorate(
            &cors(),
            &request("https://evil.example", None),
            &mut refused,
        );
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
}
