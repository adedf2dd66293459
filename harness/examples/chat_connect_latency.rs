//! Connect latency of the chat API (seed 004) through the local stack, the
//! JWT authorizer included: the time from opening the TCP connection to the
//! 101 answer, which covers the REQUEST authorizer's invocation and the
//! `$connect` function's registry write. Cold: the first connection of a
//! fresh stack (both functions start their instances; HS256, so the secret is
//! read from Secrets Manager). Warm: later connections (HS256, and RS256 with
//! the JWKS cached). Prints p50 / p95 / p99 / max per kind.
//!
//! ```text
//! cargo build -p backend --bins
//! cargo run -p harness --example chat_connect_latency -- [cold rounds] [warm per round]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use harness::stack::{LocalStack, StackOptions};
use hdrhistogram::Histogram;

/// `target/<profile>`: examples run from `target/<profile>/examples`.
fn functions_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir").to_path_buf();
    match dir.file_name() {
        Some(name) if name == "examples" || name == "deps" => dir.parent().unwrap().to_path_buf(),
        _ => dir,
    }
}

/// Microseconds to open one connection; the socket is closed right after.
async fn connect_us(url: &str) -> u64 {
    let started = Instant::now();
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connection accepted");
    let elapsed = started.elapsed().as_micros() as u64;
    socket.close(None).await.ok();
    elapsed
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn report(name: &str, h: &Histogram<u64>) {
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{name:<12} n={:<5} p50={:>8.2} ms  p95={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
        h.len(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let rounds = args.next().unwrap_or(10);
    let warm_per_round = args.next().unwrap_or(50);
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
    let (mut cold, mut warm_hs, mut warm_rs) = (histogram(), histogram(), histogram());
    let mut cold_inits = Vec::new();
    for round in 0..rounds {
        let mut options = StackOptions::new(&template);
        options.functions_dir = functions_dir();
        let stack = LocalStack::start(options).await.expect("stack starts");
        let identity = &stack.mocks().identity;
        let base = stack.websocket("ChatWebSocketApi").expect("chat API").url();
        let hs = format!("{base}?token={}", identity.hs256_token("bench").unwrap());
        let rs = format!("{base}?token={}", identity.rs256_token("bench").unwrap());
        cold.record(connect_us(&hs).await).unwrap();
        let init_ms: f64 = stack
            .lambda()
            .records()
            .iter()
            .filter(|r| r.cold_start && r.function != "ChatDisconnectFunction")
            .filter_map(|r| r.init_ms)
            .sum();
        cold_inits.push(init_ms);
        connect_us(&rs).await; // fetches the JWKS once
        for _ in 0..warm_per_round {
            warm_hs.record(connect_us(&hs).await).unwrap();
            warm_rs.record(connect_us(&rs).await).unwrap();
        }
        eprintln!("round {}/{rounds} done", round + 1);
        stack.stop().await;
    }
    println!("chat $connect latency, authorizer included (local stack, time scale 1)");
    report("cold HS256", &cold);
    report("warm HS256", &warm_hs);
    report("warm RS256", &warm_rs);
    let mean_init = cold_inits.iter().sum::<f64>() / cold_inits.len().max(1) as f64;
    println!(
        "cold starts: authorizer + connect init {mean_init:.1} ms on average per cold connect"
    );
}
