//! The models a template names, against their lifecycle: every function
//! environment value that is a model of the Bedrock mock's catalog is
//! checked, and one that is Legacy or past its end of life gets a warning
//! (`harness up` prints them at start). A model past its end of life fails
//! every call, locally as on AWS.

use chrono::NaiveDate;
use mocks::bedrock::models::{Lifecycle, card};

use super::model::Template;

/// One warning per function variable that names a Legacy or end-of-life model.
pub fn model_warnings(template: &Template, day: NaiveDate) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, function) in &template.functions {
        for (variable, value) in &function.environment {
            let Some(model) = card(value) else {
                continue;
            };
            match model.lifecycle_on(day) {
                Lifecycle::Active => {}
                Lifecycle::Legacy { end_of_life } => warnings.push(format!(
                    "{name}: {variable}={value} is a Legacy model; its end of life is \
                     {end_of_life} ({})",
                    model.source
                )),
                Lifecycle::EndOfLife { since } => warnings.push(format!(
                    "{name}: {variable}={value} reached its end of life on {since}: every call \
                     fails, locally as on AWS ({})",
                    model.source
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
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_default_models_are_current_and_nova_sonic_v1_is_flagged() {
        let today = day("2026-12-07");
        assert!(model_warnings(&backend_template(&[]), today).is_empty());
        let v1 = backend_template(&[("NovaSonicModelId", "amazon.nova-sonic-v1:0")]);
        let warnings = model_warnings(&v1, today);
        assert_eq!(
            warnings.len(),
            2,
            "Buddy and nova-sonic-stream: {warnings:#?}"
        );
        assert!(
            warnings
                .iter()
                .all(|w| w.contains("end of life on 2026-09-14"))
        );
        let before = model_warnings(&v1, day("2026-09-01"));
        assert!(before.iter().all(|w| w.contains("Legacy")), "{before:#?}");
    }
}
