//! What one verified checkpoint writes: its row, its transactions and
//! events, and the tables the events drive (a Blob object row starts at
//! `BlobRegistered`, a StakedWal row at `StakeDeposited`). Then every
//! object a transaction names or touched is refreshed from the state after
//! the checkpoint, which covers changes without events (transfers,
//! sharing); pools and stakes are rewritten after any call that can change
//! them ([`touches_staking`], an exhaustive list).

use std::collections::BTreeSet;

use rusqlite::{Transaction, params};
use walrus_contracts::{
    Address, Call, Event, ObjectId, ObjectRef, State,
    ledger::execution::{Checkpoint, Outcome, TxKind},
};
use walrus_types::indexer::{CommitteeView, PoolView};

use crate::{error::IndexError, schema::int};

type IndexResult<T> = Result<T, IndexError>;

pub(crate) fn insert_epoch(
    tx: &Transaction<'_>,
    state: &State,
    start_sequence: Option<u64>,
    start_ms: u64,
) -> IndexResult<()> {
    let committee = CommitteeView::of(state);
    tx.execute(
        "INSERT OR REPLACE INTO epochs (epoch, start_sequence, start_ms, storage_price, \
         write_price, capacity, committee) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            state.epoch,
            start_sequence.map(int),
            int(start_ms),
            int(state.storage_price),
            int(state.write_price),
            int(state.capacity),
            serde_json::to_string(&committee)?,
        ],
    )?;
    Ok(())
}

pub(crate) fn write_pools(tx: &Transaction<'_>, state: &State) -> IndexResult<()> {
    let mut statement =
        tx.prepare_cached("INSERT OR REPLACE INTO pools (node_id, body) VALUES (?1, ?2)")?;
    for (node_id, pool) in &state.pools {
        let view = PoolView::of(state, node_id, pool);
        statement.execute(params![node_id.0.to_vec(), serde_json::to_string(&view)?])?;
    }
    Ok(())
}

pub(crate) fn upsert_staked(
    tx: &Transaction<'_>,
    state: &State,
    id: &ObjectId,
    staked: &walrus_contracts::StakedWal,
) -> IndexResult<()> {
    let value = state
        .pools
        .get(&staked.node_id)
        .map_or(staked.principal, |pool| staked.value(pool, state.epoch));
    let (label, withdraw_epoch, shares) = match staked.state {
        walrus_contracts::StakeState::Staked => ("staked", None, None),
        walrus_contracts::StakeState::Withdrawing { epoch, shares } => {
            ("withdrawing", Some(epoch), Some(int(shares)))
        }
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO staked_wal (object_id, owner, node_id, principal, \
         activation_epoch, state, withdraw_epoch, shares, value, withdrawn_amount) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)",
    )?
    .execute(params![
        id.0.to_vec(),
        staked.owner.0.to_vec(),
        staked.node_id.0.to_vec(),
        int(staked.principal),
        staked.activation_epoch,
        label,
        withdraw_epoch,
        shares,
        int(value),
    ])?;
    Ok(())
}

/// Whether a call can change pools or stakes. Exhaustive on purpose: a new
/// call must be classified here before the indexer compiles.
fn touches_staking(call: &Call) -> bool {
    match call {
        Call::TransferObject { .. } // may move a StakedWal
        | Call::RegisterCandidate(_)
        | Call::Stake { .. }
        | Call::RequestWithdrawStake { .. }
        | Call::WithdrawStake { .. }
        | Call::SetCommission { .. }
        | Call::SetVotes { .. }
        | Call::CollectCommission { .. }
        | Call::EpochSyncDone { .. }
        | Call::AuditReport { .. }
        | Call::SlashVote { .. }
        | Call::VotingEnd
        | Call::EpochChangeStart => true,
        Call::Faucet { .. }
        | Call::TransferWal { .. }
        | Call::ReserveSpace { .. }
        | Call::SplitStorageByEpoch { .. }
        | Call::SplitStorageBySize { .. }
        | Call::FuseStorage { .. }
        | Call::RegisterBlob(_)
        | Call::CertifyBlob { .. }
        | Call::ExtendBlobWithStorage { .. }
        | Call::ExtendBlob { .. }
        | Call::DeleteBlob { .. }
        | Call::InvalidateBlobId { .. }
        | Call::SetAttribute { .. }
        | Call::RemoveAttribute { .. }
        | Call::ShareBlob { .. }
        | Call::FundSharedBlob { .. }
        | Call::ExtendSharedBlob { .. } => false,
    }
}

