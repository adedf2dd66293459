//! What the functions write: every instance's stdout and stderr lines, kept
//! per function for diagnostics, and apart from them the warnings and errors
//! (a `WARN` or `ERROR` record, Lambda's `Task timed out` line, a panic), which
//! a run's report lists so that a failed verdict shows what the backend said
//! about it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How many recent log lines each function keeps for diagnostics.
const LINES_KEPT: usize = 2_000;

/// How many of a function's most recent warnings are kept (all are counted).
const WARNINGS_KEPT: usize = 100;

/// Recent log lines of every function, kept for diagnostics.
#[derive(Debug, Default, Clone)]
pub struct FunctionLogs {
    kept: Arc<Mutex<BTreeMap<String, Kept>>>,
}

#[derive(Debug, Default)]
struct Kept {
    lines: VecDeque<String>,
    warnings: VecDeque<String>,
    warning_count: u64,
}

/// A function's warnings and errors.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoggedWarnings {
    /// How many it logged.
    pub count: u64,
    /// The most recent of them (at most 100), oldest first.
    pub last: Vec<String>,
}

/// Whether a log line is a warning or an error: a JSON record (the Rust
/// runtime's and Lambda's JSON log format) or a text record at level `WARN` or
/// `ERROR`, Lambda's `Task timed out after` line, or a Rust panic.
pub(super) fn is_warning(line: &str) -> bool {
    const JSON_LEVELS: [&str; 4] = [
        r#""level":"WARN""#,
        r#""level":"ERROR""#,
        r#""level": "WARN""#,
        r#""level": "ERROR""#,
    ];
    JSON_LEVELS.iter().any(|level| line.contains(level))
        || line.contains("Task timed out after")
        || line.contains(" panicked at ")
        || line
            .split_whitespace()
            .take(3)
            .any(|word| matches!(word, "WARN" | "ERROR"))
}

/// A log line as a person reads it: a JSON record as its level and message
/// (`fields.message` or `message`), any other line as it is.
pub fn readable(line: &str) -> String {
    let record: Option<serde_json::Value> = line
        .trim_start()
        .starts_with('{')
        .then(|| serde_json::from_str(line).ok())
        .flatten();
    let Some(record) = record else {
        return line.to_owned();
    };
    let message = record
        .pointer("/fields/message")
        .or_else(|| record.get("message"))
        .and_then(serde_json::Value::as_str);
    match (
        record.get("level").and_then(serde_json::Value::as_str),
        message,
    ) {
        (Some(level), Some(message)) => format!("{level} {message}"),
        _ => line.to_owned(),
    }
}

impl FunctionLogs {
    pub(super) fn push(&self, function: &str, line: String) {
        let mut kept = self.kept.lock().expect("log lock");
        let kept = kept.entry(function.to_owned()).or_default();
        if is_warning(&line) {
            kept.warning_count += 1;
            if kept.warnings.len() == WARNINGS_KEPT {
                kept.warnings.pop_front();
            }
            kept.warnings.push_back(line.clone());
        }
        if kept.lines.len() == LINES_KEPT {
            kept.lines.pop_front();
        }
        kept.lines.push_back(line);
    }

    /// Every function's kept lines by function name, oldest first (at most
    /// the last 2,000 of each: a function with 2,000 lines may have lost some).
    pub fn all(&self) -> BTreeMap<String, Vec<String>> {
        let kept = self.kept.lock().expect("log lock");
        kept.iter()
            .map(|(function, kept)| (function.clone(), kept.lines.iter().cloned().collect()))
            .collect()
    }

    /// The most recent lines a function wrote (stdout and stderr), oldest first.
    pub fn recent(&self, function: &str) -> Vec<String> {
        let kept = self.kept.lock().expect("log lock");
        kept.get(function)
            .map(|kept| kept.lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A function's warnings and errors since the stack started (counted
    /// even when older lines were dropped).
    pub fn warnings(&self, function: &str) -> LoggedWarnings {
        let kept = self.kept.lock().expect("log lock");
        kept.get(function)
            .map(|kept| LoggedWarnings {
                count: kept.warning_count,
                last: kept.warnings.iter().cloned().collect(),
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_told_from_other_lines() {
        let warnings = [
            r#"{"level":"WARN","fields":{"message":"audio relayed out of order"},"target":"backend::session_owner::relay_inbox"}"#,
            r#"{"timestamp":"2026-12-07T15:48:14Z","level":"ERROR","message":"Vertex AI initialisation failed"}"#,
            r#"{"level": "WARN", "message": "spaced JSON"}"#,
            "2026-12-07T15:48:14.145Z 6cea58e4 Task timed out after 30.00 seconds",
            "thread 'main' panicked at backend/src/bin/speaking.rs:12:5:",
            "2026-12-07T15:48:14.145611Z  WARN backend::session_owner::relay_inbox: relay delete failed",
            "ERROR something broke",
        ];
        for line in warnings {
            assert!(is_warning(line), "{line}");
        }
        let others = [
            r#"{"level":"INFO","fields":{"message":"WARN is a word here"}}"#,
            "2026-12-07T15:48:14.145611Z  INFO backend::speaking: session started",
            "START RequestId: 1 Version: $LATEST",
            "a plain line that names WARN after its level",
        ];
        for line in others {
            assert!(!is_warning(line), "{line}");
        }
    }

    #[test]
    fn json_records_read_as_level_and_message() {
        assert_eq!(
            readable(r#"{"level":"WARN","fields":{"message":"late audio","session":"s"}}"#),
            "WARN late audio"
        );
        assert_eq!(
            readable(r#"{"level":"ERROR","message":"init failed"}"#),
            "ERROR init failed"
        );
        for line in ["plain ERROR line", "{not json", r#"{"level":"WARN"}"#] {
            assert_eq!(readable(line), line);
        }
    }

    #[test]
    fn warnings_are_counted_past_what_is_kept() {
        let logs = FunctionLogs::default();
        for n in 0..(WARNINGS_KEPT + 5) {
            logs.push("f", format!("ERROR number {n}"));
            logs.push("f", format!("INFO number {n}"));
        }
        let warnings = logs.warnings("f");
        assert_eq!(warnings.count, WARNINGS_KEPT as u64 + 5);
        assert_eq!(warnings.last.len(), WARNINGS_KEPT);
        assert_eq!(warnings.last[0], "ERROR number 5");
        assert_eq!(logs.recent("f").len(), 2 * (WARNINGS_KEPT + 5));
        assert_eq!(logs.warnings("g"), LoggedWarnings::default());
    }
}
