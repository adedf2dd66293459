//! The local stack end to end with a real `lambda_runtime` binary (`ws-echo`)
//! behind the API Gateway WebSocket emulator: routing, two-way routes, the
//! management API through aws-sdk-apigatewaymanagement, handshake refusals,
//! event shapes, frame limits, timeouts, function timeouts and crashes.

use std::time::Duration;

use crate::support::*;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures_util::{SinkExt, StreamExt};
use harness::lambda::InvocationRecord;
use harness::replay::client::Handshake;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

const WAIT: Duration = Duration::from_secs(10);
const API: &str = "EchoWebSocketApi";

async fn management_client(endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
            "a", "b", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_apigatewaymanagement::Client::new(&config)
}

fn records_for(records: &[InvocationRecord], route: &str) -> Vec<InvocationRecord> {
    records
        .iter()
        .filter(|r| r.route.as_deref() == Some(route))
        .cloned()
        .collect()
}

fn event_of(record: &InvocationRecord) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(record.event.clone().expect("captured event"))
        .expect("event deserializes as ApiGatewayWebsocketProxyRequest")
}

#[tokio::test]
async fn routes_by_action_with_default_fallback_and_two_way_replies() {
    let stack = start(options(1.0)).await;
    let gateway = stack.websocket(API).unwrap();
    let mut socket = connect(&gateway.url()).await;

    send_json(&mut socket, json!({"action": "echo", "n": 1})).await;
    assert_eq!(
        next_json(&mut socket, WAIT).await,
        json!({"action": "echo", "n": 1})
    );

    send_json(&mut socket, json!({"action": "no_such_route"})).await;
    let reply = next_json(&mut socket, WAIT).await;
    assert_eq!(reply["type"], "default");
    assert_eq!(reply["route"], "$default");

    socket.send(Message::text("not json at all")).await.unwrap();
    let reply = next_json(&mut socket, WAIT).await;
    assert_eq!(reply["body"], "not json at all");

    send_json(&mut socket, json!({"action": "fail"})).await;
    let reply = next_json(&mut socket, WAIT).await;
    assert_eq!(reply["message"], "Internal server error");
    assert!(reply["connectionId"].is_string() && reply["requestId"].is_string());

    socket.send_close(None).await.unwrap();
    stack.stop().await;
}

