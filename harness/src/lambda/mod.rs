//! The Lambda emulator: runs each function's real binary as child processes
//! that speak the Lambda Runtime API to this emulator, unmodified.
//!
//! - `runtime_api`: the Runtime API server of each instance (`/next`, `/response`, `/error`, `/init/error`);
//! - `instance`: one child process, its delivery queue and exit;
//! - `logs`: what the functions write, and their warnings and errors apart;
//! - `pool`: which instance runs an invocation (idle, or new under an init
//!   slot), in arrival order;
//! - this module: an invocation from start to outcome (a timed cold start,
//!   the reserved-concurrency cap, kill at the timeout, replacement after a
//!   crash) and the invocation records the cost model and the reports read.
//!
//! Cold starts initialise at most one per core at a time, and invocations
//! waiting for an instance are served in arrival order (`pool`).

mod instance;
mod logs;
mod pool;
mod runtime_api;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use instance::{Delivery, Instance, RuntimeReply};
pub use logs::{FunctionLogs, LoggedWarnings, readable};
use pool::Pool;
use pool::init_slot_count;

use crate::template::Architecture;
use crate::time_scale::TimeScale;

/// How long an instance may take to initialise (AWS's on-demand init limit; real time).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// What the emulator needs to run one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Logical id (the key functions are invoked by).
    pub logical_id: String,
    /// Physical function name.
    pub function_name: String,
    /// The binary.
    pub executable: PathBuf,
    /// Configured memory.
    pub memory_mb: u32,
    /// Function timeout in scenario time.
    pub timeout: Duration,
    /// Architecture, for billing.
    pub architecture: Architecture,
    /// The complete environment the process gets (template variables, AWS
    /// runtime variables and local endpoint overrides).
    pub environment: BTreeMap<String, String>,
    /// Reserved concurrency cap.
    pub reserved_concurrency: Option<u32>,
    /// The function's ARN.
    pub arn: String,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The runtime posted a response.
    Success {
        /// The response body.
        #[serde(skip)]
        body: Bytes,
    },
    /// The runtime posted an error.
    FunctionError {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// The function ran past its timeout and was killed.
    Timeout {
        /// The timeout it had (real time).
        after_ms: u64,
    },
    /// The process exited during the invocation.
    Crash {
        /// How it exited.
        status: String,
    },
    /// The instance failed to initialise.
    InitError {
        /// The init error.
        error: String,
    },
    /// The reserved-concurrency cap was reached (AWS: 429 TooManyRequestsException).
    Throttled,
}

impl Outcome {
    /// A short label (`success`, `function_error`, `timeout`, `crash`, `init_error`, `throttled`).
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::FunctionError { .. } => "function_error",
            Outcome::Timeout { .. } => "timeout",
            Outcome::Crash { .. } => "crash",
            Outcome::InitError { .. } => "init_error",
            Outcome::Throttled => "throttled",
        }
    }
}

/// One invocation, as the cost model and the reports see it.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationRecord {
    /// Function logical id.
    pub function: String,
    /// Route or trigger label (`$connect`, `start_speaking`, `authorizer`...).
    pub route: Option<String>,
    /// Request id.
    pub request_id: String,
    /// Instance that ran it.
    pub instance_id: Option<String>,
    /// Whether a new instance was started for it.
    pub cold_start: bool,
    /// Init duration (cold starts only), real ms.
    pub init_ms: Option<f64>,
    /// Invoke duration, real ms.
    pub duration_ms: f64,
    /// Billed ms: duration rounded up to 1 ms, plus init (billed for custom runtimes).
    pub billed_ms: u64,
    /// Configured memory.
    pub memory_mb: u32,
    /// Architecture.
    pub architecture: Architecture,
    /// Outcome label.
    pub outcome: String,
    /// Start, epoch ms.
    pub started_at_ms: u128,
    /// The time scale the run used (durations above are real time).
    pub time_scale: f64,
    /// The event, when event capture is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
}

