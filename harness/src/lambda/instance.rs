//! One function instance: a real child process running the function's binary
//! with `AWS_LAMBDA_RUNTIME_API` pointing at this emulator. It holds the queue
//! of invocations the instance's `/next` calls pick up, the replies in flight,
//! its init state and its exit.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::logs::FunctionLogs;

/// What the runtime answered for one invocation.
#[derive(Debug)]
pub(crate) enum RuntimeReply {
    /// `POST /runtime/invocation/{id}/response`.
    Response(Bytes),
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        /// `errorType` (or the `Lambda-Runtime-Function-Error-Type` header).
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
}

/// Sent back to the invoker when the runtime picks the invocation up.
#[derive(Debug)]
pub(crate) struct Started {
    /// When `/next` answered.
    pub at: Instant,
    /// The deadline handed to the runtime.
    pub deadline: Instant,
}

/// One invocation waiting for the instance's next `/next`.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event.
    pub payload: Bytes,
    /// How long the runtime has (already scaled).
    pub timeout: Duration,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// Told when the runtime takes it.
    pub started: oneshot::Sender<Started>,
    /// Told the runtime's answer.
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// The instance no longer takes deliveries.
#[derive(Debug)]
pub(crate) struct InstanceGone;

/// Where an instance's initialisation stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InitState {
    /// Spawned, no `/next` yet.
    Pending,
    /// First `/next` arrived after this long.
    Ready(Duration),
    /// `POST /runtime/init/error`.
    Failed(String),
}

/// A running instance.
#[derive(Debug)]
pub(crate) struct Instance {
    /// Instance id (also the Runtime API base path segment).
    pub id: String,
    /// Logical id of the function.
    pub function: String,
    spawned_at: Instant,
    deliveries: mpsc::UnboundedSender<Delivery>,
    /// The runtime's side of the delivery queue (one `/next` at a time).
    pub(crate) queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
    /// Replies in flight by request id.
    pub(crate) in_flight: Mutex<HashMap<String, oneshot::Sender<RuntimeReply>>>,
    init: watch::Sender<InitState>,
    exited: watch::Receiver<Option<String>>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    stop_server: CancellationToken,
}

/// What a new instance needs.
pub(crate) struct SpawnRequest<'a> {
    pub id: String,
    pub function: &'a str,
    pub function_name: &'a str,
    pub executable: &'a Path,
    pub environment: &'a BTreeMap<String, String>,
    pub logs: FunctionLogs,
}

impl Instance {
    /// Starts the instance's Runtime API server and its child process.
    pub(crate) fn spawn(request: SpawnRequest<'_>) -> std::io::Result<Arc<Instance>> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let runtime_api = listener.local_addr()?.to_string();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut command = Command::new(request.executable);
        command
            .env_clear()
            .envs(request.environment)
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}", request.id),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = request.logs.clone();
            let function = request.function_name.to_owned();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(target: "function", function = %function, "{line}");
                    logs.push(&function, line);
                }
            });
        }
        let (deliveries, queue) = mpsc::unbounded_channel();
        let (init, _) = watch::channel(InitState::Pending);
        let (exit_tx, exited) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let id = request.id.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let description = match status {
                Ok(status) => status.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            tracing::debug!(instance = %id, "instance exited: {description}");
            let _ = exit_tx.send(Some(description));
        });
        let stop_server = CancellationToken::new();
        let instance = Arc::new(Instance {
            id: request.id,
            function: request.function.to_owned(),
            spawned_at: Instant::now(),
            deliveries,
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            init,
            exited,
            kill: Mutex::new(Some(kill_tx)),
            stop_server: stop_server.clone(),
        });
        super::runtime_api::serve(instance.clone(), listener, stop_server);
        Ok(instance)
    }

    /// Queues an invocation for the runtime's next `/next`.
    pub(crate) fn deliver(&self, delivery: Delivery) -> Result<(), InstanceGone> {
        self.deliveries.send(delivery).map_err(|_| InstanceGone)
    }

    /// Called on every `/next`: the first one ends initialisation.
    pub(crate) fn mark_ready(&self) {
        let elapsed = self.spawned_at.elapsed();
        self.init.send_if_modified(|state| {
            if *state == InitState::Pending {
                *state = InitState::Ready(elapsed);
                true
            } else {
                false
            }
        });
    }

    /// Called on `POST /runtime/init/error`.
    pub(crate) fn mark_init_failed(&self, error: String) {
        self.init.send_replace(InitState::Failed(error));
    }

    /// Waits for the instance to finish initialising, fail, or exit.
    pub(crate) async fn wait_ready(&self, limit: Duration) -> Result<Duration, String> {
        let mut init = self.init.subscribe();
        let mut exited = self.exited.clone();
        let wait = async {
            loop {
                match &*init.borrow_and_update() {
                    InitState::Ready(took) => return Ok(*took),
                    InitState::Failed(error) => return Err(format!("Runtime.InitError: {error}")),
                    InitState::Pending => {}
                }
                tokio::select! {
                    _ = init.changed() => {}
                    status = exited.wait_for(Option::is_some) => {
                        let status = status.map(|s| s.clone().unwrap_or_default()).unwrap_or_default();
                        return Err(format!("Runtime.ExitError: the runtime exited during init ({status})"));
                    }
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "Runtime.InitTimeout: init did not finish within {limit:?}"
            )),
        }
    }

    /// Resolves when the process has exited, with a description of how.
    pub(crate) async fn exited(&self) -> String {
        let mut exited = self.exited.clone();
        match exited.wait_for(Option::is_some).await {
            Ok(status) => status.clone().unwrap_or_default(),
            Err(_) => "unknown".to_owned(),
        }
    }

    /// Whether the process has exited.
    pub(crate) fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    /// Kills the process (SIGKILL) and waits for it to be gone.
    pub(crate) async fn kill(&self) {
        let kill = self.kill.lock().expect("kill lock").take();
        if let Some(kill) = kill {
            let _ = kill.send(());
        }
        self.exited().await;
        self.stop_server.cancel();
    }
}

/// The deadline as the Runtime API hands it over: epoch milliseconds.
pub(crate) fn epoch_deadline_ms(timeout: Duration) -> u128 {
    (SystemTime::now() + timeout)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}
