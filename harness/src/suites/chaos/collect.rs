//! Takes a [`Snapshot`] of a running local stack: scans the sessions,
//! assessments and relay tables (and, when users were erased, every table of
//! the template), and reads the gateways' departures and late posts. What the
//! clients saw (assessments received, chat ledgers, erasures) comes from the
//! case that drove them.

use std::collections::BTreeSet;

use super::ChaosError;
use super::invariants::{AssessmentRow, ChatLedger, Erasure, RelayRow, SessionRow, Snapshot};
use crate::dynamodb::scan::{Item, scan_all};
use crate::stack::LocalStack;

/// Which part of the store a case looks at (several cases share a stack).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only sessions and assessments of users whose id starts with this.
    pub user_prefix: String,
    /// Only management calls for gone connections from this time (epoch ms).
    pub since_ms: i64,
}

/// What the clients of a case saw.
#[derive(Debug, Clone, Default)]
pub struct ClientFacts {
    /// Assessment ids received in `assessment_complete`.
    pub delivered_assessments: Vec<String>,
    /// Chat ledgers.
    pub chat: Vec<ChatLedger>,
    /// Users erased.
    pub erasures: Vec<Erasure>,
}

fn s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// A table's physical name by logical id.
pub fn table_name(stack: &LocalStack, logical_id: &str) -> Result<String, ChaosError> {
    stack
        .template()
        .tables
        .get(logical_id)
        .map(|t| t.table_name.clone())
        .ok_or_else(|| ChaosError::Setup(format!("the template has no {logical_id}")))
}

/// A DynamoDB client for the stack's DynamoDB Local (not metered, no faults).
pub async fn store_client(stack: &LocalStack) -> aws_sdk_dynamodb::Client {
    stack.dynamodb_client().await
}

/// The snapshot of a stack for a scope.
pub async fn snapshot(
    stack: &LocalStack,
    scope: &Scope,
    clients: &ClientFacts,
    quiesced: bool,
) -> Result<Snapshot, ChaosError> {
    let client = store_client(stack).await;
    let in_scope = |user: &str| user.starts_with(&scope.user_prefix);
    let sessions: Vec<SessionRow> = scan_all(&client, &table_name(stack, "SessionsTable")?)
        .await?
        .iter()
        .filter(|item| item.contains_key("session_status"))
        .filter_map(|item| {
            Some(SessionRow {
                session_id: s(item, "session_id")?,
                connection_id: s(item, "connection_id").unwrap_or_default(),
                user_id: s(item, "user_id").unwrap_or_default(),
                status: s(item, "session_status")?,
                expires_at: n(item, "expires_at").unwrap_or(i64::MAX),
            })
        })
        .collect();
    let all_sessions: BTreeSet<String> = sessions.iter().map(|s| s.session_id.clone()).collect();
    let sessions: Vec<SessionRow> = sessions
        .into_iter()
        .filter(|s| in_scope(&s.user_id))
        .collect();
    let scoped: BTreeSet<&str> = sessions.iter().map(|s| s.session_id.as_str()).collect();
    let assessments = scan_all(&client, &table_name(stack, "AssessmentsTable")?)
        .await?
        .iter()
        .filter_map(|item| {
            Some(AssessmentRow {
                assessment_id: s(item, "assessment_id")?,
                session_id: s(item, "session_id"),
                user_id: s(item, "user_id").unwrap_or_default(),
            })
        })
        .filter(|a| in_scope(&a.user_id))
        .collect();
    let relay = scan_all(&client, &table_name(stack, "RelayTable")?)
        .await?
        .iter()
        .filter_map(|item| {
            Some(RelayRow {
                session_id: s(item, "session_id")?,
                seq: s(item, "seq").unwrap_or_default(),
                kind: s(item, "kind").unwrap_or_default(),
                audio_bytes: item
                    .get("payload")
                    .and_then(|v| v.as_b().ok())
                    .map_or(0, |b| b.as_ref().len()),
            })
        })
        // This scope's sessions, and items of no session at all.
        .filter(|r| scoped.contains(r.session_id.as_str()) || !all_sessions.contains(&r.session_id))
        .collect();
    let mut departures = Vec::new();
    let mut late_posts = Vec::new();
    for api in stack.template().websocket_apis.keys() {
        if let Some(gateway) = stack.websocket(api) {
            departures.extend(gateway.departures());
            late_posts.extend(
                gateway
                    .late_posts()
                    .into_iter()
                    .filter(|p| p.at_ms >= scope.since_ms),
            );
        }
    }
    let mut items = std::collections::BTreeMap::new();
    if !clients.erasures.is_empty() {
        for table in stack.template().tables.values() {
            let texts = scan_all(&client, &table.table_name)
                .await?
                .iter()
                .map(|item| format!("{item:?}"))
                .collect();
            items.insert(table.table_name.clone(), texts);
        }
    }
    Ok(Snapshot {
        now_epoch_s: chrono::Utc::now().timestamp(),
        quiesced,
        sessions,
        assessments,
        relay,
        delivered_assessments: clients.delivered_assessments.clone(),
        departures,
        late_posts,
        chat: clients.chat.clone(),
        erasures: clients.erasures.clone(),
        items,
    })
}
