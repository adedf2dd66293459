//! generateContent over real HTTP: bearer auth, the assessment's exact
//! shape, deterministic bands, the invalid_assessment and throttle faults,
//! and Google-shaped errors.

use crate::common::*;
use mocks::vertex::{FaultRule, InvalidAssessmentVariant, VertexFault};
use serde_json::{Value, json};

const TRANSCRIPT: &str = "TASK: ielts_speaking_assessment\nReturn JSON only.\nTRANSCRIPT:\n\
    Examiner: Could you tell me your full name, please?\n\
    Candidate: My name is Ana Silva.\n\
    Examiner: Do you live in a house or an apartment?\n\
    Candidate: I live in an apartment in Lisbon, which is close to the river, because my \
    family moved there when I was young. However, I would prefer a house with a garden.\n\
    Examiner: Describe a useful skill you have learned.\n\
    Candidate: Um, I learned to cook when I was a student. Cooking is useful because it \
    saves money and, moreover, it is healthier than eating out.\n";

fn path(region: &str, version: &str, model: &str) -> String {
    format!(
        "/regions/{region}/{version}/projects/{PROJECT}/locations/{region}/publishers/google/models/{model}:generateContent"
    )
}

fn request(text: &str, json_response: bool) -> String {
    let mut body = json!({
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "systemInstruction": {"parts": [{"text": "You are an IELTS examiner."}]},
        "generationConfig": {"temperature": 0.0},
    });
    if json_response {
        body["generationConfig"]["responseMimeType"] = json!("application/json");
        body["generationConfig"]["responseSchema"] = json!({"type": "OBJECT"});
    }
    body.to_string()
}

async fn post(
    mock: &mocks::vertex::VertexMock,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let authorization = bearer.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(value) = &authorization {
        headers.push(("authorization", value));
    }
    let (status, body) = http(&mock.base_url(), "POST", path, &headers, body).await;
    (status, json_of(&body))
}

fn answer_text(response: &Value) -> &str {
    response["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap()
}

#[tokio::test]
async fn thinking_off_reports_no_thinking_tokens() {
    let mock = start_vertex(1.0).await;
    let token = token(&mock);
    let route = path("europe-west1", "v1", "gemini-2.5-flash");
    let mut body: Value = serde_json::from_str(&request(TRANSCRIPT, true)).unwrap();
    body["generationConfig"]["thinkingConfig"] = json!({"thinkingBudget": 0});
    let (status, response) = post(&mock, &route, Some(&token), &body.to_string()).await;
    assert_eq!(status, 200, "{response}");
    let usage = &response["usageMetadata"];
    assert!(usage.get("thoughtsTokenCount").is_none(), "{usage}");
    assert_eq!(mock.usage().tokens.thinking_tokens, 0);
    body["generationConfig"]["thinkingConfig"] = json!({"thinkingBudget": 100});
    let (_, response) = post(&mock, &route, Some(&token), &body.to_string()).await;
    let thoughts = response["usageMetadata"]["thoughtsTokenCount"].as_u64();
    assert!(thoughts.is_some_and(|t| t > 0 && t <= 100), "{response}");
    assert_eq!(Some(mock.usage().tokens.thinking_tokens), thoughts);
    mock.stop().await;
}

#[tokio::test]
async fn assessments_have_the_exact_shape_and_are_deterministic() {
    let mock = start_vertex(1.0).await;
    let token = token(&mock);
    let route = path("europe-west1", "v1", "gemini-2.5-flash");
    let (status, response) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    assert_eq!(status, 200, "{response}");
    let candidate = &response["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(candidate["index"], 0);
    assert_eq!(response["modelVersion"], "gemini-2.5-flash");
    assert!(response["responseId"].is_string());
    let usage = &response["usageMetadata"];
    assert!(usage["promptTokenCount"].as_u64().unwrap() > 50);
    // gemini-2.5-flash thinks by default (no thinkingConfig): its thinking
    // tokens are reported apart and counted in the total, as Vertex does.
    let thoughts = usage["thoughtsTokenCount"].as_u64().unwrap();
    assert_eq!(
        Some(thoughts),
        mocks::token_rules::built_in(mocks::token_rules::Provider::Vertex)
            .mock_dynamic_thinking_tokens
    );
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        usage["promptTokenCount"].as_u64().unwrap()
            + usage["candidatesTokenCount"].as_u64().unwrap()
            + thoughts
    );
    assert_eq!(usage["promptTokensDetails"][0]["modality"], "TEXT");

    let assessment: Value = serde_json::from_str(answer_text(&response)).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&assessment),
        ["criteria", "improvement_plan", "overall_feedback"]
    );
    assert_eq!(
        keys(&assessment["criteria"]),
        [
            "fluency_and_coherence",
            "grammatical_range_and_accuracy",
            "lexical_resource",
            "pronunciation"
        ]
    );
    for (name, criterion) in assessment["criteria"].as_object().unwrap() {
        assert_eq!(keys(criterion), ["band", "feedback"], "{name}");
        let band = criterion["band"].as_f64().unwrap();
        assert!(
            (0.0..=9.0).contains(&band) && (band * 2.0).fract() == 0.0,
            "{name}: {band}"
        );
        assert!(band > 0.0, "{name}");
    }
    assert!(assessment["overall_feedback"].is_string());
    let plan = assessment["improvement_plan"].as_array().unwrap();
    assert!(!plan.is_empty());
    for item in plan {
        assert_eq!(keys(item), ["action", "focus", "practice"]);
    }

    let beta = path("europe-west1", "v1beta1", "gemini-2.5-flash");
    let (_, again) = post(&mock, &beta, Some(&token), &request(TRANSCRIPT, true)).await;
    assert_eq!(answer_text(&again), answer_text(&response), "deterministic");

    let (status, plain) = post(&mock, &route, Some(&token), &request("Say hello.", false)).await;
    assert_eq!(status, 200);
    assert!(answer_text(&plain).contains("deterministic answer"));
    assert_eq!(mock.usage().generate_content_calls, 3);
    mock.stop().await;
}

