//! A replicated control plane of real `walrus chain run` validator
//! processes on 127.0.0.1 (Malachite BFT over TCP), for the consensus and
//! light-audit tests: a genesis made by `walrus chain genesis`, its keys,
//! and the validators, killed when the [`Network`] is dropped.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use blst::min_pk::SecretKey;
use ed25519_dalek::SigningKey;
use walrus_codec::{BlobId, EncodingConfig, EncodingType, Node};
use walrus_contracts::{
    Call, Committee, Event, ObjectRef, Registration,
    certificate::{self, Certificate},
    ledger::execution::{Checkpoint, Outcome},
};
use walrus_types::ChainClient;

use crate::{free_ports, walrus_binary};

/// The keys of `keys.json`.
pub struct Keys {
    /// Per node: BLS secret key and operator key.
    pub nodes: Vec<(SecretKey, SigningKey)>,
    /// The funded accounts.
    pub accounts: Vec<SigningKey>,
}

/// What `walrus chain genesis` makes.
pub struct GenesisArgs<'a> {
    /// Storage nodes (validators).
    pub nodes: u16,
    /// Shards.
    pub n_shards: u16,
    /// Epoch duration, as the CLI takes it (`3s`).
    pub epoch_duration: &'a str,
    /// WAL per funded account.
    pub account_wal: u64,
}

fn hex_bytes(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn ed25519(text: &str) -> SigningKey {
    SigningKey::from_bytes(&hex_bytes(text).try_into().expect("32 bytes"))
}

/// Writes `genesis.json` and `keys.json` into `dir` (fixed seed) and
/// returns the keys.
///
/// # Panics
/// `walrus chain genesis` fails or writes something unexpected.
pub fn genesis(dir: &Path, args: &GenesisArgs<'_>) -> Keys {
    let status = Command::new(walrus_binary())
        .args(["chain", "genesis", "--nodes", &args.nodes.to_string()])
        .args(["--n-shards", &args.n_shards.to_string(), "--dir"])
        .arg(dir)
        .args(["--epoch-duration", args.epoch_duration])
        .args(["--account-wal", &args.account_wal.to_string()])
        .args(["--seed", &"07".repeat(32), "--json"])
        .stdout(Stdio::null())
        .status()
        .expect("walrus chain genesis runs");
    assert!(status.success());
    let keys: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys.json")).expect("keys.json"))
            .expect("JSON");
    let text = |value: &serde_json::Value, field: &str| {
        value[field].as_str().expect("a hex key").to_owned()
    };
    let nodes = keys["nodes"].as_array().expect("nodes");
    let accounts = keys["accounts"].as_array().expect("accounts");
    Keys {
        nodes: nodes
            .iter()
            .map(|node| {
                let bls =
                    SecretKey::from_bytes(&hex_bytes(&text(node, "blsSecret"))).expect("a BLS key");
                (bls, ed25519(&text(node, "operatorSecret")))
            })
            .collect(),
        accounts: accounts
            .iter()
            .map(|a| ed25519(&text(a, "secret")))
            .collect(),
    }
}

/// Where validator `I` runs: on 127.0.0.1 (ports `base + I` for the API,
/// `base + count + I` for consensus), or in network namespace `I` at its
/// own address (ports 9400 and 9500).
pub enum Hosts {
    /// All on 127.0.0.1, from this base port.
    Loopback(u16),
    /// `(namespace, address)` per validator.
    Namespaces(Vec<(String, String)>),
}

/// Validator processes `0..count` of the genesis in `dir`.
pub struct Network {
    dir: PathBuf,
    hosts: Hosts,
    count: u16,
    children: Vec<Option<Child>>,
    /// Extra `walrus chain run` arguments per validator.
    extra: Vec<Vec<String>>,
}

impl Network {
    /// Starts `count` validators of the genesis in `dir`, on free ports of
    /// 127.0.0.1.
    pub fn start(dir: &Path, count: u16) -> Self {
        Self::prepare(dir, count, Hosts::Loopback(free_ports(2 * count))).launch()
    }

    /// Starts `count` validators of the genesis in `dir` on `hosts`.
    pub fn start_on(dir: &Path, count: u16, hosts: Hosts) -> Self {
        Self::prepare(dir, count, hosts).launch()
    }

    /// `count` validators of the genesis in `dir` on `hosts`, not started.
    pub fn prepare(dir: &Path, count: u16, hosts: Hosts) -> Self {
        Self {
            dir: dir.to_owned(),
            hosts,
            count,
            children: (0..count).map(|_| None).collect(),
            extra: vec![Vec::new(); usize::from(count)],
        }
    }

    /// Passes `args` to validator `index` too.
    #[must_use]
    pub fn with_args(mut self, index: u16, args: &[&str]) -> Self {
        self.extra[usize::from(index)].extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Starts every validator.
    #[must_use]
    pub fn launch(mut self) -> Self {
        for index in 0..self.count {
            self.spawn(index);
        }
        self
    }

    fn api(&self, index: u16) -> String {
        match &self.hosts {
            Hosts::Loopback(base) => format!("127.0.0.1:{}", base + index),
            Hosts::Namespaces(hosts) => format!("{}:9400", hosts[usize::from(index)].1),
        }
    }

    fn p2p(&self, index: u16) -> String {
        match &self.hosts {
            Hosts::Loopback(base) => format!("127.0.0.1:{}", base + self.count + index),
            Hosts::Namespaces(hosts) => format!("{}:9500", hosts[usize::from(index)].1),
        }
    }

    /// Validator `index`'s API URL.
    pub fn url(&self, index: u16) -> String {
        format!("http://{}", self.api(index))
    }

    /// (Re)starts validator `index`; its log goes to `validator-I.log`.
    ///
    /// # Panics
    /// The process cannot be started.
    pub fn spawn(&mut self, index: u16) {
        let mut command = match &self.hosts {
            Hosts::Loopback(_) => Command::new(walrus_binary()),
            Hosts::Namespaces(hosts) => {
                let mut command = Command::new("ip");
                command
                    .args(["netns", "exec", &hosts[usize::from(index)].0])
                    .arg(walrus_binary());
                command
            }
        };
        command
            .args(["chain", "run", "--genesis"])
            .arg(self.dir.join("genesis.json"))
            .arg("--db")
            .arg(self.dir.join(format!("validator-{index}.db")))
            .args(["--listen", &self.api(index)])
            .arg("--keys")
            .arg(self.dir.join("keys.json"))
            .args(["--node-index", &index.to_string()])
            .args(["--p2p-listen", &self.p2p(index)])
            .args(["--idle-block-interval", "200ms", "--batch-interval", "5ms"])
            .args(&self.extra[usize::from(index)]);
        for other in (0..self.count).filter(|o| *o != index) {
            command
                .args(["--peer", &self.p2p(other)])
                .args(["--peer-url", &self.url(other)]);
        }
        let log = std::fs::File::create(self.dir.join(format!("validator-{index}.log")))
            .expect("log file");
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("walrus chain run starts");
        self.children[usize::from(index)] = Some(child);
    }

    /// Kills validator `index` (SIGKILL) and waits for it.
    pub fn kill(&mut self, index: u16) {
        if let Some(mut child) = self.children[usize::from(index)].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for index in 0..self.count {
            self.kill(index);
        }
    }
}

/// The first `count` checkpoints `client` serves.
///
/// # Panics
/// The client fails or serves fewer.
pub async fn all_checkpoints(client: &ChainClient, count: u64) -> Vec<Checkpoint> {
    let mut all: Vec<Checkpoint> = Vec::new();
    let len = |all: &Vec<Checkpoint>| u64::try_from(all.len()).expect("small");
    while len(&all) < count {
        let batch = client
            .checkpoints(len(&all), Duration::ZERO)
            .await
            .expect("checkpoints");
        assert!(!batch.is_empty(), "checkpoints end before {count}");
        all.extend(batch);
    }
    all.truncate(usize::try_from(count).expect("small"));
    all
}

/// Polls `check` every 100 ms until it holds.
///
/// # Panics
/// `limit` passes first.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The BLS key of `committee` member `position` (members are the genesis
/// nodes in every epoch here; only their shards move).
///
/// # Panics
/// No genesis node has that member's key.
pub fn bls_key<'a>(keys: &'a Keys, committee: &Committee, position: usize) -> &'a SecretKey {
    let public = &committee.members[position].public_key;
    &keys
        .nodes
        .iter()
        .find(|(bls, _)| bls.sk_to_pk().to_bytes().as_slice() == public.as_slice())
        .expect("a genesis node")
        .0
}

