//! Merkle trees over Blake2b-256 (SPEC.md section 3).
//!
//! Leaf `H(0x00 || data)`, inner node `H(0x01 || left || right)`; a level with
//! an odd count is padded with [`Node::Empty`] (32 zero bytes, not hashed). A
//! tree of one leaf has that leaf's hash as root; a tree of none has `Empty`.
//! Inner levels are hashed in batches (see [`crate::hash`]).

use serde::{Deserialize, Serialize};

use crate::hash::{Digest, INNER_PREFIX, Node, hash_prefixed, inner_hash, leaf_hash};

/// Hashes one level of a tree into the next (half as long, rounded up). Each
/// pair of siblings is read in place: they are 64 contiguous bytes of `level`.
fn next_level(level: &[Digest], next: &mut Vec<Digest>) {
    let bytes = level.as_flattened();
    let pairs = level.len() / 2;
    let mut odd = [0u8; 64];
    let mut inputs: Vec<&[u8]> = bytes.chunks_exact(64).take(pairs).collect();
    if let Some(last) = level.get(2 * pairs) {
        // An odd count: the last node's sibling is the empty node (32 zero bytes).
        odd[..32].copy_from_slice(last);
        inputs.push(&odd);
    }
    next.clear();
    next.resize(inputs.len(), [0; 32]);
    hash_prefixed(INNER_PREFIX, &inputs, next);
}

/// The subtrees of equal leaves, hashed once: `levels[k]` is the root of a
/// perfect tree of `2^k` copies of one leaf. A small blob is mostly padding,
/// so its rows and columns hold long runs of zero symbols; any pair of
/// sibling nodes that both equal `levels[k]` has the parent `levels[k + 1]`,
/// which saves its hash. A row of only zero symbols costs no hash at all.
#[derive(Debug, Clone)]
pub(crate) struct UniformTree {
    levels: Vec<Digest>,
}

impl UniformTree {
    /// The ladder of the leaf `H(0x00 || symbol)`, high enough for trees of
    /// `n_leaves` leaves.
    pub(crate) fn new(symbol: &[u8], n_leaves: usize) -> Self {
        let mut levels = vec![leaf_hash(symbol)];
        for _ in 0..tree_depth(n_leaves) {
            let top = levels.last().expect("starts with the leaf");
            let parent = inner_hash(top, top);
            levels.push(parent);
        }
        Self { levels }
    }
}

/// The first 8 bytes of a digest as a word.
fn first_word(digest: &Digest) -> u64 {
    u64::from_ne_bytes(digest[..8].try_into().expect("a digest has 32 bytes"))
}

/// Whether both nodes of `pair` are `digest`, whose first word is `word`.
/// Most pairs differ in their first word: that is tested before all bytes.
fn both_are(pair: &[Digest], digest: &Digest, word: u64) -> bool {
    first_word(&pair[0]) == word && pair[0] == *digest && pair[1] == *digest
}

