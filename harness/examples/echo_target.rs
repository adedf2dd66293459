//! A minimal speaking target for measuring a load tool's own capacity
//! (scripts/capacity-vs-k6.sh): a tokio-tungstenite server on one thread
//! that answers `start_speaking` with `session_ready`, every `audio_chunk`
//! with a small `maya_transcript`, and `end_speaking` with an `error`, all in
//! the speaking contract's shapes, so that the tool under test does the same
//! work as against the real API (parse, judge, time) with a target that costs
//! next to nothing.
//!
//! ```bash
//! cargo run --release -p harness --example echo_target -- [PORT]
//! ```
//!
//! It prints `ws://127.0.0.1:PORT` on stdout once it listens, then a line of
//! counters on stderr every 10 seconds, and runs until killed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// What the target has seen.
#[derive(Default)]
struct Counters {
    open: AtomicU64,
    connections: AtomicU64,
    messages_in: AtomicU64,
}

/// The answer to one client message, if any.
fn answer(text: &str) -> Option<&'static str> {
    // A substring test, not a JSON parse: the target must cost next to nothing.
    if text.contains(r#""action":"audio_chunk""#) {
        Some(r#"{"type":"maya_transcript","text":"mm-hm"}"#)
    } else if text.contains(r#""action":"start_speaking""#) {
        Some(r#"{"type":"session_ready","region":"us-central1","session_id":"echo"}"#)
    } else if text.contains(r#""action":"end_speaking""#) {
        Some(r#"{"type":"error","message":"No active session"}"#)
    } else {
        None
    }
}

async fn serve(stream: TcpStream, counters: Arc<Counters>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    counters.connections.fetch_add(1, Ordering::Relaxed);
    counters.open.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            counters.messages_in.fetch_add(1, Ordering::Relaxed);
            if let Some(reply) = answer(&text)
                && socket.send(Message::text(reply)).await.is_err()
            {
                break;
            }
        }
    }
    counters.open.fetch_sub(1, Ordering::Relaxed);
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("ws://{}", listener.local_addr()?);
        let counters = Arc::new(Counters::default());
        let report = counters.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(10));
            every.tick().await;
            loop {
                every.tick().await;
                eprintln!(
                    "echo_target: open={} connections={} messages_in={}",
                    report.open.load(Ordering::Relaxed),
                    report.connections.load(Ordering::Relaxed),
                    report.messages_in.load(Ordering::Relaxed)
                );
            }
        });
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(serve(stream, counters.clone()));
        }
    })
}
