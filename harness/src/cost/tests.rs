//! The cost model as a whole: lines add up to their totals, one session is
//! the run's share normalised to the reference length, a month is N
//! sessions with the free tiers on lines of their own, and no cost ever
//! falls when any usage grows.

use proptest::prelude::*;

use super::usage::{
    DynamoTableUsage, DynamoUsage, HttpApiUsage, LambdaUsage, ModelUsage, SecretsUsage, Usage,
    UsageSource, WebSocketUsage,
};
use super::*;
use crate::report::model::{CostReport, CostTable};

fn pricing() -> PricingTable {
    PricingTable::built_in().unwrap()
}

/// One 14-minute assessment's worth of the reference backend's usage.
fn assessment() -> Usage {
    let mut usage = Usage::empty(UsageSource::Metered, 1.0);
    usage.sessions = 1;
    usage.session_seconds = 840.0;
    usage.lambda = vec![LambdaUsage {
        function: "SpeakingFunction".to_owned(),
        memory_mb: 2048,
        architecture: "arm64".to_owned(),
        invocations: 2000,
        cold_starts: 2,
        billed_duration_ms: 900_000,
        billed_init_ms: 80,
        real_duration_ms: 900_000,
    }];
    usage.websocket = vec![WebSocketUsage {
        api: "SpeakingWebSocketApi".to_owned(),
        messages_in: 1996,
        units_in: 1996,
        messages_out: 400,
        units_out: 420,
        gateway_messages: 1,
        bytes_in: 20_000_000,
        bytes_out: 30_000_000,
        connections: 1,
        connection_minutes: 14.0,
    }];
    usage.dynamodb = DynamoUsage {
        tables: vec![DynamoTableUsage {
            table: "relay".to_owned(),
            operation: "Query".to_owned(),
            requests: 30_000,
            read_units: 4000.0,
            write_units: 0.0,
            empty_reads_strong: 28_000,
            empty_reads_eventual: 10,
            conditional_check_failures: 0,
        }],
        reported_capacity_units: 4000.0,
    };
    usage.secrets_manager = SecretsUsage {
        calls: 1,
        secrets: vec!["gemini-vertex-ai-credentials".to_owned()],
    };
    usage.models = vec![ModelUsage {
        provider: "Vertex AI".to_owned(),
        model: "gemini-live-2.5-flash-native-audio".to_owned(),
        requests: 1,
        audio_in_tokens: 15_000,
        audio_out_tokens: 9_000,
        text_in_tokens: 2_000,
        text_out_tokens: 500,
        thinking_tokens: 0,
    }];
    usage
}

