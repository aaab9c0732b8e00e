//! `walrus chain genesis` and `walrus chain run`: create a chain and run a
//! validator of it (or, without `--keys`, the single sequencer) as a process.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use walrus_contracts::{
    ledger::{
        genesis::{GenesisConfig, GenesisSecrets, GenesisSpec},
        transaction::address_of,
    },
    money::FROST_PER_WAL,
};
use walrus_runtime::{
    chain::{
        api,
        sequencer::{Sequencer, SequencerConfig},
    },
    consensus::{
        Fault, Settings,
        validator::{self, ValidatorConfig},
    },
};
use walrus_types::{genesis_file, now_ms};

/// `walrus chain ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a genesis (nodes, stake, funded accounts) and its keys.
    Genesis(GenesisArgs),
    /// Run a validator (or the single sequencer) and its HTTP API.
    Run(RunArgs),
}

/// Arguments of `walrus chain genesis`.
#[derive(Debug, clap::Args)]
pub struct GenesisArgs {
    /// Directory to write `genesis.json` and `keys.json` into.
    #[arg(long)]
    pub dir: PathBuf,
    /// Number of storage nodes.
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Number of shards.
    #[arg(long, default_value_t = 1000)]
    pub n_shards: u16,
    /// Epoch duration, e.g. `10m`, `30s`.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub epoch_duration: Duration,
    /// Number of funded accounts.
    #[arg(long, default_value_t = 1)]
    pub accounts: usize,
    /// WAL per funded account.
    #[arg(long, default_value_t = 1_000_000)]
    pub account_wal: u64,
    /// 64 hex digits; random if absent. The same seed gives the same keys.
    #[arg(long)]
    pub seed: Option<String>,
    /// The API address (`host:port`) of each node, in order; repeat the flag.
    #[arg(long = "node-address")]
    pub node_addresses: Vec<String>,
    /// Most WAL one faucet call mints; 0 (the default) leaves the faucet
    /// out, as on any network but a devnet.
    #[arg(long, default_value_t = 0)]
    pub faucet_wal: u64,
}

/// The secrets written next to the genesis (hex).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeysFile {
    /// Per node: BLS secret key, operator ed25519 secret key, operator address.
    pub nodes: Vec<NodeKeys>,
    /// Funded accounts: ed25519 secret key and address.
    pub accounts: Vec<AccountKeys>,
}

/// One node's keys.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeKeys {
    /// BLS12-381 secret key, hex.
    pub bls_secret: String,
    /// Operator's ed25519 secret key, hex.
    pub operator_secret: String,
    /// Operator's address.
    pub operator_address: String,
}

/// One account's keys.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountKeys {
    /// ed25519 secret key, hex.
    pub secret: String,
    /// The address.
    pub address: String,
}

/// Generates a genesis from `spec` and writes `DIR/genesis.json` and the
/// secret `DIR/keys.json` (mode 0600).
///
/// # Errors
/// Bad parameters or files that cannot be written.
///
/// `faucet_wal` is the most WAL one faucet call mints (0: no faucet).
pub fn write_genesis(
    spec: &GenesisSpec,
    faucet_wal: u64,
    dir: &std::path::Path,
) -> anyhow::Result<(GenesisConfig, GenesisSecrets)> {
    let (mut config, secrets) = spec.generate()?;
    config.genesis.params.faucet_max_frost = faucet_wal
        .checked_mul(FROST_PER_WAL)
        .context("--faucet-wal too large")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    genesis_file::save(&config, &dir.join("genesis.json"))?;
    let keys = KeysFile {
        nodes: secrets
            .nodes
            .iter()
            .map(|(bls, operator)| NodeKeys {
                bls_secret: hex::encode(bls),
                operator_secret: hex::encode(operator.as_bytes()),
                operator_address: address_of(&operator.verifying_key()).to_string(),
            })
            .collect(),
        accounts: secrets
            .accounts
            .iter()
            .map(|key| AccountKeys {
                secret: hex::encode(key.as_bytes()),
                address: address_of(&key.verifying_key()).to_string(),
            })
            .collect(),
    };
    crate::storage_node::write_private(
        &dir.join("keys.json"),
        &serde_json::to_string_pretty(&keys)?,
    )?;
    Ok((config, secrets))
}

/// Runs `walrus chain genesis`.
///
/// # Errors
/// Bad arguments or files that cannot be written.
pub fn genesis(args: &GenesisArgs, json: bool) -> anyhow::Result<()> {
    let seed = match &args.seed {
        Some(text) => walrus_contracts::parse_hex(text).context("--seed must be 64 hex digits")?,
        None => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
            seed
        }
    };
    let spec = GenesisSpec {
        n_nodes: args.nodes,
        n_shards: args.n_shards,
        epoch_duration_ms: u64::try_from(args.epoch_duration.as_millis())
            .context("epoch duration")?,
        n_accounts: args.accounts,
        account_balance: args
            .account_wal
            .checked_mul(FROST_PER_WAL)
            .context("--account-wal too large")?,
        start_ms: now_ms(),
        seed,
        network_addresses: args.node_addresses.clone(),
    };
    let (config, _) = write_genesis(&spec, args.faucet_wal, &args.dir)?;
    let genesis_path = args.dir.join("genesis.json");
    let keys_path = args.dir.join("keys.json");
    let digest = hex::encode(config.digest());
    if json {
        println!(
            "{}",
            serde_json::json!({ "genesis": genesis_path, "keys": keys_path, "digest": digest })
        );
    } else {
        println!("Genesis:        {}", genesis_path.display());
        println!("Keys (secret!): {}", keys_path.display());
        println!("Genesis digest: {digest}");
    }
    Ok(())
}

