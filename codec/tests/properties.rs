//! Property tests: any sufficient subset of slivers decodes, any sliver is
//! recovered from any sufficient set of symbols, corruption is caught with a
//! typed error, and mutated or truncated wire bytes never cause a panic.

use proptest::prelude::*;
use walrus_codec::{
    BlobMetadata, BlobMetadataV1, EncodedBlob, EncodingConfig, InconsistencyProof, RecoverySymbol,
    Sliver, SliverPairMetadata, SliverRef, SliverType, UnverifiedBlobMetadataWithId,
    VerifiedBlobMetadataWithId,
    error::{DecodeError, MetadataVerificationError, RecoveryError, SliverVerificationError},
    recover_sliver,
};

const SHARD_COUNTS: [u16; 4] = [4, 7, 10, 13];

fn config(n: u16) -> EncodingConfig {
    EncodingConfig::new(n).expect("valid shard count")
}

fn blob_strategy() -> impl Strategy<Value = (u16, Vec<u8>)> {
    (
        prop::sample::select(SHARD_COUNTS.to_vec()),
        prop::collection::vec(any::<u8>(), 0..3000),
    )
}

fn indices(n: u16) -> Vec<u16> {
    (0..n).collect()
}

fn size(blob: &[u8]) -> u64 {
    u64::try_from(blob.len()).expect("fits")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_p_primary_or_s_secondary_slivers_decode(
        (n, blob) in blob_strategy(),
        order in Just(indices(13)).prop_shuffle(),
    ) {
        let config = config(n);
        let encoded = config.encode(&blob).expect("encodes");
        for sliver_type in [SliverType::Primary, SliverType::Secondary] {
            let k = usize::from(config.slivers_needed_to_decode(sliver_type));
            // A uniformly random k-subset of 0..n, in random order.
            let chosen: Vec<u16> = order.iter().copied().filter(|i| *i < n).take(k).collect();
            let slivers: Vec<Sliver> = chosen.iter().map(|i| encoded.sliver(sliver_type, *i)).collect();
            let decoded = config.decode(size(&blob), sliver_type, &slivers).expect("decodes");
            prop_assert_eq!(&decoded, &blob);
            let strict = config.decode_and_verify(encoded.metadata(), sliver_type, &slivers).expect("consistent");
            prop_assert_eq!(&strict, &blob);
            // Borrowed slivers serialize to the owned slivers' bytes.
            let bytes: Vec<_> = chosen.iter().map(|i| encoded.sliver_bytes(sliver_type, *i)).collect();
            let borrowed: Vec<SliverRef<'_>> = chosen.iter().zip(&bytes).map(|(i, bytes)| {
                SliverRef::new(sliver_type, *i, bytes, encoded.symbol_size()).expect("whole symbols")
            }).collect();
            prop_assert_eq!(bcs::to_bytes(&borrowed).expect("bcs"), bcs::to_bytes(&slivers).expect("bcs"));
            let too_few = config.decode(size(&blob), sliver_type, &slivers[1..]);
            let is_not_enough = matches!(too_few, Err(DecodeError::NotEnoughSlivers { .. }));
            prop_assert!(is_not_enough);
        }
    }

    #[test]
    fn any_sliver_is_recovered_from_any_sufficient_symbols(
        (n, blob) in blob_strategy(),
        target_seed in any::<u16>(),
        sources in any::<prop::sample::Index>(),
    ) {
        let config = config(n);
        let encoded = config.encode(&blob).expect("encodes");
        let metadata = encoded.metadata();
        for target_type in [SliverType::Primary, SliverType::Secondary] {
            let target = target_seed % n;
            let k = usize::from(config.symbols_per_sliver(target_type));
            // A window of k source slivers starting at a random offset (wrapping).
            let start = sources.index(usize::from(n));
            let chosen: Vec<u16> = (0..k).map(|i| u16::try_from((start + i) % usize::from(n)).expect("below n")).collect();
            let symbols: Vec<RecoverySymbol> = chosen
                .iter()
                .map(|source| {
                    let sliver = encoded.sliver(target_type.orthogonal(), *source);
                    sliver.recovery_symbols(&config, &[target]).expect("target in range").remove(0)
                })
                .collect();
            for symbol in &symbols {
                symbol.verify(&config, metadata, target_type, target).expect("valid proof");
            }
            let pairs: Vec<(u16, &[u8])> = symbols.iter().map(|s| (s.source_index, s.data.as_slice())).collect();
            let recovered = recover_sliver(&config, metadata, target_type, target, &pairs).expect("recovers");
            prop_assert_eq!(recovered, encoded.sliver(target_type, target));
            // The proof-free fast path returns the same bytes.
            let fast = encoded.sliver(target_type.orthogonal(), chosen[0])
                .recovery_symbol_data(&config, &[target]).expect("target in range");
            prop_assert_eq!(&fast[0], &symbols[0].data);
            // An honest blob yields no inconsistency proof.
            let proof = InconsistencyProof { target_index: target, symbols };
            prop_assert_eq!(proof.verify(&config, metadata, target_type), Err(RecoveryError::NotInconsistent));
        }
    }

    #[test]
    fn corrupted_slivers_symbols_and_metadata_are_rejected(
        (n, blob) in blob_strategy(),
        index_seed in any::<u16>(),
        byte in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let config = config(n);
        let encoded = config.encode(&blob).expect("encodes");
        let metadata = encoded.metadata();
        let index = index_seed % n;
        for sliver_type in [SliverType::Primary, SliverType::Secondary] {
            let mut sliver = encoded.sliver(sliver_type, index);
            let mut data = sliver.symbols.clone().into_data();
            let at = byte.index(data.len());
            data[at] ^= flip;
            sliver.symbols = walrus_codec::Symbols::new(data, sliver.symbols.symbol_size()).expect("same shape");
            prop_assert_eq!(
                sliver.verify(&config, metadata),
                Err(SliverVerificationError::HashMismatch { sliver_type, index })
            );

            let target = (index + 1) % n;
            let mut symbol = sliver_of(&encoded, sliver_type.orthogonal(), index)
                .recovery_symbols(&config, &[target]).expect("in range").remove(0);
            let at = byte.index(symbol.data.len());
            symbol.data[at] ^= flip;
            prop_assert_eq!(
                symbol.verify(&config, metadata, sliver_type, target),
                Err(RecoveryError::InvalidProof { source_index: index })
            );
        }
        let mut hashes = metadata.metadata().hashes().to_vec();
        let pair = usize::from(index);
        let mut digest = hashes[pair].primary_hash.bytes();
        digest[byte.index(32)] ^= flip;
        hashes[pair].primary_hash = walrus_codec::Node::Digest(digest);
        let tampered = UnverifiedBlobMetadataWithId::new(*metadata.blob_id(), with_hashes(metadata, hashes));
        let is_mismatch = matches!(tampered.verify(&config), Err(MetadataVerificationError::BlobIdMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    #[test]
    fn verifying_many_slivers_equals_verifying_each(
        (n, blob) in blob_strategy(),
        corrupt in prop::collection::vec(any::<bool>(), 26),
        byte in any::<prop::sample::Index>(),
    ) {
        let config = config(n);
        let encoded = config.encode(&blob).expect("encodes");
        let metadata = encoded.metadata();
        let mut slivers = Vec::new();
        for index in indices(n) {
            for sliver_type in [SliverType::Primary, SliverType::Secondary] {
                slivers.push(sliver_of(&encoded, sliver_type, index));
            }
        }
        for (sliver, corrupt) in slivers.iter_mut().zip(&corrupt) {
            if *corrupt {
                let mut data = sliver.symbols.clone().into_data();
                let at = byte.index(data.len());
                data[at] ^= 0x5a;
                sliver.symbols = walrus_codec::Symbols::new(data, sliver.symbols.symbol_size()).expect("same shape");
            }
        }
        // One of another shape, which must fail on its own without hashing.
        let mut short = slivers[0].clone();
        short.symbols = walrus_codec::Symbols::new(vec![0; usize::from(short.symbols.symbol_size())], short.symbols.symbol_size()).expect("one symbol");
        slivers.push(short);
        let refs: Vec<&Sliver> = slivers.iter().collect();
        let many = Sliver::verify_many(&refs, &config, metadata);
        prop_assert_eq!(many.len(), slivers.len());
        for (i, (sliver, result)) in slivers.iter().zip(&many).enumerate() {
            prop_assert_eq!(result, &sliver.verify(&config, metadata));
            let valid = i < 2 * usize::from(n) && !corrupt[i];
            prop_assert_eq!(result.is_ok(), valid, "sliver {}", i);
        }
    }

    #[test]
    fn mutated_or_truncated_wire_bytes_never_panic(
        (n, blob) in blob_strategy(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..,
    ) {
        let config = config(n);
        let encoded = config.encode(&blob).expect("encodes");
        let metadata = encoded.metadata();
        let sliver = encoded.sliver(SliverType::Secondary, 0);
        let symbols = encoded.sliver(SliverType::Primary, 1).recovery_symbols(&config, &[0]).expect("in range");
        let proof = InconsistencyProof { target_index: 0, symbols: symbols.clone() };
        let wire = [
            bcs::to_bytes(&sliver).expect("serializes"),
            bcs::to_bytes(metadata.metadata()).expect("serializes"),
            bcs::to_bytes(&symbols[0]).expect("serializes"),
            bcs::to_bytes(&proof).expect("serializes"),
        ];
        for bytes in wire {
            let mut mutated = bytes.clone();
            let i = at.index(mutated.len());
            mutated[i] ^= flip;
            let truncated = &bytes[..cut.index(bytes.len())];
            for input in [mutated.as_slice(), truncated] {
                // The borrowing decoder accepts exactly what the owning one does.
                match (bcs::from_bytes::<Sliver>(input), bcs::from_bytes::<SliverRef<'_>>(input)) {
                    (Ok(owned), Ok(borrowed)) => prop_assert_eq!(owned.to_ref(), borrowed),
                    (Err(_), Err(_)) => {}
                    (owned, borrowed) => prop_assert!(false, "owned {:?}, borrowed {:?}", owned.is_ok(), borrowed.is_ok()),
                }
                if let Ok(sliver) = bcs::from_bytes::<Sliver>(input) {
                    let _ = sliver.verify(&config, metadata);
                    let _ = config.decode(size(&blob), sliver.sliver_type, [&sliver]);
                }
                if let Ok(parsed) = bcs::from_bytes::<BlobMetadata>(input) {
                    let _ = UnverifiedBlobMetadataWithId::new(*metadata.blob_id(), parsed).verify(&config);
                }
                if let Ok(symbol) = bcs::from_bytes::<RecoverySymbol>(input) {
                    let _ = symbol.verify(&config, metadata, SliverType::Secondary, 0);
                }
                if let Ok(proof) = bcs::from_bytes::<InconsistencyProof>(input) {
                    let _ = proof.verify(&config, metadata, SliverType::Secondary);
                }
            }
        }
    }
}

fn sliver_of(encoded: &EncodedBlob, sliver_type: SliverType, index: u16) -> Sliver {
    encoded.sliver(sliver_type, index)
}

fn with_hashes(
    metadata: &VerifiedBlobMetadataWithId,
    hashes: Vec<SliverPairMetadata>,
) -> BlobMetadata {
    BlobMetadata::V1(BlobMetadataV1 {
        encoding_type: metadata.metadata().encoding_type(),
        unencoded_length: metadata.metadata().unencoded_length(),
        hashes,
    })
}

/// A writer that mixes the row hashes of one blob with the column hashes of
/// another produces metadata every single sliver matches, yet recovery fails;
/// the resulting inconsistency proof verifies.
#[test]
fn inconsistent_blob_yields_a_verifiable_inconsistency_proof() {
    for n in SHARD_COUNTS {
        let config = config(n);
        let a = config.encode(&vec![1u8; 2000]).expect("encodes");
        let b = config.encode(&vec![2u8; 2000]).expect("encodes");
        let hashes = (0..n)
            .map(|i| SliverPairMetadata {
                primary_hash: a.metadata().metadata().hashes()[usize::from(i)].primary_hash,
                secondary_hash: b.metadata().metadata().hashes()[usize::from(i)].secondary_hash,
            })
            .collect();
        let mixed = with_hashes(a.metadata(), hashes);
        let metadata = UnverifiedBlobMetadataWithId::new(mixed.compute_blob_id(), mixed)
            .verify(&config)
            .expect("self-consistent metadata");
        for target_type in [SliverType::Primary, SliverType::Secondary] {
            // The target comes from one blob, the sources from the other.
            let source_blob = if target_type == SliverType::Primary {
                &b
            } else {
                &a
            };
            let k = config.symbols_per_sliver(target_type);
            let symbols: Vec<RecoverySymbol> = (0..k)
                .map(|source| {
                    source_blob
                        .sliver(target_type.orthogonal(), source)
                        .recovery_symbols(&config, &[0])
                        .expect("in range")
                        .remove(0)
                })
                .collect();
            let pairs: Vec<(u16, &[u8])> = symbols
                .iter()
                .map(|s| (s.source_index, s.data.as_slice()))
                .collect();
            assert_eq!(
                recover_sliver(&config, &metadata, target_type, 0, &pairs),
                Err(RecoveryError::RecoveredHashMismatch {
                    sliver_type: target_type,
                    index: 0
                })
            );
            let proof = InconsistencyProof {
                target_index: 0,
                symbols,
            };
            assert_eq!(
                proof.verify(&config, &metadata, target_type),
                Ok(()),
                "n={n} {target_type}"
            );
            let short = InconsistencyProof {
                target_index: 0,
                symbols: proof.symbols[1..].to_vec(),
            };
            assert!(matches!(
                short.verify(&config, &metadata, target_type),
                Err(RecoveryError::WrongProofSize { .. })
            ));
        }
    }
}

#[test]
fn many_small_slivers_at_n_1000_verify_together() {
    // A 1 KiB blob at n = 1000 has 2-byte symbols: the grouped expansion.
    let config = config(1000);
    let blob: Vec<u8> = (0..1024u32)
        .map(|i| u8::try_from(i * 7 % 256).expect("below 256"))
        .collect();
    let encoded = config.encode(&blob).expect("encodes");
    let mut slivers: Vec<Sliver> = (0..70)
        .flat_map(|i| {
            [SliverType::Primary, SliverType::Secondary].map(|t| sliver_of(&encoded, t, i * 13))
        })
        .collect();
    let mut data = slivers[77].symbols.clone().into_data();
    data[5] ^= 1;
    slivers[77].symbols = walrus_codec::Symbols::new(data, 2).expect("same shape");
    let refs: Vec<&Sliver> = slivers.iter().collect();
    let results = Sliver::verify_many(&refs, &config, encoded.metadata());
    for (i, result) in results.iter().enumerate() {
        if i == 77 {
            assert!(matches!(
                result,
                Err(SliverVerificationError::HashMismatch { .. })
            ));
        } else {
            assert_eq!(result, &Ok(()), "sliver {i}");
        }
    }
}

#[test]
fn sizes_at_the_edges() {
    for n in SHARD_COUNTS {
        let config = config(n);
        let max = usize::try_from(config.max_blob_size()).expect("small n");
        for len in [0, 1, max] {
            let blob: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i % 253).expect("below 253"))
                .collect();
            let encoded = config.encode(&blob).expect("encodes");
            let slivers: Vec<Sliver> = (0..config.n_primary_source_symbols())
                .map(|i| encoded.sliver(SliverType::Primary, n - 1 - i))
                .collect();
            assert_eq!(
                config
                    .decode(size(&blob), SliverType::Primary, &slivers)
                    .expect("decodes"),
                blob
            );
        }
        let too_large = vec![0u8; max + 1];
        let error = config.encode(&too_large).expect_err("one byte too many");
        assert_eq!(error.max_blob_size, config.max_blob_size());
        assert!(
            error
                .to_string()
                .contains(&config.max_blob_size().to_string())
        );
        assert!(config.compute_metadata(&too_large).is_err());
    }
}

/// The first `p` primary slivers are the blob's rows, zero-padded, and the
/// first `s` secondary slivers their columns: the owned encoder serves
/// whole rows from the blob itself and the rest from its own buffer,
/// gathers the columns, and both encoders agree.
#[test]
fn the_first_primary_slivers_are_the_blobs_rows() {
    let config = config(10);
    let p = usize::from(config.n_primary_source_symbols());
    for len in [0usize, 1, 700, 1999, 4000, 4001, 12_000] {
        let blob: Vec<u8> = (0..len)
            .map(|i| u8::try_from(i * 7 % 251).expect("below 251"))
            .collect();
        let owned = config.encode_owned(blob.clone()).expect("encodes");
        let borrowed = config.encode(&blob).expect("encodes");
        let row_bytes = owned.sliver_len(SliverType::Primary);
        let mut padded = blob.clone();
        padded.resize(p * row_bytes, 0);
        for (i, row) in padded.chunks_exact(row_bytes).enumerate() {
            let index = u16::try_from(i).expect("i < p");
            assert_eq!(
                *owned.sliver_bytes(SliverType::Primary, index),
                *row,
                "{len} bytes, row {i}"
            );
        }
        // Secondary sliver `j < s` is column `j` of the padded rows.
        let symbol_size = usize::from(owned.symbol_size());
        for j in 0..usize::from(config.n_secondary_source_symbols()) {
            let column: Vec<u8> = padded
                .chunks_exact(row_bytes)
                .flat_map(|row| &row[j * symbol_size..][..symbol_size])
                .copied()
                .collect();
            let index = u16::try_from(j).expect("j < s");
            assert_eq!(
                *owned.sliver_bytes(SliverType::Secondary, index),
                *column,
                "{len} bytes, column {j}"
            );
        }
        for sliver_type in [SliverType::Primary, SliverType::Secondary] {
            for index in 0..config.n_shards() {
                assert_eq!(
                    owned.sliver_bytes(sliver_type, index),
                    borrowed.sliver_bytes(sliver_type, index)
                );
            }
        }
        assert_eq!(owned.metadata(), borrowed.metadata());
    }
}

#[test]
fn decode_rejects_mixed_and_misshapen_slivers() {
    let config = config(7);
    let encoded = config.encode(b"hello walrus").expect("encodes");
    let primary = encoded.sliver(SliverType::Primary, 0);
    let secondary = encoded.sliver(SliverType::Secondary, 0);
    assert_eq!(
        config.decode(12, SliverType::Primary, [&primary, &secondary]),
        Err(DecodeError::WrongSliverType {
            expected: SliverType::Primary,
            actual: SliverType::Secondary
        })
    );
    let mut out_of_range = primary.clone();
    out_of_range.index = 7;
    assert!(matches!(
        config.decode(12, SliverType::Primary, [&out_of_range]),
        Err(DecodeError::InvalidSliver(
            SliverVerificationError::IndexOutOfRange {
                index: 7,
                n_shards: 7
            }
        ))
    ));
    // A claimed blob size with another symbol size does not fit the slivers.
    assert!(matches!(
        config.decode(1_000_000, SliverType::Primary, [&primary]),
        Err(DecodeError::InvalidSliver(
            SliverVerificationError::SymbolSizeMismatch { .. }
        )) | Err(DecodeError::DataTooLarge(_))
    ));
}

#[test]
fn metadata_used_with_another_shard_count_is_an_error_not_a_panic() {
    let small = config(7);
    let large = config(13);
    let encoded = small.encode(&[5u8; 100]).expect("encodes");
    let metadata = encoded.metadata();
    let mut sliver = encoded.sliver(SliverType::Primary, 0);
    sliver.index = 12; // valid for 13 shards, not for the metadata's 7
    assert!(matches!(
        sliver.verify(&large, metadata),
        Err(SliverVerificationError::ConfigMismatch { .. })
    ));
    let symbol = RecoverySymbol {
        source_index: 12,
        data: vec![0; 2],
        proof: walrus_codec::merkle::MerkleProof { path: vec![] },
    };
    assert!(matches!(
        symbol.verify(&large, metadata, SliverType::Primary, 0),
        Err(RecoveryError::ConfigMismatch { .. })
    ));
    assert!(matches!(
        recover_sliver(&large, metadata, SliverType::Primary, 12, &[]),
        Err(RecoveryError::ConfigMismatch { .. })
    ));
}

#[test]
fn metadata_with_an_empty_hash_is_rejected() {
    let config = config(4);
    let encoded = config.encode(&[1u8; 10]).expect("encodes");
    let mut hashes = encoded.metadata().metadata().hashes().to_vec();
    hashes[2].secondary_hash = walrus_codec::Node::Empty;
    let metadata = with_hashes(encoded.metadata(), hashes);
    let unverified = UnverifiedBlobMetadataWithId::new(metadata.compute_blob_id(), metadata);
    assert_eq!(
        unverified.verify(&config),
        Err(MetadataVerificationError::EmptyHash(2))
    );
}

#[test]
fn bcs_round_trips() {
    let config = config(10);
    let encoded = config.encode(&[7u8; 500]).expect("encodes");
    let sliver = encoded.sliver(SliverType::Secondary, 3);
    let bytes = bcs::to_bytes(&sliver).expect("serializes");
    assert_eq!(bytes[0], 1, "secondary is enum tag 1");
    assert_eq!(bcs::from_bytes::<Sliver>(&bytes).expect("parses"), sliver);
    let borrowed: SliverRef<'_> = bcs::from_bytes(&bytes).expect("parses borrowed");
    assert_eq!(borrowed, sliver.to_ref());
    assert_eq!(bcs::to_bytes(&borrowed).expect("serializes"), bytes);
    let batch = vec![sliver.clone(), encoded.sliver(SliverType::Primary, 4)];
    let bytes = bcs::to_bytes(&batch).expect("serializes");
    let borrowed: Vec<SliverRef<'_>> = bcs::from_bytes(&bytes).expect("parses borrowed");
    assert_eq!(borrowed, vec![batch[0].to_ref(), batch[1].to_ref()]);
    let metadata = encoded.metadata().metadata();
    let bytes = bcs::to_bytes(metadata).expect("serializes");
    assert_eq!(&bytes[..2], &[0, 1], "V1 tag then RS2 tag");
    assert_eq!(
        &bcs::from_bytes::<BlobMetadata>(&bytes).expect("parses"),
        metadata
    );
    let mut wrong_type = bytes.clone();
    wrong_type[1] = 0;
    assert!(bcs::from_bytes::<BlobMetadata>(&wrong_type).is_err());
}
