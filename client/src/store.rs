//! Storing a blob (SPEC.md section 7, store flow): encode, reserve and
//! register in one transaction, send metadata and slivers to every node for
//! its shards, collect confirmations until they are a quorum, certify.

mod upload;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use blst::min_pk::Signature;
use serde::Serialize;
use walrus_codec::{BlobId, EncodedBlob, EncodingConfig};
use walrus_contracts::{Blob, Call, ObjectId, ObjectRef, Registration, certificate, units};
use walrus_types::{
    chain::{ChainObject, CommitteeInfo},
    publisher::{BlobObject, ResourceOperation, StorageObject, StoreResult},
};

use crate::{Client, ClientError, Phase};
use upload::Confirmation;

/// How to store a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Epochs to store for, counting the current one (at least 1).
    pub epochs: u32,
    /// Deletable (the default) or permanent.
    pub deletable: bool,
    /// Store even if the blob is already certified for long enough.
    pub force: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            epochs: 1,
            deletable: true,
            force: false,
        }
    }
}

/// Wall-clock time of each step of a store, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreTimings {
    /// Erasure coding and metadata.
    pub encode_ms: u64,
    /// Reserving and registering on chain.
    pub register_ms: u64,
    /// Sending slivers until a quorum confirmed.
    pub upload_ms: u64,
    /// The certification transaction.
    pub certify_ms: u64,
}

/// The outcome of [`Client::store`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreOutcome {
    /// The blob ID.
    pub blob_id: BlobId,
    /// Unencoded size in bytes.
    pub unencoded_size: u64,
    /// Encoded size in bytes (what storage is bought for).
    pub encoded_size: u64,
    /// What happened.
    pub result: StoreResult,
    /// Where the time went.
    pub timings: StoreTimings,
}

/// The cost of storing a blob, without storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreEstimate {
    /// The blob ID.
    pub blob_id: BlobId,
    /// Unencoded size in bytes.
    pub unencoded_size: u64,
    /// Encoded size in bytes.
    pub encoded_size: u64,
    /// Storage units (1 MiB of encoded size).
    pub storage_units: u64,
    /// Epochs.
    pub epochs: u32,
    /// FROST it would cost (storage for all epochs plus the write fee).
    pub cost: u64,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// FROST for `encoded_size` bytes over `epochs` epochs at `committee`'s prices.
fn cost_of(committee: &CommitteeInfo, encoded_size: u64, epochs: u32) -> Option<u64> {
    let units = units(encoded_size);
    let storage = committee
        .storage_price
        .checked_mul(units)?
        .checked_mul(u64::from(epochs))?;
    storage.checked_add(committee.write_price.checked_mul(units)?)
}

fn check_epochs(committee: &CommitteeInfo, epochs: u32) -> Result<(), ClientError> {
    if epochs == 0 || epochs > committee.max_epochs_ahead {
        return Err(ClientError::InvalidArgument(format!(
            "epochs must be between 1 and {} (max_epochs_ahead)",
            committee.max_epochs_ahead
        )));
    }
    Ok(())
}

/// A certified Blob object in the publisher's shape.
fn blob_object(id: ObjectId, blob: &Blob) -> BlobObject {
    BlobObject {
        id,
        registered_epoch: blob.registered_epoch,
        blob_id: blob.blob_id,
        size: blob.size,
        encoding_type: blob.encoding_type,
        certified_epoch: blob.certified_epoch,
        storage: StorageObject {
            id: blob.storage_id,
            start_epoch: blob.storage.start_epoch,
            end_epoch: blob.storage.end_epoch,
            storage_size: blob.storage.size_bytes,
        },
        deletable: blob.deletable,
    }
}

impl Client {
    /// Computes the blob ID and the cost of storing `blob` for `epochs`
    /// epochs, without spending anything (`--dry-run`).
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a blob too large or bad epochs;
    /// [`ClientError::Chain`] when the committee cannot be read.
    pub async fn estimate(&self, blob: &[u8], epochs: u32) -> Result<StoreEstimate, ClientError> {
        let committee = self.committee().await?;
        check_epochs(&committee, epochs)?;
        let config = Self::encoding_config(&committee)?;
        let metadata = tokio::task::block_in_place(|| config.compute_metadata(blob))
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let size = u64::try_from(blob.len()).expect("a slice length fits in u64");
        let encoded_size = config
            .encoded_length(size)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        Ok(StoreEstimate {
            blob_id: *metadata.blob_id(),
            unencoded_size: size,
            encoded_size,
            storage_units: units(encoded_size),
            epochs,
            cost: cost_of(&committee, encoded_size, epochs)
                .ok_or_else(|| ClientError::InvalidArgument("cost overflows".into()))?,
        })
    }

