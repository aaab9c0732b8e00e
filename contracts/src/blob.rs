//! Blob objects: register, certify, extend, delete, invalidate, attributes,
//! shared blobs (SPEC.md sections 5 and 8).
//!
//! Each call runs its checks first, then writes, then returns its events.

use walrus_codec::{BlobId, EncodingConfig, EncodingType, Node};

use crate::{
    certificate::{self, Certificate, Threshold},
    context::TxContext,
    errors::TxError,
    events::Event,
    ids::{Address, ObjectId, ObjectRef},
    money,
    state::{Blob, SharedBlob, State, Storage},
    storage_resource::{self, units},
};

/// Longest attribute key or value, in bytes.
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;
/// Most attributes per blob.
pub const MAX_ATTRIBUTES: usize = 64;

/// What a registration names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    /// The storage resource to use (consumed).
    pub storage: ObjectRef,
    /// The blob ID.
    pub blob_id: BlobId,
    /// The Merkle root over the sliver pairs.
    pub root_hash: [u8; 32],
    /// Unencoded size in bytes.
    pub size: u64,
    /// Encoding type tag (1 = RS2).
    pub encoding_type: u8,
    /// Whether the owner may delete the blob.
    pub deletable: bool,
}

fn encoding_config(state: &State) -> Result<EncodingConfig, TxError> {
    EncodingConfig::new(state.params.n_shards).map_err(|e| TxError::InvalidBlob(e.to_string()))
}

/// Registers a blob on a storage resource of the sender, paying the write price.
pub(crate) fn register(
    state: &mut State,
    ctx: &mut TxContext,
    registration: &Registration,
) -> Result<Vec<Event>, TxError> {
    let (storage_id, storage) = storage_resource::owned_storage(state, ctx, registration.storage)?;
    if state.invalid_blob_ids.contains(&registration.blob_id) {
        return Err(TxError::BlobIdInvalid(registration.blob_id));
    }
    if registration.encoding_type != EncodingType::Rs2.as_u8() {
        return Err(TxError::InvalidBlob(format!(
            "unsupported encoding type {}",
            registration.encoding_type
        )));
    }
    let config = encoding_config(state)?;
    let encoded = config
        .encoded_length(registration.size)
        .map_err(|e| TxError::InvalidBlob(e.to_string()))?;
    if storage.size_bytes < encoded {
        return Err(TxError::StorageTooSmall {
            needed: encoded,
            available: storage.size_bytes,
        });
    }
    if storage.start_epoch > state.epoch || storage.end_epoch <= state.epoch {
        return Err(TxError::StorageNotCurrent);
    }
    let derived = BlobId::from_root(
        &Node::Digest(registration.root_hash),
        EncodingType::Rs2,
        registration.size,
    );
    if derived != registration.blob_id {
        return Err(TxError::BlobIdMismatch(registration.blob_id));
    }
    let write_cost = money::mul(state.write_price, units(encoded))?;
    state.debit(ctx.sender(), write_cost)?;
    state.add_income(state.epoch, write_cost)?;
    state.storages.remove(&storage_id);
    let object_id = ctx.fresh_id();
    state.blobs.insert(
        object_id,
        Blob {
            owner: ctx.sender(),
            blob_id: registration.blob_id,
            size: registration.size,
            encoding_type: registration.encoding_type,
            registered_epoch: state.epoch,
            certified_epoch: None,
            storage_id,
            storage,
            deletable: registration.deletable,
            attributes: Default::default(),
        },
    );
    Ok(vec![Event::BlobRegistered {
        epoch: state.epoch,
        blob_id: registration.blob_id,
        size: registration.size,
        encoding_type: registration.encoding_type,
        end_epoch: storage.end_epoch,
        deletable: registration.deletable,
        object_id,
        owner: ctx.sender(),
    }])
}

/// The sender's blob `object`.
fn owned_blob(
    state: &State,
    ctx: &TxContext,
    object: ObjectRef,
) -> Result<(ObjectId, Blob), TxError> {
    let id = ctx.resolve(object)?;
    let blob = state.blobs.get(&id).ok_or(TxError::ObjectNotFound(id))?;
    if blob.owner != ctx.sender() {
        return Err(TxError::NotOwner(id));
    }
    Ok((id, blob.clone()))
}

fn check_live(state: &State, blob: &Blob) -> Result<(), TxError> {
    if blob.storage.end_epoch <= state.epoch {
        return Err(TxError::BlobExpired(blob.storage.end_epoch));
    }
    if state.invalid_blob_ids.contains(&blob.blob_id) {
        return Err(TxError::BlobIdInvalid(blob.blob_id));
    }
    Ok(())
}

