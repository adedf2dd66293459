//! Fault injection helpers the cases share: DynamoDB throttling through the
//! metering proxy's [`FaultHook`] (every n-th request, or everything, to
//! some tables), clearing every fault after a case, and waiting until no
//! function invocation runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ChaosError;
use crate::dynamodb::meter::{FaultHook, InjectedFault, RequestFacts};
use crate::stack::LocalStack;

/// Answers ProvisionedThroughputExceededException to every `every`-th
/// request (1: all of them) that names one of `tables` (any table when
/// empty), or to a window of consecutive requests.
#[derive(Debug)]
pub struct ThrottleHook {
    every: u64,
    /// Only requests numbered in this range (from 1) are refused.
    window: Option<(u64, u64)>,
    tables: Vec<String>,
    seen: AtomicU64,
    refused: AtomicU64,
}

impl ThrottleHook {
    /// Throttles every `every`-th request to `tables`.
    pub fn new(every: u64, tables: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            every: every.max(1),
            window: None,
            tables,
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Lets `after` requests through, then refuses the next `count` (more
    /// than the SDK's three attempts: a call in the middle of a job fails).
    pub fn window(after: u64, count: u64, tables: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            every: 1,
            window: Some((after + 1, after + count)),
            tables,
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl FaultHook for ThrottleHook {
    fn intercept(&self, request: &RequestFacts<'_>) -> Option<InjectedFault> {
        let table = request.table?;
        if !self.tables.is_empty() && !self.tables.iter().any(|t| t == table) {
            return None;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let in_window = self
            .window
            .is_none_or(|(from, to)| (from..=to).contains(&n));
        if in_window && n.is_multiple_of(self.every) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Some(InjectedFault::throughput_exceeded())
        } else {
            None
        }
    }
}

/// Installs a throttle on the stack's DynamoDB metering proxy.
pub fn throttle(stack: &LocalStack, hook: &Arc<ThrottleHook>) {
    let hook: Arc<dyn FaultHook> = hook.clone();
    stack.dynamodb_meter().set_fault_hook(Some(hook));
}

/// Removes every fault: the DynamoDB hook, the mocks' faults; restarts
/// DynamoDB Local if a case left it down.
pub async fn clear_all(stack: &LocalStack) -> Result<(), ChaosError> {
    stack.dynamodb_meter().set_fault_hook(None);
    stack.mocks().vertex.clear_faults();
    stack.mocks().bedrock.clear_faults();
    let client = super::collect::store_client(stack).await;
    if client.list_tables().send().await.is_err() {
        stack.restart_dynamodb().await?;
    }
    Ok(())
}

/// Waits until no function invocation runs (true), or `limit` passes (false).
pub async fn wait_quiet(stack: &LocalStack, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if stack.lambda().running().is_empty() {
            // Twice, a moment apart: a `$disconnect` may be about to start.
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stack.lambda().running().is_empty() {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until an invocation of `function` (of `route` when given) runs,
/// then crashes its instance; the request id of what it crashed.
pub async fn crash_when_running(
    stack: &LocalStack,
    function: &str,
    route: Option<&str>,
    limit: Duration,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(victim) = stack.lambda().crash_running(function, route).await {
            return Some(victim.request_id);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
