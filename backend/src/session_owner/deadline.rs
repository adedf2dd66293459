//! When an owner stops: the margin it keeps before the invocation's
//! deadline (see [`crate::clock::deadline_instant`]) to end the session
//! cleanly, and steps of its loop cut short at that point.

use std::time::{Duration, Instant};

/// How long before its deadline an owner stops, to end the session cleanly
/// (store what it must, tell the client): a thirtieth of the time left, at
/// least a second and at most 30 s. A 15-minute function ends a 14-minute
/// test at 14:30, and so does a time-scaled run (at `--time-scale 12` the
/// deadline is 75 s away and the margin 2.5 s: 30 s of scenario time).
pub(crate) fn stop_margin(deadline: Instant) -> Duration {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (remaining / 30).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Runs one step of an owner's loop, cut short at `stop_at` (then
/// `stopped()`): handling what came, such as posting a long turn to a slow
/// gateway or reopening a model stream, must not eat the margin kept to end
/// the session.
pub(crate) async fn until_stop<T>(
    stop_at: Instant,
    step: impl Future<Output = T>,
    stopped: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout_at(stop_at.into(), step)
        .await
        .unwrap_or_else(|_| stopped())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::deadline_instant;

    #[test]
    fn deadlines_and_margins() {
        let now_ms = crate::clock::now_epoch_ms() as u64;
        let deadline = deadline_instant(now_ms + 20_000);
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(19) && left <= Duration::from_secs(20));
        let margin = stop_margin(deadline);
        assert_eq!(
            margin,
            Duration::from_secs(1),
            "a thirtieth of 20 s is under the 1 s minimum"
        );
        let fifteen_minutes = stop_margin(deadline_instant(now_ms + 900_000));
        assert!(
            fifteen_minutes > Duration::from_millis(29_900)
                && fifteen_minutes <= Duration::from_secs(30),
            "a 15-minute function stops at 14:30, not {fifteen_minutes:?} before its deadline"
        );
        let minute = stop_margin(deadline_instant(now_ms + 60_000));
        assert!(minute > Duration::from_millis(1900) && minute <= Duration::from_secs(2));
        assert_eq!(
            stop_margin(deadline_instant(now_ms.saturating_sub(5))),
            Duration::from_secs(1),
            "a past deadline still leaves the minimum margin"
        );
        assert_eq!(
            stop_margin(deadline_instant(now_ms + 3_600_000)),
            Duration::from_secs(30)
        );
    }
}
