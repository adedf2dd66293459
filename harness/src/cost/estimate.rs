//! Usage estimated for a deployed target, where nothing is metered: what the
//! harness observed (messages and 32 KB units both ways, bytes, connection
//! time) plus the template's function settings (memory, architecture,
//! timeout), with every assumption written down. The cost report built from
//! it is marked `estimate: true`.

use std::collections::BTreeMap;

use super::collect::session_totals;
use super::rules::billed_duration_ms;
use super::usage::{LambdaUsage, Usage, UsageSource, WebSocketUsage};
use crate::report::model::{RunReport, SessionReport};
use crate::template::{Template, WebSocketApi};

/// What an estimate assumes about what it cannot see.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateSettings {
    /// How long an invocation that does not own a session runs (ms).
    pub handler_ms: f64,
}

impl Default for EstimateSettings {
    fn default() -> Self {
        Self { handler_ms: 50.0 }
    }
}

fn add_session(usage: &mut WebSocketUsage, session: &SessionReport, scale: f64) {
    // Reports written before units were counted: one unit per message.
    let units = |units: u64, messages: u64| if units == 0 { messages } else { units };
    usage.messages_in += session.sent;
    usage.units_in += units(session.units_sent, session.sent);
    usage.bytes_in += session.bytes_sent;
    usage.messages_out += session.received;
    usage.units_out += units(session.units_received, session.received);
    usage.bytes_out += session.bytes_received;
    if session.steps_completed > 0 {
        usage.connections += 1;
        usage.connection_minutes += session.duration_ms as f64 * scale / 60_000.0;
    }
}

/// The function that serves an API's messages: the one behind the most
/// message routes.
fn message_function(api: &WebSocketApi) -> Option<&str> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for route in api.routes.values() {
        if route.key != "$connect" && route.key != "$disconnect" {
            *counts.entry(route.function.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(function, _)| function)
}

fn lambda_entry<'a>(
    lambda: &'a mut BTreeMap<String, LambdaUsage>,
    template: &Template,
    function: &str,
) -> Option<&'a mut LambdaUsage> {
    let spec = template.functions.get(function)?;
    Some(
        lambda
            .entry(function.to_owned())
            .or_insert_with(|| LambdaUsage {
                function: function.to_owned(),
                memory_mb: spec.memory_mb,
                architecture: spec.architecture.as_str().to_owned(),
                ..LambdaUsage::default()
            }),
    )
}