/// Emulator settings.
#[derive(Debug, Clone, Default)]
pub struct EmulatorSettings {
    /// Divides function timeouts.
    pub time_scale: TimeScale,
    /// Keep each invocation's event in its record (tests and debugging).
    pub capture_events: bool,
}

/// The Lambda emulator (cheap to clone).
#[derive(Debug, Clone)]
pub struct LambdaEmulator {
    inner: Arc<Inner>,
}

/// An invocation in progress, as [`LambdaEmulator::running`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningInvocation {
    /// Function logical id.
    pub function: String,
    /// Route or trigger label.
    pub route: Option<String>,
    /// Request id.
    pub request_id: String,
    /// The instance running it.
    pub instance_id: String,
}

#[derive(Debug)]
struct Inner {
    /// Every live instance by id.
    instances: Mutex<HashMap<String, Arc<Instance>>>,
    /// Invocations in progress by request id, with their instance (fault
    /// injection kills one mid-invocation).
    running: Mutex<HashMap<String, (RunningInvocation, Arc<Instance>)>>,
    pools: BTreeMap<String, Pool>,
    settings: EmulatorSettings,
    records: Mutex<Vec<InvocationRecord>>,
    logs: FunctionLogs,
    next_instance: AtomicU64,
    /// Cold starts that may initialise at once (one per core).
    init_slots: Arc<Semaphore>,
    /// Instances initialising now, and the most there have been at once.
    initialising: AtomicUsize,
    peak_initialising: AtomicUsize,
}

/// Why the emulator could not start or invoke.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// A function's binary is missing.
    #[error(
        "function {function}: binary {path} not found (build it with `cargo build -p backend --bins`)"
    )]
    MissingBinary {
        /// Logical id.
        function: String,
        /// Expected path.
        path: String,
    },
    /// Invoking a function that is not in the template.
    #[error("no function {0} in the template")]
    UnknownFunction(String),
}

