//! The API Gateway WebSocket emulator: one listener per WebSocket API of the
//! template, serving the stage path (`ws://127.0.0.1:PORT/{stage}`) and the
//! management API (`http://127.0.0.1:PORT/{stage}/@connections/{id}`) on the
//! same port, as AWS serves both on the API's host.
//!
//! - [`routing`]: route selection expressions;
//! - [`events`]: event JSON in the AWS shape, AWS-style ids;
//! - [`policy`]: REQUEST authorizer answers;
//! - `handshake`: the upgrade, decided by the authorizer and `$connect`;
//! - `connection`: a live socket (limits, timeouts, routing, `$disconnect`);
//! - `management`: `@connections` POST / GET / DELETE;
//! - [`rest`]: the REST API side (Lambda proxy integrations, CORS, limits);
//! - [`http_api`]: HTTP APIs (payload formats 1.0 and 2.0, JWT and Lambda
//!   authorizers, CORS, limits);
//! - [`meters`]: messages, 32 KB units and connection time, for the cost model.
//!
//! Facts reproduced: ../shared/reference/aws-websocket-apis.md.

mod connection;
pub mod events;
mod handshake;
pub(crate) mod http_api;
mod management;
pub mod meters;
pub mod policy;
pub(crate) mod rest;
pub mod routing;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{any, get};
use mocks::server::Server;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lambda::LambdaEmulator;
use crate::template::WebSocketApi;
use crate::time_scale::TimeScale;
use events::ConnectionFacts;
use meters::{GatewayMeters, WebSocketReading};
use routing::RouteSelector;

/// AWS's WebSocket limits (scenario time; the time scale divides the durations).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame (32 KB).
    pub max_frame_bytes: usize,
    /// Largest message (128 KB); also the largest @connections POST.
    pub max_message_bytes: usize,
    /// Idle timeout (10 minutes).
    pub idle_timeout: Duration,
    /// Maximum connection duration (2 hours).
    pub max_duration: Duration,
    /// New connections per second (500 per account and Region).
    pub new_connections_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 32 * 1024,
            max_message_bytes: 128 * 1024,
            idle_timeout: Duration::from_secs(10 * 60),
            max_duration: Duration::from_secs(2 * 60 * 60),
            new_connections_per_second: 500,
        }
    }
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Divides the idle, maximum-duration and integration timeouts.
    pub time_scale: TimeScale,
    /// Region for ARNs.
    pub region: String,
    /// Account for ARNs.
    pub account_id: String,
    /// The limits.
    pub limits: Limits,
}

/// What can be sent to a client socket.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A text frame.
    Text(String),
    /// A binary frame (an @connections POST that is not UTF-8).
    Binary(Vec<u8>),
    /// Close with a code and reason (the $disconnect event gets them too).
    Close(u16, String),
}

/// A live connection as the management API and message routes see it.
#[derive(Debug)]
pub(crate) struct ConnectionHandle {
    pub facts: ConnectionFacts,
    pub outbound: mpsc::UnboundedSender<Outbound>,
    /// Last traffic either way, epoch ms.
    pub last_active_ms: AtomicI64,
    /// Upgrade request headers (the $disconnect event carries them).
    pub headers: Vec<(String, String)>,
}

/// A connection that has gone, and when its `$disconnect` ran (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Departure {
    /// The connection.
    pub connection_id: String,
    /// When it left the registry (from then on `@connections` answers 410).
    pub closed_at_ms: i64,
    /// The close code `$disconnect` got.
    pub code: u16,
    /// When the `$disconnect` invocation began (none without a `$disconnect` route).
    pub disconnect_started_ms: Option<i64>,
    /// When it ended.
    pub disconnect_finished_ms: Option<i64>,
}

/// A management API call for a connection that had gone (answered 410).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LatePost {
    /// The connection.
    pub connection_id: String,
    /// `POST`, `GET` or `DELETE`.
    pub method: String,
    /// When it arrived, epoch ms.
    pub at_ms: i64,
    /// Body size.
    pub bytes: usize,
}

/// What the gateway keeps about connections that went (reliability checks:
/// nothing may be posted to a connection after its `$disconnect`).
#[derive(Debug, Default)]
pub(crate) struct Departures {
    pub departed: Mutex<HashMap<String, Departure>>,
    pub late: Mutex<Vec<LatePost>>,
}

impl Departures {
    pub(crate) fn closed(&self, connection_id: &str, code: u16) {
        self.departed.lock().expect("departures lock").insert(
            connection_id.to_owned(),
            Departure {
                connection_id: connection_id.to_owned(),
                closed_at_ms: chrono::Utc::now().timestamp_millis(),
                code,
                disconnect_started_ms: None,
                disconnect_finished_ms: None,
            },
        );
    }

    pub(crate) fn disconnect(&self, connection_id: &str, finished: bool) {
        let now = chrono::Utc::now().timestamp_millis();
        if let Some(d) = self
            .departed
            .lock()
            .expect("departures lock")
            .get_mut(connection_id)
        {
            if finished {
                d.disconnect_finished_ms = Some(now);
            } else {
                d.disconnect_started_ms = Some(now);
            }
        }
    }

    pub(crate) fn late(&self, connection_id: &str, method: &str, bytes: usize) {
        self.late.lock().expect("late posts lock").push(LatePost {
            connection_id: connection_id.to_owned(),
            method: method.to_owned(),
            at_ms: chrono::Utc::now().timestamp_millis(),
            bytes,
        });
    }
}

