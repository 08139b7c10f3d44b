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

/// An engine's position in the strategy order (see the module comment),
/// ordered field by field in the order they are declared. Three words of
/// the same width: keys are compared and copied more than anything else
/// the index does, and narrower mixed fields cost stalls when a key is
/// written in parts and read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RankKey {
    pub free_memory: u64,
    pub free_cpus: Millicpus,
    /// `u32::MAX - containers` in the high half (fewer containers rank
    /// higher), `u32::MAX - slot` in the low half (earlier engines rank
    /// higher).
    pub order: u64,
}

impl RankKey {
    /// Below every key.
    pub const MIN: RankKey = RankKey {
        free_memory: 0,
        free_cpus: 0,
        order: 0,
    };
    /// Above every key.
    pub const MAX: RankKey = RankKey {
        free_memory: u64::MAX,
        free_cpus: Millicpus::MAX,
        order: u64::MAX,
    };

    pub fn new(free_memory: u64, free_cpus: Millicpus, containers: u32, slot: usize) -> Self {
        let inv_containers = u64::from(u32::MAX - containers);
        let inv_slot = u64::from(u32::MAX - u32::try_from(slot).unwrap_or(u32::MAX));
        RankKey {
            free_memory,
            free_cpus,
            order: (inv_containers << 32) | inv_slot,
        }
    }

    pub fn slot(&self) -> usize {
        (u32::MAX as u64 - (self.order & u64::from(u32::MAX))) as usize
    }

    /// The least and the greatest key as free as `self` (the same free
    /// memory and cpus).
    pub fn ties(&self) -> (RankKey, RankKey) {
        (
            RankKey { order: 0, ..*self },
            RankKey {
                order: u64::MAX,
                ..*self
            },
        )
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
    fn key_order_is_field_by_field() {
        let mut rng = SplitMix::new(5);
        let mut small = || match rng.below(4) {
            0 => 0,
            1 => u64::from(u32::MAX),
            _ => rng.below(3),
        };
        for _ in 0..2000 {
            let mut fields = || (small(), small(), small() as u32, small() as usize);
            let (a, b) = (fields(), fields());
            let key = |f: (u64, u64, u32, usize)| RankKey::new(f.0, f.1, f.2, f.3);
            // The order the module comment gives: memory, cpus, fewer
            // containers, earlier slot.
            let want = |f: (u64, u64, u32, usize)| {
                (
                    f.0,
                    f.1,
                    std::cmp::Reverse(f.2),
                    std::cmp::Reverse(f.3.min(u32::MAX as usize)),
                )
            };
            assert_eq!(key(a).cmp(&key(b)), want(a).cmp(&want(b)), "{a:?} {b:?}");
            assert_eq!(key(a).slot(), a.3.min(u32::MAX as usize));
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
