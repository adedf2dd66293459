//! Nova Sonic errors and faults as the real SDK client sees them: HTTP errors
//! before the stream surface from `send()`, exception frames from `recv()`,
//! each as the typed exception the SDK maps it to.

use std::time::{Duration, Instant};

use crate::aws_common::{SONIC, Sonic, bedrock_client, http, name, texts};
use aws_sdk_bedrockruntime::error::ProvideErrorMetadata as _;
use mocks::bedrock::{
    BedrockConfig, BedrockFault, BedrockMock, FaultRule, FaultTarget, StreamState,
};
use serde_json::json;

const PROMPT: &str = "You are Buddy.\n- Sarah is your daughter.\n";

async fn mock(time_scale: f64) -> BedrockMock {
    BedrockMock::start(BedrockConfig {
        time_scale,
        ..BedrockConfig::default()
    })
    .await
    .expect("mock starts")
}

/// Whether an error is the expected exception.
type IsExpected = fn(&crate::aws_common::RecvError) -> bool;

async fn open_error(mock: &BedrockMock, model: &str) -> crate::aws_common::OpenError {
    let client = bedrock_client(&mock.base_url());
    match Sonic::open(&client, model, Some(PROMPT)).await {
        Ok(_) => panic!("the stream should not open"),
        Err(error) => error,
    }
}

/// Opens a session and asks one question, returning it for `error()`.
async fn ask(mock: &BedrockMock) -> Sonic {
    let client = bedrock_client(&mock.base_url());
    let sonic = Sonic::open(&client, SONIC, Some(PROMPT))
        .await
        .expect("stream opens");
    sonic.text("q", "USER", true, "Who is Sarah?");
    sonic
}

#[tokio::test]
async fn access_denied_before_the_stream_for_the_next_stream_only() {
    let mock = mock(20.0).await;
    let (status, _) = http(
        &mock.base_url(),
        "POST",
        "/_mock/bedrock/faults",
        Some(r#"{"fault": "access_denied", "scope": "next"}"#),
    )
    .await;
    assert_eq!(status, 204);
    let error = open_error(&mock, SONIC).await;
    let service = error.as_service_error().expect("a service error");
    assert!(service.is_access_denied_exception(), "{service:?}");
    // The fault was for the next stream only.
    let mut sonic = ask(&mock).await;
    assert_eq!(
        texts(&sonic.until("usageEvent").await, "ASSISTANT")[0],
        "Sarah is your daughter."
    );
    mock.stop().await;
}

#[tokio::test]
async fn a_model_without_access_an_unknown_model_and_an_end_of_life_model_are_refused() {
    let mock = BedrockMock::start(BedrockConfig {
        denied_models: vec![SONIC.to_owned()],
        ..BedrockConfig::default()
    })
    .await
    .unwrap();
    let error = open_error(&mock, SONIC).await;
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_access_denied_exception()
    );
    let error = open_error(&mock, "amazon.nova-sonic-v9:0").await;
    let service = error.as_service_error().unwrap();
    assert!(service.is_validation_exception());
    assert_eq!(
        service.message(),
        Some("The provided model identifier is invalid.")
    );
    // Nova Sonic v1 is past its end of life (2026-09-14): Bedrock's answer.
    let error = open_error(&mock, "amazon.nova-sonic-v1:0").await;
    let service = error.as_service_error().unwrap();
    assert!(service.is_resource_not_found_exception(), "{service:?}");
    assert_eq!(
        service.message(),
        Some(
            "This model version has reached the end of its life. Please refer to the AWS \
             documentation for more details."
        )
    );
    mock.set_model_access(SONIC, true);
    let client = bedrock_client(&mock.base_url());
    assert!(Sonic::open(&client, SONIC, None).await.is_ok());
    mock.stop().await;
}

#[tokio::test]
async fn http_errors_before_the_stream() {
    let mock = mock(1.0).await;
    mock.add_fault(FaultRule::once(BedrockFault::Throttling {
        before_stream: true,
    }));
    let error = open_error(&mock, SONIC).await;
    assert!(error.as_service_error().unwrap().is_throttling_exception());
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(429));
    mock.add_fault(FaultRule::once(BedrockFault::InternalError {
        before_stream: true,
    }));
    let error = open_error(&mock, SONIC).await;
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_internal_server_exception()
    );
    mock.add_fault(FaultRule::once(BedrockFault::Validation {
        before_stream: true,
    }));
    let error = open_error(&mock, SONIC).await;
    assert!(error.as_service_error().unwrap().is_validation_exception());
    mock.stop().await;
}

