//! HTTP requests as goose requests: the plan's setup (accounts registered
//! and signed in, a tier granted by an admin, question sets created; not
//! measured), then each request of the mix through goose's client (goose
//! records it), checked against its expected status and the OpenAPI
//! contract, and timed into the run's HDR histograms as `http_req` and under
//! its name. In open-model runs the time counts from the arrival's intended
//! start (coordinated omission corrected; goose keeps the raw time).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::prelude::*;
use serde_json::{Value, json};

use super::{LoadError, Shared};
use crate::contract::openapi::Contract;
use crate::load::plan::{LoadPlan, PlannedRequest, substitute, substitute_text};

/// The password of the accounts a plan's setup creates.
const PASSWORD: &str = "load-test-password";

/// A signed-up user.
#[derive(Debug, Clone)]
struct Account {
    email: String,
    token: String,
}

/// What the HTTP users share.
pub(crate) struct Requests {
    accounts: Vec<Account>,
    variables: Vec<(String, String)>,
    contract: Option<Contract>,
    /// The API's base URL (with the stage).
    base: String,
}

/// The e-mail of global user `n` (unique across segments).
fn email_of(n: u32) -> String {
    format!("user{n}@load.ieltsaiprep.test")
}

struct Setup {
    http: reqwest::Client,
    base: String,
}

impl Setup {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), LoadError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| LoadError::Setup(format!("{path}: {e}")))?;
        let status = response.status().as_u16();
        let value = response.json().await.unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// Registers (or finds) an account and signs in; (user id, token).
    async fn sign_up(&self, email: &str) -> Result<(String, String), LoadError> {
        let body = json!({"email": email, "password": PASSWORD});
        let (status, created) = self
            .send(reqwest::Method::POST, "/api/auth/register", None, &body)
            .await?;
        let (_, login) = self
            .send(reqwest::Method::POST, "/api/auth/login", None, &body)
            .await?;
        let token = login["session_token"].as_str().ok_or_else(|| {
            LoadError::Setup(format!("sign-in of {email} failed ({status}): {login}"))
        })?;
        let user_id = created["user"]["user_id"]
            .as_str()
            .or(login["user"]["user_id"].as_str())
            .unwrap_or_default();
        Ok((user_id.to_owned(), token.to_owned()))
    }
}

