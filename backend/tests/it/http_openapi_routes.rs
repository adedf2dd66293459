//! The HTTP API's router and its published contract list the same
//! operations: every route the function serves is in
//! backend/spec/http.openapi.yaml, and every operation there is served.

use std::collections::BTreeSet;
use std::path::Path;

use backend::http_api::router::{documented_paths, resolve};

#[test]
fn router_and_openapi_document_agree() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/http.openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let document: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut in_spec = BTreeSet::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_spec.insert((method.to_uppercase(), template.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = documented_paths()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(served, in_spec);
    for (method, template) in &served {
        let concrete: String = template
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        assert!(resolve(method, &concrete).is_ok(), "{method} {template}");
    }
}
