//! One DynamoDB Local for many stacks of one process (a test binary starts
//! dozens of stacks, and each Java start costs about 2 s and a core).
//!
//! It runs without `-sharedDb`, so DynamoDB Local keeps one database per
//! access key and region; a stack started with
//! [`DynamoSource::Shared`](crate::stack::DynamoSource::Shared) takes an
//! access key of its own ([`access_key_for_new_stack`]) for its set-up and
//! its functions, so stacks create the same table names and never see each
//! other's items.
//!
//! The Java process is tied to this process's life: a shell holds a pipe
//! from this process and kills Java when the pipe closes, which happens
//! however this process ends (an exit, a panic, a SIGKILL). A process-wide
//! instance is never dropped, so `kill_on_drop` could not do it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::DynamoError;
use super::local::{Installation, free_port};

/// How long DynamoDB Local may take to answer after starting.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Starts Java in the background and kills it when the shell's standard
/// input (a pipe from this process) reaches its end; the shell itself exits
/// with Java, so an early exit is seen. (A background job's standard input is
/// /dev/null unless redirected: hence descriptor 3.) Java's temporary folder
/// (DynamoDB Local unpacks its SQLite library there) goes with it.
const WATCHDOG: &str = r#"exec 3<&0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/speechgate-dynamodb-java-XXXXXX") || exit 1
java -Djava.io.tmpdir="$tmp" "$@" </dev/null >/dev/null 2>&1 &
java=$!
(read -r _ <&3; kill "$java" 2>/dev/null) &
wait "$java"
status=$?
rm -rf "$tmp"
exit "$status""#;

/// DynamoDB Local for the rest of this process's life.
#[derive(Debug)]
pub struct ProcessDynamoDbLocal {
    endpoint: String,
    /// The shell; its standard input is the pipe whose end stops Java.
    _watchdog: Child,
}

impl ProcessDynamoDbLocal {
    /// Starts it on a free loopback port and waits until it answers.
    pub fn start(installation: &Installation) -> Result<Self, DynamoError> {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| DynamoError::Start(format!("no free port: {e}")))?;
            match Self::start_on(installation, port) {
                Ok(running) => return Ok(running),
                // Most likely the port was taken in the meantime: another one.
                Err(DynamoError::Start(message)) if message.contains("exited") => {
                    last_error = message
                }
                Err(other) => return Err(other),
            }
        }
        Err(DynamoError::Start(last_error))
    }

    fn start_on(installation: &Installation, port: u16) -> Result<Self, DynamoError> {
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "sh"])
            .arg(format!(
                "-Djava.library.path={}",
                installation.library_dir.display()
            ))
            .arg("-jar")
            .arg(&installation.jar)
            .args(["-inMemory", "-port", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| DynamoError::Start(format!("cannot run sh: {e}")))?;
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Some(status) = watchdog
                .try_wait()
                .map_err(|e| DynamoError::Start(e.to_string()))?
            {
                return Err(DynamoError::Start(format!(
                    "DynamoDB Local exited ({status}) on port {port}; is java (17+) installed?"
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Self {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    _watchdog: watchdog,
                });
            }
            if Instant::now() > deadline {
                let _ = watchdog.kill();
                return Err(DynamoError::Start(format!(
                    "DynamoDB Local did not answer within {START_LIMIT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its endpoint (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// The endpoint of this process's DynamoDB Local, installed into
/// `cache_dir` and started on first use (from any thread, inside a Tokio
/// runtime or not). A failure is kept and returned to every later caller.
pub fn endpoint_for_this_process(cache_dir: &Path) -> Result<String, String> {
    static SHARED: OnceLock<Result<ProcessDynamoDbLocal, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let cache_dir = cache_dir.to_path_buf();
            // Installing is async; a thread of its own keeps the runtime
            // apart from any the caller runs in.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("no runtime to install DynamoDB Local: {e}"))?;
                let installation = runtime
                    .block_on(super::local::install(&cache_dir))
                    .map_err(|e| e.to_string())?;
                ProcessDynamoDbLocal::start(&installation).map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("installing DynamoDB Local panicked".to_owned()))
        })
        .as_ref()
        .map(|running| running.endpoint().to_owned())
        .map_err(Clone::clone)
}

/// An access key no other stack of this process has used: its tables in a
/// shared DynamoDB Local are its own. Letters and digits only, as an AWS
/// access key id.
pub fn access_key_for_new_stack() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("ASIASTACK{}X{n:06}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_differ_and_look_like_access_keys() {
        let (a, b) = (access_key_for_new_stack(), access_key_for_new_stack());
        assert_ne!(a, b);
        assert!(a.starts_with("ASIA") && a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
