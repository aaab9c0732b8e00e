//! The read side: queries over the index, each on a pooled read-only
//! connection (SQLite WAL lets them run while the writer commits).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use rusqlite::{Connection, OptionalExtension, Row, params};
use walrus_codec::BlobId;
use walrus_contracts::{Address, Event, ObjectId};

use walrus_types::indexer::{
    BlobObjectView, BlobState, BlobStatusView, CertificationView, CommitteeView, EpochView,
    HealthView, HistoryEntry, HistoryView, Page, PoolEpochView, PoolView, StakedWalView,
    StakesView,
};

use walrus_contracts::blob_status::{ObjectFacts, blob_id_state, object_state};

use crate::{error::QueryError, schema::uint};

type QueryResult<T> = Result<T, QueryError>;

/// Largest page of any list.
pub const MAX_PAGE: usize = 1000;

/// Filters of `GET /v1/blobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobFilter {
    /// Only objects of this owner.
    pub owner: Option<Address>,
    /// Only objects in this state.
    pub status: Option<BlobState>,
    /// Only objects whose end epoch is at least this.
    pub min_end_epoch: Option<u32>,
    /// Only objects whose end epoch is at most this.
    pub max_end_epoch: Option<u32>,
    /// Only objects after this object ID (the previous page's `nextCursor`).
    pub cursor: Option<ObjectId>,
    /// Page size, 1 to [`MAX_PAGE`].
    pub limit: usize,
}

/// A pool of read connections to one index file. Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
}

fn id(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Blob,
            "expected 32 bytes".into(),
        )
    })
}

const BLOB_COLUMNS: &str = "b.object_id, b.blob_id, b.owner, b.size, b.registered_epoch, \
     b.certified_epoch, b.end_epoch, b.deletable, b.shared, b.deleted, b.registered_sequence, \
     EXISTS (SELECT 1 FROM invalid_blobs i WHERE i.blob_id = b.blob_id)";

fn blob_row(row: &Row<'_>, epoch: u32) -> rusqlite::Result<BlobObjectView> {
    let certified_epoch: Option<u32> = row.get(5)?;
    let end_epoch: u32 = row.get(6)?;
    let deletable: bool = row.get(7)?;
    let facts = ObjectFacts {
        end_epoch,
        deletable,
        certified_epoch,
        deleted: row.get(9)?,
    };
    let invalid: bool = row.get(11)?;
    Ok(BlobObjectView {
        object_id: ObjectId(id(row.get(0)?)?),
        blob_id: BlobId(id(row.get(1)?)?),
        owner: Address(id(row.get(2)?)?),
        status: object_state(&facts, invalid, epoch),
        size: uint(row.get(3)?),
        registered_epoch: row.get(4)?,
        certified_epoch,
        end_epoch,
        deletable,
        shared: row.get(8)?,
        registered_checkpoint: uint(row.get(10)?),
    })
}

