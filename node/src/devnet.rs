//! `walrus devnet`: a whole local network on 127.0.0.1, one OS process per
//! service (the sequencer, each storage node, the indexer, the
//! publisher/aggregator daemon), all children of this process and stopped
//! with it.
//!
//! Layout of DIR (default `~/.walrus/devnet`):
//!
//! | path | |
//! |---|---|
//! | `genesis.json`, `keys.json` | the chain (keys are secret) |
//! | `settings.json` | ports and sizes chosen at creation, reused on resume |
//! | `chain/chain.db` | the checkpoint log |
//! | `nodes/node-I/config.toml`, `nodes/node-I/slivers.db` (index), `nodes/node-I/slivers.db-slivers/` (sliver files) | storage node I |
//! | `indexer/index.db` | the indexer's SQLite index |
//! | `wallet.yaml`, `client_config.yaml` | the funded wallet and the CLI's configuration |
//! | `devnet.json` | URL and process ID of every running service, for scripts |
//! | `logs/*.log` | each service's output |
//!
//! Default ports: chain 9100, storage nodes 9101.., their metrics 9201..,
//! indexer and explorer 9300, publisher/aggregator 31415.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
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
    /// Port of the chain API.
    #[arg(long, default_value_t = 9100)]
    pub chain_port: u16,
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
    /// Service name (`chain`, `node-0`, ..., `daemon`).
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
    /// The sequencer.
    pub chain: Service,
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
    let (_, secrets) = crate::chain::write_genesis(&spec, dir)?;
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

/// A child process and how to reach it.
struct Running {
    service: Service,
    child: Child,
    exited: bool,
}

fn spawn(dir: &Path, name: &str, args: &[String], url: String) -> anyhow::Result<Running> {
    let exe = std::env::current_exe().context("cannot find the walrus executable")?;
    let log_path = dir.join("logs").join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    Ok(Running {
        service: Service {
            name: name.to_owned(),
            url,
            pid: child.id(),
            log: log_path,
            metrics_url: None,
        },
        child,
        exited: false,
    })
}

