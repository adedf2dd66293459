//! Durations in scenario files: `250ms`, `10s`, `1m30s`, `2h`, `1.5s`, or a
//! bare number of seconds.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration as written in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span(pub Duration);

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a duration (write 250ms, 10s, 1m30s, 2h or a number of seconds)")]
pub struct BadSpan(pub String);

impl Span {
    /// Parses `1m30s` and friends.
    pub fn parse(text: &str) -> Result<Self, BadSpan> {
        let bad = || BadSpan(text.to_owned());
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad());
        }
        if let Ok(seconds) = trimmed.parse::<f64>() {
            return seconds_span(seconds).ok_or_else(bad);
        }
        let mut total = 0.0f64;
        let mut rest = trimmed;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let value: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale = match &rest[..unit] {
                "ms" => 0.001,
                "s" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            total += value * scale;
            rest = &rest[unit..];
        }
        seconds_span(total).ok_or_else(bad)
    }
}

fn seconds_span(seconds: f64) -> Option<Span> {
    (seconds.is_finite() && (0.0..1e9).contains(&seconds))
        .then(|| Span(Duration::from_secs_f64(seconds)))
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(seconds) => seconds_span(seconds)
                .ok_or_else(|| serde::de::Error::custom(BadSpan(seconds.to_string()))),
            Raw::Text(text) => Span::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: 250ms, 10s, 1m30s, 2h, or a number of seconds",
            "anyOf": [
                {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|min|h))+$"},
                {"type": "number", "minimum": 0}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(Span::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Span::parse("1m30s").unwrap().0, Duration::from_secs(90));
        assert_eq!(Span::parse("2h").unwrap().0, Duration::from_secs(7200));
        assert_eq!(Span::parse("1.5s").unwrap().0, Duration::from_millis(1500));
        assert_eq!(Span::parse("3").unwrap().0, Duration::from_secs(3));
        for bad in ["", "s", "10x", "-1s", "1s2", "m1"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(ms in 0u64..100_000_000) {
            let span = Span(Duration::from_millis(ms));
            prop_assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = Span::parse(&text);
        }
    }
}
