//! The models' own conversation logs, read from the local mocks' control
//! APIs (`GET /_mock/vertex/sessions`, `GET /_mock/bedrock/streams`) the way
//! a test or a user would: each mock session's turns with their text and,
//! for the examiner, the part of the test. A replayed session is matched to
//! the mock session whose turns say the same things.

use std::sync::Arc;

use serde_json::Value;

use crate::turns::checks::normalized;
use crate::turns::{ModelLog, ModelLogSource, ModelTurn};

/// A source reading both mocks' control APIs at `vertex` and `bedrock` (base URLs).
pub(crate) fn source(vertex: String, bedrock: String) -> ModelLogSource {
    let http = reqwest::Client::new();
    Arc::new(move |texts: Vec<String>| {
        let (http, vertex, bedrock) = (http.clone(), vertex.clone(), bedrock.clone());
        Box::pin(async move {
            let mut logs = Vec::new();
            if let Some(sessions) = get(&http, &format!("{vertex}/_mock/vertex/sessions")).await {
                logs.extend(sessions.as_array().into_iter().flatten().map(vertex_log));
            }
            if let Some(streams) = get(&http, &format!("{bedrock}/_mock/bedrock/streams")).await {
                logs.extend(streams.as_array().into_iter().flatten().map(bedrock_log));
            }
            best_match(logs, &texts)
        })
    })
}

async fn get(http: &reqwest::Client, url: &str) -> Option<Value> {
    let response = http.get(url).send().await.ok()?;
    response.json().await.ok()
}

fn vertex_log(session: &Value) -> ModelLog {
    let turns = session["turns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|turn| ModelTurn {
            text: turn["text"].as_str().unwrap_or_default().to_owned(),
            part: turn["part"].as_str().map(str::to_owned),
        })
        .collect();
    ModelLog {
        turns,
        overruns: session["script_overruns"].as_u64().unwrap_or(0) as u32,
    }
}

fn bedrock_log(stream: &Value) -> ModelLog {
    let turns = stream["transcripts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|line| line["role"] == "ASSISTANT")
        .map(|line| ModelTurn {
            text: line["text"].as_str().unwrap_or_default().to_owned(),
            part: line["part"].as_str().map(str::to_owned),
        })
        .collect();
    ModelLog {
        turns,
        overruns: stream["script_overruns"].as_u64().unwrap_or(0) as u32,
    }
}

/// The log sharing the most turn texts with the session (None: none shares any).
fn best_match(logs: Vec<ModelLog>, texts: &[String]) -> Option<ModelLog> {
    let wanted: std::collections::BTreeSet<String> = texts
        .iter()
        .map(|t| normalized(t))
        .filter(|t| !t.is_empty())
        .collect();
    logs.into_iter()
        .map(|log| {
            let shared = log
                .turns
                .iter()
                .filter(|t| wanted.contains(&normalized(&t.text)))
                .count();
            (shared, log)
        })
        .filter(|(shared, _)| *shared > 0)
        .max_by_key(|(shared, _)| *shared)
        .map(|(_, log)| log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_with_the_same_turns_is_chosen() {
        let log = |texts: &[&str], overruns| ModelLog {
            turns: texts
                .iter()
                .map(|t| ModelTurn {
                    text: (*t).to_owned(),
                    part: Some("part1".to_owned()),
                })
                .collect(),
            overruns,
        };
        let logs = vec![
            log(&["Hello.", "Other"], 0),
            log(&["Hello.", "Where are you from?"], 2),
        ];
        let chosen = best_match(
            logs,
            &["hello.".to_owned(), "Where  are you from?".to_owned()],
        );
        assert_eq!(chosen.unwrap().overruns, 2);
        assert!(best_match(vec![log(&["x"], 0)], &["y".to_owned()]).is_none());
    }
}
