//! The client SDK against in-process clusters.
//!
//! The Byzantine nemesis (issue 21): two of seven nodes (at most 30 of the
//! 100 shards, within f = 33) turn faulty in turn, silent, slow, corrupting
//! or cutting off their replies, during a stream of stores and reads by the
//! client SDK. Invariants: every store succeeds and reads back
//! byte-identical; no store or read waits on a faulty node past its
//! deadline. Not covered by a proxy: valid-looking data of another blob
//! and confirmations signed for data a node does not hold.

mod common;

use std::time::Duration;

use common::{Cluster, nemesis::Fault};
use walrus_client::{
    Client, ClientConfig, ConsistencyCheck, StoreOptions, StoreResult, config::CommunicationConfig,
};
use walrus_types::publisher::ResourceOperation;

/// An SDK client of `cluster`'s chain, signing with its funded account.
fn sdk(cluster: &Cluster, communication: CommunicationConfig) -> Client {
    let config = ClientConfig {
        chain_url: cluster.chain_url.clone(),
        wallet: None,
        publisher_url: None,
        indexer_url: None,
        genesis: None,
        communication,
    };
    Client::new(config)
        .expect("client")
        .with_wallet(cluster.secrets.accounts[0].clone())
}

/// A store interrupted after its registration (the registration is made
/// here, as the interrupted store made it) is finished by the next store
/// of the same blob with that registration: nothing is bought again
/// (issue 21, failure 7; upstream's `reuseRegistration`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_store_is_finished_without_paying_again() {
    let cluster = Cluster::start("sdk-reuse", 4, 10).await;
    let data = walrus_codec::pseudo_random_bytes(20_000, 9);
    let encoded = cluster.config.encode(&data).expect("encodes");
    let object = cluster
        .register(*encoded.blob_id(), encoded.metadata().metadata())
        .await;
    let client = sdk(&cluster, CommunicationConfig::default());
    let options = StoreOptions {
        epochs: 2,
        deletable: false,
        force: false,
    };
    let outcome = client.store(data.clone(), &options).await.expect("store");
    let StoreResult::NewlyCreated {
        blob_object,
        resource_operation,
        cost,
    } = outcome.result
    else {
        panic!("not newly created: {:?}", outcome.result)
    };
    assert_eq!(
        blob_object.id, object,
        "the registered object was certified"
    );
    assert!(blob_object.certified_epoch.is_some());
    assert!(
        matches!(
            resource_operation,
            ResourceOperation::ReuseRegistration { .. }
        ),
        "{resource_operation:?}"
    );
    assert_eq!(cost, 0);
    let read = client
        .read(&outcome.blob_id, ConsistencyCheck::Default)
        .await
        .expect("read");
    assert!(read == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_reads_hold_while_f_nodes_misbehave() {
    let (cluster, nemeses) = Cluster::start_with_nemesis("nemesis", 7, 100, &[5, 6]).await;
    let faulty_shards: usize = [5, 6]
        .iter()
        .map(|i| cluster.nodes[*i].shared.view().shards.len())
        .sum();
    assert!(faulty_shards <= 33, "{faulty_shards} shards are faulty");
    let client = sdk(
        &cluster,
        CommunicationConfig {
            request_timeout_ms: 5_000,
            request_attempts: 2,
            retry_base_delay_ms: 50,
            metadata_timeout_ms: 1_000,
            sliver_timeout_ms: 3_000,
            hedge_delay_ms: 200,
            ..CommunicationConfig::default()
        },
    );
    let options = StoreOptions {
        epochs: 2,
        deletable: true,
        force: false,
    };
    let schedule = [
        (Fault::Silent, Fault::Corrupt),
        (Fault::Slow, Fault::Cut),
        (Fault::Corrupt, Fault::Silent),
        (Fault::Cut, Fault::Slow),
    ];
    let deadline = Duration::from_secs(30);
    for (round, (first, second)) in schedule.into_iter().enumerate() {
        nemeses[0].set(first);
        nemeses[1].set(second);
        for blob in 0..2u64 {
            let seed = u64::try_from(round).expect("small") * 2 + blob;
            let data = walrus_codec::pseudo_random_bytes(
                30_000 + 5_000 * usize::try_from(seed).expect("small"),
                seed,
            );
            let stored = tokio::time::timeout(deadline, client.store(data.clone(), &options))
                .await
                .unwrap_or_else(|_| panic!("a store with {first:?}/{second:?} nodes ran past 30 s"))
                .unwrap_or_else(|e| panic!("a store with {first:?}/{second:?} nodes failed: {e}"));
            let read = tokio::time::timeout(
                deadline,
                client.read(&stored.blob_id, ConsistencyCheck::Default),
            )
            .await
            .unwrap_or_else(|_| panic!("a read with {first:?}/{second:?} nodes ran past 30 s"))
            .unwrap_or_else(|e| panic!("a read with {first:?}/{second:?} nodes failed: {e}"));
            assert!(read == data, "blob {} read back differs", stored.blob_id);
        }
    }
}
