//! The authenticated state: a Jellyfish Merkle tree (crate `jmt`, SHA-256)
//! over every object of the chain state, one tree version per checkpoint.
//!
//! Each object is a leaf: the key is `SHA-256(BCS(`[`StateKey`]`))`, the
//! value the BCS bytes of the object (see [`StateKey`] for each kind's
//! value). The tree's shape depends only on the set of keys, so its root is
//! a function of the state alone, whatever history led to it. A checkpoint
//! updates only the leaves its transactions changed ([`changes`] finds them
//! by diffing the persistent maps, which skips shared subtrees), so the cost
//! grows with the changes, not with the state (ARCHITECTURE.md, "State
//! root"). A [`StateProof`] shows one object's value, or its absence,
//! against a root.
//!
//! The tree keeps the nodes of its latest two versions only, in memory (the
//! previous one serves proofs against the newest checkpoint a block
//! certificate covers, one behind the latest); values are not duplicated in
//! it: a proof's value is read from the state.

#[allow(clippy::disallowed_types)] // see `Nodes`
use std::collections::HashMap;

use imbl::{OrdMap, OrdSet, ordmap::DiffItem};
use jmt::{
    JellyfishMerkleTree, KeyHash, OwnedValue, RootHash, Version,
    proof::SparseMerkleProof,
    storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch},
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use walrus_codec::BlobId;

use crate::{
    ids::{Address, Epoch, ObjectId},
    state::{Committee, EpochAudits, EpochState, NextEpoch, State, SystemParams},
};

/// The name of one object in the authenticated state, and what its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StateKey {
    /// The system object ([`SystemObject`]): epoch, committee, prices, audits.
    System,
    /// An account's balance: `u64` FROST.
    Account(Address),
    /// An account's next nonce: `u64`.
    Nonce(Address),
    /// A storage resource: `(owner Address, Storage)`.
    Storage(ObjectId),
    /// An owned Blob object: `Blob`.
    Blob(ObjectId),
    /// A shared blob: `SharedBlob`.
    SharedBlob(ObjectId),
    /// An invalidated blob ID: `true`.
    InvalidBlobId(BlobId),
    /// A staking pool, by node ID: `StakingPool`.
    Pool(ObjectId),
    /// A StakedWal object: `StakedWal`.
    StakedWal(ObjectId),
    /// Income to pay out at the end of an epoch: `u64` FROST.
    Income(Epoch),
}

impl StateKey {
    /// The key's position in the tree: SHA-256 of its BCS bytes.
    pub fn key_hash(&self) -> KeyHash {
        KeyHash::with::<Sha256>(bcs::to_bytes(self).expect("state keys serialize"))
    }
}

/// The value of [`StateKey::System`]: every field of the state that is not a
/// map of objects, and the start of the current epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemObject {
    /// Genesis parameters.
    pub params: SystemParams,
    /// The current epoch.
    pub epoch: Epoch,
    /// Where the epoch state machine is.
    pub epoch_state: EpochState,
    /// The current committee.
    pub committee: Committee,
    /// The next epoch's committee and prices, once selected.
    pub next: Option<NextEpoch>,
    /// Storage price per unit per epoch, FROST.
    pub storage_price: u64,
    /// Write price per unit, FROST.
    pub write_price: u64,
    /// Total capacity, bytes.
    pub capacity: u64,
    /// Rounding remainder carried into the next payout, FROST.
    pub carried: u64,
    /// Audits and slashing votes of the current epoch.
    pub audits: EpochAudits,
    /// FROST ever minted.
    pub minted: u64,
    /// FROST ever burned.
    pub burned: u64,
    /// When the current epoch started, milliseconds since the Unix epoch.
    pub epoch_start_ms: u64,
}

