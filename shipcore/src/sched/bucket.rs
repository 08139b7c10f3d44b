//! The healthy engines of one label set ([`Bucket`]) in [`RankKey`] order:
//! the sets the indexed scheduler walks.
//!
//! The keys sit in a list of small sorted blocks, each with its least and
//! greatest key and the most free cpus among its engines. A walk in either
//! direction starts at the block of its bound (a search of the block
//! summaries) and steps over a whole block whose engines all lack the cpus
//! asked for, so an engine with plenty of memory and no cpus left is not
//! walked past again and again by every request. The order handles memory
//! (it comes first in the key); the block summaries handle cpus. Under
//! `spread` the walk from the top usually ends at the first key, and a
//! bucket whose greatest key cannot beat the best so far costs one
//! comparison. Blocks are contiguous and small, so a walk reads a few cache
//! lines where a tree would chase pointers.

use super::rank::RankKey;
use super::snapshot::Millicpus;

/// `s.partition_point(pred)` (for a `pred` that holds on a prefix of `s`),
/// probing from the end in doubling steps: a few probes when the answer is
/// near the end, as it is for walks under `spread` and for the engines it
/// fills, and at most about twice a binary search's otherwise.
fn partition_point_back<T>(s: &[T], pred: impl Fn(&T) -> bool) -> usize {
    // Everything from `end` on is known to fail `pred`.
    let mut end = s.len();
    let mut step = 1;
    while end > 0 {
        let probe = end.saturating_sub(step);
        if pred(&s[probe]) {
            return probe + 1 + s[probe + 1..end].partition_point(&pred);
        }
        end = probe;
        step *= 2;
    }
    0
}

/// Most keys in a block; a fuller block splits in two.
const BLOCK: usize = 64;

/// A run of consecutive keys, sorted, never empty.
#[derive(Debug, Clone)]
struct Block {
    least: RankKey,
    greatest: RankKey,
    /// The most free cpus among the block's engines.
    most_cpus: Millicpus,
    keys: Vec<RankKey>,
}

impl Block {
    /// A block of `keys` (sorted, not empty).
    fn of(keys: Vec<RankKey>) -> Option<Self> {
        let (&least, &greatest) = (keys.first()?, keys.last()?);
        let most_cpus = keys.iter().map(|k| k.free_cpus).max().unwrap_or(0);
        Some(Block {
            least,
            greatest,
            most_cpus,
            keys,
        })
    }
}

/// Healthy engines with one label set, in key order.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// The label set, sorted and without repeats.
    pub labels: Vec<String>,
    blocks: Vec<Block>,
}

impl Bucket {
    pub fn new(labels: Vec<String>) -> Self {
        Bucket {
            labels,
            blocks: Vec::new(),
        }
    }

    pub fn insert(&mut self, key: RankKey) {
        let Some(last) = self.blocks.len().checked_sub(1) else {
            self.blocks.extend(Block::of(vec![key]));
            return;
        };
        // The first block that ends at or after the key, else the last.
        let i = self.blocks.partition_point(|b| b.greatest < key).min(last);
        let b = &mut self.blocks[i];
        let at = b.keys.partition_point(|k| *k < key);
        b.keys.insert(at, key);
        b.least = b.least.min(key);
        b.greatest = b.greatest.max(key);
        b.most_cpus = b.most_cpus.max(key.free_cpus);
        if b.keys.len() > BLOCK {
            // Both halves hold keys: the block had more than BLOCK.
            if let Some(upper) = Block::of(b.keys.split_off(BLOCK / 2)) {
                b.greatest = b.keys[b.keys.len() - 1];
                b.most_cpus = b.keys.iter().map(|k| k.free_cpus).max().unwrap_or(0);
                self.blocks.insert(i + 1, upper);
            }
        }
    }

