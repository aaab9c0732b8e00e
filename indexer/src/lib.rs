//! The indexer: follows the checkpoint log into SQLite and serves blob,
//! provenance and staking queries (SPEC.md section 12).
//!
//! Not written yet: this crate is empty on purpose until its issue lands.
