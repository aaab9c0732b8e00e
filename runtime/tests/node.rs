//! Storage nodes end to end in one process: a sequencer and four nodes on
//! 127.0.0.1 port 0 with real SQLite files (the shared `common::Cluster`).
//! A blob is registered on chain, uploaded, confirmed (BLS signatures
//! checked), certified with an aggregate certificate, read back and decoded;
//! bad uploads are refused with typed reasons, one table row each.

mod common;

use blst::min_pk::{PublicKey, Signature};
use common::*;
use walrus_codec::{EncodedBlob, Sliver, SliverType, Symbols};
use walrus_contracts::certificate;
use walrus_types::{error::ErrorReason, node::BlobStatus};

fn blob(config: &walrus_codec::EncodingConfig) -> (Vec<u8>, EncodedBlob) {
    let data: Vec<u8> = (0..20_000u32)
        .map(|i| u8::try_from(i * 7 % 256).expect("byte"))
        .collect();
    let encoded = config.encode(&data).expect("encodes");
    (data, encoded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_confirm_certify_and_read_a_blob() {
    let cluster = Cluster::start("node-flow", 4, 10).await;
    let config = &cluster.config;
    let (data, encoded) = blob(config);
    let blob_id = *encoded.blob_id();
    let metadata = encoded.metadata().metadata();
    let object = cluster.register(blob_id, metadata).await;
    for index in 0..4 {
        cluster
            .upload(index, blob_id, metadata, |pair| encoded.sliver_pair(pair))
            .await;
    }

    // Confirmations verify under each node's key.
    let message =
        certificate::confirmation_message(cluster.nodes[0].shared.view().epoch, &blob_id, None);
    for (index, node) in cluster.nodes.iter().enumerate() {
        let signed = cluster
            .node(index)
            .confirmation(&blob_id, None)
            .await
            .expect("signed");
        assert_eq!(signed.serialized_message, message);
        let signature = Signature::from_bytes(&signed.signature).expect("signature");
        let key = PublicKey::from_bytes(&node.shared.public_key()).expect("key");
        assert_eq!(
            signature.verify(true, &message, certificate::DST, &[], &key, true),
            blst::BLST_ERROR::BLST_SUCCESS
        );
    }
    cluster.certify(object, blob_id, &[0, 1, 2, 3]).await;
    cluster
        .eventually("the nodes see the certification", async || {
            let status = cluster.node(0).blob_status(&blob_id).await;
            matches!(
                status,
                Ok(BlobStatus::Permanent {
                    is_certified: true,
                    ..
                })
            )
        })
        .await;

    // Recovery batches: distinct targets are served; duplicates, which once
    // let a 4 KB request cost a node gigabytes, are refused.
    let batch = |targets: &str| {
        format!("/v1/blobs/{blob_id}/recoverySymbols/batch?targetType=primary&targets={targets}")
    };
    let (answer, _) = cluster
        .node(0)
        .recovery_symbols_batch(&blob_id, SliverType::Primary, &[1, 2], 10)
        .await
        .expect("distinct targets are served");
    assert_eq!(answer.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [1, 2]);
    assert!(answer.iter().all(|(_, symbols)| !symbols.is_empty()));
    let duplicates = vec!["0"; 2000].join(",");
    let response = cluster
        .http
        .get(cluster.url(0, &batch(&duplicates)))
        .send()
        .await
        .expect("get");
    assert_eq!(
        reason(response).await,
        (400, Some(ErrorReason::InvalidArgument)),
        "duplicate recovery targets"
    );

    // Read back: primary slivers from the nodes, verified and decoded.
    let mut primaries = Vec::new();
    for (index, node) in cluster.nodes.iter().enumerate() {
        for shard in node.shared.view().shards {
            let pair = config.pair_for_shard(shard, &blob_id);
            let sliver = cluster
                .node(index)
                .sliver(&blob_id, pair, SliverType::Primary)
                .await
                .expect("sliver served");
            sliver
                .verify(config, encoded.metadata())
                .expect("served sliver verifies");
            primaries.push(sliver);
        }
    }
    let decoded = config.decode(20_000, SliverType::Primary, &primaries);
    assert_eq!(decoded.expect("decodes"), data);
    let health = cluster.node(0).health().await.expect("health");
    assert_eq!(health.stored_blobs, 1);
}

/// One bad request and the refusal it must get.
struct Refused {
    what: &'static str,
    path: String,
    body: Vec<u8>,
    status: u16,
    reason: Option<ErrorReason>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_are_refused_with_typed_reasons() {
    let cluster = Cluster::start("node-refusals", 4, 10).await;
    let config = &cluster.config;
    let (_, encoded) = blob(config);
    let blob_id = *encoded.blob_id();
    let metadata = encoded.metadata().metadata();
    cluster.register(blob_id, metadata).await;
    cluster
        .upload(0, blob_id, metadata, |pair| encoded.sliver_pair(pair))
        .await;

    let shards = cluster.nodes[0].shared.view().shards;
    let foreign_pair = (0..10)
        .find(|p| !shards.contains(&config.shard_for_pair(*p, &blob_id)))
        .expect("a pair held elsewhere");
    let own_pair = config.pair_for_shard(*shards.iter().next().expect("a shard"), &blob_id);
    let (mut corrupted, _): (Sliver, Sliver) = encoded.sliver_pair(own_pair);
    let mut bytes = corrupted.symbols.clone().into_data();
    bytes[0] ^= 1;
    corrupted.symbols = Symbols::new(bytes, corrupted.symbols.symbol_size()).expect("shape");
    let other = config.encode(b"never registered").expect("encodes");
    let bcs = |value: &Sliver| bcs::to_bytes(value).expect("bcs");
    let cases = [
        Refused {
            what: "a sliver of a shard this node does not hold",
            path: format!("/v1/blobs/{blob_id}/slivers/{foreign_pair}/primary"),
            body: bcs(&encoded.sliver_pair(foreign_pair).0),
            status: 400,
            reason: Some(ErrorReason::ShardNotAssigned),
        },
        Refused {
            what: "a sliver that does not match the metadata",
            path: format!("/v1/blobs/{blob_id}/slivers/{own_pair}/primary"),
            body: bcs(&corrupted),
            status: 400,
            reason: Some(ErrorReason::InvalidSliver),
        },
        Refused {
            what: "metadata of an unregistered blob",
            path: format!("/v1/blobs/{}/metadata", other.blob_id()),
            body: bcs::to_bytes(other.metadata().metadata()).expect("bcs"),
            status: 400,
            reason: Some(ErrorReason::NotRegistered),
        },
        Refused {
            // Refused at once, before any wait for a registration.
            what: "metadata that does not match the blob ID in the path",
            path: format!("/v1/blobs/{}/metadata", other.blob_id()),
            body: bcs::to_bytes(metadata).expect("bcs"),
            status: 400,
            reason: Some(ErrorReason::InvalidMetadata),
        },
        Refused {
            what: "a batch body that is not BCS",
            path: format!("/v1/blobs/{blob_id}/slivers"),
            body: vec![7u8; 100],
            status: 400,
            reason: Some(ErrorReason::InvalidBody),
        },
    ];
    for case in cases {
        let response = cluster
            .http
            .put(cluster.url(0, &case.path))
            .body(case.body)
            .send()
            .await
            .expect("put");
        assert_eq!(
            reason(response).await,
            (case.status, case.reason),
            "{}",
            case.what
        );
    }
    let missing = cluster
        .node(0)
        .sliver(other.blob_id(), 0, SliverType::Primary)
        .await;
    assert!(
        missing.is_err_and(|e| e.is_not_found()),
        "an unknown sliver is a 404"
    );
    let host = cluster.nodes[0].address.to_string();
    let path = format!("/v1/blobs/{blob_id}/slivers");
    assert_eq!(
        status_for_declared_length(&host, &path, "PUT", 5 << 20).await,
        413,
        "a body over the limit is refused by its declared length"
    );
    // Uploads within the body limit are still refused from the path and
    // headers alone, before the body is sent: an unregistered blob, and a
    // declared length over what this node's slivers of the blob can take
    // (issue 21, failure 2; before, the node waited for and buffered it).
    let cases = [
        (format!("/v1/blobs/{}/slivers", other.blob_id()), 400),
        (path.clone(), 413),
        (format!("/v1/blobs/{blob_id}/slivers/0/primary"), 413),
    ];
    for (path, expected) in cases {
        let status = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            status_for_declared_length(&host, &path, "PUT", 3 << 20),
        )
        .await
        .expect("refused without reading the body");
        assert_eq!(status, expected, "{path}");
    }
}
