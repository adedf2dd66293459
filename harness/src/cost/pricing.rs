//! The pricing table: a dated TOML file with a source for every price
//! (pricing/pricing.toml, built into the harness; `--pricing FILE` for
//! another). Loading checks that every price the cost model needs is there,
//! positive and sourced, so a typo fails loudly instead of pricing at zero.
//! Its token rules (audio tokens per second, by provider) are the ones the
//! mocks count with ([`mocks::token_rules`] reads the same file).

use std::collections::BTreeMap;
use std::path::Path;

use mocks::token_rules::{Provider, TokenRules};
use serde::Deserialize;

/// The built-in table (pricing/pricing.toml at build time).
pub const BUILT_IN: &str = include_str!("../../../pricing/pricing.toml");

/// What the built-in table is called in reports.
pub const BUILT_IN_NAME: &str = "pricing/pricing.toml (built in)";

/// The prices the cost model looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PriceKey {
    /// Lambda requests.
    LambdaRequests,
    /// Lambda GB-seconds on x86_64.
    LambdaGbSecondX86,
    /// Lambda GB-seconds on arm64.
    LambdaGbSecondArm,
    /// WebSocket messages (32 KB units).
    WebSocketMessages,
    /// WebSocket connection-minutes.
    WebSocketConnectionMinutes,
    /// HTTP API requests (512 KB units).
    HttpApiRequests,
    /// REST API requests.
    RestApiRequests,
    /// Data transfer out to the internet (GB).
    DataTransferOut,
    /// DynamoDB read request units.
    DynamoReadUnits,
    /// DynamoDB write request units.
    DynamoWriteUnits,
    /// Secrets Manager API calls.
    SecretsCalls,
    /// Secrets Manager secret-months.
    SecretMonths,
}

impl PriceKey {
    /// Every key.
    pub const ALL: [PriceKey; 12] = [
        PriceKey::LambdaRequests,
        PriceKey::LambdaGbSecondX86,
        PriceKey::LambdaGbSecondArm,
        PriceKey::WebSocketMessages,
        PriceKey::WebSocketConnectionMinutes,
        PriceKey::HttpApiRequests,
        PriceKey::RestApiRequests,
        PriceKey::DataTransferOut,
        PriceKey::DynamoReadUnits,
        PriceKey::DynamoWriteUnits,
        PriceKey::SecretsCalls,
        PriceKey::SecretMonths,
    ];

    /// Its name in the table (`[prices.NAME]`).
    pub fn name(self) -> &'static str {
        match self {
            PriceKey::LambdaRequests => "lambda_requests",
            PriceKey::LambdaGbSecondX86 => "lambda_gb_second_x86_64",
            PriceKey::LambdaGbSecondArm => "lambda_gb_second_arm64",
            PriceKey::WebSocketMessages => "websocket_messages",
            PriceKey::WebSocketConnectionMinutes => "websocket_connection_minutes",
            PriceKey::HttpApiRequests => "http_api_requests",
            PriceKey::RestApiRequests => "rest_api_requests",
            PriceKey::DataTransferOut => "data_transfer_out",
            PriceKey::DynamoReadUnits => "dynamodb_read_request_units",
            PriceKey::DynamoWriteUnits => "dynamodb_write_request_units",
            PriceKey::SecretsCalls => "secrets_manager_api_calls",
            PriceKey::SecretMonths => "secrets_manager_secret_months",
        }
    }
}

/// The table's header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableInfo {
    /// When the prices were taken (`YYYY-MM-DD`).
    pub date: String,
    /// AWS Region.
    pub region: String,
    /// Currency (USD).
    pub currency: String,
    /// What the table is.
    #[serde(default)]
    pub description: String,
}

/// Billing rules that are not prices.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingRules {
    /// Whether Lambda bills the INIT phase (custom runtimes: yes).
    pub lambda_init_billed: bool,
    /// Where that rule comes from.
    pub lambda_init_source: String,
}

/// A monthly free-tier allowance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeTier {
    /// Units a month.
    pub quantity: f64,
    /// Lines naming the same pool share the allowance.
    pub pool: String,
    /// Its conditions.
    #[serde(default)]
    pub note: String,
}

/// One price.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// AWS service.
    pub service: String,
    /// What is billed.
    pub item: String,
    /// Price of `per` units.
    pub usd: f64,
    /// How many units `usd` buys.
    pub per: f64,
    /// The unit.
    pub unit: String,
    /// Where the price comes from.
    pub source: String,
    /// A monthly free tier.
    #[serde(default)]
    pub free_tier: Option<FreeTier>,
}

impl Price {
    /// The price of one unit.
    pub fn unit_price(&self) -> f64 {
        self.usd / self.per
    }
}

