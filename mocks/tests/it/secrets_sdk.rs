//! The Secrets Manager mock driven by the real `aws-sdk-secretsmanager`
//! client, plus the backend's path: read the Vertex service account from
//! Secrets Manager, sign a token with it, open a Live session.

use crate::common::*;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use mocks::secrets::{SecretsFault, SecretsFaultKind, SecretsMock};
use mocks::vertex::FaultScope;
use serde_json::json;

fn client(mock: &SecretsMock, retries: bool) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(mock.base_url())
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(if retries {
            RetryConfig::standard()
        } else {
            RetryConfig::disabled()
        })
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn the_sdk_reads_and_writes_secrets() {
    let mock = SecretsMock::start(0).await.unwrap();
    mock.put_secret(
        "gemini-vertex-ai-credentials",
        "{\"type\": \"service_account\"}",
    );
    let sdk = client(&mock, true);

    let value = sdk
        .get_secret_value()
        .secret_id("gemini-vertex-ai-credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(
        value.secret_string(),
        Some("{\"type\": \"service_account\"}")
    );
    assert_eq!(value.name(), Some("gemini-vertex-ai-credentials"));
    assert_eq!(value.version_stages(), ["AWSCURRENT"]);
    assert!(value.created_date().is_some());
    let arn = value.arn().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:secretsmanager:us-east-1:"));
    let by_arn = sdk.get_secret_value().secret_id(&arn).send().await.unwrap();
    assert_eq!(by_arn.version_id(), value.version_id());

    let created = sdk
        .create_secret()
        .name("app/config")
        .description("settings")
        .secret_string("v1")
        .send()
        .await
        .unwrap();
    let first_version = created.version_id().unwrap().to_owned();
    let put = sdk
        .put_secret_value()
        .secret_id("app/config")
        .secret_string("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(put.version_stages(), ["AWSCURRENT"]);
    let current = sdk
        .get_secret_value()
        .secret_id("app/config")
        .send()
        .await
        .unwrap();
    assert_eq!(current.secret_string(), Some("v2"));
    let previous = sdk
        .get_secret_value()
        .secret_id("app/config")
        .version_id(&first_version)
        .send()
        .await
        .unwrap();
    assert_eq!(previous.secret_string(), Some("v1"));
    assert_eq!(previous.version_stages(), ["AWSPREVIOUS"]);
    let described = sdk
        .describe_secret()
        .secret_id("app/config")
        .send()
        .await
        .unwrap();
    assert_eq!(described.description(), Some("settings"));
    assert_eq!(described.version_ids_to_stages().unwrap().len(), 2);

    let exists = sdk
        .create_secret()
        .name("app/config")
        .secret_string("x")
        .send()
        .await;
    assert!(
        exists
            .unwrap_err()
            .into_service_error()
            .is_resource_exists_exception()
    );

    sdk.delete_secret()
        .secret_id("app/config")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let gone = sdk
        .get_secret_value()
        .secret_id("app/config")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception(), "{gone:?}");
    assert_eq!(
        gone.meta().message(),
        Some("Secrets Manager can't find the specified secret.")
    );

    let calls = mock.calls();
    assert_eq!(calls.total, 10);
    assert_eq!(calls.by_operation["GetSecretValue"], 5);
    assert!((calls.cost_usd - 10.0 * 0.05 / 10_000.0).abs() < 1e-12);
    // Calls by secret (CreateSecret names it with `Name`, not counted); an
    // ARN counts for the secret it names.
    assert_eq!(
        calls
            .by_secret
            .iter()
            .map(|(name, count)| (name.as_str(), *count))
            .collect::<Vec<_>>(),
        [("app/config", 6), ("gemini-vertex-ai-credentials", 2)]
    );
    let (status, body) = http(&mock.base_url(), "GET", "/_mock/secrets/calls", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["total"], 10);
    mock.stop().await;
}

#[tokio::test]
async fn access_denied_and_throttling_faults() {
    let mock = SecretsMock::start(0).await.unwrap();
    mock.put_secret("k", "v");
    let retrying = client(&mock, true);
    let single = client(&mock, false);

    mock.set_fault(SecretsFault {
        kind: SecretsFaultKind::AccessDenied,
        applies_to: FaultScope::Next,
    });
    let denied = single
        .get_secret_value()
        .secret_id("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        denied.into_service_error().meta().code(),
        Some("AccessDeniedException")
    );
    assert!(
        single
            .get_secret_value()
            .secret_id("k")
            .send()
            .await
            .is_ok()
    );

    // One throttled call: the SDK's standard retry gets through.
    mock.set_fault(SecretsFault {
        kind: SecretsFaultKind::Throttle,
        applies_to: FaultScope::Next,
    });
    let value = retrying
        .get_secret_value()
        .secret_id("k")
        .send()
        .await
        .unwrap();
    assert_eq!(value.secret_string(), Some("v"));
    assert_eq!(mock.calls().throttled, 1);

    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/secrets/faults",
        &[],
        &json!({"kind": "throttle", "applies_to": "all"}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let throttled = single
        .get_secret_value()
        .secret_id("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        throttled.into_service_error().meta().code(),
        Some("ThrottlingException")
    );
    http(&mock.base_url(), "DELETE", "/_mock/secrets/faults", &[], "").await;
    assert!(
        single
            .get_secret_value()
            .secret_id("k")
            .send()
            .await
            .is_ok()
    );
    let calls = mock.calls();
    assert_eq!((calls.denied, calls.throttled), (1, 2));
    assert_eq!(calls.total, 6);

    let (status, body) = http(
        &mock.base_url(),
        "POST",
        "/",
        &[("x-amz-target", "secretsmanager.GetSecretValue")],
        r#"{"SecretId": "k"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        json_of(&body)["__type"],
        "MissingAuthenticationTokenException"
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_backend_path_secret_to_token_to_live_session() {
    let vertex = start_vertex(50.0).await;
    let secrets = SecretsMock::start(0).await.unwrap();
    secrets.put_secret(
        "gemini-vertex-ai-credentials",
        &vertex.service_account_json(),
    );
    let key_json = client(&secrets, true)
        .get_secret_value()
        .secret_id("gemini-vertex-ai-credentials")
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned();
    let key = Key::from_json(&key_json);
    let mut ws = connect_with(&vertex, "asia-southeast1", Some(&key.token()))
        .await
        .unwrap();
    start_session(&mut ws, "asia-southeast1", json!({})).await;
    assert_eq!(vertex.sessions()[0].region, "asia-southeast1");
    vertex.stop().await;
    secrets.stop().await;
}
