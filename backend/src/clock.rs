//! The one wall clock of the backend: epoch seconds and milliseconds,
//! RFC 3339 timestamps, and the invocation's deadline on the monotonic clock.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};

/// Seconds since the epoch.
pub(crate) fn now_epoch_s() -> i64 {
    Utc::now().timestamp()
}

/// Milliseconds since the epoch.
pub(crate) fn now_epoch_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Now as RFC 3339 (`2025-01-31T10:00:00.123456789+00:00`).
pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339()
}

/// Now as RFC 3339 with milliseconds (`2025-01-31T10:00:00.000Z`): sorts as text.
pub(crate) fn now_rfc3339_millis() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The invocation's deadline (`Lambda-Runtime-Deadline-Ms`, epoch ms) as an
/// instant on this process's monotonic clock.
pub(crate) fn deadline_instant(deadline_epoch_ms: u64) -> Instant {
    let now_ms = u64::try_from(now_epoch_ms()).unwrap_or_default();
    Instant::now() + Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_as_far_as_their_epoch_ms() {
        let now_ms = now_epoch_ms() as u64;
        let left = deadline_instant(now_ms + 20_000).saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(19) && left <= Duration::from_secs(20));
        assert_eq!(now_epoch_s(), now_epoch_ms() / 1000);
    }
}
