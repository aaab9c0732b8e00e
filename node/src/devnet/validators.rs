//! The devnet's control plane: one validator process per storage node
//! (`walrus chain run --keys keys.json --node-index I`), each with its own
//! checkpoint log, API and consensus port, the others as peers.

use std::path::Path;

use super::{Args, Settings, local, path_arg, processes::Running, processes::spawn};

fn port(base: u16, offset: usize) -> anyhow::Result<u16> {
    u16::try_from(usize::from(base) + offset)
        .map_err(|_| anyhow::anyhow!("port {base} + {offset} is beyond 65535; pick lower ports"))
}

/// Validator `index`'s API port: `--chain-port` for validator 0, else
/// `--validator-port` + index.
fn api_port(args: &Args, index: usize) -> anyhow::Result<u16> {
    if index == 0 {
        Ok(args.chain_port)
    } else {
        port(args.validator_port, index)
    }
}

/// Validator `index`'s API URL (the chain URL of storage node `index`).
pub(super) fn url(args: &Args, index: usize) -> String {
    let port = api_port(args, index).unwrap_or(args.chain_port);
    format!("http://{}", local(port))
}

/// Every validator's API URL, comma-separated, starting with validator
/// `first`: a chain URL with failover (`ChainClient::new`).
pub(super) fn failover_urls(args: &Args, settings: &Settings, first: usize) -> String {
    (0..settings.nodes)
        .map(|i| url(args, (first + i) % settings.nodes))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts every validator; each started one is pushed to `running` even
/// if a later one fails, so the caller can stop it.
///
/// # Errors
/// Ports out of range or a process that cannot be started.
pub(super) fn start(
    dir: &Path,
    args: &Args,
    settings: &Settings,
    running: &mut Vec<Running>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("chain"))?;
    let p2p: Vec<u16> = (0..settings.nodes)
        .map(|i| port(args.p2p_port, i))
        .collect::<anyhow::Result<_>>()?;
    for index in 0..settings.nodes {
        let mut command = vec![
            "chain".into(),
            "run".into(),
            "--genesis".into(),
            path_arg(&dir.join("genesis.json")),
            "--db".into(),
            path_arg(&dir.join("chain").join(format!("validator-{index}.db"))),
            "--listen".into(),
            local(api_port(args, index)?).to_string(),
            "--keys".into(),
            path_arg(&dir.join("keys.json")),
            "--node-index".into(),
            index.to_string(),
            "--p2p-listen".into(),
            local(p2p[index]).to_string(),
            // One machine, few clients: short batches keep a store's two
            // transactions (register, certify) quick.
            "--batch-interval".into(),
            "5ms".into(),
        ];
        for (other, p2p_port) in p2p.iter().enumerate().filter(|(i, _)| *i != index) {
            command.extend(["--peer".into(), local(*p2p_port).to_string()]);
            command.extend(["--peer-url".into(), url(args, other)]);
        }
        let name = format!("validator-{index}");
        running.push(spawn(dir, &name, &command, url(args, index))?);
    }
    Ok(())
}