fn adds_up(table: &CostTable) {
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

fn cost_of(table: &CostTable, what: &str) -> f64 {
    table
        .lines
        .iter()
        .filter(|l| l.what.starts_with(what))
        .map(|l| l.cost_usd)
        .sum()
}

#[test]
fn an_assessment_is_priced_line_by_line() {
    let report = assess(&assessment(), &pricing(), &CostOptions::default());
    let table = &report.per_session;
    adds_up(table);
    assert!(!report.estimate);
    assert_eq!(report.normalised_seconds, 840.0);
    // 900 s x 2 GB x arm64.
    let duration = cost_of(table, "duration (SpeakingFunction");
    assert!((duration - 1800.0 * 0.0000133334).abs() < 1e-12);
    // INIT is billed: 80 ms x 2 GB.
    let init = cost_of(table, "INIT");
    assert!((init - 0.16 * 0.0000133334).abs() < 1e-15);
    // 2,000 requests at $0.20 per million.
    assert!((cost_of(table, "requests") - 0.0004).abs() < 1e-15);
    // 2,416 WebSocket units at $1 per million, 14 minutes at $0.25 per million.
    assert!((service_total(table, "API Gateway") - (2416.0e-6 + 14.0 * 0.25e-6)).abs() < 1e-15);
    // Reported units plus the minimum reads DynamoDB Local leaves out.
    let dynamo = service_total(table, "DynamoDB");
    assert!((dynamo - (4000.0 + 28_000.0 + 5.0) * 0.125e-6).abs() < 1e-15);
    // Tokens at the Live native-audio prices.
    let vertex = service_total(table, "Vertex AI");
    let expected = (15_000.0 * 3.0 + 9_000.0 * 12.0 + 2_000.0 * 0.5 + 500.0 * 2.0) / 1e6;
    assert!((vertex - expected).abs() < 1e-15);
    assert_eq!(report.seed_comparisons.len(), 3);
}

#[test]
fn one_session_is_the_runs_share_normalised_to_14_minutes() {
    let mut two_short = assessment();
    // Two sessions of 7 minutes using what one 14-minute session used.
    two_short.sessions = 2;
    two_short.session_seconds = 840.0;
    let single = assess(&assessment(), &pricing(), &CostOptions::default());
    let report = assess(&two_short, &pricing(), &CostOptions::default());
    // Half the usage per session, scaled x2 to 14 minutes: the same figure.
    assert!((report.per_session.total_usd - single.per_session.total_usd).abs() < 1e-12);
    assert!(
        report.notes[0].contains("2 session(s) (mean 7:00"),
        "{}",
        report.notes[0]
    );

    let own_length = CostOptions {
        session_seconds: 0.0,
        ..CostOptions::default()
    };
    let unscaled = assess(&two_short, &pricing(), &own_length);
    assert_eq!(unscaled.normalised_seconds, 420.0);
    assert!((unscaled.per_session.total_usd * 2.0 - single.per_session.total_usd).abs() < 1e-12);
}

#[test]
fn a_month_is_n_sessions_plus_the_secrets_stored() {
    let report = assess(&assessment(), &pricing(), &CostOptions::default());
    let month = report.per_month.unwrap();
    adds_up(&month.table);
    assert_eq!(month.sessions, 1000);
    let secrets = cost_of(&month.table, "secrets read");
    assert!((secrets - 0.40).abs() < 1e-12);
    assert!((month.table.total_usd - 1000.0 * report.per_session.total_usd - 0.40).abs() < 1e-9);
}

#[test]
fn free_tiers_come_off_on_lines_of_their_own() {
    let options = CostOptions {
        per_month: Some(1000),
        free_tiers: true,
        ..CostOptions::default()
    };
    let month = assess(&assessment(), &pricing(), &options)
        .per_month
        .unwrap();
    adds_up(&month.table);
    // 1.8M GB-s of duration: 400,000 free; 2M requests: 1M free.
    let free_duration: f64 = month
        .table
        .lines
        .iter()
        .filter(|l| {
            l.what.starts_with("free tier: duration") || l.what.starts_with("free tier: INIT")
        })
        .map(|l| l.quantity)
        .sum();
    assert!((free_duration + 400_000.0).abs() < 1e-6);
    let free_requests = cost_of(&month.table, "free tier: requests");
    assert!((free_requests + 0.20).abs() < 1e-12);
    // DynamoDB on-demand has no free tier.
    assert!(
        !month
            .table
            .lines
            .iter()
            .any(|l| l.what.contains("free tier: read request"))
    );
    let without = assess(&assessment(), &pricing(), &CostOptions::default());
    assert!(month.table.total_usd < without.per_month.unwrap().table.total_usd);
}

#[test]
fn time_scaled_runs_show_the_lower_bound_of_lambda_duration() {
    let mut usage = assessment();
    usage.time_scale = 12.0;
    usage.lambda[0].real_duration_ms = 75_000;
    let report = assess(&usage, &pricing(), &CostOptions::default());
    let note = report
        .notes
        .iter()
        .find(|n| n.starts_with("SpeakingFunction:"))
        .expect("a lower-bound note");
    // 900 s and 75 s at 2 GB.
    assert!(
        note.contains("1800.0 GB-s") && note.contains("150.0 GB-s"),
        "{note}"
    );
}

#[test]
fn the_init_rule_comes_from_the_table() {
    let mut table = pricing();
    table.billing.lambda_init_billed = false;
    let report = assess(&assessment(), &table, &CostOptions::default());
    assert_eq!(cost_of(&report.per_session, "INIT"), 0.0);
}

#[test]
fn x86_functions_cost_more_per_gb_second() {
    let mut usage = assessment();
    let arm = assess(&usage, &pricing(), &CostOptions::default());
    usage.lambda[0].architecture = "x86_64".to_owned();
    let x86 = assess(&usage, &pricing(), &CostOptions::default());
    let ratio =
        service_total(&x86.per_session, "Lambda") / service_total(&arm.per_session, "Lambda");
    assert!(ratio > 1.2 && ratio < 1.26, "{ratio}");
}

#[test]
fn unpriced_models_are_named_in_the_notes() {
    let mut usage = assessment();
    usage.models[0].model = "gemini-live-9".to_owned();
    let report = assess(&usage, &pricing(), &CostOptions::default());
    assert_eq!(service_total(&report.per_session, "Vertex AI"), 0.0);
    assert!(report.notes.iter().any(|n| n.contains("gemini-live-9")));
}

#[test]
fn thinking_is_billed_at_the_rate_the_table_names() {
    let mut usage = assessment();
    usage.models.push(ModelUsage {
        provider: "Vertex AI".to_owned(),
        model: "gemini-2.5-flash".to_owned(),
        requests: 1,
        text_in_tokens: 1_000,
        text_out_tokens: 200,
        thinking_tokens: 512,
        ..ModelUsage::default()
    });
    let report = assess(&usage, &pricing(), &CostOptions::default());
    adds_up(&report.per_session);
    // gemini-2.5-flash bills thinking as text output: $2.50 per million
    // (one 14-minute session: the usage is the session's).
    let thinking = cost_of(&report.per_session, "thinking tokens (gemini-2.5-flash)");
    assert!((thinking - 512.0 * 2.50e-6).abs() < 1e-15, "{thinking}");

    // A table that does not say how thinking is billed leaves it unpriced, and says so.
    let unbilled = PricingTable::parse(
        &pricing::BUILT_IN.replace("thinking_billed_as = \"text_out\"\n", ""),
        "test",
    )
    .unwrap();
    let report = assess(&usage, &unbilled, &CostOptions::default());
    assert_eq!(cost_of(&report.per_session, "thinking tokens"), 0.0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("512 thinking tokens of gemini-2.5-flash")),
        "{:?}",
        report.notes
    ); // Where the prices and the token rules come from, unconfirmed parts named.
    let noted = |what: &str| report.notes.iter().any(|n| n.contains(what));
    assert!(
        noted("gemini-live-2.5-flash-native-audio prices: "),
        "{:?}",
        report.notes
    );
    assert!(noted("unconfirmed: Vertex AI's own pricing page"));
    assert!(noted(
        "Vertex AI audio tokens (as the mocks count them): 32 a second heard"
    ));
    assert!(
        !noted("Bedrock audio tokens"),
        "no Bedrock model in the run"
    );
}

