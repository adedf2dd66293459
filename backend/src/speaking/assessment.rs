//! The IELTS speaking assessment: the prompt that asks the model for it, the
//! validation of what the model answers (all four criteria, bands 0-9 in half
//! bands, non-empty feedback and plan; anything else is rejected, not passed
//! on), and the overall band by the official rule (mean of the four criteria
//! rounded to the nearest half band, with .25 and .75 rounding up).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The four criteria, in the order IELTS lists them.
pub(crate) const CRITERIA: [&str; 4] = [
    "fluency_and_coherence",
    "lexical_resource",
    "grammatical_range_and_accuracy",
    "pronunciation",
];

/// Who said a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Speaker {
    /// Maya.
    Examiner,
    Candidate,
}

/// One line of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TranscriptLine {
    /// Who.
    pub speaker: Speaker,
    /// What.
    pub text: String,
}

/// A criterion's band and feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CriterionScore {
    /// 0-9 in half bands.
    pub band: f64,
    /// Why.
    pub feedback: String,
}

/// One step of the improvement plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlanStep {
    /// What to work on.
    pub focus: String,
    /// What to do.
    pub action: String,
    /// How to practise.
    pub practice: String,
}

/// What the model must answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ModelAssessment {
    /// Scores by criterion name.
    pub criteria: std::collections::BTreeMap<String, CriterionScore>,
    pub overall_feedback: String,
    /// The plan.
    pub improvement_plan: Vec<PlanStep>,
}

