//! The chain's ledger (SPEC.md section 11), pure like the rest of this
//! crate: signed transactions ([`transaction`]), checkpoints and their
//! deterministic execution and replay ([`execution`]), and the genesis
//! configuration that names a chain ([`genesis`]), and the authenticated
//! state whose root each checkpoint carries ([`state_tree`]), and the bytes
//! the control plane's validators sign ([`consensus`]). The chain service
//! (`walrus-runtime`) orders transactions and stores checkpoints; every
//! follower (storage nodes, the indexer, `walrus audit`) re-executes them
//! with this same code.

pub mod block;
pub mod certify;
pub mod consensus;
pub mod execution;
pub mod genesis;
pub mod state_tree;
pub mod transaction;
