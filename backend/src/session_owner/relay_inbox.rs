//! The owner's side of the relay: [`RelayInbox`] reads every item the
//! session's later invocations wrote, deletes them at once (no input, audio
//! above all, outlives its use), and hands them over in the order API
//! Gateway received them.
//!
//! API Gateway invokes the function concurrently, one invocation per
//! message, so items are *written* out of order: a message that meets a cold
//! start lands hundreds of milliseconds after the ones behind it. Reading
//! "after the last key" would skip such a late item for ever; the inbox
//! instead reads whatever is in the table and keeps a jitter buffer: audio
//! waits until it is `settle` old (by its receive time) so that earlier
//! chunks still being written can take their place before it. Anything that
//! is not audio (text, end, stop) is handed over at once, with everything
//! received before it. Audio written later than `settle` still goes, but out
//! of order: [`LateAudio`] counts it and names the cause in a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::relay::{Relay, RelayError, RelayItem};
use crate::clock::now_epoch_ms;

/// How long consumed keys are remembered (a failed delete must not hand an
/// item over twice).
const REMEMBER: Duration = Duration::from_secs(120);

/// The receive time (epoch ms) in a relay sort key `{epoch_ms:013}#{message_id}`.
pub(crate) fn received_ms(key: &str) -> i64 {
    key.split('#')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

/// How many of the held items (in receive order: receive time, is it audio)
/// can be handed over at `now_ms`: everything up to the last item that is
/// not audio, then audio items as long as they are at least `settle_ms` old.
pub(crate) fn releasable(held: &[(i64, bool)], now_ms: i64, settle_ms: i64) -> usize {
    let barrier = held
        .iter()
        .rposition(|(_, audio)| !audio)
        .map_or(0, |index| index + 1);
    let settled = held[barrier..]
        .iter()
        .take_while(|(received, _)| now_ms - received >= settle_ms)
        .count();
    barrier + settled
}

/// Audio handed over after audio API Gateway received later: the model
/// heard it out of order, because an invocation wrote it more than `settle`
/// after it was received (a cold start on a busy host, a slow write).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LateAudio {
    /// Receive time (epoch ms) of the newest audio handed over so far.
    newest_ms: i64,
    /// Audio items handed over out of order.
    pub count: u64,
    /// The furthest one was behind, ms of receive time.
    pub worst_behind_ms: i64,
}

impl LateAudio {
    /// Notes audio received at `received_ms` being handed over; returns how
    /// far (ms of receive time) it is behind audio already handed over.
    pub(crate) fn hand_over(&mut self, received_ms: i64) -> Option<i64> {
        if received_ms >= self.newest_ms {
            self.newest_ms = received_ms;
            return None;
        }
        let behind = self.newest_ms - received_ms;
        self.count += 1;
        self.worst_behind_ms = self.worst_behind_ms.max(behind);
        Some(behind)
    }
}

/// The session's relay items, in receive order, each handed over once.
#[derive(Debug)]
pub(crate) struct RelayInbox {
    relay: Relay,
    session_id: String,
    /// Items read (and deleted) but not handed over yet, by sort key.
    held: BTreeMap<String, RelayItem>,
    /// Keys already read, so an item whose delete failed is not taken twice.
    seen: BTreeSet<String>,
    /// How long audio waits for late writers.
    settle: Duration,
    /// Audio that came too late for its place.
    late: LateAudio,
}

impl RelayInbox {
    /// The inbox of `session_id`; items are handed over as soon as they are read.
    pub(crate) fn new(relay: Relay, session_id: impl Into<String>) -> Self {
        Self {
            relay,
            session_id: session_id.into(),
            held: BTreeMap::new(),
            seen: BTreeSet::new(),
            settle: Duration::ZERO,
            late: LateAudio::default(),
        }
    }

