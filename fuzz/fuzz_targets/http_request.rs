//! HTTP API requests (seeds 002, 003): method and path through the router,
//! the body through the JSON reader with the API's own limits, e-mail and
//! field checks. Every input gives a route or a problem document with a
//! 4xx status, never a panic. The first line is `METHOD PATH`, the rest the body.
#![no_main]

use backend::http_api::input::{ApiRequest, Checks, is_email};
use backend::http_api::router::resolve;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (line, body) = data.split_at(split);
    let line = String::from_utf8_lossy(line);
    let mut parts = line.splitn(2, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    if let Err(error) = resolve(&method, &path) {
        assert!((400..500).contains(&error.status()));
    }
    let body = body.get(1..).unwrap_or_default().to_vec();
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
    ] {
        let request = ApiRequest {
            method: method.clone(),
            path: path.clone(),
            headers: [(http::header::CONTENT_TYPE, content_type.parse().unwrap())]
                .into_iter()
                .collect(),
            body: body.clone(),
            ..ApiRequest::default()
        };
        for limit in [64, 16 * 1024] {
            if let Err(error) = request.json::<serde_json::Value>(limit) {
                assert!((400..500).contains(&error.status()), "{}", error.status());
                let _ = error.body(&path);
            }
        }
    }
    let text = String::from_utf8_lossy(&body);
    let _ = is_email(&text);
    let mut checks = Checks::default();
    checks.email("email", &text);
    checks.password("password", &text);
    checks.text("name", &text, 1, 100);
    let _ = checks.finish();
});
