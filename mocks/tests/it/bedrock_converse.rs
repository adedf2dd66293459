//! Converse and InvokeModel (Nova Micro) through the real SDK client against
//! the Bedrock mock: writing assessment JSON for Task 1 and Task 2, feedback,
//! chat replies, usage, and every error type.

use crate::aws_common::bedrock_client;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_bedrockruntime::operation::converse::{ConverseError, ConverseOutput};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, StopReason, SystemContentBlock,
};
use mocks::bedrock::{BedrockConfig, BedrockFault, BedrockMock, FaultRule, FaultTarget};
use serde_json::{Value, json};

/// Whether a Converse error is the expected exception.
type IsExpected = fn(&ConverseError) -> bool;

const MICRO: &str = "amazon.nova-micro-v1:0";
const MICRO_PROFILE: &str = "us.amazon.nova-micro-v1:0";

const SYSTEM: &str =
    "You are an IELTS examiner. Reply with JSON only.\nTASK: ielts_writing_assessment";

fn essay(sentences: &[&str], words: usize) -> String {
    let mut text = String::new();
    let mut count = 0;
    let mut i = 0;
    while count < words {
        let sentence = sentences[i % sentences.len()];
        count += sentence.split_whitespace().count();
        text.push_str(sentence);
        text.push_str(if i % 4 == 3 { "\n\n" } else { " " });
        i += 1;
    }
    text
}

const TASK1: &[&str] = &[
    "The chart illustrates how household energy use changed between 1990 and 2020.",
    "Overall, consumption of gas rose steadily, whereas coal declined sharply.",
    "In 1990, coal accounted for roughly forty percent of the total, which was the largest share.",
    "However, by 2020 this figure had fallen to under ten percent because cleaner fuels became cheaper.",
    "Similarly, renewable sources grew from almost nothing to a quarter of all consumption.",
];

const TASK2: &[&str] = &[
    "Some people believe that governments should invest more in public transport than in roads.",
    "Although private cars offer flexibility, they cause congestion and pollution in growing cities.",
    "Firstly, efficient buses and trains reduce journey times for millions of commuters every day.",
    "Moreover, public investment creates jobs, which benefits the wider economy when budgets are tight.",
    "Nevertheless, rural communities still depend on roads, since trains rarely reach remote villages.",
    "In conclusion, I believe a balanced approach is best, therefore both should receive funding.",
];

async fn converse(
    client: &Client,
    model: &str,
    system: &str,
    user: &str,
    max_tokens: Option<i32>,
) -> Result<ConverseOutput, SdkError<ConverseError>> {
    let mut request = client
        .converse()
        .model_id(model)
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(user.to_owned()))
                .build()
                .unwrap(),
        )
        .inference_config(
            InferenceConfiguration::builder()
                .set_max_tokens(max_tokens)
                .temperature(0.2)
                .build(),
        );
    if !system.is_empty() {
        request = request.system(SystemContentBlock::Text(system.to_owned()));
    }
    request.send().await
}

fn reply_text(output: &ConverseOutput) -> String {
    let message = output.output().unwrap().as_message().unwrap();
    assert_eq!(message.role(), &ConversationRole::Assistant);
    message.content()[0].as_text().unwrap().clone()
}

