//! Shared helpers for the integration tests: build the backend's binaries
//! once, start a local stack from backend/template.yaml on free ports, and
//! panicking forms of the harness's WebSocket client
//! ([`harness::replay::client`]).

#![allow(dead_code)]

pub(crate) mod http;

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use harness::stack::{DynamoSource, LocalStack, StackOptions};
use harness::time_scale::TimeScale;

/// Held by the tests that saturate the machine (the chaos cases' sessions
/// and load, an open microphone at 12x: 48 audio chunks a second, each a
/// Lambda invocation), so no two of them run at once: on 2 cores two such
/// stacks slow each other past the scaled 29 s integration timeout, a
/// failure that is not the one under test.
pub(crate) static MACHINE_SATURATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Shared by every test that starts a stack through [`options`]; taken
/// alone by a test whose verdict needs the machine to itself
/// ([`machine_alone`]).
static MACHINE: RwLock<()> = RwLock::new(());

thread_local! {
    /// This test's share of [`MACHINE`]: libtest runs each test on a thread
    /// of its own, so the share ends with the test.
    static MACHINE_SHARE: RefCell<Option<RwLockReadGuard<'static, ()>>> = const { RefCell::new(None) };
    /// Whether this thread holds [`MACHINE`] alone.
    static MACHINE_ALONE: Cell<bool> = const { Cell::new(false) };
}

/// Takes this test's share of the machine, once (see [`machine_alone`]).
fn share_machine() {
    if MACHINE_ALONE.get() {
        return;
    }
    MACHINE_SHARE.with(|share| {
        let mut share = share.borrow_mut();
        if share.is_none() {
            *share = Some(MACHINE.read().unwrap_or_else(PoisonError::into_inner));
        }
    });
}

/// The machine to this test alone, until the guard drops: it waits until
/// every test with a stack has finished, and tests that start a stack wait
/// for it. For a verdict that rests on the pipeline's timing at a high time
/// scale (audio chunks every 21 ms through Lambda invocations and the relay
/// table): on a machine shared with other stacks, late invocations reorder
/// the chunks, which is what a loaded backend does too, but not what the
/// test is about.
pub(crate) fn machine_alone() -> MachineAlone {
    MACHINE_SHARE.with(|share| share.borrow_mut().take());
    let guard = MACHINE.write().unwrap_or_else(PoisonError::into_inner);
    MACHINE_ALONE.set(true);
    MachineAlone { _guard: guard }
}

/// See [`machine_alone`].
pub(crate) struct MachineAlone {
    _guard: RwLockWriteGuard<'static, ()>,
}

impl Drop for MachineAlone {
    fn drop(&mut self) {
        MACHINE_ALONE.set(false);
    }
}

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The backend template.
pub(crate) fn template() -> PathBuf {
    workspace().join("backend").join("template.yaml")
}

/// Builds the backend's function binaries (once per test process) next to
/// the test executable's profile directory. `--examples` is what makes this
/// free after `cargo test --workspace`: examples, like tests, unify the
/// dev-dependencies' features, so `--workspace --bins --examples` selects
/// exactly the units the suite's own build made (bins and examples
/// included) and cargo finds them fresh. `--bins` alone resolved features
/// without the dev-dependencies: 13 crates (the harness, the backend,
/// goose, jsonschema, tungstenite...) and every binary were compiled a
/// second time inside the first test that started a stack, while the
/// other tests waited.
pub(crate) fn build_backend() -> PathBuf {
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
                    "--examples",
                    "--manifest-path",
                ])
                .arg(workspace().join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", functions_dir.parent().unwrap())
                .status()
                .expect("run cargo build");
            assert!(
                status.success(),
                "cargo build --workspace --bins --examples failed"
            );
            functions_dir
        })
        .clone()
}

/// The DynamoDB Local every stack of this test process shares (each stack
/// under an access key of its own: `DynamoSource::Shared`), so the suite
/// starts Java once instead of once per stack.
pub(crate) fn shared_dynamodb() -> DynamoSource {
    let endpoint = harness::dynamodb::shared::endpoint_for_this_process(
        &harness::dynamodb::local::cache_dir(),
    )
    .unwrap_or_else(|e| panic!("DynamoDB Local for the tests: {e}"));
    DynamoSource::Shared { endpoint }
}

/// Stack options for the backend template with diagnostics on, on the
/// process's shared DynamoDB Local.
pub(crate) fn options(time_scale: f64) -> StackOptions {
    share_machine();
    let functions_dir = build_backend();
    let mut options = StackOptions::new(template());
    options.dynamodb = shared_dynamodb();
    options.functions_dir = functions_dir;
    options.time_scale = TimeScale::new(time_scale).unwrap();
    options.capture_events = true;
    options
        .load
        .parameter_overrides
        .insert("EnableDiagnostics".into(), "true".into());
    options
}

/// Stack options for tests that stream audio. Every audio chunk is its own
/// invocation, and at 10x pace or more many meet a cold start: the emulator
/// initialises one instance per core at a time, so on a loaded machine a
/// chunk can be written a second or more after the gateway received it
/// (real AWS: 100-300 ms). The owner's jitter buffer (`RELAY_SETTLE_MS`, 50 ms
/// by default) must cover that spread, or chunks reach the model out of
/// order (the model can hear an answer's last words after its trailing
/// silence).
pub(crate) fn streaming_options(time_scale: f64) -> StackOptions {
    let mut options = options(time_scale);
    options
        .function_env
        .insert("RELAY_SETTLE_MS".to_owned(), "1500".to_owned());
    options
}

/// Starts a stack.
pub(crate) async fn start(options: StackOptions) -> LocalStack {
    LocalStack::start(options)
        .await
        .expect("local stack starts")
}

pub(crate) use harness::replay::client::Client;

/// Connects to an API's URL (plus a query string), or panics.
pub(crate) async fn connect(url: &str) -> Client {
    Client::connect(url).await.expect("connect")
}

/// The next message as JSON, within `limit`, or panics.
pub(crate) async fn next_json(socket: &mut Client, limit: Duration) -> serde_json::Value {
    let message = socket.next(limit).await.expect("a message in time");
    assert!(
        !message.is_string(),
        "expected a JSON message, got {message}"
    );
    message
}

/// Sends a JSON value as a text frame, or panics.
pub(crate) async fn send_json(socket: &mut Client, value: serde_json::Value) {
    socket.send_json(&value).await.expect("send");
}

/// Waits for the close and returns its code (none: a close frame without
/// one, or no close frame); panics when the socket stays open.
pub(crate) async fn close_code(socket: &mut Client, limit: Duration) -> Option<u16> {
    let closed = socket
        .closed_within(limit)
        .await
        .unwrap_or_else(|| panic!("no close within {limit:?}"));
    Some(closed.code).filter(|code| !matches!(code, 1005 | 1006))
}

/// Polls until `check` holds or `limit` passes.
pub(crate) async fn eventually<F: FnMut() -> bool>(limit: Duration, mut check: F) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
