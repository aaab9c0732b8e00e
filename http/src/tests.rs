//! The limits over real TCP on 127.0.0.1: partial headers, stalled bodies
//! and idle connections are closed; connections beyond the cap wait.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use warp::Filter;

use super::{Handle, Limits, serve};

const SHORT: Limits = Limits {
    max_connections: 2,
    header_timeout: Duration::from_millis(300),
    idle_timeout: Duration::from_millis(300),
};

async fn start(limits: Limits) -> Handle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let routes = warp::path!("echo")
        .and(warp::body::bytes())
        .map(|body: bytes::Bytes| format!("{} bytes", body.len()));
    let (handle, _) = serve(routes, listener, limits, std::future::pending()).expect("serve");
    handle
}

/// Reads until the server closes the connection (at most 10 s); returns
/// what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closed the connection within 10 s");
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn partial_headers_are_cut_off() {
    let server = start(SHORT).await;
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let reply = until_closed(&mut stream).await;
    assert!(!reply.contains("bytes"), "{reply}");
}

#[tokio::test]
async fn a_stalled_body_is_cut_off() {
    let server = start(SHORT).await;
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .await
        .expect("write");
    let reply = until_closed(&mut stream).await;
    assert!(!reply.contains("100 bytes"), "{reply}");
}

#[tokio::test]
async fn idle_keep_alive_connections_close_and_requests_are_served() {
    let server = start(SHORT).await;
    let mut stream = TcpStream::connect(server.address()).await.expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("write");
    // Served, then closed once idle.
    let reply = until_closed(&mut stream).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("3 bytes"), "{reply}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let limits = Limits {
        idle_timeout: Duration::from_secs(600),
        header_timeout: Duration::from_secs(600),
        ..SHORT
    };
    let server = start(limits).await;
    let mut first = TcpStream::connect(server.address()).await.expect("connect");
    let _second = TcpStream::connect(server.address()).await.expect("connect");
    let mut third = TcpStream::connect(server.address()).await.expect("connect");
    third
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz",
        )
        .await
        .expect("write");
    // Two are served; the third waits in the backlog.
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.open_connections() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("two connections served");
    assert_eq!(server.open_connections(), 2);
    first.shutdown().await.expect("close");
    drop(first);
    let reply = until_closed(&mut third).await;
    assert!(reply.ends_with("1 bytes"), "{reply}");
    assert!(server.open_connections() <= 2);
}