/// Hashes one level of several trees at once: `level` holds trees of `len`
/// nodes each, back to back; `next` receives `len.div_ceil(2)` nodes per
/// tree (an odd last node pairs with the empty node, as in [`next_level`]).
/// `known` is the uniform ladder from this level up (`[child, parent,
/// ..]`): two siblings both `child` get `parent` unhashed. All other pairs
/// of all trees go through one batched call, so the 8-lane hashing stays
/// full on the narrow top levels of each tree. Returns whether any pair
/// was `child`'s: if none was, no pair of the next level can be its
/// parent's (but by a hash collision).
///
/// # Panics
/// Panics if `len` is 0 or does not divide `level.len()`.
fn next_level_many(level: &[Digest], len: usize, next: &mut Vec<Digest>, known: &[Digest]) -> bool {
    assert!(len > 0 && level.len().is_multiple_of(len), "whole trees");
    let (pairs, half) = (len / 2, len.div_ceil(2));
    let known = match *known {
        [child, parent, ..] => {
            let word = first_word(&child);
            let mut trees = level.chunks_exact(len);
            trees
                .any(|tree| {
                    tree[..2 * pairs]
                        .chunks_exact(2)
                        .any(|pair| both_are(pair, &child, word))
                })
                .then_some((child, word, parent))
        }
        _ => None,
    };
    let bytes = level.as_flattened();
    let pads: Vec<[u8; 64]> = if len % 2 == 1 {
        level
            .chunks_exact(len)
            .map(|tree| {
                let mut pad = [0u8; 64];
                pad[..32].copy_from_slice(&tree[len - 1]);
                pad
            })
            .collect()
    } else {
        Vec::new()
    };
    let trees = level.len() / len;
    next.clear();
    next.resize(trees * half, [0; 32]);
    let mut inputs: Vec<&[u8]> = Vec::with_capacity(trees * half);
    let Some((child, word, parent)) = known else {
        // Every node is hashed, in order: each tree's pairs where they lie,
        // then its padded odd node.
        for (tree, nodes) in level.chunks_exact(len).enumerate() {
            inputs.extend(nodes[..2 * pairs].as_flattened().chunks_exact(64));
            if let Some(pad) = pads.get(tree) {
                inputs.push(pad);
            }
        }
        hash_prefixed(INNER_PREFIX, &inputs, next);
        return false;
    };
    let mut targets: Vec<usize> = Vec::with_capacity(trees * half);
    for tree in 0..trees {
        let start = tree * len;
        for pair in 0..pairs {
            let at = start + 2 * pair;
            if both_are(&level[at..at + 2], &child, word) {
                next[tree * half + pair] = parent;
                continue;
            }
            targets.push(tree * half + pair);
            inputs.push(&bytes[at * 32..][..64]);
        }
        if let Some(pad) = pads.get(tree) {
            targets.push(tree * half + pairs);
            inputs.push(pad);
        }
    }
    let mut digests = vec![[0u8; 32]; inputs.len()];
    hash_prefixed(INNER_PREFIX, &inputs, &mut digests);
    for (target, digest) in targets.into_iter().zip(digests) {
        next[target] = digest;
    }
    true
}

/// Raises several trees at once: `nodes` holds their nodes at height
/// `height` (`len` per tree, back to back), which are raised by `levels`
/// levels, or up to the roots (one node per tree) with `None`. Returns the
/// nodes reached, `len` per tree, and that `len`. Pairs of siblings that are
/// both `uniform`'s subtree of their height are not hashed.
///
/// A tree's nodes at height `h` depend only on its leaves, so a block of
/// `2^h` aligned leaves (or the partial last block) raised by `h` levels
/// gives that block's node of the whole tree.
///
/// # Panics
/// Panics if `len` is 0 or does not divide `nodes.len()`.
pub(crate) fn raise_many(
    nodes: &[Digest],
    len: usize,
    height: usize,
    levels: Option<usize>,
    uniform: &UniformTree,
) -> (Vec<Digest>, usize) {
    let mut len = len;
    let mut current: Vec<Digest> = Vec::new();
    let mut next = Vec::new();
    let mut raised = 0;
    // Until a level has no pair of uniform subtrees, which stops them for
    // good.
    let mut uniform_possible = true;
    loop {
        let done = match levels {
            Some(levels) => raised == levels,
            None => len == 1,
        };
        if done {
            break;
        }
        let source = if raised == 0 { nodes } else { &current };
        let known = match uniform_possible {
            true => uniform.levels.get(height + raised..).unwrap_or_default(),
            false => &[],
        };
        uniform_possible = next_level_many(source, len, &mut next, known);
        std::mem::swap(&mut current, &mut next);
        len = len.div_ceil(2);
        raised += 1;
    }
    if raised == 0 {
        current = nodes.to_vec();
    }
    (current, len)
}

/// The roots of several trees of `len` leaves each, whose leaf hashes lie
/// back to back in `leaves`: one root per tree, in order. Pairs of sibling
/// subtrees that are both `uniform`'s are not hashed, and the top levels of
/// all trees share batched hash calls (see [`raise_many`]).
///
/// # Panics
/// Panics if `len` is 0 or does not divide `leaves.len()`.
pub(crate) fn roots_many(leaves: &[Digest], len: usize, uniform: &UniformTree) -> Vec<Node> {
    let (roots, one) = raise_many(leaves, len, 0, None, uniform);
    debug_assert_eq!(one, 1, "raised to the roots");
    roots.into_iter().map(Node::Digest).collect()
}