/// What the tree commits to: the contracts state, the nonces and the epoch
/// start time (the parts of the chain state that execution changes).
#[derive(Debug, Clone, Copy)]
pub struct Objects<'a> {
    /// The contracts state.
    pub state: &'a State,
    /// Next nonce per sender.
    pub nonces: &'a OrdMap<Address, u64>,
    /// When the current epoch started.
    pub epoch_start_ms: u64,
}

impl Objects<'_> {
    /// The system object.
    pub fn system(&self) -> SystemObject {
        let s = self.state;
        SystemObject {
            params: s.params.clone(),
            epoch: s.epoch,
            epoch_state: s.epoch_state.clone(),
            committee: s.committee.clone(),
            next: s.next.clone(),
            storage_price: s.storage_price,
            write_price: s.write_price,
            capacity: s.capacity,
            carried: s.carried,
            audits: s.audits.clone(),
            minted: s.minted,
            burned: s.burned,
            epoch_start_ms: self.epoch_start_ms,
        }
    }

    /// The BCS value of `key`, `None` when no such object exists.
    pub fn value(&self, key: &StateKey) -> Option<Vec<u8>> {
        let s = self.state;
        match key {
            StateKey::System => Some(bytes(&self.system())),
            StateKey::Account(a) => s.accounts.get(a).map(bytes),
            StateKey::Nonce(a) => self.nonces.get(a).map(bytes),
            StateKey::Storage(id) => s.storages.get(id).map(bytes),
            StateKey::Blob(id) => s.blobs.get(id).map(bytes),
            StateKey::SharedBlob(id) => s.shared_blobs.get(id).map(bytes),
            StateKey::InvalidBlobId(b) => s.invalid_blob_ids.contains(b).then(|| bytes(&true)),
            StateKey::Pool(id) => s.pools.get(id).map(bytes),
            StateKey::StakedWal(id) => s.staked.get(id).map(bytes),
            StateKey::Income(e) => s.income.get(e).map(bytes),
        }
    }

    /// Every object with its value, for building a tree from scratch.
    pub fn all(&self) -> Vec<(StateKey, Option<Vec<u8>>)> {
        let s = self.state;
        let mut out = vec![(StateKey::System, Some(bytes(&self.system())))];
        entries(&mut out, &s.accounts, StateKey::Account);
        entries(&mut out, self.nonces, StateKey::Nonce);
        entries(&mut out, &s.storages, StateKey::Storage);
        entries(&mut out, &s.blobs, StateKey::Blob);
        entries(&mut out, &s.shared_blobs, StateKey::SharedBlob);
        let invalid = s.invalid_blob_ids.iter();
        out.extend(invalid.map(|b| (StateKey::InvalidBlobId(*b), Some(bytes(&true)))));
        entries(&mut out, &s.pools, StateKey::Pool);
        entries(&mut out, &s.staked, StateKey::StakedWal);
        entries(&mut out, &s.income, StateKey::Income);
        out
    }
}

fn entries<K: Ord + Copy, V: Clone + Serialize>(
    out: &mut Vec<(StateKey, Option<Vec<u8>>)>,
    map: &OrdMap<K, V>,
    key: impl Fn(K) -> StateKey,
) {
    out.extend(map.iter().map(|(k, v)| (key(*k), Some(bytes(v)))));
}

fn bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    bcs::to_bytes(value).expect("state objects serialize: all maps have BCS keys")
}

