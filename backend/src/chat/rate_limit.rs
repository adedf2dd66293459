//! The per-connection rate limit of `chat_message`: at most
//! [`RateLimit::max_messages`] accepted messages in any rolling window of
//! [`RateLimit::window`] (default [`DEFAULT_MAX_MESSAGES`] per
//! [`DEFAULT_WINDOW_SECONDS`] s; `RATE_LIMIT_MESSAGES`,
//! `RATE_LIMIT_WINDOW_SECONDS`). The state is the list of the accepted
//! messages' times within the window, kept on the connection's item; this
//! module is the pure rule, the registry applies it with a conditional write
//! so concurrent invocations cannot both take the last slot.
//!
//! A refused message is not processed (no acknowledgement, no model call)
//! and the client is told when a slot frees up.

use std::time::Duration;

/// Default limit: messages per window.
pub(crate) const DEFAULT_MAX_MESSAGES: u32 = 20;
/// Default window, seconds.
pub(crate) const DEFAULT_WINDOW_SECONDS: u64 = 60;

/// The limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages accepted per window (at least 1).
    pub max_messages: u32,
    /// The rolling window.
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max_messages: DEFAULT_MAX_MESSAGES,
            window: Duration::from_secs(DEFAULT_WINDOW_SECONDS),
        }
    }
}

/// What the rule says about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accepted; `recent` is the new state (the window's accepted times,
    /// this one included, oldest first).
    Accept {
        /// The state to store.
        recent: Vec<i64>,
    },
    /// Refused; a slot frees up after `retry_after_ms`.
    Refuse {
        /// Milliseconds until the oldest accepted message leaves the window.
        retry_after_ms: i64,
    },
}

impl RateLimit {
    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Decides on a message arriving at `now_ms`, given the times of the
    /// messages accepted before (any order; times outside the window are dropped).
    pub fn decide(&self, recent: &[i64], now_ms: i64) -> Decision {
        let start = now_ms.saturating_sub(self.window_ms());
        let mut kept: Vec<i64> = recent.iter().copied().filter(|t| *t > start).collect();
        kept.sort_unstable();
        let limit = self.max_messages.max(1) as usize;
        if kept.len() < limit {
            kept.push(now_ms);
            kept.sort_unstable();
            return Decision::Accept { recent: kept };
        }
        // The slot of the `limit`-th newest message frees up when it leaves
        // the window (never later than one window from now: times written by
        // an instance whose clock runs ahead must not push it further).
        let oldest_counted = kept[kept.len() - limit];
        Decision::Refuse {
            retry_after_ms: (oldest_counted + self.window_ms() - now_ms).clamp(1, self.window_ms()),
        }
    }
}

/// Whole seconds a client should wait (at least 1).
pub(crate) fn retry_after_seconds(retry_after_ms: i64) -> i64 {
    ((retry_after_ms + 999) / 1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limit(max: u32, window_ms: u64) -> RateLimit {
        RateLimit {
            max_messages: max,
            window: Duration::from_millis(window_ms),
        }
    }

    #[test]
    fn times_ahead_of_this_clock_never_push_the_retry_past_one_window() {
        let rule = limit(2, 10_000);
        assert_eq!(
            rule.decide(&[5_000, 5_100], 4_000),
            Decision::Refuse {
                retry_after_ms: 10_000
            }
        );
    }

    #[test]
    fn fills_refuses_and_frees_up() {
        let rule = limit(3, 10_000);
        let mut recent = Vec::new();
        for now in [0, 1_000, 2_000] {
            match rule.decide(&recent, now) {
                Decision::Accept { recent: next } => recent = next,
                other => panic!("refused at {now}: {other:?}"),
            }
        }
        assert_eq!(
            rule.decide(&recent, 5_000),
            Decision::Refuse {
                retry_after_ms: 5_000
            }
        );
        // At 10 000 the message of time 0 has left the window.
        assert_eq!(
            rule.decide(&recent, 10_000),
            Decision::Accept {
                recent: vec![1_000, 2_000, 10_000]
            }
        );
        assert_eq!(retry_after_seconds(5_000), 5);
        assert_eq!(retry_after_seconds(1), 1);
        assert_eq!(retry_after_seconds(1_001), 2);
    }

    proptest! {
        /// Simulating arrivals one by one: no window ever holds more than
        /// the limit, every refusal happens with the window full, and the
        /// retry-after is exactly when a message is accepted again.
        #[test]
        fn never_more_than_the_limit_in_any_window(
            max in 1u32..6,
            window_ms in 1u64..5_000,
            gaps in proptest::collection::vec(0i64..2_000, 1..80),
        ) {
            let rule = limit(max, window_ms);
            let window = window_ms as i64;
            let mut now = 1_000_000i64;
            let mut state = Vec::new();
            let mut accepted: Vec<i64> = Vec::new();
            for gap in gaps {
                now += gap;
                match rule.decide(&state, now) {
                    Decision::Accept { recent } => {
                        prop_assert!(recent.len() <= max as usize);
                        accepted.push(now);
                        state = recent;
                    }
                    Decision::Refuse { retry_after_ms } => {
                        let in_window = accepted.iter().filter(|t| **t > now - window).count();
                        prop_assert_eq!(in_window, max as usize);
                        prop_assert!(retry_after_ms >= 1 && retry_after_ms <= window);
                        let later = now + retry_after_ms;
                        let accepted_later =
                            matches!(rule.decide(&state, later), Decision::Accept { .. });
                        prop_assert!(accepted_later);
                        if retry_after_ms > 1 {
                            let refused_before = matches!(
                                rule.decide(&state, later - 1),
                                Decision::Refuse { .. }
                            );
                            prop_assert!(refused_before);
                        }
                    }
                }
            }
            for (i, t) in accepted.iter().enumerate() {
                let in_window = accepted[i..].iter().take_while(|u| **u < t + window).count();
                prop_assert!(in_window <= max as usize, "{} accepted from {}", in_window, t);
            }
        }
    }
}
