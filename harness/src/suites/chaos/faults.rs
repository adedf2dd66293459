//! Fault injection helpers the cases share: installing a DynamoDB
//! [`ThrottleHook`] on the stack's metering proxy, clearing every fault
//! after a case, and waiting until no function invocation runs.

use std::sync::Arc;
use std::time::Duration;

use super::ChaosError;
use crate::dynamodb::meter::FaultHook;
use crate::dynamodb::throttle::ThrottleHook;
use crate::stack::LocalStack;

/// Installs a throttle on the stack's DynamoDB metering proxy.
pub(crate) fn throttle(stack: &LocalStack, hook: &Arc<ThrottleHook>) {
    let hook: Arc<dyn FaultHook> = hook.clone();
    stack.dynamodb_meter().set_fault_hook(Some(hook));
}

/// Removes every fault: the DynamoDB hook, the mocks' faults; restarts
/// DynamoDB Local if a case left it down.
pub(crate) async fn clear_all(stack: &LocalStack) -> Result<(), ChaosError> {
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
pub(crate) async fn wait_quiet(stack: &LocalStack, limit: Duration) -> bool {
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
pub(crate) async fn crash_when_running(
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