/// The objects that differ between `pre` and `post`: their new value, or
/// `None` for a removed one. Cost grows with the changes (and the log of the
/// map sizes), not with the state, because the maps share unchanged subtrees.
pub fn changes(pre: &Objects<'_>, post: &Objects<'_>) -> Vec<(StateKey, Option<Vec<u8>>)> {
    let (a, b) = (pre.state, post.state);
    let mut out = Vec::new();
    map_changes(&mut out, &a.accounts, &b.accounts, StateKey::Account);
    map_changes(&mut out, pre.nonces, post.nonces, StateKey::Nonce);
    map_changes(&mut out, &a.storages, &b.storages, StateKey::Storage);
    map_changes(&mut out, &a.blobs, &b.blobs, StateKey::Blob);
    map_changes(
        &mut out,
        &a.shared_blobs,
        &b.shared_blobs,
        StateKey::SharedBlob,
    );
    set_changes(&mut out, &a.invalid_blob_ids, &b.invalid_blob_ids);
    map_changes(&mut out, &a.pools, &b.pools, StateKey::Pool);
    map_changes(&mut out, &a.staked, &b.staked, StateKey::StakedWal);
    map_changes(&mut out, &a.income, &b.income, StateKey::Income);
    let system = bytes(&post.system());
    if bytes(&pre.system()) != system {
        out.push((StateKey::System, Some(system)));
    }
    out
}

fn map_changes<K: Ord + Clone, V: Clone + PartialEq + Serialize>(
    out: &mut Vec<(StateKey, Option<Vec<u8>>)>,
    pre: &OrdMap<K, V>,
    post: &OrdMap<K, V>,
    key: impl Fn(K) -> StateKey,
) {
    for item in pre.diff(post) {
        match item {
            DiffItem::Add(k, v) => out.push((key(k.clone()), Some(bytes(v)))),
            DiffItem::Update { old, new } if old.1 != new.1 => {
                out.push((key(new.0.clone()), Some(bytes(new.1))));
            }
            DiffItem::Update { .. } => {}
            DiffItem::Remove(k, _) => out.push((key(k.clone()), None)),
        }
    }
}

fn set_changes(
    out: &mut Vec<(StateKey, Option<Vec<u8>>)>,
    pre: &OrdSet<BlobId>,
    post: &OrdSet<BlobId>,
) {
    for item in pre.diff(post) {
        match item {
            imbl::ordset::DiffItem::Add(b) => {
                out.push((StateKey::InvalidBlobId(*b), Some(bytes(&true))));
            }
            imbl::ordset::DiffItem::Remove(b) => out.push((StateKey::InvalidBlobId(*b), None)),
        }
    }
}

/// The tree's nodes of the latest version, in memory. A hash map is twice
/// as fast as a B-tree here (`bench/state_tree.sh`) and is only looked up by
/// key, never iterated, so its order cannot reach any result.
#[allow(clippy::disallowed_types)]
#[derive(Debug, Clone, Default)]
struct Nodes(HashMap<NodeKey, Node>);

impl TreeReader for Nodes {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.0.get(node_key).cloned())
    }

    /// Values are not kept in the tree ([`StateTree::prove`] reads them from
    /// the state), so every leaf's value reads as empty.
    fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(Some(Vec::new()))
    }

    /// Only `jmt`'s restore uses this; the tree is rebuilt from the state instead.
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

/// The authenticated state: the latest version of the tree and the one
/// before it.
#[derive(Debug, Clone)]
pub struct StateTree {
    nodes: Nodes,
    root_key: Option<NodeKey>,
    version: Version,
    root: [u8; 32],
    /// The root of version `version - 1`, while its nodes are kept.
    previous_root: Option<[u8; 32]>,
    /// Nodes of the previous version that the latest one no longer uses:
    /// dropped at the next update.
    retiring: Vec<NodeKey>,
}

