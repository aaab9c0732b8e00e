//! Sending a blob's metadata and slivers to the committee and collecting
//! the nodes' signed confirmations (SPEC.md section 7, store flow).

use std::{borrow::Cow, sync::Arc, time::Duration};

use blst::min_pk::{PublicKey, Signature};
use bytes::Bytes;
use tokio::time::Instant;
use walrus_codec::{EncodedBlob, EncodingConfig, SliverRef, SliverType};
use walrus_contracts::{ObjectId, certificate};
use walrus_types::{
    NodeError,
    chain::{CommitteeInfo, MemberInfo},
};

use crate::{Client, ClientError, Phase, Progress};

/// A confirmation checked against the member's key.
pub(super) struct Confirmation {
    pub(super) position: usize,
    pub(super) weight: u16,
    pub(super) signature: Signature,
}

impl Client {
    /// Sends every node its metadata and slivers, at most
    /// `max_concurrent_nodes` nodes at once, and returns verified
    /// confirmations as soon as they are a quorum, with the uploads still
    /// running: the caller certifies meanwhile and then gives them a grace
    /// period ([`Stragglers::finish`]).
    ///
    /// With `confirm_only` (a second round after the epoch changed), each
    /// node is first asked for its confirmation only, and sent the data
    /// only if it cannot confirm.
    pub(super) async fn upload(
        &self,
        committee: &CommitteeInfo,
        config: &EncodingConfig,
        encoded: &Arc<EncodedBlob>,
        deletable_object: Option<ObjectId>,
        confirm_only: bool,
    ) -> Result<(Vec<Confirmation>, Stragglers), ClientError> {
        let blob_id = *encoded.blob_id();
        let total: u64 = committee
            .members
            .iter()
            .map(|m| m.shards.len())
            .sum::<usize>()
            .try_into()
            .unwrap_or(u64::MAX);
        let pair_bytes = u64::try_from(
            encoded.sliver_len(SliverType::Primary) + encoded.sliver_len(SliverType::Secondary),
        )
        .unwrap_or(0);
        self.progress
            .start(Phase::Upload, total.saturating_mul(pair_bytes));
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.config.communication.max_concurrent_nodes.max(1),
        ));
        let message =
            certificate::confirmation_message(committee.epoch, &blob_id, deletable_object);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (position, member) in committee.members.iter().enumerate() {
            let task = NodeUpload {
                client: self.clone(),
                member: member.clone(),
                config: *config,
                encoded: encoded.clone(),
                deletable_object,
                message: message.clone(),
                confirm_only,
            };
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let weight = u16::try_from(task.member.shards.len()).unwrap_or(u16::MAX);
                let result = task.run().await;
                (position, weight, result)
            });
        }
        let mut confirmations = Vec::new();
        let mut failures = Vec::new();
        let mut weight = 0u16;
        while !config.is_quorum(weight) {
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            match joined {
                Ok((position, node_weight, Ok(signature))) => {
                    confirmations.push(Confirmation {
                        position,
                        weight: node_weight,
                        signature,
                    });
                    weight = weight.saturating_add(node_weight);
                }
                Ok((_, _, Err(error))) => failures.push(error),
                Err(error) => failures.push(format!("upload task failed: {error}")),
            }
        }
        if !config.is_quorum(weight) {
            self.progress.finish(Phase::Upload);
            let needed = (0..=config.n_shards())
                .find(|w| config.is_quorum(*w))
                .unwrap_or(config.n_shards());
            return Err(ClientError::NotEnoughConfirmations {
                weight,
                needed,
                failures,
            });
        }
        debug_assert_eq!(weight, confirmations.iter().map(|c| c.weight).sum::<u16>());
        // Grace for the rest: a quarter of the time the quorum took, at least 100 ms.
        let grace = (started.elapsed() / 4).max(Duration::from_millis(100));
        let stragglers = Stragglers {
            tasks,
            deadline: tokio::time::Instant::now() + grace,
            progress: self.progress.clone(),
        };
        Ok((confirmations, stragglers))
    }
}

/// The uploads still running when the confirmations reached a quorum.
pub(super) struct Stragglers {
    tasks: tokio::task::JoinSet<(usize, u16, Result<Signature, String>)>,
    /// When their grace period ends.
    deadline: tokio::time::Instant,
    progress: Arc<dyn Progress>,
}