/// Polls `url` until it answers 200, the child exits, or 60 s pass.
async fn wait_ready(
    http: &reqwest::Client,
    running: &mut Running,
    path: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("{}{path}", running.service.url);
    loop {
        if let Ok(response) = http.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if let Some(status) = running.child.try_wait()? {
            bail!(
                "{} exited during start-up ({status}); see {}",
                running.service.name,
                running.service.log.display()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{} not ready after 60 s; see {}",
                running.service.name,
                running.service.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends SIGTERM to every child still running, waits up to 10 s, then SIGKILLs.
fn stop_all(children: &mut [Running]) {
    use nix::{sys::signal, unistd::Pid};
    for running in children.iter_mut().rev() {
        if let Ok(pid) = i32::try_from(running.child.id()) {
            let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for running in children.iter_mut() {
        loop {
            match running.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = running.child.kill();
                    let _ = running.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// Writes a line to stderr, ignoring a closed stderr (like the summary on stdout).
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
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
    let chain_url = format!("http://{}", local(args.chain_port));
    let daemon_url = format!("http://{}", local(args.daemon_port));
    let indexer_url = format!("http://{}", local(args.indexer_port));

    // The client configuration points at this run's ports.
    let client_config_path = dir.join(CONFIG_FILE_NAME);
    ClientConfig {
        chain_url: chain_url.clone(),
        wallet: Some(PathBuf::from("wallet.yaml")),
        publisher_url: Some(daemon_url.clone()),
        indexer_url: Some(indexer_url.clone()),
        genesis: Some(PathBuf::from("genesis.json")),
        communication: CommunicationConfig::default(),
    }
    .save(&client_config_path)?;
    let wallet: WalletFile =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.join("wallet.yaml"))?)?;

    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let mut children: Vec<Running> = Vec::new();
    let result = start_services(
        &dir,
        args,
        &settings,
        &chain_url,
        &daemon_url,
        &indexer_url,
        &client_config_path,
        &http,
        &mut children,
    )
    .await;
    if let Err(error) = result {
        stop_all(&mut children);
        return Err(error);
    }
    let devnet = DevnetFile {
        dir: dir.clone(),
        client_config: client_config_path.clone(),
        wallet_address: wallet.address.to_string(),
        chain: children[0].service.clone(),
        nodes: children[1..=settings.nodes]
            .iter()
            .map(|r| r.service.clone())
            .collect(),
        indexer: children[settings.nodes + 1].service.clone(),
        daemon: children[settings.nodes + 2].service.clone(),
        supervisor_pid: std::process::id(),
    };
    let devnet_path = dir.join("devnet.json");
    let temporary = dir.join("devnet.json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(&devnet)?)?;
    std::fs::rename(&temporary, &devnet_path)?;

    let seconds = started.elapsed().as_secs_f64();
    // Scripts may stop reading after the ready line: a closed stdout must
    // not stop the devnet, so the summary is written once, errors ignored.
    let mut summary = String::new();
    macro_rules! say {
        ($($arg:tt)*) => {{
            summary.push_str(&format!($($arg)*));
            summary.push('\n');
        }};
    }
    if json {
        say!("{}", serde_json::to_string(&devnet)?);
    } else {
        let config_flag = if args.dir.is_none() {
            String::new()
        } else {
            format!(" --config {}", client_config_path.display())
        };
        say!(
            "Devnet ready in {seconds:.1} s ({}): {} storage nodes, {} shards, epochs of {}",
            if resumed { "resumed" } else { "created" },
            settings.nodes,
            settings.n_shards,
            humantime::format_duration(Duration::from_millis(settings.epoch_duration_ms))
        );
        say!(
            "  chain:      {} (pid {})",
            devnet.chain.url,
            devnet.chain.pid
        );
        for node in &devnet.nodes {
            say!(
                "  {:<11} {} (pid {}, metrics {})",
                format!("{}:", node.name),
                node.url,
                node.pid,
                node.metrics_url.as_deref().unwrap_or("-")
            );
        }
        say!(
            "  indexer:    {} (explorer page; pid {})",
            devnet.indexer.url,
            devnet.indexer.pid
        );
        say!(
            "  publisher/aggregator: {} (pid {})",
            devnet.daemon.url,
            devnet.daemon.pid
        );
        say!(
            "  wallet:     {} (1,000,000 WAL at creation)",
            wallet.address
        );
        say!(
            "  files:      {} (logs in logs/, services in devnet.json)",
            dir.display()
        );
        say!("");
        say!("Try:");
        say!("  walrus{config_flag} store README.md --epochs 2");
        say!("  walrus{config_flag} read BLOB_ID --out copy");
        say!("  walrus{config_flag} blob-status BLOB_ID");
        say!("  walrus{config_flag} health");
        say!("  walrus{config_flag} audit BLOB_ID");
        say!("  open {indexer_url}/?q=BLOB_ID");
        say!("  curl -X PUT --data-binary @README.md '{daemon_url}/v1/blobs?epochs=2'");
        say!("  curl {daemon_url}/v1/blobs/BLOB_ID");
        say!("Ctrl-C stops every service; run the same command again to resume.");
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(summary.as_bytes())
            .and_then(|()| stdout.flush());
    }

    // Supervise: report children that exit; the others keep running.
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let stop = crate::chain::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => {
                for running in children.iter_mut().filter(|r| !r.exited) {
                    if let Ok(Some(status)) = running.child.try_wait() {
                        running.exited = true;
                        report!("{} (pid {}) exited: {status}; the others keep running (see {})", running.service.name, running.service.pid, running.service.log.display());
                    }
                }
            }
        }
    }
    report!("stopping the devnet...");
    stop_all(&mut children);
    let _ = std::fs::remove_file(&devnet_path);
    report!("devnet stopped; data kept in {}", dir.display());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn start_services(
    dir: &Path,
    args: &Args,
    settings: &Settings,
    chain_url: &str,
    daemon_url: &str,
    indexer_url: &str,
    client_config: &Path,
    http: &reqwest::Client,
    children: &mut Vec<Running>,
) -> anyhow::Result<()> {
    let path = |p: &Path| p.display().to_string();
    std::fs::create_dir_all(dir.join("chain"))?;
    let mut chain = spawn(
        dir,
        "chain",
        &[
            "chain".into(),
            "run".into(),
            "--genesis".into(),
            path(&dir.join("genesis.json")),
            "--db".into(),
            path(&dir.join("chain").join("chain.db")),
            "--listen".into(),
            local(args.chain_port).to_string(),
            // One machine, few clients: short batches keep a store's two
            // transactions (register, certify) quick.
            "--batch-interval".into(),
            "5ms".into(),
        ],
        chain_url.to_owned(),
    )?;
    let ready = wait_ready(http, &mut chain, "/v1/health").await;
    children.push(chain);
    ready?;

    for index in 0..settings.nodes {
        let node_dir = dir.join("nodes").join(format!("node-{index}"));
        let config_path = node_dir.join("config.toml");
        let mut file: NodeFile = toml::from_str(&std::fs::read_to_string(&config_path)?)
            .with_context(|| format!("invalid {}", config_path.display()))?;
        // The chain and metrics ports may differ between runs.
        file.chain_url = chain_url.to_owned();
        let metrics_port = usize::from(args.metrics_port) + index;
        file.metrics_listen = u16::try_from(metrics_port).ok().map(local);
        crate::storage_node::write_private(&config_path, &toml::to_string_pretty(&file)?)?;
        let name = format!("node-{index}");
        let mut running = spawn(
            dir,
            &name,
            &[
                "node".into(),
                "run".into(),
                "--config".into(),
                path(&config_path),
            ],
            format!("http://{}", file.listen),
        )?;
        running.service.metrics_url = file.metrics_listen.map(|a| format!("http://{a}/metrics"));
        children.push(running);
    }
    for index in 0..settings.nodes {
        wait_ready(http, &mut children[index + 1], "/v1/health").await?;
    }

    std::fs::create_dir_all(dir.join("indexer"))?;
    let mut indexer = spawn(
        dir,
        "indexer",
        &[
            "indexer".into(),
            "run".into(),
            "--genesis".into(),
            path(&dir.join("genesis.json")),
            "--chain-url".into(),
            chain_url.to_owned(),
            "--db".into(),
            path(&dir.join("indexer").join("index.db")),
            "--listen".into(),
            local(args.indexer_port).to_string(),
        ],
        indexer_url.to_owned(),
    )?;
    let ready = wait_ready(http, &mut indexer, "/v1/health").await;
    children.push(indexer);
    ready?;

    let mut daemon = spawn(
        dir,
        "daemon",
        &[
            "--config".into(),
            path(client_config),
            "daemon".into(),
            "--bind-address".into(),
            local(args.daemon_port).to_string(),
        ],
        daemon_url.to_owned(),
    )?;
    let ready = wait_ready(http, &mut daemon, "/v1/health").await;
    children.push(daemon);
    ready
}
