//! How engines that can take a container are ordered: the rank key of the
//! `spread` and `binpack` strategies, and the seeded walk of `random`.
//!
//! One key serves both orderings: `spread` takes the greatest key among the
//! engines that fit, `binpack` the least. The key's fields are arranged so
//! that "greatest" means most free memory, then most free cpus, then fewest
//! containers, then earliest engine; and "least" means least free memory, then
//! least free cpus, then most containers, then latest engine. The index keeps
//! engines sorted by this key, so both strategies are a walk from one end.

use super::request::Strategy;
use super::snapshot::Millicpus;

/// An engine's position in the strategy order (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RankKey {
    pub free_memory: u64,
    pub free_cpus: Millicpus,
    /// `u32::MAX - containers`: fewer containers rank higher.
    pub inv_containers: u32,
    /// `usize::MAX - slot`: earlier engines rank higher.
    pub inv_slot: usize,
}

impl RankKey {
    pub fn new(free_memory: u64, free_cpus: Millicpus, containers: u32, slot: usize) -> Self {
        RankKey {
            free_memory,
            free_cpus,
            inv_containers: u32::MAX - containers,
            inv_slot: usize::MAX - slot,
        }
    }

    pub fn slot(&self) -> usize {
        usize::MAX - self.inv_slot
    }

    /// Whether `self` is preferred to `other` under the strategy.
    pub fn beats(&self, other: &RankKey, strategy: Strategy) -> bool {
        match strategy {
            Strategy::Binpack => self < other,
            Strategy::Spread | Strategy::Random { .. } => self > other,
        }
    }
}

/// SplitMix64: a tiny, well-mixed generator, enough to shuffle a walk. It is
/// here rather than a dependency because the scheduler must give the same
/// answer for the same seed forever, whatever a crate's next version does.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniformly drawn value below `n` (0 when `n` is 0), by rejection sampling.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// A seeded walk over `0..n` that visits every slot exactly once: a random
/// start and a random stride coprime with `n`.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    n: usize,
    next: usize,
    stride: usize,
    left: usize,
}

impl Walk {
    pub fn new(n: usize, rng: &mut SplitMix) -> Self {
        if n == 0 {
            return Walk {
                n,
                next: 0,
                stride: 1,
                left: 0,
            };
        }
        let start = rng.below(n as u64) as usize;
        let mut stride = 1 + rng.below(n as u64) as usize;
        while gcd(stride, n) != 1 {
            stride += 1;
        }
        Walk {
            n,
            next: start,
            stride: stride % n.max(1),
            left: n,
        }
    }
}

impl Iterator for Walk {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let cur = self.next;
        // Both below n, so the sum cannot overflow for any realistic n.
        self.next = (self.next + self.stride) % self.n;
        Some(cur)
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_visits_every_slot_once() {
        for n in [0usize, 1, 2, 3, 10, 12, 97, 100] {
            for seed in 0..20 {
                let mut seen: Vec<usize> = Walk::new(n, &mut SplitMix::new(seed)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n} seed={seed}");
            }
        }
    }

    #[test]
    fn key_orders() {
        let big = RankKey::new(1000, 1000, 0, 0);
        let small = RankKey::new(100, 1000, 0, 1);
        assert!(big.beats(&small, Strategy::Spread));
        assert!(small.beats(&big, Strategy::Binpack));
        // Ties on capacity: spread prefers fewer containers, then the earlier engine.
        let a = RankKey::new(100, 100, 1, 0);
        let b = RankKey::new(100, 100, 2, 1);
        let c = RankKey::new(100, 100, 1, 2);
        assert!(a.beats(&b, Strategy::Spread) && a.beats(&c, Strategy::Spread));
        assert!(b.beats(&a, Strategy::Binpack));
        assert_eq!(c.slot(), 2);
    }
}