/// Arguments of `walrus chain run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The genesis file.
    #[arg(long)]
    pub genesis: PathBuf,
    /// The SQLite file of the checkpoint log (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,
    /// How long to gather transactions into one checkpoint, e.g. `20ms`.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    pub batch_interval: Duration,
    /// Run as a validator of the replicated control plane with the BLS key
    /// of node `--node-index` in this `keys.json` (from `walrus chain
    /// genesis`). Without it, this process orders transactions alone (the
    /// single sequencer, for tests and benchmarks).
    #[arg(long, requires = "node_index")]
    pub keys: Option<PathBuf>,
    /// Which node of `--keys` this validator is.
    #[arg(long, requires = "keys")]
    pub node_index: Option<usize>,
    /// Where the consensus engine listens for the other validators (TCP).
    #[arg(long, default_value = "127.0.0.1:27000")]
    pub p2p_listen: SocketAddr,
    /// Another validator's engine address (`host:port`); repeat the flag.
    #[arg(long = "peer")]
    pub peers: Vec<SocketAddr>,
    /// Another validator's API URL, to forward transactions to; repeat.
    #[arg(long = "peer-url")]
    pub peer_urls: Vec<String>,
    /// The engine's write-ahead log (default: the database path with
    /// `.consensus-wal` appended).
    #[arg(long)]
    pub wal: Option<PathBuf>,
    /// How long a proposer waits for a transaction before proposing an
    /// empty block.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub idle_block_interval: Duration,
    /// For tests only: make this validator Byzantine (`future-timestamp`,
    /// `invalid-transaction` or `equivocate`).
    #[arg(long, hide = true, requires = "keys")]
    pub byzantine: Option<Fault>,
}

/// The validator settings of `args`, if it runs as one.
fn validator_config(args: &RunArgs) -> anyhow::Result<Option<ValidatorConfig>> {
    let (Some(keys_path), Some(index)) = (&args.keys, args.node_index) else {
        return Ok(None);
    };
    let keys: KeysFile = serde_json::from_str(
        &std::fs::read_to_string(keys_path)
            .with_context(|| format!("cannot read {}", keys_path.display()))?,
    )
    .with_context(|| {
        format!(
            "{} is not a keys.json of `walrus chain genesis`",
            keys_path.display()
        )
    })?;
    let node = keys.nodes.get(index).with_context(|| {
        format!(
            "--node-index {index}: {} holds {} nodes",
            keys_path.display(),
            keys.nodes.len()
        )
    })?;
    let secret = hex::decode(&node.bls_secret)
        .ok()
        .and_then(|bytes| blst::min_pk::SecretKey::from_bytes(&bytes).ok())
        .with_context(|| {
            format!(
                "node {index}'s BLS secret in {} is malformed",
                keys_path.display()
            )
        })?;
    let mut wal = args.db.clone().into_os_string();
    wal.push(".consensus-wal");
    let settings = Settings {
        idle_block_interval: args.idle_block_interval,
        fault: args.byzantine,
        ..Settings::default()
    };
    Ok(Some(ValidatorConfig {
        secret,
        p2p_listen: args.p2p_listen,
        peers: args.peers.clone(),
        peer_urls: args.peer_urls.clone(),
        wal_path: args.wal.clone().unwrap_or_else(|| wal.into()),
        settings,
    }))
}

/// Runs `walrus chain run` until Ctrl-C or SIGTERM.
///
/// # Errors
/// The genesis or log cannot be used, or the address cannot be bound.
pub async fn run(args: &RunArgs) -> anyhow::Result<()> {
    let _lock = lock_database(&args.db)?;
    let genesis = genesis_file::load(&args.genesis)?;
    let mut config = SequencerConfig::new(genesis, args.db.clone());
    config.batch_interval = args.batch_interval;
    let (sequencer, _engine) = match validator_config(args)? {
        Some(validator) => {
            let (sequencer, engine) = validator::start(config, validator).await?;
            (sequencer, Some(engine))
        }
        None => (Sequencer::start(config).await?, None),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (address, server) = api::serve(sequencer.clone(), listener, shutdown_signal())?;
    // The first line of stdout names the address, for scripts and tests.
    println!("listening on http://{address}");
    tracing::info!(
        %address,
        checkpoints = sequencer.checkpoint_count(),
        validator = sequencer.is_validator(),
        "chain service serving"
    );
    tokio::select! {
        result = server => result?,
        error = sequencer.stopped() => anyhow::bail!("the chain service stopped: {error}"),
    }
    tracing::info!("sequencer stopped");
    Ok(())
}

/// Takes an exclusive lock on `<db>.lock`, held while the returned file
/// is open, so that a second process never appends to the same log.
fn lock_database(db: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut path = db.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create the lock file {}", path.display()))?;
    if file.try_lock().is_err() {
        anyhow::bail!(
            "another process is running on {}: stop it first, or pass another --db",
            db.display()
        );
    }
    Ok(file)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
