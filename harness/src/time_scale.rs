//! The one `--time-scale N` knob: every AWS and upstream time limit (function
//! timeouts and deadlines, idle and maximum connection time, integration
//! timeouts, model session limits) and every scenario pause is divided by N,
//! so a 14-minute assessment or a 15-minute Lambda timeout reproduces in
//! seconds. Reports state the scale; cost is computed in scenario time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A time scale factor (1 = real time, 60 = one scenario minute per real second).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct TimeScale(f64);

/// Why a time scale was refused.
#[derive(Debug, thiserror::Error)]
#[error("time scale must be a finite number from 1 to 10000, got {0}")]
pub struct InvalidTimeScale(String);

impl TimeScale {
    /// Real time.
    pub const REAL_TIME: TimeScale = TimeScale(1.0);

    /// A scale of `factor` (1 to 10000).
    pub fn new(factor: f64) -> Result<Self, InvalidTimeScale> {
        if factor.is_finite() && (1.0..=10_000.0).contains(&factor) {
            Ok(Self(factor))
        } else {
            Err(InvalidTimeScale(factor.to_string()))
        }
    }

    /// The factor.
    pub fn factor(self) -> f64 {
        self.0
    }

    /// A scenario-time duration in real time (divided by the factor).
    pub fn to_real(self, scenario: Duration) -> Duration {
        scenario.div_f64(self.0)
    }

    /// A real-time duration in scenario time (multiplied by the factor).
    pub fn to_scenario(self, real: Duration) -> Duration {
        real.mul_f64(self.0)
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL_TIME
    }
}

impl TryFrom<f64> for TimeScale {
    type Error = InvalidTimeScale;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TimeScale> for f64 {
    fn from(scale: TimeScale) -> f64 {
        scale.0
    }
}

impl FromStr for TimeScale {
    type Err = InvalidTimeScale;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<f64>()
            .map_err(|_| InvalidTimeScale(s.to_owned()))
            .and_then(Self::new)
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_and_multiplies() {
        let scale: TimeScale = "60".parse().unwrap();
        assert_eq!(
            scale.to_real(Duration::from_secs(900)),
            Duration::from_secs(15)
        );
        assert_eq!(
            scale.to_scenario(Duration::from_secs(15)),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["0", "0.5", "-3", "NaN", "inf", "abc", "20000"] {
            assert!(bad.parse::<TimeScale>().is_err(), "{bad}");
        }
    }
}
