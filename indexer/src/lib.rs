//! The indexer (SPEC.md section 12): follows the checkpoint log, verifying
//! every checkpoint by re-execution like any follower, into SQLite, and
//! serves blob status, blob lists, provenance histories, staking and epoch
//! views and the explorer page over HTTP.
//!
//! - [`Writer`] (`writer.rs`): the SQLite file and the verified chain state;
//!   indexes a batch of checkpoints in one SQLite transaction with the
//!   cursor, so nothing is indexed twice.
//! - [`follow`] (`follow.rs`): fetches batches over HTTP while the previous
//!   batch is indexed on a blocking thread.
//! - [`Reader`] (`query.rs`): the queries, on pooled read connections.
//! - [`api`]: the warp routes, the OpenAPI document and the explorer page.
//! - The JSON shapes are `walrus_types::indexer`, shared with clients
//!   (`walrus audit` reads them).

pub mod api;
mod error;
mod follow;
mod project;
mod query;
mod schema;
mod writer;

pub use error::{IndexError, QueryError};
pub use follow::follow;
pub use query::{BlobFilter, MAX_PAGE, Reader};
pub use writer::Writer;
