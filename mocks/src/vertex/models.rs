//! The Gemini models the Vertex mock serves, as a catalog with their
//! lifecycle, and Vertex's refusals: a model the catalog does not know, or
//! one past its retirement, is refused as Vertex refuses it (generateContent:
//! 404 NOT_FOUND "Publisher Model ... was not found"; a Live setup naming a
//! retired model: close 1007 "... is not supported in the live api"; an
//! unknown one: close 1008).
//!
//! Dates and their sources: Vertex's "Model versions and lifecycle" page
//! listed gemini-2.5-flash, -pro and -flash-lite for retirement in June and
//! July 2026; Google then told Vertex customers the 2.5 models are retired no
//! earlier than 2026-10-16, with a final date to come with six months'
//! notice (reported by gcpstudyhub.com; no newer Vertex page is in the stored
//! docs), so they are Deprecated here and served. The Gemini API's own
//! shutdown of its gemini-2.5-flash (2026-12-01) does not apply to Vertex.

use chrono::NaiveDate;

use crate::lifecycle::{Lifecycle, Retirement};

/// What a model serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The Live API (`BidiGenerateContent` over WebSocket).
    Live,
    /// `generateContent`.
    Text,
}

/// One model of the catalog.
pub type ModelCard = crate::lifecycle::ModelCard<Family>;

const VERTEX_2_5_RETIREMENT: &str = "Vertex \"Model versions and lifecycle\" listed retirement in \
     June/July 2026; Google extended it to no earlier than 2026-10-16, final date with six \
     months' notice (gcpstudyhub.com, 2026); no final date in the stored docs";
const GEMINI_3_ON_VERTEX: &str = "served on Vertex (Vercel AI Gateway model pages name the vertex \
     provider; @ai-sdk/google-vertex added gemini-3.5/3.6 in July 2026); no retirement date \
     announced (Gemini API deprecations page)";
const GEMINI_2_0_SHUTDOWN: &str = "Vertex \"Model versions and lifecycle\": retirement \
     2026-02-05 (2.0 Flash) / 2026-02-25 (2.0 Flash-Lite); Firebase AI Logic: Gemini 2.0 Flash \
     and Flash-Lite shut down on 2026-06-01";

/// Every model the mock knows.
pub const CATALOG: &[ModelCard] = &[
    ModelCard {
        id: "gemini-live-2.5-flash-native-audio",
        family: Family::Live,
        retirement: Retirement::None,
        source: "generally available on Vertex (Google Cloud blog, GA of the Gemini Live API on \
                 Vertex AI); answered setupComplete on 2026-08-27 (litellm PR 38454); no \
                 retirement date in the stored docs",
    },
    ModelCard {
        id: "gemini-live-2.5-flash",
        family: Family::Live,
        retirement: Retirement::None,
        source: "Vertex Live model id; no retirement date in the stored docs",
    },
    ModelCard {
        id: "gemini-live-2.5-flash-preview-native-audio-09-2025",
        family: Family::Live,
        retirement: Retirement::On("2026-08-27"),
        source: "withdrawn from the Vertex Live API by 2026-08-27: setup closed with 1007 \
                 \"... is not supported in the live api\" (litellm PR 38454; the date is when \
                 it was seen, no announcement is in the stored docs)",
    },
    ModelCard {
        id: "gemini-2.0-flash-live-preview-04-09",
        family: Family::Live,
        retirement: Retirement::On("2025-12-09"),
        source: "Gemini API deprecations: the 2.0 Flash Live models shut down on 2025-12-09, \
                 replaced by the 2.5 native-audio models",
    },
    ModelCard {
        id: "gemini-2.5-flash",
        family: Family::Text,
        retirement: Retirement::NotBefore("2026-10-16"),
        source: VERTEX_2_5_RETIREMENT,
    },
    ModelCard {
        id: "gemini-2.5-flash-lite",
        family: Family::Text,
        retirement: Retirement::NotBefore("2026-10-16"),
        source: VERTEX_2_5_RETIREMENT,
    },
    ModelCard {
        id: "gemini-2.5-pro",
        family: Family::Text,
        retirement: Retirement::NotBefore("2026-10-16"),
        source: VERTEX_2_5_RETIREMENT,
    },
    ModelCard {
        id: "gemini-2.0-flash",
        family: Family::Text,
        retirement: Retirement::On("2026-06-01"),
        source: GEMINI_2_0_SHUTDOWN,
    },
    ModelCard {
        id: "gemini-2.0-flash-001",
        family: Family::Text,
        retirement: Retirement::On("2026-06-01"),
        source: GEMINI_2_0_SHUTDOWN,
    },
    ModelCard {
        id: "gemini-2.0-flash-lite",
        family: Family::Text,
        retirement: Retirement::On("2026-06-01"),
        source: GEMINI_2_0_SHUTDOWN,
    },
    ModelCard {
        id: "gemini-3-flash",
        family: Family::Text,
        retirement: Retirement::None,
        source: GEMINI_3_ON_VERTEX,
    },
    ModelCard {
        id: "gemini-3.5-flash",
        family: Family::Text,
        retirement: Retirement::None,
        source: GEMINI_3_ON_VERTEX,
    },
    ModelCard {
        id: "gemini-3.5-flash-lite",
        family: Family::Text,
        retirement: Retirement::None,
        source: GEMINI_3_ON_VERTEX,
    },
    ModelCard {
        id: "gemini-3.6-flash",
        family: Family::Text,
        retirement: Retirement::None,
        source: GEMINI_3_ON_VERTEX,
    },
    ModelCard {
        id: "gemini-3.8-flash",
        family: Family::Text,
        retirement: Retirement::None,
        source: GEMINI_3_ON_VERTEX,
    },
];

