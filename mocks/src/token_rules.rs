//! Token rules: how many tokens a second of audio counts as, by provider,
//! and how much a model "thinks" when a request leaves thinking dynamic.
//! They are read from the project's pricing table (pricing/pricing.toml,
//! built in), the file the harness prices with, so one edit moves both the
//! mocks' usage counts and the cost model; each rule names its source, the
//! date it was checked, and what no source could confirm.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The pricing table, as built in.
pub const TABLE: &str = include_str!("../../pricing/pricing.toml");

/// The providers whose usage the mocks count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Vertex AI (Gemini Live and `generateContent`).
    Vertex,
    /// Amazon Bedrock (Nova Sonic).
    Bedrock,
}

impl Provider {
    /// The provider's name in the table (`[token_rules."NAME"]`), as the
    /// model prices name it too.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Vertex => "Vertex AI",
            Provider::Bedrock => "Bedrock",
        }
    }
}

/// One provider's rules (`[token_rules."PROVIDER"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRules {
    /// Tokens per second of audio heard (rounded up per utterance or session).
    pub audio_in_per_second: f64,
    /// Tokens per second of audio spoken.
    pub audio_out_per_second: f64,
    /// Where the rates come from.
    pub source: String,
    /// When the source was last read (YYYY-MM-DD).
    pub checked: String,
    /// What no source could confirm, if anything.
    #[serde(default)]
    pub unconfirmed: Option<String>,
    /// Thinking tokens a mock reports for a request with dynamic thinking.
    #[serde(default)]
    pub mock_dynamic_thinking_tokens: Option<u64>,
    /// Why that figure (it is no published one).
    #[serde(default)]
    pub mock_dynamic_thinking_source: Option<String>,
}

impl TokenRules {
    /// Tokens for `duration` of audio heard, rounded up.
    pub fn audio_in_tokens(&self, duration: Duration) -> u64 {
        audio_tokens(duration, self.audio_in_per_second)
    }

    /// Tokens for `duration` of audio spoken, rounded up.
    pub fn audio_out_tokens(&self, duration: Duration) -> u64 {
        audio_tokens(duration, self.audio_out_per_second)
    }

    /// Thinking tokens for a request: none with a budget of 0, at most a
    /// positive budget, and the dynamic figure otherwise (`None` or -1).
    pub fn thinking_tokens(&self, budget: Option<i64>) -> u64 {
        let dynamic = self.mock_dynamic_thinking_tokens.unwrap_or(0);
        match budget {
            Some(budget) if budget >= 0 => dynamic.min(budget.unsigned_abs()),
            _ => dynamic,
        }
    }

    /// Why the rules cannot be used, if they cannot: rates must be positive
    /// numbers, and the source and the date given.
    pub fn problem(&self) -> Option<String> {
        let rates = [self.audio_in_per_second, self.audio_out_per_second];
        if rates.iter().any(|rate| !(rate.is_finite() && *rate > 0.0)) {
            return Some("audio rates must be numbers > 0".to_owned());
        }
        if self.source.trim().is_empty() {
            return Some("has no source".to_owned());
        }
        if chrono::NaiveDate::parse_from_str(&self.checked, "%Y-%m-%d").is_err() {
            return Some(format!(
                "checked {:?} is not a date (YYYY-MM-DD)",
                self.checked
            ));
        }
        if self.mock_dynamic_thinking_tokens.is_some()
            && self
                .mock_dynamic_thinking_source
                .as_deref()
                .is_none_or(|source| source.trim().is_empty())
        {
            return Some(
                "mock_dynamic_thinking_tokens has no mock_dynamic_thinking_source".to_owned(),
            );
        }
        None
    }
}

fn audio_tokens(duration: Duration, per_second: f64) -> u64 {
    (duration.as_secs_f64() * per_second).ceil() as u64
}

/// The part of the table the mocks read (the rest is the harness's).
#[derive(Debug, Deserialize)]
struct RulesPart {
    #[serde(default)]
    token_rules: BTreeMap<String, TokenRules>,
}

/// Every provider's rules in a table's text.
pub fn parse(table: &str) -> Result<BTreeMap<String, TokenRules>, String> {
    let part: RulesPart = toml::from_str(table).map_err(|e| e.to_string())?;
    for (provider, rules) in &part.token_rules {
        if let Some(problem) = rules.problem() {
            return Err(format!("token_rules.{provider:?}: {problem}"));
        }
    }
    Ok(part.token_rules)
}

/// A provider's rules in the built-in table.
///
/// # Panics
/// If the built-in table lacks them or they are invalid, which the tests of
/// this module rule out for every provider.
pub fn built_in(provider: Provider) -> &'static TokenRules {
    static RULES: OnceLock<BTreeMap<String, TokenRules>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        parse(TABLE).unwrap_or_else(|e| panic!("pricing/pricing.toml (built in): {e}"))
    });
    rules.get(provider.name()).unwrap_or_else(|| {
        panic!(
            "pricing/pricing.toml (built in) has no [token_rules.{:?}]",
            provider.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_has_valid_rules_for_every_provider() {
        for provider in [Provider::Vertex, Provider::Bedrock] {
            let rules = built_in(provider);
            assert!(rules.problem().is_none(), "{provider:?}");
        }
    }

    #[test]
    fn vertex_counts_audio_as_google_documents_it() {
        // "each second of audio as 32 tokens; ... one minute of audio is
        // represented as 1,920 tokens" (ai.google.dev, tokens).
        let rules = built_in(Provider::Vertex);
        assert_eq!(rules.audio_in_tokens(Duration::from_secs(60)), 1_920);
        assert_eq!(rules.audio_in_tokens(Duration::from_millis(1)), 1);
        assert_eq!(rules.audio_out_tokens(Duration::ZERO), 0);
    }

    #[test]
    fn thinking_follows_the_budget() {
        let rules = built_in(Provider::Vertex);
        let dynamic = rules.mock_dynamic_thinking_tokens.expect("Vertex thinks");
        assert!(dynamic > 0);
        assert_eq!(rules.thinking_tokens(None), dynamic);
        assert_eq!(rules.thinking_tokens(Some(-1)), dynamic);
        assert_eq!(rules.thinking_tokens(Some(0)), 0);
        assert_eq!(rules.thinking_tokens(Some(100)), 100.min(dynamic));
    }

    #[test]
    fn a_table_edit_moves_the_counts_and_bad_rules_are_refused() {
        let edited = TABLE.replace("audio_in_per_second = 32", "audio_in_per_second = 40");
        let rules = parse(&edited).expect("edited table parses");
        assert_eq!(
            rules["Vertex AI"].audio_in_tokens(Duration::from_secs(1)),
            40
        );
        let zero = TABLE.replace("audio_in_per_second = 32", "audio_in_per_second = 0");
        let error = parse(&zero).expect_err("a zero rate is refused");
        assert!(
            error.contains("Vertex AI") && error.contains("> 0"),
            "{error}"
        );
        let undated = TABLE.replace(
            "checked = \"2026-12-07\"\nunconfirmed = \"25 a",
            "checked = \"soon\"\nunconfirmed = \"25 a",
        );
        let error = parse(&undated).expect_err("an undated rule is refused");
        assert!(error.contains("not a date"), "{error}");
    }
}
