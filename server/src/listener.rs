//! The relay's front door: accepts HTTP/1.1 connections, at most a set
//! number at once, and gives each a deadline to send its request headers.
//!
//! Without a deadline, a client that opens a connection and sends nothing
//! (or half a request line, slowly) holds a socket and a task for as long as
//! it likes, and a thousand of them exhaust the relay's open files: then
//! nobody, `/healthz` included, gets in. So:
//!
//! - **Header deadline.** A connection must finish its request headers
//!   within [`Limits::header_timeout`] of opening, and again of finishing the
//!   previous response (an idle keep-alive connection is closed after it).
//!   This is hyper's own `header_read_timeout`. Once the headers are in, the
//!   request's whole time, body included, is bounded by the router's
//!   request timeout.
//! - **Connection cap.** At most [`Limits::max_connections`] are served at
//!   once; beyond that the relay stops accepting, and newcomers wait in the
//!   kernel's queue until the deadline frees a place. The cap is kept below
//!   the process's open-file limit, which [`raise_open_files_limit`] lifts to
//!   what the system allows.
//! - **Graceful stop.** On shutdown the relay stops accepting, lets requests
//!   in flight finish, and closes idle connections.
//!
//! - **TLS.** With a certificate (see [`crate::tls`]) each connection's
//!   handshake must finish within the same header deadline; then the
//!   request is served as over plain TCP, marked `x-forwarded-proto: https`
//!   so that cookies are sent `Secure`, as behind a proxy that ends TLS.
//!
//! Only HTTP/1.1 is served: every client of the relay (phones, browsers,
//! scripts) speaks it, and HTTP/2 in the clear has no header deadline to
//! give.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How many connections the relay holds, and for how long it waits for a
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, from
    /// opening or from the previous response.
    pub header_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

/// Open files kept back from connections: the database, its journal, the
/// key file, logs.
const RESERVED_FILES: u64 = 64;

impl Limits {
    /// These limits with the cap lowered, if need be, to fit in
    /// `open_files` (the process's limit on open files).
    pub fn within(self, open_files: u64) -> Self {
        let room = usize::try_from(open_files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
        Self {
            max_connections: self.max_connections.min(room.max(1)),
            ..self
        }
    }
}

/// Raises the soft limit on open files to the hard limit, as far as
/// `wanted`, and returns the soft limit in force (`None` where it cannot be
/// read). Systems start services with a soft limit of 1,024, far below what
/// they allow.
pub fn raise_open_files_limit(wanted: u64) -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current?;
        let target = limit.maximum.map_or(wanted, |max| max.min(wanted));
        if target <= current {
            return Some(current);
        }
        let raised = Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => Some(target),
            Err(e) => {
                tracing::warn!(error = %e, current, target, "cannot raise the open-file limit");
                Some(current)
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = wanted;
        None
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then finishes the requests in flight. `open` counts the connections
/// being served.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    open: Gauge,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    let mut warned_full = false;
    loop {
        if places.available_permits() == 0 && !warned_full {
            tracing::warn!(
                max_connections = limits.max_connections,
                "the connection cap is reached: new connections wait"
            );
        }
        warned_full = places.available_permits() == 0;
        let place = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Sync answers are written in one go; do not hold back their tail.
        let _ = stream.set_nodelay(true);
        let secure = tls.is_some();
        // Handlers that care (`/metrics`, the audit log) learn who connected.
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                if secure {
                    request
                        .headers_mut()
                        .insert("x-forwarded-proto", HeaderValue::from_static("https"));
                }
                request
            });
        let service = TowerToHyperService::new(service);
        let open = open.clone();
        open.inc();
        match &tls {
            None => {
                let connection =
                    graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    finish(connection.await);
                    open.dec();
                    drop(place);
                });
            }
            Some(acceptor) => {
                // The handshake runs in the connection's own task, within the
                // header deadline: a client that never finishes it holds
                // nothing for long, and the accept loop never waits on it.
                let handshake = acceptor.accept(stream);
                let deadline = limits.header_timeout;
                let http = http.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tokio::time::timeout(deadline, handshake).await {
                        Ok(Ok(stream)) => {
                            let connection = http.serve_connection(TokioIo::new(stream), service);
                            finish(watcher.watch(connection).await);
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => {
                            tracing::debug!("TLS handshake not finished within the header deadline")
                        }
                    }
                    open.dec();
                    drop(place);
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Logs how a connection ended, if badly.
fn finish(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        // Header deadlines, resets and early closes: the client's doing.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Waits out a failed `accept`: errors of one connection (it was reset
/// before we took it) cost nothing; running out of open files or memory
/// costs a pause, so that the loop does not spin.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_database() {
        let limits = Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
        };
        assert_eq!(limits.within(1024).max_connections, 960);
        assert_eq!(limits.within(100_000).max_connections, 4096);
        assert_eq!(limits.within(10).max_connections, 1);
    }
}