/// Usage estimated from a run against a deployed target.
pub fn observed_usage(
    report: &RunReport,
    template: &Template,
    settings: &EstimateSettings,
) -> Usage {
    let scale = report.time_scale;
    let mut usage = Usage::empty(UsageSource::Observed, scale);
    let (sessions, seconds) = session_totals(&report.scenarios, &report.suites, scale);
    usage.sessions = sessions;
    usage.session_seconds = seconds;

    let mut by_api: BTreeMap<String, WebSocketUsage> = BTreeMap::new();
    let mut owner_sessions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let played = report
        .scenarios
        .iter()
        .flat_map(|s| s.sessions.iter().map(move |session| (&s.api, session)))
        .chain(
            report
                .suites
                .iter()
                .flat_map(|s| s.cases.iter().map(move |c| (&s.api, &c.session))),
        );
    for (api, session) in played {
        let entry = by_api.entry(api.clone()).or_insert_with(|| WebSocketUsage {
            api: api.clone(),
            ..WebSocketUsage::default()
        });
        add_session(entry, session, scale);
        if session.sent > 0 {
            owner_sessions
                .entry(api.clone())
                .or_default()
                .push(session.duration_ms);
        }
    }

    let handler = billed_duration_ms(settings.handler_ms, 1.0);
    let mut lambda: BTreeMap<String, LambdaUsage> = BTreeMap::new();
    for (name, traffic) in &by_api {
        let Some(api) = template.websocket_apis.get(name) else {
            usage.assumptions.push(format!(
                "{name} is not in the template: its Lambda usage is left out."
            ));
            continue;
        };
        for key in ["$connect", "$disconnect"] {
            if let Some(route) = api.routes.get(key) {
                if let Some(entry) = lambda_entry(&mut lambda, template, &route.function) {
                    entry.invocations += traffic.connections;
                    entry.billed_duration_ms += traffic.connections * handler;
                }
                if let Some(authorizer) = &route.authorizer
                    && let Some(entry) = lambda_entry(&mut lambda, template, &authorizer.function)
                {
                    entry.invocations += traffic.connections;
                    entry.billed_duration_ms += traffic.connections * handler;
                }
            }
        }
        let Some(function) = message_function(api) else {
            continue;
        };
        let integration = api
            .routes
            .values()
            .map(|r| r.integration_timeout)
            .max()
            .unwrap_or_default();
        let owns_sessions = template
            .functions
            .get(function)
            .is_some_and(|f| f.timeout > integration);
        let Some(entry) = lambda_entry(&mut lambda, template, function) else {
            continue;
        };
        entry.invocations += traffic.messages_in;
        let owners = owner_sessions
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (owner_count, owner_ms) = if owns_sessions {
            let ms: u64 = owners
                .iter()
                .map(|d| billed_duration_ms(*d as f64, scale))
                .sum();
            (owners.len() as u64, ms)
        } else {
            (0, 0)
        };
        entry.billed_duration_ms +=
            owner_ms + traffic.messages_in.saturating_sub(owner_count) * handler;
        if owns_sessions {
            usage.assumptions.push(format!(
                "{function} outlives API Gateway's integration timeout ({} s against {} s): as in \
                 the reference backend, the first message of each session is taken to start an \
                 owner invocation that runs for the whole session.",
                template.functions[function].timeout.as_secs(),
                integration.as_secs()
            ));
        }
    }
    for entry in lambda.values_mut() {
        entry.real_duration_ms = entry.billed_duration_ms;
    }
    usage.lambda = lambda.into_values().collect();
    usage.websocket = by_api.into_values().collect();
    usage.assumptions.extend([
        "ESTIMATE: the target was a deployed API, so nothing was metered. WebSocket messages, \
         their 32 KB units, bytes and connection time are what the harness sent, received and \
         measured."
            .to_owned(),
        format!(
            "Lambda: one invocation per client message plus $connect, $disconnect and the \
             authorizer per connection, at the template's memory and architecture; every \
             invocation that does not own a session is taken to last {} ms; no INIT phase \
             (warm functions).",
            settings.handler_ms
        ),
        "Not observable and left out: DynamoDB request units, Secrets Manager calls and model \
         tokens (run the scenario on the local stack to meter them), and messages the backend \
         sends that the harness did not receive."
            .to_owned(),
    ]);
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sent: u64, units_sent: u64, received: u64, duration_ms: u64) -> SessionReport {
        SessionReport {
            index: 0,
            passed: true,
            started_at_ms: 0,
            duration_ms,
            steps_completed: 3,
            sent,
            received,
            bytes_sent: sent * 100,
            bytes_received: received * 1000,
            units_sent,
            units_received: 0,
            close: None,
            failures: Vec::new(),
            timeline: Vec::new(),
            conversation: None,
        }
    }

    #[test]
    fn observed_traffic_adds_up() {
        let mut usage = WebSocketUsage::default();
        add_session(&mut usage, &session(10, 12, 4, 60_000), 2.0);
        add_session(&mut usage, &session(5, 0, 1, 30_000), 2.0);
        assert_eq!((usage.messages_in, usage.units_in), (15, 17));
        // No units recorded: one per message.
        assert_eq!((usage.messages_out, usage.units_out), (5, 5));
        assert_eq!(usage.connections, 2);
        assert_eq!(usage.connection_minutes, 3.0);
        assert_eq!(usage.bytes_out, 5000);
    }
}
