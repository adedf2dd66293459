//! Load plans (YAML), the input of `harness load`. An HTTP plan says how many
//! users, how many requests each, the weighted mix of requests they make and
//! the setup every user does first; a WebSocket plan names a scenario whose
//! sessions the users run. Either runs as a closed model (`users`, started at
//! once or over `ramp_up`) or an open model (`arrival`: arrivals per second
//! in stages, ramps between them). `thresholds` are k6-like rules
//! (`turn_latency.p95<1500ms`, `error_rate<1%`, see [`crate::load::thresholds`])
//! or the older `p95_ms` / `max_error_rate` pair; `quotas` lifts the AWS
//! quotas a run respects. scenarios/http/seed002-load.yaml reproduces seed
//! 002's load test (100 users x 10 requests, p95 under 500 ms).
//! [`LoadPlan::sequence`] gives each user its deterministic list of requests.

use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scenario::duration::Span;

/// A load plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadPlan {
    /// Name (reports use it).
    pub name: String,
    /// What it reproduces.
    #[serde(default)]
    pub description: Option<String>,
    /// The target API's logical id in backend/template.yaml (a REST API for an
    /// HTTP plan, a WebSocket API for a plan with a `scenario`).
    pub api: String,
    /// Template parameter overrides the local stack needs.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, String>,
    /// Closed model: concurrent users, all starting at once (as `artillery
    /// quick`) or over `ramp_up`. With `arrival`, unused.
    #[serde(default)]
    pub users: u32,
    /// Closed model: how long starting every user takes (users start evenly over it).
    #[serde(default)]
    pub ramp_up: Option<Span>,
    /// HTTP: requests each user makes, one after the other (closed model).
    #[serde(default)]
    pub requests_per_user: u32,
    /// What every user does before the measured requests (HTTP).
    #[serde(default)]
    pub setup: Setup,
    /// HTTP: the requests, picked by weight.
    #[serde(default)]
    pub mix: Vec<PlannedRequest>,
    /// WebSocket: the scenario file (relative to the plan) whose steps each
    /// session runs against `api`.
    #[serde(default)]
    pub scenario: Option<String>,
    /// WebSocket, closed model: sessions each user runs, one after the other.
    #[serde(default = "one")]
    pub sessions_per_user: u32,
    /// Open model: arrivals (sessions, or requests of the mix) per second.
    #[serde(default)]
    pub arrival: Option<OpenArrival>,
    /// AWS quotas the run stays within (defaults: AWS's).
    #[serde(default)]
    pub quotas: Quotas,
    /// Pass/fail rules.
    #[serde(default)]
    pub thresholds: Thresholds,
}

fn one() -> u32 {
    1
}

/// The open model: arrivals at a rate that changes linearly within each stage
/// (k6's ramping-arrival-rate), whether or not earlier arrivals finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenArrival {
    /// Arrivals per second (scenario time) when the first stage starts.
    #[serde(default)]
    pub start_rate: f64,
    /// The stages, in order.
    pub stages: Vec<ArrivalStage>,
    /// Most arrivals in progress at once (the pool of load-generating users);
    /// an arrival due while all are busy starts late, and its latency counts
    /// from when it was due.
    pub max_in_flight: u32,
}

/// One stage of the open model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStage {
    /// The rate (per second) at the end of the stage.
    pub target: f64,
    /// How long the stage lasts (scenario time).
    pub duration: Span,
}

/// AWS quotas (per account and Region) the whole run, all segments together,
/// stays within.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// New WebSocket connections per second (AWS: 500, adjustable).
    #[serde(default = "new_connections_per_second")]
    pub new_connections_per_second: f64,
    /// Requests per second, REST, HTTP and WebSocket APIs together (AWS: 10,000).
    #[serde(default = "requests_per_second")]
    pub requests_per_second: f64,
}

