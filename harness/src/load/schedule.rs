//! When load arrives and who generates it: segments (`--segment i/n`, the
//! i-th of n slices of a plan, so n machines split one run and their parts
//! add up exactly to the whole), the open model's arrival times (the rate
//! changes linearly within each stage, as k6's ramping-arrival-rate), and a
//! pacer that keeps new connections or requests within a quota.

use std::ops::Range;
use std::str::FromStr;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::load::plan::OpenArrival;

/// One slice of a plan: slice `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Which slice, from 0 (a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// How many slices.
    pub count: u32,
}

impl Segment {
    /// The whole plan.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// The users (global indexes) of a closed model this slice runs: a
    /// contiguous range, the ranges of all slices covering `0..users` once.
    pub fn users(self, users: u32) -> Range<u32> {
        let bound = |i: u32| (u64::from(users) * u64::from(i) / u64::from(self.count)) as u32;
        bound(self.index)..bound(self.index + 1)
    }

    /// Whether open-model arrival `k` (global, from 0) belongs to this slice
    /// (arrivals are dealt round robin, so each slice sees the plan's shape).
    pub fn owns_arrival(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }

    /// This slice's share of a quota.
    pub fn share(self, quota: f64) -> f64 {
        quota / f64::from(self.count)
    }
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a segment did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("segment {0:?}: write i/n with 0 <= i < n (for example 0/4 ... 3/4)")]
pub struct BadSegment(String);

impl FromStr for Segment {
    type Err = BadSegment;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadSegment(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = index.trim().parse().map_err(|_| bad())?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Segment { index, count })
    }
}

/// The arrival times of an open model (scenario time from the start), every
/// arrival of the whole plan, in order: arrival k comes when the integral of
/// the rate reaches k.
pub(crate) fn arrival_offsets(arrival: &OpenArrival) -> Vec<Duration> {
    let mut offsets = Vec::new();
    let (mut elapsed, mut before, mut rate) = (0.0f64, 0.0f64, arrival.start_rate);
    for stage in &arrival.stages {
        let length = stage.duration.0.as_secs_f64();
        let (r0, r1) = (rate, stage.target);
        let in_stage = (r0 + r1) / 2.0 * length;
        let total = before + in_stage;
        // Arrivals k with before <= k < total fall in this stage.
        let mut k = before.ceil();
        while k < total {
            let need = k - before;
            let t = time_to_reach(need, r0, r1, length);
            offsets.push(Duration::from_secs_f64(elapsed + t));
            k += 1.0;
        }
        elapsed += length;
        before = total;
        rate = r1;
    }
    offsets
}

/// When, within a stage whose rate goes from `r0` to `r1` over `length`
/// seconds, the arrivals counted from the stage's start reach `need`.
fn time_to_reach(need: f64, r0: f64, r1: f64, length: f64) -> f64 {
    if need <= 0.0 {
        return 0.0;
    }
    let slope = (r1 - r0) / length;
    let t = if slope.abs() < 1e-12 {
        need / r0
    } else {
        // r0 t + slope t^2 / 2 = need
        (-r0 + (r0 * r0 + 2.0 * slope * need).max(0.0).sqrt()) / slope
    };
    t.clamp(0.0, length)
}

/// The highest rate an open model reaches (arrivals per second).
pub(crate) fn peak_rate(arrival: &OpenArrival) -> f64 {
    arrival
        .stages
        .iter()
        .map(|s| s.target)
        .fold(arrival.start_rate, f64::max)
}

/// Spaces out events so that at most `rate` a second start (no burst).
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer for `rate` events a second.
    pub(crate) fn new(rate: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / rate.max(1e-6)),
            next: Mutex::new(None),
        }
    }

    /// Waits for the slot of `events` events; returns how long it waited.
    pub(crate) async fn admit(&self, events: u32) -> Duration {
        if events == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let slot = {
            let mut next = self.next.lock().await;
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval * events);
            slot
        };
        tokio::time::sleep_until(slot).await;
        slot.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::plan::ArrivalStage;
    use crate::scenario::duration::Span;
    use proptest::prelude::*;

    fn stage(target: f64, seconds: f64) -> ArrivalStage {
        ArrivalStage {
            target,
            duration: Span(Duration::from_secs_f64(seconds)),
        }
    }

    #[test]
    fn segments_parse_and_refuse_nonsense() {
        assert_eq!(
            "2/4".parse::<Segment>().unwrap(),
            Segment { index: 2, count: 4 }
        );
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Segment>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_constant_rate_arrives_evenly() {
        let arrival = OpenArrival {
            start_rate: 10.0,
            stages: vec![stage(10.0, 2.0)],
            max_in_flight: 5,
        };
        let offsets = arrival_offsets(&arrival);
        assert_eq!(offsets.len(), 20);
        assert_eq!(offsets[0], Duration::ZERO);
        assert!((offsets[19].as_secs_f64() - 1.9).abs() < 1e-9);
        assert_eq!(peak_rate(&arrival), 10.0);
    }

    #[test]
    fn a_ramp_starts_slowly_then_speeds_up() {
        let arrival = OpenArrival {
            start_rate: 0.0,
            stages: vec![stage(20.0, 10.0), stage(20.0, 5.0)],
            max_in_flight: 5,
        };
        let offsets = arrival_offsets(&arrival);
        // 0 -> 20 over 10 s: 100 arrivals; then 5 s at 20: 100 more.
        assert_eq!(offsets.len(), 200);
        let first_half = offsets.iter().filter(|t| t.as_secs_f64() < 5.0).count();
        assert_eq!(
            first_half, 25,
            "a quarter of the ramp's arrivals come in its first half"
        );
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_events_out() {
        let pacer = Pacer::new(10.0);
        let started = Instant::now();
        for _ in 0..5 {
            pacer.admit(1).await;
        }
        assert_eq!(started.elapsed(), Duration::from_millis(400));
        // The fifth went at 400 ms: the next slot is at 500 ms, and two events
        // take two intervals, so the one after waits 200 ms.
        assert_eq!(pacer.admit(2).await, Duration::from_millis(100));
        assert_eq!(pacer.admit(1).await, Duration::from_millis(200));
    }

    proptest! {
        #[test]
        fn segments_cover_every_user_once(users in 0u32..10_000, count in 1u32..64) {
            let mut next = 0;
            for index in 0..count {
                let range = Segment { index, count }.users(users);
                prop_assert_eq!(range.start, next);
                next = range.end;
            }
            prop_assert_eq!(next, users);
        }

        #[test]
        fn segments_deal_every_arrival_once(arrivals in 0u64..5_000, count in 1u32..16) {
            let owners: u64 = (0..arrivals)
                .map(|k| (0..count).filter(|&index| Segment { index, count }.owns_arrival(k)).count() as u64)
                .sum();
            prop_assert_eq!(owners, arrivals);
        }

        #[test]
        fn arrivals_match_the_rate_integral(start in 0.0f64..50.0, targets in proptest::collection::vec((0.0f64..50.0, 0.5f64..10.0), 1..5)) {
            let arrival = OpenArrival {
                start_rate: start,
                stages: targets.iter().map(|(t, d)| stage(*t, *d)).collect(),
                max_in_flight: 1,
            };
            let mut integral = 0.0;
            let mut rate = start;
            for (target, length) in &targets {
                integral += (rate + target) / 2.0 * length;
                rate = *target;
            }
            let offsets = arrival_offsets(&arrival);
            prop_assert!((offsets.len() as f64 - integral.ceil()).abs() <= 1.0, "{} vs {}", offsets.len(), integral);
            prop_assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
