//! The control-plane state machine (SPEC.md sections 8 to 10).
//!
//! Not written yet: this crate is empty on purpose until the contracts issue
//! lands. It will hold `apply(state, ctx, call)`, pure and deterministic.