    /// The same, holding audio until it is `settle` old (see the module doc).
    pub(crate) fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// The items that can be handed over now, oldest first.
    pub(crate) async fn take(&mut self) -> Result<Vec<RelayItem>, RelayError> {
        let fresh = self.relay.receive(&self.session_id, None).await?;
        let mut read = Vec::with_capacity(fresh.len());
        for (key, item) in fresh {
            if self.seen.insert(key.clone()) {
                self.held.insert(key.clone(), item);
            }
            read.push(key);
        }
        if !read.is_empty()
            && let Err(e) = self.relay.acknowledge(&self.session_id, &read).await
        {
            tracing::warn!(session = %self.session_id, "relay delete failed: {e}");
        }
        let now = now_epoch_ms();
        let oldest_kept = now - REMEMBER.as_millis() as i64;
        self.seen.retain(|key| received_ms(key) >= oldest_kept);
        let order: Vec<(i64, bool)> = self
            .held
            .iter()
            .map(|(key, item)| (received_ms(key), matches!(item, RelayItem::Audio(_))))
            .collect();
        let ready = releasable(&order, now, self.settle.as_millis() as i64);
        let keys: Vec<String> = self.held.keys().take(ready).cloned().collect();
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(item) = self.held.remove(&key) else {
                continue;
            };
            if matches!(item, RelayItem::Audio(_))
                && let Some(behind) = self.late.hand_over(received_ms(&key))
            {
                tracing::warn!(
                    session = %self.session_id,
                    "audio relayed out of order: received {behind} ms before audio already sent \
                     to the model, written {} ms after API Gateway received it; RELAY_SETTLE_MS \
                     ({} ms) is shorter than the function's invocation delay",
                    now - received_ms(&key),
                    self.settle.as_millis()
                );
            }
            items.push(item);
        }
        Ok(items)
    }

    /// Forgets what is held and deletes everything left for the session (at its end).
    pub(crate) async fn purge(&mut self) {
        if self.late.count > 0 {
            tracing::warn!(
                session = %self.session_id,
                "{} audio chunks reached the model out of order (the worst {} ms behind)",
                self.late.count,
                self.late.worst_behind_ms
            );
        }
        self.held.clear();
        if let Err(e) = self.relay.purge(&self.session_id).await {
            tracing::warn!(session = %self.session_id, "relay purge failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_owner::relay::order_key;
    use proptest::prelude::*;

    #[test]
    fn keys_carry_their_receive_time() {
        assert_eq!(
            received_ms(&order_key(1_700_000_000_123, "abc")),
            1_700_000_000_123
        );
        assert_eq!(received_ms("garbage"), 0);
    }

    #[test]
    fn audio_waits_to_settle_and_text_flushes() {
        let audio = |ms| (ms, true);
        let text = |ms| (ms, false);
        // Fresh audio waits.
        assert_eq!(releasable(&[audio(990), audio(995)], 1_000, 300), 0);
        // Settled audio goes, up to the first fresh one.
        assert_eq!(
            releasable(&[audio(600), audio(700), audio(990)], 1_000, 300),
            2
        );
        // Text goes at once, with everything before it.
        assert_eq!(
            releasable(&[audio(990), text(995), audio(999)], 1_000, 300),
            2
        );
        // No settle time: everything goes.
        assert_eq!(releasable(&[audio(1_000), audio(1_000)], 1_000, 0), 2);
        assert_eq!(releasable(&[], 1_000, 300), 0);
    }

    #[test]
    fn audio_behind_what_was_handed_over_is_counted_late() {
        let mut late = LateAudio::default();
        assert_eq!(late.hand_over(100), None);
        assert_eq!(
            late.hand_over(100),
            None,
            "the same millisecond is in order"
        );
        assert_eq!(late.hand_over(250), None);
        assert_eq!(late.hand_over(120), Some(130));
        assert_eq!(late.hand_over(240), Some(10));
        assert_eq!(late.hand_over(300), None);
        assert_eq!(late.count, 2);
        assert_eq!(late.worst_behind_ms, 130);
    }

    proptest! {
        #[test]
        fn releases_a_prefix_that_never_leaves_a_fresh_audio_alone_before_later_items(
            items in proptest::collection::vec((0i64..2_000, any::<bool>()), 0..20),
            now in 0i64..3_000,
            settle in 0i64..1_000,
        ) {
            let mut items = items;
            items.sort();
            let n = releasable(&items, now, settle);
            prop_assert!(n <= items.len());
            for (index, (received, audio)) in items[..n].iter().enumerate() {
                let flushed = items[index..n].iter().any(|(_, a)| !a);
                prop_assert!(!audio || flushed || now - received >= settle);
            }
            if let Some((received, audio)) = items.get(n) {
                prop_assert!(*audio && now - received < settle, "the first item kept is fresh audio");
            }
        }
    }
}