impl StateTree {
    /// A tree holding `objects` (`None` values are skipped), at version 0.
    /// Versions count updates of this tree only; they are not checkpoint
    /// sequence numbers (jmt's bulk insertion needs an empty tree to start
    /// at version 0).
    pub fn build(objects: Vec<(StateKey, Option<Vec<u8>>)>) -> Self {
        let version = 0;
        let mut tree = Self {
            nodes: Nodes::default(),
            root_key: None,
            version,
            root: [0; 32],
            previous_root: None,
            retiring: Vec::new(),
        };
        let present: Vec<(KeyHash, OwnedValue)> = objects
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.key_hash(), v)))
            .collect();
        if present.is_empty() {
            tree.write(version, Vec::new());
            return tree;
        }
        // jmt's bulk insertion: several times faster than one key at a time.
        let (roots, batch) = JellyfishMerkleTree::<_, Sha256>::new(&tree.nodes)
            .batch_put_value_sets(vec![present], None, version)
            .expect("an empty tree at version 0 reads no node");
        tree.apply(version, roots[0], batch);
        tree
    }

    /// The root after the latest version.
    pub fn root(&self) -> [u8; 32] {
        self.root
    }

    /// Applies `changes` as version `version + 1`; returns the new root.
    pub fn update(&mut self, changes: Vec<(StateKey, Option<Vec<u8>>)>) -> [u8; 32] {
        self.write(self.version + 1, changes);
        self.root
    }

    fn write(&mut self, version: Version, changes: Vec<(StateKey, Option<Vec<u8>>)>) {
        let tree = JellyfishMerkleTree::<_, Sha256>::new(&self.nodes);
        let reason = "the in-memory tree holds every node of its latest version";
        if !changes.is_empty() && changes.iter().all(|(_, v)| v.is_some()) {
            // No deletion: jmt's bulk path hashes each touched node once.
            let set = changes
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.key_hash(), v)))
                .collect();
            let (roots, batch) = tree
                .batch_put_value_sets(vec![set], None, version)
                .expect(reason);
            return self.apply(version, roots[0], batch);
        }
        let set = changes.into_iter().map(|(k, v)| (k.key_hash(), v));
        let (root, batch) = tree.put_value_set(set, version).expect(reason);
        self.apply(version, root, batch);
    }

    fn apply(&mut self, version: Version, root: RootHash, batch: TreeUpdateBatch) {
        // Keep the new version and the one before: drop what the previous
        // update made stale, and mark what this one makes stale (including
        // the old root, which jmt does not list when nothing changed).
        for stale in self.retiring.drain(..) {
            self.nodes.0.remove(&stale);
        }
        self.retiring = batch
            .stale_node_index_batch
            .iter()
            .map(|stale| stale.node_key.clone())
            .collect();
        if let Some(old_root) = self.root_key.take() {
            self.retiring.push(old_root);
        }
        let fresh = self.nodes.0.is_empty();
        self.previous_root = (!fresh).then_some(self.root);
        for (key, node) in batch.node_batch.nodes() {
            if key.version() == version && key.nibble_path().is_empty() {
                self.root_key = Some(key.clone());
            }
            self.nodes.0.insert(key.clone(), node.clone());
        }
        self.version = version;
        self.root = root.0;
    }

    /// A proof of `key`'s leaf (or its absence) in the latest version.
    pub fn prove(&self, key: &StateKey) -> StateProof {
        let (_, proof) = JellyfishMerkleTree::<_, Sha256>::new(&self.nodes)
            .get_with_proof(key.key_hash(), self.version)
            .expect("the in-memory tree holds every node of its latest version");
        StateProof(proof)
    }

    /// The root of the version before the latest, `None` for a tree that
    /// was built and not updated since.
    pub fn previous_root(&self) -> Option<[u8; 32]> {
        self.previous_root
    }

    /// A proof of `key` in the version before the latest (against
    /// [`StateTree::previous_root`]); `None` when that version is not kept.
    pub fn prove_previous(&self, key: &StateKey) -> Option<StateProof> {
        self.previous_root?;
        let version = self.version.checked_sub(1)?;
        let (_, proof) = JellyfishMerkleTree::<_, Sha256>::new(&self.nodes)
            .get_with_proof(key.key_hash(), version)
            .expect("the in-memory tree keeps every node of the previous version");
        Some(StateProof(proof))
    }
}

/// A Merkle proof of one object's value, or of its absence, against a state
/// root. Serializes with serde (BCS on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateProof(SparseMerkleProof<Sha256>);

/// A [`StateProof`] does not show what was claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state proof rejected: {0}")]
pub struct ProofError(String);