/// The catalog's card for `model_id`.
pub fn card(model_id: &str) -> Option<&'static ModelCard> {
    CATALOG.iter().find(|card| card.id == model_id)
}

/// Why Vertex refuses a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a model of this family.
    Unknown,
    /// Past its retirement.
    Retired {
        /// Since when.
        since: NaiveDate,
    },
}

/// Whether `model_id` may be used for `family` on `day`.
pub fn admit(model_id: &str, family: Family, day: NaiveDate) -> Result<(), Refusal> {
    let card = card(model_id)
        .filter(|card| card.family == family)
        .ok_or(Refusal::Unknown)?;
    match card.lifecycle_on(day) {
        Lifecycle::EndOfLife { since } => Err(Refusal::Retired { since }),
        Lifecycle::Active | Lifecycle::Deprecated { .. } | Lifecycle::Legacy { .. } => Ok(()),
    }
}

/// generateContent's 404 for a model it does not serve (unknown and
/// retired alike: "API requests referencing a retired model ID typically
/// return a 404 error", Vertex "Model versions and lifecycle").
pub fn not_found_message(resource: &str) -> String {
    format!(
        "Publisher Model `{resource}` was not found or your project does not have access to it. \
         Please ensure you are using a valid model version. For more information, see: \
         https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        crate::lifecycle::parse_day(text).unwrap()
    }

    #[test]
    fn the_catalog_is_well_formed() {
        let problems = crate::lifecycle::catalog_problems(CATALOG);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn live_and_text_models_are_admitted_by_family_and_lifecycle() {
        let now = day("2026-12-07");
        assert_eq!(
            admit("gemini-live-2.5-flash-native-audio", Family::Live, now),
            Ok(())
        );
        assert_eq!(
            admit("gemini-live-2.5-flash-native-audio", Family::Text, now),
            Err(Refusal::Unknown),
            "a Live model is not a generateContent model"
        );
        assert_eq!(admit("gemini-2.5-flash", Family::Text, now), Ok(()));
        assert_eq!(
            card("gemini-2.5-flash").unwrap().lifecycle_on(now),
            Lifecycle::Deprecated {
                not_before: day("2026-10-16")
            }
        );
        assert_eq!(
            admit(
                "gemini-live-2.5-flash-preview-native-audio-09-2025",
                Family::Live,
                now
            ),
            Err(Refusal::Retired {
                since: day("2026-08-27")
            })
        );
        assert_eq!(
            admit(
                "gemini-live-2.5-flash-preview-native-audio-09-2025",
                Family::Live,
                day("2026-08-01")
            ),
            Ok(()),
            "served before its retirement"
        );
        assert!(matches!(
            admit("gemini-2.0-flash-001", Family::Text, now),
            Err(Refusal::Retired { .. })
        ));
        assert_eq!(
            admit("gemini-9-ultra", Family::Text, now),
            Err(Refusal::Unknown)
        );
    }
}