/// The objects a call names (resolved against the transaction's created
/// objects), which may have changed without an event.
fn named_object(call: &Call, created: &[ObjectId]) -> Option<ObjectId> {
    let object = match call {
        Call::TransferObject { object, .. } => object,
        Call::ShareBlob { blob } => blob,
        Call::SetAttribute { blob, .. } | Call::RemoveAttribute { blob, .. } => blob,
        Call::FundSharedBlob { shared_blob, .. } | Call::ExtendSharedBlob { shared_blob, .. } => {
            shared_blob
        }
        _ => return None,
    };
    match object {
        ObjectRef::Id(id) => Some(*id),
        ObjectRef::Created(index) => created.get(usize::from(*index)).copied(),
    }
}

#[allow(clippy::too_many_lines)] // one match over the events, read top to bottom
pub(crate) fn index_checkpoint(
    tx: &Transaction<'_>,
    pre: &State,
    checkpoint: &Checkpoint,
    digest: [u8; 32],
    post: &State,
) -> IndexResult<()> {
    let sequence = int(checkpoint.sequence);
    tx.prepare_cached(
        "INSERT INTO checkpoints (sequence, epoch, timestamp_ms, digest, previous_digest, \
         state_root, transactions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        sequence,
        checkpoint.epoch,
        int(checkpoint.timestamp_ms),
        digest.to_vec(),
        checkpoint.previous_digest.to_vec(),
        checkpoint.state_root.to_vec(),
        checkpoint.transactions.len(),
    ])?;
    let mut touched = BTreeSet::new();
    let mut staking_changed = false;
    for (position, executed) in checkpoint.transactions.iter().enumerate() {
        let sender = executed.sender();
        let calls: Vec<&Call> = match &executed.kind {
            TxKind::User(signed) => signed.transaction.calls.iter().collect(),
            TxKind::System(call) => vec![call],
        };
        let names: Vec<&str> = calls.iter().map(|c| c.name()).collect();
        let (code, message) = match &executed.outcome {
            Outcome::Success { .. } => (None, None),
            Outcome::Failure { code, message } => (Some(*code), Some(message.as_str())),
        };
        tx.prepare_cached(
            "INSERT INTO transactions (sequence, position, digest, sender, calls, error_code, \
             error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            sequence,
            position,
            executed.digest.0.to_vec(),
            sender.0.to_vec(),
            names.join(","),
            code,
            message,
        ])?;
        let Outcome::Success { events, created } = &executed.outcome else {
            continue;
        };
        for call in &calls {
            staking_changed |= touches_staking(call);
            touched.extend(named_object(call, created));
        }
        for (event_index, event) in events.iter().enumerate() {
            insert_event(tx, sequence, position, event_index, event)?;
            apply_event(tx, sequence, sender, pre, checkpoint, post, event)?;
            touched.extend(event_object(event));
        }
    }
    for id in &touched {
        refresh_object(tx, sequence, post, id)?;
    }
    if staking_changed {
        write_pools(tx, post)?;
        for (id, staked) in &post.staked {
            upsert_staked(tx, post, id, staked)?;
        }
    }
    Ok(())
}

fn event_object(event: &Event) -> Option<ObjectId> {
    match event {
        Event::BlobRegistered { object_id, .. }
        | Event::BlobCertified { object_id, .. }
        | Event::BlobExtended { object_id, .. }
        | Event::BlobDeleted { object_id, .. } => Some(*object_id),
        Event::StakeDeposited { staked_wal_id, .. }
        | Event::WithdrawRequested { staked_wal_id, .. }
        | Event::StakeWithdrawn { staked_wal_id, .. } => Some(*staked_wal_id),
        _ => None,
    }
}