#[tokio::test]
async fn management_api_post_get_delete_and_gone() {
    let stack = start(options(1.0)).await;
    let gateway = stack.websocket(API).unwrap();
    let client = management_client(&gateway.management_endpoint()).await;
    let mut socket = connect(&gateway.url()).await;

    // The function reads its own connection through the SDK.
    send_json(&mut socket, json!({"action": "info"})).await;
    let info = next_json(&mut socket, WAIT).await;
    assert_eq!(info["type"], "info");
    assert_eq!(info["info"]["source_ip"], "127.0.0.1");
    let connection_id = event_of(&records_for(&stack.lambda().records(), "$connect")[0])
        .request_context
        .connection_id
        .unwrap();

    // The test posts and reads through the SDK too (ids with + / = are URL-encoded by it).
    client
        .post_to_connection()
        .connection_id(&connection_id)
        .data(Blob::new(br#"{"hello":"from the SDK"}"#.to_vec()))
        .send()
        .await
        .expect("post");
    assert_eq!(
        next_json(&mut socket, WAIT).await,
        json!({"hello": "from the SDK"})
    );
    let got = client
        .get_connection()
        .connection_id(&connection_id)
        .send()
        .await
        .expect("get");
    assert!(got.connected_at().is_some() && got.last_active_at().is_some());
    assert_eq!(
        got.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    // Over 128 KB: 413.
    let too_big = client
        .post_to_connection()
        .connection_id(&connection_id)
        .data(Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        too_big.raw_response().map(|r| r.status().as_u16()),
        Some(413)
    );

    // DELETE closes the socket with 1000 and runs $disconnect with 1000.
    client
        .delete_connection()
        .connection_id(&connection_id)
        .send()
        .await
        .expect("delete");
    assert_eq!(close_code(&mut socket, WAIT).await, Some(1000));
    assert!(
        eventually(WAIT, || !records_for(
            &stack.lambda().records(),
            "$disconnect"
        )
        .is_empty())
        .await,
        "$disconnect invoked"
    );
    let disconnect = event_of(&records_for(&stack.lambda().records(), "$disconnect")[0]);
    assert_eq!(
        disconnect.request_context.disconnect_status_code,
        Some(1000)
    );
    assert_eq!(
        disconnect.request_context.disconnect_reason.as_deref(),
        Some("Connection Closed Normally")
    );

    // POST after the client left: 410 GoneException.
    let gone = client
        .post_to_connection()
        .connection_id(&connection_id)
        .data(Blob::new(b"late".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{gone:?}"
    );

    // The function sees the same 410 when it posts to a departed connection.
    let mut other = connect(&gateway.url()).await;
    send_json(
        &mut other,
        json!({"action": "send", "connectionId": connection_id, "data": "x"}),
    )
    .await;
    let result = next_json(&mut other, WAIT).await;
    assert_eq!(result["result"]["status"], "gone");
    stack.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_still_heard() {
    // API Gateway reads a client's frames while its messages to that client
    // wait: a client that sends without reading (a microphone loop) is heard.
    let stack = start(options(1.0)).await;
    let gateway = stack.websocket(API).unwrap();
    let client = management_client(&gateway.management_endpoint()).await;
    // A small receive buffer (no autotuning) keeps the test's volume small.
    let url = gateway.url();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(64 * 1024).unwrap();
    let address = url.trim_start_matches("ws://").split('/').next().unwrap();
    let stream = tcp.connect(address.parse().unwrap()).await.unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut socket, _) = tokio_tungstenite::client_async(url.as_str(), stream)
        .await
        .unwrap();
    socket
        .send(Message::text(json!({"action": "info"}).to_string()))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("a message in time")
        .expect("socket open")
        .expect("no socket error");
    let connection_id = event_of(&records_for(&stack.lambda().records(), "$connect")[0])
        .request_context
        .connection_id
        .unwrap();

    // 8 MB for the client, twice what the sockets of both ends buffer: the
    // gateway's writes to it stall while it does not read.
    let piece = vec![b'x'; 125 * 1024];
    let pieces = 64;
    for _ in 0..pieces {
        client
            .post_to_connection()
            .connection_id(&connection_id)
            .data(Blob::new(piece.clone()))
            .send()
            .await
            .expect("a post is queued, not delivered");
    }
    socket
        .send(Message::text(
            json!({"action": "sleep", "ms": 0}).to_string(),
        ))
        .await
        .unwrap();
    assert!(
        eventually(WAIT, || !records_for(&stack.lambda().records(), "sleep")
            .is_empty())
        .await,
        "the gateway stopped reading the client while writing to it"
    );

    // Then everything arrives, in order.
    let mut received = 0;
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a frame");
        match message {
            Message::Binary(data) if data.len() == piece.len() => received += 1,
            Message::Text(text) if text.len() == piece.len() => received += 1,
            Message::Text(text) => {
                assert_eq!(received, pieces, "the reply overtook the posts");
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(&text).unwrap()["type"],
                    "slept"
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn unsigned_management_calls_are_refused() {
    let stack = start(options(1.0)).await;
    let gateway = stack.websocket(API).unwrap();
    let url = format!("{}/@connections/abc%3D", gateway.management_endpoint());
    let answer = reqwest_like_get(&url).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    stack.stop().await;
}

/// A bare HTTP GET over TCP (no SigV4 signature).
async fn reqwest_like_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn connect_status_decides_the_handshake() {
    let stack = start(options(1.0)).await;
    let url = stack.websocket(API).unwrap().url();
    for status in [401u16, 403] {
        match Client::open(&format!("{url}?status={status}"), &[]).await {
            Handshake::Refused(refused, _) => assert_eq!(refused, status),
            other => panic!("expected HTTP {status}, got {other:?}"),
        }
    }
    // Headers $connect returns go into the 101 answer.
    let headers = [("sec-websocket-protocol".to_owned(), "chat".to_owned())];
    let Handshake::Open(socket) = Client::open(&format!("{url}?protocol=chat"), &headers).await
    else {
        panic!("accepted")
    };
    assert_eq!(socket.opened().headers["sec-websocket-protocol"], "chat");
    // A stage that does not exist: 403.
    let wrong = url.rsplit_once('/').unwrap().0.to_owned() + "/nostage";
    match Client::open(&wrong, &[]).await {
        Handshake::Refused(status, _) => assert_eq!(status, 403),
        other => panic!("expected 403, got {other:?}"),
    }
    stack.stop().await;
}

#[tokio::test]
async fn events_deserialize_and_close_without_status_gives_1005() {
    let stack = start(options(1.0)).await;
    let gateway = stack.websocket(API).unwrap();
    let mut socket = connect(&format!("{}?user=u1&tag=a", gateway.url())).await;
    send_json(&mut socket, json!({"action": "inspect"})).await;
    let inspected = next_json(&mut socket, WAIT).await;
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(inspected["event"].clone()).unwrap();
    assert_eq!(event.request_context.event_type.as_deref(), Some("MESSAGE"));
    assert!(event.request_context.message_id.is_some());
    assert_eq!(
        event.request_context.domain_name.as_deref(),
        Some(gateway.addr().to_string().as_str())
    );
    // A close frame without a status code.
    socket.send(Message::Close(None)).await.unwrap();
    assert!(
        eventually(WAIT, || !records_for(
            &stack.lambda().records(),
            "$disconnect"
        )
        .is_empty())
        .await
    );
    let records = stack.lambda().records();
    let connect_event = event_of(&records_for(&records, "$connect")[0]);
    assert_eq!(
        connect_event.request_context.event_type.as_deref(),
        Some("CONNECT")
    );
    assert_eq!(
        connect_event.query_string_parameters.first("user"),
        Some("u1")
    );
    assert!(connect_event.headers.contains_key("sec-websocket-key"));
    let disconnect = event_of(&records_for(&records, "$disconnect")[0]);
    assert_eq!(
        disconnect.request_context.event_type.as_deref(),
        Some("DISCONNECT")
    );
    assert_eq!(
        disconnect.request_context.disconnect_status_code,
        Some(1005)
    );
    assert_eq!(
        disconnect.request_context.disconnect_reason.as_deref(),
        Some("Client-side close frame status not set")
    );
    assert!(
        disconnect.request_context.connected_at > 0
            && disconnect.request_context.request_time_epoch > 0
    );
    stack.stop().await;
}

fn raw_frame(opcode: OpCode, is_final: bool, payload: Vec<u8>) -> Message {
    let header = FrameHeader {
        is_final,
        opcode,
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(header, payload.into()))
}

#[tokio::test]
async fn frame_and_message_limits() {
    let stack = start(options(1.0)).await;
    let url = stack.websocket(API).unwrap().url();

    // One 40 KB frame: over the 32 KB frame limit.
    let mut socket = connect(&url).await;
    let big = json!({"action": "echo", "pad": "x".repeat(40 * 1024)}).to_string();
    socket.send(Message::text(big)).await.unwrap();
    assert_eq!(close_code(&mut socket, WAIT).await, Some(1009));

    // A binary frame.
    let mut socket = connect(&url).await;
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut socket, WAIT).await, Some(1003));

    // 100 KB in four 25 KB fragments: within both limits, echoed back.
    let mut socket = connect(&url).await;
    let text = json!({"action": "echo", "pad": "y".repeat(100 * 1024)}).to_string();
    let bytes = text.as_bytes();
    let chunks: Vec<&[u8]> = bytes.chunks(25 * 1024 + 1).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        socket
            .send(raw_frame(opcode, i + 1 == chunks.len(), chunk.to_vec()))
            .await
            .unwrap();
    }
    let echoed = next_json(&mut socket, WAIT).await;
    assert_eq!(echoed["pad"].as_str().map(str::len), Some(100 * 1024));

    // 150 KB in 30 KB fragments: over the 128 KB message limit.
    let mut socket = connect(&url).await;
    for i in 0..5 {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        socket
            .send(raw_frame(opcode, i == 4, vec![b'z'; 30 * 1024]))
            .await
            .unwrap();
    }
    assert_eq!(close_code(&mut socket, WAIT).await, Some(1009));
    stack.stop().await;
}

#[tokio::test]
async fn idle_timeout_closes_with_1001_under_time_scale() {
    // A 1-minute idle timeout (instead of 10) / 60 = 1 s of silence; the scale
    // leaves the integration timeout (29 s / 60) room for a cold start.
    let mut options = options(60.0);
    options.limits.idle_timeout = Duration::from_secs(60);
    let stack = start(options).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut socket, WAIT).await, Some(1001));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}",
        started.elapsed()
    );
    assert!(
        eventually(WAIT, || !records_for(
            &stack.lambda().records(),
            "$disconnect"
        )
        .is_empty())
        .await
    );
    let disconnect = event_of(&records_for(&stack.lambda().records(), "$disconnect")[0]);
    assert_eq!(
        disconnect.request_context.disconnect_status_code,
        Some(1001)
    );
    stack.stop().await;
}

