//! The billing rules AWS applies before any price: metering units (a
//! WebSocket message in 32 KB units, an HTTP API request in 512 KB units),
//! Lambda's 1 ms rounding and GB-seconds, and free tiers. Pure functions; the
//! prices themselves are in the pricing table ([`super::pricing`]).
//!
//! Time-scaled runs: a Lambda invocation's duration is measured in real time
//! and converted to scenario time (times the scale) *before* the 1 ms
//! rounding, as AWS would round the scenario-length invocation; rounding the
//! real duration first would add up to `scale` ms per invocation. INIT is
//! not converted: starting a process and building its SDK clients is real
//! work that takes as long whatever the scale.

/// A WebSocket message is metered in 32 KB units (a 33 KB message counts 2).
pub(crate) const WEBSOCKET_MESSAGE_UNIT_BYTES: u64 = 32 * 1024;

/// An HTTP API request is metered in 512 KB units (a 600 KB request counts 2).
pub(crate) const HTTP_API_REQUEST_UNIT_BYTES: u64 = 512 * 1024;

/// Milliseconds in a second, for GB-seconds.
const MS_PER_SECOND: f64 = 1000.0;

/// Megabytes in a gigabyte as Lambda counts memory (1024 MB = 1 GB).
const MB_PER_GB: f64 = 1024.0;

/// The units a payload of `bytes` is metered in: every started unit counts,
/// and an empty payload still counts one.
pub(crate) fn metered_units(bytes: u64, unit_bytes: u64) -> u64 {
    bytes.div_ceil(unit_bytes.max(1)).max(1)
}

/// An invocation's billed duration in scenario time: its real duration times
/// the time scale, rounded up to the next millisecond.
pub(crate) fn billed_duration_ms(real_ms: f64, time_scale: f64) -> u64 {
    let scenario = real_ms.max(0.0) * time_scale.max(1.0);
    // A float product such as 5.000000001 must not bill 6 ms: round to the
    // microsecond first, then up to the millisecond.
    ((scenario * 1000.0).round() / 1000.0).ceil() as u64
}

/// INIT's billed duration: its real duration rounded up to the next
/// millisecond (not converted: see the module documentation).
pub(crate) fn billed_init_ms(real_ms: f64) -> u64 {
    billed_duration_ms(real_ms, 1.0)
}

/// GB-seconds of `billed_ms` at `memory_mb` of configured memory.
pub(crate) fn gb_seconds(billed_ms: u64, memory_mb: u32) -> f64 {
    billed_ms as f64 / MS_PER_SECOND * f64::from(memory_mb) / MB_PER_GB
}

/// A monthly free-tier allowance, possibly shared by several lines (Lambda's
/// 400,000 GB-seconds are shared by x86_64 and arm64).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Allowance {
    /// What is left this month.
    pub remaining: f64,
}

impl Allowance {
    /// A fresh allowance.
    pub(crate) fn new(quantity: f64) -> Self {
        Self {
            remaining: quantity.max(0.0),
        }
    }

    /// Takes what it can from `quantity`; returns what is left to pay for.
    pub(crate) fn apply(&mut self, quantity: f64) -> f64 {
        let free = quantity.min(self.remaining).max(0.0);
        self.remaining -= free;
        quantity - free
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn websocket_messages_count_in_32_kb_units() {
        assert_eq!(metered_units(0, WEBSOCKET_MESSAGE_UNIT_BYTES), 1);
        assert_eq!(metered_units(1, WEBSOCKET_MESSAGE_UNIT_BYTES), 1);
        assert_eq!(metered_units(32 * 1024, WEBSOCKET_MESSAGE_UNIT_BYTES), 1);
        assert_eq!(
            metered_units(32 * 1024 + 1, WEBSOCKET_MESSAGE_UNIT_BYTES),
            2
        );
        // The pricing page's example: a 33 KB message counts 2.
        assert_eq!(metered_units(33 * 1024, WEBSOCKET_MESSAGE_UNIT_BYTES), 2);
        assert_eq!(metered_units(128 * 1024, WEBSOCKET_MESSAGE_UNIT_BYTES), 4);
    }

    #[test]
    fn http_api_requests_count_in_512_kb_units() {
        assert_eq!(metered_units(200, HTTP_API_REQUEST_UNIT_BYTES), 1);
        assert_eq!(metered_units(512 * 1024, HTTP_API_REQUEST_UNIT_BYTES), 1);
        assert_eq!(metered_units(600 * 1024, HTTP_API_REQUEST_UNIT_BYTES), 2);
    }

    #[test]
    fn durations_round_up_to_the_millisecond() {
        assert_eq!(billed_duration_ms(0.0, 1.0), 0);
        assert_eq!(billed_duration_ms(0.2, 1.0), 1);
        assert_eq!(billed_duration_ms(1.0, 1.0), 1);
        assert_eq!(billed_duration_ms(1.001, 1.0), 2);
        // Below the microsecond the emulator measures in, nothing is billed.
        assert_eq!(billed_duration_ms(1.0000004, 1.0), 1);
        assert_eq!(billed_duration_ms(99.5, 1.0), 100);
    }

    #[test]
    fn scaled_durations_round_after_scaling() {
        // 0.25 ms real at scale 12 is 3 ms of scenario time, not ceil(0.25) x 12 = 12.
        assert_eq!(billed_duration_ms(0.25, 12.0), 3);
        assert_eq!(billed_duration_ms(70_000.0, 12.0), 840_000);
        // Float noise does not bill an extra millisecond.
        assert_eq!(billed_duration_ms(0.1 + 0.2, 10.0), 3);
        // INIT is not scaled.
        assert_eq!(billed_init_ms(38.2), 39);
    }

    #[test]
    fn gb_seconds_by_memory() {
        assert_eq!(gb_seconds(1000, 1024), 1.0);
        assert_eq!(gb_seconds(840_000, 2048), 1680.0);
        assert_eq!(gb_seconds(1, 128), 0.000125);
    }

    #[test]
    fn free_tiers_are_shared_and_used_up() {
        let mut tier = Allowance::new(400_000.0);
        assert_eq!(tier.apply(300_000.0), 0.0);
        assert_eq!(tier.apply(150_000.0), 50_000.0);
        assert_eq!(tier.apply(10.0), 10.0);
        assert_eq!(tier.remaining, 0.0);
    }

    proptest! {
        #[test]
        fn more_bytes_never_fewer_units(a in 0u64..10_000_000, extra in 0u64..10_000_000) {
            prop_assert!(
                metered_units(a + extra, WEBSOCKET_MESSAGE_UNIT_BYTES)
                    >= metered_units(a, WEBSOCKET_MESSAGE_UNIT_BYTES)
            );
        }

        #[test]
        fn billed_never_less_than_scaled(real in 0.0f64..1_000_000.0, scale in 1.0f64..100.0) {
            let billed = billed_duration_ms(real, scale) as f64;
            prop_assert!(billed + 0.001 >= real * scale);
            prop_assert!(billed < real * scale + 1.001);
        }
    }
}
