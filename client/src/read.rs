//! Reading a blob (SPEC.md sections 4 and 7): verified metadata from any
//! node, then `p` primary slivers, systematic ones first, each verified,
//! then decoding and the consistency check.

use std::{collections::BTreeSet, sync::Arc};

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
    /// against `blob_id`.
    async fn verified_metadata(
        &self,
        committee: &CommitteeInfo,
        config: &EncodingConfig,
        blob_id: &BlobId,
    ) -> Result<VerifiedBlobMetadataWithId, ClientError> {
        let mut members: Vec<_> = committee.members.iter().collect();
        members.sort_by_key(|m| std::cmp::Reverse(m.shards.len()));
        for member in members {
            let node = self.node_client(&member.network_address);
            match node.metadata(blob_id).await {
                Ok(metadata) => {
                    match UnverifiedBlobMetadataWithId::new(*blob_id, metadata).verify(config) {
                        Ok(verified) => return Ok(verified),
                        Err(error) => {
                            tracing::warn!(node = %member.network_address, %error, "invalid metadata");
                        }
                    }
                }
                Err(error) => tracing::debug!(%error, "no metadata"),
            }
        }
        Err(ClientError::BlobNotFound(*blob_id))
    }

    /// Fetches `p` distinct verified primary slivers: pairs `0..p` first
    /// (systematic, no decoding needed), then further pairs to replace
    /// failures. A node that fails once is not asked again.
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
        let nodes: Vec<_> = committee
            .members
            .iter()
            .map(|m| self.node_client(&m.network_address))
            .collect();
        let symbol_size = metadata
            .symbol_size(config)
            .map_err(|e| ClientError::Codec(e.to_string()))?;
        let sliver_bytes = u64::from(symbol_size) * u64::from(config.n_secondary_source_symbols());
        self.progress.start(
            Phase::Download,
            sliver_bytes * u64::try_from(needed).unwrap_or(0),
        );

        let concurrency = self.config.communication.max_concurrent_sliver_reads.max(1);
        let mut next_pair = 0u16;
        let mut failed_nodes = BTreeSet::new();
        let mut failures = Vec::new();
        let mut slivers = Vec::with_capacity(needed);
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            // Keep up to `concurrency` requests in flight, never more than
            // are still needed.
            while tasks.len() < concurrency && slivers.len() + tasks.len() < needed && next_pair < n
            {
                let pair = next_pair;
                next_pair += 1;
                let node_index = owner[usize::from(config.shard_for_pair(pair, &blob_id))];
                if failed_nodes.contains(&node_index) {
                    continue;
                }
                let node = nodes[node_index].clone();
                let config = *config;
                let metadata = metadata.clone();
                tasks.spawn(async move {
                    let result = fetch_primary(&node, pair, config, metadata, check).await;
                    (node_index, result)
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            match joined {
                Ok((_, Ok(sliver))) => {
                    self.progress.advance(
                        Phase::Download,
                        u64::try_from(sliver.symbols.len()).unwrap_or(0),
                    );
                    slivers.push(sliver);
                    if slivers.len() == needed {
                        break;
                    }
                }
                Ok((node_index, Err(error))) => {
                    failed_nodes.insert(node_index);
                    if failures.len() < MAX_REPORTED_FAILURES {
                        failures.push(error);
                    }
                }
                Err(error) => failures.push(format!("sliver task failed: {error}")),
            }
        }
        tasks.abort_all();
        self.progress.finish(Phase::Download);
        if slivers.len() < needed {
            return Err(ClientError::NotEnoughSlivers {
                needed,
                received: slivers.len(),
                failures,
            });
        }
        Ok(slivers)
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