/// The root of the tree whose leaf hashes are `leaves`.
pub fn root_from_leaf_hashes(leaves: &[Digest]) -> Node {
    match leaves {
        [] => return Node::Empty,
        [leaf] => return Node::Digest(*leaf),
        _ => {}
    }
    let (mut level, mut next) = (Vec::new(), Vec::new());
    next_level(leaves, &mut level);
    while level.len() > 1 {
        next_level(&level, &mut next);
        std::mem::swap(&mut level, &mut next);
    }
    Node::Digest(level[0])
}

/// A whole Merkle tree, kept to produce proofs.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    /// `levels[0]` holds the leaf hashes; the last level holds the root.
    levels: Vec<Vec<Digest>>,
}

impl MerkleTree {
    /// Builds the tree over the leaf hashes `leaves` (already `H(0x00 || data)`).
    pub fn from_leaf_hashes(leaves: Vec<Digest>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|level| level.len() > 1) {
            let mut next = Vec::new();
            next_level(levels.last().expect("checked above"), &mut next);
            levels.push(next);
        }
        Self { levels }
    }

    /// Builds the tree over the leaves `data` (each hashed as a leaf).
    pub fn build<'a>(data: impl IntoIterator<Item = &'a [u8]>) -> Self {
        Self::from_leaf_hashes(data.into_iter().map(leaf_hash).collect())
    }

    /// The number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.levels[0].len()
    }

    /// The root: `Empty` for no leaves, the leaf hash for one leaf.
    pub fn root(&self) -> Node {
        match self.levels.last().and_then(|level| level.first()) {
            Some(digest) => Node::Digest(*digest),
            None => Node::Empty,
        }
    }

    /// The proof for leaf `index`: sibling nodes from the leaf up, or `None`
    /// when `index` is not a leaf.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.n_leaves() {
            return None;
        }
        let mut path = Vec::with_capacity(self.levels.len().saturating_sub(1));
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = level
                .get(position ^ 1)
                .map_or(Node::Empty, |d| Node::Digest(*d));
            path.push(sibling);
            position /= 2;
        }
        Some(MerkleProof { path })
    }
}

/// The depth of a tree of `n_leaves` leaves: the length of each of its proofs.
pub fn tree_depth(n_leaves: usize) -> usize {
    let mut depth = 0;
    let mut width = n_leaves;
    while width > 1 {
        width = width.div_ceil(2);
        depth += 1;
    }
    depth
}

/// A Merkle inclusion proof: the sibling nodes from the leaf up to the root.
///
/// BCS: `{ path: Vec<Node> }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Siblings, leaf level first.
    pub path: Vec<Node>,
}