#[tokio::test]
async fn faults_break_the_assessment_or_throttle() {
    let mock = start_vertex(1.0).await;
    let token = token(&mock);
    let route = path("us-central1", "v1", "gemini-2.5-flash");

    mock.set_fault(FaultRule::next(VertexFault::InvalidAssessment {
        variant: InvalidAssessmentVariant::MissingCriterion,
    }));
    let (_, response) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    let assessment: Value = serde_json::from_str(answer_text(&response)).unwrap();
    assert_eq!(assessment["criteria"].as_object().unwrap().len(), 3);

    mock.set_fault(FaultRule::next(VertexFault::InvalidAssessment {
        variant: InvalidAssessmentVariant::BandOutOfRange,
    }));
    let (_, response) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    let assessment: Value = serde_json::from_str(answer_text(&response)).unwrap();
    let bands: Vec<f64> = assessment["criteria"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["band"].as_f64().unwrap())
        .collect();
    assert!(bands.contains(&11.0), "{bands:?}");

    let (_, response) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    let assessment: Value = serde_json::from_str(answer_text(&response)).unwrap();
    assert_eq!(
        assessment["criteria"].as_object().unwrap().len(),
        4,
        "used once"
    );

    mock.set_fault(FaultRule::next(VertexFault::Throttle).in_region("us-central1"));
    let (status, error) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    assert_eq!(status, 429);
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["error"]["code"], 429);
    let (status, _) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    assert_eq!(status, 200);

    // A slow answer comes, late.
    mock.set_fault(FaultRule::next(VertexFault::SlowAnswer { ms: 400 }));
    let asked = std::time::Instant::now();
    let (status, _) = post(&mock, &route, Some(&token), &request(TRANSCRIPT, true)).await;
    assert_eq!(status, 200);
    assert!(asked.elapsed() >= std::time::Duration::from_millis(400));
    mock.stop().await;
}