impl StateProof {
    /// Checks that under `root`, `key` holds `value` (BCS bytes), or, for
    /// `None`, that no object `key` exists.
    ///
    /// # Errors
    /// [`ProofError`] when the proof does not show that.
    pub fn verify(
        &self,
        root: [u8; 32],
        key: &StateKey,
        value: Option<&[u8]>,
    ) -> Result<(), ProofError> {
        self.0
            .verify(RootHash(root), key.key_hash(), value)
            .map_err(|e| ProofError(e.to_string()))
    }
}

/// A stored object that does not decode as its key's kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored object {key:?} does not decode: {message}")]
pub struct RestoreError {
    /// The object.
    pub key: StateKey,
    /// The decoder's message.
    pub message: String,
}

/// The objects of a state, decoded: the inverse of [`Objects::all`].
#[derive(Debug, Clone)]
pub struct Restored {
    /// The contracts state.
    pub state: State,
    /// Next nonce per sender.
    pub nonces: OrdMap<Address, u64>,
    /// When the current epoch started.
    pub epoch_start_ms: u64,
}

impl Restored {
    /// Rebuilds a state from its objects (as [`Objects::all`] lists them).
    /// `base` supplies nothing but a starting value for every field: each
    /// map is emptied, then filled from `objects`; the system object sets
    /// the rest.
    ///
    /// # Errors
    /// [`RestoreError`] for a value that does not decode, or no system object.
    pub fn from_objects(
        base: &State,
        objects: impl IntoIterator<Item = (StateKey, Vec<u8>)>,
    ) -> Result<Self, RestoreError> {
        let mut state = base.clone();
        state.accounts.clear();
        state.storages.clear();
        state.blobs.clear();
        state.shared_blobs.clear();
        state.invalid_blob_ids.clear();
        state.pools.clear();
        state.staked.clear();
        state.income.clear();
        let mut nonces = OrdMap::new();
        let mut system = None;
        for (key, value) in objects {
            let bad = |e: bcs::Error| RestoreError {
                key,
                message: e.to_string(),
            };
            let s = &mut state;
            match key {
                StateKey::System => system = Some(bcs::from_bytes(&value).map_err(bad)?),
                StateKey::Account(a) => _ = s.accounts.insert(a, decode(&value, bad)?),
                StateKey::Nonce(a) => _ = nonces.insert(a, decode(&value, bad)?),
                StateKey::Storage(id) => _ = s.storages.insert(id, decode(&value, bad)?),
                StateKey::Blob(id) => _ = s.blobs.insert(id, decode(&value, bad)?),
                StateKey::SharedBlob(id) => _ = s.shared_blobs.insert(id, decode(&value, bad)?),
                StateKey::InvalidBlobId(b) => _ = s.invalid_blob_ids.insert(b),
                StateKey::Pool(id) => _ = s.pools.insert(id, decode(&value, bad)?),
                StateKey::StakedWal(id) => _ = s.staked.insert(id, decode(&value, bad)?),
                StateKey::Income(e) => _ = s.income.insert(e, decode(&value, bad)?),
            }
        }
        let system: SystemObject = system.ok_or(RestoreError {
            key: StateKey::System,
            message: "missing".to_owned(),
        })?;
        let epoch_start_ms = system.epoch_start_ms;
        state.params = system.params;
        state.epoch = system.epoch;
        state.epoch_state = system.epoch_state;
        state.committee = system.committee;
        state.next = system.next;
        state.storage_price = system.storage_price;
        state.write_price = system.write_price;
        state.capacity = system.capacity;
        state.carried = system.carried;
        state.audits = system.audits;
        state.minted = system.minted;
        state.burned = system.burned;
        Ok(Self {
            state,
            nonces,
            epoch_start_ms,
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    bad: impl FnOnce(bcs::Error) -> RestoreError,
) -> Result<T, RestoreError> {
    bcs::from_bytes(bytes).map_err(bad)
}
