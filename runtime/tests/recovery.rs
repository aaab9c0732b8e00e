//! Write completeness and inconsistency handling across real nodes: a node
//! that missed its slivers recovers them after certification and serves
//! them; a blob whose slivers are each valid but not one codeword ends
//! invalidated on chain, and its data is deleted everywhere.

mod common;

use common::*;
use walrus_codec::{
    BlobMetadata, BlobMetadataV1, SliverPairMetadata, SliverType, UnverifiedBlobMetadataWithId,
};
use walrus_types::node::{BlobStatus, StoredStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_its_slivers_recovers_them() {
    let cluster = Cluster::start("recover", 4, 10).await;
    let data: Vec<u8> = (0..50_000u32)
        .map(|i| u8::try_from(i * 13 % 251).expect("byte"))
        .collect();
    let encoded = cluster.config.encode(&data).expect("encodes");
    let blob_id = *encoded.blob_id();
    let metadata = encoded.metadata().metadata().clone();
    let object = cluster.register(blob_id, &metadata).await;
    // The lightest node gets nothing; the other three hold a quorum.
    let order = cluster.by_weight();
    let (missed, uploaded) = (order[0], &order[1..]);
    for index in uploaded {
        cluster
            .upload(*index, blob_id, &metadata, |pair| encoded.sliver_pair(pair))
            .await;
    }
    cluster.certify(object, blob_id, uploaded).await;

    let pairs = cluster.pairs_of(missed, &blob_id);
    cluster
        .eventually("the node recovers its slivers", async || {
            let mut complete = true;
            for pair in &pairs {
                for kind in [SliverType::Primary, SliverType::Secondary] {
                    let status = cluster
                        .node(missed)
                        .sliver_status(&blob_id, *pair, kind)
                        .await;
                    complete &= matches!(status, Ok(StoredStatus::Stored));
                }
            }
            complete
        })
        .await;
    for pair in &pairs {
        let sliver = cluster
            .node(missed)
            .sliver(&blob_id, *pair, SliverType::Primary)
            .await
            .expect("recovered sliver served");
        assert_eq!(
            sliver,
            encoded.sliver_pair(*pair).0,
            "recovered sliver differs"
        );
    }
    // Recovery downloads about one sliver's worth per sliver (target: at most 1.2x).
    let metrics = &cluster.nodes[missed].shared.metrics;
    let (downloaded, recovered) = (
        metrics.recovery_bytes_downloaded.get(),
        metrics.recovery_bytes_recovered.get(),
    );
    assert!(
        recovered > 0 && downloaded > 0,
        "downloaded {downloaded}, recovered {recovered}"
    );
    let ratio = downloaded as f64 / recovered as f64;
    assert!(
        ratio <= 1.2,
        "recovery downloaded {downloaded} bytes for {recovered} bytes of slivers ({ratio:.2}x)"
    );
    assert!(
        metrics
            .render()
            .contains("walrus_node_slivers_recovered_total")
    );
    // It can now confirm, like every other node.
    let confirmation = cluster.node(missed).confirmation(&blob_id, None).await;
    assert!(confirmation.is_ok(), "{confirmation:?}");

    // Another node's sliver file is cut in half on disk: its scrubber finds
    // the unreadable slivers, drops them and recovery rebuilds them; health
    // and metrics say so (issue 21, failure 11; before, it answered 500
    // for them forever).
    let damaged = uploaded[0];
    let file = cluster
        .dir
        .join(format!("node-{damaged}.db-slivers"))
        .join(blob_id.to_string());
    let length = std::fs::metadata(&file).expect("sliver file").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(length / 2))
        .expect("truncate");
    let damaged_pairs = cluster.pairs_of(damaged, &blob_id);
    cluster
        .eventually("the damaged node serves every sliver again", async || {
            let mut whole = true;
            for pair in &damaged_pairs {
                let (primary, secondary) = encoded.sliver_pair(*pair);
                let node = cluster.node(damaged);
                whole &=
                    node.sliver(&blob_id, *pair, SliverType::Primary).await.ok() == Some(primary);
                whole &= node
                    .sliver(&blob_id, *pair, SliverType::Secondary)
                    .await
                    .ok()
                    == Some(secondary);
            }
            whole
        })
        .await;
    let health = cluster.node(damaged).health().await.expect("health");
    assert!(health.scrub.bad > 0, "{:?}", health.scrub);
    assert!(health.scrub.checked >= health.scrub.bad);
    let metrics = cluster.nodes[damaged].shared.metrics.render();
    assert!(
        metrics.contains("walrus_node_scrub_slivers_bad_total"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconsistent_blob_ends_invalidated_on_chain() {
    let cluster = Cluster::start("inconsistent", 4, 10).await;
    // Rows of one blob, columns of another: every sliver matches the mixed
    // metadata on its own, but together they are not one codeword.
    let a = cluster.config.encode(&vec![1u8; 30_000]).expect("encodes");
    let b = cluster.config.encode(&vec![2u8; 30_000]).expect("encodes");
    let hashes = (0..10)
        .map(|i| SliverPairMetadata {
            primary_hash: a.metadata().metadata().hashes()[i].primary_hash,
            secondary_hash: b.metadata().metadata().hashes()[i].secondary_hash,
        })
        .collect();
    let metadata = BlobMetadata::V1(BlobMetadataV1 {
        encoding_type: walrus_codec::EncodingType::Rs2,
        unencoded_length: 30_000,
        hashes,
    });
    let blob_id = metadata.compute_blob_id();
    UnverifiedBlobMetadataWithId::new(blob_id, metadata.clone())
        .verify(&cluster.config)
        .expect("mixed metadata verifies");
    let object = cluster.register(blob_id, &metadata).await;
    let order = cluster.by_weight();
    let (missed, uploaded) = (order[0], &order[1..]);
    let slivers = |pair: u16| {
        (
            a.sliver(SliverType::Primary, pair),
            b.sliver(
                SliverType::Secondary,
                cluster.config.secondary_sliver_of_pair(pair),
            ),
        )
    };
    for index in uploaded {
        cluster.upload(*index, blob_id, &metadata, slivers).await;
    }
    cluster.certify(object, blob_id, uploaded).await;

    // The node that missed its slivers finds the inconsistency while
    // recovering; f+1 signatures invalidate the blob ID on chain.
    cluster
        .eventually("every node reports the blob invalid", async || {
            let mut all = true;
            for index in 0..cluster.nodes.len() {
                let status = cluster.node(index).blob_status(&blob_id).await;
                all &= matches!(status, Ok(BlobStatus::Invalid {}));
            }
            all
        })
        .await;
    for index in uploaded {
        let status = cluster.node(*index).metadata_status(&blob_id).await;
        assert_eq!(
            status.expect("status"),
            StoredStatus::Nonexistent,
            "data of an invalid blob must be deleted"
        );
    }
    let _ = missed;
}