    /// Stores `blob` (see the module documentation). Succeeds while the
    /// nodes of up to `f` shards are down or refuse.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] (too large, bad epochs),
    /// [`ClientError::Transaction`] (e.g. too little WAL),
    /// [`ClientError::NotEnoughConfirmations`] when fewer than a quorum of
    /// shards confirmed, [`ClientError::Chain`].
    pub async fn store(
        &self,
        blob: Vec<u8>,
        options: &StoreOptions,
    ) -> Result<StoreOutcome, ClientError> {
        let committee = self.committee().await?;
        check_epochs(&committee, options.epochs)?;
        let config = Self::encoding_config(&committee)?;
        let size = u64::try_from(blob.len()).expect("a length fits in u64");
        let encoded_size = config
            .encoded_length(size)
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        let mut timings = StoreTimings::default();
        let start = Instant::now();
        let encoded = self.encode(config, blob).await?;
        let blob_id = *encoded.blob_id();
        timings.encode_ms = millis(start.elapsed());
        let outcome = |result, timings| StoreOutcome {
            blob_id,
            unencoded_size: size,
            encoded_size,
            result,
            timings,
        };
        let wanted_end = committee.epoch.saturating_add(options.epochs);
        if !options.force
            && let Some(end_epoch) = self.certified_until(&config, &blob_id, wanted_end).await
        {
            let result = StoreResult::AlreadyCertified { blob_id, end_epoch };
            return Ok(outcome(result, timings));
        }

        let start = Instant::now();
        let (object, resource_operation, cost) = match self
            .reusable_registration(&committee, &blob_id, wanted_end, options.deletable)
            .await?
        {
            Some(object) => {
                let operation = ResourceOperation::ReuseRegistration {
                    encoded_length: encoded_size,
                };
                (object, operation, 0)
            }
            None => {
                self.register(&committee, &encoded, encoded_size, options)
                    .await?
            }
        };
        timings.register_ms = millis(start.elapsed());

        let start = Instant::now();
        let deletable_object = options.deletable.then_some(object);
        let mut committee = committee;
        let uploaded = self
            .upload(&committee, &config, &encoded, deletable_object, false)
            .await;
        let (confirmations, stragglers) = match uploaded {
            Ok(uploaded) => uploaded,
            Err(error) => {
                // The epoch may have changed meanwhile: the nodes then sign
                // for the new one. Ask again in the new epoch.
                let Some(moved) = self.moved_committee(&committee).await else {
                    return Err(error);
                };
                committee = moved;
                self.upload(&committee, &config, &encoded, deletable_object, true)
                    .await?
            }
        };
        timings.upload_ms = millis(start.elapsed());

        let start = Instant::now();
        let certified = self
            .certify(
                &committee,
                &blob_id,
                object,
                deletable_object,
                &confirmations,
            )
            .await;
        let blob = match certified {
            Ok(blob) => blob,
            Err(error) => {
                let Some(moved) = self.moved_committee(&committee).await else {
                    return Err(error);
                };
                let (confirmations, _) = self
                    .upload(&moved, &config, &encoded, deletable_object, true)
                    .await?;
                self.certify(&moved, &blob_id, object, deletable_object, &confirmations)
                    .await?
            }
        };
        timings.certify_ms = millis(start.elapsed());
        stragglers.finish().await;
        let result = StoreResult::NewlyCreated {
            blob_object: blob_object(object, &blob),
            resource_operation,
            cost,
        };
        Ok(outcome(result, timings))
    }

    /// The committee, if its epoch is past `committee`'s.
    async fn moved_committee(&self, committee: &CommitteeInfo) -> Option<CommitteeInfo> {
        let now = self.committee().await.ok()?;
        (now.epoch > committee.epoch).then_some(now)
    }

    /// An owned, uncertified registration of `blob_id` that is live, lasts
    /// until at least `wanted_end` and has the wanted deletability: a store
    /// interrupted after registering is finished with it instead of paying
    /// again (upstream's `reuseRegistration`; issue 21, failure 7).
    async fn reusable_registration(
        &self,
        committee: &CommitteeInfo,
        blob_id: &BlobId,
        wanted_end: u32,
        deletable: bool,
    ) -> Result<Option<ObjectId>, ClientError> {
        let account = self.chain.account(&self.wallet()?.address).await?;
        for candidate in account.uncertified_blobs {
            if candidate.blob_id != *blob_id {
                continue;
            }
            let Some(blob) = self.chain.blob(&candidate.object_id).await? else {
                continue;
            };
            if blob.certified_epoch.is_none()
                && blob.deletable == deletable
                && blob.storage.start_epoch <= committee.epoch
                && blob.storage.end_epoch >= wanted_end
            {
                return Ok(Some(candidate.object_id));
            }
        }
        Ok(None)
    }

    /// Encodes on all threads, off the async runtime. The blob moves into
    /// the result: primary slivers `0..p` are its rows.
    async fn encode(
        &self,
        config: EncodingConfig,
        blob: Vec<u8>,
    ) -> Result<Arc<EncodedBlob>, ClientError> {
        let size = u64::try_from(blob.len()).expect("a length fits in u64");
        self.progress.start(Phase::Encode, size);
        let encoded = tokio::task::spawn_blocking(move || config.encode_owned(blob))
            .await
            .map_err(|e| ClientError::Codec(format!("encoder panicked: {e}")))?
            .map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        self.progress.advance(Phase::Encode, size);
        self.progress.finish(Phase::Encode);
        Ok(Arc::new(encoded))
    }

