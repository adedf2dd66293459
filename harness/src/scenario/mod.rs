//! Scenarios: the file format ([`model`]), durations ([`duration`]),
//! `${variable}` substitution ([`template`]), message matching ([`matching`]),
//! audio clips ([`audio`]) and the pauses between them ([`pauses`]). [`load`]
//! reads a file and checks everything it refers to, so a run fails before it
//! starts rather than half way.

pub mod audio;
pub(crate) mod duration;
pub mod matching;
pub mod model;
pub(crate) mod pauses;
pub(crate) mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use model::*;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML does not fit the format.
    #[error("scenario {path}: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong (with the location serde reports).
        message: String,
    },
    /// An audio file is unusable.
    #[error(transparent)]
    Audio(#[from] audio::ClipError),
}

/// A scenario with its clips read.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where it came from.
    pub path: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// Clips by the `file` value of `stream_audio` steps.
    pub clips: BTreeMap<String, Arc<audio::Clip>>,
    /// What the loader noticed (e.g. a pause that would split an utterance).
    pub warnings: Vec<String>,
}

fn collect_files<'a>(steps: &'a [Step], files: &mut Vec<&'a str>) {
    for step in steps {
        match step {
            Step::StreamAudio(stream) => files.push(&stream.file),
            Step::Answer(answer) => files.extend(answer.clips.iter().map(String::as_str)),
            Step::Repeat(repeat) => collect_files(&repeat.steps, files),
            _ => {}
        }
    }
}

/// Reads and parses a scenario or suite file, then reads every clip its steps
/// name (paths relative to the file), each once.
fn read_with_clips<T>(
    path: &Path,
    parse: fn(&str) -> Result<T, String>,
    steps_of: impl Fn(&T) -> Vec<&Vec<Step>>,
) -> Result<(T, BTreeMap<String, Arc<audio::Clip>>), ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let parsed = parse(&text).map_err(|message| ScenarioError::Format {
        path: path.display().to_string(),
        message,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for steps in steps_of(&parsed) {
        collect_files(steps, &mut files);
    }
    let mut clips = BTreeMap::new();
    for file in files {
        if !clips.contains_key(file) {
            clips.insert(
                file.to_owned(),
                Arc::new(audio::Clip::read(&base.join(file))?),
            );
        }
    }
    Ok((parsed, clips))
}

/// Reads a scenario and its clips.
pub fn load(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let (scenario, clips) = read_with_clips(path, parse, |scenario| vec![&scenario.steps])?;
    let end_of_utterance =
        crate::turns::ConversationPlan::for_api(&scenario.api, scenario.conversation.as_ref())
            .map(|plan| plan.profile.end_of_utterance);
    let warnings = end_of_utterance
        .map(|eou| pauses::split_warnings(&scenario.steps, &clips, eou))
        .unwrap_or_default();
    Ok(LoadedScenario {
        path: path.to_path_buf(),
        scenario,
        clips,
        warnings,
    })
}

/// Parses and checks scenario text.
pub fn parse(text: &str) -> Result<Scenario, String> {
    // Through JSON values: enum variants are written as one-key maps (`wait: 2s`).
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let scenario: Scenario = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("at {path}: {}", e.inner())
        }
    })?;
    if scenario.steps.is_empty() {
        return Err("a scenario needs at least one step".to_owned());
    }
    if scenario.sessions.count == 0 {
        return Err("sessions.count must be at least 1".to_owned());
    }
    if let Arrival::PerSecond(rate) = scenario.sessions.arrival
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err("sessions.arrival.per_second must be a positive number".to_owned());
    }
    check_steps(&scenario.steps, scenario.microphone.is_some())?;
    Ok(scenario)
}

fn check_steps(steps: &[Step], microphone: bool) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Answer(answer) => {
                if !microphone {
                    return Err(
                        "an answer step needs the scenario's microphone (the message that carries an audio chunk)"
                            .to_owned(),
                    );
                }
                if answer.clips.is_empty() {
                    return Err("an answer step needs at least one clip".to_owned());
                }
            }
            Step::ExpectTurn(expect) => {
                if let Some(says) = &expect.says {
                    regex::Regex::new(says)
                        .map_err(|e| format!("expect_turn says {says:?}: {e}"))?;
                }
            }
            Step::Send(send) => {
                let forms = [
                    send.message.is_some(),
                    send.raw.is_some(),
                    send.binary_base64.is_some(),
                ];
                if forms.iter().filter(|f| **f).count() != 1 {
                    return Err(
                        "a send step takes exactly one of message, raw, binary_base64".to_owned(),
                    );
                }
            }
            Step::Expect(expect) => {
                if expect.message_type.is_none() && expect.fields.is_empty() {
                    return Err("an expect step needs a type or fields".to_owned());
                }
                if expect.within.is_some() && expect.within_scenario.is_some() {
                    return Err(
                        "an expect step takes within or within_scenario, not both".to_owned()
                    );
                }
            }
            Step::StreamAudio(StreamAudio { chunk_ms, .. })
            | Step::StreamSilence(StreamSilence { chunk_ms, .. })
                if !(10..=5_000).contains(chunk_ms) =>
            {
                return Err(format!("chunk_ms {chunk_ms} must be from 10 to 5000"));
            }
            Step::Repeat(repeat) => check_steps(&repeat.steps, microphone)?,
            _ => {}
        }
    }
    Ok(())
}