impl Stragglers {
    /// Waits until every upload is done or the grace period is over, so
    /// that most nodes get their slivers directly rather than by recovery.
    /// Nodes still uploading after that recover their slivers themselves.
    pub(super) async fn finish(mut self) {
        let _ = tokio::time::timeout_at(self.deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.detach_all();
        self.progress.finish(Phase::Upload);
    }
}

/// One node's share of an upload.
struct NodeUpload {
    client: Client,
    member: MemberInfo,
    config: EncodingConfig,
    encoded: Arc<EncodedBlob>,
    deletable_object: Option<ObjectId>,
    message: Vec<u8>,
    /// Ask for the confirmation before sending anything.
    confirm_only: bool,
}

impl NodeUpload {
    /// Metadata, slivers in bounded batches, then the confirmation, checked
    /// against the member's public key. With `confirm_only`, the
    /// confirmation first.
    async fn run(self) -> Result<Signature, String> {
        if self.confirm_only
            && let Ok(signature) = self.confirm().await
        {
            return Ok(signature);
        }
        self.send().await?;
        self.confirm().await
    }

    fn name(&self) -> String {
        format!(
            "node {} ({})",
            self.member.name, self.member.network_address
        )
    }

    /// Sends the metadata and the slivers of the member's shards.
    async fn send(&self) -> Result<(), String> {
        let node = self.client.node_client(&self.member.network_address);
        let name = self.name();
        let blob_id = *self.encoded.blob_id();
        let describe = |e: NodeError| format!("{name}: {e}");
        node.store_metadata(&blob_id, self.encoded.metadata().metadata())
            .await
            .map_err(describe)?;
        let limit = self.client.config.communication.max_upload_request_bytes;
        let pairs: Vec<u16> = self
            .member
            .shards
            .iter()
            .map(|shard| self.config.pair_for_shard(*shard, &blob_id))
            .collect();
        let n = self.config.n_shards();
        let pair_bytes = self.encoded.sliver_len(SliverType::Primary)
            + self.encoded.sliver_len(SliverType::Secondary);
        let per_request = (limit / pair_bytes.max(1)).max(1);
        for chunk in pairs.chunks(per_request) {
            // Serialized from the encoder's buffers (a secondary sliver of a
            // source column is gathered first) into one exactly sized body.
            let bytes: Vec<(SliverType, u16, Cow<'_, [u8]>)> = chunk
                .iter()
                .flat_map(|pair| {
                    [
                        (SliverType::Primary, *pair),
                        (SliverType::Secondary, n - 1 - pair),
                    ]
                })
                .map(|(kind, index)| (kind, index, self.encoded.sliver_bytes(kind, index)))
                .collect();
            let symbol_size = self.encoded.symbol_size();
            let slivers: Vec<SliverRef<'_>> = bytes
                .iter()
                .map(|(sliver_type, index, data)| {
                    SliverRef::new(*sliver_type, *index, data, symbol_size)
                        .expect("the encoder writes whole symbols of an even size")
                })
                .collect();
            let body = bcs::serialized_size(&slivers)
                .and_then(|size| {
                    let mut body = Vec::with_capacity(size);
                    bcs::serialize_into(&mut body, &slivers).map(|()| body)
                })
                .map_err(|e| format!("{name}: {e}"))?;
            drop(slivers);
            drop(bytes);
            node.store_slivers(&blob_id, &Bytes::from(body))
                .await
                .map_err(describe)?;
            self.client.progress.advance(
                Phase::Upload,
                u64::try_from(chunk.len() * pair_bytes).unwrap_or(0),
            );
        }
        Ok(())
    }

    /// Asks for the confirmation and checks it against the member's key.
    async fn confirm(&self) -> Result<Signature, String> {
        let node = self.client.node_client(&self.member.network_address);
        let name = self.name();
        let blob_id = *self.encoded.blob_id();
        let describe = |e: NodeError| format!("{name}: {e}");
        let signed = node
            .confirmation(&blob_id, self.deletable_object.as_ref())
            .await
            .map_err(describe)?;
        if signed.serialized_message != self.message {
            return Err(
                match certificate::message_epoch(&signed.serialized_message) {
                    Some(epoch)
                        if epoch != certificate::message_epoch(&self.message).unwrap_or(0) =>
                    {
                        format!("{name}: confirmation for epoch {epoch} (the epoch changed)")
                    }
                    _ => format!("{name}: confirmation over an unexpected message"),
                },
            );
        }
        let signature = Signature::from_bytes(&signed.signature)
            .map_err(|e| format!("{name}: bad signature bytes: {e:?}"))?;
        let key = PublicKey::from_bytes(&self.member.public_key)
            .map_err(|e| format!("{name}: bad public key on chain: {e:?}"))?;
        let verdict = signature.verify(true, &self.message, certificate::DST, &[], &key, true);
        if verdict != blst::BLST_ERROR::BLST_SUCCESS {
            return Err(format!("{name}: confirmation signature does not verify"));
        }
        Ok(signature)
    }
}