#[tokio::test]
async fn errors_have_google_shape() {
    let mock = start_vertex(1.0).await;
    let token = token(&mock);
    let route = path("us-central1", "v1", "gemini-2.5-flash");
    let body = request("hi", false);

    let (status, error) = post(&mock, &route, None, &body).await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let (status, error) = post(&mock, &route, Some(&token), "{not json").await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );
    let (status, _) = post(&mock, &route, Some(&token), r#"{"contents": []}"#).await;
    assert_eq!(status, 400);
    let mut bad_budget: Value = serde_json::from_str(&body).unwrap();
    bad_budget["generationConfig"]["thinkingConfig"] = json!({"thinkingBudget": "lots"});
    let (status, error) = post(&mock, &route, Some(&token), &bad_budget.to_string()).await;
    assert_eq!(status, 400);
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("thinking_budget"), "{message}");
    let unknown = path("us-central1", "v1", "gemini-0.1-nonexistent");
    let (status, error) = post(&mock, &unknown, Some(&token), &body).await;
    assert_eq!(
        (status, error["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    // A retired model is refused as Vertex refuses it: the same 404, which
    // names the model-versions page.
    let retired = path("us-central1", "v1", "gemini-2.0-flash-001");
    let (status, error) = post(&mock, &retired, Some(&token), &body).await;
    assert_eq!(status, 404);
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("models/gemini-2.0-flash-001` was not found")
            && message.contains("learn/model-versions"),
        "{message}"
    );
    let live_model = path("us-central1", "v1", "gemini-live-2.5-flash-native-audio");
    assert_eq!(
        post(&mock, &live_model, Some(&token), &body).await.0,
        404,
        "a Live model does not serve generateContent"
    );
    let wrong_method = route.replace(":generateContent", ":explode");
    assert_eq!(post(&mock, &wrong_method, Some(&token), &body).await.0, 404);
    let other_location = route.replace("locations/us-central1", "locations/europe-west1");
    assert_eq!(
        post(&mock, &other_location, Some(&token), &body).await.0,
        400
    );
    assert_eq!(mock.usage().generate_content_calls, 0);
    mock.stop().await;
}

#[tokio::test]
async fn the_key_files_token_uri_exchanges_an_assertion_for_an_access_token() {
    let mock = start_vertex(1.0).await;
    let key_json: Value = serde_json::from_str(&mock.service_account_json()).unwrap();
    let token_uri = key_json["token_uri"].as_str().unwrap().to_owned();
    assert_eq!(token_uri, format!("{}/token", mock.base_url()));
    let key = Key::from_json(&mock.service_account_json());
    let now = now();
    let claims = json!({
        "iss": key.email, "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": token_uri, "iat": now, "exp": now + 3600,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.pem.as_bytes()).unwrap();
    let assertion = jsonwebtoken::encode(&header, &claims, &signing_key).unwrap();
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    let form_type = [("content-type", "application/x-www-form-urlencoded")];
    let (status, body) = http(&mock.base_url(), "POST", "/token", &form_type, &form).await;
    assert_eq!(status, 200, "{body}");
    let granted = json_of(&body);
    assert_eq!(granted["token_type"], "Bearer");
    assert!(granted["expires_in"].as_u64().unwrap() > 3000);
    let access_token = granted["access_token"].as_str().unwrap().to_owned();
    assert!(access_token.starts_with("ya29."));

    let route = path("us-central1", "v1", "gemini-2.5-flash");
    let (status, _) = post(&mock, &route, Some(&access_token), &request("hi", false)).await;
    assert_eq!(status, 200);
    let mut ws = connect_with(&mock, "us-central1", Some(&access_token))
        .await
        .unwrap();
    start_session(&mut ws, "us-central1", json!({})).await;
    let (status, _) = post(
        &mock,
        &route,
        Some("ya29.mock-forged"),
        &request("hi", false),
    )
    .await;
    assert_eq!(status, 401);

    let elsewhere = form.replace("jwt-bearer", "client-credentials");
    let (status, body) = http(&mock.base_url(), "POST", "/token", &form_type, &elsewhere).await;
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (400, json!("unsupported_grant_type"))
    );
    let wrong_audience = jsonwebtoken::encode(
        &header,
        &json!({"iss": key.email, "scope": "https://www.googleapis.com/auth/cloud-platform",
                "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600}),
        &signing_key,
    )
    .unwrap();
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={wrong_audience}"
    );
    let (status, body) = http(&mock.base_url(), "POST", "/token", &form_type, &form).await;
    assert_eq!(
        (status, json_of(&body)["error"].clone()),
        (400, json!("invalid_grant"))
    );
    mock.stop().await;
}
