//! Reading a blob (SPEC.md sections 4 and 7): verified metadata from any
//! node, then `p` primary slivers, systematic ones first, each verified,
//! then decoding and the consistency check.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use walrus_codec::{
    BlobId, EncodingConfig, Sliver, SliverType, Symbols, UnverifiedBlobMetadataWithId,
    VerifiedBlobMetadataWithId,
};
use walrus_types::{NodeClient, chain::CommitteeInfo};

use crate::{Client, ClientError, Phase};

/// How much a read checks (SPEC.md section 4, read consistency levels).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConsistencyCheck {
    /// Trust the slivers: no per-sliver verification.
    Skip,
    /// Verify each fetched sliver against the metadata; when non-systematic
    /// slivers were used, re-check the systematic slivers' hashes after
    /// decoding.
    #[default]
    Default,
    /// Also re-encode the decoded blob and compare the blob ID.
    Strict,
}

/// Most failure messages kept for an error report.
const MAX_REPORTED_FAILURES: usize = 8;

impl Client {
    /// Reads blob `blob_id`. Succeeds while the nodes of up to `f` shards
    /// are down or serve garbage.
    ///
    /// # Errors
    /// [`ClientError::BlobNotFound`] when no node has valid metadata,
    /// [`ClientError::BlobInvalid`] when the nodes report the ID invalid,
    /// [`ClientError::NotEnoughSlivers`] when too few verified slivers
    /// arrive, [`ClientError::Inconsistent`] when the decoded blob does not
    /// match its ID, [`ClientError::Chain`].
    pub async fn read(
        &self,
        blob_id: &BlobId,
        check: ConsistencyCheck,
    ) -> Result<Vec<u8>, ClientError> {
        let committee = self.committee().await?;
        let config = Self::encoding_config(&committee)?;
        let metadata = match self.verified_metadata(&committee, &config, blob_id).await {
            Ok(metadata) => Arc::new(metadata),
            Err(ClientError::BlobNotFound(_)) => {
                // Say why, when the nodes know: invalid blobs have no data.
                let invalid = self
                    .blob_status(blob_id)
                    .await
                    .is_ok_and(|s| matches!(s.status, crate::NodeBlobStatus::Invalid {}));
                return Err(if invalid {
                    ClientError::BlobInvalid(*blob_id)
                } else {
                    ClientError::BlobNotFound(*blob_id)
                });
            }
            Err(error) => return Err(error),
        };
        let slivers = self
            .primary_slivers(&committee, &config, &metadata, check)
            .await?;
        let used_non_systematic = slivers
            .iter()
            .any(|s| s.index >= config.n_primary_source_symbols());
        tokio::task::spawn_blocking(move || {
            decode(&config, &metadata, &slivers, check, used_non_systematic)
        })
        .await
        .map_err(|e| ClientError::Codec(format!("decoder panicked: {e}")))?
    }

