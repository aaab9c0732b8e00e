//! `walrus devnet`: a whole local network on 127.0.0.1, one OS process per
//! service (one control-plane validator per storage node, each storage
//! node, the indexer, the publisher/aggregator daemon), all children of
//! this process and stopped with it. Storage node I follows validator I,
//! as one operator would run both; clients, the indexer and the daemon use
//! validator 0 (`chain` in `devnet.json`).
//!
//! Layout of DIR (default `~/.walrus/devnet`):
//!
//! | path | |
//! |---|---|
//! | `genesis.json`, `keys.json` | the chain (keys are secret) |
//! | `settings.json` | ports and sizes chosen at creation, reused on resume |
//! | `chain/validator-I.db`, `chain/validator-I.db.consensus-wal` | validator I's checkpoint log and consensus write-ahead log |
//! | `nodes/node-I/config.toml`, `nodes/node-I/slivers.db` (index), `nodes/node-I/slivers.db-slivers/` (sliver files) | storage node I |
//! | `indexer/index.db` | the indexer's SQLite index |
//! | `wallet.yaml`, `client_config.yaml` | the funded wallet and the CLI's configuration |
//! | `devnet.json` | URL and process ID of every running service, for scripts |
//! | `logs/*.log` | each service's output |
//!
//! Default ports: validator 0's API 9100, the other validators' APIs
//! 9401.., the validators' consensus (libp2p) 9500.., storage nodes
//! 9101.., their metrics 9201.., indexer and explorer 9300,
//! publisher/aggregator 31415.

mod processes;
mod validators;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use walrus_client::{
    ClientConfig,
    config::{CONFIG_FILE_NAME, CommunicationConfig, WalletFile},
};
use walrus_contracts::ledger::genesis::GenesisSpec;
use walrus_contracts::{Genesis, money::FROST_PER_WAL};

use processes::{Running, spawn, stop_all, wait_ready};

use crate::storage_node::NodeFile;

/// Arguments of `walrus devnet`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of storage nodes (at creation).
    #[arg(long, default_value_t = 7)]
    pub nodes: usize,
    /// Number of shards (at creation).
    #[arg(long, default_value_t = 1000)]
    pub n_shards: u16,
    /// Epoch duration (at creation), e.g. `10m`, `30s`.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub epoch_duration: Duration,
    /// Directory of the devnet; an existing one is resumed with its data.
    /// Default `~/.walrus/devnet`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Port of the chain API (validator 0).
    #[arg(long, default_value_t = 9100)]
    pub chain_port: u16,
    /// Validator I > 0 serves its API on this + I.
    #[arg(long, default_value_t = 9400)]
    pub validator_port: u16,
    /// Validator I's consensus engine listens on this + I.
    #[arg(long, default_value_t = 9500)]
    pub p2p_port: u16,
    /// Port of the first storage node; node I uses this + I (at creation).
    #[arg(long, default_value_t = 9101)]
    pub node_port: u16,
    /// Port of the first node's metrics; node I uses this + I.
    #[arg(long, default_value_t = 9201)]
    pub metrics_port: u16,
    /// Port of the publisher/aggregator daemon.
    #[arg(long, default_value_t = 31415)]
    pub daemon_port: u16,
    /// Port of the indexer API and explorer page.
    #[arg(long, default_value_t = 9300)]
    pub indexer_port: u16,
}

/// What is fixed when a devnet is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Settings {
    nodes: usize,
    n_shards: u16,
    epoch_duration_ms: u64,
    node_port: u16,
}

/// One running service in `devnet.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Service name (`validator-0`, ..., `node-0`, ..., `indexer`, `daemon`).
    pub name: String,
    /// Its API.
    pub url: String,
    /// Its process ID.
    pub pid: u32,
    /// Its log file.
    pub log: PathBuf,
    /// Metrics endpoint (storage nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_url: Option<String>,
}

/// `devnet.json`: every service of a running devnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevnetFile {
    /// The devnet directory.
    pub dir: PathBuf,
    /// The client configuration to pass as `--config`.
    pub client_config: PathBuf,
    /// The wallet's address.
    pub wallet_address: String,
    /// The chain API clients use: validator 0.
    pub chain: Service,
    /// Every validator of the control plane, in node order.
    pub validators: Vec<Service>,
    /// The storage nodes.
    pub nodes: Vec<Service>,
    /// The publisher/aggregator daemon.
    pub daemon: Service,
    /// The indexer (API and explorer page).
    pub indexer: Service,
    /// The process ID of `walrus devnet` itself (send it SIGTERM to stop all).
    pub supervisor_pid: u32,
}

