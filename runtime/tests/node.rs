//! Storage nodes end to end in one process: a sequencer and four nodes on
//! 127.0.0.1 port 0 with real SQLite files. A blob is registered on chain,
//! uploaded, confirmed (BLS signatures checked), certified with an aggregate
//! certificate, read back and decoded; bad uploads are refused.

use std::{path::PathBuf, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use blst::min_pk::{AggregateSignature, PublicKey, Signature};
use walrus_codec::{EncodedBlob, EncodingConfig, Sliver, SliverType};
use walrus_contracts::{Call, Genesis, ObjectRef, Registration, certificate, money::FROST_PER_WAL};
use walrus_runtime::{
    chain::{
        api,
        client::ChainClient,
        execution::Outcome,
        genesis::GenesisSpec,
        sequencer::{Sequencer, SequencerConfig},
    },
    node::{self, NodeConfig},
};

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("node-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Sends only the headers of a request declaring `length` body bytes and
/// returns the HTTP status: a server must refuse by the declared length
/// without reading (or waiting for) the body.
async fn status_for_declared_length(address: &str, path: &str, method: &str, length: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = vec![0u8; 64];
    let read = stream.read(&mut reply).await.expect("read");
    let line = String::from_utf8_lossy(&reply[..read]).to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_confirm_certify_and_read_a_blob() {
    let dir = temp_dir("flow");
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits");
    let spec = GenesisSpec {
        n_nodes: 4,
        n_shards: 10,
        epoch_duration_ms: 3_600_000,
        n_accounts: 1,
        account_balance: 1000 * FROST_PER_WAL,
        start_ms: now_ms,
        seed: [4; 32],
        network_addresses: Vec::new(),
    };
    let (genesis, secrets) = spec.generate().expect("genesis");
    let sequencer = Sequencer::start(SequencerConfig::new(genesis.clone(), dir.join("chain.db")))
        .await
        .expect("sequencer");
    let (chain_address, _chain) = api::serve(
        sequencer,
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        std::future::pending(),
    )
    .expect("serve");
    let chain_url = format!("http://{chain_address}");

    let mut nodes = Vec::new();
    for (index, (bls, operator)) in secrets.nodes.iter().enumerate() {
        let config = NodeConfig {
            node_id: Genesis::node_id(index),
            bls_secret: bls.clone(),
            operator_key: operator.clone(),
            db_path: dir.join(format!("node-{index}.db")),
            chain_url: chain_url.clone(),
            genesis: genesis.clone(),
            max_body_bytes: 4 << 20,
            registration_wait: Duration::from_millis(300),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        nodes.push(node::start(config, listener, std::future::pending()).expect("node starts"));
    }
    let http = reqwest::Client::new();
    let url = |i: usize, path: &str| format!("http://{}{path}", nodes[i].address);

    // Encode and register a blob of 20 kB.
    let config = EncodingConfig::new(10).expect("n");
    let data: Vec<u8> = (0..20_000u32)
        .map(|i| u8::try_from(i * 7 % 256).expect("byte"))
        .collect();
    let encoded: EncodedBlob = config.encode(&data).expect("encodes");
    let blob_id = *encoded.blob_id();
    let registration = Registration {
        storage: ObjectRef::Created(0),
        blob_id,
        root_hash: encoded.metadata().metadata().root().bytes(),
        size: 20_000,
        encoding_type: 1,
        deletable: false,
    };
    let client = ChainClient::new(chain_url.clone());
    let reserve = Call::ReserveSpace {
        size_bytes: config.encoded_length(20_000).expect("fits"),
        epochs: 3,
    };
    let response = client
        .execute(
            &secrets.accounts[0],
            vec![reserve, Call::RegisterBlob(registration)],
        )
        .await
        .expect("register");
    let Outcome::Success { created, .. } = response.outcome else {
        panic!("registration failed: {response:?}")
    };
    let blob_object = created[1];

    // Upload to each node the slivers of its shards, in one batch.
    let metadata_bytes = bcs::to_bytes(encoded.metadata().metadata()).expect("bcs");
    let system = client.system().await.expect("system");
    let members = system["committee"]["members"]
        .as_array()
        .expect("members")
        .clone();
    let mut public_keys = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let (status, body) = json(
            http.put(url(index, &format!("/v1/blobs/{blob_id}/metadata")))
                .body(metadata_bytes.clone())
                .send()
                .await
                .expect("put"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let view = node.shared.view();
        let mut slivers: Vec<Sliver> = Vec::new();
        for shard in &view.shards {
            let pair = config.pair_for_shard(*shard, &blob_id);
            let (primary, secondary) = encoded.sliver_pair(pair);
            slivers.extend([primary, secondary]);
        }
        let (status, body) = json(
            http.put(url(index, &format!("/v1/blobs/{blob_id}/slivers")))
                .body(bcs::to_bytes(&slivers).expect("bcs"))
                .send()
                .await
                .expect("put"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        public_keys.push(node.shared.public_key());
    }
    assert_eq!(members.len(), 4);

    // Confirmations verify under each node's key; three of four are a quorum.
    let message = certificate::confirmation_message(nodes[0].shared.view().epoch, &blob_id, None);
    let mut signatures = Vec::new();
    for (index, key) in public_keys.iter().enumerate() {
        let (status, body) = json(
            http.get(url(
                index,
                &format!("/v1/blobs/{blob_id}/confirmation/permanent"),
            ))
            .send()
            .await
            .expect("get"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let signed = &body["success"]["data"]["signed"];
        assert_eq!(
            BASE64
                .decode(signed["serializedMessage"].as_str().expect("message"))
                .expect("base64"),
            message
        );
        let signature = Signature::from_bytes(
            &BASE64
                .decode(signed["signature"].as_str().expect("sig"))
                .expect("base64"),
        )
        .expect("signature");
        let key = PublicKey::from_bytes(key).expect("key");
        assert_eq!(
            signature.verify(true, &message, certificate::DST, &[], &key, true),
            blst::BLST_ERROR::BLST_SUCCESS
        );
        signatures.push(signature);
    }
    let refs: Vec<&Signature> = signatures.iter().collect();
    let aggregate = AggregateSignature::aggregate(&refs, true)
        .expect("aggregate")
        .to_signature();
    let positions: Vec<usize> = (0..4)
        .map(|i| {
            let state_committee = &nodes[0].shared.view().committee;
            state_committee
                .position(&Genesis::node_id(i))
                .expect("member")
        })
        .collect();
    let certificate = certificate::Certificate {
        signers: certificate::Certificate::bitmap(&positions),
        message,
        signature: aggregate.to_bytes().to_vec(),
    };
    let response = client
        .execute(
            &secrets.accounts[0],
            vec![Call::CertifyBlob {
                blob: blob_object.into(),
                certificate,
            }],
        )
        .await
        .expect("certify");
    assert!(
        matches!(response.outcome, Outcome::Success { .. }),
        "{response:?}"
    );

    // The nodes learn of the certification from the chain (bounded wait).
    let mut certified = false;
    for _ in 0..100 {
        let (_, body) = json(
            http.get(url(0, &format!("/v1/blobs/{blob_id}/status")))
                .send()
                .await
                .expect("get"),
        )
        .await;
        if body["success"]["data"]["permanent"]["isCertified"] == true {
            certified = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(certified, "nodes never saw the certification");

    // Read back: primary slivers from the nodes, decoded.
    let mut primaries = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        for shard in node.shared.view().shards {
            let pair = config.pair_for_shard(shard, &blob_id);
            let reply = http
                .get(url(
                    index,
                    &format!("/v1/blobs/{blob_id}/slivers/{pair}/primary"),
                ))
                .send()
                .await
                .expect("get");
            assert_eq!(reply.status(), 200);
            let sliver: Sliver = bcs::from_bytes(&reply.bytes().await.expect("body")).expect("bcs");
            sliver
                .verify(&config, encoded.metadata())
                .expect("served sliver verifies");
            primaries.push(sliver);
        }
    }
    assert_eq!(
        config
            .decode(20_000, SliverType::Primary, &primaries)
            .expect("decodes"),
        data
    );

    // Bad uploads are refused with reasons.
    let node0_shards = nodes[0].shared.view().shards;
    let foreign_pair = (0..10)
        .find(|p| !node0_shards.contains(&config.shard_for_pair(*p, &blob_id)))
        .expect("a pair held elsewhere");
    let (primary, _) = encoded.sliver_pair(foreign_pair);
    let (status, body) = json(
        http.put(url(
            0,
            &format!("/v1/blobs/{blob_id}/slivers/{foreign_pair}/primary"),
        ))
        .body(bcs::to_bytes(&primary).expect("bcs"))
        .send()
        .await
        .expect("put"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"][0]["reason"].as_str()),
        (400, Some("SHARD_NOT_ASSIGNED")),
        "{body}"
    );

    let own_pair = config.pair_for_shard(*node0_shards.iter().next().expect("a shard"), &blob_id);
    let (mut corrupted, _) = encoded.sliver_pair(own_pair);
    let mut bytes = corrupted.symbols.clone().into_data();
    bytes[0] ^= 1;
    corrupted.symbols =
        walrus_codec::Symbols::new(bytes, corrupted.symbols.symbol_size()).expect("shape");
    let (status, body) = json(
        http.put(url(
            0,
            &format!("/v1/blobs/{blob_id}/slivers/{own_pair}/primary"),
        ))
        .body(bcs::to_bytes(&corrupted).expect("bcs"))
        .send()
        .await
        .expect("put"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"][0]["reason"].as_str()),
        (400, Some("INVALID_SLIVER")),
        "{body}"
    );

    let other = config.encode(b"never registered").expect("encodes");
    let (status, body) = json(
        http.put(url(0, &format!("/v1/blobs/{}/metadata", other.blob_id())))
            .body(bcs::to_bytes(other.metadata().metadata()).expect("bcs"))
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"][0]["reason"].as_str()),
        (400, Some("NOT_REGISTERED")),
        "{body}"
    );

    let address = format!("http://{}", nodes[0].address);
    assert_eq!(
        status_for_declared_length(
            &address,
            &format!("/v1/blobs/{blob_id}/slivers"),
            "PUT",
            5 << 20
        )
        .await,
        413
    );
    let (status, body) = json(
        http.put(url(0, &format!("/v1/blobs/{blob_id}/slivers")))
            .body(vec![7u8; 100])
            .send()
            .await
            .expect("put"),
    )
    .await;
    assert_eq!(
        (status, body["error"]["details"][0]["reason"].as_str()),
        (400, Some("INVALID_BODY")),
        "{body}"
    );
    let (status, _) = json(
        http.get(url(
            0,
            &format!("/v1/blobs/{}/slivers/0/primary", other.blob_id()),
        ))
        .send()
        .await
        .expect("get"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = json(http.get(url(0, "/v1/health")).send().await.expect("get")).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"]["data"]["storedBlobs"], 1);
}
