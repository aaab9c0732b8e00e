//! The publisher/aggregator daemon's input checks over real HTTP on
//! 127.0.0.1: every refusal is a JSON error with a reason, before any work.

use serde_json::Value;
use walrus_client::{
    Client, ClientConfig,
    config::CommunicationConfig,
    daemon::{self, DaemonConfig, Role},
};

/// A daemon whose chain is unreachable (a port that was just free), so only
/// the checks before any chain access can succeed.
async fn start(role: Role, max_body_bytes: u64) -> String {
    start_with_budget(role, max_body_bytes, daemon::DEFAULT_STORE_MEMORY_BUDGET).await
}

/// As [`start`], with a store memory budget of `budget` bytes and no wait
/// for room in it.
async fn start_with_budget(role: Role, max_body_bytes: u64, budget: u64) -> String {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let config = ClientConfig {
        chain_url: format!("http://{unused}"),
        wallet: None,
        publisher_url: None,
        indexer_url: None,
        genesis: None,
        communication: CommunicationConfig::default(),
    };
    let client = Client::new(config).expect("client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let settings = DaemonConfig {
        role,
        max_body_bytes,
        default_epochs: 1,
        store_memory_budget: budget,
        store_wait: std::time::Duration::ZERO,
    };
    let (address, _) =
        daemon::serve(client, settings, listener, std::future::pending()).expect("serve");
    format!("http://{address}")
}

async fn reply(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn reason(body: &Value) -> &str {
    body["error"]["details"][0]["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_reasons() {
    let base = start(Role::Daemon, 100).await;
    let http = reqwest::Client::new();

    let (status, body) = reply(
        http.get(format!("{base}/v1/health"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let cases = [
        (
            http.put(format!("{base}/v1/blobs")).body(vec![0u8; 101]),
            413,
            "BODY_TOO_LARGE",
        ),
        (
            http.put(format!("{base}/v1/blobs?deletable=true&permanent=true"))
                .body("x"),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            http.put(format!("{base}/v1/blobs?epochs=abc")).body("x"),
            400,
            "INVALID_QUERY",
        ),
        (
            http.get(format!("{base}/v1/blobs/not-a-blob-id")),
            400,
            "INVALID_BLOB_ID",
        ),
        (
            http.get(format!("{base}/v1/blobs/by-object-id/0x12")),
            400,
            "INVALID_OBJECT_ID",
        ),
        (http.get(format!("{base}/v1/nothing")), 404, "NO_ROUTE"),
        // A valid request that needs the (unreachable) chain fails cleanly.
        (
            http.get(format!(
                "{base}/v1/blobs/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )),
            500,
            "INTERNAL",
        ),
    ];
    for (request, expected_status, expected_reason) in cases {
        let (status, body) = reply(request.send().await.expect("request")).await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(reason(&body), expected_reason, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn an_aggregator_does_not_store_and_a_publisher_does_not_serve_reads() {
    let http = reqwest::Client::new();
    let aggregator = start(Role::Aggregator, 1 << 20).await;
    let (status, _) = reply(
        http.put(format!("{aggregator}/v1/blobs"))
            .body("x")
            .send()
            .await
            .expect("PUT"),
    )
    .await;
    assert!(status == 404 || status == 405, "{status}");
    let publisher = start(Role::Publisher, 1 << 20).await;
    let (status, _) = reply(
        http.get(format!(
            "{publisher}/v1/blobs/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        ))
        .send()
        .await
        .expect("GET"),
    )
    .await;
    assert!(status == 404 || status == 405, "{status}");
}

/// Stores reserve memory before their body is read: while one store's body
/// holds the whole budget, another is refused at once with a 503 that says
/// to retry, without its body being read; once the first is gone, the next
/// gets past the budget (issue 21, failure 10).
#[tokio::test]
async fn stores_beyond_the_memory_budget_wait_and_are_refused() {
    use tokio::io::AsyncWriteExt;
    let url = start_with_budget(Role::Publisher, 1 << 20, 1 << 20).await;
    let host = url.trim_start_matches("http://").to_owned();
    // Declares 1 MiB (6 MiB of memory, more than the whole budget: it
    // takes all of it) and sends nothing of its body.
    let mut holder = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    holder
        .write_all(
            format!(
                "PUT /v1/blobs?epochs=1 HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1048576\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    holder.write_all(b"x").await.expect("a first byte");
    let http = reqwest::Client::new();
    let put_small = || async {
        let response = http
            .put(format!("{url}/v1/blobs?epochs=1"))
            .body(vec![1u8; 10])
            .send()
            .await
            .expect("reply");
        reply(response).await
    };
    let busy = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let (status, body) = put_small().await;
            // Until the holder's request is admitted, this one may be.
            if status == 503 && body["error"]["details"][0]["reason"] == "UNAVAILABLE" {
                return body;
            }
        }
    })
    .await
    .expect("a store is refused while the budget is taken");
    assert!(
        busy["error"]["message"]
            .as_str()
            .expect("message")
            .contains("memory budget"),
        "{busy}"
    );
    drop(holder);
    // The budget is free again: the store is admitted (and then fails on
    // the unreachable chain, not on the budget).
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let (_, body) = put_small().await;
            if !body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("memory budget")
            {
                return;
            }
        }
    })
    .await
    .expect("the budget is freed when the holder goes away");
}