/// A model's token prices (each of `per` tokens; absent: not priced).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// `Vertex AI` or `Bedrock`.
    pub provider: String,
    /// Tokens the prices are for.
    pub per: f64,
    /// Text input.
    #[serde(default)]
    pub text_in_usd: Option<f64>,
    /// Audio input.
    #[serde(default)]
    pub audio_in_usd: Option<f64>,
    /// Text output.
    #[serde(default)]
    pub text_out_usd: Option<f64>,
    /// Audio output.
    #[serde(default)]
    pub audio_out_usd: Option<f64>,
    /// Thinking tokens (`thoughtsTokenCount`), where the model bills them:
    /// at which of its rates (`text_out`).
    #[serde(default)]
    pub thinking_billed_as: Option<ThinkingRate>,
    /// Where the prices come from.
    pub source: String,
    /// When the source was last checked (YYYY-MM-DD).
    #[serde(default)]
    pub checked: Option<String>,
    /// What could not be confirmed, if anything.
    #[serde(default)]
    pub unconfirmed: Option<String>,
}

/// The rate thinking tokens are billed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingRate {
    /// The model's text output rate.
    TextOut,
}

impl ModelPrice {
    /// The price of `per` thinking tokens: the rate `thinking_billed_as`
    /// names (`None` where thinking is not billed, or that rate is unpriced).
    pub fn thinking_usd(&self) -> Option<f64> {
        match self.thinking_billed_as {
            Some(ThinkingRate::TextOut) => self.text_out_usd,
            None => None,
        }
    }

    /// The source, with the date it was checked and what is unconfirmed.
    pub fn provenance(&self) -> String {
        provenance(
            &self.source,
            self.checked.as_deref(),
            self.unconfirmed.as_deref(),
        )
    }
}

/// A line of the table as the reports cite it: its source, the date it was
/// checked and what could not be confirmed (model prices and token rules).
pub fn provenance(source: &str, checked: Option<&str>, unconfirmed: Option<&str>) -> String {
    let mut text = source.to_owned();
    if let Some(checked) = checked {
        text.push_str(&format!(" (checked {checked})"));
    }
    if let Some(unconfirmed) = unconfirmed {
        text.push_str(&format!("; unconfirmed: {unconfirmed}"));
    }
    text
}

/// The pricing table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingTable {
    /// Header.
    pub table: TableInfo,
    /// Rules.
    pub billing: BillingRules,
    /// Prices by name.
    pub prices: BTreeMap<String, Price>,
    /// Token prices by model id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelPrice>,
    /// Audio tokens per second (and the mocks' thinking), by provider.
    #[serde(default)]
    pub token_rules: BTreeMap<String, TokenRules>,
    /// Where the table was read from.
    #[serde(skip)]
    pub origin: String,
}

