//! Handing input to a session's owner through the relay: a later message's
//! item ([`hand_to_owner`], for a live session only) and `$disconnect`'s
//! stop ([`hand_off_disconnect`]), which deletes the session's relay items
//! itself when no owner is left to take it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::TableError;
use super::peer::Peer;
use super::relay::{Relay, RelayError, RelayItem};
use super::session_item::{SessionError, SessionStatus, Sessions, live_session};
use crate::clock::now_epoch_s;

/// What a client hears when it sends input with no live session (seed 000's
/// wording, which the Nova Sonic APIs share).
pub(crate) const NO_ACTIVE_SESSION: &str = "No active session";

/// Hands a later message's input to the session's owner, or tells the
/// client [`NO_ACTIVE_SESSION`] (shaped by `error_message`).
pub(crate) async fn hand_to_owner(
    sessions: &Sessions,
    relay: &Relay,
    peer: &Peer<'_>,
    session_id: &str,
    order: &str,
    item: &RelayItem,
    error_message: fn(&str) -> Value,
) -> Result<(), TableError> {
    match live_session(sessions, session_id).await? {
        Some(_) => Ok(relay.send(session_id, order, item, now_epoch_s()).await?),
        None => {
            peer.tell(&error_message(NO_ACTIVE_SESSION)).await;
            Ok(())
        }
    }
}

/// How long `$disconnect` waits for the owner to take its stop item before
/// taking the owner for gone (its instance crashed or timed out) and deleting
/// the session's relay items itself: no audio may outlive its session.
pub(crate) const OWNER_GRACE: Duration = Duration::from_secs(2);
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
pub(crate) async fn hand_off_disconnect(
    sessions: &Sessions,
    relay: &Relay,
    session_id: &str,
    order: &str,
    reason: &str,
) -> Result<(), TableError> {
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
