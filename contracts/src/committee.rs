//! Committee selection and price votes (SPEC.md section 9). Pure functions
//! of the pools; the epoch module applies their results.
//!
//! Shards are apportioned by D'Hondt (Jefferson) by stake: each shard goes to
//! the node with the highest `stake / (shards_so_far + 1)`, ties to the lower
//! node ID, no node above 10% of shards when there are 20 or more nodes.
//! Nodes then keep as many of their current shards as they are due.

use imbl::OrdMap;

use crate::{
    ids::ObjectId,
    state::{Committee, CommitteeMember, StakingPool, Votes},
};

/// Shard counts for `stakes` (node, stake), in the same order. Nodes with no
/// stake get none; with no stake at all, nobody gets any.
pub fn apportion(stakes: &[(ObjectId, u64)], n_shards: u16) -> Vec<u16> {
    let mut counts = vec![0u16; stakes.len()];
    let staked = stakes.iter().filter(|(_, s)| *s > 0).count();
    if staked == 0 {
        return counts;
    }
    let cap = if staked >= 20 {
        (n_shards / 10).max(1)
    } else {
        n_shards
    };
    for _ in 0..n_shards {
        let mut best: Option<usize> = None;
        for (i, (_, stake)) in stakes.iter().enumerate() {
            if *stake == 0 || counts[i] >= cap {
                continue;
            }
            // stake_i / (c_i + 1) > stake_b / (c_b + 1), compared exactly.
            let better = best.is_none_or(|b| {
                u128::from(*stake) * u128::from(counts[b] + 1)
                    > u128::from(stakes[b].1) * u128::from(counts[i] + 1)
            });
            if better {
                best = Some(i);
            }
        }
        match best {
            Some(i) => counts[i] += 1,
            None => break,
        }
    }
    counts
}

/// Builds the committee for `epoch` from `(node, public key, shard count)`
/// (ascending node IDs), keeping shards on their `previous` holders where
/// possible; freed shards go, lowest first, to nodes still short.
pub fn assign_shards(
    epoch: u32,
    due: &[(ObjectId, Vec<u8>, u16)],
    previous: Option<&Committee>,
    n_shards: u16,
) -> Committee {
    let mut taken = vec![false; usize::from(n_shards)];
    let mut members: Vec<CommitteeMember> = due
        .iter()
        .filter(|(_, _, count)| *count > 0)
        .map(|(node_id, public_key, count)| {
            let kept: Vec<u16> = previous
                .and_then(|p| p.members.iter().find(|m| &m.node_id == node_id))
                .map(|m| m.shards.iter().copied().take(usize::from(*count)).collect())
                .unwrap_or_default();
            for shard in &kept {
                taken[usize::from(*shard)] = true;
            }
            CommitteeMember {
                node_id: *node_id,
                public_key: public_key.clone(),
                shards: kept,
            }
        })
        .collect();
    let mut free = (0..n_shards).filter(|s| !taken[usize::from(*s)]);
    for member in &mut members {
        let count = due
            .iter()
            .find(|(id, _, _)| *id == member.node_id)
            .map_or(0, |d| d.2);
        while member.shards.len() < usize::from(count) {
            member
                .shards
                .push(free.next().expect("counts sum to at most n_shards"));
        }
        member.shards.sort_unstable();
    }
    Committee { epoch, members }
}

/// `(storage price, write price, capacity)` voted by `committee`, each
/// member's pool vote weighted by its shard count (see [`aggregate_votes`]);
/// `None` when no member has a pool.
pub fn committee_votes(
    committee: &Committee,
    pools: &OrdMap<ObjectId, StakingPool>,
    n_shards: u16,
) -> Option<(u64, u64, u64)> {
    let weighted: Vec<_> = committee
        .members
        .iter()
        .filter_map(|m| {
            let weight = u16::try_from(m.shards.len()).expect("at most n_shards shards");
            pools.get(&m.node_id).map(|p| (weight, p.votes))
        })
        .collect();
    aggregate_votes(&weighted, n_shards)
}

/// `(storage price, write price, capacity)` from shard-weighted votes: each
/// price is the lowest value that two thirds of the shards voted at or
/// below; capacity the highest value that two thirds voted at or above.
pub fn aggregate_votes(weighted: &[(u16, Votes)], n_shards: u16) -> Option<(u64, u64, u64)> {
    if weighted.is_empty() {
        return None;
    }
    let ascending = |pick: fn(&Votes) -> u64| -> u64 {
        let mut values: Vec<(u64, u16)> = weighted.iter().map(|(w, v)| (pick(v), *w)).collect();
        values.sort_unstable();
        threshold_value(&values, n_shards)
    };
    let descending_capacity = {
        let mut values: Vec<(u64, u16)> = weighted.iter().map(|(w, v)| (v.capacity, *w)).collect();
        values.sort_unstable_by(|a, b| b.cmp(a));
        threshold_value(&values, n_shards)
    };
    Some((
        ascending(|v| v.storage_price),
        ascending(|v| v.write_price),
        descending_capacity,
    ))
}

/// The first value at which the accumulated weight reaches two thirds of
/// `n_shards` (or the last value if the weights never do).
fn threshold_value(sorted: &[(u64, u16)], n_shards: u16) -> u64 {
    let mut weight = 0u32;
    for (value, w) in sorted {
        weight += u32::from(*w);
        if 3 * weight >= 2 * u32::from(n_shards) {
            return *value;
        }
    }
    sorted.last().map_or(0, |(value, _)| *value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> ObjectId {
        ObjectId([byte; 32])
    }

    #[test]
    fn dhondt_splits_by_stake() {
        let counts = apportion(&[(id(1), 600), (id(2), 300), (id(3), 100)], 10);
        assert_eq!(counts, vec![6, 3, 1]);
        assert_eq!(counts.iter().sum::<u16>(), 10);
        assert_eq!(apportion(&[(id(1), 0), (id(2), 0)], 10), vec![0, 0]);
    }

    #[test]
    fn cap_of_ten_percent_with_twenty_nodes() {
        let mut stakes: Vec<(ObjectId, u64)> = (0..20).map(|i| (id(i), 1)).collect();
        stakes[0].1 = 1_000_000;
        let counts = apportion(&stakes, 1000);
        assert_eq!(counts[0], 100);
        assert_eq!(counts.iter().map(|c| u32::from(*c)).sum::<u32>(), 1000);
    }

    #[test]
    fn shards_stay_where_they_are() {
        let first = assign_shards(0, &[(id(1), vec![], 5), (id(2), vec![], 5)], None, 10);
        assert_eq!(first.members[0].shards, vec![0, 1, 2, 3, 4]);
        let second = assign_shards(
            1,
            &[(id(1), vec![], 4), (id(2), vec![], 5), (id(3), vec![], 1)],
            Some(&first),
            10,
        );
        assert_eq!(second.members[0].shards, vec![0, 1, 2, 3]);
        assert_eq!(second.members[1].shards, vec![5, 6, 7, 8, 9]);
        assert_eq!(second.members[2].shards, vec![4]);
    }

    #[test]
    fn prices_at_the_two_thirds_point() {
        let votes = |p| Votes {
            storage_price: p,
            write_price: p * 2,
            capacity: 1000 / p,
        };
        let weighted = [(4, votes(1)), (3, votes(2)), (3, votes(10))];
        // Ascending weights 4, 7, 10: two thirds of 10 is reached at price 2.
        assert_eq!(aggregate_votes(&weighted, 10), Some((2, 4, 500)));
    }
}
