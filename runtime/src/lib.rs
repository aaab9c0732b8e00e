//! What a Walrus node runs. Today: the chain service (sequencer, checkpoint
//! log, verifying followers), in [`chain`]. The storage node (sliver store,
//! node API, recovery) comes with its own issue.

pub mod chain;
pub mod node;