#[tokio::test]
async fn exception_frames_inside_the_stream() {
    let mock = mock(20.0).await;
    let cases: [(BedrockFault, IsExpected); 4] = [
        (
            BedrockFault::Throttling {
                before_stream: false,
            },
            |e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_throttling_exception())
            },
        ),
        (
            BedrockFault::Validation {
                before_stream: false,
            },
            |e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_validation_exception())
            },
        ),
        (BedrockFault::StreamError, |e| {
            e.as_service_error()
                .is_some_and(|s| s.is_model_stream_error_exception())
        }),
        (
            BedrockFault::InternalError {
                before_stream: false,
            },
            |e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_internal_server_exception())
            },
        ),
    ];
    for (fault, expected) in cases {
        mock.add_fault(FaultRule::once(fault.clone()).on(FaultTarget::Stream));
        let mut sonic = ask(&mock).await;
        let error = sonic.error().await;
        assert!(expected(&error), "{fault:?}: {error:?}");
    }
    let streams = mock.streams();
    assert!(streams.iter().all(|s| s.state == StreamState::Failed));
    assert!(
        streams[2]
            .error
            .as_deref()
            .unwrap()
            .starts_with("modelStreamErrorException")
    );
    mock.stop().await;
}

#[tokio::test]
async fn protocol_violations_are_validation_exceptions() {
    let mock = mock(20.0).await;
    let client = bedrock_client(&mock.base_url());

    // History after audio has started.
    let mut sonic = Sonic::open(&client, SONIC, Some(PROMPT)).await.unwrap();
    sonic.audio_start("mic");
    sonic.text("late-history", "ASSISTANT", false, "Hello John.");
    let error = sonic.error().await;
    let service = error.as_service_error().expect("a service error");
    assert!(service.is_validation_exception());
    assert_eq!(
        service.message(),
        Some("Chat history should be sent completely before streaming audio.")
    );

    // Anything before sessionStart.
    let first = vec![("promptStart", json!({"promptName": "p1"}))];
    let mut sonic = Sonic::open_with(&client, SONIC, first).await.unwrap();
    let error = sonic.error().await;
    assert!(error.as_service_error().unwrap().is_validation_exception());

    // An event that is not JSON of a known event.
    let mut sonic = Sonic::open(&client, SONIC, None).await.unwrap();
    sonic.send("danceStart", json!({}));
    let error = sonic.error().await;
    assert!(error.as_service_error().unwrap().is_validation_exception());
    mock.stop().await;
}

#[tokio::test]
async fn the_eight_minute_limit_is_divided_by_the_time_scale() {
    // 8 minutes / 480 = 1 second.
    let mock = mock(480.0).await;
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, SONIC, Some(PROMPT)).await.unwrap();
    let error = sonic.error().await;
    let service = error.as_service_error().expect("a service error");
    assert!(service.is_model_timeout_exception(), "{service:?}");
    assert_eq!(
        service.message(),
        Some("Model has timed out in processing the request. Try your request again.")
    );
    assert!(
        sonic.next().await.unwrap().is_none(),
        "the stream ends after the timeout"
    );
    assert_eq!(mock.streams()[0].state, StreamState::TimedOut);
    mock.stop().await;
}

#[tokio::test]
async fn model_timeout_and_latency_faults() {
    let mock = mock(1.0).await;
    mock.add_fault(FaultRule::once(BedrockFault::ModelTimeout {
        after_ms: 300,
    }));
    let client = bedrock_client(&mock.base_url());
    let mut sonic = Sonic::open(&client, SONIC, Some(PROMPT)).await.unwrap();
    let error = sonic.error().await;
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_model_timeout_exception()
    );

    mock.add_fault(FaultRule::always(BedrockFault::Latency { ms: 400 }));
    let mut sonic = Sonic::open(&client, SONIC, Some(PROMPT)).await.unwrap();
    let asked = Instant::now();
    sonic.text("q", "USER", true, "Who is Sarah?");
    let user_seen = sonic.until("textOutput").await;
    assert_eq!(texts(&user_seen, "USER"), ["Who is Sarah?"]);
    let speculative = sonic.until("textOutput").await;
    assert!(
        asked.elapsed() >= Duration::from_millis(400),
        "the assistant speaks only after the injected latency"
    );
    assert_eq!(
        texts(&speculative, "ASSISTANT"),
        ["Sarah is your daughter."]
    );

    let (status, _) = http(&mock.base_url(), "DELETE", "/_mock/bedrock/faults", None).await;
    assert_eq!(status, 204);
    let mut sonic = ask(&mock).await;
    let turn = sonic.until("usageEvent").await;
    assert!(turn.iter().any(|e| name(e) == "audioOutput"));
    mock.stop().await;
}
