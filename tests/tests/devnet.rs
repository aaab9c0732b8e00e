//! `walrus devnet` end to end: a real devnet of separate processes on
//! 127.0.0.1, driven through the `walrus` CLI and the publisher/aggregator,
//! with real files, storage nodes killed (SIGKILL) and serving corrupted
//! slivers, a clean stop and a resume.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use nix::{sys::signal, unistd::Pid};
use serde_json::Value;
use walrus_tests::{free_ports, walrus_binary};

fn temp_dir(name: &str) -> PathBuf {
    walrus_tests::fresh_dir(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")), name)
}

/// Pseudo-random bytes from a seed (xorshift), so failures reproduce.
fn generated(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

struct Devnet {
    child: Child,
    dir: PathBuf,
    ports: u16,
}

impl Devnet {
    /// Starts `walrus devnet` and waits (at most 120 s) for its ready line.
    /// With `close_stdout`, nobody reads its stdout (as with a script that
    /// does not care) and readiness is `devnet.json`: the devnet must carry on.
    fn start(dir: &Path, ports: u16, close_stdout: bool) -> Self {
        let mut child = Command::new(walrus_binary())
            .args(["devnet", "--nodes", "7", "--n-shards", "100", "--dir"])
            .arg(dir)
            .args(["--chain-port", &ports.to_string()])
            .args(["--node-port", &(ports + 1).to_string()])
            .args(["--metrics-port", &(ports + 8).to_string()])
            .args(["--daemon-port", &(ports + 15).to_string()])
            .args(["--indexer-port", &(ports + 16).to_string()])
            .args(["--validator-port", &(ports + 17).to_string()])
            .args(["--p2p-port", &(ports + 24).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("walrus devnet starts");
        let stdout = child.stdout.take().expect("piped");
        if close_stdout {
            // Nobody reads: every write to stdout fails with EPIPE.
            drop(stdout);
            let ready = dir.join("devnet.json");
            for _ in 0..2400 {
                if ready.is_file() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(ready.is_file(), "devnet not ready after 120 s");
        } else {
            let (sender, receiver) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
            loop {
                match receiver.recv_timeout(Duration::from_secs(120)) {
                    Ok(line) if line.starts_with("Devnet ready") => break,
                    Ok(_) => {}
                    Err(e) => panic!("devnet not ready: {e}"),
                }
            }
        }
        Self {
            child,
            dir: dir.to_owned(),
            ports,
        }
    }

    fn services(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("devnet.json")).expect("devnet.json"))
            .expect("JSON")
    }

    /// Runs `walrus --json --config DIR/client_config.yaml ARGS`, killed
    /// (and the test failed) if it runs past `limit`.
    fn walrus_within(&self, args: &[&str], limit: Duration) -> std::process::Output {
        let mut child = Command::new(walrus_binary())
            .arg("--json")
            .arg("--config")
            .arg(self.dir.join("client_config.yaml"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("walrus runs");
        let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("walrus {args:?} still ran after {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::process::Output {
            status,
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        }
    }

    /// Runs `walrus --json --config DIR/client_config.yaml ARGS` (at most
    /// 300 s).
    fn walrus(&self, args: &[&str]) -> std::process::Output {
        self.walrus_within(args, Duration::from_secs(300))
    }

    /// Runs a `walrus --json` command that must succeed; returns its JSON output.
    fn cli(&self, args: &[&str]) -> Value {
        self.cli_within(args, Duration::from_secs(300))
    }

    /// Runs a `walrus --json` command that must succeed within `limit`;
    /// returns its JSON output.
    fn cli_within(&self, args: &[&str], limit: Duration) -> Value {
        let output = self.walrus_within(args, limit);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "walrus {args:?} failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// Runs a `walrus --json` command that must fail; returns its error message.
    fn cli_error(&self, args: &[&str]) -> String {
        let output = self.walrus(args);
        assert!(!output.status.success(), "walrus {args:?} should fail");
        let reply: Value = serde_json::from_slice(&output.stdout).expect("JSON error");
        reply["error"].as_str().expect("error message").to_owned()
    }

    fn daemon_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports + 15)
    }

    /// SIGTERM to the supervisor; waits for it and checks every child is gone.
    fn stop(mut self) {
        let services = self.services();
        let pid = i32::try_from(self.child.id()).expect("pid");
        signal::kill(Pid::from_raw(pid), signal::Signal::SIGTERM).expect("signal");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "devnet exited with {status}");
        let mut pids = vec![
            services["chain"]["pid"].clone(),
            services["daemon"]["pid"].clone(),
            services["indexer"]["pid"].clone(),
        ];
        pids.extend(
            services["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["pid"].clone()),
        );
        for pid in pids {
            let pid = i32::try_from(pid.as_u64().expect("pid")).expect("pid");
            assert!(
                signal::kill(Pid::from_raw(pid), None).is_err(),
                "service process {pid} still runs after the devnet stopped"
            );
        }
        assert!(!self.dir.join("devnet.json").exists());
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait()
            && let Ok(pid) = i32::try_from(self.child.id())
        {
            let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

fn store(devnet: &Devnet, path: &Path, extra: &[&str]) -> (String, Value) {
    let mut args = vec!["store", path.to_str().expect("UTF-8 path"), "--epochs", "2"];
    args.extend_from_slice(extra);
    let report = devnet.cli(&args);
    let blob_id = report[0]["blobId"].as_str().expect("blob ID").to_owned();
    (blob_id, report[0].clone())
}

fn read_back(devnet: &Devnet, blob_id: &str, expected: &[u8], extra: &[&str]) {
    let out = devnet.dir.join(format!("read-{blob_id}"));
    let mut args = vec!["read", blob_id, "--out", out.to_str().expect("UTF-8")];
    args.extend_from_slice(extra);
    devnet.cli(&args);
    let bytes = std::fs::read(&out).expect("read output");
    assert!(
        bytes == expected,
        "blob {blob_id} read back differs ({} vs {} bytes)",
        bytes.len(),
        expected.len()
    );
    std::fs::remove_file(out).expect("remove");
}

/// Flips one byte inside every sliver a node stores (in the sliver files
/// next to its SQLite index), so that it serves garbage that still parses.
fn corrupt_slivers(db: &Path) -> usize {
    use std::os::unix::fs::FileExt;
    let conn = rusqlite::Connection::open(db).expect("open node store");
    conn.busy_timeout(Duration::from_secs(10)).expect("timeout");
    let spans: Vec<(Vec<u8>, u64, u64)> = conn
        .prepare("SELECT blob_id, start, length FROM sliver_spans")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let dir = db.with_file_name("slivers.db-slivers");
    for (blob_id, start, length) in &spans {
        let blob_id = walrus_codec::BlobId(blob_id.as_slice().try_into().expect("32 bytes"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(blob_id.to_string()))
            .expect("open sliver file");
        let middle = start + length / 2;
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, middle).expect("read");
        file.write_all_at(&[byte[0] ^ 0xff], middle).expect("write");
    }
    spans.len()
}

/// Polls `walrus blob-status` (at most 10 s) until the nodes report
/// `blob_id` certified; returns that status.
fn certified_status(devnet: &Devnet, blob_id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = devnet.cli(&["blob-status", blob_id]);
        if status["status"]["deletable"]["isCertified"] == true {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the nodes never reported {blob_id} certified: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the indexer (at most 30 s) until it reports `blob_id` certified.
fn wait_indexed_certified(indexer: &str, blob_id: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let response = reqwest::get(format!("{indexer}/v1/blobs/{blob_id}"))
                .await
                .expect("indexer answers");
            if response.status() == 200 {
                let status: Value = response.json().await.expect("JSON");
                if status["status"] == "certified" {
                    return;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the indexer never reported {blob_id} certified"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

/// The DOM of `url` after its scripts ran, from headless Chromium
/// (Debian's `chromium`, which `scripts/test.sh` installs).
fn explorer_dom(url: &str) -> String {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium runs (bash scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn devnet_stores_and_reads_real_files_with_faulty_nodes() {
    let dir = temp_dir("devnet-e2e");
    let ports = free_ports(31);
    let devnet = Devnet::start(&dir, ports, false);

    // Every node is up.
    let health = devnet.cli(&["health"]);
    assert_eq!(health["healthy"], 7, "{health}");

    // CLIs on one wallet at once all succeed (they once raced for nonces).
    let parallel: Vec<_> = (0..24)
        .map(|_| {
            Command::new(walrus_binary())
                .arg("--json")
                .arg("--config")
                .arg(dir.join("client_config.yaml"))
                .args(["get-wal", "--amount", "1"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("walrus starts")
        })
        .collect();
    for child in parallel {
        let output = child.wait_with_output().expect("walrus ends");
        assert!(
            output.status.success(),
            "a concurrent get-wal failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // A real file: store, read back, status.
    let license = Path::new("/usr/share/common-licenses/GPL-3");
    let license_bytes = std::fs::read(license).expect("GPL-3 (Debian's base-files)");
    let (license_id, report) = store(&devnet, license, &[]);
    assert!(report["result"]["newlyCreated"].is_object(), "{report}");
    read_back(&devnet, &license_id, &license_bytes, &[]);
    // Nodes apply the certification once the next block certifies its
    // checkpoint: about one block after `store` returned.
    let status = certified_status(&devnet, &license_id);
    assert_eq!(status["status"]["deletable"]["endEpoch"], 2, "{status}");
    // A dry run costs what the store cost, and stores nothing new.
    let estimate = devnet.cli(&[
        "store",
        license.to_str().expect("UTF-8"),
        "--epochs",
        "2",
        "--dry-run",
    ]);
    assert_eq!(estimate[0]["blobId"], license_id.as_str());
    assert_eq!(
        estimate[0]["cost"], report["result"]["newlyCreated"]["cost"],
        "{estimate}"
    );
    // Unknown blobs and bad input get clear errors.
    let unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let error = devnet.cli_error(&["read", unknown]);
    assert!(error.contains("not found"), "{error}");
    let error = devnet.cli_error(&["store", license.to_str().expect("UTF-8"), "--epochs", "0"]);
    assert!(error.contains("epochs must be between 1 and 53"), "{error}");
    let blobs = devnet.cli(&["list-blobs"]);
    assert!(
        blobs
            .as_array()
            .expect("list")
            .iter()
            .any(|b| b["blobId"] == license_id.as_str())
    );

    // The indexer sees it certified; the audit verifies it from the chain
    // and agrees with the indexer; the explorer page finds it.
    let indexer = devnet.services()["indexer"]["url"]
        .as_str()
        .expect("indexer URL")
        .to_owned();
    wait_indexed_certified(&indexer, &license_id);
    let audit = devnet.cli(&["audit", &license_id]);
    assert_eq!(audit["verdict"]["certified"]["endEpoch"], 2, "{audit}");
    assert_eq!(audit["certificatesValid"], true, "{audit}");
    assert_eq!(audit["indexer"]["agrees"], true, "{audit}");
    // The newest certified checkpoint: a quorum of the 7 validators signed.
    let tip = &audit["tipCertificate"];
    assert_eq!(tip["valid"], true, "{audit}");
    assert_eq!(tip["validators"], 7, "{audit}");
    assert!(tip["signers"].as_u64().expect("signers") >= 5, "{audit}");
    let kinds: Vec<&str> = audit["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["BlobRegistered", "BlobCertified"], "{audit}");
    let page = explorer_dom(&format!("{indexer}/?q={license_id}"));
    assert!(
        page.contains("id=\"blob-status\" data-status=\"certified\""),
        "the explorer does not show the blob as certified:\n{page}"
    );

    // 20 MB, permanent, with the strict check.
    let big = generated(20_000_000, 1);
    let big_path = dir.join("big.bin");
    std::fs::write(&big_path, &big).expect("write");
    let (big_id, report) = store(&devnet, &big_path, &["--permanent"]);
    assert_eq!(
        report["result"]["newlyCreated"]["blobObject"]["deletable"],
        false
    );
    read_back(&devnet, &big_id, &big, &["--strict-consistency-check"]);

    // Through the publisher/aggregator: already certified, ranges.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let reply: Value = http
            .put(format!("{}/v1/blobs?epochs=1", devnet.daemon_url()))
            .body(license_bytes.clone())
            .send()
            .await
            .expect("PUT")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            reply["alreadyCertified"]["blobId"],
            license_id.as_str(),
            "{reply}"
        );
        let response = http
            .get(format!("{}/v1/blobs/{license_id}", devnet.daemon_url()))
            .header("range", "bytes=100-199")
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 206);
        assert_eq!(
            &response.bytes().await.expect("body")[..],
            &license_bytes[100..200]
        );
        let response = http
            .get(format!("{}/v1/blobs/not-a-blob-id", devnet.daemon_url()))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 400);
    });

    // Two nodes (30 of the 100 shards) hang: they accept connections and
    // never answer (SIGSTOP). Stores, reads and statuses route around them
    // within seconds rather than waiting out a 120 s timeout per request
    // (issue 21, failures 6 and 7).
    let services = devnet.services();
    let hung: Vec<Pid> = services["nodes"].as_array().expect("nodes")[..2]
        .iter()
        .map(|n| Pid::from_raw(i32::try_from(n["pid"].as_u64().expect("pid")).expect("pid")))
        .collect();
    for pid in &hung {
        signal::kill(*pid, signal::Signal::SIGSTOP).expect("stop node");
    }
    let limit = Duration::from_secs(40);
    let small = generated(300_000, 3);
    let small_path = dir.join("small.bin");
    std::fs::write(&small_path, &small).expect("write");
    let path = small_path.to_str().expect("UTF-8");
    let report = devnet.cli_within(&["store", path, "--epochs", "2"], limit);
    let small_id = report[0]["blobId"].as_str().expect("blob ID").to_owned();
    let out = dir.join("small.out");
    let out_arg = out.to_str().expect("UTF-8");
    devnet.cli_within(&["read", &small_id, "--out", out_arg], limit);
    assert!(std::fs::read(&out).expect("read") == small);
    devnet.cli_within(&["read", &license_id, "--out", out_arg], limit);
    assert!(std::fs::read(&out).expect("read") == license_bytes);
    let status = devnet.cli_within(&["blob-status", &small_id], limit);
    assert!(status["status"]["deletable"].is_object(), "{status}");
    for pid in &hung {
        signal::kill(*pid, signal::Signal::SIGCONT).expect("continue node");
    }

    // One node serves corrupted slivers: reads still succeed (verified
    // slivers from the others) and stay byte-identical.
    let corrupted = corrupt_slivers(&dir.join("nodes/node-0/slivers.db"));
    assert!(corrupted > 0);
    read_back(&devnet, &license_id, &license_bytes, &[]);
    read_back(&devnet, &big_id, &big, &[]);

    // Kill two of the seven nodes (at most 30 of the 100 shards; f = 33):
    // stores and reads still succeed.
    let services = devnet.services();
    for node in &services["nodes"].as_array().expect("nodes")[5..7] {
        let pid = i32::try_from(node["pid"].as_u64().expect("pid")).expect("pid");
        signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL).expect("kill node");
    }
    let other = generated(20_000_000, 2);
    let other_path = dir.join("other.bin");
    std::fs::write(&other_path, &other).expect("write");
    let (other_id, _) = store(&devnet, &other_path, &[]);
    read_back(&devnet, &other_id, &other, &[]);
    read_back(&devnet, &license_id, &license_bytes, &[]);
    let health = devnet.cli(&["health"]);
    assert_eq!(health["healthy"], 5, "{health}");

    // A clean stop takes every service down; a restart resumes with the data.
    devnet.stop();
    let devnet = Devnet::start(&dir, ports, true);
    assert_eq!(devnet.cli(&["health"])["healthy"], 7);
    read_back(&devnet, &license_id, &license_bytes, &[]);
    read_back(&devnet, &other_id, &other, &[]);
    devnet.stop();
}