#[tokio::test]
async fn maximum_duration_closes_busy_connections_under_time_scale() {
    // A 2-minute maximum (instead of 2 hours) / 60 = 2 s, with traffic all along;
    // the scale leaves the integration timeout (29 s / 60) room for a cold start.
    let mut options = options(60.0);
    options.limits.max_duration = Duration::from_secs(2 * 60);
    let stack = start(options).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    let started = std::time::Instant::now();
    let code = loop {
        send_json(&mut socket, json!({"action": "echo"})).await;
        match tokio::time::timeout(Duration::from_millis(300), close_code(&mut socket, WAIT)).await
        {
            Ok(code) => break code,
            Err(_) => assert!(started.elapsed() < WAIT, "never closed"),
        }
    };
    assert_eq!(code, Some(1001));
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "closed after {:?}",
        started.elapsed()
    );
    stack.stop().await;
}

#[tokio::test]
async fn function_timeout_kills_the_instance_and_the_next_call_cold_starts() {
    // The function's 30 s timeout / 30 = 1 s; the integration gives up at 29 s / 30.
    let stack = start(options(30.0)).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    send_json(&mut socket, json!({"action": "sleep", "ms": 5000})).await;
    let reply = next_json(&mut socket, WAIT).await;
    assert_eq!(reply["message"], "Endpoint request timed out");
    assert!(
        eventually(WAIT, || records_for(&stack.lambda().records(), "sleep")
            .len()
            == 1)
        .await
    );
    let slept = &records_for(&stack.lambda().records(), "sleep")[0];
    assert_eq!(slept.outcome, "timeout");
    let function_name = &stack.template().functions[&slept.function].function_name;
    let logged: Vec<String> = stack
        .lambda()
        .logs()
        .recent(function_name)
        .into_iter()
        .filter(|line| line.contains("Task timed out"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(
        logged[0].contains(&slept.request_id)
            && logged[0].ends_with("Task timed out after 30.00 seconds"),
        "Lambda's line, in the function's log, with its request id and timeout: {logged:?}"
    );
    // And counted among the function's warnings, which a run's report lists.
    let warnings = &stack.lambda().warnings()[&slept.function];
    assert!(warnings.last.contains(&logged[0]), "{warnings:?}");
    send_json(&mut socket, json!({"action": "echo", "after": "timeout"})).await;
    assert_eq!(next_json(&mut socket, WAIT).await["after"], "timeout");
    let echo = &records_for(&stack.lambda().records(), "echo")[0];
    assert!(
        echo.cold_start,
        "a killed instance is replaced by a cold one"
    );
    assert_ne!(echo.instance_id, slept.instance_id);
    stack.stop().await;
}

#[tokio::test]
async fn crash_is_reported_and_the_instance_replaced() {
    let stack = start(options(1.0)).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    send_json(&mut socket, json!({"action": "crash"})).await;
    assert_eq!(
        next_json(&mut socket, WAIT).await["message"],
        "Internal server error"
    );
    let crashed = records_for(&stack.lambda().records(), "crash")[0].clone();
    assert_eq!(crashed.outcome, "crash");
    // The function's own ERROR record before it aborted is a warning of the
    // run (read from its stderr, which may trail the exit).
    assert!(
        eventually(WAIT, || stack
            .lambda()
            .warnings()
            .get(&crashed.function)
            .is_some_and(|w| w
                .last
                .iter()
                .any(|l| l.contains("crashing on request"))))
        .await,
        "{:?}",
        stack.lambda().warnings()
    );
    send_json(&mut socket, json!({"action": "echo", "after": "crash"})).await;
    assert_eq!(next_json(&mut socket, WAIT).await["after"], "crash");
    let echo = &records_for(&stack.lambda().records(), "echo")[0];
    assert!(echo.cold_start);
    assert_ne!(echo.instance_id, crashed.instance_id);
    stack.stop().await;
}

#[tokio::test]
async fn cold_starts_initialise_one_per_core_and_busy_invocations_still_get_instances() {
    let stack = start(options(1.0)).await;
    let url = stack.websocket(API).unwrap().url();
    // Connected one after another: their $connect warms one instance.
    let mut sockets = Vec::new();
    for _ in 0..8 {
        sockets.push(connect(&url).await);
    }
    for socket in &mut sockets {
        send_json(socket, json!({"action": "sleep", "ms": 2000})).await;
    }
    for socket in &mut sockets {
        assert_eq!(next_json(socket, WAIT).await["type"], "slept");
    }
    // The record is written after the reply goes out.
    assert!(
        eventually(WAIT, || records_for(&stack.lambda().records(), "sleep")
            .len()
            == 8)
        .await
    );
    let slept = records_for(&stack.lambda().records(), "sleep");
    let instances: std::collections::BTreeSet<_> =
        slept.iter().map(|r| r.instance_id.clone()).collect();
    assert_eq!(
        instances.len(),
        8,
        "each invocation that found every instance busy got one: {slept:#?}"
    );
    let peak = stack.lambda().peak_initialising();
    // Counted here, not from the emulator's own setting, which it must obey.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    assert!(
        (1..=cores).contains(&peak),
        "seven cold starts at once, but at most one per core initialising: {peak}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn warm_instances_are_reused_and_records_carry_billing() {
    let stack = start(options(1.0)).await;
    let mut socket = connect(&stack.websocket(API).unwrap().url()).await;
    for n in 0..3 {
        send_json(&mut socket, json!({"action": "echo", "n": n})).await;
        assert_eq!(next_json(&mut socket, WAIT).await["n"], n);
    }
    let records = records_for(&stack.lambda().records(), "echo");
    assert_eq!(records.len(), 3);
    assert!(
        records.iter().all(|r| !r.cold_start),
        "$connect warmed the instance"
    );
    let connect = &records_for(&stack.lambda().records(), "$connect")[0];
    assert!(connect.cold_start && connect.init_ms.unwrap() > 0.0);
    assert!(connect.billed_ms >= connect.init_ms.unwrap().ceil() as u64);
    assert_eq!(connect.memory_mb, 128);
    assert_eq!(connect.architecture.as_str(), "arm64");
    stack.stop().await;
}