#[test]
fn http_and_rest_apis_are_priced_by_kind() {
    let mut usage = assessment();
    usage.http_apis = vec![
        HttpApiUsage {
            api: "Http".to_owned(),
            kind: "http".to_owned(),
            requests: 10,
            units: 12,
            bytes_out: 0,
        },
        HttpApiUsage {
            api: "Rest".to_owned(),
            kind: "rest".to_owned(),
            requests: 10,
            units: 10,
            bytes_out: 0,
        },
    ];
    let table = assess(&usage, &pricing(), &CostOptions::default()).per_session;
    assert!((cost_of(&table, "HTTP API requests") - 12.0e-6).abs() < 1e-15);
    assert!((cost_of(&table, "REST API requests") - 35.0e-6).abs() < 1e-15);
}

fn usage_strategy() -> impl Strategy<Value = Usage> {
    (
        (0u64..5000, 0u64..2_000_000, 0u64..100, 0u64..5000),
        (0u64..5000, 0u64..5000, 0u64..100_000_000, 0.0f64..100.0),
        (
            0.0f64..10_000.0,
            0.0f64..10_000.0,
            0u64..50_000,
            0u64..50_000,
            0u64..100,
        ),
        (
            0u64..10,
            0u64..100_000,
            0u64..100_000,
            0u64..100_000,
            0u64..100_000,
        ),
    )
        .prop_map(|(lambda, socket, dynamo, other)| {
            let mut usage = assessment();
            let function = &mut usage.lambda[0];
            function.invocations = lambda.0;
            function.billed_duration_ms = lambda.1;
            function.cold_starts = lambda.2;
            function.billed_init_ms = lambda.3;
            let api = &mut usage.websocket[0];
            api.units_in = socket.0;
            api.units_out = socket.1;
            api.bytes_out = socket.2;
            api.connection_minutes = socket.3;
            let table = &mut usage.dynamodb.tables[0];
            table.read_units = dynamo.0;
            table.write_units = dynamo.1;
            table.empty_reads_strong = dynamo.2;
            table.empty_reads_eventual = dynamo.3;
            table.conditional_check_failures = dynamo.4;
            usage.secrets_manager.calls = other.0;
            let model = &mut usage.models[0];
            model.audio_in_tokens = other.1;
            model.audio_out_tokens = other.2;
            model.text_in_tokens = other.3;
            model.text_out_tokens = other.4;
            usage
        })
}

