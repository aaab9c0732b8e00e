//! The replicated control plane across network namespaces: four
//! validators, each in a namespace of its own with its own address, joined
//! by veth pairs to a bridge, with `tc netem` adding 25 ms of delay on each
//! link where the kernel has netem. The test creates the namespaces and
//! removes them afterwards; it talks to the validators over the bridge. The
//! chain finalizes transactions, a blob is registered and certified and its
//! light audit verifies, and the chain goes on with one validator killed.
//! Needs root; where namespaces cannot be created it says so loudly and
//! does nothing else.

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use walrus_client::audit::{self, AuditMode, Verdict};
use walrus_contracts::{Address, Call, ledger::execution::Outcome};
use walrus_tests::validators::{self, GenesisArgs, Hosts, Network, store_blob, until};
use walrus_types::ChainClient;

const VALIDATORS: u16 = 4;

/// Runs `ip` or `tc` with `args`; the error names the command.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Namespaces `walrus-T-I` with address `10.231.S.(I+1)/24` on a bridge
/// `wbrT` (address `.254`), removed on drop.
struct Namespaces {
    tag: u32,
    subnet: String,
    names: Vec<String>,
    /// Whether netem delays each link.
    delayed: bool,
}

impl Namespaces {
    fn create(count: u16) -> Result<Self, String> {
        let tag = std::process::id() % 100_000;
        let mut namespaces = Self {
            tag,
            subnet: format!("10.231.{}", tag % 250),
            names: Vec::new(),
            delayed: true,
        };
        let bridge = format!("wbr{tag}");
        run("ip", &["link", "add", &bridge, "type", "bridge"])?;
        let address = format!("{}.254/24", namespaces.subnet);
        run("ip", &["addr", "add", &address, "dev", &bridge])?;
        run("ip", &["link", "set", &bridge, "up"])?;
        for index in 0..count {
            namespaces.add(index, &bridge)?;
        }
        Ok(namespaces)
    }

    fn add(&mut self, index: u16, bridge: &str) -> Result<(), String> {
        let name = format!("walrus-{}-{index}", self.tag);
        run("ip", &["netns", "add", &name])?;
        self.names.push(name.clone());
        let (outer, inner) = (
            format!("wv{}r{index}", self.tag),
            format!("wv{}n{index}", self.tag),
        );
        run(
            "ip",
            &[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &name,
            ],
        )?;
        run("ip", &["link", "set", &outer, "master", bridge, "up"])?;
        let address = format!("{}.{}/24", self.subnet, index + 1);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        inside(&["link", "set", "lo", "up"])?;
        inside(&["addr", "add", &address, "dev", &inner])?;
        inside(&["link", "set", &inner, "up"])?;
        let delay = [
            "netns", "exec", &name, "tc", "qdisc", "add", "dev", &inner, "root", "netem", "delay",
            "25ms",
        ];
        if let Err(error) = run("ip", &delay) {
            if self.delayed {
                eprintln!(
                    "NOTE: tc netem is unavailable on this kernel ({error}); the validators run \
                     in separate namespaces WITHOUT the 25 ms link delay"
                );
            }
            self.delayed = false;
        }
        Ok(())
    }

    fn hosts(&self) -> Hosts {
        Hosts::Namespaces(
            self.names
                .iter()
                .zip(1..)
                .map(|(name, i)| (name.clone(), format!("{}.{i}", self.subnet)))
                .collect(),
        )
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = run("ip", &["netns", "del", name]);
        }
        let _ = run("ip", &["link", "del", &format!("wbr{}", self.tag)]);
    }
}

async fn transfer(client: &ChainClient, key: &ed25519_dalek::SigningKey) -> Duration {
    let start = Instant::now();
    let call = Call::TransferWal {
        to: Address([5; 32]),
        amount: 1,
    };
    let response = client.execute(key, vec![call]).await.expect("ordered");
    assert!(
        matches!(response.outcome, Outcome::Success { .. }),
        "{response:?}"
    );
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_in_separate_namespaces_finalize() {
    let namespaces = match Namespaces::create(VALIDATORS) {
        Ok(namespaces) => namespaces,
        Err(error) => {
            eprintln!("SKIPPED: network namespaces cannot be created here ({error}); run as root");
            return;
        }
    };
    let dir = walrus_tests::fresh_dir(Path::new(env!("CARGO_TARGET_TMPDIR")), "netns");
    let args = GenesisArgs {
        nodes: VALIDATORS,
        n_shards: 100,
        epoch_duration: "1h",
        account_wal: 1_000_000,
    };
    let keys = validators::genesis(&dir, &args);
    let mut network = Network::start_on(&dir, VALIDATORS, namespaces.hosts());
    let urls: Vec<String> = (0..VALIDATORS).map(|i| network.url(i)).collect();
    let client = ChainClient::new(urls.join(","));
    until(
        Duration::from_secs(60),
        "validators answer across namespaces",
        || async { client.health().await.is_ok_and(|h| h.checkpoints > 1) },
    )
    .await;
    let account = &keys.accounts[0];
    let mut latencies: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        latencies.push(transfer(&client, account).await);
    }
    let (blob_id, _) = store_blob(&client, &keys).await;
    let genesis = walrus_types::genesis_file::load(&dir.join("genesis.json")).expect("genesis");
    let report = audit::audit(&client, &genesis, &blob_id, None, AuditMode::Light)
        .await
        .expect("the light audit verifies across namespaces");
    assert!(
        matches!(report.verdict, Verdict::Certified { .. }),
        "{report:?}"
    );

    // One of four equal validators down: the other three go on.
    network.kill(3);
    for _ in 0..3 {
        latencies.push(transfer(&client, account).await);
    }
    latencies.sort();
    eprintln!(
        "finality across namespaces (netem delay: {}): median {:?} of {} transfers",
        namespaces.delayed,
        latencies[latencies.len() / 2],
        latencies.len()
    );
    drop(network);
    drop(namespaces);
}