    pub fn remove(&mut self, key: &RankKey) {
        let i = self.blocks.partition_point(|b| b.greatest < *key);
        let Some(b) = self.blocks.get_mut(i) else {
            return;
        };
        let Ok(at) = b.keys.binary_search(key) else {
            return;
        };
        b.keys.remove(at);
        let (Some(&least), Some(&greatest)) = (b.keys.first(), b.keys.last()) else {
            self.blocks.remove(i);
            return;
        };
        b.least = least;
        b.greatest = greatest;
        if key.free_cpus == b.most_cpus {
            b.most_cpus = b.keys.iter().map(|k| k.free_cpus).max().unwrap_or(0);
        }
        // A block that has shrunk to a quarter joins the next if both fit
        // in one, so the list stays short.
        let len = b.keys.len();
        if len < BLOCK / 4
            && self
                .blocks
                .get(i + 1)
                .is_some_and(|n| len + n.keys.len() <= BLOCK)
        {
            let next = self.blocks.remove(i + 1);
            let b = &mut self.blocks[i];
            b.keys.extend(next.keys);
            b.greatest = next.greatest;
            b.most_cpus = b.most_cpus.max(next.most_cpus);
        }
    }

    /// Moves an engine's key from `old` to `new`: in place when it stays
    /// within its block, as it mostly does (a placement moves a key by one
    /// container's footprint).
    pub fn replace(&mut self, old: &RankKey, new: RankKey) {
        let i = partition_point_back(&self.blocks, |b| b.greatest < *old);
        let stays = self.blocks.get(i).is_some_and(|b| b.least <= *old)
            && (i == 0 || self.blocks[i - 1].greatest < new)
            && self.blocks.get(i + 1).is_none_or(|n| new < n.least);
        let found = stays
            .then(|| self.blocks[i].keys.binary_search(old).ok())
            .flatten();
        let Some(at) = found else {
            self.remove(old);
            self.insert(new);
            return;
        };
        let b = &mut self.blocks[i];
        // Where `new` goes once `old` is out.
        let to = b.keys.partition_point(|k| *k < new);
        if to <= at {
            b.keys[to..=at].rotate_right(1);
            b.keys[to] = new;
        } else {
            b.keys[at..to].rotate_left(1);
            b.keys[to - 1] = new;
        }
        let (Some(&least), Some(&greatest)) = (b.keys.first(), b.keys.last()) else {
            return;
        };
        b.least = least;
        b.greatest = greatest;
        if new.free_cpus >= b.most_cpus {
            b.most_cpus = new.free_cpus;
        } else if old.free_cpus == b.most_cpus {
            b.most_cpus = b.keys.iter().map(|k| k.free_cpus).max().unwrap_or(0);
        }
    }

    /// Walking up from `lo` to `hi` (both included), the first key with at
    /// least `cpus` free for which `pick` holds.
    pub fn ascend(
        &self,
        lo: RankKey,
        hi: RankKey,
        cpus: Millicpus,
        mut pick: impl FnMut(&RankKey) -> bool,
    ) -> Option<RankKey> {
        let start = self.blocks.partition_point(|b| b.greatest < lo);
        for b in &self.blocks[start..] {
            if b.least > hi {
                break;
            }
            if b.most_cpus < cpus {
                continue;
            }
            let from = if b.least < lo {
                b.keys.partition_point(|k| *k < lo)
            } else {
                0
            };
            let keys = &b.keys[from..];
            if b.greatest <= hi {
                // All in bounds: a plain scan of free cpus steps over the
                // engines short of cpus, the ones most often passed over
                // (under binpack the fullest engines sit right above the
                // floor).
                if let Some(k) = keys.iter().find(|k| k.free_cpus >= cpus && pick(k)) {
                    return Some(*k);
                }
                continue;
            }
            for k in keys {
                if *k > hi {
                    break;
                }
                if k.free_cpus >= cpus && pick(k) {
                    return Some(*k);
                }
            }
            return None;
        }
        None
    }