/// Grows one usage figure of `usage` (chosen by `which`) by `by`.
fn grow(usage: &mut Usage, which: usize, by: u32) {
    let by64 = u64::from(by);
    let byf = f64::from(by);
    match which {
        0 => usage.lambda[0].invocations += by64,
        1 => usage.lambda[0].billed_duration_ms += by64,
        2 => usage.lambda[0].billed_init_ms += by64,
        3 => usage.websocket[0].units_in += by64,
        4 => usage.websocket[0].units_out += by64,
        5 => usage.websocket[0].bytes_out += by64 * 1_000_000,
        6 => usage.websocket[0].connection_minutes += byf,
        7 => usage.dynamodb.tables[0].read_units += byf,
        8 => usage.dynamodb.tables[0].write_units += byf,
        9 => usage.dynamodb.tables[0].empty_reads_strong += by64,
        10 => usage.dynamodb.tables[0].empty_reads_eventual += by64,
        11 => usage.dynamodb.tables[0].conditional_check_failures += by64,
        12 => usage.secrets_manager.calls += by64,
        13 => usage.models[0].audio_in_tokens += by64,
        14 => usage.models[0].audio_out_tokens += by64,
        15 => usage.models[0].text_in_tokens += by64,
        _ => usage.models[0].text_out_tokens += by64,
    }
}

proptest! {
    #[test]
    fn cost_never_falls_when_usage_grows(
        usage in usage_strategy(),
        which in 0usize..17,
        by in 1u32..1_000_000,
        free_tiers in any::<bool>(),
        per_month in 1u64..100_000,
    ) {
        let options = CostOptions { per_month: Some(per_month), free_tiers, ..CostOptions::default() };
        let before = assess(&usage, &pricing(), &options);
        let mut grown = usage;
        grow(&mut grown, which, by);
        let after = assess(&grown, &pricing(), &options);
        prop_assert!(after.per_session.total_usd >= before.per_session.total_usd);
        let month = |r: &CostReport| r.per_month.as_ref().unwrap().table.total_usd;
        prop_assert!(month(&after) >= month(&before) - 1e-9);
        adds_up(&after.per_session);
        adds_up(&after.per_month.as_ref().unwrap().table);
    }
}
