//! The client commands of SPEC.md section 7: `store`, `read`, `blob-status`,
//! `list-blobs`, `delete`, `extend`, `info`, `health`, `get-wal`, `stake`,
//! `request-withdraw-stake`, `withdraw-stake`, `publisher`, `aggregator`,
//! `daemon` and `json`. Each builds a report that prints as text or JSON;
//! the arguments live in `client_args.rs`.

use std::{
    io::{IsTerminal, Write},
    path::Path,
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use walrus_client::{
    Client, ClientConfig, ConsistencyCheck, NodeBlobStatus, Phase, Progress, StoreOptions,
    StoreResult,
    config::find_config,
    daemon::{DaemonConfig, Role},
};
use walrus_codec::EncodingConfig;
use walrus_contracts::{ObjectId, money::FROST_PER_WAL};

use crate::client_args::{
    BlobStatusArgs, ClientCommand, DaemonArgs, DeleteArgs, ReadArgs, StoreArgs,
};

/// Parses a WAL amount with up to 9 decimals into FROST.
fn parse_wal(text: &str) -> anyhow::Result<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 || (whole.is_empty() && fraction.is_empty()) {
        bail!("invalid WAL amount {text:?}: at most 9 decimals");
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .with_context(|| format!("invalid WAL amount {text:?}"))?
    };
    let fraction_frost: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}")
            .parse()
            .with_context(|| format!("invalid WAL amount {text:?}"))?
    };
    whole
        .checked_mul(FROST_PER_WAL)
        .and_then(|f| f.checked_add(fraction_frost))
        .with_context(|| format!("WAL amount {text:?} too large"))
}

/// FROST as WAL with 9 decimals, trailing zeros dropped.
fn wal(frost: u64) -> String {
    let whole = frost / FROST_PER_WAL;
    let fraction = frost % FROST_PER_WAL;
    if fraction == 0 {
        format!("{whole} WAL")
    } else {
        let digits = format!("{fraction:09}");
        format!("{whole}.{} WAL", digits.trim_end_matches('0'))
    }
}

/// Progress bars on stderr for large blobs (hidden when stderr is not a terminal).
struct Bars {
    bars: Mutex<Vec<(Phase, ProgressBar)>>,
}

/// Blobs smaller than this get no bars.
const BAR_THRESHOLD: u64 = 4 << 20;

impl Progress for Bars {
    fn start(&self, phase: Phase, total: u64) {
        if total < BAR_THRESHOLD || !std::io::stderr().is_terminal() {
            return;
        }
        let (label, style) = match phase {
            Phase::Encode => ("encoding", "{spinner} {msg} {elapsed}"),
            Phase::Upload => (
                "uploading",
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            ),
            Phase::Download => (
                "downloading",
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            ),
        };
        let bar = ProgressBar::new(total)
            .with_style(
                ProgressStyle::with_template(style)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
            .with_message(label);
        if phase == Phase::Encode {
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
        }
        self.bars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((phase, bar));
    }

    fn advance(&self, phase: Phase, amount: u64) {
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bar)) = bars.iter().find(|(p, _)| *p == phase) {
            bar.inc(amount);
        }
    }

    fn finish(&self, phase: Phase) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = bars.iter().position(|(p, _)| *p == phase) {
            bars.remove(index).1.finish_and_clear();
        }
    }
}

fn client(config: Option<&Path>, json: bool) -> anyhow::Result<Client> {
    let config: ClientConfig = find_config(config)?;
    // Several CLIs on one wallet take turns for each transaction's nonce.
    let lock = config.wallet.as_ref().map(|wallet| {
        let mut path = wallet.clone().into_os_string();
        path.push(".lock");
        std::path::PathBuf::from(path)
    });
    let client = Client::new(config)?;
    let client = match lock {
        Some(path) => client.with_wallet_lock(path),
        None => client,
    };
    Ok(if json {
        client
    } else {
        client.with_progress(Arc::new(Bars {
            bars: Mutex::new(Vec::new()),
        }))
    })
}