fn insert_event(
    tx: &Transaction<'_>,
    sequence: i64,
    position: usize,
    event_index: usize,
    event: &Event,
) -> IndexResult<()> {
    let (blob_id, object_id, node_id, epoch) = match event {
        Event::BlobRegistered {
            epoch,
            blob_id,
            object_id,
            ..
        }
        | Event::BlobCertified {
            epoch,
            blob_id,
            object_id,
            ..
        }
        | Event::BlobExtended {
            epoch,
            blob_id,
            object_id,
            ..
        }
        | Event::BlobDeleted {
            epoch,
            blob_id,
            object_id,
            ..
        } => (Some(blob_id.0), Some(object_id.0), None, Some(*epoch)),
        Event::InvalidBlobId { epoch, blob_id } => (Some(blob_id.0), None, None, Some(*epoch)),
        Event::StakeDeposited {
            epoch,
            node_id,
            staked_wal_id,
            ..
        }
        | Event::WithdrawRequested {
            epoch,
            node_id,
            staked_wal_id,
            ..
        }
        | Event::StakeWithdrawn {
            epoch,
            node_id,
            staked_wal_id,
            ..
        } => (None, Some(staked_wal_id.0), Some(node_id.0), Some(*epoch)),
        Event::ShardsReceived { epoch, node_id, .. }
        | Event::NodeSlashed { epoch, node_id, .. } => (None, None, Some(node_id.0), Some(*epoch)),
        Event::CommissionCollected { node_id, .. } => (None, None, Some(node_id.0), None),
        Event::EpochParametersSelected { next_epoch, .. } => (None, None, None, Some(*next_epoch)),
        Event::EpochChangeStart { epoch, .. }
        | Event::EpochChangeDone { epoch }
        | Event::RewardsDistributed { epoch, .. }
        | Event::PricesUpdated { epoch, .. } => (None, None, None, Some(*epoch)),
    };
    tx.prepare_cached(
        "INSERT INTO events (sequence, tx_position, event_index, kind, blob_id, object_id, \
         node_id, epoch, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        sequence,
        position,
        event_index,
        event.name(),
        blob_id.map(|b| b.to_vec()),
        object_id.map(|b| b.to_vec()),
        node_id.map(|b| b.to_vec()),
        epoch,
        serde_json::to_string(event)?,
    ])?;
    Ok(())
}

fn apply_event(
    tx: &Transaction<'_>,
    sequence: i64,
    sender: Address,
    pre: &State,
    checkpoint: &Checkpoint,
    post: &State,
    event: &Event,
) -> IndexResult<()> {
    if !apply_blob_event(tx, sequence, sender, event)? {
        apply_system_event(tx, sequence, sender, (pre, checkpoint, post), event)?;
    }
    Ok(())
}

