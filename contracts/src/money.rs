//! Integer money helpers: FROST amounts are `u64`; products go through `u128`
//! with stated rounding (always towards zero, the remainder stays with the
//! payer or the pool and is accounted for by the caller).

use crate::errors::TxError;

/// 1 WAL = 10^9 FROST.
pub const FROST_PER_WAL: u64 = 1_000_000_000;

/// The total WAL supply, 5 * 10^9 WAL, in FROST.
pub const TOTAL_SUPPLY_FROST: u64 = 5_000_000_000 * FROST_PER_WAL;

/// `floor(a * b / c)` through `u128`.
///
/// # Errors
/// [`TxError::Overflow`] when `c == 0` or the result does not fit in `u64`.
pub fn mul_div_floor(a: u64, b: u64, c: u64) -> Result<u64, TxError> {
    if c == 0 {
        return Err(TxError::Overflow);
    }
    u64::try_from(u128::from(a) * u128::from(b) / u128::from(c)).map_err(|_| TxError::Overflow)
}

/// `a + b`, or [`TxError::Overflow`].
///
/// # Errors
/// [`TxError::Overflow`] when the sum does not fit.
pub fn add(a: u64, b: u64) -> Result<u64, TxError> {
    a.checked_add(b).ok_or(TxError::Overflow)
}

/// `a * b`, or [`TxError::Overflow`].
///
/// # Errors
/// [`TxError::Overflow`] when the product does not fit.
pub fn mul(a: u64, b: u64) -> Result<u64, TxError> {
    a.checked_mul(b).ok_or(TxError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_rounds_down_and_never_overflows_silently() {
        assert_eq!(mul_div_floor(10, 1, 3), Ok(3));
        assert_eq!(mul_div_floor(u64::MAX, u64::MAX, u64::MAX), Ok(u64::MAX));
        assert_eq!(mul_div_floor(u64::MAX, 2, 1), Err(TxError::Overflow));
        assert_eq!(mul_div_floor(1, 1, 0), Err(TxError::Overflow));
    }
}
