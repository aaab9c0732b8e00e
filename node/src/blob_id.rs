//! `walrus blob-id FILE [--n-shards N]`: the blob ID and sizes of a file.
//!
//! The file is read once into memory and only the metadata is computed (no
//! slivers are kept), so peak memory stays near twice the file size.

use std::{fs::File, io::Read, path::PathBuf, time::Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use walrus_codec::EncodingConfig;

/// Arguments of `walrus blob-id`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to compute the blob ID of.
    pub file: PathBuf,
    /// Number of shards of the system the blob would be stored in.
    #[arg(long, default_value_t = 1000)]
    pub n_shards: u16,
}

/// What `walrus blob-id` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    blob_id: String,
    file: PathBuf,
    n_shards: u16,
    unencoded_size: u64,
    encoded_size: u64,
    storage_units: u64,
    symbol_size: u16,
    elapsed_ms: u128,
}

/// Runs the command and prints its report.
///
/// # Errors
/// The file cannot be read, is larger than the maximum blob size for
/// `n_shards` (the message names the maximum), or `n_shards` is invalid.
pub fn run(args: &Args, json: bool) -> anyhow::Result<()> {
    let config = EncodingConfig::new(args.n_shards).context("invalid --n-shards")?;
    let mut file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot stat {}", args.file.display()))?
        .len();
    if size > config.max_blob_size() {
        bail!(
            "{} is {size} bytes, larger than the maximum blob size of {} bytes for {} shards",
            args.file.display(),
            config.max_blob_size(),
            args.n_shards
        );
    }
    let start = Instant::now();
    let mut blob =
        Vec::with_capacity(usize::try_from(size).context("file too large for this machine")?);
    file.read_to_end(&mut blob)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let metadata = config.compute_metadata(&blob)?;
    let unencoded_size = u64::try_from(blob.len()).context("file size")?;
    let report = Report {
        blob_id: metadata.blob_id().to_string(),
        file: args.file.clone(),
        n_shards: args.n_shards,
        unencoded_size,
        encoded_size: config.encoded_length(unencoded_size)?,
        storage_units: config.storage_units(unencoded_size)?,
        symbol_size: config.symbol_size(unencoded_size)?,
        elapsed_ms: start.elapsed().as_millis(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("Blob ID:        {}", report.blob_id);
        println!("File:           {}", report.file.display());
        println!("Unencoded size: {} bytes", report.unencoded_size);
        println!(
            "Encoded size:   {} bytes ({} shards)",
            report.encoded_size, report.n_shards
        );
        println!("Storage units:  {} (1 MiB each)", report.storage_units);
    }
    Ok(())
}
