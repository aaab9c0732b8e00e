//! `walrus node keygen`, `walrus node config` and `walrus node run`: a
//! storage node's keys, its configuration file (TOML) and the process.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use walrus_contracts::ledger::transaction::address_of;
use walrus_contracts::{Genesis, ObjectId, parse_hex};
use walrus_runtime::storage::{self, NodeConfig};
use walrus_types::{RetryPolicy, genesis_file};

/// `walrus node ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a BLS key and an operator key for a new storage node.
    Keygen(KeygenArgs),
    /// Write the configuration of a genesis node from `walrus chain genesis` keys.
    Config(ConfigArgs),
    /// Run a storage node.
    Run(RunArgs),
}

/// The configuration file of a storage node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeFile {
    /// The node's ID on chain (its staking pool).
    pub node_id: ObjectId,
    /// BLS secret key, 64 hex digits. Keep this file private.
    pub bls_secret: String,
    /// Operator's ed25519 secret key, 64 hex digits.
    pub operator_secret: String,
    /// Where the sliver store lives.
    pub data_dir: PathBuf,
    /// Address of the node API.
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics (`/metrics`); none to disable.
    pub metrics_listen: Option<SocketAddr>,
    /// The chain API.
    pub chain_url: String,
    /// The chain's genesis file.
    pub genesis: PathBuf,
    /// Largest request body in bytes (default 1 GiB).
    pub max_body_bytes: Option<u64>,
    /// Follow a single sequencer (`walrus chain run` without `--keys`),
    /// whose checkpoints carry no block certificates. By default a
    /// checkpoint is applied only once the validators certified it.
    #[serde(default)]
    pub uncertified_chain: bool,
}

/// Arguments of `walrus node keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// File to write the keys to (TOML).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `walrus node config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The `keys.json` written by `walrus chain genesis`.
    #[arg(long)]
    pub keys: PathBuf,
    /// The node's index in the genesis.
    #[arg(long)]
    pub index: usize,
    /// The genesis file.
    #[arg(long)]
    pub genesis: PathBuf,
    /// Data directory.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// API address.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Metrics address.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// The chain API.
    #[arg(long, default_value = "http://127.0.0.1:9100")]
    pub chain_url: String,
    /// The chain is a single sequencer (`walrus chain run` without
    /// `--keys`): follow it without block certificates.
    #[arg(long)]
    pub uncertified_chain: bool,
    /// Where to write the configuration (TOML).
    #[arg(long)]
    pub out: PathBuf,
}

/// Arguments of `walrus node run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long)]
    pub config: PathBuf,
}

pub(crate) fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(())
}

/// Runs `walrus node keygen`.
///
/// # Errors
/// No OS randomness, or the file cannot be written.
pub fn keygen(args: &KeygenArgs, json: bool) -> anyhow::Result<()> {
    let mut ikm = [0u8; 32];
    getrandom::fill(&mut ikm).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let bls = blst::min_pk::SecretKey::key_gen(&ikm, &[])
        .map_err(|e| anyhow::anyhow!("BLS key generation: {e:?}"))?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let operator = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public_key = hex::encode(bls.sk_to_pk().to_bytes());
    let address = address_of(&operator.verifying_key()).to_string();
    let text = format!(
        "# Storage node keys. Keep this file private.\nbls_secret = \"{}\"\noperator_secret = \"{}\"\n# bls_public_key = \"{public_key}\"\n# operator_address = \"{address}\"\n",
        hex::encode(bls.to_bytes()),
        hex::encode(operator.as_bytes())
    );
    write_private(&args.out, &text)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "keys": args.out, "blsPublicKey": public_key, "operatorAddress": address })
        );
    } else {
        println!("Keys written to {} (private)", args.out.display());
        println!("BLS public key:   {public_key}");
        println!("Operator address: {address}");
    }
    Ok(())
}

/// Runs `walrus node config`.
///
/// # Errors
/// Unreadable keys or an index out of range.
pub fn config(args: &ConfigArgs) -> anyhow::Result<()> {
    let keys: crate::chain::KeysFile = serde_json::from_str(
        &std::fs::read_to_string(&args.keys)
            .with_context(|| format!("cannot read {}", args.keys.display()))?,
    )
    .with_context(|| format!("{} is not a keys file", args.keys.display()))?;
    let node = keys
        .nodes
        .get(args.index)
        .with_context(|| format!("no node {} in {}", args.index, args.keys.display()))?;
    let file = NodeFile {
        node_id: Genesis::node_id(args.index),
        bls_secret: node.bls_secret.clone(),
        operator_secret: node.operator_secret.clone(),
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        chain_url: args.chain_url.clone(),
        genesis: args.genesis.clone(),
        max_body_bytes: None,
        uncertified_chain: args.uncertified_chain,
    };
    write_private(&args.out, &toml::to_string_pretty(&file)?)?;
    println!("Node configuration written to {}", args.out.display());
    Ok(())
}

/// Runs `walrus node run` until Ctrl-C or SIGTERM.
///
/// # Errors
/// A bad configuration, an unusable store, or a port that cannot be bound.
pub async fn run(args: &RunArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let file: NodeFile = toml::from_str(&text)
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    std::fs::create_dir_all(&file.data_dir)
        .with_context(|| format!("cannot create {}", file.data_dir.display()))?;
    let bls_secret = parse_hex(&file.bls_secret)
        .context("bls_secret must be 64 hex digits")?
        .to_vec();
    let operator =
        parse_hex(&file.operator_secret).context("operator_secret must be 64 hex digits")?;
    let config = NodeConfig {
        node_id: file.node_id,
        bls_secret,
        operator_key: ed25519_dalek::SigningKey::from_bytes(&operator),
        db_path: file.data_dir.join("slivers.db"),
        chain_url: file.chain_url.clone(),
        genesis: genesis_file::load(&file.genesis)?,
        certified_chain: !file.uncertified_chain,
        max_body_bytes: file.max_body_bytes.unwrap_or(1 << 30),
        registration_wait: Duration::from_secs(10),
        retry: RetryPolicy::default(),
        scrub: storage::scrub::ScrubConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(file.listen)
        .await
        .with_context(|| format!("cannot listen on {}", file.listen))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let running = storage::start(config, listener, wait(stopped.clone()))?;
    if let Some(address) = file.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let (metrics_address, _) = storage::metrics::serve(
            running.shared.metrics.clone(),
            metrics_listener,
            wait(stopped.clone()),
        )?;
        tracing::info!(%metrics_address, "metrics serving");
    }
    println!("listening on http://{}", running.address);
    tracing::info!(address = %running.address, node_id = %file.node_id, "storage node serving");
    let follower = running.follower;
    tokio::select! {
        () = crate::chain::shutdown_signal() => {}
        result = follower => {
            let _ = stop.send(true);
            return match result {
                Ok(stop) => Err(anyhow::Error::from(stop).context("the chain follower stopped")),
                Err(panic) => Err(anyhow::anyhow!("the chain follower panicked: {panic}")),
            };
        }
    }
    let _ = stop.send(true);
    running.server.await?;
    tracing::info!("storage node stopped");
    Ok(())
}
