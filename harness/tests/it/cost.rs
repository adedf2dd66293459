//! Cost from metered usage: the DynamoDB metering proxy against the real
//! DynamoDB Local with the real SDK (units read and summed, the figure taken
//! out of answers whose caller did not ask, checksums that still verify,
//! injected throttling), and a speaking session on the local stack priced
//! end to end (components that add up, DynamoDB units equal to what the
//! proxy saw, `harness cost` working from the saved report alone, and the
//! same report priced as a staging estimate).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::*;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, DeleteRequest, KeySchemaElement, KeyType,
    ReturnConsumedCapacity, ScalarAttributeType, WriteRequest,
};
use harness::cost::estimate::{EstimateSettings, observed_usage};
use harness::cost::pricing::PricingTable;
use harness::cost::usage::UsageSource;
use harness::cost::{CostOptions, assess, service_total};
use harness::dynamodb::local::{DynamoDbLocal, cache_dir, install};
use harness::dynamodb::meter::{FaultHook, InjectedFault, MeteringProxy, RequestFacts};
use harness::replay::{self, RunOptions, Target};
use harness::report::model::{CostTable, RunReport};
use harness::scenario;
use harness::template::{self, LoadOptions};
use harness::time_scale::TimeScale;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TABLE: &str = "cost-meter-test";

async fn create_table(client: &Client) {
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S("1".to_owned())),
    ])
}

/// Throttles every PutItem while armed, counting what it intercepted.
#[derive(Debug, Default)]
struct ThrottlePuts {
    seen: AtomicU64,
}

impl FaultHook for ThrottlePuts {
    fn intercept(&self, request: &RequestFacts<'_>) -> Option<InjectedFault> {
        (request.operation == "PutItem" && request.table == Some(TABLE)).then(|| {
            self.seen.fetch_add(1, Ordering::Relaxed);
            InjectedFault::throughput_exceeded()
        })
    }
}

/// A raw HTTP/1.1 POST through the proxy: (headers, body).
async fn raw_post(endpoint: &str, target: &str, body: &str) -> (String, Vec<u8>) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: DynamoDB_20120810.{target}\r\n\
         Content-Type: application/x-amz-json-1.0\r\nAuthorization: AWS4-HMAC-SHA256 \
         Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, \
         Signature=00\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_lowercase();
    (head, answer[split + 4..].to_vec())
}