impl Requests {
    /// Runs the plan's setup for this segment's `users` (global indexes from `first_user`).
    pub(crate) async fn prepare(
        plan: &LoadPlan,
        base: &str,
        spec_dir: &Path,
        first_user: u32,
        users: u32,
    ) -> Result<Self, LoadError> {
        let contract = Contract::load(&spec_dir.join("http.openapi.yaml")).ok();
        let setup = Setup {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| LoadError::Setup(e.to_string()))?,
            base: base.trim_end_matches('/').to_owned(),
        };
        let mut accounts = Vec::new();
        let mut variables = Vec::new();
        if plan.setup.sign_up {
            let admin_email = plan
                .parameters
                .get("AdminEmails")
                .and_then(|e| e.split(',').next())
                .ok_or_else(|| {
                    LoadError::Setup("the plan's AdminEmails parameter names the admin".into())
                })?;
            let (_, admin) = setup.sign_up(admin_email).await?;
            for (index, question) in plan.setup.questions.iter().enumerate() {
                let (_, created) = setup
                    .send(
                        reqwest::Method::POST,
                        "/api/admin/questions",
                        Some(&admin),
                        question,
                    )
                    .await?;
                let id = created["question"]["question_id"]
                    .as_str()
                    .ok_or_else(|| LoadError::Setup(format!("question {index}: {created}")))?;
                variables.push((format!("question_id.{index}"), id.to_owned()));
            }
            for n in first_user..first_user + users {
                let email = email_of(n);
                let (user_id, token) = setup.sign_up(&email).await?;
                if let Some(tier) = &plan.setup.grant_tier {
                    let (status, answer) = setup
                        .send(
                            reqwest::Method::PUT,
                            &format!("/api/admin/users/{user_id}"),
                            Some(&admin),
                            &json!({"subscription_tier": tier}),
                        )
                        .await?;
                    if status != 200 {
                        return Err(LoadError::Setup(format!("grant {tier}: {answer}")));
                    }
                }
                accounts.push(Account { email, token });
            }
        } else {
            accounts = (first_user..first_user + users)
                .map(|n| Account {
                    email: email_of(n),
                    token: String::new(),
                })
                .collect();
        }
        Ok(Self {
            accounts,
            variables,
            contract,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// Makes request number `index` (closed model: the user's sequence;
    /// open model: arrival `index` of the mix).
    pub(crate) async fn run_one(
        &self,
        shared: &Arc<Shared>,
        user: &mut GooseUser,
        index: u64,
        lateness: Option<Duration>,
    ) -> TransactionResult {
        let plan = &shared.plan;
        let local = user.weighted_users_index;
        let request: &PlannedRequest = match lateness {
            Some(_) => plan.request_for_arrival(index),
            None => {
                let per_user = u64::from(plan.requests_per_user.max(1));
                let global = u32::try_from(index / per_user).unwrap_or(u32::MAX);
                let sequence = plan.sequence(global);
                sequence[(index % per_user) as usize]
            }
        };
        let account = &self.accounts[local % self.accounts.len().max(1)];
        let mut variables = self.variables.clone();
        variables.push(("email".to_owned(), account.email.clone()));
        let path = substitute_text(&request.path, &variables);
        let method = goose_method(&request.method)?;
        // The stage is part of the base URL: join by text (a URL join would drop it).
        let http_method =
            reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
                .map_err(|e| Box::new(TransactionError::Custom(e.to_string())))?;
        let mut builder = user
            .client
            .request(http_method, format!("{}{path}", self.base));
        if let Some(body) = &request.body {
            builder = builder.json(&substitute(body, &variables));
        }
        if request.auth {
            builder = builder.bearer_auth(&account.token);
        }
        let mut goose_request = GooseRequest::builder()
            .set_request_builder(builder)
            .method(method)
            .name(request.name.as_str());
        if let Some(status) = request.expect_status {
            goose_request = goose_request.expect_status_code(status);
        }
        let started = Instant::now();
        let mut answer = user.request(goose_request.build()).await?;
        let (status, content_type, body) = match answer.response {
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = response.bytes().await.unwrap_or_default();
                (status, content_type, body)
            }
            Err(ref e) => {
                shared.metrics.error(&format!("transport: {e}"));
                (0, None, Default::default())
            }
        };
        let took = match lateness {
            Some(late) => late + started.elapsed(),
            None => Duration::from_micros(answer.request.response_time_micros()),
        };
        let at = shared.run_start.elapsed();
        shared.metrics.record("http_req", took, at);
        shared.metrics.record(&request.name, took, at);
        let status_ok = match request.expect_status {
            Some(expected) => status == expected,
            None => (200..300).contains(&status),
        };
        if !status_ok && status != 0 {
            shared.metrics.error(&format!("HTTP {status}"));
        }
        let bare = path.split('?').next().unwrap_or(&path);
        let contract_ok = match (&self.contract, status) {
            (_, 0) | (None, _) => None,
            (Some(contract), _) => Some(
                contract
                    .check(
                        &request.method,
                        bare,
                        status,
                        content_type.as_deref(),
                        &body,
                    )
                    .map_err(|e| {
                        shared.metrics.error("contract");
                        tracing::warn!("contract: {e}");
                    })
                    .is_ok(),
            ),
        };
        if status_ok && contract_ok == Some(false) {
            // Goose counted it a success: mark it failed (the error is the signal, not a stop).
            let _ = user.set_failure(
                "breaks the OpenAPI contract",
                &mut answer.request,
                None,
                None,
            );
        }
        let failed = !status_ok || contract_ok == Some(false);
        shared.count(|counts| {
            counts.operations += 1;
            counts.http_requests += 1;
            counts.failed += u64::from(failed);
            counts.http_failed += u64::from(failed);
            counts.checks += 1 + u64::from(contract_ok.is_some());
            counts.checks_passed += u64::from(status_ok) + u64::from(contract_ok == Some(true));
        });
        Ok(())
    }
}

fn goose_method(method: &str) -> Result<GooseMethod, Box<TransactionError>> {
    Ok(match method.to_ascii_uppercase().as_str() {
        "GET" => GooseMethod::Get,
        "POST" => GooseMethod::Post,
        "PUT" => GooseMethod::Put,
        "PATCH" => GooseMethod::Patch,
        "DELETE" => GooseMethod::Delete,
        "HEAD" => GooseMethod::Head,
        other => {
            return Err(Box::new(TransactionError::Custom(format!(
                "method {other} is not supported"
            ))));
        }
    })
}
