//! What the API Gateway emulators count for the cost model, as AWS bills it:
//! a WebSocket API's messages both ways in 32 KB units and its connection
//! time ([`GatewayMeters`]); an HTTP API's requests in 512 KB units or a REST
//! API's requests one by one ([`HttpApiMeters`], for the REST/HTTP gateway
//! emulator to feed: one [`HttpApiMeters::record`] per request it answers).
//!
//! Counted as billed: client frames in (text messages; binary frames close the
//! connection unrouted), and out every route response, `@connections` POST
//! answered 200, and API Gateway's own messages (`Forbidden`, `Internal server
//! error`, `Endpoint request timed out`), the last also counted apart.
//! `$connect` / `$disconnect` and ping / pong are not messages. Durations are
//! real time; the cost model converts them with the time scale.
//!
//! HTTP and REST APIs: the REST gateway emulator (branch `httpapi`, not merged
//! when this was written) is to hold one `Arc<HttpApiMeters>` per API, call
//! [`HttpApiMeters::record`] for every request it answers, and hand
//! [`HttpApiMeters::reading`] to `LocalStack::stop_metered`
//! (`StackMeters::http_apis`); the cost model prices them already.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::cost::rules::{
    HTTP_API_REQUEST_UNIT_BYTES, WEBSOCKET_MESSAGE_UNIT_BYTES, metered_units,
};

/// A WebSocket API's counters (lock-free; shared by every connection task).
#[derive(Debug, Default)]
pub struct GatewayMeters {
    messages_in: AtomicU64,
    units_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    units_out: AtomicU64,
    bytes_out: AtomicU64,
    gateway_messages: AtomicU64,
    connections: AtomicU64,
    closed_connection_ms: AtomicU64,
}

/// A reading of a WebSocket API's meters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebSocketReading {
    /// Messages clients sent.
    pub messages_in: u64,
    /// Their 32 KB units.
    pub units_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Messages sent to clients (route responses, `@connections` POSTs,
    /// API Gateway's own messages).
    pub messages_out: u64,
    /// Their 32 KB units.
    pub units_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Of `messages_out`, API Gateway's own error messages.
    pub gateway_messages: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Connection time of every connection, open ones up to the reading (real ms).
    pub connection_ms: u64,
}

impl GatewayMeters {
    /// A client message of `bytes` arrived.
    pub fn message_in(&self, bytes: usize) {
        let bytes = bytes as u64;
        self.messages_in.fetch_add(1, Ordering::Relaxed);
        self.units_in.fetch_add(
            metered_units(bytes, WEBSOCKET_MESSAGE_UNIT_BYTES),
            Ordering::Relaxed,
        );
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A message of `bytes` was handed to a client socket.
    pub fn message_out(&self, bytes: usize) {
        let bytes = bytes as u64;
        self.messages_out.fetch_add(1, Ordering::Relaxed);
        self.units_out.fetch_add(
            metered_units(bytes, WEBSOCKET_MESSAGE_UNIT_BYTES),
            Ordering::Relaxed,
        );
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    /// API Gateway's own message of `bytes` was handed to a client socket.
    pub fn gateway_message(&self, bytes: usize) {
        self.message_out(bytes);
        self.gateway_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was established.
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection that lasted `real_ms` closed.
    pub fn connection_closed(&self, real_ms: u64) {
        self.closed_connection_ms
            .fetch_add(real_ms, Ordering::Relaxed);
    }

    /// The counters now; `open_ms` is the time so far of the connections
    /// still open (real ms).
    pub fn reading(&self, open_ms: impl IntoIterator<Item = u64>) -> WebSocketReading {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WebSocketReading {
            messages_in: get(&self.messages_in),
            units_in: get(&self.units_in),
            bytes_in: get(&self.bytes_in),
            messages_out: get(&self.messages_out),
            units_out: get(&self.units_out),
            bytes_out: get(&self.bytes_out),
            gateway_messages: get(&self.gateway_messages),
            connections: get(&self.connections),
            connection_ms: get(&self.closed_connection_ms) + open_ms.into_iter().sum::<u64>(),
        }
    }
}

/// How an HTTP-style API is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpApiKind {
    /// An HTTP API (API Gateway v2): requests in 512 KB units.
    Http,
    /// A REST API (API Gateway v1): per request.
    Rest,
}

/// An HTTP or REST API's counters.
#[derive(Debug)]
pub struct HttpApiMeters {
    kind: HttpApiKind,
    requests: AtomicU64,
    units: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// A reading of an HTTP or REST API's meters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpApiReading {
    /// How the API is billed.
    pub kind: HttpApiKind,
    /// Requests answered.
    pub requests: u64,
    /// Billed request units (HTTP APIs: 512 KB units; REST APIs: requests).
    pub units: u64,
    /// Request bytes.
    pub bytes_in: u64,
    /// Response bytes (data transfer out).
    pub bytes_out: u64,
}

impl HttpApiMeters {
    /// Counters for an API of this kind.
    pub fn new(kind: HttpApiKind) -> Self {
        Self {
            kind,
            requests: AtomicU64::new(0),
            units: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        }
    }

    /// One request of `request_bytes` answered with `response_bytes`.
    pub fn record(&self, request_bytes: u64, response_bytes: u64) {
        let units = match self.kind {
            HttpApiKind::Http => metered_units(request_bytes, HTTP_API_REQUEST_UNIT_BYTES),
            HttpApiKind::Rest => 1,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.units.fetch_add(units, Ordering::Relaxed);
        self.bytes_in.fetch_add(request_bytes, Ordering::Relaxed);
        self.bytes_out.fetch_add(response_bytes, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn reading(&self) -> HttpApiReading {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        HttpApiReading {
            kind: self.kind,
            requests: get(&self.requests),
            units: get(&self.units),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_messages_are_counted_in_units_both_ways() {
        let meters = GatewayMeters::default();
        meters.message_in(100);
        meters.message_in(33 * 1024);
        meters.message_out(10);
        meters.gateway_message(90);
        meters.connection_opened();
        meters.connection_opened();
        meters.connection_closed(60_000);
        let reading = meters.reading([30_000]);
        assert_eq!(
            reading,
            WebSocketReading {
                messages_in: 2,
                units_in: 3,
                bytes_in: 100 + 33 * 1024,
                messages_out: 2,
                units_out: 2,
                bytes_out: 100,
                gateway_messages: 1,
                connections: 2,
                connection_ms: 90_000,
            }
        );
    }

    #[test]
    fn http_apis_meter_512_kb_units_and_rest_apis_requests() {
        let http = HttpApiMeters::new(HttpApiKind::Http);
        http.record(100, 2_000);
        http.record(600 * 1024, 10);
        let reading = http.reading();
        assert_eq!((reading.requests, reading.units), (2, 3));
        assert_eq!(reading.bytes_out, 2_010);
        let rest = HttpApiMeters::new(HttpApiKind::Rest);
        rest.record(600 * 1024, 10);
        assert_eq!((rest.reading().requests, rest.reading().units), (1, 1));
    }
}
