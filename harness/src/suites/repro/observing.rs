//! What a reproduction observes: its notes (each documented sign shown or
//! missing), a condition polled until it holds, and the connection id of a
//! function's latest `$connect`. The WebSocket client is the harness's
//! ([`crate::replay::client`]).

use std::time::Duration;

use crate::stack::LocalStack;

/// The connection id of the latest `$connect` of a function (events captured).
pub(crate) fn last_connection_id(stack: &LocalStack, function: &str) -> Option<String> {
    stack
        .lambda()
        .records()
        .iter()
        .rev()
        .find(|r| r.function == function && r.route.as_deref() == Some("$connect"))
        .and_then(|r| r.event.as_ref())
        .and_then(|e| e["requestContext"]["connectionId"].as_str())
        .map(str::to_owned)
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a reproduction saw, line by line, and whether each documented sign showed.
#[derive(Debug, Default)]
pub struct Notes {
    /// Observations, in order.
    pub lines: Vec<String>,
    /// Signs the seed documents that did not show.
    pub missing: Vec<String>,
}

impl Notes {
    /// Notes an observation.
    pub(crate) fn saw(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// Notes a documented sign: shown or not.
    pub(crate) fn expect(&mut self, shown: bool, sign: impl Into<String>) {
        let sign = sign.into();
        if shown {
            self.lines.push(format!("ok: {sign}"));
        } else {
            self.lines.push(format!("MISSING: {sign}"));
            self.missing.push(sign);
        }
    }
}
