//! How every Walrus HTTP server (storage node, chain validator, indexer,
//! publisher/aggregator, metrics) accepts connections, so that a client
//! that opens connections and then sends nothing, or sends slowly, holds
//! bounded resources for a bounded time (issue 21, failure 9):
//!
//! - at most [`Limits::max_connections`] connections are served at once;
//!   further ones wait in the listen backlog until one closes;
//! - a request's headers must arrive within [`Limits::header_timeout`];
//! - a connection on which no byte moves either way for
//!   [`Limits::idle_timeout`] is closed: an idle keep-alive connection, a
//!   body that stalls, a client that stops reading the response. Handlers
//!   that wait (long polls) must answer well within it.
//!
//! [`serve`] runs a warp filter this way over HTTP/1.1 until a shutdown
//! future completes, then lets requests in flight finish.

mod idle;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use warp::{Filter, Reply};

pub use idle::IdleTimeout;

/// The bounds a server puts on its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; each holds one file descriptor.
    pub max_connections: usize,
    /// Time to receive a request's headers, from their first poll.
    pub header_timeout: Duration,
    /// Time without a byte moving either way before the connection closes.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The defaults of API servers whose handlers answer within a minute
    /// (a long poll waits at most 30 s, a transaction submission 60 s):
    /// 512 connections (the default soft open-file limit is 1024, shared
    /// with the data files), 10 s for headers, 90 s idle.
    pub const API: Self = Self {
        max_connections: 512,
        header_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(90),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::API
    }
}

/// A running server: its address and how many connections it serves.
#[derive(Debug, Clone)]
pub struct Handle {
    address: SocketAddr,
    open: Arc<AtomicUsize>,
}

impl Handle {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Connections open now (at most [`Limits::max_connections`]).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// Serves `filter` on `listener` within `limits` until `shutdown`
/// completes, then waits for the connections in flight to finish.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve<F>(
    filter: F,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(Handle, tokio::task::JoinHandle<()>)>
where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let handle = Handle {
        address: listener.local_addr()?,
        open: Arc::new(AtomicUsize::new(0)),
    };
    let task = tokio::spawn(run(filter, listener, limits, shutdown, handle.open.clone()));
    Ok((handle, task))
}

async fn run<F>(
    filter: F,
    listener: TcpListener,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    open: Arc<AtomicUsize>,
) where
    F: Filter + Clone + Send + Sync + 'static,
    F::Extract: Reply,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => {
                permit.expect("the semaphore is never closed")
            }
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, mostly: back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle_timeout));
        let service = TowerToHyperService::new(warp::service(filter.clone()));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        let open = open.clone();
        open.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
            open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests;
