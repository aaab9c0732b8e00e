//! The devnet's child processes: spawning one with its log file, waiting
//! until it answers, and stopping them all (SIGTERM, then SIGKILL).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use super::Service;

/// A child process and how to reach it.
pub(super) struct Running {
    pub(super) service: Service,
    pub(super) child: Child,
    pub(super) exited: bool,
}

pub(super) fn spawn(
    dir: &Path,
    name: &str,
    args: &[String],
    url: String,
) -> anyhow::Result<Running> {
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
pub(super) async fn wait_ready(
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
pub(super) fn stop_all(children: &mut [&mut Running]) {
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
