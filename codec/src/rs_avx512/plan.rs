//! The shape of the library's transforms, computed ahead of the SIMD
//! passes: which passes a transform of a given size runs, and the
//! logarithms of its factors in the order the passes use them. Table
//! lookups only: no SIMD, no `unsafe`.

use reed_solomon_simd::engine::{GF_MODULUS, GfElement, tables::Skew};

/// The logarithms of a transform's factors (entries of the library's skew
/// table, `GF_MODULUS` for a zero factor) in the order its passes use them,
/// and per group of a three-layer pass the mask of its zero factors (bit `i`
/// for the group's factor `i`). Table lookups only, no SIMD.
pub(super) fn plan_logs(
    skew: &Skew,
    kind: Transform,
    size: usize,
    truncated_size: usize,
    skew_delta: usize,
) -> (Vec<GfElement>, Vec<u8>) {
    let (mut logs, mut zeros) = (Vec::new(), Vec::new());
    for (take, dist, group) in passes(kind, size) {
        let mut r = 0;
        while r < truncated_size {
            // Layer `d`'s group starting at `g` multiplies by
            // `skew[g + d + skew_delta - 1]`, as in the library.
            let log = |g: usize, d: usize| skew[g + d + skew_delta - 1];
            match take {
                3 => {
                    let group_logs = [
                        log(r, 4 * dist),
                        log(r, 2 * dist),
                        log(r + 4 * dist, 2 * dist),
                        log(r, dist),
                        log(r + 2 * dist, dist),
                        log(r + 4 * dist, dist),
                        log(r + 6 * dist, dist),
                    ];
                    zeros.push(
                        group_logs
                            .iter()
                            .rev()
                            .fold(0, |mask, &log_m| mask << 1 | u8::from(log_m == GF_MODULUS)),
                    );
                    logs.extend(group_logs);
                }
                2 => logs.extend([log(r, dist), log(r, 2 * dist), log(r + 2 * dist, dist)]),
                _ => logs.push(log(r, dist)),
            }
            r += group;
        }
    }
    (logs, zeros)
}

/// A transform direction.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Transform {
    /// Forward.
    Fft,
    /// Inverse.
    Ifft,
}

/// The zero factors of a transform's first group in each three-layer pass
/// when its skew delta is 0 (the first IFFT of the low-rate encoder, the FFT
/// of the high-rate one): the layers' factors at group 0 (`skew[2^i - 1]`)
/// are zero, which the library skips; their kernel omits those products.
pub(super) const FIRST_GROUP_ZEROS: u8 = 0b000_1011;

/// The passes of a transform of `size` shards, in order: `(layers, dist,
/// group)` for passes of 3 layers while 3 are left, then 2 or 1, each over
/// groups of `group` shards whose innermost layer has distance `dist`. The
/// FFT runs its layers from distance `size / 2` down to 1, the IFFT up.
pub(super) fn passes(kind: Transform, size: usize) -> Vec<(u32, usize, usize)> {
    let mut passes = Vec::new();
    let mut layers = size.trailing_zeros();
    let (mut dist, mut group) = (1, size);
    while layers > 0 {
        let take = layers.min(3);
        match kind {
            Transform::Fft => {
                dist = group >> take;
                passes.push((take, dist, group));
                group = dist;
            }
            Transform::Ifft => {
                group = dist << take;
                passes.push((take, dist, group));
                dist = group;
            }
        }
        layers -= take;
    }
    passes
}