/// Why a model answer was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum InvalidAssessment {
    /// Not the JSON shape asked for.
    #[error("the model's assessment is not the requested JSON: {0}")]
    Shape(String),
    /// A criterion is missing.
    #[error("the model's assessment has no {0} score")]
    MissingCriterion(&'static str),
    /// A band outside 0-9 or not a half band.
    #[error("the model's {criterion} band {band} is not a half band from 0 to 9")]
    BadBand {
        /// Which.
        criterion: String,
        /// The value.
        band: f64,
    },
    /// Empty feedback or plan.
    #[error("the model's assessment lacks {0}")]
    Empty(&'static str),
}

/// Whether a band is one of 0, 0.5, ..., 9.
pub(crate) fn is_half_band(band: f64) -> bool {
    band.is_finite() && (0.0..=9.0).contains(&band) && (band * 2.0).fract() == 0.0
}

/// The official overall band: the mean of the criteria rounded to the nearest
/// half band, where .25 rounds up to .5 and .75 rounds up to the next band.
pub(crate) fn overall_band(bands: &[f64]) -> f64 {
    if bands.is_empty() {
        return 0.0;
    }
    let mean = bands.iter().sum::<f64>() / bands.len() as f64;
    let whole = mean.floor();
    let fraction = mean - whole;
    let rounded = if fraction < 0.25 {
        whole
    } else if fraction < 0.75 {
        whole + 0.5
    } else {
        whole + 1.0
    };
    rounded.clamp(0.0, 9.0)
}

/// Parses and validates the model's answer.
pub(crate) fn validate(text: &str) -> Result<ModelAssessment, InvalidAssessment> {
    let trimmed = text
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```");
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| InvalidAssessment::Shape(e.to_string()))?;
    let assessment: ModelAssessment =
        serde_json::from_value(value).map_err(|e| InvalidAssessment::Shape(e.to_string()))?;
    for criterion in CRITERIA {
        let score = assessment
            .criteria
            .get(criterion)
            .ok_or(InvalidAssessment::MissingCriterion(criterion))?;
        if !is_half_band(score.band) {
            return Err(InvalidAssessment::BadBand {
                criterion: criterion.to_owned(),
                band: score.band,
            });
        }
        if score.feedback.trim().is_empty() {
            return Err(InvalidAssessment::Empty("criterion feedback"));
        }
    }
    if assessment.overall_feedback.trim().is_empty() {
        return Err(InvalidAssessment::Empty("overall feedback"));
    }
    if assessment.improvement_plan.is_empty() {
        return Err(InvalidAssessment::Empty("an improvement plan"));
    }
    Ok(assessment)
}

/// The examiner's instructions for the assessment call.
pub(crate) const ASSESSOR_INSTRUCTIONS: &str = "You are a certified IELTS speaking examiner. Assess the \
candidate's speaking from the transcript using the public IELTS band descriptors. Answer only with \
JSON: {\"criteria\": {\"fluency_and_coherence\": {\"band\", \"feedback\"}, \"lexical_resource\": {...}, \
\"grammatical_range_and_accuracy\": {...}, \"pronunciation\": {...}}, \"overall_feedback\": string, \
\"improvement_plan\": [{\"focus\", \"action\", \"practice\"}]}. Bands are 0 to 9 in half bands.";

/// The assessment prompt for a transcript.
pub(crate) fn prompt(assessment_type: &str, transcript: &[TranscriptLine]) -> String {
    let mut text = format!(
        "TASK: ielts_speaking_assessment\nASSESSMENT_TYPE: {assessment_type}\nTRANSCRIPT:\n"
    );
    for line in transcript {
        let who = match line.speaker {
            Speaker::Examiner => "Examiner",
            Speaker::Candidate => "Candidate",
        };
        text.push_str(&format!("{who}: {}\n", line.text.replace('\n', " ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn official_rounding_examples() {
        assert_eq!(overall_band(&[6.5, 6.5, 5.0, 7.0]), 6.5); // 6.25 rounds up to 6.5
        assert_eq!(overall_band(&[4.0, 3.5, 4.0, 4.0]), 4.0); // 3.875 rounds to 4.0
        assert_eq!(overall_band(&[6.5, 6.5, 7.0, 7.0]), 7.0); // 6.75 rounds up to 7.0
        assert_eq!(overall_band(&[6.0, 6.0, 6.5, 6.0]), 6.0); // 6.125 rounds down
        assert_eq!(overall_band(&[6.5, 6.5, 6.5, 7.0]), 6.5); // 6.625 rounds to 6.5
        assert_eq!(overall_band(&[9.0, 9.0, 9.0, 9.0]), 9.0);
        assert_eq!(overall_band(&[0.0, 0.0, 0.0, 0.5]), 0.0);
    }

    fn answer() -> Value {
        json!({
            "criteria": {
                "fluency_and_coherence": {"band": 6.5, "feedback": "ok"},
                "lexical_resource": {"band": 6.0, "feedback": "ok"},
                "grammatical_range_and_accuracy": {"band": 7.0, "feedback": "ok"},
                "pronunciation": {"band": 6.5, "feedback": "ok"}
            },
            "overall_feedback": "good",
            "improvement_plan": [{"focus": "f", "action": "a", "practice": "p"}]
        })
    }

    #[test]
    fn valid_answers_pass_and_fenced_json_is_tolerated() {
        assert!(validate(&answer().to_string()).is_ok());
        assert!(validate(&format!("```json\n{}\n```", answer())).is_ok());
    }

    #[test]
    fn invalid_answers_are_rejected() {
        let mut missing = answer();
        missing["criteria"]
            .as_object_mut()
            .unwrap()
            .remove("pronunciation");
        assert_eq!(
            validate(&missing.to_string()),
            Err(InvalidAssessment::MissingCriterion("pronunciation"))
        );
        let mut eleven = answer();
        eleven["criteria"]["lexical_resource"]["band"] = json!(11);
        assert!(matches!(
            validate(&eleven.to_string()),
            Err(InvalidAssessment::BadBand { .. })
        ));
        let mut quarter = answer();
        quarter["criteria"]["lexical_resource"]["band"] = json!(6.25);
        assert!(matches!(
            validate(&quarter.to_string()),
            Err(InvalidAssessment::BadBand { .. })
        ));
        let mut no_plan = answer();
        no_plan["improvement_plan"] = json!([]);
        assert!(matches!(
            validate(&no_plan.to_string()),
            Err(InvalidAssessment::Empty(_))
        ));
        assert!(matches!(
            validate("Band 7, well done!"),
            Err(InvalidAssessment::Shape(_))
        ));
    }

    #[test]
    fn prompt_carries_the_marker_and_transcript() {
        let text = prompt(
            "speaking",
            &[
                TranscriptLine {
                    speaker: Speaker::Examiner,
                    text: "Hello".into(),
                },
                TranscriptLine {
                    speaker: Speaker::Candidate,
                    text: "Hi\nthere".into(),
                },
            ],
        );
        assert!(text.starts_with("TASK: ielts_speaking_assessment\n"));
        assert!(text.contains("TRANSCRIPT:\nExaminer: Hello\nCandidate: Hi there\n"));
    }

    fn half_band() -> impl Strategy<Value = f64> {
        (0u8..=18).prop_map(|n| f64::from(n) / 2.0)
    }

    proptest! {
        #[test]
        fn overall_is_a_half_band_near_the_mean(bands in proptest::collection::vec(half_band(), 4)) {
            let overall = overall_band(&bands);
            let mean = bands.iter().sum::<f64>() / 4.0;
            prop_assert!(is_half_band(overall));
            prop_assert!((overall - mean).abs() <= 0.25);
            // Ties go up: never below the mean by a quarter band.
            prop_assert!(overall - mean > -0.25);
        }

        #[test]
        fn overall_is_monotone(bands in proptest::collection::vec(half_band(), 4), index in 0usize..4) {
            let mut better = bands.clone();
            better[index] = (better[index] + 0.5).min(9.0);
            prop_assert!(overall_band(&better) >= overall_band(&bands));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = validate(&text);
        }
    }
}
