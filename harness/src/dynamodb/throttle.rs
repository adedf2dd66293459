//! DynamoDB throttling, the [`FaultHook`] the reliability suites install on
//! the stack's metering proxy ([`super::meter`]): it answers
//! ProvisionedThroughputExceededException, as DynamoDB does, to some of the
//! requests naming some tables (any table when none is named), by one of
//! three rules:
//! - every n-th request ([`ThrottleHook::new`]);
//! - a window of consecutive requests ([`ThrottleHook::window`]);
//! - writes past a table's provisioned write capacity, in write requests a
//!   second with one second's worth of burst ([`ThrottleHook::write_capacity`]).
//!
//! Removing the hook (`set_fault_hook(None)`) is on-demand capacity again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::meter::{FaultHook, InjectedFault, RequestFacts};

/// Which of the requests that name the tables are refused.
#[derive(Debug)]
enum Rule {
    /// Every `every`-th, counted from 1; only those in `window` when set.
    Every {
        every: u64,
        window: Option<(u64, u64)>,
    },
    /// Writes past `per_second` a second (a token bucket holding a second's worth).
    WriteCapacity {
        per_second: f64,
        bucket: Mutex<Bucket>,
    },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Answers ProvisionedThroughputExceededException to requests that name one
/// of `tables` (any table when empty), by its rule.
#[derive(Debug)]
pub(crate) struct ThrottleHook {
    rule: Rule,
    tables: Vec<String>,
    seen: AtomicU64,
    refused: AtomicU64,
}

impl ThrottleHook {
    fn with_rule(rule: Rule, tables: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            rule,
            tables,
            seen: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Throttles every `every`-th request to `tables` (1: all of them).
    pub(crate) fn new(every: u64, tables: Vec<String>) -> Arc<Self> {
        let every = every.max(1);
        Self::with_rule(
            Rule::Every {
                every,
                window: None,
            },
            tables,
        )
    }

    /// Lets `after` requests through, then refuses the next `count` (more
    /// than the SDK's three attempts: a call in the middle of a job fails).
    pub(crate) fn window(after: u64, count: u64, tables: Vec<String>) -> Arc<Self> {
        let window = Some((after + 1, after + count));
        Self::with_rule(Rule::Every { every: 1, window }, tables)
    }

    /// Plays tables with `per_second` provisioned write units: PutItem,
    /// UpdateItem, DeleteItem, BatchWriteItem and TransactWriteItems past
    /// that rate (one second's worth may come at once) are refused; reads
    /// always go through.
    pub(crate) fn write_capacity(per_second: f64, tables: Vec<String>) -> Arc<Self> {
        let bucket = Mutex::new(Bucket {
            tokens: per_second,
            refilled: Instant::now(),
        });
        Self::with_rule(Rule::WriteCapacity { per_second, bucket }, tables)
    }

    /// Requests refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn refuses(&self, operation: &str) -> bool {
        match &self.rule {
            Rule::Every { every, window } => {
                let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
                let in_window = window.is_none_or(|(from, to)| (from..=to).contains(&n));
                in_window && n.is_multiple_of(*every)
            }
            Rule::WriteCapacity { per_second, bucket } => {
                let write = matches!(
                    operation,
                    "PutItem"
                        | "UpdateItem"
                        | "DeleteItem"
                        | "BatchWriteItem"
                        | "TransactWriteItems"
                );
                if !write {
                    return false;
                }
                let mut bucket = bucket.lock().expect("bucket lock");
                let elapsed = bucket.refilled.elapsed().as_secs_f64();
                bucket.tokens = (bucket.tokens + elapsed * per_second).min(*per_second);
                bucket.refilled = Instant::now();
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    false
                } else {
                    true
                }
            }
        }
    }
}

impl FaultHook for ThrottleHook {
    fn intercept(&self, request: &RequestFacts<'_>) -> Option<InjectedFault> {
        let table = request.table?;
        if !self.tables.is_empty() && !self.tables.iter().any(|t| t == table) {
            return None;
        }
        if self.refuses(request.operation) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Some(InjectedFault::throughput_exceeded())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(operation: &'a str, table: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            operation,
            table: Some(table),
        }
    }

    fn refused(hook: &ThrottleHook, operation: &str, table: &str) -> bool {
        hook.intercept(&request(operation, table)).is_some()
    }

    #[test]
    fn every_third_request_to_the_named_tables() {
        let hook = ThrottleHook::new(3, vec!["a".to_owned()]);
        let answers: Vec<bool> = (0..6).map(|_| refused(&hook, "GetItem", "a")).collect();
        assert_eq!(answers, [false, false, true, false, false, true]);
        assert!(!refused(&hook, "GetItem", "b"));
        assert_eq!(hook.refused(), 2);
    }

    #[test]
    fn a_window_of_requests_to_any_table() {
        let hook = ThrottleHook::window(2, 3, Vec::new());
        let answers: Vec<bool> = (0..7)
            .map(|n| refused(&hook, "PutItem", &format!("t{n}")))
            .collect();
        assert_eq!(answers, [false, false, true, true, true, false, false]);
        let fault = hook
            .intercept(&request("PutItem", "t"))
            .map(|f| f.error_type);
        assert_eq!(fault, None);
    }

    #[test]
    fn writes_past_the_write_capacity_and_never_reads() {
        let hook = ThrottleHook::write_capacity(2.0, vec!["users".to_owned()]);
        assert!(!refused(&hook, "TransactWriteItems", "users"));
        assert!(!refused(&hook, "PutItem", "users"));
        let fault = hook.intercept(&request("UpdateItem", "users"));
        assert_eq!(fault, Some(InjectedFault::throughput_exceeded()));
        assert!(!refused(&hook, "Query", "users"));
        assert!(!refused(&hook, "PutItem", "sessions"));
        assert_eq!(hook.refused(), 1);
    }
}
