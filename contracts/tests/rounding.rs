//! Rounding of share/WAL conversions and reward splits: always down, never
//! creating WAL, with remainders accounted for.

mod common;

use common::*;
use proptest::prelude::*;
use walrus_contracts::{Call, Event, ExchangeRate, money::mul_div_floor};

#[test]
fn exchange_rate_rounds_down() {
    let rate = ExchangeRate { wal: 3, shares: 2 };
    assert_eq!(rate.to_shares(1), Ok(0)); // 2/3 share
    assert_eq!(rate.to_wal(1), Ok(1)); // 1.5 FROST
    assert_eq!(rate.to_shares(3), Ok(2));
    let empty = ExchangeRate { wal: 0, shares: 0 };
    assert_eq!(empty.to_shares(7), Ok(7), "an empty pool converts 1:1");
    let rich = ExchangeRate {
        wal: u64::MAX,
        shares: 1,
    };
    assert_eq!(rich.to_shares(u64::MAX), Ok(1));
    assert!(rich.to_wal(2).is_err(), "overflow is an error, not a wrap");
}

#[test]
fn mul_div_floor_matches_u128_reference() {
    for (a, b, c) in [
        (7, 3, 2),
        (u64::MAX, 3, 4),
        (1, 1, u64::MAX),
        (0, u64::MAX, 1),
    ] {
        let expected = u64::try_from(u128::from(a) * u128::from(b) / u128::from(c)).ok();
        assert_eq!(mul_div_floor(a, b, c).ok(), expected, "{a} * {b} / {c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Converting to shares and back never yields more WAL than went in.
    #[test]
    fn round_trips_never_create_wal(wal in 1..u64::MAX / 2, shares in 1..u64::MAX / 2, amount in 0..1_000_000_000_000u64) {
        let rate = ExchangeRate { wal, shares };
        if let Ok(s) = rate.to_shares(amount)
            && let Ok(back) = rate.to_wal(s)
        {
            prop_assert!(back <= amount);
        }
    }

    /// An epoch's payout: 3% burned (rounded down), the rest split by shards
    /// with each share rounded down, the remainder (less than one FROST per
    /// member) carried to the next epoch.
    #[test]
    fn reward_split_accounts_for_every_frost(units in 1..5000u64) {
        let mut net = Net::new(4, 10);
        net.run(ALICE, vec![Call::ReserveSpace { size_bytes: units << 20, epochs: 1 }]).expect("reserve");
        let income = net.state.income.get(&0).copied().expect("income");
        let (events, _) = net.run(SYSTEM, vec![Call::EpochChangeStart]).expect("epoch change");
        let Some(Event::RewardsDistributed { burned, rewards, carried, .. }) =
            events.into_iter().find(|e| e.name() == "RewardsDistributed") else { panic!("no rewards event") };
        prop_assert_eq!(burned, income * 3 / 100);
        let paid: u64 = rewards.iter().map(|(_, pool, commission)| pool + commission).sum();
        prop_assert_eq!(paid + carried + burned, income);
        prop_assert!(carried < 4);
        for (_, pool, commission) in &rewards {
            // 10% commission, rounded down.
            prop_assert_eq!(*commission, (pool + commission) / 10);
        }
        net.assert_conserved();
    }
}
