//! Which instance runs an invocation: one at a time per instance, an idle
//! one when there is one, else a new one (a timed cold start), under the
//! reserved-concurrency cap.
//!
//! Cold starts initialise at most one per core at a time (the init slots): on
//! AWS every execution environment has its own CPU, here they share the
//! machine's, and unbounded concurrent inits fed on each other. An invocation
//! that finds every instance busy takes whichever comes first: an instance
//! going idle, or an init slot for a new one. Without the slots, a 12x
//! speaking assessment (120 audio chunks a second) on 2 cores grew a herd of
//! 1,500 instances whose inits starved DynamoDB Local, and the session hung.
//! Waiting invocations are served in arrival order, so an audio chunk is not
//! overtaken by the chunks behind it while it waits.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, OwnedSemaphorePermit};

use super::instance::{Instance, SpawnRequest};
use super::{FunctionSpec, LambdaEmulator};

/// One function's instances.
#[derive(Debug)]
pub(super) struct Pool {
    pub(super) spec: FunctionSpec,
    pub(super) idle: Mutex<Vec<Arc<Instance>>>,
    busy: Mutex<usize>,
    /// Woken when an instance goes idle.
    released: Notify,
    /// Invocations waiting for an instance, in arrival order (tokio's mutex
    /// is fair: it is granted in the order it was asked for).
    arrivals: tokio::sync::Mutex<()>,
}

/// How many cold starts may initialise at once: one per core.
pub(super) fn init_slot_count() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// What [`LambdaEmulator::acquire`] found in a pool.
enum Take {
    /// An instance to run on, with its init slot when it is new.
    Instance(Arc<Instance>, Option<OwnedSemaphorePermit>),
    /// Every instance is busy and no init slot is held: wait.
    Wait,
    /// The reserved-concurrency cap is reached, or no instance could start.
    Refused,
}

impl Pool {
    pub(super) fn new(spec: FunctionSpec) -> Self {
        Self {
            spec,
            idle: Mutex::new(Vec::new()),
            busy: Mutex::new(0),
            released: Notify::new(),
            arrivals: tokio::sync::Mutex::new(()),
        }
    }
}

impl LambdaEmulator {
    /// An idle instance, or a new one with its init slot; `None` when the
    /// reserved-concurrency cap is reached (or no instance can be started).
    ///
    /// First come, first served: invocations queue for the pool in arrival
    /// order, and only the head of the queue waits for an instance going idle
    /// or an init slot, keeping its place in the slots' queue while it waits.
    /// (Woken all together, waiters would race for each freed instance and
    /// one could lose every race: an audio chunk held for seconds reaches the
    /// owner after the silence that followed it.)
    pub(super) async fn acquire(
        &self,
        pool: &Pool,
    ) -> Option<(Arc<Instance>, Option<OwnedSemaphorePermit>)> {
        let _turn = pool.arrivals.lock().await;
        let slot = self.inner.init_slots.clone().acquire_owned();
        tokio::pin!(slot);
        loop {
            let released = pool.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release in between is not missed.
            released.as_mut().enable();
            match self.take(pool, None) {
                Take::Instance(instance, slot) => return Some((instance, slot)),
                Take::Refused => return None,
                Take::Wait => {}
            }
            tokio::select! {
                slot = &mut slot => {
                    let slot = slot.expect("the init slots are never closed");
                    return match self.take(pool, Some(slot)) {
                        Take::Instance(instance, slot) => Some((instance, slot)),
                        Take::Refused => None,
                        Take::Wait => unreachable!("given an init slot, take never waits"),
                    };
                }
                () = &mut released => {}
            }
        }
    }

    /// Under the pool's lock: an idle instance, else (given an init slot) a
    /// new one.
    fn take(&self, pool: &Pool, slot: Option<OwnedSemaphorePermit>) -> Take {
        let mut busy = pool.busy.lock().expect("busy lock");
        if let Some(cap) = pool.spec.reserved_concurrency
            && *busy >= cap as usize
        {
            return Take::Refused;
        }
        let warm = {
            let mut idle = pool.idle.lock().expect("idle lock");
            loop {
                match idle.pop() {
                    Some(instance) if instance.has_exited() => self.forget(&instance),
                    other => break other,
                }
            }
        };
        let taken = match (warm, slot) {
            (Some(instance), _) => Take::Instance(instance, None),
            (None, Some(slot)) => match self.spawn(&pool.spec) {
                Ok(instance) => Take::Instance(instance, Some(slot)),
                Err(e) => {
                    tracing::error!(function = %pool.spec.logical_id, "cannot start instance: {e}");
                    return Take::Refused;
                }
            },
            (None, None) => return Take::Wait,
        };
        *busy += 1;
        taken
    }

    pub(super) async fn release(&self, pool: &Pool, instance: Arc<Instance>, healthy: bool) {
        if healthy {
            pool.idle.lock().expect("idle lock").push(instance);
        } else {
            instance.kill().await;
            self.forget(&instance);
        }
        *pool.busy.lock().expect("busy lock") -= 1;
        // A waiting invocation may now take this instance, or (under a cap)
        // the freed place.
        pool.released.notify_waiters();
    }

    pub(super) fn forget(&self, instance: &Instance) {
        self.inner
            .instances
            .lock()
            .expect("instances lock")
            .remove(&instance.id);
    }

    fn spawn(&self, spec: &FunctionSpec) -> std::io::Result<Arc<Instance>> {
        let number = self.inner.next_instance.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{number}", spec.logical_id);
        let instance = Instance::spawn(SpawnRequest {
            id: id.clone(),
            function: &spec.logical_id,
            function_name: &spec.function_name,
            executable: &spec.executable,
            environment: &spec.environment,
            logs: self.inner.logs.clone(),
        })?;
        self.inner
            .instances
            .lock()
            .expect("instances lock")
            .insert(id, instance.clone());
        Ok(instance)
    }
}