/// Registers and certifies a blob in the current epoch; returns its ID and
/// the certified epoch.
///
/// # Panics
/// A transaction fails.
pub async fn store_blob(client: &ChainClient, keys: &Keys) -> (BlobId, u32) {
    let account = &keys.accounts[0];
    let system = client.system().await.expect("system");
    let size = 1000;
    let root = [7u8; 32];
    let blob_id = BlobId::from_root(&Node::Digest(root), EncodingType::Rs2, size);
    let encoding = EncodingConfig::new(system.params.n_shards).expect("valid n");
    let register = vec![
        Call::ReserveSpace {
            size_bytes: encoding.encoded_length(size).expect("fits"),
            epochs: 5,
        },
        Call::RegisterBlob(Registration {
            storage: ObjectRef::Created(0),
            blob_id,
            root_hash: root,
            size,
            encoding_type: 1,
            deletable: false,
        }),
    ];
    let response = client.execute(account, register).await.expect("ordered");
    let Outcome::Success { events, .. } = response.outcome else {
        panic!("registration failed: {response:?}");
    };
    let object_id = events
        .iter()
        .find_map(|e| match e {
            Event::BlobRegistered { object_id, .. } => Some(*object_id),
            _ => None,
        })
        .expect("a BlobRegistered event");
    // Certify with every member's confirmation; retried if an epoch change
    // lands between signing and execution.
    for _ in 0..3 {
        let system = client.system().await.expect("system");
        let committee = &system.committee;
        let message = certificate::confirmation_message(system.epoch, &blob_id, None);
        let positions: Vec<usize> = (0..committee.members.len()).collect();
        let signatures: Vec<_> = positions
            .iter()
            .map(|p| bls_key(keys, committee, *p).sign(&message, certificate::DST, &[]))
            .collect();
        let certificate =
            Certificate::aggregate(message, &positions, &signatures).expect("signatures");
        let call = Call::CertifyBlob {
            blob: ObjectRef::Id(object_id),
            certificate,
        };
        let response = client.execute(account, vec![call]).await.expect("ordered");
        if matches!(response.outcome, Outcome::Success { .. }) {
            return (blob_id, system.epoch);
        }
    }
    panic!("the blob could not be certified");
}
