//! Deterministic pseudo-random bytes for tests, examples and benchmarks:
//! the one generator the workspace uses, so a failure reproduces from its
//! seed. Not for keys or anything that must be unpredictable.

/// `len` pseudo-random bytes from `seed` (xorshift64, 8 bytes per step;
/// a zero seed is replaced by a fixed non-zero one, since xorshift stays
/// at zero).
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = if seed == 0 {
        0x2545_f491_4f6c_dd1d
    } else {
        seed
    };
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_seed_gives_the_same_bytes_and_others_differ() {
        let a = super::pseudo_random_bytes(1000, 7);
        assert_eq!(a, super::pseudo_random_bytes(1000, 7));
        assert_ne!(a, super::pseudo_random_bytes(1000, 8));
        assert_eq!(super::pseudo_random_bytes(13, 7), a[..13]);
        assert!(super::pseudo_random_bytes(64, 0).iter().any(|b| *b != 0));
    }
}
