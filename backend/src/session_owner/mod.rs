//! The session-owner design shared by the speaking and Nova Sonic functions.
//! API Gateway invokes a function once per WebSocket message, so a speech
//! session outlives any one invocation: the invocation that starts it
//! becomes its **owner** (it holds the model stream until the session ends
//! or its deadline nears), and later invocations hand their input to the
//! owner through a relay table in DynamoDB.
//!
//! - [`route`]: the routine every session-owning API runs per event
//!   (`$connect`, `$disconnect`, the message's relay order), leaving each
//!   API only its own messages;
//! - [`session_item`]: session items with guarded status transitions and TTL;
//! - [`relay`]: the relay table, the writers' side (ordered items with a
//!   TTL), and the owner's relay settings;
//! - [`relay_inbox`]: the owner's side of the relay, a jitter buffer that
//!   hands items over in receive order, however late they were written;
//! - [`hand_off`]: handing a message's input, or `$disconnect`'s stop, to
//!   the owner;
//! - [`deadline`]: when an owner stops, ahead of the Lambda deadline;
//! - [`peer`]: the client at the other end of the socket.

pub(crate) mod deadline;
pub(crate) mod hand_off;
pub(crate) mod peer;
pub(crate) mod relay;
pub(crate) mod relay_inbox;
pub mod route;
pub(crate) mod session_item;

use relay::RelayError;
use session_item::SessionError;

/// Why a call to the sessions or relay table failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The sessions table.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The relay table.
    #[error(transparent)]
    Relay(#[from] RelayError),
}