#[tokio::test]
async fn the_metering_proxy_meters_dynamodb_local_without_the_sdk_noticing() {
    let installation = install(&cache_dir())
        .await
        .expect("DynamoDB Local installed");
    let dynamodb = DynamoDbLocal::start(&installation)
        .await
        .expect("DynamoDB Local starts");
    let direct = harness::dynamodb::client(dynamodb.endpoint(), "us-east-1").await;
    create_table(&direct).await;
    let proxy = MeteringProxy::start(dynamodb.endpoint()).await.unwrap();
    let sdk = harness::dynamodb::client(&proxy.endpoint(), "us-east-1").await;

    // A caller that does not ask gets no ConsumedCapacity...
    let small = sdk
        .put_item()
        .table_name(TABLE)
        .set_item(Some(key("a")))
        .send()
        .await
        .unwrap();
    assert!(small.consumed_capacity().is_none());
    // ...and one that asks gets DynamoDB's own figure: 6,007 bytes, 6 WRU.
    let mut large = key("b");
    large.insert(
        "audio".to_owned(),
        AttributeValue::B(Blob::new(vec![0u8; 6000])),
    );
    let asked = sdk
        .put_item()
        .table_name(TABLE)
        .set_item(Some(large))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(
        asked.consumed_capacity().unwrap().capacity_units(),
        Some(6.0)
    );
    // A strongly consistent Query of a 6 KB item: 2 RRU; one that finds nothing: 0 reported.
    let found = sdk
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("b".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(found.count(), 1);
    assert!(found.consumed_capacity().is_none());
    let empty = sdk
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", AttributeValue::S("nobody".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.count(), 0);
    // A write refused by its condition.
    let refused = sdk
        .put_item()
        .table_name(TABLE)
        .set_item(Some(key("c")))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        refused.is_conditional_check_failed_exception(),
        "{refused:?}"
    );
    // A batch delete of both items: 6 + 1 WRU, answered as a list.
    let deletes = ["a", "b"].map(|pk| {
        WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .set_key(Some(key(pk)))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let batch = sdk
        .batch_write_item()
        .request_items(TABLE, deletes.to_vec())
        .send()
        .await
        .unwrap();
    assert!(batch.consumed_capacity().is_empty());
    // Control-plane calls pass through unmetered.
    sdk.describe_table().table_name(TABLE).send().await.unwrap();

    let reading = proxy.reading();
    let entry = |operation: &str| {
        reading
            .tables
            .iter()
            .find(|t| t.table == TABLE && t.operation == operation)
            .unwrap_or_else(|| panic!("no {operation} in {reading:?}"))
            .clone()
    };
    let puts = entry("PutItem");
    assert_eq!((puts.requests, puts.write_units), (3, 7.0));
    assert_eq!(puts.conditional_check_failures, 1);
    let queries = entry("Query");
    assert_eq!((queries.requests, queries.read_units), (2, 2.0));
    assert_eq!(
        (queries.empty_reads_strong, queries.empty_reads_eventual),
        (1, 0)
    );
    assert_eq!(entry("BatchWriteItem").write_units, 7.0);
    let summed: f64 = reading
        .tables
        .iter()
        .map(|t| t.read_units + t.write_units)
        .sum();
    assert_eq!(reading.reported_capacity_units, 16.0);
    assert_eq!(summed, reading.reported_capacity_units);

    // The checksum the SDK may verify matches the rewritten body.
    let (head, body) = raw_post(
        &proxy.endpoint(),
        "GetItem",
        &format!(r#"{{"TableName":"{TABLE}","Key":{{"pk":{{"S":"zz"}},"sk":{{"S":"1"}}}}}}"#),
    )
    .await;
    assert_eq!(body, b"{}", "the figure is taken out");
    let crc = crc32fast::hash(&body);
    assert!(head.contains(&format!("x-amz-crc32: {crc}")), "{head}");
    assert!(head.contains("content-length: 2"), "{head}");

    // Injected throttling reaches the SDK as DynamoDB's own error.
    let hook = Arc::new(ThrottlePuts::default());
    proxy.set_fault_hook(Some(hook.clone()));
    let throttled = sdk
        .put_item()
        .table_name(TABLE)
        .set_item(Some(key("d")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        throttled.is_provisioned_throughput_exceeded_exception(),
        "{throttled:?}"
    );
    let attempts = hook.seen.load(Ordering::Relaxed);
    assert!(attempts >= 1);
    assert_eq!(
        proxy
            .reading()
            .tables
            .iter()
            .map(|t| t.injected)
            .sum::<u64>(),
        attempts
    );
    proxy.set_fault_hook(None);
    sdk.put_item()
        .table_name(TABLE)
        .set_item(Some(key("d")))
        .send()
        .await
        .expect("no fault once the hook is removed");

    proxy.stop().await;
    dynamodb.stop().await;
}

fn run_options(time_scale: f64) -> RunOptions {
    RunOptions {
        target: Target::Local(Box::new(streaming_options(time_scale))),
        time_scale: TimeScale::new(time_scale).unwrap(),
        sessions: None,
        spec_dir: workspace().join("backend/spec"),
        command: "cargo test -p harness --test it cost::".to_owned(),
        progress: false,
    }
}

fn quantity_of(table: &CostTable, service: &str, prefix: &str) -> f64 {
    table
        .lines
        .iter()
        .filter(|l| l.service == service && l.what.starts_with(prefix))
        .map(|l| l.quantity)
        .sum()
}

fn assert_adds_up(table: &CostTable) {
    let sum: f64 = table.lines.iter().map(|l| l.cost_usd).sum();
    assert!(
        (sum - table.total_usd).abs() < 1e-12,
        "{sum} vs {}",
        table.total_usd
    );
    for line in &table.lines {
        assert!(
            (line.quantity * line.unit_price_usd - line.cost_usd).abs() < 1e-12,
            "{line:?}"
        );
    }
}

#[tokio::test]
async fn a_speaking_session_is_priced_from_what_the_stack_metered() {
    let smoke = scenario::load(&workspace().join("scenarios/speaking/smoke.yaml")).unwrap();
    let report: RunReport = replay::run_scenarios(&[smoke], run_options(10.0))
        .await
        .unwrap();
    assert!(report.passed, "{:#?}", report.scenarios);
    let usage = report.usage.clone().expect("a local run is metered");
    assert_eq!(usage.source, UsageSource::Metered);
    assert_eq!(usage.sessions, 1);

    // What the client saw is what the gateway metered.
    let session = &report.scenarios[0].sessions[0];
    let api = &usage.websocket[0];
    assert_eq!(api.api, "SpeakingWebSocketApi");
    assert_eq!((api.connections, api.messages_in), (1, session.sent));
    assert_eq!(api.units_in, session.units_sent);
    assert_eq!(api.messages_out, session.received);
    assert!(api.connection_minutes > 0.0);
    // Every invocation is billed, the owner's session-long one included.
    let speaking = usage
        .lambda
        .iter()
        .find(|f| f.function == "SpeakingFunction")
        .unwrap();
    let invocations = report.stack.as_ref().unwrap().functions["SpeakingFunction"].invocations;
    assert_eq!(speaking.invocations, invocations);
    assert!(
        speaking.invocations >= session.sent + 2,
        "$connect, $disconnect, messages"
    );
    assert!(speaking.billed_duration_ms as f64 >= usage.session_seconds * 1000.0 * 0.5);
    assert!(usage.secrets_manager.calls >= 1);
    assert_eq!(
        usage.secrets_manager.secrets,
        ["gemini-vertex-ai-credentials"]
    );
    assert!(usage.models.iter().any(|m| m.audio_out_tokens > 0));

    // Priced as the run itself (no normalisation): the DynamoDB units on the
    // bill are exactly the ConsumedCapacity the proxy saw.
    let pricing = PricingTable::built_in().unwrap();
    let as_run = CostOptions {
        per_month: Some(1000),
        free_tiers: false,
        session_seconds: 0.0,
    };
    let cost = assess(&usage, &pricing, &as_run);
    assert_adds_up(&cost.per_session);
    assert_adds_up(&cost.per_month.as_ref().unwrap().table);
    let reported = usage.dynamodb.reported_capacity_units;
    assert!(reported > 0.0, "the relay and the sessions table were used");
    let billed = quantity_of(&cost.per_session, "DynamoDB", "read request units")
        + quantity_of(&cost.per_session, "DynamoDB", "write request units");
    assert!((billed - reported).abs() < 1e-9, "{billed} vs {reported}");
    let services: Vec<&str> = cost
        .per_session
        .lines
        .iter()
        .map(|l| l.service.as_str())
        .collect();
    for service in [
        "Lambda",
        "API Gateway",
        "DynamoDB",
        "Secrets Manager",
        "Vertex AI",
    ] {
        assert!(
            services.contains(&service),
            "{service} missing from {services:?}"
        );
        assert!(service_total(&cost.per_session, service) > 0.0, "{service}");
    }

    // `harness run` priced it already, normalised to 14 minutes.
    let default_cost = report.cost.clone().expect("harness run prices local runs");
    assert_eq!(default_cost.normalised_seconds, 840.0);
    assert!(default_cost.per_session.total_usd > cost.per_session.total_usd);
    let seed_000 = &default_cost.seed_comparisons[0];
    assert_eq!(seed_000.seed, "seed 000");
    assert!(seed_000.lines[0].arithmetic.starts_with("measured"));

    // Gemini Live turn by turn: the billed prompt tokens are the sum of the
    // turns' prompts, and a short run is projected to 14 minutes with the
    // context's growth, not scaled linearly.
    let live_usage = usage
        .live_turns
        .as_ref()
        .expect("the session had Live turns");
    let live_model = usage
        .models
        .iter()
        .find(|m| m.model == live_usage.model)
        .unwrap();
    assert!(live_usage.turns >= 2, "{live_usage:?}");
    assert_eq!(
        live_usage.prompt_tokens,
        live_model.audio_in_tokens + live_model.text_in_tokens
    );
    assert!(live_usage.prompt_audio.max as f64 >= live_usage.prompt_audio.mean);
    let live = default_cost
        .live
        .as_ref()
        .expect("the cost has a Live section");
    assert!(live.basis.starts_with("projected"), "{}", live.basis);
    let minutes: Vec<f64> = live.curve.iter().map(|p| p.minutes).collect();
    assert_eq!(minutes, [7.0, 14.0, 28.0]);
    assert_eq!(
        live_usage.compression,
        Some((16_000, 8_000)),
        "the backend sets the template's sliding window"
    );
    // The per-session lines are the projection with the run's sliding window.
    let fourteen = &live.compressed_curve[1];
    let of_live = |kind: &str| format!("{kind} ({})", live_usage.model);
    let billed_prompt = quantity_of(
        &default_cost.per_session,
        "Vertex AI",
        &of_live("audio input tokens"),
    ) + quantity_of(
        &default_cost.per_session,
        "Vertex AI",
        &of_live("text input tokens"),
    );
    assert!(
        (billed_prompt - fourteen.prompt_tokens).abs() < 1.0,
        "the per-session table carries the projection: {billed_prompt} vs {fourteen:?}"
    );
    assert!(live.curve[2].input_usd > 3.0 * live.curve[1].input_usd);
    assert!(live.compressed_curve[2].input_usd < live.curve[2].input_usd);
    assert!(
        default_cost
            .notes
            .iter()
            .any(|n| n.contains("Vertex input of one session")),
        "{:#?}",
        default_cost.notes
    );

    // The report, usage and cost included, matches its published JSON Schema.
    let schema = harness::report::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the report schema compiles");
    let instance = serde_json::to_value(&report).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    // `harness cost` works from the saved report alone.
    let dir = tempfile::tempdir().unwrap();
    let folder = harness::report::write(dir.path(), &report).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("cost")
        .arg(&folder)
        .args(["--per-month", "500", "--free-tiers"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("500 sessions a month (with free tiers)"),
        "{stdout}"
    );
    assert!(stdout.contains("seed 000"), "{stdout}");
    assert!(stdout.contains("Gemini Live ("), "{stdout}");
    let what_if = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("cost")
        .arg(&folder)
        .args(["--what-if", "minutes=20,turns=30"])
        .output()
        .unwrap();
    let curve = String::from_utf8_lossy(&what_if.stdout);
    assert!(what_if.status.success(), "{curve}");
    for row in ["7.0 min", "14.0 min", "20.0 min   30 turns", "28.0 min"] {
        assert!(curve.contains(row), "{row}: {curve}");
    }
    let saved = harness::report::read(&folder).unwrap();
    let saved_cost = saved.cost.unwrap();
    assert_eq!(saved_cost.per_month.as_ref().unwrap().sessions, 500);
    assert!((saved_cost.per_session.total_usd - default_cost.per_session.total_usd).abs() < 1e-12);
    let markdown = std::fs::read_to_string(folder.join("report.md")).unwrap();
    assert!(
        markdown.contains("## Cost") && markdown.contains("```mermaid"),
        "{markdown}"
    );

    // The same run seen from outside: an estimate from observed traffic.
    let mut remote = report.clone();
    remote.usage = None;
    remote.stack = None;
    remote.target = "wss://example.execute-api.us-east-1.amazonaws.com/production".to_owned();
    let template = template::load_file(&template(), &LoadOptions::default()).unwrap();
    let observed = observed_usage(&remote, &template, &EstimateSettings::default());
    assert_eq!(observed.source, UsageSource::Observed);
    let seen = &observed.websocket[0];
    assert_eq!(
        (seen.messages_in, seen.units_in),
        (api.messages_in, api.units_in)
    );
    let estimate = assess(&observed, &pricing, &as_run);
    assert!(estimate.estimate);
    assert_adds_up(&estimate.per_session);
    assert!(estimate.notes.iter().any(|n| n.contains("ESTIMATE")));
    let owner = observed
        .lambda
        .iter()
        .find(|f| f.function == "SpeakingFunction")
        .unwrap();
    assert_eq!(owner.invocations, session.sent + 2);
    assert!(owner.billed_duration_ms as f64 >= usage.session_seconds * 1000.0);
}
