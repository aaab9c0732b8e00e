//! Prometheus metrics of a storage node, served on their own port at
//! `/metrics` (text exposition format).

use std::net::SocketAddr;

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use warp::Filter;

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests by method and HTTP status.
    pub requests: IntCounterVec,
    /// Request body bytes received by uploads.
    pub bytes_received: IntCounter,
    /// Body bytes sent by sliver and metadata reads.
    pub bytes_sent: IntCounter,
    /// Slivers written (uploads and recovery).
    pub slivers_stored: IntCounter,
    /// Slivers recovered from other nodes' symbols.
    pub slivers_recovered: IntCounter,
    /// Bytes of recovery symbols downloaded from other nodes.
    pub recovery_bytes_downloaded: IntCounter,
    /// Bytes of the slivers rebuilt by recovery.
    pub recovery_bytes_recovered: IntCounter,
    /// Stored slivers re-verified by the scrubber.
    pub scrub_slivers_checked: IntCounter,
    /// Stored slivers the scrubber found unreadable or not matching their
    /// metadata (dropped, then rebuilt by recovery).
    pub scrub_slivers_bad: IntCounter,
    /// Internal errors (HTTP 5xx).
    pub errors: IntCounter,
    /// Checkpoints of the chain applied.
    pub chain_checkpoints: IntGauge,
    /// The current epoch.
    pub epoch: IntGauge,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter = IntCounter::new(name, help).expect("valid metric name");
    registry
        .register(Box::new(counter.clone()))
        .expect("registered once");
    counter
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("valid metric name");
    registry
        .register(Box::new(gauge.clone()))
        .expect("registered once");
    gauge
}

impl Default for Metrics {
    fn default() -> Self {
        let registry =
            Registry::new_custom(Some("walrus_node".to_owned()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "HTTP requests by method and status"),
            &["method", "status"],
        )
        .expect("valid");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        Self {
            requests,
            bytes_received: counter(
                &registry,
                "bytes_received_total",
                "upload body bytes received",
            ),
            bytes_sent: counter(
                &registry,
                "bytes_sent_total",
                "sliver and metadata bytes sent",
            ),
            slivers_stored: counter(&registry, "slivers_stored_total", "slivers written"),
            slivers_recovered: counter(
                &registry,
                "slivers_recovered_total",
                "slivers rebuilt from recovery symbols",
            ),
            recovery_bytes_downloaded: counter(
                &registry,
                "recovery_bytes_downloaded_total",
                "recovery symbol bytes downloaded",
            ),
            recovery_bytes_recovered: counter(
                &registry,
                "recovery_bytes_recovered_total",
                "bytes of slivers rebuilt by recovery",
            ),
            scrub_slivers_checked: counter(
                &registry,
                "scrub_slivers_checked_total",
                "stored slivers re-verified by the scrubber",
            ),
            scrub_slivers_bad: counter(
                &registry,
                "scrub_slivers_bad_total",
                "stored slivers found unreadable or corrupt by the scrubber",
            ),
            errors: counter(&registry, "errors_total", "internal errors"),
            chain_checkpoints: gauge(&registry, "chain_checkpoints", "chain checkpoints applied"),
            epoch: gauge(&registry, "epoch", "current epoch"),
            registry,
        }
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into memory");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }

    /// Counts a finished request.
    pub fn record(&self, method: &str, status: u16) {
        self.requests
            .with_label_values(&[method, &status.to_string()])
            .inc();
        if status >= 500 {
            self.errors.inc();
        }
    }
}

/// Serves `/metrics` on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    metrics: std::sync::Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let route = warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            metrics.render(),
            "content-type",
            "text/plain; version=0.0.4",
        )
    });
    let limits = walrus_http::Limits::API;
    let (handle, task) = walrus_http::serve(route, listener, limits, shutdown)?;
    Ok((handle.address(), task))
}
