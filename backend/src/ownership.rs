//! What every session-owning WebSocket function shares (the speaking API and
//! the Nova Sonic APIs): epoch time, the invocation's deadline as an
//! [`Instant`] and the margin an owner keeps before it, the `$disconnect`
//! hand-off to the owner, and [`Peer`], the client at the other end of the
//! socket. The owner's side of the relay is [`crate::inbox`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequestContext};

use crate::management::{Connections, ManagementError};
use crate::relay::{Relay, RelayError, RelayItem};
use crate::sessions::{Session, SessionError, SessionStatus, Sessions};

/// Seconds since the epoch.
pub fn now_epoch_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The `200` every WebSocket route answers (the client gets its replies
/// through `@connections`).
pub fn ok_response() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
}

/// The invocation's deadline (`Lambda-Runtime-Deadline-Ms`, epoch ms) as an
/// instant on this process's monotonic clock.
pub fn deadline_instant(deadline_epoch_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Instant::now() + Duration::from_millis(deadline_epoch_ms.saturating_sub(now_ms))
}

/// How long before its deadline an owner stops, to end the session cleanly
/// (store what it must, tell the client): a thirtieth of the time left, at
/// least a second and at most 30 s. A 15-minute function ends a 14-minute
/// test at 14:30, and so does a time-scaled run (at `--time-scale 12` the
/// deadline is 75 s away and the margin 2.5 s: 30 s of scenario time).
pub fn stop_margin(deadline: Instant) -> Duration {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (remaining / 30).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Runs one step of an owner's loop, cut short at `stop_at` (then
/// `stopped()`): handling what came, such as posting a long turn to a slow
/// gateway or reopening a model stream, must not eat the margin kept to end
/// the session.
pub async fn until_stop<T>(
    stop_at: Instant,
    step: impl Future<Output = T>,
    stopped: impl FnOnce() -> T,
) -> T {
    tokio::time::timeout_at(stop_at.into(), step)
        .await
        .unwrap_or_else(|_| stopped())
}

/// `"{close code} {reason}"` of a `$disconnect` event (1005 when the client
/// sent no code).
pub fn disconnect_reason(context: &ApiGatewayWebsocketProxyRequestContext) -> String {
    format!(
        "{} {}",
        context.disconnect_status_code.unwrap_or(1005),
        context.disconnect_reason.as_deref().unwrap_or_default()
    )
}

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

/// The session if it is live (active and not past its TTL).
pub async fn live_session(
    sessions: &Sessions,
    session_id: &str,
) -> Result<Option<Session>, SessionError> {
    Ok(sessions
        .get(session_id)
        .await?
        .filter(|s| s.is_live(now_epoch_s())))
}

/// Why a hand-off to the owner failed.
#[derive(Debug, thiserror::Error)]
pub enum HandOffError {
    /// The sessions table.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The relay table.
    #[error(transparent)]
    Relay(#[from] RelayError),
}

/// How long `$disconnect` waits for the owner to take its stop item before
/// taking the owner for gone (its instance crashed or timed out) and deleting
/// the session's relay items itself: no audio may outlive its session.
pub const OWNER_GRACE: Duration = Duration::from_secs(2);
/// How often `$disconnect` looks whether the owner took the stop item.
const OWNER_POLL: Duration = Duration::from_millis(50);

/// Whether the relay item `order` of the session is taken within `grace`.
async fn taken_within(
    relay: &Relay,
    session_id: &str,
    order: &str,
    grace: Duration,
) -> Result<bool, RelayError> {
    let until = Instant::now() + grace;
    loop {
        let left = relay.receive(session_id, None).await?;
        if !left.iter().any(|(key, _)| key == order) {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(OWNER_POLL).await;
    }
}

/// `$disconnect`: marks the live session disconnected and tells its owner to
/// stop (a [`RelayItem::Stop`]). When no owner takes the stop within
/// [`OWNER_GRACE`] the owner is gone (a crash, a timeout): the session's
/// relay items, audio above all, are deleted here. Nothing to do when no
/// session is active.
pub async fn hand_off_disconnect(
    sessions: &Sessions,
    relay: &Relay,
    session_id: &str,
    order: &str,
    reason: &str,
) -> Result<(), HandOffError> {
    let now = now_epoch_s();
    match sessions
        .transition(
            session_id,
            SessionStatus::Active,
            SessionStatus::Disconnected,
            now,
            &[("ended_by", reason.to_owned())],
        )
        .await
    {
        Ok(()) => {
            let stop = RelayItem::Stop {
                reason: reason.to_owned(),
            };
            relay.send(session_id, order, &stop, now).await?;
            if !taken_within(relay, session_id, order, OWNER_GRACE).await? {
                let purged = relay.purge(session_id).await?;
                tracing::warn!(session = %session_id, purged, "no owner took the stop: relay items deleted");
            }
            Ok(())
        }
        Err(SessionError::NotInState(_)) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_and_margins() {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let deadline = deadline_instant(now_ms + 20_000);
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left > Duration::from_secs(19) && left <= Duration::from_secs(20));
        let margin = stop_margin(deadline);
        assert_eq!(
            margin,
            Duration::from_secs(1),
            "a thirtieth of 20 s is under the 1 s minimum"
        );
        let fifteen_minutes = stop_margin(deadline_instant(now_ms + 900_000));
        assert!(
            fifteen_minutes > Duration::from_millis(29_900)
                && fifteen_minutes <= Duration::from_secs(30),
            "a 15-minute function stops at 14:30, not {fifteen_minutes:?} before its deadline"
        );
        let minute = stop_margin(deadline_instant(now_ms + 60_000));
        assert!(minute > Duration::from_millis(1900) && minute <= Duration::from_secs(2));
        assert_eq!(
            stop_margin(deadline_instant(now_ms.saturating_sub(5))),
            Duration::from_secs(1),
            "a past deadline still leaves the minimum margin"
        );
        assert_eq!(
            stop_margin(deadline_instant(now_ms + 3_600_000)),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn disconnect_reasons() {
        let mut context = ApiGatewayWebsocketProxyRequestContext::default();
        assert_eq!(disconnect_reason(&context), "1005 ");
        context.disconnect_status_code = Some(1001);
        context.disconnect_reason = Some("Going away".into());
        assert_eq!(disconnect_reason(&context), "1001 Going away");
        assert_eq!(ok_response().status_code, 200);
    }
}
