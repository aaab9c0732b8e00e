//! Reproduces every line of `../shared/test-vectors/rs2-known-answers.txt`
//! (upstream Walrus's encoder output), through both the full encoder and the
//! metadata-only path.

use walrus_codec::{EncodingConfig, SliverType};

const VECTORS: &str = include_str!("data/rs2-known-answers.txt");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
        .unwrap_or_else(|| panic!("field {name} missing in {line}"))
}

fn blob(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i % 251).expect("below 251"))
        .collect()
}

#[test]
fn every_known_answer_is_reproduced() {
    let mut checked = 0;
    for line in VECTORS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let n: u16 = field(line, "n").parse().expect("n");
        let len: usize = field(line, "len").parse().expect("len");
        let config = EncodingConfig::new(n).expect("valid n");
        let data = blob(len);
        let blob_size = u64::try_from(len).expect("fits");
        assert_eq!(
            config.symbol_size(blob_size).expect("fits").to_string(),
            field(line, "symbol_size"),
            "{line}"
        );

        let encoded = config.encode(&data).expect("encodes");
        let metadata = encoded.metadata();
        assert_eq!(
            metadata.blob_id().to_string(),
            field(line, "blob_id"),
            "{line}"
        );
        assert_eq!(hex(&metadata.blob_id().0), field(line, "hex"), "{line}");
        assert_eq!(
            hex(&metadata.metadata().root().bytes()),
            field(line, "root"),
            "{line}"
        );
        let pair0 = metadata.metadata().hashes()[0];
        assert_eq!(
            hex(&pair0.primary_hash.bytes()),
            field(line, "pair0_primary"),
            "{line}"
        );
        assert_eq!(
            hex(&pair0.secondary_hash.bytes()),
            field(line, "pair0_secondary"),
            "{line}"
        );
        let shard = config.shard_for_pair(0, metadata.blob_id());
        assert_eq!(shard.to_string(), field(line, "shard_of_pair0"), "{line}");
        assert_eq!(config.pair_for_shard(shard, metadata.blob_id()), 0);

        let metadata_only = config.compute_metadata(&data).expect("encodes");
        assert_eq!(&metadata_only, metadata, "{line}");

        // The slivers of the full encoding verify against the metadata.
        for index in [0, n / 2, n - 1] {
            for sliver_type in [SliverType::Primary, SliverType::Secondary] {
                encoded
                    .sliver(sliver_type, index)
                    .verify(&config, metadata)
                    .expect("verifies");
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} vectors found");
}