    /// Walking down from `hi` to `lo` (both included), the first key with
    /// at least `cpus` free for which `pick` holds.
    pub fn descend(
        &self,
        lo: RankKey,
        hi: RankKey,
        cpus: Millicpus,
        mut pick: impl FnMut(&RankKey) -> bool,
    ) -> Option<RankKey> {
        let end = if hi == RankKey::MAX {
            self.blocks.len()
        } else {
            partition_point_back(&self.blocks, |b| b.least <= hi)
        };
        for b in self.blocks[..end].iter().rev() {
            if b.greatest < lo {
                break;
            }
            if b.most_cpus < cpus {
                continue;
            }
            let to = if b.greatest > hi {
                partition_point_back(&b.keys, |k| *k <= hi)
            } else {
                b.keys.len()
            };
            let keys = &b.keys[..to];
            if b.least >= lo {
                // All in bounds: see `ascend`.
                if let Some(k) = keys.iter().rev().find(|k| k.free_cpus >= cpus && pick(k)) {
                    return Some(*k);
                }
                continue;
            }
            for k in keys.iter().rev() {
                if *k < lo {
                    break;
                }
                if k.free_cpus >= cpus && pick(k) {
                    return Some(*k);
                }
            }
            return None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(memory: u64, cpus: Millicpus, slot: usize) -> RankKey {
        RankKey::new(memory, cpus, 0, slot)
    }

    fn keys(b: &Bucket) -> Vec<RankKey> {
        b.blocks
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect()
    }

    /// The walks against a plain filter of the sorted keys, while blocks
    /// split and merge.
    #[test]
    fn partition_from_the_back_is_a_partition_point() {
        for n in 0..40usize {
            let v: Vec<usize> = (0..n).collect();
            for cut in 0..=n {
                assert_eq!(
                    partition_point_back(&v, |&x| x < cut),
                    cut,
                    "n={n} cut={cut}"
                );
            }
        }
    }

    #[test]
    fn walks_agree_with_a_sorted_list() {
        let mut b = Bucket::new(Vec::new());
        let mut all: Vec<RankKey> = Vec::new();
        let mut rng = super::super::rank::SplitMix::new(3);
        for step in 0..3000usize {
            let k = key(rng.below(200), rng.below(8) * 500, step);
            if step % 4 == 3 && !all.is_empty() {
                let gone = all.remove(rng.below(all.len() as u64) as usize);
                b.remove(&gone);
                b.remove(&gone);
            } else if step % 4 == 2 && !all.is_empty() {
                // A key that moves a little, as a placement moves it.
                let at = rng.below(all.len() as u64) as usize;
                let old = all[at];
                let new = RankKey {
                    free_memory: (old.free_memory + rng.below(5)).saturating_sub(2),
                    ..old
                };
                b.replace(&old, new);
                all[at] = new;
            } else {
                b.insert(k);
                all.push(k);
            }
            all.sort();
            assert_eq!(keys(&b), all);
            if step % 37 != 0 {
                continue;
            }
            for _ in 0..20 {
                let (x, y) = (key(rng.below(200), 0, 0), key(rng.below(200), 0, 0));
                let (lo, hi) = (x.min(y), x.max(y));
                let cpus = rng.below(8) * 500;
                let skip = rng.below(3) as usize;
                let ok = |k: &RankKey| k.slot() % 3 != skip;
                let want: Vec<RankKey> = all
                    .iter()
                    .copied()
                    .filter(|k| lo <= *k && *k <= hi && k.free_cpus >= cpus && ok(k))
                    .collect();
                assert_eq!(b.ascend(lo, hi, cpus, ok), want.first().copied());
                assert_eq!(b.descend(lo, hi, cpus, ok), want.last().copied());
                assert_eq!(
                    b.descend(lo, RankKey::MAX, cpus, ok),
                    all.iter()
                        .rev()
                        .copied()
                        .find(|k| lo <= *k && k.free_cpus >= cpus && ok(k))
                );
            }
        }
        assert!(b.blocks.len() > 1, "the test made blocks split");
        for gone in all.drain(..) {
            b.remove(&gone);
        }
        assert!(b.blocks.is_empty());
    }
}