fn default_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set; pass --dir")?;
    Ok(PathBuf::from(home).join(".walrus/devnet"))
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Creates the devnet's files if DIR has no genesis yet; returns its settings.
fn create_or_load(args: &Args, dir: &Path) -> anyhow::Result<Settings> {
    let settings_path = dir.join("settings.json");
    if dir.join("genesis.json").is_file() {
        let settings: Settings = serde_json::from_slice(
            &std::fs::read(&settings_path)
                .with_context(|| format!("cannot read {}", settings_path.display()))?,
        )?;
        return Ok(settings);
    }
    let settings = Settings {
        nodes: args.nodes,
        n_shards: args.n_shards,
        epoch_duration_ms: u64::try_from(args.epoch_duration.as_millis())
            .context("epoch duration too long")?,
        node_port: args.node_port,
    };
    if args.nodes == 0 {
        bail!("--nodes must be at least 1");
    }
    let last_port = usize::from(args.node_port) + args.nodes;
    if last_port > usize::from(u16::MAX) {
        bail!(
            "--node-port {} leaves no room for {} nodes",
            args.node_port,
            args.nodes
        );
    }
    let network_addresses = (0..args.nodes)
        .map(|i| local(node_port(&settings, i)).to_string())
        .collect();
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    let spec = GenesisSpec {
        n_nodes: args.nodes,
        n_shards: args.n_shards,
        epoch_duration_ms: settings.epoch_duration_ms,
        n_accounts: 1,
        account_balance: 1_000_000 * FROST_PER_WAL,
        start_ms: walrus_types::now_ms(),
        seed,
        network_addresses,
    };
    // A devnet has a faucet (`walrus get-wal`): at most 1000 WAL a call.
    let (_, secrets) = crate::chain::write_genesis(&spec, 1000, dir)?;
    for (index, (bls, operator)) in secrets.nodes.iter().enumerate() {
        let node_dir = dir.join("nodes").join(format!("node-{index}"));
        std::fs::create_dir_all(&node_dir)
            .with_context(|| format!("cannot create {}", node_dir.display()))?;
        let file = NodeFile {
            node_id: Genesis::node_id(index),
            bls_secret: hex::encode(bls),
            operator_secret: hex::encode(operator.as_bytes()),
            data_dir: node_dir.clone(),
            listen: local(node_port(&settings, index)),
            metrics_listen: None,
            chain_url: String::new(),
            genesis: dir.join("genesis.json"),
            max_body_bytes: None,
            uncertified_chain: false,
        };
        crate::storage_node::write_private(
            &node_dir.join("config.toml"),
            &toml::to_string_pretty(&file)?,
        )?;
    }
    let wallet = WalletFile::of(
        secrets
            .accounts
            .first()
            .context("the genesis has a funded account")?,
    );
    crate::storage_node::write_private(
        &dir.join("wallet.yaml"),
        &serde_yaml_ng::to_string(&wallet)?,
    )?;
    std::fs::write(&settings_path, serde_json::to_string_pretty(&settings)?)?;
    Ok(settings)
}

fn node_port(settings: &Settings, index: usize) -> u16 {
    u16::try_from(usize::from(settings.node_port) + index).expect("checked at creation")
}

/// Writes a line to stderr, ignoring a closed stderr (like the summary on stdout).
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Where this run's services listen.
struct Urls {
    chain: String,
    daemon: String,
    indexer: String,
}

/// The running services, by role.
#[derive(Default)]
struct Services {
    validators: Vec<Running>,
    nodes: Vec<Running>,
    indexer: Option<Running>,
    daemon: Option<Running>,
}

impl Services {
    /// Every started service, in start order.
    fn all(&mut self) -> Vec<&mut Running> {
        let mut all: Vec<&mut Running> = self.validators.iter_mut().collect();
        all.extend(self.nodes.iter_mut());
        all.extend(self.indexer.iter_mut());
        all.extend(self.daemon.iter_mut());
        all
    }

    fn stop(&mut self) {
        stop_all(&mut self.all());
    }

    /// `devnet.json` of a devnet whose services all started.
    fn file(&self, dir: &Path, client_config: &Path, wallet: &WalletFile) -> Option<DevnetFile> {
        Some(DevnetFile {
            dir: dir.to_owned(),
            client_config: client_config.to_owned(),
            wallet_address: wallet.address.to_string(),
            chain: self.validators.first()?.service.clone(),
            validators: self.validators.iter().map(|r| r.service.clone()).collect(),
            nodes: self.nodes.iter().map(|r| r.service.clone()).collect(),
            indexer: self.indexer.as_ref()?.service.clone(),
            daemon: self.daemon.as_ref()?.service.clone(),
            supervisor_pid: std::process::id(),
        })
    }
}

