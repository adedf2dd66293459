//! The models a template names, against their lifecycle: every function
//! environment value that is a model of the Bedrock or Vertex mock's
//! catalog is checked, and one that is Deprecated, Legacy or past its end of
//! life gets a warning (every local stack logs them as it starts: `harness
//! up`, `harness run`, chaos and repro). A model past its end of life fails
//! every call, locally as on AWS and Vertex.

use chrono::NaiveDate;
use mocks::lifecycle::Lifecycle;
use mocks::{bedrock, vertex};

use super::model::Template;

/// The lifecycle on `day` of a model either mock knows, with its source.
fn lifecycle_of(model_id: &str, day: NaiveDate) -> Option<(Lifecycle, &'static str)> {
    bedrock::models::card(model_id)
        .map(|card| (card.lifecycle_on(day), card.source))
        .or_else(|| {
            vertex::models::card(model_id).map(|card| (card.lifecycle_on(day), card.source))
        })
}

/// One warning per function variable that names a Deprecated, Legacy or
/// end-of-life model.
pub(crate) fn model_warnings(template: &Template, day: NaiveDate) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, function) in &template.functions {
        for (variable, value) in &function.environment {
            let Some((lifecycle, source)) = lifecycle_of(value, day) else {
                continue;
            };
            match lifecycle {
                Lifecycle::Active => {}
                Lifecycle::Deprecated { not_before } => warnings.push(format!(
                    "{name}: {variable}={value} is deprecated: its retirement is announced for no \
                     earlier than {not_before}, the final date still to come ({source})"
                )),
                Lifecycle::Legacy { end_of_life } => warnings.push(format!(
                    "{name}: {variable}={value} is a Legacy model; its end of life is \
                     {end_of_life} ({source})"
                )),
                Lifecycle::EndOfLife { since } => warnings.push(format!(
                    "{name}: {variable}={value} reached its end of life on {since}: every call \
                     fails, locally as in the cloud ({source})"
                )),
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::template::{LoadOptions, load_file};

    fn backend_template(overrides: &[(&str, &str)]) -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../backend/template.yaml");
        load_file(&path, &LoadOptions::with_overrides(overrides)).unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        mocks::lifecycle::parse_day(text).unwrap()
    }

    #[test]
    fn the_default_models_are_served_and_nova_sonic_v1_is_flagged() {
        let today = day("2026-12-07");
        let defaults = model_warnings(&backend_template(&[]), today);
        assert_eq!(defaults.len(), 1, "{defaults:#?}");
        assert!(
            defaults[0].contains("GEMINI_ASSESSMENT_MODEL=gemini-2.5-flash is deprecated")
                && defaults[0].contains("no earlier than 2026-10-16"),
            "the assessment model's retirement is announced, its date not yet: {defaults:#?}"
        );
        let v1 = backend_template(&[("NovaSonicModelId", "amazon.nova-sonic-v1:0")]);
        let warnings = model_warnings(&v1, today);
        let nova: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("nova-sonic-v1"))
            .collect();
        assert_eq!(nova.len(), 2, "Buddy and nova-sonic-stream: {warnings:#?}");
        assert!(nova.iter().all(|w| w.contains("end of life on 2026-09-14")));
        let before = model_warnings(&v1, day("2026-09-01"));
        assert!(
            before
                .iter()
                .filter(|w| w.contains("nova-sonic-v1"))
                .all(|w| w.contains("Legacy")),
            "{before:#?}"
        );
    }

    #[test]
    fn a_retired_gemini_live_model_is_flagged() {
        let retired = "gemini-live-2.5-flash-preview-native-audio-09-2025";
        let template = backend_template(&[("GeminiLiveModel", retired)]);
        let warnings = model_warnings(&template, day("2026-12-07"));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(retired) && w.contains("end of life on 2026-08-27")),
            "{warnings:#?}"
        );
    }
}
