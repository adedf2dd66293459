//! SNS Publish and CreateTopic through the real `aws-sdk-sns` client against
//! the SNS mock: recorded messages, strict topics, faults.

use crate::aws_common::http;
use aws_sdk_sns::Client;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::{Credentials, Region};
use aws_sdk_sns::error::ProvideErrorMetadata as _;
use aws_sdk_sns::types::MessageAttributeValue;
use mocks::sns::{SnsFault, SnsFaultRule, SnsMock};
use serde_json::Value;

fn sns_client(base_url: &str, region: &'static str) -> Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version_latest()
        .endpoint_url(base_url)
        .region(Region::new(region))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn publish_and_create_topic_are_recorded() {
    let mock = SnsMock::start(0).await.unwrap();
    let client = sns_client(&mock.base_url(), "eu-west-1");

    let created = client
        .create_topic()
        .name("buddy-alerts-dev")
        .send()
        .await
        .unwrap();
    let topic = created.topic_arn().unwrap().to_owned();
    assert_eq!(topic, "arn:aws:sns:eu-west-1:123456789012:buddy-alerts-dev");

    let published = client
        .publish()
        .topic_arn(&topic)
        .subject("Patient alert: John")
        .message("John said: I have chest pain & feel dizzy <now>")
        .message_attributes(
            "severity",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("high")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let message_id = published.message_id().unwrap().to_owned();

    // Without strict topics any ARN is accepted.
    client
        .publish()
        .topic_arn("arn:aws:sns:us-east-1:999999999999:elsewhere")
        .message("second")
        .send()
        .await
        .unwrap();

    let messages = mock.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].message_id, message_id);
    assert_eq!(messages[0].topic_arn, topic);
    assert_eq!(messages[0].subject.as_deref(), Some("Patient alert: John"));
    assert_eq!(
        messages[0].message,
        "John said: I have chest pain & feel dizzy <now>"
    );
    assert_eq!(
        messages[0].attributes["severity"].string_value.as_deref(),
        Some("high")
    );
    assert!(messages[0].timestamp_ms > 0);
    assert_eq!(messages[1].subject, None);

    let (status, body) = http(&mock.base_url(), "GET", "/_mock/sns/messages", None).await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(listed[1]["message"], "second");
    assert_eq!(mock.topics(), [topic]);
    mock.stop().await;
}

#[tokio::test]
async fn strict_topics_and_faults_surface_as_sdk_errors() {
    let mock = SnsMock::start(0).await.unwrap();
    let client = sns_client(&mock.base_url(), "us-east-1");
    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/sns/strict",
        Some(r#"{"strict": true}"#),
    )
    .await;
    assert_eq!(status, 204);
    let error = client
        .publish()
        .topic_arn("arn:aws:sns:us-east-1:123456789012:missing")
        .message("hello")
        .send()
        .await
        .unwrap_err();
    let service = error.as_service_error().expect("a service error");
    assert!(service.is_not_found_exception(), "{service:?}");
    assert_eq!(service.message(), Some("Topic does not exist"));

    let topic = mock.create_topic("alerts");
    mock.add_fault(SnsFaultRule {
        fault: SnsFault::AuthError,
        once: true,
    });
    let error = client
        .publish()
        .topic_arn(&topic)
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_authorization_error_exception()
    );

    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/sns/faults",
        Some(r#"{"fault": "throttle"}"#),
    )
    .await;
    assert_eq!(status, 204);
    for _ in 0..2 {
        let error = client
            .publish()
            .topic_arn(&topic)
            .message("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("Throttling"));
    }
    let error = client.create_topic().name("more").send().await.unwrap_err();
    assert_eq!(error.code(), Some("Throttling"));
    mock.clear_faults();
    client
        .publish()
        .topic_arn(&topic)
        .message("through")
        .send()
        .await
        .unwrap();
    assert_eq!(mock.messages().len(), 1);

    let error = client
        .create_topic()
        .name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_invalid_parameter_exception()
    );
    mock.stop().await;
}
