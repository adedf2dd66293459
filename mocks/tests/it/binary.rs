//! The `mocks` binary: prints one JSON line with every mock's URLs, serves the
//! seeded service-account secret and each mock's own API, and exits cleanly
//! on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{http, json_of};

#[tokio::test]
async fn prints_urls_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mocks"))
        .args(["--time-scale", "14", "--project", "binary-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let ready = json_of(&line);
    let template = ready["vertex"]["base_url_template"].as_str().unwrap();
    assert!(template.starts_with("http://127.0.0.1:") && template.ends_with("/regions/{region}"));
    assert_eq!(ready["time_scale"], 14.0);
    assert_eq!(ready["env"]["VERTEX_BASE_URL_TEMPLATE"], template);
    assert_eq!(
        ready["env"]["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        ready["secrets"]["base_url"]
    );

    let vertex = template.trim_end_matches("/regions/{region}");
    let (status, body) = http(vertex, "GET", "/_mock/vertex/service-account", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["project_id"], "binary-test");
    let secrets = ready["secrets"]["base_url"].as_str().unwrap();
    let (status, body) = http(secrets, "GET", "/_mock/secrets/calls", &[], "").await;
    assert_eq!(
        (status, json_of(&body)["total"].clone()),
        (200, serde_json::json!(0))
    );
    assert_eq!(
        ready["secrets"]["gcp_secret_name"],
        "gemini-vertex-ai-credentials"
    );

    // Every other mock the binary says it starts answers on its own port.
    for (mock, path, field) in [
        ("bedrock", "/_mock/bedrock/streams", None),
        ("sns", "/_mock/sns/messages", None),
        ("identity", "/.well-known/jwks.json", Some("keys")),
        ("stores", "/_mock/stores/checks", None),
        ("email", "/_mock/email/messages", None),
    ] {
        let base = ready[mock]["base_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no {mock} base_url in {ready}"));
        let (status, body) = http(base, "GET", path, &[], "").await;
        assert_eq!(status, 200, "{mock} {path}: {body}");
        if let Some(field) = field {
            assert!(json_of(&body)[field].is_array(), "{mock} {path}: {body}");
        }
    }
    assert_eq!(
        ready["env"]["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"],
        ready["bedrock"]["base_url"]
    );
    assert_eq!(
        ready["env"]["AWS_ENDPOINT_URL_SNS"],
        ready["sns"]["base_url"]
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
