//! Where a blob stands: one pure rule, used by the storage node's
//! `/status` (SPEC.md section 6, upstream's `BlobStatus`), the indexer's
//! queries (SPEC.md section 12), the client and `walrus audit`.
//!
//! A Blob object is, from most to least final: deleted (by its owner),
//! invalid (its blob ID was proven inconsistent), expired (its end epoch
//! has come), certified, or registered. A blob ID is invalid if invalidated,
//! else the most useful state of any of its objects (certified before
//! registered before expired before deleted).

use serde::{Deserialize, Serialize};

use crate::Epoch;

/// Where a Blob object (or a blob ID) stands. Ordered from most to least
/// useful to a reader, which is the precedence over a blob ID's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BlobState {
    /// Proven inconsistent by an f+1 certificate.
    Invalid,
    /// Certified and not expired.
    Certified,
    /// Registered, not certified, not expired.
    Registered,
    /// Its end epoch has passed.
    Expired,
    /// Deleted by its owner.
    Deleted,
}

impl BlobState {
    /// The lower-case word (`"certified"`), as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Certified => "certified",
            Self::Registered => "registered",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    /// Parses the lower-case word.
    ///
    /// # Errors
    /// A message listing the allowed words.
    pub fn parse(text: &str) -> Result<Self, String> {
        [
            Self::Invalid,
            Self::Certified,
            Self::Registered,
            Self::Expired,
            Self::Deleted,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| {
            format!(
                "status {text:?} is not one of registered, certified, expired, deleted, invalid"
            )
        })
    }
}

/// What decides a Blob object's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectFacts {
    /// Storage end epoch (exclusive).
    pub end_epoch: Epoch,
    /// Whether the owner may delete it.
    pub deletable: bool,
    /// The epoch of certification, if certified.
    pub certified_epoch: Option<Epoch>,
    /// Whether its owner deleted it.
    pub deleted: bool,
}

impl ObjectFacts {
    /// The facts of a Blob object its owner has not deleted.
    pub fn undeleted(end_epoch: Epoch, deletable: bool, certified_epoch: Option<Epoch>) -> Self {
        Self {
            end_epoch,
            deletable,
            certified_epoch,
            deleted: false,
        }
    }
}

/// The state of one Blob object at `epoch`, given whether its blob ID is
/// invalid.
pub fn object_state(object: &ObjectFacts, invalid: bool, epoch: Epoch) -> BlobState {
    if object.deleted {
        BlobState::Deleted
    } else if invalid {
        BlobState::Invalid
    } else if object.end_epoch <= epoch {
        BlobState::Expired
    } else if object.certified_epoch.is_some() {
        BlobState::Certified
    } else {
        BlobState::Registered
    }
}

/// The state of a blob ID over its objects' states; `None` if it has no
/// object and is not invalid (never registered).
pub fn blob_id_state(
    states: impl IntoIterator<Item = BlobState>,
    invalid: bool,
) -> Option<BlobState> {
    if invalid {
        return Some(BlobState::Invalid);
    }
    states.into_iter().min()
}

/// Deletable Blob objects of a blob ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletableCounts {
    /// Live deletable Blob objects.
    pub count_deletable_total: u32,
    /// Of those, the certified ones.
    pub count_deletable_certified: u32,
}

/// A blob ID's status as a storage node reports it (upstream's
/// `BlobStatus`): `"nonexistent"`, `{"invalid": {}}`, `{"permanent": {...}}`
/// or `{"deletable": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum BlobStatus {
    /// No live Blob object of the ID.
    Nonexistent,
    /// Marked invalid on chain.
    Invalid {},
    /// A permanent Blob object exists (possibly deletable ones too).
    Permanent {
        /// The latest end epoch (exclusive) over the live objects.
        end_epoch: Epoch,
        /// Whether a live certified object exists.
        is_certified: bool,
        /// The epoch of the first certification, if any.
        initial_certified_epoch: Option<Epoch>,
        /// The deletable objects beside it.
        deletable_counts: DeletableCounts,
    },
    /// Only deletable Blob objects exist.
    Deletable {
        /// The epoch of the first certification, if any.
        initial_certified_epoch: Option<Epoch>,
        /// The deletable objects.
        deletable_counts: DeletableCounts,
        /// Beyond upstream: the latest end epoch (exclusive).
        end_epoch: Epoch,
        /// Beyond upstream: whether a live certified object exists.
        is_certified: bool,
    },
}