/// Certifies a blob with a quorum certificate of the current committee.
pub(crate) fn certify(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    certificate: &Certificate,
) -> Result<Vec<Event>, TxError> {
    let (id, blob) = owned_blob(state, ctx, object)?;
    if blob.certified_epoch.is_some() {
        return Err(TxError::AlreadyCertified);
    }
    check_live(state, &blob)?;
    let expected =
        certificate::confirmation_message(state.epoch, &blob.blob_id, blob.deletable.then_some(id));
    let signers = certificate.verify(
        &state.committee,
        state.params.n_shards,
        &expected,
        Threshold::Quorum,
    )?;
    let end_epoch = blob.storage.end_epoch;
    let (blob_id, deletable) = (blob.blob_id, blob.deletable);
    state.blobs.insert(
        id,
        Blob {
            certified_epoch: Some(state.epoch),
            ..blob
        },
    );
    Ok(vec![Event::BlobCertified {
        epoch: state.epoch,
        blob_id,
        end_epoch,
        deletable,
        object_id: id,
        signers,
    }])
}

/// Extends a certified blob with a storage resource that starts where the
/// blob's ends and has the same size.
pub(crate) fn extend_with_storage(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    storage: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (id, blob) = owned_blob(state, ctx, object)?;
    let (storage_id, extra) = storage_resource::owned_storage(state, ctx, storage)?;
    if blob.certified_epoch.is_none() {
        return Err(TxError::NotCertified);
    }
    check_live(state, &blob)?;
    if extra.start_epoch != blob.storage.end_epoch || extra.size_bytes != blob.storage.size_bytes {
        return Err(TxError::ExtensionMismatch);
    }
    state.storages.remove(&storage_id);
    Ok(vec![set_end_epoch(state, id, blob, extra.end_epoch)])
}

fn set_end_epoch(
    state: &mut State,
    id: ObjectId,
    blob: Blob,
    end_epoch: crate::ids::Epoch,
) -> Event {
    let event = Event::BlobExtended {
        epoch: state.epoch,
        blob_id: blob.blob_id,
        end_epoch,
        object_id: id,
    };
    let storage = Storage {
        end_epoch,
        ..blob.storage
    };
    state.blobs.insert(id, Blob { storage, ..blob });
    event
}

/// Extends a certified blob by `epochs`, paid by the sender at the current storage price.
pub(crate) fn extend_with_payment(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    epochs: u32,
) -> Result<Vec<Event>, TxError> {
    let (id, blob) = owned_blob(state, ctx, object)?;
    if blob.certified_epoch.is_none() {
        return Err(TxError::NotCertified);
    }
    check_live(state, &blob)?;
    let end_epoch = extension_end(state, &blob.storage, epochs)?;
    storage_resource::pay_for_epochs(
        state,
        Some(&ctx.sender()),
        blob.storage.size_bytes,
        blob.storage.end_epoch,
        end_epoch,
    )?;
    Ok(vec![set_end_epoch(state, id, blob, end_epoch)])
}

fn extension_end(
    state: &State,
    storage: &Storage,
    epochs: u32,
) -> Result<crate::ids::Epoch, TxError> {
    if epochs == 0 {
        return Err(TxError::InvalidStorage("epochs must be positive"));
    }
    let end_epoch = storage
        .end_epoch
        .checked_add(epochs)
        .ok_or(TxError::Overflow)?;
    storage_resource::check_end_epoch(state, end_epoch)?;
    Ok(end_epoch)
}

/// Deletes a deletable blob; its storage (if not expired) goes back to the owner.
pub(crate) fn delete(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (id, blob) = owned_blob(state, ctx, object)?;
    if !blob.deletable {
        return Err(TxError::NotDeletable);
    }
    state.blobs.remove(&id);
    if blob.storage.end_epoch > state.epoch {
        state
            .storages
            .insert(blob.storage_id, (ctx.sender(), blob.storage));
    }
    Ok(vec![Event::BlobDeleted {
        epoch: state.epoch,
        blob_id: blob.blob_id,
        end_epoch: blob.storage.end_epoch,
        object_id: id,
        was_certified: blob.certified_epoch.is_some(),
    }])
}

