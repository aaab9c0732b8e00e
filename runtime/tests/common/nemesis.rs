//! A Byzantine nemesis (issue 21): a TCP proxy in front of a storage node,
//! registered on chain in the node's place, that can switch at any time
//! between forwarding honestly and answering as a faulty node would:
//! never (silent), slowly, with corrupted bytes, or cut off mid-reply.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// How the proxy treats a connection (chosen when it is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    /// Forward both ways.
    Honest = 0,
    /// Accept and read, never answer.
    Silent = 1,
    /// Forward, but hold each reply back for 2 s first.
    Slow = 2,
    /// Forward, flipping bytes of each reply past its first 300.
    Corrupt = 3,
    /// Forward the first 200 bytes of a reply, then close.
    Cut = 4,
}

impl Fault {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Silent,
            2 => Self::Slow,
            3 => Self::Corrupt,
            4 => Self::Cut,
            _ => Self::Honest,
        }
    }
}

/// A running proxy; clones share its mode.
#[derive(Debug, Clone)]
pub struct Nemesis {
    mode: Arc<AtomicU8>,
}

impl Nemesis {
    /// Proxies connections accepted on `listener` to `upstream`.
    pub fn start(listener: TcpListener, upstream: SocketAddr) -> Self {
        let mode = Arc::new(AtomicU8::new(Fault::Honest as u8));
        let shared = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = Fault::from_u8(shared.load(Ordering::Relaxed));
                tokio::spawn(proxy(client, upstream, fault));
            }
        });
        Self { mode }
    }

    /// Treats connections accepted from now on with `fault`.
    pub fn set(&self, fault: Fault) {
        self.mode.store(fault as u8, Ordering::Relaxed);
    }
}

async fn proxy(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    if fault == Fault::Silent {
        let mut buffer = [0u8; 4096];
        while matches!(client.read(&mut buffer).await, Ok(n) if n > 0) {}
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buffer = vec![0u8; 16 << 10];
    let mut sent = 0usize;
    while let Ok(n) = server_read.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let chunk = &mut buffer[..n];
        match fault {
            Fault::Slow => tokio::time::sleep(Duration::from_secs(2)).await,
            Fault::Corrupt => {
                for (offset, byte) in chunk.iter_mut().enumerate() {
                    if sent + offset > 300 && (sent + offset).is_multiple_of(97) {
                        *byte ^= 0x55;
                    }
                }
            }
            Fault::Cut if sent + n > 200 => {
                let keep = 200usize.saturating_sub(sent);
                let _ = client_write.write_all(&chunk[..keep]).await;
                break;
            }
            _ => {}
        }
        if client_write.write_all(chunk).await.is_err() {
            break;
        }
        sent += n;
    }
    requests.abort();
}