/// State of one running API.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub api: WebSocketApi,
    pub selector: RouteSelector,
    pub lambda: LambdaEmulator,
    pub settings: GatewaySettings,
    pub domain_name: String,
    pub connections: Mutex<HashMap<String, Arc<ConnectionHandle>>>,
    pub connect_window: Mutex<(Instant, u32)>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    /// What AWS would bill this API for.
    pub meters: GatewayMeters,
    /// Connections that went, and calls for them afterwards.
    pub departures: Departures,
}

impl ApiState {
    pub(crate) fn connection(&self, id: &str) -> Option<Arc<ConnectionHandle>> {
        self.connections
            .lock()
            .expect("connections lock")
            .get(id)
            .cloned()
    }

    /// Counts a new connection against the per-second quota; false when over it.
    pub(crate) fn admit_connection(&self) -> bool {
        let mut window = self.connect_window.lock().expect("window lock");
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        if window.1 >= self.settings.limits.new_connections_per_second {
            return false;
        }
        window.1 += 1;
        true
    }

    pub(crate) fn real(&self, scenario: Duration) -> Duration {
        self.settings.time_scale.to_real(scenario)
    }
}

/// Why an API could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The port could not be bound.
    #[error("cannot bind the {api} listener: {source}")]
    Bind {
        /// The API's logical id.
        api: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The route selection expression is not supported.
    #[error("{api}: {source}")]
    Expression {
        /// The API's logical id.
        api: String,
        /// The cause.
        source: routing::BadExpression,
    },
}

/// A running WebSocket API.
#[derive(Debug)]
pub struct WebSocketGateway {
    state: Arc<ApiState>,
    server: Server,
}

impl WebSocketGateway {
    /// Serves an API on a bound listener.
    pub async fn start(
        api: WebSocketApi,
        lambda: LambdaEmulator,
        settings: GatewaySettings,
        listener: TcpListener,
    ) -> Result<Self, GatewayError> {
        let selector = RouteSelector::parse(&api.route_selection_expression).map_err(|source| {
            GatewayError::Expression {
                api: api.logical_id.clone(),
                source,
            }
        })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            api: api.logical_id.clone(),
            source,
        })?;
        let state = Arc::new(ApiState {
            api,
            selector,
            lambda,
            settings,
            domain_name: addr.to_string(),
            connections: Mutex::new(HashMap::new()),
            connect_window: Mutex::new((Instant::now(), 0)),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            meters: GatewayMeters::default(),
            departures: Departures::default(),
        });
        let app = Router::new()
            .route(
                "/{stage}",
                get(handshake::upgrade).fallback(handshake::not_websocket),
            )
            .route(
                "/{stage}/@connections/{connection_id}",
                any(management::connections),
            )
            .fallback(handshake::forbidden)
            .with_state(state.clone());
        let server = Server::serve_until(
            "WebSocket API gateway",
            listener,
            app,
            state.shutdown.clone(),
        )
        .map_err(|source| GatewayError::Bind {
            api: state.api.logical_id.clone(),
            source,
        })?;
        Ok(Self { state, server })
    }

    /// The API.
    pub fn api(&self) -> &WebSocketApi {
        &self.state.api
    }

    /// The listener address.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The WebSocket URL of the first stage (`ws://127.0.0.1:PORT/{stage}`).
    pub fn url(&self) -> String {
        let addr = self.server.local_addr();
        format!("ws://{addr}/{}", self.state.api.stages[0])
    }

    /// The management endpoint clients set on their SDK (`http://127.0.0.1:PORT/{stage}`).
    pub fn management_endpoint(&self) -> String {
        format!("{}/{}", self.server.base_url(), self.state.api.stages[0])
    }

    /// Ids of the open connections.
    pub fn connection_ids(&self) -> Vec<String> {
        self.state
            .connections
            .lock()
            .expect("connections lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Connections that have gone, with the times of their `$disconnect`.
    pub fn departures(&self) -> Vec<Departure> {
        let departed = self
            .state
            .departures
            .departed
            .lock()
            .expect("departures lock");
        let mut list: Vec<Departure> = departed.values().cloned().collect();
        list.sort_by_key(|d| d.closed_at_ms);
        list
    }

    /// Management API calls (`POST` above all) for connections that had
    /// already gone, each answered 410 `GoneException`.
    pub fn late_posts(&self) -> Vec<LatePost> {
        self.state
            .departures
            .late
            .lock()
            .expect("late posts lock")
            .clone()
    }

    /// What the API's meters read now (open connections count up to now).
    pub fn meters(&self) -> WebSocketReading {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let open: Vec<u64> = self
            .state
            .connections
            .lock()
            .expect("connections lock")
            .values()
            .map(|c| u64::try_from(now_ms - c.facts.connected_at_ms).unwrap_or(0))
            .collect();
        self.state.meters.reading(open)
    }

    /// Closes every connection with 1001 (each gets its `$disconnect`), waits
    /// for the in-flight work, and stops listening.
    pub async fn shutdown(self) {
        let _ = self.shutdown_metered().await;
    }

    /// [`Self::shutdown`], then what the meters read (every connection closed,
    /// every invocation the API started over or given up on).
    pub async fn shutdown_metered(self) -> WebSocketReading {
        self.state.shutdown.cancel();
        self.state.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(api = %self.state.api.logical_id, "connections still busy at shutdown");
        }
        let reading = self.meters();
        self.server.stop().await;
        reading
    }
}