impl MerkleProof {
    /// Whether this proof shows that `data` is leaf `index` of a tree of
    /// `n_leaves` leaves with root `root`. A path of the wrong length for
    /// `n_leaves` is rejected.
    pub fn verify(&self, root: &Node, data: &[u8], index: usize, n_leaves: usize) -> bool {
        if index >= n_leaves || self.path.len() != tree_depth(n_leaves) {
            return false;
        }
        let mut current = leaf_hash(data);
        let mut position = index;
        for sibling in &self.path {
            current = if position.is_multiple_of(2) {
                inner_hash(&current, &sibling.bytes())
            } else {
                inner_hash(&sibling.bytes(), &current)
            };
            position /= 2;
        }
        Node::Digest(current) == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| vec![u8::try_from(i % 256).expect("mod 256"); 3])
            .collect()
    }

    /// The tree built by the simplest possible reading of SPEC.md section 3.
    fn reference_root(data: &[Vec<u8>]) -> Node {
        let mut level: Vec<Digest> = data.iter().map(|d| leaf_hash(d)).collect();
        if level.is_empty() {
            return Node::Empty;
        }
        while level.len() > 1 {
            if level.len() % 2 == 1 {
                level.push([0; 32]);
            }
            level = level.chunks(2).map(|p| inner_hash(&p[0], &p[1])).collect();
        }
        Node::Digest(level[0])
    }

    #[test]
    fn a_uniform_tree_has_the_root_of_its_leaves() {
        for count in [1, 2, 3, 7, 100, 1000] {
            let uniform = UniformTree::new(&[0, 0], count);
            let leaves = vec![leaf_hash(&[0, 0]); count];
            assert_eq!(
                roots_many(&leaves, count, &uniform),
                [reference_root(&vec![vec![0, 0]; count])]
            );
            let mut other = leaves.clone();
            other[count - 1] = leaf_hash(&[0, 1]);
            assert_eq!(
                roots_many(&other, count, &uniform),
                [root_from_leaf_hashes(&other)]
            );
            assert_ne!(
                root_from_leaf_hashes(&other),
                root_from_leaf_hashes(&leaves)
            );
        }
    }

    proptest::proptest! {
        /// Runs of the uniform leaf anywhere, of any length, in trees of any
        /// size: the shortcut gives the hashed root.
        #[test]
        fn runs_of_uniform_leaves_give_the_hashed_root(
            pattern in proptest::collection::vec(0u8..4, 1..300),
        ) {
            // Three in four leaves are the uniform one, in runs of any length.
            let data: Vec<Vec<u8>> = pattern
                .iter()
                .enumerate()
                .map(|(i, kind)| if *kind == 0 { vec![1, u8::try_from(i % 251).expect("mod 251")] } else { vec![0, 0] })
                .collect();
            let leaves: Vec<Digest> = data.iter().map(|d| leaf_hash(d)).collect();
            let uniform = UniformTree::new(&[0, 0], leaves.len());
            proptest::prop_assert_eq!(
                roots_many(&leaves, leaves.len(), &uniform),
                vec![reference_root(&data)]
            );
        }
    }

    proptest::proptest! {
        /// Many trees raised at once, whole or first by aligned blocks of
        /// `2^h` leaves and then from the blocks' nodes, give each tree's
        /// reference root; runs of the uniform leaf take the shortcut.
        #[test]
        fn many_trees_raised_by_blocks_give_the_reference_roots(
            patterns in proptest::collection::vec(0u8..3, 3..120),
            trees in 1usize..5,
            height in 0usize..5,
        ) {
            let len = patterns.len();
            let data: Vec<Vec<Vec<u8>>> = (0..trees)
                .map(|t| {
                    patterns
                        .iter()
                        .enumerate()
                        .map(|(i, kind)| match kind {
                            0 => vec![2, u8::try_from((i + t) % 251).expect("mod 251")],
                            _ => vec![0, 0],
                        })
                        .collect()
                })
                .collect();
            let leaves: Vec<Digest> = data.iter().flatten().map(|d| leaf_hash(d)).collect();
            let uniform = UniformTree::new(&[0, 0], len);
            let expected: Vec<Node> = data.iter().map(|tree| reference_root(tree)).collect();

            let (roots, one) = raise_many(&leaves, len, 0, None, &uniform);
            proptest::prop_assert_eq!(one, 1);
            let roots: Vec<Node> = roots.into_iter().map(Node::Digest).collect();
            proptest::prop_assert_eq!(&roots, &expected);

            // By blocks of 2^h leaves (the last one partial), then up.
            let height = height.min(tree_depth(len));
            let block = 1 << height;
            let blocks = len.div_ceil(block);
            let mut nodes = Vec::new();
            for tree in leaves.chunks_exact(len) {
                for leaves in tree.chunks(block) {
                    let (node, one) = raise_many(leaves, leaves.len(), 0, Some(height), &uniform);
                    proptest::prop_assert_eq!(one, 1);
                    nodes.extend(node);
                }
            }
            let (roots, _) = raise_many(&nodes, blocks, height, None, &uniform);
            let roots: Vec<Node> = roots.into_iter().map(Node::Digest).collect();
            proptest::prop_assert_eq!(&roots, &expected);
        }
    }

    #[test]
    fn roots_match_reference_for_all_small_sizes() {
        for count in 0..40 {
            let data = leaves(count);
            let tree = MerkleTree::build(data.iter().map(Vec::as_slice));
            assert_eq!(tree.root(), reference_root(&data), "count {count}");
            let hashes: Vec<Digest> = data.iter().map(|d| leaf_hash(d)).collect();
            assert_eq!(root_from_leaf_hashes(&hashes), tree.root(), "count {count}");
        }
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_one_does_not() {
        for count in 1..20 {
            let data = leaves(count);
            let tree = MerkleTree::build(data.iter().map(Vec::as_slice));
            for (index, leaf) in data.iter().enumerate() {
                let proof = tree.proof(index).expect("leaf exists");
                assert!(proof.verify(&tree.root(), leaf, index, count));
                assert!(!proof.verify(&tree.root(), b"other", index, count));
                if count > 1 {
                    assert!(!proof.verify(&tree.root(), leaf, (index + 1) % count, count));
                }
            }
            assert!(tree.proof(count).is_none());
        }
    }
}
