//! Storage resources: reserve, split, fuse (SPEC.md sections 8 and 9).
//!
//! Reserving `size` bytes for `k` epochs costs `storage_price * units * k`
//! (units of 1 MiB), paid into the income of each covered epoch.

use walrus_codec::BYTES_PER_UNIT;

use crate::{
    context::TxContext,
    errors::TxError,
    events::Event,
    ids::{Epoch, ObjectId, ObjectRef},
    money,
    state::{State, Storage},
};

/// Storage units (1 MiB each) of `size_bytes`.
pub fn units(size_bytes: u64) -> u64 {
    size_bytes.div_ceil(BYTES_PER_UNIT)
}

/// Checks that storage ending at `end_epoch` is within `max_epochs_ahead`.
pub(crate) fn check_end_epoch(state: &State, end_epoch: Epoch) -> Result<(), TxError> {
    let max = state.params.max_epochs_ahead;
    if u64::from(end_epoch) > u64::from(state.epoch) + u64::from(max) {
        return Err(TxError::TooManyEpochsAhead { end_epoch, max });
    }
    Ok(())
}

/// Charges the sender `storage_price * units(size) ` per epoch in
/// `[start, end)` and books it as those epochs' income.
pub(crate) fn pay_for_epochs(
    state: &mut State,
    payer: Option<&crate::ids::Address>,
    size_bytes: u64,
    start: Epoch,
    end: Epoch,
) -> Result<u64, TxError> {
    let per_epoch = money::mul(state.storage_price, units(size_bytes))?;
    let total = money::mul(per_epoch, u64::from(end - start))?;
    if let Some(payer) = payer {
        state.debit(*payer, total)?;
    }
    for epoch in start..end {
        state.add_income(epoch, per_epoch)?;
    }
    Ok(total)
}

/// Reserves `size_bytes` for `epochs` epochs from the current one.
pub(crate) fn reserve(
    state: &mut State,
    ctx: &mut TxContext,
    size_bytes: u64,
    epochs: u32,
) -> Result<Vec<Event>, TxError> {
    if size_bytes == 0 || epochs == 0 {
        return Err(TxError::InvalidStorage("size and epochs must be positive"));
    }
    let end_epoch = state.epoch.checked_add(epochs).ok_or(TxError::Overflow)?;
    check_end_epoch(state, end_epoch)?;
    pay_for_epochs(
        state,
        Some(&ctx.sender()),
        size_bytes,
        state.epoch,
        end_epoch,
    )?;
    let id = ctx.fresh_id();
    state.storages.insert(
        id,
        (
            ctx.sender(),
            Storage {
                start_epoch: state.epoch,
                end_epoch,
                size_bytes,
            },
        ),
    );
    Ok(Vec::new())
}

/// The sender's storage resource `object`.
pub(crate) fn owned_storage(
    state: &State,
    ctx: &TxContext,
    object: ObjectRef,
) -> Result<(ObjectId, Storage), TxError> {
    let id = ctx.resolve(object)?;
    let (owner, storage) = state.storages.get(&id).ok_or(TxError::ObjectNotFound(id))?;
    if *owner != ctx.sender() {
        return Err(TxError::NotOwner(id));
    }
    Ok((id, *storage))
}

/// Splits at `split_epoch`: the original keeps `[start, split)`, a new
/// resource gets `[split, end)`.
pub(crate) fn split_by_epoch(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    split_epoch: Epoch,
) -> Result<Vec<Event>, TxError> {
    let (id, storage) = owned_storage(state, ctx, object)?;
    if split_epoch <= storage.start_epoch || split_epoch >= storage.end_epoch {
        return Err(TxError::SplitOutOfRange);
    }
    let kept = Storage {
        end_epoch: split_epoch,
        ..storage
    };
    let split_off = Storage {
        start_epoch: split_epoch,
        ..storage
    };
    Ok(split(state, ctx, id, kept, split_off))
}

/// Splits off `size_bytes` into a new resource; the original keeps the rest.
pub(crate) fn split_by_size(
    state: &mut State,
    ctx: &mut TxContext,
    object: ObjectRef,
    size_bytes: u64,
) -> Result<Vec<Event>, TxError> {
    let (id, storage) = owned_storage(state, ctx, object)?;
    if size_bytes == 0 || size_bytes >= storage.size_bytes {
        return Err(TxError::SplitOutOfRange);
    }
    let kept = Storage {
        size_bytes: storage.size_bytes - size_bytes,
        ..storage
    };
    let split_off = Storage {
        size_bytes,
        ..storage
    };
    Ok(split(state, ctx, id, kept, split_off))
}

/// Replaces resource `id` by `kept` and gives the sender a new resource `split_off`.
fn split(
    state: &mut State,
    ctx: &mut TxContext,
    id: ObjectId,
    kept: Storage,
    split_off: Storage,
) -> Vec<Event> {
    let new_id = ctx.fresh_id();
    state.storages.insert(id, (ctx.sender(), kept));
    state.storages.insert(new_id, (ctx.sender(), split_off));
    Vec::new()
}

/// Fuses `second` into `first`: same epochs (sizes add) or same size and
/// adjacent epochs (periods join). `second` is consumed.
pub(crate) fn fuse(
    state: &mut State,
    ctx: &mut TxContext,
    first: ObjectRef,
    second: ObjectRef,
) -> Result<Vec<Event>, TxError> {
    let (first_id, a) = owned_storage(state, ctx, first)?;
    let (second_id, b) = owned_storage(state, ctx, second)?;
    if first_id == second_id {
        return Err(TxError::NotFusable);
    }
    let fused = if a.start_epoch == b.start_epoch && a.end_epoch == b.end_epoch {
        Storage {
            size_bytes: money::add(a.size_bytes, b.size_bytes)?,
            ..a
        }
    } else if a.size_bytes == b.size_bytes && a.end_epoch == b.start_epoch {
        Storage {
            end_epoch: b.end_epoch,
            ..a
        }
    } else if a.size_bytes == b.size_bytes && b.end_epoch == a.start_epoch {
        Storage {
            start_epoch: b.start_epoch,
            ..a
        }
    } else {
        return Err(TxError::NotFusable);
    };
    state.storages.remove(&second_id);
    state.storages.insert(first_id, (ctx.sender(), fused));
    Ok(Vec::new())
}
