//! Serving an axum router over TCP, the one way every server of the mocks
//! and the harness does it: bind (port 0 picks a free one) or take a bound
//! listener, accept every connection with TCP_NODELAY set, hand handlers the
//! client's address (`ConnectInfo<SocketAddr>`), serve HTTP/1.1 with
//! upgrades (WebSockets), and stop gracefully on demand: stop accepting, let
//! the connections in flight finish, join the server task.
//!
//! Dropping a [`Server`] does not stop it (it serves until [`Server::stop`],
//! or until the token given to [`Server::serve_until`] is cancelled).

use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio_util::sync::CancellationToken;

/// A router serving on a TCP port.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (`("127.0.0.1", 0)`: a free loopback port) and serves
    /// `router` on it; `name` names the server in a failure's log line.
    pub async fn bind(
        name: &'static str,
        addr: impl ToSocketAddrs,
        router: Router,
    ) -> std::io::Result<Self> {
        Self::serve(name, TcpListener::bind(addr).await?, router)
    }

    /// Serves `router` on a listener bound beforehand (when its address had
    /// to be known before the router could be built).
    pub fn serve(
        name: &'static str,
        listener: TcpListener,
        router: Router,
    ) -> std::io::Result<Self> {
        Self::serve_until(name, listener, router, CancellationToken::new())
    }

    /// [`Self::serve`], stopping gracefully as well when `stop` is cancelled
    /// (a token the server's owner shares with work of its own).
    pub fn serve_until(
        name: &'static str,
        listener: TcpListener,
        router: Router,
        stop: CancellationToken,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        // Small frames must not wait for Nagle (seen: a mock's last chunk ~40 ms late).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY not set: {e}");
            }
        });
        let until = stop.clone();
        let task = tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let serve =
                axum::serve(listener, service).with_graceful_shutdown(until.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::error!("{name} server failed: {e}");
            }
        });
        Ok(Self { addr, stop, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections now, without waiting: [`Self::stop`]
    /// then waits for the connections in flight.
    pub fn begin_stop(&self) {
        self.stop.cancel();
    }

    /// Stops accepting connections and waits until the ones in flight have
    /// finished and the server task has ended.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await
            && e.is_panic()
        {
            tracing::error!("server task panicked: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    async fn get_text(addr: SocketAddr, path: &str) -> String {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.expect("write");
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn serves_with_the_client_address_then_stops() {
        let router = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        );
        let server = Server::bind("test", ("127.0.0.1", 0), router)
            .await
            .expect("bind");
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(server.base_url(), format!("http://{addr}"));
        let answer = get_text(addr, "/peer").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1"), "{answer}");
        server.stop().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_shared_token_stops_it() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let token = CancellationToken::new();
        let server =
            Server::serve_until("test", listener, Router::new(), token.clone()).expect("serve");
        let addr = server.local_addr();
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), server.stop())
            .await
            .expect("stopped");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