/// Marks a blob ID invalid with an f+1 certificate over the invalid-blob message.
pub(crate) fn invalidate(
    state: &mut State,
    blob_id: BlobId,
    certificate: &Certificate,
) -> Result<Vec<Event>, TxError> {
    if state.invalid_blob_ids.contains(&blob_id) {
        return Err(TxError::Duplicate);
    }
    let expected = certificate::invalid_blob_message(state.epoch, &blob_id);
    certificate.verify(
        &state.committee,
        state.params.n_shards,
        &expected,
        Threshold::Validity,
    )?;
    state.invalid_blob_ids.insert(blob_id);
    Ok(vec![Event::InvalidBlobId {
        epoch: state.epoch,
        blob_id,
    }])
}

/// Sets attribute `key` of a blob to `value`.
pub(crate) fn set_attribute(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    key: &str,
    value: &str,
) -> Result<Vec<Event>, TxError> {
    let (id, mut blob) = owned_blob(state, ctx, object)?;
    if key.len() > MAX_ATTRIBUTE_BYTES || value.len() > MAX_ATTRIBUTE_BYTES {
        return Err(TxError::AttributeTooLong);
    }
    if !blob.attributes.contains_key(key) && blob.attributes.len() >= MAX_ATTRIBUTES {
        return Err(TxError::AttributeTooLong);
    }
    blob.attributes.insert(key.to_owned(), value.to_owned());
    state.blobs.insert(id, blob);
    Ok(Vec::new())
}

/// Removes attribute `key` of a blob.
pub(crate) fn remove_attribute(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    key: &str,
) -> Result<Vec<Event>, TxError> {
    let (id, mut blob) = owned_blob(state, ctx, object)?;
    if blob.attributes.remove(key).is_none() {
        return Err(TxError::AttributeNotFound(key.to_owned()));
    }
    state.blobs.insert(id, blob);
    Ok(Vec::new())
}

/// Turns a certified permanent blob into a shared blob anyone can fund and extend.
pub(crate) fn share(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (id, blob) = owned_blob(state, ctx, object)?;
    if blob.certified_epoch.is_none() {
        return Err(TxError::NotCertified);
    }
    if blob.deletable {
        return Err(TxError::InvalidBlob(
            "only permanent blobs can be shared".to_owned(),
        ));
    }
    check_live(state, &blob)?;
    state.blobs.remove(&id);
    state.shared_blobs.insert(
        id,
        SharedBlob {
            blob: Blob {
                owner: Address::SYSTEM,
                ..blob
            },
            funds: 0,
        },
    );
    Ok(Vec::new())
}

/// The shared blob `object` (anyone may fund or extend it).
fn shared_blob(
    state: &State,
    ctx: &TxContext,
    object: ObjectRef,
) -> Result<(ObjectId, SharedBlob), TxError> {
    let id = ctx.resolve(object)?;
    let shared = state.shared_blobs.get(&id).cloned();
    Ok((id, shared.ok_or(TxError::ObjectNotFound(id))?))
}

/// Adds `amount` FROST of the sender to a shared blob's funds.
pub(crate) fn fund_shared(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    amount: u64,
) -> Result<Vec<Event>, TxError> {
    let (id, mut shared) = shared_blob(state, ctx, object)?;
    shared.funds = money::add(shared.funds, amount)?;
    state.debit(ctx.sender(), amount)?;
    state.shared_blobs.insert(id, shared);
    Ok(Vec::new())
}

/// Extends a shared blob by `epochs`, paid from its funds.
pub(crate) fn extend_shared(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    epochs: u32,
) -> Result<Vec<Event>, TxError> {
    let (id, mut shared) = shared_blob(state, ctx, object)?;
    check_live(state, &shared.blob)?;
    let end_epoch = extension_end(state, &shared.blob.storage, epochs)?;
    let storage = shared.blob.storage;
    let per_epoch = money::mul(state.storage_price, units(storage.size_bytes))?;
    let cost = money::mul(per_epoch, u64::from(end_epoch - storage.end_epoch))?;
    shared.funds = shared
        .funds
        .checked_sub(cost)
        .ok_or(TxError::InsufficientBalance {
            needed: cost,
            available: shared.funds,
        })?;
    storage_resource::pay_for_epochs(
        state,
        None,
        storage.size_bytes,
        storage.end_epoch,
        end_epoch,
    )?;
    shared.blob.storage.end_epoch = end_epoch;
    let event = Event::BlobExtended {
        epoch: state.epoch,
        blob_id: shared.blob.blob_id,
        end_epoch,
        object_id: id,
    };
    state.shared_blobs.insert(id, shared);
    Ok(vec![event])
}