    /// Metadata from the first node (heaviest first) whose metadata verifies
    /// against `blob_id`. A node that fails is replaced at once; one that
    /// has not answered after the hedge delay gets company: one more node
    /// is asked in parallel, and so on, so `f` hung nodes delay the read by
    /// a few hedge delays, not by their timeouts (issue 21, failure 6).
    async fn verified_metadata(
        &self,
        committee: &CommitteeInfo,
        config: &EncodingConfig,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, ClientError> {
        let mut members: Vec<_> = committee.members.iter().collect();
        members.sort_by_key(|m| std::cmp::Reverse(m.shards.len()));
        let timeout = self.config.communication.metadata_timeout();
        let hedge = self.config.communication.hedge_delay();
        let mut queue = members.into_iter();
        let mut tasks = tokio::task::JoinSet::new();
        let mut ask_next = |tasks: &mut tokio::task::JoinSet<_>| {
            let Some(member) = queue.next() else {
                return false;
            };
            let node = self.reader(&member.network_address, timeout);
            let (config, blob_id) = (*config, *blob_id);
            tasks.spawn(async move {
                let metadata = node.metadata(&blob_id).await.map_err(|e| e.to_string())?;
                UnverifiedBlobMetadataWithId::new(blob_id, metadata)
                    .verify(&config)
                    .map_err(|e| format!("{}: invalid metadata: {e}", node.address()))
            });
            true
        };
        ask_next(&mut tasks);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    None => break,
                    Some(Ok(Ok(verified))) => return Ok(verified),
                    Some(Ok(Err(error))) => {
                        tracing::debug!(%error, "no metadata");
                        ask_next(&mut tasks);
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "metadata task failed");
                        ask_next(&mut tasks);
                    }
                },
                () = tokio::time::sleep(hedge) => {
                    ask_next(&mut tasks);
                }
            }
        }
        Err(ClientError::BlobNotFound(*blob_id))
    }

    /// Fetches `p` distinct verified primary slivers: pairs `0..p` first
    /// (systematic, no decoding needed), then further pairs to replace
    /// failures. A node that fails once is not asked again. A request
    /// without an answer after the hedge delay (at least three times the
    /// median time of the slivers received so far) is hedged: another
    /// pair is asked from another node, the slow one stays in flight and
    /// its node gets no further pairs (issue 21, failure 6).
    async fn primary_slivers(
        &self,
        committee: &CommitteeInfo,
        config: &EncodingConfig,
        metadata: &Arc<VerifiedBlobMetadataWithId>,
        check: ConsistencyCheck,
    ) -> Result<Vec<Sliver>, ClientError> {
        let blob_id = *metadata.blob_id();
        let needed = usize::from(config.n_primary_source_symbols());
        let n = config.n_shards();
        let owner = shard_owners(committee, n);
        let timeout = self.config.communication.sliver_timeout();
        let nodes: Vec<_> = committee
            .members
            .iter()
            .map(|m| self.reader(&m.network_address, timeout))
            .collect();
        let symbol_size = metadata
            .symbol_size(config)
            .map_err(|e| ClientError::Codec(e.to_string()))?;
        let sliver_bytes = u64::from(symbol_size) * u64::from(config.n_secondary_source_symbols());
        self.progress.start(
            Phase::Download,
            sliver_bytes * u64::try_from(needed).unwrap_or(0),
        );
        let mut fetch = SliverFetch {
            concurrency: self.config.communication.max_concurrent_sliver_reads.max(1),
            hedge: self.config.communication.hedge_delay(),
            ..SliverFetch::default()
        };
        let mut next_pair = 0u16;
        let mut slivers = Vec::with_capacity(needed);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            while fetch.may_start(slivers.len(), tasks.len(), needed) && next_pair < n {
                let pair = next_pair;
                next_pair += 1;
                let node_index = owner[usize::from(config.shard_for_pair(pair, &blob_id))];
                if fetch.avoid(node_index) {
                    continue;
                }
                let node = nodes[node_index].clone();
                let (config, metadata) = (*config, metadata.clone());
                let handle = tasks.spawn(async move {
                    fetch_primary(&node, pair, config, metadata, check).await
                });
                fetch.started(handle.id(), node_index);
            }
            let deadline = fetch.next_hedge();
            let joined = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                () = sleep_until(deadline) => {
                    fetch.hedge_overdue();
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            match joined {
                Ok((id, Ok(sliver))) => {
                    fetch.succeeded(id);
                    self.progress.advance(
                        Phase::Download,
                        u64::try_from(sliver.symbols.len()).unwrap_or(0),
                    );
                    slivers.push(sliver);
                    if slivers.len() == needed {
                        break;
                    }
                }
                Ok((id, Err(error))) => fetch.failed(id, error),
                Err(error) => fetch.failed(error.id(), format!("sliver task failed: {error}")),
            }
        }
        tasks.abort_all();
        self.progress.finish(Phase::Download);
        if slivers.len() < needed {
            return Err(ClientError::NotEnoughSlivers {
                needed,
                received: slivers.len(),
                failures: fetch.failures,
            });
        }
        Ok(slivers)
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The bookkeeping of [`Client::primary_slivers`]: requests in flight, the
/// nodes that failed or are slow, and when to hedge.
#[derive(Default)]
struct SliverFetch {
    /// Requests in flight at once, hedged ones not counted.
    concurrency: usize,
    /// The least hedge delay.
    hedge: Duration,
    /// Requests in flight: node, start, whether already hedged.
    in_flight: HashMap<tokio::task::Id, (usize, Instant, bool)>,
    /// How many requests in flight are hedged.
    hedged: usize,
    /// Nodes not asked again: failed or slow.
    avoided: BTreeSet<usize>,
    /// How long each received sliver took.
    took: Vec<Duration>,
    /// The first few failure messages.
    failures: Vec<String>,
}

impl SliverFetch {
    /// Whether another request may start, with `received` slivers in hand
    /// and `running` requests in flight.
    fn may_start(&self, received: usize, running: usize, needed: usize) -> bool {
        let active = running.saturating_sub(self.hedged);
        active < self.concurrency && received + active < needed
    }

    fn avoid(&self, node: usize) -> bool {
        self.avoided.contains(&node)
    }

    fn started(&mut self, id: tokio::task::Id, node: usize) {
        self.in_flight.insert(id, (node, Instant::now(), false));
    }

    fn finished(&mut self, id: tokio::task::Id) -> Option<(usize, Instant)> {
        let (node, start, hedged) = self.in_flight.remove(&id)?;
        if hedged {
            self.hedged -= 1;
        }
        Some((node, start))
    }

    fn succeeded(&mut self, id: tokio::task::Id) {
        if let Some((_, start)) = self.finished(id) {
            self.took.push(start.elapsed());
        }
    }

    fn failed(&mut self, id: tokio::task::Id, error: String) {
        if let Some((node, _)) = self.finished(id) {
            self.avoided.insert(node);
        }
        if self.failures.len() < MAX_REPORTED_FAILURES {
            self.failures.push(error);
        }
    }

    /// The hedge delay: the configured one, or three times the median time
    /// of the slivers received so far if that is longer.
    fn delay(&self) -> Duration {
        let mut took = self.took.clone();
        took.sort_unstable();
        let median = took.get(took.len() / 2).copied().unwrap_or_default();
        self.hedge.max(median * 3)
    }

    /// When the oldest request not yet hedged becomes overdue.
    fn next_hedge(&self) -> Option<tokio::time::Instant> {
        let oldest = self
            .in_flight
            .values()
            .filter(|(_, _, hedged)| !hedged)
            .map(|(_, start, _)| *start)
            .min()?;
        Some(tokio::time::Instant::from_std(oldest + self.delay()))
    }

    /// Marks every overdue request hedged and its node avoided, which lets
    /// as many new requests start.
    fn hedge_overdue(&mut self) {
        let delay = self.delay();
        for (node, start, hedged) in self.in_flight.values_mut() {
            if !*hedged && start.elapsed() >= delay {
                *hedged = true;
                self.hedged += 1;
                self.avoided.insert(*node);
            }
        }
    }
}

/// For each shard, the index of the committee member holding it.
fn shard_owners(committee: &CommitteeInfo, n_shards: u16) -> Vec<usize> {
    let mut owner = vec![0usize; usize::from(n_shards)];
    for (index, member) in committee.members.iter().enumerate() {
        for shard in &member.shards {
            if let Some(slot) = owner.get_mut(usize::from(*shard)) {
                *slot = index;
            }
        }
    }
    owner
}

/// Primary sliver `pair` from `node`, checked to be the one asked for and,
/// unless `check` skips it, against the metadata (on a blocking thread).
async fn fetch_primary(
    node: &NodeClient,
    pair: u16,
    config: EncodingConfig,
    metadata: Arc<VerifiedBlobMetadataWithId>,
    check: ConsistencyCheck,
) -> Result<Sliver, String> {
    let blob_id = *metadata.blob_id();
    match node.sliver(&blob_id, pair, SliverType::Primary).await {
        Err(error) => Err(error.to_string()),
        Ok(sliver) if sliver.index != pair || sliver.sliver_type != SliverType::Primary => Err(
            format!("{}: sent another sliver than pair {pair}", node.address()),
        ),
        Ok(sliver) if check == ConsistencyCheck::Skip => Ok(sliver),
        Ok(sliver) => {
            let verified = tokio::task::spawn_blocking(move || {
                sliver.verify(&config, &metadata).map(|()| sliver)
            })
            .await
            .map_err(|e| e.to_string())?;
            verified.map_err(|e| format!("{}: sliver {pair} does not verify: {e}", node.address()))
        }
    }
}

/// Decodes and applies the consistency check.
fn decode(
    config: &EncodingConfig,
    metadata: &VerifiedBlobMetadataWithId,
    slivers: &[Sliver],
    check: ConsistencyCheck,
    used_non_systematic: bool,
) -> Result<Vec<u8>, ClientError> {
    let blob_id = *metadata.blob_id();
    if check == ConsistencyCheck::Strict {
        return config
            .decode_and_verify(metadata, SliverType::Primary, slivers)
            .map_err(|e| match e {
                walrus_codec::error::DecodeError::Inconsistent => {
                    ClientError::Inconsistent(blob_id)
                }
                other => ClientError::Codec(other.to_string()),
            });
    }
    let blob = config
        .decode(
            metadata.metadata().unencoded_length(),
            SliverType::Primary,
            slivers,
        )
        .map_err(|e| ClientError::Codec(e.to_string()))?;
    if check == ConsistencyCheck::Default && used_non_systematic {
        // The decoded rows are the systematic primary slivers: they must
        // match their hashes, or the encoding was inconsistent.
        let symbol_size = metadata
            .symbol_size(config)
            .map_err(|e| ClientError::Codec(e.to_string()))?;
        let row = usize::from(symbol_size) * usize::from(config.n_secondary_source_symbols());
        for index in 0..config.n_primary_source_symbols() {
            let start = usize::from(index) * row;
            let mut data = vec![0u8; row];
            if let Some(part) = blob.get(start..) {
                let len = part.len().min(row);
                data[..len].copy_from_slice(&part[..len]);
            }
            let symbols =
                Symbols::new(data, symbol_size).map_err(|e| ClientError::Codec(e.to_string()))?;
            let sliver = Sliver {
                sliver_type: SliverType::Primary,
                index,
                symbols,
            };
            if sliver.verify(config, metadata).is_err() {
                return Err(ClientError::Inconsistent(blob_id));
            }
        }
    }
    Ok(blob)
}