impl BlobStatus {
    /// The status at `epoch` of a blob ID with `objects` (deleted ones
    /// left out or marked), given whether it is invalid. Expired and
    /// deleted objects do not count.
    pub fn of(objects: &[ObjectFacts], invalid: bool, epoch: Epoch) -> Self {
        if invalid {
            return Self::Invalid {};
        }
        let live: Vec<&ObjectFacts> = objects
            .iter()
            .filter(|o| object_state(o, false, epoch) <= BlobState::Registered)
            .collect();
        if live.is_empty() {
            return Self::Nonexistent;
        }
        let end_epoch = live.iter().map(|o| o.end_epoch).max().unwrap_or(0);
        let is_certified = live.iter().any(|o| o.certified_epoch.is_some());
        let initial_certified_epoch = live.iter().filter_map(|o| o.certified_epoch).min();
        let deletable = live.iter().filter(|o| o.deletable);
        let deletable_counts = DeletableCounts {
            count_deletable_total: count(deletable.clone()),
            count_deletable_certified: count(deletable.filter(|o| o.certified_epoch.is_some())),
        };
        if live.iter().any(|o| !o.deletable) {
            Self::Permanent {
                end_epoch,
                is_certified,
                initial_certified_epoch,
                deletable_counts,
            }
        } else {
            Self::Deletable {
                initial_certified_epoch,
                deletable_counts,
                end_epoch,
                is_certified,
            }
        }
    }

    /// Whether a certified Blob object exists for the ID.
    pub fn is_certified(&self) -> bool {
        match self {
            Self::Permanent { is_certified, .. } | Self::Deletable { is_certified, .. } => {
                *is_certified
            }
            Self::Nonexistent | Self::Invalid {} => false,
        }
    }

    /// The latest end epoch (exclusive) of the ID's live Blob objects, if any.
    pub fn end_epoch(&self) -> Option<Epoch> {
        match self {
            Self::Permanent { end_epoch, .. } | Self::Deletable { end_epoch, .. } => {
                Some(*end_epoch)
            }
            Self::Nonexistent | Self::Invalid {} => None,
        }
    }
}

fn count<'a>(objects: impl Iterator<Item = &'a &'a ObjectFacts>) -> u32 {
    u32::try_from(objects.count()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(end: Epoch, deletable: bool, certified: Option<Epoch>) -> ObjectFacts {
        ObjectFacts::undeleted(end, deletable, certified)
    }

    #[test]
    fn an_object_is_deleted_before_invalid_before_expired_before_certified() {
        let mut facts = object(5, true, Some(1));
        assert_eq!(object_state(&facts, false, 4), BlobState::Certified);
        assert_eq!(object_state(&facts, false, 5), BlobState::Expired);
        assert_eq!(object_state(&facts, true, 5), BlobState::Invalid);
        facts.deleted = true;
        assert_eq!(object_state(&facts, true, 4), BlobState::Deleted);
        assert_eq!(
            object_state(&object(5, true, None), false, 4),
            BlobState::Registered
        );
    }

    #[test]
    fn a_blob_id_takes_its_most_useful_object_unless_invalid() {
        use BlobState::*;
        assert_eq!(
            blob_id_state([Deleted, Certified, Expired], false),
            Some(Certified)
        );
        assert_eq!(blob_id_state([Deleted, Expired], false), Some(Expired));
        assert_eq!(blob_id_state([Certified], true), Some(Invalid));
        assert_eq!(blob_id_state([], true), Some(Invalid));
        assert_eq!(blob_id_state([], false), None);
    }

    #[test]
    fn node_status_counts_live_objects_only() {
        let objects = [
            object(10, true, Some(2)),
            object(8, true, None),
            object(3, false, Some(1)), // expired at epoch 4
        ];
        let status = BlobStatus::of(&objects, false, 4);
        assert_eq!(
            status,
            BlobStatus::Deletable {
                initial_certified_epoch: Some(2),
                deletable_counts: DeletableCounts {
                    count_deletable_total: 2,
                    count_deletable_certified: 1,
                },
                end_epoch: 10,
                is_certified: true,
            }
        );
        let with_permanent = [object(6, false, None), object(9, true, Some(3))];
        let status = BlobStatus::of(&with_permanent, false, 4);
        assert!(matches!(
            status,
            BlobStatus::Permanent {
                end_epoch: 9,
                is_certified: true,
                ..
            }
        ));
        assert_eq!(
            BlobStatus::of(&with_permanent, true, 4),
            BlobStatus::Invalid {}
        );
        assert_eq!(
            BlobStatus::of(&with_permanent, false, 9),
            BlobStatus::Nonexistent
        );
        assert_eq!(BlobStatus::of(&[], false, 0), BlobStatus::Nonexistent);
    }
}
