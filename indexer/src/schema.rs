//! The indexer's SQLite schema. IDs, addresses, blob IDs and digests are
//! 32-byte BLOBs; amounts are FROST in INTEGER columns (SQLite integers are
//! signed 64-bit, so amounts above `i64::MAX` saturate; the total WAL
//! supply, 5 * 10^18 FROST, is below it).

/// Every table and index; `CREATE ... IF NOT EXISTS`, so opening an existing
/// file is a no-op.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    sequence INTEGER PRIMARY KEY,
    epoch INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    digest BLOB NOT NULL,
    previous_digest BLOB NOT NULL,
    state_root BLOB NOT NULL,
    transactions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    sequence INTEGER NOT NULL,
    position INTEGER NOT NULL,
    digest BLOB NOT NULL,
    sender BLOB NOT NULL,
    calls TEXT NOT NULL,
    error_code INTEGER,
    error TEXT,
    PRIMARY KEY (sequence, position)
);
CREATE INDEX IF NOT EXISTS transactions_digest ON transactions (digest);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    sequence INTEGER NOT NULL,
    tx_position INTEGER NOT NULL,
    event_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    blob_id BLOB,
    object_id BLOB,
    node_id BLOB,
    epoch INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_blob ON events (blob_id, id) WHERE blob_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_node ON events (node_id, id) WHERE node_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS blob_objects (
    object_id BLOB PRIMARY KEY,
    blob_id BLOB NOT NULL,
    owner BLOB NOT NULL,
    size INTEGER NOT NULL,
    encoding_type INTEGER NOT NULL,
    registered_epoch INTEGER NOT NULL,
    certified_epoch INTEGER,
    end_epoch INTEGER NOT NULL,
    deletable INTEGER NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    registered_sequence INTEGER NOT NULL,
    updated_sequence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS blob_objects_blob ON blob_objects (blob_id);
CREATE INDEX IF NOT EXISTS blob_objects_owner ON blob_objects (owner, object_id);
CREATE TABLE IF NOT EXISTS invalid_blobs (
    blob_id BLOB PRIMARY KEY,
    epoch INTEGER NOT NULL,
    sequence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS epochs (
    epoch INTEGER PRIMARY KEY,
    start_sequence INTEGER,
    start_ms INTEGER NOT NULL,
    storage_price INTEGER NOT NULL,
    write_price INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    committee TEXT NOT NULL,
    change_done_sequence INTEGER
);
CREATE TABLE IF NOT EXISTS pools (
    node_id BLOB PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pool_epochs (
    node_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    stake INTEGER NOT NULL,
    shards INTEGER NOT NULL,
    audit_score INTEGER NOT NULL,
    slashed INTEGER NOT NULL,
    pool_reward INTEGER NOT NULL,
    commission INTEGER NOT NULL,
    PRIMARY KEY (node_id, epoch)
);
CREATE TABLE IF NOT EXISTS staked_wal (
    object_id BLOB PRIMARY KEY,
    owner BLOB NOT NULL,
    node_id BLOB NOT NULL,
    principal INTEGER NOT NULL,
    activation_epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    withdraw_epoch INTEGER,
    shares INTEGER,
    value INTEGER NOT NULL,
    withdrawn_amount INTEGER
);
CREATE INDEX IF NOT EXISTS staked_wal_owner ON staked_wal (owner, object_id);
";

/// Converts an amount or count to an SQLite integer, saturating at `i64::MAX`.
pub(crate) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads an SQLite integer back as `u64` (negative values cannot occur:
/// every column is written through [`int`]).
pub(crate) fn uint(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