/// AWS's quota of new WebSocket connections per second per account and Region.
pub const AWS_NEW_CONNECTIONS_PER_SECOND: f64 = 500.0;
/// AWS's account throttle, requests per second.
pub const AWS_REQUESTS_PER_SECOND: f64 = 10_000.0;

fn new_connections_per_second() -> f64 {
    AWS_NEW_CONNECTIONS_PER_SECOND
}

fn requests_per_second() -> f64 {
    AWS_REQUESTS_PER_SECOND
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            new_connections_per_second: AWS_NEW_CONNECTIONS_PER_SECOND,
            requests_per_second: AWS_REQUESTS_PER_SECOND,
        }
    }
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
    /// 95th percentile of every request together, milliseconds (the same as
    /// the rule `http_req.p95<N ms`).
    #[serde(default)]
    pub p95_ms: Option<f64>,
    /// Largest share of failed requests (0 to 1; the rule `error_rate<=N`).
    #[serde(default)]
    pub max_error_rate: Option<f64>,
    /// k6-like rules: `turn_latency.p95<1500ms`, `http_req.p(99)<=800ms`,
    /// `error_rate<1%`, `checks>99%`.
    #[serde(default)]
    pub rules: Vec<String>,
}

impl Thresholds {
    /// Every limit as a rule (the two named limits first).
    pub fn all_rules(&self) -> Vec<String> {
        let mut rules = Vec::new();
        if let Some(ms) = self.p95_ms {
            rules.push(format!("http_req.p95<{ms}ms"));
        }
        if let Some(rate) = self.max_error_rate {
            rules.push(format!("error_rate<={}%", rate * 100.0));
        }
        rules.extend(self.rules.iter().cloned());
        rules
    }
}

/// What a plan loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// Requests of the mix against a REST API.
    Http,
    /// Sessions of a scenario against a WebSocket API.
    WebSocket,
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
    let invalid = |message: &str| Err(PlanError::Invalid(message.to_owned()));
    match &plan.arrival {
        None if plan.users == 0 => {
            return invalid("users must be at least 1 (or give an open model's arrival)");
        }
        None => {}
        Some(arrival) => {
            if arrival.max_in_flight == 0 || arrival.stages.is_empty() {
                return invalid("arrival needs stages and max_in_flight of at least 1");
            }
            let rates =
                std::iter::once(arrival.start_rate).chain(arrival.stages.iter().map(|s| s.target));
            if rates.into_iter().any(|r| !(r.is_finite() && r >= 0.0)) {
                return invalid("arrival rates must be finite and not negative");
            }
        }
    }
    if !(plan.quotas.new_connections_per_second > 0.0 && plan.quotas.requests_per_second > 0.0) {
        return invalid("quotas must be positive");
    }
    for rule in plan.thresholds.all_rules() {
        crate::load::thresholds::Rule::parse(&rule)
            .map_err(|e| PlanError::Invalid(format!("threshold {rule:?}: {e}")))?;
    }
    if plan.kind() == PlanKind::WebSocket {
        if !plan.mix.is_empty() {
            return invalid("a plan has either a scenario or a mix, not both");
        }
        if plan.sessions_per_user == 0 {
            return invalid("sessions_per_user must be at least 1");
        }
        return Ok(plan);
    }
    if plan.arrival.is_none() && plan.requests_per_user == 0 {
        return invalid("requests_per_user must be at least 1");
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
    /// HTTP requests or WebSocket sessions.
    pub fn kind(&self) -> PlanKind {
        if self.scenario.is_some() {
            PlanKind::WebSocket
        } else {
            PlanKind::Http
        }
    }

    /// The request of the mix that open-model arrival `index` makes (the same for every run).
    pub fn request_for_arrival(&self, index: u64) -> &PlannedRequest {
        let mut rng = StdRng::seed_from_u64(index ^ 0x5eed_a441_0000_0000);
        self.mix
            .choose_weighted(&mut rng, |r| r.weight)
            .expect("a weighted mix")
    }

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