fn check_assessment(assessment: &Value, first: &str, other: &str) {
    let criteria = [
        first,
        "coherence_and_cohesion",
        "lexical_resource",
        "grammatical_range_and_accuracy",
    ];
    let scores = assessment["criteria_scores"].as_object().unwrap();
    assert_eq!(scores.len(), 4, "{assessment}");
    assert!(!scores.contains_key(other));
    for key in criteria {
        let band = scores[key].as_f64().unwrap();
        assert!(
            (0.0..=9.0).contains(&band) && (band * 2.0).fract() == 0.0,
            "{key}: {band}"
        );
        assert!(
            !assessment["detailed_feedback"][key]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let mean = criteria
        .iter()
        .map(|k| scores[*k].as_f64().unwrap())
        .sum::<f64>()
        / 4.0;
    assert_eq!(
        assessment["overall_band"].as_f64().unwrap(),
        (mean * 2.0).round() / 2.0
    );
}

#[tokio::test]
async fn writing_assessment_json_for_task1_and_task2() {
    let mock = BedrockMock::start(BedrockConfig::default()).await.unwrap();
    let client = bedrock_client(&mock.base_url());

    let user = format!("TASK_TYPE: academic_task1\nESSAY:\n{}", essay(TASK1, 170));
    let output = converse(&client, MICRO, SYSTEM, &user, Some(2000))
        .await
        .unwrap();
    let text = reply_text(&output);
    assert!(!text.contains("```"), "no markdown fences");
    let task1: Value = serde_json::from_str(&text).expect("the reply is JSON");
    check_assessment(&task1, "task_achievement", "task_response");
    assert_eq!(output.stop_reason(), &StopReason::EndTurn);
    let usage = output.usage().unwrap();
    assert_eq!(
        usage.total_tokens(),
        usage.input_tokens() + usage.output_tokens()
    );
    assert!(output.metrics().is_some());

    let long = format!("TASK_TYPE: general_task2\nESSAY:\n{}", essay(TASK2, 280));
    let short = format!("TASK_TYPE: general_task2\nESSAY:\n{}", essay(TASK2, 90));
    let long: Value = serde_json::from_str(&reply_text(
        &converse(&client, MICRO_PROFILE, SYSTEM, &long, None)
            .await
            .unwrap(),
    ))
    .unwrap();
    let short: Value = serde_json::from_str(&reply_text(
        &converse(&client, MICRO_PROFILE, SYSTEM, &short, None)
            .await
            .unwrap(),
    ))
    .unwrap();
    check_assessment(&long, "task_response", "task_achievement");
    check_assessment(&short, "task_response", "task_achievement");
    assert!(
        short["criteria_scores"]["task_response"].as_f64()
            < long["criteria_scores"]["task_response"].as_f64(),
        "an essay under 250 words scores lower on task response"
    );
    assert!(
        short["detailed_feedback"]["task_response"]
            .as_str()
            .unwrap()
            .contains("at least 250")
    );

    let usage = mock.usage();
    assert_eq!(usage[MICRO].requests, 1);
    assert_eq!(usage[MICRO_PROFILE].requests, 2);
    assert_eq!(
        usage[MICRO].input_tokens,
        output.usage().unwrap().input_tokens() as u64
    );
    mock.stop().await;
}

#[tokio::test]
async fn chat_and_feedback_replies() {
    let mock = BedrockMock::start(BedrockConfig::default()).await.unwrap();
    let client = bedrock_client(&mock.base_url());
    let chat = converse(
        &client,
        MICRO,
        "You are a helpful chat assistant.",
        "Hello",
        None,
    )
    .await
    .unwrap();
    assert!(reply_text(&chat).contains("\"Hello\""));
    let feedback = converse(
        &client,
        "amazon.nova-lite-v1:0",
        "TASK: listening_feedback",
        "SCORE: 27/40",
        None,
    )
    .await
    .unwrap();
    assert!(reply_text(&feedback).contains("27 of 40"));
    let truncated = converse(
        &client,
        MICRO,
        "",
        "Tell me everything about IELTS",
        Some(2),
    )
    .await
    .unwrap();
    assert_eq!(truncated.stop_reason(), &StopReason::MaxTokens);
    assert_eq!(truncated.usage().unwrap().output_tokens(), 2);
    mock.stop().await;
}

#[tokio::test]
async fn invoke_model_with_the_native_nova_body() {
    let mock = BedrockMock::start(BedrockConfig::default()).await.unwrap();
    let client = bedrock_client(&mock.base_url());
    let body = json!({
        "schemaVersion": "messages-v1",
        "system": [{"text": SYSTEM}],
        "messages": [{"role": "user", "content": [{"text":
            format!("TASK_TYPE: academic_task2\nESSAY:\n{}", essay(TASK2, 260))}]}],
        "inferenceConfig": {"max_new_tokens": 1500, "temperature": 0.3}
    });
    let output = client
        .invoke_model()
        .model_id(MICRO)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(body.to_string()))
        .send()
        .await
        .unwrap();
    let response: Value = serde_json::from_slice(output.body().as_ref()).unwrap();
    assert_eq!(response["stopReason"], "end_turn");
    assert_eq!(response["output"]["message"]["role"], "assistant");
    let text = response["output"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap();
    check_assessment(
        &serde_json::from_str(text).unwrap(),
        "task_response",
        "task_achievement",
    );
    let usage = &response["usage"];
    assert_eq!(
        usage["totalTokens"].as_u64().unwrap(),
        usage["inputTokens"].as_u64().unwrap() + usage["outputTokens"].as_u64().unwrap()
    );

    let error = client
        .invoke_model()
        .model_id(MICRO)
        .content_type("application/json")
        .body(Blob::new("not json"))
        .send()
        .await
        .unwrap_err();
    assert!(error.as_service_error().unwrap().is_validation_exception());
    mock.stop().await;
}

#[tokio::test]
async fn every_error_type() {
    let mock = BedrockMock::start(BedrockConfig {
        denied_models: vec!["amazon.nova-pro-v1:0".into()],
        ..BedrockConfig::default()
    })
    .await
    .unwrap();
    let client = bedrock_client(&mock.base_url());

    let error = converse(&client, "amazon.nova-pro-v1:0", "", "Hi", None)
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_access_denied_exception()
    );
    let error = converse(&client, "amazon.titan-text-v9", "", "Hi", None)
        .await
        .unwrap_err();
    assert!(error.as_service_error().unwrap().is_validation_exception());
    let error = converse(&client, MICRO, "", "Hi", Some(20_000))
        .await
        .unwrap_err();
    let service = error.as_service_error().unwrap();
    assert!(service.is_validation_exception());
    assert!(service.message().unwrap().contains("1 to 10000"));
    let error = client.converse().model_id(MICRO).send().await.unwrap_err();
    assert!(
        error.as_service_error().unwrap().is_validation_exception(),
        "no messages"
    );

    let faults: [(BedrockFault, IsExpected); 5] = [
        (
            BedrockFault::AccessDenied,
            ConverseError::is_access_denied_exception,
        ),
        (
            BedrockFault::Throttling {
                before_stream: false,
            },
            ConverseError::is_throttling_exception,
        ),
        (
            BedrockFault::Validation {
                before_stream: false,
            },
            ConverseError::is_validation_exception,
        ),
        (
            BedrockFault::InternalError {
                before_stream: false,
            },
            ConverseError::is_internal_server_exception,
        ),
        (
            BedrockFault::ModelTimeout { after_ms: 10 },
            ConverseError::is_model_timeout_exception,
        ),
    ];
    for (fault, expected) in faults {
        mock.add_fault(FaultRule::once(fault.clone()).on(FaultTarget::Converse));
        let error = converse(&client, MICRO, "", "Hi", None).await.unwrap_err();
        let service = error.as_service_error().expect("a service error");
        assert!(expected(service), "{fault:?}: {service:?}");
        assert!(
            converse(&client, MICRO, "", "Hi", None).await.is_ok(),
            "next call only"
        );
    }
    // A stream-only fault leaves Converse alone.
    mock.add_fault(
        FaultRule::always(BedrockFault::Throttling {
            before_stream: true,
        })
        .on(FaultTarget::Stream),
    );
    assert!(converse(&client, MICRO, "", "Hi", None).await.is_ok());
    mock.stop().await;
}
