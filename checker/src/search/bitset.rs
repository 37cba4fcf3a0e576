//! The set of linearized operations, with an incrementally maintained hash.

/// A fixed-size bit set whose hash (the XOR of a random word per member, Zobrist style) is
/// kept up to date on every insert and remove, so hashing a search node costs nothing.
#[derive(Debug, Clone)]
pub(crate) struct BitSet {
    words: Vec<u64>,
    hash: u64,
}

/// The Zobrist word of member `i`: a SplitMix64 output, fixed for every run.
#[inline]
pub(crate) fn zobrist(i: usize) -> u64 {
    let mut z = (i as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl BitSet {
    /// An empty set able to hold members `0..n`.
    pub(crate) fn new(n: usize) -> Self {
        BitSet {
            words: vec![0; n.div_ceil(64)],
            hash: 0,
        }
    }

    /// Adds `i` (which must be absent).
    #[inline]
    pub(crate) fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        self.hash ^= zobrist(i);
    }

    /// Removes `i` (which must be present).
    #[inline]
    pub(crate) fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.hash ^= zobrist(i);
    }

    /// Whether `i` is a member.
    #[inline]
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// The set's hash.
    #[inline]
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// The raw words, for storing and comparing.
    #[inline]
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_only_on_members() {
        let mut a = BitSet::new(130);
        let mut b = BitSet::new(130);
        a.insert(3);
        a.insert(129);
        b.insert(129);
        b.insert(7);
        b.insert(3);
        b.remove(7);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.words(), b.words());
        assert!(a.contains(129) && !a.contains(7));
        a.remove(3);
        assert_ne!(a.hash(), b.hash());
    }
}
