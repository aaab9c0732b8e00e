//! Tests of the AVX-512 encoder against the library and its naive engine.

use proptest::prelude::*;
use reed_solomon_simd::{
    ReedSolomonEncoder,
    engine::Naive,
    rate::{DefaultRateEncoder, RateEncoder},
};

use super::*;
use crate::rs::Expander;

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    crate::pseudo_random_bytes(len, seed)
}

/// The encoders this CPU can run: with nibble lookups and, where the
/// CPU has GFNI, with affine transforms; none without AVX-512.
fn encoders() -> Vec<Avx512Encoder> {
    let mut encoders: Vec<Avx512Encoder> = Avx512Encoder::without_gfni().into_iter().collect();
    encoders.extend(Avx512Encoder::new().filter(|encoder| encoder.gfni.is_some()));
    encoders
}

/// Warns when `encoders` is empty: only the library is checked then.
fn warn_if_none(encoders: &[Avx512Encoder]) {
    if encoders.is_empty() {
        crate::warn_untested(
            "`Avx512Encoder`",
            "the library's encoder (the fallback) and the production dispatch",
        );
    }
}

/// Asserts that the library's encoder (what runs without AVX-512), the
/// production dispatch (`expander`) and each of `encoders` give the
/// recovery shards of the library's reference engine (`Naive`: word by
/// word through log and exp tables, no SIMD).
fn check(
    expander: &mut Expander,
    encoders: &mut [Avx512Encoder],
    (k, m): (usize, usize),
    shard_bytes: usize,
    seed: u64,
) {
    let data = bytes(k * shard_bytes, seed);
    let at = format!("k {k}, m {m}, {shard_bytes} bytes");
    let mut reference =
        DefaultRateEncoder::new(k, m, shard_bytes, Naive::new(), None).expect("supported code");
    for shard in data.chunks_exact(shard_bytes) {
        reference.add_original_shard(shard).expect("k shards");
    }
    let expected = reference.encode().expect("k shards");
    let expected: Vec<&[u8]> = (0..m)
        .map(|i| expected.recovery(i).expect("m shards"))
        .collect();
    let mut library = ReedSolomonEncoder::new(k, m, shard_bytes).expect("supported");
    for shard in data.chunks_exact(shard_bytes) {
        library.add_original_shard(shard).expect("k shards");
    }
    let library = library.encode().expect("k shards");
    assert_recovery(
        |i| library.recovery(i),
        &expected,
        &format!("library, {at}"),
    );
    let dispatched = expander.encode(data.chunks_exact(shard_bytes), k, m, shard_bytes);
    assert_recovery(
        |i| dispatched.recovery(i),
        &expected,
        &format!("dispatch, {at}"),
    );
    for encoder in encoders {
        encoder.encode(k, m, shard_bytes, data.chunks_exact(shard_bytes));
        let what = format!("AVX-512 (GFNI {}), {at}", encoder.gfni.is_some());
        assert_recovery(|i| encoder.recovery(i), &expected, &what);
    }
}

/// Asserts that `recovery(i)` is `expected[i]` for each `i`, and `None`
/// past them.
fn assert_recovery<'a>(
    recovery: impl Fn(usize) -> Option<&'a [u8]>,
    expected: &[&[u8]],
    what: &str,
) {
    for (i, shard) in expected.iter().enumerate() {
        assert_eq!(recovery(i), Some(*shard), "{what}, recovery shard {i}");
    }
    assert_eq!(recovery(expected.len()), None, "{what}: too many shards");
}

#[test]
fn equals_the_library_on_the_codes_walrus_uses_and_their_edges() {
    let codes = [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
        (3, 5),
        (5, 3),
        (4, 4),
        (8, 3),
        (7, 9),
        (16, 16),
        (17, 30),
        (100, 27),
        (257, 255),
        (334, 666),
        (667, 333),
        (513, 1000),
        (600, 600),
        (1000, 24),
        (3, 1000),
        (1500, 300),
    ];
    let mut encoders = encoders();
    warn_if_none(&encoders);
    let mut expander = Expander::default();
    for (k, m) in codes {
        for shard_bytes in [2, 30, 64, 66, 130, 302, 1000] {
            let seed = (k * 131 + m * 7 + shard_bytes) as u64;
            check(&mut expander, &mut encoders, (k, m), shard_bytes, seed);
        }
    }
}

/// The IFFT of the low-rate encoder at n = 1000 (k = 334) has three
/// passes of 8 shards (42, 6 and 1 groups), each starting with a group
/// of zero factors that the fast kernel skips; no other group has zeros.
fn assert_only_first_groups_have_zeros(zeros: &[u8], what: &str) {
    assert_eq!(
        zeros.len(),
        42 + 6 + 1,
        "{what}: groups of the three passes"
    );
    let marked: Vec<usize> = (0..zeros.len()).filter(|&i| zeros[i] != 0).collect();
    assert_eq!(marked, [0, 42, 48], "{what}: the first group of each pass");
    assert!(
        marked.iter().all(|&i| zeros[i] == FIRST_GROUP_ZEROS),
        "{what}: the skipped zeros"
    );
}

#[test]
fn the_first_group_of_each_pass_of_a_transform_without_skew_has_the_skipped_zeros() {
    // The masks come from the library's skew table alone: checked on
    // every CPU, then in the encoder's plans where it runs.
    let skew = tables::get_skew();
    let (logs, zeros) = plan_logs(skew, Transform::Ifft, 512, 334, 0);
    assert_only_first_groups_have_zeros(&zeros, "plan_logs");
    assert_eq!(logs.len(), (42 + 6 + 1) * 7, "7 factors per group");
    // With a skew delta, no factor is zero.
    let (with_delta, with_delta_zeros) = plan_logs(skew, Transform::Fft, 512, 512, 512);
    assert!(with_delta.iter().all(|&log_m| log_m != GF_MODULUS));
    assert!(with_delta_zeros.iter().all(|&mask| mask == 0));
    let Some(mut encoder) = Avx512Encoder::new() else {
        crate::warn_untested("`Avx512Encoder::plan`", "its zero masks (`plan_logs`)");
        return;
    };
    let plan = encoder.plan(Transform::Ifft, 512, 334, 0);
    assert_only_first_groups_have_zeros(&encoder.plans[plan].zeros, "plan");
    assert_eq!(encoder.plans[plan].factors.len(), logs.len());
    let plan = encoder.plan(Transform::Fft, 512, 512, 512);
    assert_eq!(encoder.plans[plan].zeros, with_delta_zeros);
    assert_eq!(encoder.plans[plan].factors.len(), with_delta.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn equals_the_library_on_random_codes(
        k in 1usize..700,
        m in 1usize..700,
        words in 1usize..200,
        seed in any::<u64>(),
    ) {
        static WARNING: std::sync::Once = std::sync::Once::new();
        let mut encoders = encoders();
        WARNING.call_once(|| warn_if_none(&encoders));
        check(&mut Expander::default(), &mut encoders, (k, m), 2 * words, seed);
    }
}