/// Runs `walrus devnet` until Ctrl-C or SIGTERM.
///
/// # Errors
/// Files that cannot be written, ports in use, or a service that does not start.
pub async fn run(args: &Args, json: bool) -> anyhow::Result<()> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => default_dir()?,
    };
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let resumed = dir.join("genesis.json").is_file();
    let settings = create_or_load(args, &dir)?;
    let urls = Urls {
        chain: validators::failover_urls(args, &settings, 0),
        daemon: format!("http://{}", local(args.daemon_port)),
        indexer: format!("http://{}", local(args.indexer_port)),
    };
    let client_config = write_client_config(&dir, &urls)?;
    let wallet: WalletFile =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("wallet.yaml"))?)?;

    let started = Instant::now();
    let mut services = Services::default();
    let devnet =
        match start_services(&dir, args, &settings, &urls, &client_config, &mut services).await {
            Ok(()) => services
                .file(&dir, &client_config, &wallet)
                .context("a service is missing after start-up")?,
            Err(error) => {
                services.stop();
                return Err(error);
            }
        };
    let devnet_path = dir.join("devnet.json");
    let temporary = dir.join("devnet.json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(&devnet)?)?;
    std::fs::rename(&temporary, &devnet_path)?;

    let summary = if json {
        serde_json::to_string(&devnet)? + "\n"
    } else {
        let ready = Ready {
            seconds: started.elapsed().as_secs_f64(),
            resumed,
            settings: &settings,
            urls: &urls,
            config_flag: args.dir.is_some(),
        };
        ready.summary(&devnet)
    };
    {
        // Scripts may stop reading after the ready line: a closed stdout
        // must not stop the devnet, so the summary is written once, errors
        // ignored.
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(summary.as_bytes())
            .and_then(|()| stdout.flush());
    }
    supervise(&mut services).await;
    report!("stopping the devnet...");
    services.stop();
    let _ = std::fs::remove_file(&devnet_path);
    report!("devnet stopped; data kept in {}", dir.display());
    Ok(())
}

/// Writes the client configuration pointing at this run's ports.
fn write_client_config(dir: &Path, urls: &Urls) -> anyhow::Result<PathBuf> {
    let path = dir.join(CONFIG_FILE_NAME);
    ClientConfig {
        chain_url: urls.chain.clone(),
        wallet: Some(PathBuf::from("wallet.yaml")),
        publisher_url: Some(urls.daemon.clone()),
        indexer_url: Some(urls.indexer.clone()),
        genesis: Some(PathBuf::from("genesis.json")),
        communication: CommunicationConfig::default(),
    }
    .save(&path)?;
    Ok(path)
}

/// Reports services that exit (the others keep running) until Ctrl-C or
/// SIGTERM.
async fn supervise(services: &mut Services) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let stop = crate::chain::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {
                for running in services.all().into_iter().filter(|r| !r.exited) {
                    if let Ok(Some(status)) = running.child.try_wait() {
                        running.exited = true;
                        let service = &running.service;
                        report!("{} (pid {}) exited: {status}; the others keep running (see {})", service.name, service.pid, service.log.display());
                    }
                }
            }
        }
    }
}

/// What the ready summary says.
struct Ready<'a> {
    seconds: f64,
    resumed: bool,
    settings: &'a Settings,
    urls: &'a Urls,
    /// Whether commands need `--config` (a devnet outside the default dir).
    config_flag: bool,
}

