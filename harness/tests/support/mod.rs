//! Shared helpers for the integration tests: build the backend's binaries
//! once, start a local stack from backend/template.yaml on free ports, and a
//! small WebSocket client.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::stack::{LocalStack, StackOptions};
use harness::time_scale::TimeScale;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The backend template.
pub fn template() -> PathBuf {
    workspace().join("backend").join("template.yaml")
}

/// Builds the backend's function binaries (once per test process) next to
/// the test executable's profile directory. `--workspace --bins` resolves
/// features as `cargo test --workspace` does (dev-only features aside), so
/// after the suite's own build this compiles the binaries alone, not the
/// dependencies again.
pub fn build_backend() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let functions_dir = harness::stack::default_functions_dir();
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--workspace",
                    "--bins",
                    "--manifest-path",
                ])
                .arg(workspace().join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", functions_dir.parent().unwrap())
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build --workspace --bins failed");
            functions_dir
        })
        .clone()
}

/// Stack options for the backend template with diagnostics on.
pub fn options(time_scale: f64) -> StackOptions {
    let functions_dir = build_backend();
    let mut options = StackOptions::new(template());
    options.functions_dir = functions_dir;
    options.time_scale = TimeScale::new(time_scale).unwrap();
    options.capture_events = true;
    options
        .load
        .parameter_overrides
        .insert("EnableDiagnostics".into(), "true".into());
    options
}

/// Starts a stack.
pub async fn start(options: StackOptions) -> LocalStack {
    LocalStack::start(options)
        .await
        .expect("local stack starts")
}

/// A client socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to an API's URL (plus a query string).
pub async fn connect(url: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    socket
}

/// The next text message as JSON, within `limit`.
pub async fn next_json(socket: &mut Socket, limit: Duration) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(limit, socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("no socket error");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// Sends a JSON value as a text frame.
pub async fn send_json(socket: &mut Socket, value: serde_json::Value) {
    socket
        .send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// Waits for the close frame and returns its code.
pub async fn close_code(socket: &mut Socket, limit: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => panic!("no close within {limit:?}"),
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return None,
        }
    }
}

/// Polls until `check` holds or `limit` passes.
pub async fn eventually<F: FnMut() -> bool>(limit: Duration, mut check: F) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