/// Applies a Blob object or blob ID event; `false` for any other event.
fn apply_blob_event(
    tx: &Transaction<'_>,
    sequence: i64,
    sender: Address,
    event: &Event,
) -> IndexResult<bool> {
    match event {
        Event::BlobRegistered {
            epoch,
            blob_id,
            size,
            encoding_type,
            end_epoch,
            deletable,
            object_id,
            owner,
        } => {
            tx.prepare_cached(
                "INSERT INTO blob_objects (object_id, blob_id, owner, size, encoding_type, \
                 registered_epoch, certified_epoch, end_epoch, deletable, registered_sequence, \
                 updated_sequence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8, ?9, ?9)",
            )?
            .execute(params![
                object_id.0.to_vec(),
                blob_id.0.to_vec(),
                owner.0.to_vec(),
                int(*size),
                encoding_type,
                epoch,
                end_epoch,
                deletable,
                sequence,
            ])?;
        }
        Event::BlobCertified {
            epoch,
            end_epoch,
            object_id,
            ..
        } => {
            tx.prepare_cached(
                "UPDATE blob_objects SET certified_epoch = ?2, end_epoch = ?3, \
                 updated_sequence = ?4 WHERE object_id = ?1",
            )?
            .execute(params![object_id.0.to_vec(), epoch, end_epoch, sequence])?;
        }
        Event::BlobExtended {
            end_epoch,
            object_id,
            ..
        } => {
            tx.prepare_cached(
                "UPDATE blob_objects SET end_epoch = ?2, updated_sequence = ?3 \
                 WHERE object_id = ?1",
            )?
            .execute(params![object_id.0.to_vec(), end_epoch, sequence])?;
        }
        Event::BlobDeleted { object_id, .. } => {
            // Only the owner deletes: the sender is the owner even if the
            // object was transferred earlier in this checkpoint.
            tx.prepare_cached(
                "UPDATE blob_objects SET deleted = 1, owner = ?3, updated_sequence = ?2 \
                 WHERE object_id = ?1",
            )?
            .execute(params![object_id.0.to_vec(), sequence, sender.0.to_vec()])?;
        }
        Event::InvalidBlobId { epoch, blob_id } => {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO invalid_blobs (blob_id, epoch, sequence) \
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![blob_id.0.to_vec(), epoch, sequence])?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies a staking or epoch event (others are ignored). `pre` and `post`
/// are the states around `checkpoint`.
fn apply_system_event(
    tx: &Transaction<'_>,
    sequence: i64,
    sender: Address,
    (pre, checkpoint, post): (&State, &Checkpoint, &State),
    event: &Event,
) -> IndexResult<()> {
    match event {
        Event::StakeDeposited {
            node_id,
            staked_wal_id,
            amount,
            activation_epoch,
            ..
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO staked_wal (object_id, owner, node_id, principal, \
                 activation_epoch, state, value) VALUES (?1, ?2, ?3, ?4, ?5, 'staked', ?4)",
            )?
            .execute(params![
                staked_wal_id.0.to_vec(),
                sender.0.to_vec(),
                node_id.0.to_vec(),
                int(*amount),
                activation_epoch,
            ])?;
        }
        Event::StakeWithdrawn {
            staked_wal_id,
            amount,
            ..
        } => {
            // Only the owner withdraws (see `BlobDeleted`).
            tx.prepare_cached(
                "UPDATE staked_wal SET state = 'withdrawn', value = 0, withdrawn_amount = ?2, \
                 owner = ?3 WHERE object_id = ?1",
            )?
            .execute(params![
                staked_wal_id.0.to_vec(),
                int(*amount),
                sender.0.to_vec()
            ])?;
        }
        Event::EpochChangeStart { epoch, .. } if post.epoch == *epoch => {
            insert_epoch(tx, post, Some(checkpoint.sequence), checkpoint.timestamp_ms)?;
        }
        Event::EpochChangeDone { epoch } => {
            tx.prepare_cached("UPDATE epochs SET change_done_sequence = ?2 WHERE epoch = ?1")?
                .execute(params![epoch, sequence])?;
        }
        Event::RewardsDistributed { epoch, rewards, .. } => {
            // System calls run first in a checkpoint, so `pre` still holds
            // the ended epoch's committee and audits.
            for (node_id, pool_reward, commission) in rewards {
                let shards = pre
                    .committee
                    .position(node_id)
                    .map_or(0, |i| pre.committee.weight(i));
                // Active stake only changes at epoch changes, so before
                // this one it is the ended epoch's stake.
                let stake = pre.pools.get(node_id).map_or(0, |p| p.active_wal);
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO pool_epochs (node_id, epoch, stake, shards, \
                     audit_score, slashed, pool_reward, commission) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    node_id.0.to_vec(),
                    epoch,
                    int(stake),
                    shards,
                    walrus_contracts::epoch::audit_score(pre, node_id),
                    pre.audits.slashed.contains(node_id),
                    int(*pool_reward),
                    int(*commission),
                ])?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Brings the row of a touched object in line with the state after the
/// checkpoint: live blobs and stakes are copied; a Blob object gone from
/// the state was deleted.
fn refresh_object(
    tx: &Transaction<'_>,
    sequence: i64,
    post: &State,
    id: &ObjectId,
) -> IndexResult<()> {
    let blob = post
        .blobs
        .get(id)
        .map(|b| (b, false))
        .or_else(|| post.shared_blobs.get(id).map(|s| (&s.blob, true)));
    if let Some((blob, shared)) = blob {
        tx.prepare_cached(
            "UPDATE blob_objects SET owner = ?2, certified_epoch = ?3, end_epoch = ?4, \
             deletable = ?5, shared = ?6, deleted = 0, updated_sequence = ?7 \
             WHERE object_id = ?1",
        )?
        .execute(params![
            id.0.to_vec(),
            blob.owner.0.to_vec(),
            blob.certified_epoch,
            blob.storage.end_epoch,
            blob.deletable,
            shared,
            sequence,
        ])?;
    } else if let Some(staked) = post.staked.get(id) {
        upsert_staked(tx, post, id, staked)?;
    } else {
        tx.prepare_cached(
            "UPDATE blob_objects SET deleted = 1, updated_sequence = ?2 \
             WHERE object_id = ?1 AND deleted = 0",
        )?
        .execute(params![id.0.to_vec(), sequence])?;
    }
    Ok(())
}