fn print(json: bool, value: &Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// Runs one client command.
///
/// # Errors
/// Whatever the operation reports, with context.
pub async fn run(command: ClientCommand, config: Option<&Path>, json: bool) -> anyhow::Result<()> {
    match command {
        ClientCommand::Store(args) => store(&client(config, json)?, &args, json).await,
        ClientCommand::Read(args) => read(&client(config, json)?, &args, json).await,
        ClientCommand::BlobStatus(args) => blob_status(&client(config, json)?, &args, json).await,
        ClientCommand::Audit(args) => crate::audit::run(&client(config, json)?, &args, json).await,
        ClientCommand::ListBlobs(_) => list_blobs(&client(config, json)?, json).await,
        ClientCommand::Delete(args) => delete(&client(config, json)?, &args, json).await,
        ClientCommand::Extend(args) => {
            let end_epoch = client(config, json)?
                .extend(args.object_id, args.epochs)
                .await?;
            print(
                json,
                &json!({ "objectId": args.object_id, "endEpoch": end_epoch }),
                || {
                    format!(
                        "Extended {}: now stored until epoch {end_epoch} (exclusive)",
                        args.object_id
                    )
                },
            );
            Ok(())
        }
        ClientCommand::Info(_) => info(&client(config, json)?, json).await,
        ClientCommand::Health(_) => health(&client(config, json)?, json).await,
        ClientCommand::GetWal(args) => {
            let client = client(config, json)?;
            let amount = parse_wal(&args.amount)?;
            client.get_wal(amount).await?;
            let balance = client.balance().await?;
            print(
                json,
                &json!({ "minted": amount, "balance": balance }),
                || format!("Received {}; balance {}", wal(amount), wal(balance)),
            );
            Ok(())
        }
        ClientCommand::Stake(args) => {
            let amount = parse_wal(&args.amount)?;
            let staked = client(config, json)?.stake(args.node_id, amount).await?;
            print(
                json,
                &json!({ "stakedWalId": staked, "nodeId": args.node_id, "amount": amount }),
                || {
                    format!(
                        "Staked {} with node {}: StakedWal {staked}",
                        wal(amount),
                        args.node_id
                    )
                },
            );
            Ok(())
        }
        ClientCommand::RequestWithdrawStake(args) => {
            client(config, json)?
                .request_withdraw_stake(args.staked_wal_id)
                .await?;
            print(
                json,
                &json!({ "stakedWalId": args.staked_wal_id, "requested": true }),
                || format!("Withdrawal of {} requested", args.staked_wal_id),
            );
            Ok(())
        }
        ClientCommand::WithdrawStake(args) => {
            let client = client(config, json)?;
            client.withdraw_stake(args.staked_wal_id).await?;
            let balance = client.balance().await?;
            print(
                json,
                &json!({ "stakedWalId": args.staked_wal_id, "balance": balance }),
                || format!("Withdrew {}; balance {}", args.staked_wal_id, wal(balance)),
            );
            Ok(())
        }
        ClientCommand::Publisher(args) => {
            serve(client(config, true)?, &args, Role::Publisher).await
        }
        ClientCommand::Aggregator(args) => {
            serve(client(config, true)?, &args, Role::Aggregator).await
        }
        ClientCommand::Daemon(args) => serve(client(config, true)?, &args, Role::Daemon).await,
    }
}

async fn store(client: &Client, args: &StoreArgs, json: bool) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for path in &args.files {
        let blob =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if args.dry_run {
            let estimate = client.estimate(&blob, args.epochs).await?;
            let mut value = serde_json::to_value(&estimate)?;
            value["path"] = json!(path);
            if !json {
                println!(
                    "Dry run: {}\n  Blob ID:        {}\n  Unencoded size: {} bytes\n  Encoded size:   {} bytes ({} storage units)\n  Cost:           {} for {} epoch(s)",
                    path.display(),
                    estimate.blob_id,
                    estimate.unencoded_size,
                    estimate.encoded_size,
                    estimate.storage_units,
                    wal(estimate.cost),
                    estimate.epochs
                );
            }
            reports.push(value);
            continue;
        }
        let options = StoreOptions {
            epochs: args.epochs,
            deletable: !args.permanent,
            force: args.force,
        };
        let started = std::time::Instant::now();
        let outcome = client
            .store(blob, &options)
            .await
            .with_context(|| format!("storing {}", path.display()))?;
        let seconds = started.elapsed().as_secs_f64();
        let mut value = serde_json::to_value(&outcome)?;
        value["path"] = json!(path);
        if !json {
            let t = outcome.timings;
            match &outcome.result {
                StoreResult::NewlyCreated {
                    blob_object, cost, ..
                } => println!(
                    "Success: stored {}\n  Blob ID:        {}\n  Object ID:      {}\n  Unencoded size: {} bytes\n  Encoded size:   {} bytes\n  Cost:           {}\n  Stored until:   epoch {} (exclusive), {}\n  Took:           {seconds:.2} s (encode {} ms, register {} ms, upload {} ms, certify {} ms)",
                    path.display(),
                    outcome.blob_id,
                    blob_object.id,
                    outcome.unencoded_size,
                    outcome.encoded_size,
                    wal(*cost),
                    blob_object.storage.end_epoch,
                    if blob_object.deletable {
                        "deletable"
                    } else {
                        "permanent"
                    },
                    t.encode_ms,
                    t.register_ms,
                    t.upload_ms,
                    t.certify_ms
                ),
                StoreResult::AlreadyCertified { blob_id, end_epoch } => println!(
                    "Already certified: {}\n  Blob ID:      {blob_id}\n  Stored until: epoch {end_epoch} (exclusive)",
                    path.display()
                ),
            }
        }
        reports.push(value);
    }
    if json {
        println!("{}", Value::Array(reports));
    }
    Ok(())
}

