//! What a Walrus operator runs: the chain service ([`chain`]: sequencer,
//! checkpoint log, HTTP API) and the storage node ([`storage`]: sliver
//! store, node API, chain follower, recovery). The pure ledger both follow
//! is `walrus_contracts::ledger`; the wire types and clients they speak
//! are `walrus_types`.

pub mod chain;
pub mod consensus;
pub mod http;
pub mod storage;