impl Reader {
    /// A reader of the index at `path` (which a [`crate::Writer`] created).
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn with<T>(&self, query: impl FnOnce(&Connection) -> QueryResult<T>) -> QueryResult<T> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|source| QueryError::Open {
                    path: self.path.clone(),
                    source,
                })?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        // One read transaction: every statement of a query sees the same
        // snapshot, even if the writer commits in between.
        let result = conn
            .unchecked_transaction()
            .map_err(QueryError::from)
            .and_then(|snapshot| query(&snapshot));
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn);
        result
    }

    fn epoch(conn: &Connection) -> QueryResult<u32> {
        Ok(
            conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |row| {
                row.get(0)
            })?,
        )
    }

    /// Progress and identity of the index.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn health(&self) -> QueryResult<HealthView> {
        self.with(|conn| {
            let checkpoints: i64 = conn.query_row(
                "SELECT value FROM meta WHERE key = 'next_sequence'",
                [],
                |row| row.get(0),
            )?;
            let genesis: Vec<u8> =
                conn.query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |row| {
                    row.get(0)
                })?;
            Ok(HealthView {
                checkpoints: uint(checkpoints),
                epoch: Self::epoch(conn)?,
                genesis: hex::encode(&genesis),
            })
        })
    }

    /// The status of `blob_id` over all its Blob objects; `None` if it was
    /// never registered nor invalidated.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn blob_status(&self, blob_id: &BlobId) -> QueryResult<Option<BlobStatusView>> {
        self.with(|conn| {
            let epoch = Self::epoch(conn)?;
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {BLOB_COLUMNS} FROM blob_objects b WHERE b.blob_id = ?1 \
                 ORDER BY b.registered_sequence, b.object_id"
            ))?;
            let objects = statement
                .query_map(params![blob_id.0.to_vec()], |row| blob_row(row, epoch))?
                .collect::<Result<Vec<_>, _>>()?;
            let invalid = conn
                .prepare_cached("SELECT 1 FROM invalid_blobs WHERE blob_id = ?1")?
                .exists(params![blob_id.0.to_vec()])?;
            if objects.is_empty() && !invalid {
                return Ok(None);
            }
            let status = blob_id_state(objects.iter().map(|o| o.status), invalid)
                .unwrap_or(BlobState::Deleted);
            let live: Vec<&BlobObjectView> = objects
                .iter()
                .filter(|o| matches!(o.status, BlobState::Certified | BlobState::Registered))
                .collect();
            let certified: Vec<&&BlobObjectView> = live
                .iter()
                .filter(|o| o.status == BlobState::Certified)
                .collect();
            let end_epoch = if certified.is_empty() {
                live.iter().map(|o| o.end_epoch).max()
            } else {
                certified.iter().map(|o| o.end_epoch).max()
            };
            Ok(Some(BlobStatusView {
                blob_id: *blob_id,
                status,
                registered: !live.is_empty(),
                certified_epoch: certified.iter().filter_map(|o| o.certified_epoch).min(),
                end_epoch,
                deletable: !live.is_empty() && live.iter().all(|o| o.deletable),
                invalid,
                current_epoch: epoch,
                objects,
            }))
        })
    }

    /// Blob objects matching `filter`, by object ID.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn list_blobs(&self, filter: &BlobFilter) -> QueryResult<Page<BlobObjectView>> {
        self.with(|conn| {
            let epoch = Self::epoch(conn)?;
            let invalid = "EXISTS (SELECT 1 FROM invalid_blobs i WHERE i.blob_id = b.blob_id)";
            let status = match filter.status {
                None => String::new(),
                Some(BlobState::Deleted) => " AND b.deleted = 1".to_owned(),
                Some(BlobState::Invalid) => format!(" AND b.deleted = 0 AND {invalid}"),
                Some(BlobState::Expired) => {
                    format!(" AND b.deleted = 0 AND NOT {invalid} AND b.end_epoch <= ?5")
                }
                Some(BlobState::Certified) => format!(
                    " AND b.deleted = 0 AND NOT {invalid} AND b.end_epoch > ?5 \
                     AND b.certified_epoch IS NOT NULL"
                ),
                Some(BlobState::Registered) => format!(
                    " AND b.deleted = 0 AND NOT {invalid} AND b.end_epoch > ?5 \
                     AND b.certified_epoch IS NULL"
                ),
            };
            let sql = format!(
                "SELECT {BLOB_COLUMNS} FROM blob_objects b \
                 WHERE (?1 IS NULL OR b.owner = ?1) AND (?2 IS NULL OR b.end_epoch >= ?2) \
                 AND (?3 IS NULL OR b.end_epoch <= ?3) AND (?4 IS NULL OR b.object_id > ?4) \
                 AND ?5 = ?5{status} ORDER BY b.object_id LIMIT ?6"
            );
            let limit = filter.limit.clamp(1, MAX_PAGE);
            let mut statement = conn.prepare_cached(&sql)?;
            let mut items = statement
                .query_map(
                    params![
                        filter.owner.map(|a| a.0.to_vec()),
                        filter.min_end_epoch,
                        filter.max_end_epoch,
                        filter.cursor.map(|c| c.0.to_vec()),
                        epoch,
                        limit + 1,
                    ],
                    |row| blob_row(row, epoch),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let next_cursor = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|o| o.object_id.to_string())
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
    }

    /// Every event naming `blob_id`, in chain order, with its checkpoint and
    /// transaction, and the committee and signers of certifications.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn history(&self, blob_id: &BlobId) -> QueryResult<HistoryView> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT e.sequence, c.timestamp_ms, c.digest, t.digest, e.tx_position, t.sender, \
                 e.kind, e.body FROM events e \
                 JOIN checkpoints c ON c.sequence = e.sequence \
                 JOIN transactions t ON t.sequence = e.sequence AND t.position = e.tx_position \
                 WHERE e.blob_id = ?1 ORDER BY e.id",
            )?;
            let rows = statement
                .query_map(params![blob_id.0.to_vec()], |row| {
                    Ok((
                        uint(row.get(0)?),
                        uint(row.get(1)?),
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, u32>(4)?,
                        Address(id(row.get(5)?)?),
                        row.get::<_, String>(6)?,
                        row.get::<_, String>(7)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut events = Vec::with_capacity(rows.len());
            for (checkpoint, timestamp_ms, digest, tx_digest, tx_position, sender, kind, body) in
                rows
            {
                let event: Event =
                    serde_json::from_str(&body).map_err(QueryError::stored("event"))?;
                let certification = match &event {
                    Event::BlobCertified { epoch, signers, .. } => {
                        Some(certification(conn, *epoch, signers)?)
                    }
                    _ => None,
                };
                events.push(HistoryEntry {
                    checkpoint,
                    timestamp_ms,
                    checkpoint_digest: hex::encode(&digest),
                    tx_digest: format!("0x{}", hex::encode(&tx_digest)),
                    tx_position,
                    sender,
                    kind,
                    event,
                    certification,
                });
            }
            Ok(HistoryView {
                blob_id: *blob_id,
                events,
            })
        })
    }

    /// Every staking pool, with its per-epoch record.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn pools(&self) -> QueryResult<Vec<PoolView>> {
        self.with(|conn| {
            let bodies = conn
                .prepare_cached("SELECT body FROM pools ORDER BY node_id")?
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            bodies
                .iter()
                .map(|body| {
                    let mut pool: PoolView =
                        serde_json::from_str(body).map_err(QueryError::stored("pool"))?;
                    pool.epochs = pool_epochs(conn, &pool.node_id)?;
                    Ok(pool)
                })
                .collect()
        })
    }

    /// One staking pool, if it exists.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn pool(&self, node_id: &ObjectId) -> QueryResult<Option<PoolView>> {
        self.with(|conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM pools WHERE node_id = ?1")?
                .query_row(params![node_id.0.to_vec()], |row| row.get(0))
                .optional()?;
            body.map(|body| {
                let mut pool: PoolView =
                    serde_json::from_str(&body).map_err(QueryError::stored("pool"))?;
                pool.epochs = pool_epochs(conn, node_id)?;
                Ok(pool)
            })
            .transpose()
        })
    }

    /// The StakedWal objects of `address`, with their value now.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn staked(&self, address: &Address) -> QueryResult<StakesView> {
        self.with(|conn| {
            let staked = conn
                .prepare_cached(
                    "SELECT object_id, owner, node_id, principal, activation_epoch, state, \
                     withdraw_epoch, value, withdrawn_amount FROM staked_wal WHERE owner = ?1 \
                     ORDER BY object_id",
                )?
                .query_map(params![address.0.to_vec()], |row| {
                    Ok(StakedWalView {
                        object_id: ObjectId(id(row.get(0)?)?),
                        owner: Address(id(row.get(1)?)?),
                        node_id: ObjectId(id(row.get(2)?)?),
                        principal: uint(row.get(3)?),
                        activation_epoch: row.get(4)?,
                        state: row.get(5)?,
                        withdraw_epoch: row.get(6)?,
                        value: uint(row.get(7)?),
                        withdrawn_amount: row.get::<_, Option<i64>>(8)?.map(uint),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(StakesView {
                address: *address,
                total_value: staked.iter().fold(0, |sum, s| sum.saturating_add(s.value)),
                staked,
            })
        })
    }

    /// Epochs from `from` (ascending), at most `limit`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn epochs(&self, from: u32, limit: usize) -> QueryResult<Page<EpochView>> {
        self.with(|conn| {
            let limit = limit.clamp(1, MAX_PAGE);
            let mut items = conn
                .prepare_cached(
                    "SELECT epoch, start_sequence, start_ms, storage_price, write_price, \
                     capacity, change_done_sequence, committee FROM epochs WHERE epoch >= ?1 \
                     ORDER BY epoch LIMIT ?2",
                )?
                .query_map(params![from, limit + 1], |row| {
                    Ok((
                        EpochView {
                            epoch: row.get(0)?,
                            start_checkpoint: row.get::<_, Option<i64>>(1)?.map(uint),
                            start_ms: uint(row.get(2)?),
                            storage_price: uint(row.get(3)?),
                            write_price: uint(row.get(4)?),
                            capacity: uint(row.get(5)?),
                            change_done_checkpoint: row.get::<_, Option<i64>>(6)?.map(uint),
                            committee: CommitteeView {
                                epoch: 0,
                                members: Vec::new(),
                            },
                        },
                        row.get::<_, String>(7)?,
                    ))
                })?
                .map(|row| {
                    let (mut view, committee) = row?;
                    view.committee = serde_json::from_str(&committee)
                        .map_err(QueryError::stored("committee"))?;
                    Ok(view)
                })
                .collect::<QueryResult<Vec<_>>>()?;
            let next_cursor = if items.len() > limit {
                items.truncate(limit);
                items.last().map(|e| (e.epoch + 1).to_string())
            } else {
                None
            };
            Ok(Page { items, next_cursor })
        })
    }
}

fn pool_epochs(conn: &Connection, node_id: &ObjectId) -> QueryResult<Vec<PoolEpochView>> {
    Ok(conn
        .prepare_cached(
            "SELECT epoch, stake, shards, audit_score, slashed, pool_reward, commission \
             FROM pool_epochs WHERE node_id = ?1 ORDER BY epoch",
        )?
        .query_map(params![node_id.0.to_vec()], |row| {
            Ok(PoolEpochView {
                epoch: row.get(0)?,
                stake: uint(row.get(1)?),
                shards: row.get(2)?,
                audit_score: row.get(3)?,
                slashed: row.get(4)?,
                pool_reward: uint(row.get(5)?),
                commission: uint(row.get(6)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

fn certification(conn: &Connection, epoch: u32, signers: &[u16]) -> QueryResult<CertificationView> {
    let committee: Option<String> = conn
        .prepare_cached("SELECT committee FROM epochs WHERE epoch = ?1")?
        .query_row(params![epoch], |row| row.get(0))
        .optional()?;
    let committee: CommitteeView = match committee {
        Some(text) => serde_json::from_str(&text).map_err(QueryError::stored("committee"))?,
        None => CommitteeView {
            epoch,
            members: Vec::new(),
        },
    };
    let chosen: Vec<_> = signers
        .iter()
        .filter_map(|i| committee.members.get(usize::from(*i)))
        .collect();
    Ok(CertificationView {
        epoch,
        signer_indices: signers.to_vec(),
        signers: chosen.iter().map(|m| m.node_id).collect(),
        signer_shards: chosen.iter().map(|m| u32::from(m.shards)).sum(),
        committee: committee.members,
    })
}