    /// The end epoch of the blob ID's certification, if shards of validity
    /// weight (f+1, so at least one correct node) report it certified until
    /// at least `wanted_end`.
    async fn certified_until(
        &self,
        config: &EncodingConfig,
        blob_id: &BlobId,
        wanted_end: u32,
    ) -> Option<u32> {
        let status = self.blob_status(blob_id).await.ok()?;
        let end_epoch = status.end_epoch()?;
        (status.is_certified() && config.is_validity(status.weight) && end_epoch >= wanted_end)
            .then_some(end_epoch)
    }

    /// Reserves (or reuses) storage and registers the blob, in one
    /// transaction; returns the Blob object, how the storage was obtained
    /// and the FROST it cost.
    async fn register(
        &self,
        committee: &CommitteeInfo,
        encoded: &EncodedBlob,
        encoded_size: u64,
        options: &StoreOptions,
    ) -> Result<(ObjectId, ResourceOperation, u64), ClientError> {
        let metadata = encoded.metadata().metadata();
        let (mut calls, storage, operation, cost) = self
            .storage_for(committee, encoded_size, options.epochs)
            .await?;
        let register_index = calls.len();
        calls.push(Call::RegisterBlob(Registration {
            storage,
            blob_id: *encoded.blob_id(),
            root_hash: metadata.root().bytes(),
            size: metadata.unencoded_length(),
            encoding_type: metadata.encoding_type().as_u8(),
            deletable: options.deletable,
        }));
        let (_, created) = self.execute(calls).await?;
        let object = *created
            .get(register_index)
            .ok_or_else(|| ClientError::Unexpected("registration created no Blob object".into()))?;
        Ok((object, operation, cost))
    }

    /// Aggregates the confirmations into a certificate, certifies the Blob
    /// object on chain and returns it as certified.
    async fn certify(
        &self,
        committee: &CommitteeInfo,
        blob_id: &BlobId,
        object: ObjectId,
        deletable_object: Option<ObjectId>,
        confirmations: &[Confirmation],
    ) -> Result<Blob, ClientError> {
        let message = certificate::confirmation_message(committee.epoch, blob_id, deletable_object);
        let signatures: Vec<Signature> = confirmations.iter().map(|c| c.signature).collect();
        let positions: Vec<usize> = confirmations.iter().map(|c| c.position).collect();
        let certificate = certificate::Certificate::aggregate(message, &positions, &signatures)
            .map_err(|e| ClientError::Codec(format!("aggregating signatures: {e}")))?;
        self.execute(vec![Call::CertifyBlob {
            blob: ObjectRef::from(object),
            certificate,
        }])
        .await?;
        self.chain.blob(&object).await?.ok_or_else(|| {
            ClientError::Unexpected(format!(
                "Blob object {object} not found after certification"
            ))
        })
    }

    /// The calls that provide storage for the registration: an owned
    /// resource ending exactly at the wanted epoch and large enough (split
    /// to size), or a new reservation.
    async fn storage_for(
        &self,
        committee: &CommitteeInfo,
        encoded_size: u64,
        epochs: u32,
    ) -> Result<(Vec<Call>, ObjectRef, ResourceOperation, u64), ClientError> {
        let end_epoch = committee.epoch.saturating_add(epochs);
        let account = self.chain.account(&self.wallet()?.address).await?;
        for id in account.storages {
            let Some(ChainObject::Storage { storage, .. }) = self.chain.object(&id).await? else {
                continue;
            };
            if storage.start_epoch <= committee.epoch
                && storage.end_epoch == end_epoch
                && storage.size_bytes >= encoded_size
            {
                let mut calls = Vec::new();
                if storage.size_bytes > encoded_size {
                    calls.push(Call::SplitStorageBySize {
                        storage: ObjectRef::from(id),
                        size_bytes: storage.size_bytes - encoded_size,
                    });
                }
                let write = committee
                    .write_price
                    .checked_mul(units(encoded_size))
                    .ok_or_else(|| ClientError::InvalidArgument("cost overflows".into()))?;
                let operation = ResourceOperation::ReuseStorage {
                    storage: id,
                    encoded_length: encoded_size,
                };
                return Ok((calls, ObjectRef::from(id), operation, write));
            }
        }
        let cost = cost_of(committee, encoded_size, epochs)
            .ok_or_else(|| ClientError::InvalidArgument("cost overflows".into()))?;
        let operation = ResourceOperation::RegisterFromScratch {
            encoded_length: encoded_size,
            epochs_ahead: epochs,
        };
        Ok((
            vec![Call::ReserveSpace {
                size_bytes: encoded_size,
                epochs,
            }],
            ObjectRef::Created(0),
            operation,
            cost,
        ))
    }
}
