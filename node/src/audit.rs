//! `walrus audit BLOB_ID`: prints what `walrus_client::audit` found.

use anyhow::Context;
use walrus_client::{
    Client,
    audit::{AuditMode, AuditReport, Verdict},
};

use crate::client_args::AuditArgs;

/// Runs `walrus audit` and prints the verdict with its evidence.
///
/// # Errors
/// No genesis file, an unreachable chain, or a chain that does not verify.
pub async fn run(client: &Client, args: &AuditArgs, json: bool) -> anyhow::Result<()> {
    let genesis_path = args
        .genesis
        .clone()
        .or_else(|| client.config().genesis.clone())
        .context("the audit needs the chain's genesis.json: pass --genesis FILE")?;
    let genesis = walrus_types::genesis_file::load(&genesis_path)?;
    let indexer = if args.no_indexer {
        None
    } else {
        client.config().indexer_url.as_deref()
    };
    let mode = if args.full {
        AuditMode::Full
    } else {
        AuditMode::Light
    };
    let report =
        walrus_client::audit::audit(client.chain(), &genesis, &args.blob_id, indexer, mode).await?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_summary(&report, &genesis_path);
    print_evidence(&report);
    Ok(())
}

fn print_summary(report: &AuditReport, genesis_path: &std::path::Path) {
    let verdict = match &report.verdict {
        Verdict::Certified {
            end_epoch,
            deletable,
        } => format!(
            "CERTIFIED until epoch {end_epoch} (exclusive; {})",
            if *deletable { "deletable" } else { "permanent" }
        ),
        Verdict::Registered => "REGISTERED, not certified".to_owned(),
        Verdict::Expired => "EXPIRED".to_owned(),
        Verdict::Deleted => "DELETED".to_owned(),
        Verdict::Invalid => "INVALID (inconsistent encoding)".to_owned(),
        Verdict::Unknown => "UNKNOWN to the chain".to_owned(),
    };
    let certificates = if report.certificates_valid {
        "every certificate verifies"
    } else {
        "A CERTIFICATE DOES NOT VERIFY"
    };
    println!("Blob {}: {verdict}; {certificates}", report.blob_id);
    let tip = report
        .tip_checkpoint
        .map_or_else(|| "genesis".to_owned(), |c| format!("checkpoint {c}"));
    match report.mode {
        AuditMode::Full => println!(
            "Chain verified by re-executing {} checkpoints from genesis {} (file {}) to {tip} \
             {} (epoch {})",
            report.checkpoints_verified,
            report.genesis_digest,
            genesis_path.display(),
            report.tip_digest,
            report.epoch
        ),
        AuditMode::Light => println!(
            "Chain verified from genesis {} (file {}) without re-execution: committees of {} \
             epochs, {} checkpoints against block certificates, {} state proofs against \
             {tip} {} (epoch {}); --full re-executes every checkpoint",
            report.genesis_digest,
            genesis_path.display(),
            report.epochs_verified,
            report.block_certificates_verified,
            report.state_proofs_verified,
            report.tip_digest,
            report.epoch
        ),
    }
    let tip_time =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(report.tip_timestamp_ms);
    let age = std::time::SystemTime::now()
        .duration_since(tip_time)
        .map(|d| std::time::Duration::from_secs(d.as_secs()))
        .unwrap_or_default();
    println!(
        "Tip written at {} ({} ago; a chain endpoint could withhold newer checkpoints)",
        humantime::format_rfc3339_millis(tip_time),
        humantime::format_duration(age)
    );
    println!("{}", describe_tip_certificate(report));
}

fn describe_tip_certificate(report: &AuditReport) -> String {
    let Some(tip) = &report.tip_certificate else {
        return "Checkpoints not certified: this chain is a single sequencer (no validator certificates)".to_owned();
    };
    let checkpoint = tip
        .checkpoint
        .map_or_else(|| "genesis".to_owned(), |c| format!("checkpoint {c}"));
    if tip.valid {
        format!(
            "Certified: {checkpoint}, by the commit certificate of block {}: {} of {} validators signed ({} shards, a quorum)",
            tip.height, tip.signers, tip.validators, tip.signer_shards
        )
    } else {
        format!(
            "CERTIFICATE OF {checkpoint} (block {}) DOES NOT VERIFY: {}",
            tip.height,
            tip.error.as_deref().unwrap_or("unknown")
        )
    }
}

fn print_evidence(report: &AuditReport) {
    println!("Evidence ({} events):", report.evidence.len());
    for event in &report.evidence {
        println!(
            "  checkpoint {} ({}) tx {} from {}: {}{}",
            event.checkpoint,
            event.checkpoint_digest,
            event.tx_digest,
            event.sender,
            event.kind,
            event
                .object_id
                .map(|o| format!(" of object {o}"))
                .unwrap_or_default()
        );
        if let Some(check) = &event.certificate {
            println!(
                "    certificate of epoch {}: {} of {} members, {} of {} shards ({} needed): {}",
                check.epoch,
                check.signers.len(),
                check.committee_size,
                check.signer_shards,
                check.n_shards,
                check.threshold,
                match &check.error {
                    None => "aggregate signature valid".to_owned(),
                    Some(error) => format!("INVALID: {error}"),
                }
            );
        }
    }
    if !report.pending_checkpoints.is_empty() {
        println!(
            "Not yet certified, so not audited: checkpoints {:?} (newer than the certified tip)",
            report.pending_checkpoints
        );
    }
    match &report.indexer {
        None => println!("Indexer: not compared"),
        Some(comparison) if comparison.agrees => {
            println!("Indexer {}: agrees with the chain", comparison.url);
        }
        Some(comparison) => {
            println!("Indexer {}: DISAGREES with the chain:", comparison.url);
            for difference in &comparison.differences {
                println!("  {difference}");
            }
        }
    }
}
