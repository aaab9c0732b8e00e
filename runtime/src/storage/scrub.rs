//! The scrubber (issue 21, failure 11): re-reads every stored sliver of
//! the certified blobs this node holds, at a bounded rate, and checks it
//! against the blob's metadata. A sliver that cannot be read (a truncated
//! or vanished file) or does not verify is dropped from the index and
//! recovery is woken to rebuild it from the other nodes' symbols. What it
//! found is in `/v1/health` (`scrub`) and in the metrics
//! (`scrub_slivers_checked_total`, `scrub_slivers_bad_total`).

use std::{sync::Arc, time::Duration};

use walrus_codec::{BlobId, Sliver, SliverType, UnverifiedBlobMetadataWithId};
use walrus_types::node::ScrubStatus;

use super::{NodeShared, lock};

/// How the scrubber paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubConfig {
    /// Pause between two passes over the stored slivers.
    pub interval: Duration,
    /// Sliver bytes read per second at most.
    pub bytes_per_second: u64,
}

impl Default for ScrubConfig {
    /// A pass every 10 minutes at 16 MiB/s.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(600),
            bytes_per_second: 16 << 20,
        }
    }
}

/// Runs passes forever; after a pass that dropped slivers, wakes recovery
/// through `repair`.
pub async fn run(shared: Arc<NodeShared>, repair: tokio::sync::mpsc::UnboundedSender<()>) {
    loop {
        tokio::time::sleep(shared.config.scrub.interval).await;
        let bad = pass(&shared).await;
        if bad > 0 && repair.send(()).is_err() {
            return;
        }
    }
}

/// One pass; returns how many slivers were dropped.
async fn pass(shared: &Arc<NodeShared>) -> u64 {
    let view = shared.view();
    let blobs = match lock(&shared.store).certified_blobs(view.epoch) {
        Ok(blobs) => blobs,
        Err(error) => {
            tracing::warn!(%error, "scrub: cannot list blobs");
            return 0;
        }
    };
    let mut bad = 0;
    for blob_id in blobs {
        for pair in shared.pairs_of(&blob_id, &view) {
            for kind in [SliverType::Primary, SliverType::Secondary] {
                let (read, ok) = check_sliver(shared, &blob_id, pair, kind).await;
                if !ok {
                    bad += 1;
                }
                pace(shared, read).await;
            }
        }
    }
    let mut status = shared.scrub_status();
    status.passes += 1;
    status.last_pass_bad = bad;
    *shared
        .scrub
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = status;
    bad
}

/// Sleeps as long as reading `bytes` takes at the configured rate.
async fn pace(shared: &NodeShared, bytes: u64) {
    let rate = shared.config.scrub.bytes_per_second.max(1);
    let micros = bytes.saturating_mul(1_000_000) / rate;
    if micros > 0 {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
}

/// Re-reads and verifies one sliver if it is stored; drops it if it is
/// unreadable or wrong. Returns the bytes read and whether it was fine
/// (or not stored, which is recovery's business).
async fn check_sliver(
    shared: &Arc<NodeShared>,
    blob_id: &BlobId,
    pair: u16,
    kind: SliverType,
) -> (u64, bool) {
    let shared = shared.clone();
    let blob_id = *blob_id;
    tokio::task::spawn_blocking(move || {
        let store = lock(&shared.store);
        match store.has_sliver(&blob_id, pair, kind) {
            Ok(true) => {}
            _ => return (0, true),
        }
        let bytes = store.sliver_bytes(&blob_id, pair, kind);
        let read = match &bytes {
            Ok(Some(b)) => u64::try_from(b.len()).unwrap_or(u64::MAX),
            _ => 0,
        };
        let problem = match bytes {
            Err(error) => Some(error.to_string()),
            Ok(None) => None,
            Ok(Some(bytes)) => verify(&shared, &store, &blob_id, &bytes).err(),
        };
        shared.metrics.scrub_slivers_checked.inc();
        let Some(problem) = problem else {
            return (read, true);
        };
        tracing::warn!(%blob_id, pair, %kind, %problem, "scrub: dropping a bad sliver");
        shared.metrics.scrub_slivers_bad.inc();
        if let Err(error) = store.forget_sliver(&blob_id, pair, kind) {
            tracing::warn!(%error, "scrub: cannot drop the sliver");
        }
        (read, false)
    })
    .await
    .unwrap_or((0, true))
}

/// Decodes a stored sliver and checks it against the stored metadata.
fn verify(
    shared: &NodeShared,
    store: &super::store::NodeStore,
    blob_id: &BlobId,
    bytes: &[u8],
) -> Result<(), String> {
    let sliver: Sliver = bcs::from_bytes(bytes).map_err(|e| format!("undecodable: {e}"))?;
    let metadata = store
        .metadata(blob_id)
        .map_err(|e| e.to_string())?
        .ok_or("no metadata stored")?;
    let metadata = UnverifiedBlobMetadataWithId::new(*blob_id, metadata)
        .verify(&shared.encoding)
        .map_err(|e| format!("stored metadata does not verify: {e}"))?;
    sliver
        .verify(&shared.encoding, &metadata)
        .map_err(|e| format!("does not verify: {e}"))
}

impl NodeShared {
    /// What the scrubber has done so far.
    pub fn scrub_status(&self) -> ScrubStatus {
        let status = *self
            .scrub
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ScrubStatus {
            checked: self.metrics.scrub_slivers_checked.get(),
            bad: self.metrics.scrub_slivers_bad.get(),
            ..status
        }
    }
}
