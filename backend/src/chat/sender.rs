//! The MessageSender of seed 004: posts messages to connections through the
//! API Gateway management API and removes the connections that answer 410
//! Gone from the registry ("The MessageSender utility automatically removes
//! stale connections"). Stale items appear because `$disconnect` is best
//! effort: a client that vanishes may never trigger it. Fan-out posts to
//! every connection of a user at once; a delivery to a connection whose item
//! is past half its TTL refreshes it, since a connection that only receives
//! is still alive.

use futures_util::future::join_all;
use serde_json::Value;

use super::registry::{Registry, UserConnection};
use crate::management::{Connections, ManagementError};

/// What happened to one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    Delivered,
    /// The connection was gone (410); its item was removed.
    Gone,
    /// Not delivered for another reason (logged).
    Failed(String),
}

/// What a fan-out did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// Connections that got the message.
    pub delivered: Vec<String>,
    /// Stale connections removed after a 410.
    pub removed: Vec<String>,
    /// Connections that failed otherwise.
    pub failed: Vec<String>,
}

/// Posts to connections of one API.
#[derive(Debug)]
pub(crate) struct MessageSender<'a> {
    connections: &'a Connections,
    registry: &'a Registry,
    endpoint: String,
}

impl<'a> MessageSender<'a> {
    /// A sender through the management API at `endpoint`.
    pub(crate) fn new(
        connections: &'a Connections,
        registry: &'a Registry,
        endpoint: String,
    ) -> Self {
        Self {
            connections,
            registry,
            endpoint,
        }
    }

    /// Posts to one connection; a 410 removes it from the registry.
    pub(crate) async fn send(&self, connection_id: &str, message: &Value) -> Sent {
        match self
            .connections
            .post_json(&self.endpoint, connection_id, message)
            .await
        {
            Ok(()) => Sent::Delivered,
            Err(ManagementError::Gone(_)) => {
                match self.registry.remove(connection_id).await {
                    Ok(existed) => tracing::info!(
                        connection = %connection_id,
                        existed,
                        "stale connection removed after 410 Gone"
                    ),
                    Err(e) => tracing::warn!(
                        connection = %connection_id,
                        "410 Gone, but removing the stale connection failed: {e}"
                    ),
                }
                Sent::Gone
            }
            Err(other) => {
                tracing::warn!(connection = %connection_id, "post failed: {other}");
                Sent::Failed(other.to_string())
            }
        }
    }

    /// Posts to every given connection at once.
    pub(crate) async fn fan_out(
        &self,
        targets: &[UserConnection],
        message: &Value,
        now_ms: i64,
    ) -> Delivery {
        let results = join_all(targets.iter().map(|target| async move {
            let sent = self.send(&target.connection_id, message).await;
            if sent == Sent::Delivered
                && self.needs_refresh(target.ttl, now_ms)
                && let Err(e) = self.registry.touch(&target.connection_id, now_ms).await
            {
                tracing::warn!(connection = %target.connection_id, "TTL refresh failed: {e}");
            }
            (target.connection_id.clone(), sent)
        }))
        .await;
        let mut delivery = Delivery::default();
        for (connection_id, sent) in results {
            match sent {
                Sent::Delivered => delivery.delivered.push(connection_id),
                Sent::Gone => delivery.removed.push(connection_id),
                Sent::Failed(_) => delivery.failed.push(connection_id),
            }
        }
        delivery
    }

    fn needs_refresh(&self, ttl: i64, now_ms: i64) -> bool {
        ttl - now_ms / 1000 < self.registry.ttl_seconds() / 2
    }
}