/// A conformance suite with its clips read.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// Where it came from.
    pub path: PathBuf,
    /// The suite.
    pub suite: Suite,
    /// Clips by the `file` value of `stream_audio` steps.
    pub clips: BTreeMap<String, Arc<audio::Clip>>,
}

/// Reads a conformance suite and its clips.
pub fn load_suite(path: &Path) -> Result<LoadedSuite, ScenarioError> {
    let (suite, clips) = read_with_clips(path, parse_suite, |suite| {
        suite.cases.iter().map(|case| &case.steps).collect()
    })?;
    Ok(LoadedSuite {
        path: path.to_path_buf(),
        suite,
        clips,
    })
}

/// Parses and checks a conformance suite.
pub fn parse_suite(text: &str) -> Result<Suite, String> {
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    let suite: Suite = serde_path_to_error::deserialize(value)
        .map_err(|e| format!("at {}: {}", e.path(), e.inner()))?;
    let mut ids = std::collections::BTreeSet::new();
    for case in &suite.cases {
        let parts: Vec<&str> = case.id.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
            return Err(format!(
                "case id {:?} is not category.sub.n (three numbers)",
                case.id
            ));
        }
        if !ids.insert(case.id.clone()) {
            return Err(format!("case id {} appears twice", case.id));
        }
        if case.steps.is_empty() {
            return Err(format!("case {} has no steps", case.id));
        }
        check_steps(&case.steps, suite.microphone.is_some())
            .map_err(|e| format!("case {}: {e}", case.id))?;
    }
    Ok(suite)
}

/// The JSON Schema of the scenario format (for editors).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name: echo
api: EchoWebSocketApi
parameters: {EnableDiagnostics: "true"}
sessions: {count: 2, arrival: {per_second: 4}}
variables: {user: "u-${session}"}
turn_replies: [maya_audio]
steps:
  - connect: {query: {user: "${user}"}}
  - send: {message: {action: echo, user: "${user}"}}
  - expect: {fields: {user: "${user}"}, within: 5s}
  - stream_silence: {duration: 1s, chunk_ms: 100, format: pcm, message: {action: x, audio: "${chunk}"}}
  - wait: 250ms
  - repeat: {times: 2, steps: [{send: {raw: "not json"}}]}
  - expect_close: {code: 1001, within_scenario: 11m}
  - disconnect: {code: 1000}
"#;

    #[test]
    fn example_parses() {
        let scenario = parse(EXAMPLE).unwrap();
        assert_eq!(scenario.sessions.count, 2);
        assert_eq!(scenario.sessions.arrival, Arrival::PerSecond(4.0));
        assert_eq!(scenario.steps.len(), 8);
    }

    #[test]
    fn mistakes_are_named() {
        let unknown = EXAMPLE.replace("wait: 250ms", "sleep: 250ms");
        assert!(
            parse(&unknown).unwrap_err().contains("sleep"),
            "unknown step named"
        );
        let bad_duration = EXAMPLE.replace("wait: 250ms", "wait: soon");
        assert!(parse(&bad_duration).unwrap_err().contains("soon"));
        let two_forms = EXAMPLE.replace(r#"raw: "not json""#, r#"raw: "x", message: {a: 1}"#);
        assert!(parse(&two_forms).unwrap_err().contains("exactly one"));
        assert!(
            parse("name: x\napi: y\nsteps: []\n")
                .unwrap_err()
                .contains("at least one step")
        );
    }

    #[test]
    fn schema_is_a_json_schema() {
        let schema = json_schema();
        assert!(schema.get("$schema").is_some());
        assert!(schema.pointer("/properties/steps").is_some());
        // The schema accepts the example (checked by the jsonschema crate).
        let instance: serde_json::Value = serde_yaml_ng::from_str(EXAMPLE).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(
            validator.is_valid(&instance),
            "{:?}",
            validator
                .iter_errors(&instance)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
    }
}
