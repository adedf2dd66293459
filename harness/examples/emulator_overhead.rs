//! What the local stack itself costs, measured (not asserted): DynamoDB
//! Local's start time, the cold start of a backend binary through the Lambda
//! emulator (median init ms), and the emulator's added latency per WebSocket
//! round trip on loopback, next to a plain tokio-tungstenite echo server
//! measured in the same run with the same client.
//!
//! ```text
//! cargo build --release -p backend --bins
//! cargo run --release -p harness --example emulator_overhead -- [round trips] [cold starts]
//! ```

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use harness::stack::{LocalStack, StackOptions};
use hdrhistogram::Histogram;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")
}

fn line(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<44} n={:<6} p50={:>8} µs  p99={:>8} µs  max={:>8} µs",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
}

/// Sequential round trips of one small message on one socket.
async fn round_trips(url: &str, count: usize) -> Histogram<u64> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let body = r#"{"action":"echo","n":1}"#;
    let mut h = histogram();
    for i in 0..count + 50 {
        let started = Instant::now();
        socket.send(Message::text(body)).await.expect("send");
        loop {
            match socket.next().await.expect("open").expect("frame") {
                Message::Text(_) => break,
                _ => continue,
            }
        }
        if i >= 50 {
            h.saturating_record(started.elapsed().as_micros() as u64);
        }
    }
    let _ = socket.close(None).await;
    h
}

/// A plain echo server: the baseline.
async fn plain_echo_server() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() && socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("ws://{addr}/")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let colds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let template =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
    let mut options = StackOptions::new(template);
    options
        .load
        .parameter_overrides
        .insert("EnableDiagnostics".into(), "true".into());
    let stack = LocalStack::start(options).await.expect("stack");
    println!(
        "DynamoDB Local start: {:.0} ms",
        stack
            .dynamodb_start_time()
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0
    );
    let url = stack.websocket("EchoWebSocketApi").expect("echo API").url();

    // Cold starts: concurrent slow invocations force one new instance each.
    let mut sockets = Vec::new();
    for _ in 0..colds {
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("connect");
        sockets.push(socket);
    }
    for socket in &mut sockets {
        socket
            .send(Message::text(r#"{"action":"sleep","ms":1500}"#))
            .await
            .expect("send");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut init: Vec<f64> = stack
        .lambda()
        .records()
        .iter()
        .filter_map(|r| r.init_ms)
        .collect();
    init.sort_by(f64::total_cmp);
    if !init.is_empty() {
        println!(
            "cold start (init) of ws-echo: n={} median {:.1} ms, min {:.1} ms, max {:.1} ms",
            init.len(),
            init[init.len() / 2],
            init[0],
            init[init.len() - 1]
        );
    }
    drop(sockets);

    let emulated = round_trips(&url, count).await;
    let plain_url = plain_echo_server().await;
    let plain = round_trips(&plain_url, count).await;
    line("round trip through the emulator (echo route)", &emulated);
    line("round trip, plain tokio-tungstenite echo", &plain);
    println!(
        "added by the emulator (Lambda invocation included): p50 {} µs, p99 {} µs",
        emulated
            .value_at_quantile(0.5)
            .saturating_sub(plain.value_at_quantile(0.5)),
        emulated
            .value_at_quantile(0.99)
            .saturating_sub(plain.value_at_quantile(0.99))
    );
    stack.stop().await;
}