/// Why a table was refused.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The file could not be read.
    #[error("cannot read the pricing table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid TOML, or not the table's shape.
    #[error("pricing table {origin}: {message}")]
    Parse {
        /// Where from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but a price is missing, negative or unsourced.
    #[error("pricing table {origin}: {message}")]
    Invalid {
        /// Where from.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Bedrock's cross-Region inference profiles prefix a model id
/// (`us.amazon.nova-micro-v1:0`) and cost what the model costs.
const PROFILE_PREFIXES: [&str; 5] = ["us.", "eu.", "apac.", "us-gov.", "global."];

impl PricingTable {
    /// The built-in table.
    pub fn built_in() -> Result<Self, PricingError> {
        Self::parse(BUILT_IN, BUILT_IN_NAME)
    }

    /// A table from a file.
    pub fn load(path: &Path) -> Result<Self, PricingError> {
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// A table from TOML text; `origin` names it in errors and reports.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PricingError> {
        let mut table: PricingTable = toml::from_str(text).map_err(|e| PricingError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        table.origin = origin.to_owned();
        table.validate()?;
        Ok(table)
    }

    fn validate(&self) -> Result<(), PricingError> {
        let invalid = |message: String| PricingError::Invalid {
            origin: self.origin.clone(),
            message,
        };
        let date = &self.table.date;
        let date_ok = date.len() == 10
            && date.char_indices().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !date_ok {
            return Err(invalid(format!("table.date {date:?} is not YYYY-MM-DD")));
        }
        let missing: Vec<&str> = PriceKey::ALL
            .iter()
            .map(|k| k.name())
            .filter(|name| !self.prices.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!("missing prices: {}", missing.join(", "))));
        }
        for (name, price) in &self.prices {
            if !(price.usd.is_finite() && price.usd >= 0.0) {
                return Err(invalid(format!("prices.{name}.usd must be a number >= 0")));
            }
            if !(price.per.is_finite() && price.per > 0.0) {
                return Err(invalid(format!("prices.{name}.per must be a number > 0")));
            }
            if price.source.trim().is_empty() {
                return Err(invalid(format!("prices.{name} has no source")));
            }
            if let Some(tier) = &price.free_tier
                && !(tier.quantity.is_finite() && tier.quantity >= 0.0)
            {
                return Err(invalid(format!(
                    "prices.{name}.free_tier.quantity must be >= 0"
                )));
            }
        }
        for (name, model) in &self.models {
            let prices = [
                model.text_in_usd,
                model.audio_in_usd,
                model.text_out_usd,
                model.audio_out_usd,
            ];
            if prices
                .iter()
                .flatten()
                .any(|p| !(p.is_finite() && *p >= 0.0))
            {
                return Err(invalid(format!(
                    "models.{name:?}: prices must be numbers >= 0"
                )));
            }
            if !(model.per.is_finite() && model.per > 0.0) {
                return Err(invalid(format!("models.{name:?}.per must be a number > 0")));
            }
            if model.source.trim().is_empty() {
                return Err(invalid(format!("models.{name:?} has no source")));
            }
            if let Some(checked) = &model.checked
                && chrono::NaiveDate::parse_from_str(checked, "%Y-%m-%d").is_err()
            {
                return Err(invalid(format!(
                    "models.{name:?}.checked {checked:?} is not YYYY-MM-DD"
                )));
            }
        }
        for provider in [Provider::Vertex, Provider::Bedrock] {
            match self.token_rules.get(provider.name()) {
                None => {
                    return Err(invalid(format!(
                        "missing token_rules.{:?} (audio tokens per second)",
                        provider.name()
                    )));
                }
                Some(rules) => {
                    if let Some(problem) = rules.problem() {
                        return Err(invalid(format!(
                            "token_rules.{:?}: {problem}",
                            provider.name()
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// A provider's token rules (present: checked at load).
    pub fn token_rules(&self, provider: Provider) -> &TokenRules {
        &self.token_rules[provider.name()]
    }

    /// A price the cost model needs (present: checked at load).
    pub fn price(&self, key: PriceKey) -> &Price {
        &self.prices[key.name()]
    }

    /// A model's prices: by its id, or the id without an inference-profile prefix.
    pub fn model(&self, id: &str) -> Option<&ModelPrice> {
        self.models.get(id).or_else(|| {
            PROFILE_PREFIXES
                .iter()
                .find_map(|prefix| id.strip_prefix(prefix))
                .and_then(|bare| self.models.get(bare))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_loads_with_every_price_sourced() {
        let table = PricingTable::built_in().unwrap();
        assert_eq!(table.table.region, "us-east-1");
        assert!(table.billing.lambda_init_billed);
        for key in PriceKey::ALL {
            assert!(!table.price(key).source.is_empty(), "{key:?}");
        }
        // The reference figures.
        let per_unit = |key| table.price(key).unit_price();
        assert_eq!(per_unit(PriceKey::LambdaGbSecondX86), 0.0000166667);
        assert_eq!(per_unit(PriceKey::LambdaGbSecondArm), 0.0000133334);
        assert!((per_unit(PriceKey::LambdaRequests) - 0.2e-6).abs() < 1e-18);
        assert!((per_unit(PriceKey::SecretsCalls) - 0.000005).abs() < 1e-15);
        assert_eq!(
            table
                .model("gemini-live-2.5-flash-native-audio")
                .unwrap()
                .audio_out_usd,
            Some(12.0)
        );
    }

    #[test]
    fn the_mocks_count_with_the_tables_token_rules() {
        let table = PricingTable::built_in().unwrap();
        for provider in [Provider::Vertex, Provider::Bedrock] {
            assert_eq!(
                table.token_rules(provider),
                mocks::token_rules::built_in(provider),
                "{provider:?}"
            );
        }
        let flash = table.model("gemini-2.5-flash").unwrap();
        assert_eq!(flash.thinking_usd(), Some(2.50));
        let live = table.model("gemini-live-2.5-flash-native-audio").unwrap();
        assert_eq!(live.thinking_usd(), None);
        assert!(
            live.provenance().contains("unconfirmed:"),
            "{}",
            live.provenance()
        );
    }

    #[test]
    fn inference_profiles_cost_what_their_model_costs() {
        let table = PricingTable::built_in().unwrap();
        let micro = table.model("us.amazon.nova-micro-v1:0").unwrap();
        assert_eq!(micro.text_in_usd, Some(0.035));
        assert!(table.model("unknown-model").is_none());
    }

    #[test]
    fn a_missing_or_bad_price_is_refused() {
        let without =
            BUILT_IN.replace("[prices.rest_api_requests]", "[prices.rest_api_requests_x]");
        let error = PricingTable::parse(&without, "test")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("missing prices: rest_api_requests"),
            "{error}"
        );

        let negative = BUILT_IN.replace("usd = 0.20\n", "usd = -0.20\n");
        let error = PricingTable::parse(&negative, "test")
            .unwrap_err()
            .to_string();
        assert!(error.contains("lambda_requests.usd"), "{error}");

        let undated = BUILT_IN.replace("date = \"2026-11-22\"", "date = \"22/11/2026\"");
        assert!(PricingTable::parse(&undated, "test").is_err());

        let no_rules = BUILT_IN.replace("[token_rules.\"Bedrock\"]", "[token_rules.\"Bedrok\"]");
        let error = PricingTable::parse(&no_rules, "test")
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing token_rules.\"Bedrock\""), "{error}");

        let typo = BUILT_IN.replace("usd = 0.625", "uds = 0.625");
        let error = PricingTable::parse(&typo, "test").unwrap_err().to_string();
        assert!(error.contains("uds"), "{error}");
    }
}