async fn read(client: &Client, args: &ReadArgs, json: bool) -> anyhow::Result<()> {
    let check = if args.strict_consistency_check {
        ConsistencyCheck::Strict
    } else if args.skip_consistency_check {
        ConsistencyCheck::Skip
    } else {
        ConsistencyCheck::Default
    };
    let started = std::time::Instant::now();
    let blob = client.read(&args.blob_id, check).await?;
    let seconds = started.elapsed().as_secs_f64();
    match &args.out {
        Some(path) => {
            std::fs::write(path, &blob)
                .with_context(|| format!("cannot write {}", path.display()))?;
            print(
                json,
                &json!({ "blobId": args.blob_id, "out": path, "size": blob.len() }),
                || {
                    format!(
                        "Read blob {} ({} bytes) into {} in {seconds:.2} s",
                        args.blob_id,
                        blob.len(),
                        path.display()
                    )
                },
            );
        }
        None if json => {
            use base64::Engine;
            let data = base64::engine::general_purpose::STANDARD.encode(&blob);
            println!(
                "{}",
                json!({ "blobId": args.blob_id, "size": blob.len(), "blob": data })
            );
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&blob)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

async fn blob_status(client: &Client, args: &BlobStatusArgs, json: bool) -> anyhow::Result<()> {
    let blob_id = match (&args.blob_id, &args.file) {
        (Some(id), _) => *id,
        (None, Some(path)) => {
            let n = client.committee().await?.n_shards;
            let blob =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            *EncodingConfig::new(n)?
                .compute_metadata(&blob)
                .with_context(|| format!("encoding {}", path.display()))?
                .blob_id()
        }
        (None, None) => bail!("give a blob ID or --file"),
    };
    let status = client.blob_status(&blob_id).await?;
    let value = serde_json::to_value(&status)?;
    print(json, &value, || {
        let mut text = format!("Blob ID: {blob_id}\n");
        let certified = status.is_certified();
        let kind = match &status.status {
            NodeBlobStatus::Nonexistent => "nonexistent",
            NodeBlobStatus::Invalid {} => "invalid",
            NodeBlobStatus::Permanent { .. } => "permanent",
            NodeBlobStatus::Deletable { .. } => "deletable",
        };
        text += &format!("Status:  {kind}");
        if let Some(end_epoch) = status.end_epoch() {
            text += &format!(
                ", {}, stored until epoch {end_epoch} (exclusive)",
                if certified {
                    "certified"
                } else {
                    "not certified"
                }
            );
        }
        text += &format!(
            "\nReported by {} of {} shards ({} answered)",
            status.weight, status.n_shards, status.answered
        );
        text
    });
    Ok(())
}

async fn list_blobs(client: &Client, json: bool) -> anyhow::Result<()> {
    let blobs = client.list_blobs().await?;
    let values: Vec<Value> = blobs
        .iter()
        .map(|(id, blob)| {
            json!({
                "objectId": id,
                "blobId": blob.blob_id,
                "size": blob.size,
                "registeredEpoch": blob.registered_epoch,
                "certifiedEpoch": blob.certified_epoch,
                "endEpoch": blob.storage.end_epoch,
                "deletable": blob.deletable,
            })
        })
        .collect();
    print(json, &Value::Array(values), || {
        let mut text = format!(
            "{:<66} {:<43} {:>12} {:>9} {:>9} {}",
            "Object ID", "Blob ID", "Size", "Certified", "End epoch", "Deletable"
        );
        for (id, blob) in &blobs {
            let certified = blob
                .certified_epoch
                .map_or_else(|| "no".to_owned(), |e| e.to_string());
            text += &format!(
                "\n{id:<66} {:<43} {:>12} {certified:>9} {:>9} {}",
                blob.blob_id.to_string(),
                blob.size,
                blob.storage.end_epoch,
                blob.deletable
            );
        }
        if blobs.is_empty() {
            text += "\n(no blobs)";
        }
        text
    });
    Ok(())
}

async fn delete(client: &Client, args: &DeleteArgs, json: bool) -> anyhow::Result<()> {
    let objects = match (&args.object_id, &args.blob_id) {
        (Some(object), _) => vec![*object],
        (None, Some(blob_id)) => {
            let objects: Vec<ObjectId> = client
                .blob_objects(blob_id)
                .await?
                .into_iter()
                .filter(|(_, blob)| blob.deletable)
                .map(|(id, _)| id)
                .collect();
            if objects.is_empty() {
                bail!("the wallet owns no deletable Blob object for {blob_id}");
            }
            objects
        }
        (None, None) => bail!("give --object-id or --blob-id"),
    };
    for object in &objects {
        client.delete(*object).await?;
    }
    print(json, &json!({ "deleted": objects }), || {
        objects
            .iter()
            .map(|o| format!("Deleted Blob object {o}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn info(client: &Client, json: bool) -> anyhow::Result<()> {
    let committee = client.committee().await?;
    let config = EncodingConfig::new(committee.n_shards)?;
    let max_blob = config.max_blob_size();
    let value = json!({
        "epoch": committee.epoch,
        "epochDurationMs": committee.epoch_duration_ms,
        "nShards": committee.n_shards,
        "nNodes": committee.members.len(),
        "maxBlobSize": max_blob,
        "storagePricePerUnitPerEpoch": committee.storage_price,
        "writePricePerUnit": committee.write_price,
        "storageUnitBytes": walrus_codec::BYTES_PER_UNIT,
        "maxEpochsAhead": committee.max_epochs_ahead,
        "members": committee.members.iter().map(|m| json!({
            "nodeId": m.node_id, "name": m.name, "networkAddress": m.network_address, "shards": m.shards.len(),
        })).collect::<Vec<_>>(),
    });
    print(json, &value, || {
        let mut text = format!(
            "Epoch {} (duration {})\n{} storage nodes, {} shards; quorum {} shards, validity {} shards\nMax blob size: {max_blob} bytes\nPrice: {} per MiB-unit per epoch + {} per unit to write\nStorage can be bought up to {} epochs ahead\n\nNodes:",
            committee.epoch,
            humantime::format_duration(std::time::Duration::from_millis(
                committee.epoch_duration_ms
            )),
            committee.members.len(),
            committee.n_shards,
            (0..=committee.n_shards)
                .find(|w| config.is_quorum(*w))
                .unwrap_or(0),
            (0..=committee.n_shards)
                .find(|w| config.is_validity(*w))
                .unwrap_or(0),
            wal(committee.storage_price),
            wal(committee.write_price),
            committee.max_epochs_ahead,
        );
        for member in &committee.members {
            text += &format!(
                "\n  {} {:<12} {:<22} {} shards",
                member.node_id,
                member.name,
                member.network_address,
                member.shards.len()
            );
        }
        text
    });
    Ok(())
}

async fn health(client: &Client, json: bool) -> anyhow::Result<()> {
    let nodes = client.health().await?;
    let healthy = nodes.iter().filter(|n| n.status.is_ok()).count();
    let value = json!({
        "healthy": healthy,
        "nodes": nodes.iter().map(|n| json!({
            "nodeId": n.node_id, "name": n.name, "networkAddress": n.network_address, "shards": n.shards,
            "status": match &n.status { Ok(v) => json!(v), Err(e) => json!({ "error": e }) },
        })).collect::<Vec<_>>(),
    });
    print(json, &value, || {
        let mut text = format!("{healthy} of {} storage nodes healthy", nodes.len());
        for node in &nodes {
            let state = match &node.status {
                Ok(v) => format!(
                    "ok: epoch {}, {} shards, {} blobs, {} checkpoints",
                    v.epoch, v.shard_summary.owned, v.stored_blobs, v.chain.checkpoints
                ),
                Err(e) => format!("DOWN: {e}"),
            };
            text += &format!("\n  {:<12} {:<22} {state}", node.name, node.network_address);
        }
        text
    });
    Ok(())
}

async fn serve(client: Client, args: &DaemonArgs, role: Role) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind_address)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind_address))?;
    let config = DaemonConfig {
        role,
        max_body_bytes: args.max_body_size,
        default_epochs: args.default_epochs,
        store_memory_budget: args.store_memory_budget,
        store_wait: std::time::Duration::from_secs(60),
    };
    let (address, server) =
        walrus_client::daemon::serve(client, config, listener, crate::chain::shutdown_signal())?;
    println!("listening on http://{address}");
    tracing::info!(%address, ?role, "serving");
    server.await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_amounts_parse_to_frost_and_print_back() {
        assert_eq!(parse_wal("1").expect("ok"), FROST_PER_WAL);
        assert_eq!(parse_wal("2.5").expect("ok"), 2_500_000_000);
        assert_eq!(parse_wal(".000000001").expect("ok"), 1);
        assert!(parse_wal("0.0000000001").is_err());
        assert!(parse_wal("abc").is_err());
        assert!(parse_wal("99999999999999999999").is_err());
        assert_eq!(wal(2_500_000_000), "2.5 WAL");
        assert_eq!(wal(3 * FROST_PER_WAL), "3 WAL");
    }
}
