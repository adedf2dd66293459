//! [`Peer`]: the client at the other end of a session's socket, reached
//! through `@connections`.

use crate::management::{Connections, ManagementError};

/// The client of one connection, reached through `@connections`.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// Management API clients.
    pub connections: &'a Connections,
    /// The API's management endpoint.
    pub endpoint: &'a str,
    /// The connection.
    pub connection_id: &'a str,
}

impl Peer<'_> {
    /// Posts a message; `Err(Gone)` when the client has left.
    pub async fn post(&self, message: &serde_json::Value) -> Result<(), ManagementError> {
        self.connections
            .post_json(self.endpoint, self.connection_id, message)
            .await
    }

    /// Posts a message when the client may have left (then nothing to do).
    pub async fn tell(&self, message: &serde_json::Value) {
        if let Err(e) = self.post(message).await {
            tracing::info!(connection = %self.connection_id, "could not post: {e}");
        }
    }
}