impl Ready<'_> {
    /// The text printed once the devnet is ready.
    fn summary(&self, devnet: &DevnetFile) -> String {
        let (settings, urls) = (self.settings, self.urls);
        let config_flag = if self.config_flag {
            format!(" --config {}", devnet.client_config.display())
        } else {
            String::new()
        };
        let mut lines = vec![format!(
            "Devnet ready in {:.1} s ({}): {} storage nodes, {} shards, epochs of {}",
            self.seconds,
            if self.resumed { "resumed" } else { "created" },
            settings.nodes,
            settings.n_shards,
            humantime::format_duration(Duration::from_millis(settings.epoch_duration_ms))
        )];
        for validator in &devnet.validators {
            let name = format!("{}:", validator.name);
            lines.push(format!(
                "  {name:<13} {} (pid {})",
                validator.url, validator.pid
            ));
        }
        for node in &devnet.nodes {
            let metrics = node.metrics_url.as_deref().unwrap_or("-");
            let name = format!("{}:", node.name);
            lines.push(format!(
                "  {name:<13} {} (pid {}, metrics {metrics})",
                node.url, node.pid
            ));
        }
        let (indexer, daemon) = (&devnet.indexer, &devnet.daemon);
        lines.extend([
            format!(
                "  indexer:    {} (explorer page; pid {})",
                indexer.url, indexer.pid
            ),
            format!(
                "  publisher/aggregator: {} (pid {})",
                daemon.url, daemon.pid
            ),
            format!(
                "  wallet:     {} (1,000,000 WAL at creation)",
                devnet.wallet_address
            ),
            format!(
                "  files:      {} (logs in logs/, services in devnet.json)",
                devnet.dir.display()
            ),
            String::new(),
            "Try:".to_owned(),
            format!("  walrus{config_flag} store README.md --epochs 2"),
            format!("  walrus{config_flag} read BLOB_ID --out copy"),
            format!("  walrus{config_flag} blob-status BLOB_ID"),
            format!("  walrus{config_flag} health"),
            format!("  walrus{config_flag} audit BLOB_ID"),
            format!("  open {}/?q=BLOB_ID", urls.indexer),
            format!(
                "  curl -X PUT --data-binary @README.md '{}/v1/blobs?epochs=2'",
                urls.daemon
            ),
            format!("  curl {}/v1/blobs/BLOB_ID", urls.daemon),
            "Ctrl-C stops every service; run the same command again to resume.".to_owned(),
        ]);
        lines.join("\n") + "\n"
    }
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// Starts the chain, the storage nodes, the indexer and the daemon, each
/// once the one before answers; every started service is in `services`
/// even on failure, so the caller can stop it.
async fn start_services(
    dir: &Path,
    args: &Args,
    settings: &Settings,
    urls: &Urls,
    client_config: &Path,
    services: &mut Services,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    validators::start(dir, args, settings, &mut services.validators)?;
    for validator in &mut services.validators {
        wait_ready(&http, validator, "/v1/health").await?;
    }
    for index in 0..settings.nodes {
        let chain_url = validators::failover_urls(args, settings, index);
        services
            .nodes
            .push(spawn_node(dir, args, index, &chain_url)?);
    }
    for node in &mut services.nodes {
        wait_ready(&http, node, "/v1/health").await?;
    }
    std::fs::create_dir_all(dir.join("indexer"))?;
    let indexer_args = [
        "indexer".into(),
        "run".into(),
        "--genesis".into(),
        path_arg(&dir.join("genesis.json")),
        "--chain-url".into(),
        urls.chain.clone(),
        "--db".into(),
        path_arg(&dir.join("indexer").join("index.db")),
        "--listen".into(),
        local(args.indexer_port).to_string(),
    ];
    let indexer =
        services
            .indexer
            .insert(spawn(dir, "indexer", &indexer_args, urls.indexer.clone())?);
    wait_ready(&http, indexer, "/v1/health").await?;
    let daemon_args = [
        "--config".into(),
        path_arg(client_config),
        "daemon".into(),
        "--bind-address".into(),
        local(args.daemon_port).to_string(),
    ];
    let daemon = services
        .daemon
        .insert(spawn(dir, "daemon", &daemon_args, urls.daemon.clone())?);
    wait_ready(&http, daemon, "/v1/health").await
}

/// Starts storage node `index` with this run's chain and metrics ports.
fn spawn_node(dir: &Path, args: &Args, index: usize, chain_url: &str) -> anyhow::Result<Running> {
    let node_dir = dir.join("nodes").join(format!("node-{index}"));
    let config_path = node_dir.join("config.toml");
    let mut file: NodeFile = toml::from_str(&std::fs::read_to_string(&config_path)?)
        .with_context(|| format!("invalid {}", config_path.display()))?;
    // The chain and metrics ports may differ between runs.
    file.chain_url = chain_url.to_owned();
    let metrics_port = usize::from(args.metrics_port) + index;
    file.metrics_listen = u16::try_from(metrics_port).ok().map(local);
    crate::storage_node::write_private(&config_path, &toml::to_string_pretty(&file)?)?;
    let node_args = [
        "node".into(),
        "run".into(),
        "--config".into(),
        path_arg(&config_path),
    ];
    let name = format!("node-{index}");
    let mut running = spawn(dir, &name, &node_args, format!("http://{}", file.listen))?;
    running.service.metrics_url = file.metrics_listen.map(|a| format!("http://{a}/metrics"));
    Ok(running)
}
