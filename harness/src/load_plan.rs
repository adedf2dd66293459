//! HTTP load plans (YAML): how many users, how many requests each, the
//! weighted mix of requests they make, the setup every user does first, and
//! latency thresholds. scenarios/http/seed002-load.yaml reproduces seed
//! 002's load test (100 users x 10 requests, p95 under 500 ms).
//! [`LoadPlan::sequence`] gives each user its deterministic list of requests.

use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A load plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadPlan {
    /// Name (reports use it).
    pub name: String,
    /// What it reproduces.
    #[serde(default)]
    pub description: Option<String>,
    /// The target REST API's logical id in backend/template.yaml.
    pub api: String,
    /// Template parameter overrides the local stack needs.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Concurrent users, all starting at once (a closed model, as `artillery quick`).
    pub users: u32,
    /// Requests each user makes, one after the other.
    pub requests_per_user: u32,
    /// What every user does before the measured requests.
    #[serde(default)]
    pub setup: Setup,
    /// The requests, picked by weight.
    pub mix: Vec<PlannedRequest>,
    /// Pass/fail limits.
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// Per-user setup (not measured).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Register and sign in (requests marked `auth` carry the session).
    #[serde(default)]
    pub sign_up: bool,
    /// Base tier an admin grants each user (`writing`, `full`, ...).
    #[serde(default)]
    pub grant_tier: Option<String>,
    /// Admin-created question sets, as `POST /api/admin/questions` bodies;
    /// `${question_id.N}` in request paths and bodies names the N-th (from 0).
    #[serde(default)]
    pub questions: Vec<Value>,
}

/// One kind of request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlannedRequest {
    /// Label (the histogram's name).
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path below the stage, with an optional query; `${email}` and
    /// `${question_id.N}` are substituted.
    pub path: String,
    /// JSON body (strings may use the same variables).
    #[serde(default)]
    pub body: Option<Value>,
    /// Send the user's session token.
    #[serde(default)]
    pub auth: bool,
    /// Relative weight in the mix.
    pub weight: u32,
    /// Status that counts as success (default: any 2xx).
    #[serde(default)]
    pub expect_status: Option<u16>,
}

/// Limits a run must stay within.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// 95th percentile of every request together, milliseconds.
    #[serde(default)]
    pub p95_ms: Option<f64>,
    /// Largest share of failed requests (0 to 1).
    #[serde(default)]
    pub max_error_rate: Option<f64>,
}

/// Why a plan was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Unreadable file.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// Not a plan.
    #[error("load plan: {0}")]
    Invalid(String),
}

/// Parses and checks a plan.
pub fn parse(text: &str) -> Result<LoadPlan, PlanError> {
    let plan: LoadPlan =
        serde_yaml_ng::from_str(text).map_err(|e| PlanError::Invalid(e.to_string()))?;
    if plan.users == 0 || plan.requests_per_user == 0 {
        return Err(PlanError::Invalid(
            "users and requests_per_user must be at least 1".into(),
        ));
    }
    if plan.mix.is_empty() || plan.mix.iter().all(|r| r.weight == 0) {
        return Err(PlanError::Invalid(
            "the mix needs a request with a weight".into(),
        ));
    }
    for request in &plan.mix {
        if !request.path.starts_with('/') {
            return Err(PlanError::Invalid(format!(
                "{}: path must start with /",
                request.name
            )));
        }
        if request.auth && !plan.setup.sign_up {
            return Err(PlanError::Invalid(format!(
                "{}: auth needs setup.sign_up",
                request.name
            )));
        }
    }
    Ok(plan)
}

/// Reads a plan file.
pub fn load(path: &Path) -> Result<LoadPlan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|e| PlanError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text)
}

impl LoadPlan {
    /// The requests user `user` makes, in order (the same for every run).
    pub fn sequence(&self, user: u32) -> Vec<&PlannedRequest> {
        let mut rng = StdRng::seed_from_u64(u64::from(user));
        (0..self.requests_per_user)
            .map(|_| {
                self.mix
                    .choose_weighted(&mut rng, |r| r.weight)
                    .expect("a weighted mix")
            })
            .collect()
    }
}

/// Replaces `${name}` in every string of `value`.
pub fn substitute(value: &Value, variables: &[(String, String)]) -> Value {
    match value {
        Value::String(text) => Value::String(substitute_text(text, variables)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, variables)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, variables)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replaces `${name}` in a string.
pub fn substitute_text(text: &str, variables: &[(String, String)]) -> String {
    variables
        .iter()
        .fold(text.to_owned(), |text, (name, value)| {
            text.replace(&format!("${{{name}}}"), value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_002_plan_parses_and_its_mix_is_deterministic() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/http/seed002-load.yaml");
        let plan = load(&path).unwrap();
        assert_eq!((plan.users, plan.requests_per_user), (100, 10));
        assert_eq!(plan.thresholds.p95_ms, Some(500.0));
        assert_eq!(plan.sequence(7), plan.sequence(7));
        let all: Vec<&str> = (0..plan.users)
            .flat_map(|u| plan.sequence(u))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(all.len(), 1000);
        for request in &plan.mix {
            assert!(
                all.contains(&request.name.as_str()),
                "{} never picked",
                request.name
            );
        }
    }

    #[test]
    fn the_seed_002_root_only_plan_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/http/seed002-root.yaml");
        let plan = load(&path).unwrap();
        assert_eq!(
            (plan.users, plan.requests_per_user, plan.mix.len()),
            (100, 10, 1)
        );
        assert!(plan.sequence(3).iter().all(|r| r.path == "/"));
    }

    #[test]
    fn bad_plans_are_refused_and_variables_substitute() {
        assert!(parse("name: x\napi: A\nusers: 0\nrequests_per_user: 1\nmix: []").is_err());
        let auth_without_setup = "name: x\napi: A\nusers: 1\nrequests_per_user: 1\nmix:\n  - {name: p, method: GET, path: /p, auth: true, weight: 1}";
        assert!(parse(auth_without_setup).is_err());
        let vars = vec![("email".to_owned(), "a@b.c".to_owned())];
        assert_eq!(
            substitute(&serde_json::json!({"e": ["${email}"]}), &vars),
            serde_json::json!({"e": ["a@b.c"]})
        );
    }
}