impl LambdaEmulator {
    /// An emulator for these functions (instances start on first invocation).
    pub fn new(
        functions: Vec<FunctionSpec>,
        settings: EmulatorSettings,
    ) -> Result<Self, LambdaError> {
        for spec in &functions {
            if !spec.executable.is_file() {
                return Err(LambdaError::MissingBinary {
                    function: spec.logical_id.clone(),
                    path: spec.executable.display().to_string(),
                });
            }
        }
        let pools = functions
            .into_iter()
            .map(|spec| (spec.logical_id.clone(), Pool::new(spec)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                instances: Mutex::new(HashMap::new()),
                running: Mutex::new(HashMap::new()),
                pools,
                settings,
                records: Mutex::new(Vec::new()),
                logs: FunctionLogs::default(),
                next_instance: AtomicU64::new(1),
                init_slots: Arc::new(Semaphore::new(init_slot_count())),
                initialising: AtomicUsize::new(0),
                peak_initialising: AtomicUsize::new(0),
            }),
        })
    }

    /// The most instances that were initialising at once (at most
    /// one per core).
    pub fn peak_initialising(&self) -> usize {
        self.inner.peak_initialising.load(Ordering::SeqCst)
    }

    /// The function specs by logical id.
    pub fn functions(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.inner.pools.values().map(|p| &p.spec)
    }

    /// Recent log lines of the functions.
    pub fn logs(&self) -> &FunctionLogs {
        &self.inner.logs
    }

    /// Each function's warnings and errors, by logical id (functions that
    /// logged none are left out).
    pub fn warnings(&self) -> BTreeMap<String, LoggedWarnings> {
        self.functions()
            .map(|spec| {
                (
                    spec.logical_id.clone(),
                    self.inner.logs.warnings(&spec.function_name),
                )
            })
            .filter(|(_, warnings)| warnings.count > 0)
            .collect()
    }

    /// Every invocation recorded so far.
    pub fn records(&self) -> Vec<InvocationRecord> {
        self.inner.records.lock().expect("records lock").clone()
    }

    /// How many instances are alive (idle or busy) per function.
    pub fn live_instances(&self) -> BTreeMap<String, usize> {
        let instances = self.inner.instances.lock().expect("instances lock");
        let mut counts = BTreeMap::new();
        for instance in instances.values() {
            *counts.entry(instance.function.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The invocations in progress now.
    pub fn running(&self) -> Vec<RunningInvocation> {
        let running = self.inner.running.lock().expect("running lock");
        let mut list: Vec<RunningInvocation> = running.values().map(|(r, _)| r.clone()).collect();
        list.sort_by(|a, b| a.request_id.cmp(&b.request_id));
        list
    }

    /// Kills the instance running this invocation (SIGKILL, as a crash
    /// would): the invocation ends with [`Outcome::Crash`] and the pool
    /// replaces the instance. False when the invocation is not running.
    pub async fn crash_invocation(&self, request_id: &str) -> bool {
        let instance = self
            .inner
            .running
            .lock()
            .expect("running lock")
            .get(request_id)
            .map(|(_, instance)| instance.clone());
        match instance {
            Some(instance) => {
                tracing::warn!(instance = %instance.id, request = %request_id, "crashing the instance mid-invocation (fault injection)");
                instance.kill().await;
                true
            }
            None => false,
        }
    }

    /// Crashes one instance running an invocation of `function` (of `route`
    /// when given), if any; returns what it was running.
    pub async fn crash_running(
        &self,
        function: &str,
        route: Option<&str>,
    ) -> Option<RunningInvocation> {
        let victim = self.running().into_iter().find(|r| {
            r.function == function && route.is_none_or(|route| r.route.as_deref() == Some(route))
        })?;
        self.crash_invocation(&victim.request_id)
            .await
            .then_some(victim)
    }

    /// Invokes a function synchronously (RequestResponse) and records it.
    pub async fn invoke(
        &self,
        function: &str,
        payload: Bytes,
        route: Option<String>,
    ) -> Result<Outcome, LambdaError> {
        let pool = self
            .inner
            .pools
            .get(function)
            .ok_or_else(|| LambdaError::UnknownFunction(function.to_owned()))?;
        let request_id = uuid_like();
        let started_wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let event = self
            .inner
            .settings
            .capture_events
            .then(|| serde_json::from_slice(&payload).unwrap_or_default());
        let mut record = InvocationRecord {
            function: function.to_owned(),
            route,
            request_id: request_id.clone(),
            instance_id: None,
            cold_start: false,
            init_ms: None,
            duration_ms: 0.0,
            billed_ms: 0,
            memory_mb: pool.spec.memory_mb,
            architecture: pool.spec.architecture,
            outcome: String::new(),
            started_at_ms: started_wall,
            time_scale: self.inner.settings.time_scale.factor(),
            event,
        };
        let outcome = self.run(pool, request_id, payload, &mut record).await;
        record.outcome = outcome.label().to_owned();
        let init_billed = record.init_ms.map(|ms| ms.ceil() as u64).unwrap_or(0);
        record.billed_ms = record.duration_ms.ceil() as u64 + init_billed;
        self.inner
            .records
            .lock()
            .expect("records lock")
            .push(record);
        Ok(outcome)
    }

    async fn run(
        &self,
        pool: &Pool,
        request_id: String,
        payload: Bytes,
        record: &mut InvocationRecord,
    ) -> Outcome {
        let Some((instance, init_slot)) = self.acquire(pool).await else {
            return Outcome::Throttled;
        };
        let cold = init_slot.is_some();
        record.instance_id = Some(instance.id.clone());
        record.cold_start = cold;
        let running = RunningInvocation {
            function: pool.spec.logical_id.clone(),
            route: record.route.clone(),
            request_id: request_id.clone(),
            instance_id: instance.id.clone(),
        };
        self.inner
            .running
            .lock()
            .expect("running lock")
            .insert(request_id.clone(), (running, instance.clone()));
        let outcome = self
            .run_on(
                pool,
                &instance,
                init_slot,
                request_id.clone(),
                payload,
                record,
            )
            .await;
        self.inner
            .running
            .lock()
            .expect("running lock")
            .remove(&request_id);
        let healthy = matches!(
            outcome,
            Outcome::Success { .. } | Outcome::FunctionError { .. }
        ) && !instance.has_exited();
        self.release(pool, instance, healthy).await;
        outcome
    }

    async fn run_on(
        &self,
        pool: &Pool,
        instance: &Arc<Instance>,
        init_slot: Option<OwnedSemaphorePermit>,
        request_id: String,
        payload: Bytes,
        record: &mut InvocationRecord,
    ) -> Outcome {
        if let Some(slot) = init_slot {
            let counted = Initialising::start(&self.inner);
            let ready = instance.wait_ready(INIT_LIMIT).await;
            drop(counted);
            drop(slot);
            match ready {
                Ok(init) => record.init_ms = Some(init.as_secs_f64() * 1000.0),
                Err(error) => return Outcome::InitError { error },
            }
        }
        let timeout = self.inner.settings.time_scale.to_real(pool.spec.timeout);
        let (started_tx, started_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let delivery = Delivery {
            request_id: request_id.clone(),
            payload,
            timeout,
            function_arn: pool.spec.arn.clone(),
            trace_id: format!(
                "Root=1-{:08x}-{}",
                started_secs(),
                &request_id.replace('-', "")[..24]
            ),
            started: started_tx,
            reply: reply_tx,
        };
        if instance.deliver(delivery).is_err() {
            return Outcome::Crash {
                status: "instance queue closed".to_owned(),
            };
        }
        let started = tokio::select! {
            started = started_rx => match started {
                Ok(started) => started,
                Err(_) => return Outcome::Crash { status: "instance dropped the invocation".to_owned() },
            },
            status = instance.exited() => return Outcome::Crash { status },
        };
        let outcome = tokio::select! {
            reply = reply_rx => match reply {
                Ok(RuntimeReply::Response(body)) => Outcome::Success { body },
                Ok(RuntimeReply::Error { error_type, error_message }) => Outcome::FunctionError { error_type, error_message },
                Err(_) => Outcome::Crash { status: "reply channel closed".to_owned() },
            },
            _ = tokio::time::sleep_until(started.deadline.into()) => {
                tracing::warn!(function = %pool.spec.logical_id, "Task timed out after {:.2} seconds", timeout.as_secs_f64());
                // Lambda writes this line to the function's own log stream,
                // with the function's timeout (scenario time).
                self.inner.logs.push(
                    &pool.spec.function_name,
                    format!(
                        "{} {request_id} Task timed out after {:.2} seconds",
                        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                        pool.spec.timeout.as_secs_f64()
                    ),
                );
                instance.kill().await;
                Outcome::Timeout { after_ms: timeout.as_millis() as u64 }
            }
            status = instance.exited() => Outcome::Crash { status },
        };
        record.duration_ms = started.at.elapsed().as_secs_f64() * 1000.0;
        outcome
    }

    /// Kills every instance (and stops their Runtime API servers).
    pub async fn shutdown(&self) {
        let instances: Vec<Arc<Instance>> = self
            .inner
            .instances
            .lock()
            .expect("instances lock")
            .drain()
            .map(|(_, i)| i)
            .collect();
        for pool in self.inner.pools.values() {
            pool.idle.lock().expect("idle lock").clear();
        }
        let kills = instances.iter().map(|i| i.kill());
        futures_util::future::join_all(kills).await;
    }
}

/// One instance counted as initialising, until dropped (also when the
/// invocation is abandoned mid-init).
struct Initialising<'a>(&'a AtomicUsize);

impl<'a> Initialising<'a> {
    fn start(inner: &'a Inner) -> Self {
        let now = inner.initialising.fetch_add(1, Ordering::SeqCst) + 1;
        inner.peak_initialising.fetch_max(now, Ordering::SeqCst);
        Self(&inner.initialising)
    }
}

impl Drop for Initialising<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn started_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A request id in the UUID shape AWS uses.
pub fn uuid_like() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
