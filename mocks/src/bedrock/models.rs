//! The models the mock serves, as a catalog with Bedrock's lifecycle: Nova
//! Sonic for the bidirectional stream, the Nova text models (directly or
//! through a cross-region inference profile such as `us.`) for Converse and
//! InvokeModel. A model past its end-of-life date is refused as Bedrock
//! refuses it, and so is an id the catalog does not know.
//!
//! Dates come from AWS's model cards (Bedrock "Model lifecycle": after the
//! EOL date requests fail, and nothing migrates by itself). A model without
//! a date is Active as far as the published cards say.

use chrono::NaiveDate;

use super::errors::AwsError;
pub use crate::lifecycle::today;
use crate::lifecycle::{Lifecycle, Retirement};

/// What a model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Speech to speech, over `InvokeModelWithBidirectionalStream`.
    Sonic,
    /// Text, over Converse and InvokeModel.
    Text,
}

/// One model of the catalog.
pub type ModelCard = crate::lifecycle::ModelCard<Family>;

const NO_DATE: &str = "no end-of-life date on its Bedrock model card";

/// Every model the mock serves.
pub const CATALOG: &[ModelCard] = &[
    ModelCard {
        id: "amazon.nova-sonic-v1:0",
        family: Family::Sonic,
        retirement: Retirement::On("2026-09-14"),
        source: "Bedrock model card \"Nova Sonic\": Legacy, model EOL date September 14, 2026",
    },
    ModelCard {
        id: "amazon.nova-2-sonic-v1:0",
        family: Family::Sonic,
        retirement: Retirement::None,
        source: "Bedrock model card \"Nova 2 Sonic\": generally available since December 2025",
    },
    ModelCard {
        id: "amazon.nova-micro-v1:0",
        family: Family::Text,
        retirement: Retirement::None,
        source: NO_DATE,
    },
    ModelCard {
        id: "amazon.nova-lite-v1:0",
        family: Family::Text,
        retirement: Retirement::None,
        source: NO_DATE,
    },
    ModelCard {
        id: "amazon.nova-pro-v1:0",
        family: Family::Text,
        retirement: Retirement::None,
        source: NO_DATE,
    },
    ModelCard {
        id: "amazon.nova-premier-v1:0",
        family: Family::Text,
        retirement: Retirement::None,
        source: NO_DATE,
    },
    ModelCard {
        id: "amazon.nova-2-lite-v1:0",
        family: Family::Text,
        retirement: Retirement::None,
        source: NO_DATE,
    },
];

/// Cross-region inference profile prefixes.
const PROFILE_PREFIXES: &[&str] = &["us.", "eu.", "apac.", "us-gov.", "global."];

/// The catalog's card for `model_id` (an inference profile names its model).
pub fn card(model_id: &str) -> Option<&'static ModelCard> {
    let base = PROFILE_PREFIXES
        .iter()
        .find_map(|prefix| model_id.strip_prefix(prefix))
        .unwrap_or(model_id);
    CATALOG.iter().find(|card| card.id == base)
}

/// Whether `model_id` may be called for `family` on `day`, with Bedrock's
/// refusal when not: an unknown id (or one of another family) is a
/// ValidationException, a model past its end of life a
/// ResourceNotFoundException.
pub fn admit(model_id: &str, family: Family, day: NaiveDate) -> Result<(), AwsError> {
    // The stream takes a model id, not an inference profile.
    let served = card(model_id)
        .filter(|card| card.family == family && (family == Family::Text || card.id == model_id));
    match served {
        Some(card) => match card.lifecycle_on(day) {
            Lifecycle::EndOfLife { .. } => Err(AwsError::end_of_life()),
            Lifecycle::Active | Lifecycle::Deprecated { .. } | Lifecycle::Legacy { .. } => Ok(()),
        },
        _ => Err(AwsError::invalid_model()),
    }
}

/// The largest `maxTokens` a text model accepts.
pub fn max_output_tokens(model_id: &str) -> u32 {
    if model_id.contains("premier") {
        32_000
    } else {
        10_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        crate::lifecycle::parse_day(text).unwrap()
    }

    #[test]
    fn ids_and_families() {
        let now = day("2026-12-07");
        assert!(admit("amazon.nova-2-sonic-v1:0", Family::Sonic, now).is_ok());
        assert!(
            admit("us.amazon.nova-2-sonic-v1:0", Family::Sonic, now).is_err(),
            "no profile for the stream"
        );
        assert!(admit("amazon.nova-micro-v1:0", Family::Text, now).is_ok());
        assert!(admit("us.amazon.nova-micro-v1:0", Family::Text, now).is_ok());
        assert!(admit("eu.amazon.nova-lite-v1:0", Family::Text, now).is_ok());
        let unknown = admit("xx.amazon.nova-micro-v1:0", Family::Text, now).unwrap_err();
        assert_eq!(unknown.error_type, "ValidationException");
        assert!(admit("anthropic.claude-v2", Family::Text, now).is_err());
        assert!(admit("amazon.nova-micro-v1:0", Family::Sonic, now).is_err());
    }

    #[test]
    fn nova_sonic_v1_is_legacy_until_its_end_of_life_then_refused() {
        let v1 = card("amazon.nova-sonic-v1:0").unwrap();
        assert_eq!(
            v1.lifecycle_on(day("2026-09-13")),
            Lifecycle::Legacy {
                end_of_life: day("2026-09-14")
            }
        );
        assert!(admit("amazon.nova-sonic-v1:0", Family::Sonic, day("2026-09-13")).is_ok());
        let refused =
            admit("amazon.nova-sonic-v1:0", Family::Sonic, day("2026-09-14")).unwrap_err();
        assert_eq!(refused.error_type, "ResourceNotFoundException");
        assert_eq!(refused.status.as_u16(), 404);
        assert!(refused.message.contains("end of its life"));
        assert!(admit("amazon.nova-2-sonic-v1:0", Family::Sonic, day("2030-01-01")).is_ok());
    }

    #[test]
    fn the_catalog_is_well_formed() {
        let problems = crate::lifecycle::catalog_problems(CATALOG);
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
