//! Interned strings for the index: each image, container name and container
//! label key or value the index has seen gets a number, so per-engine checks
//! compare numbers instead of hashing strings, and a placement allocates
//! nothing.
//!
//! A request's strings are looked up once per decision (one hash each); the
//! engines it is checked against are then asked about numbers, in maps whose
//! hasher is a multiply (the numbers are ours, dense and not chosen by a
//! client, so no hash flooding is possible there). The strings themselves
//! stay in a `HashMap` with the standard, keyed hasher.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A string the index has seen, by number.
pub(crate) type Sym = u32;

/// Strings by number, counted: a string is forgotten (and its number reused)
/// when the last container that mentioned it goes, so a long-running cluster
/// does not accumulate the names of every container it ever ran.
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols {
    ids: HashMap<Box<str>, Sym>,
    /// References per number; 0 for a free number.
    refs: Vec<u32>,
    free: Vec<Sym>,
}

impl Symbols {
    /// The number of `s`, if some container mentions it.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// Takes a reference to `s`, numbering it if it is new.
    pub fn acquire(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.ids.get(s) {
            self.refs[id as usize] += 1;
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.refs[id as usize] = 1;
                id
            }
            None => {
                self.refs.push(1);
                Sym::try_from(self.refs.len() - 1).unwrap_or(Sym::MAX)
            }
        };
        self.ids.insert(s.into(), id);
        id
    }

    /// Takes a reference to `s`, whose number the caller looked up (`known`)
    /// since nothing was released: no hashing then.
    pub fn acquire_known(&mut self, s: &str, known: Option<Sym>) -> Sym {
        match known {
            Some(id) => {
                self.refs[id as usize] += 1;
                id
            }
            None => self.acquire(s),
        }
    }

    /// Drops a reference to `s` (taken with [`acquire`](Self::acquire)).
    pub fn release(&mut self, s: &str) {
        let Some(&id) = self.ids.get(s) else { return };
        let refs = &mut self.refs[id as usize];
        *refs = refs.saturating_sub(1);
        if *refs == 0 {
            self.ids.remove(s);
            self.free.push(id);
        }
    }
}

/// Hashes numbers the index made itself (symbols, slots, ports): one
/// multiply, as rustc's FxHash does for a single word. Bytes are taken a
/// word at a time, for fingerprints that are always checked by equality
/// (see `judged.rs`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // A word at a time; the tail as one more word with its length, so
        // `ab` + `c` and `a` + `bc` differ.
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(word));
        }
        let tail = words.remainder();
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        self.write_u64(u64::from_le_bytes(word) ^ ((tail.len() as u64) << 56));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(SEED);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by the index's own numbers.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A multiset of numbers: how many containers of an engine mention each.
pub(crate) type Counts<K> = IdMap<K, u32>;

/// Counts one more `key`.
pub(crate) fn count_up<K: std::hash::Hash + Eq>(counts: &mut Counts<K>, key: K) {
    *counts.entry(key).or_default() += 1;
}

/// Counts one less `key`; false (and nothing changed) if it was not counted.
pub(crate) fn count_down<K: std::hash::Hash + Eq>(counts: &mut Counts<K>, key: K) -> bool {
    let Some(n) = counts.get_mut(&key) else {
        return false;
    };
    *n -= 1;
    if *n == 0 {
        counts.remove(&key);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_counted_and_reused() {
        let mut s = Symbols::default();
        let a = s.acquire("redis");
        assert_eq!(s.acquire("redis"), a);
        let b = s.acquire("web");
        assert_ne!(a, b);
        s.release("redis");
        assert_eq!(s.get("redis"), Some(a), "one reference left");
        s.release("redis");
        assert_eq!(s.get("redis"), None);
        assert_eq!(s.acquire("db"), a, "the freed number is reused");
        s.release("unknown");
        assert_eq!(s.get("web"), Some(b));
    }

    #[test]
    fn counts_go_to_zero_and_away() {
        let mut c: Counts<u32> = Counts::default();
        count_up(&mut c, 7);
        count_up(&mut c, 7);
        assert!(count_down(&mut c, 7));
        assert!(count_down(&mut c, 7));
        assert!(!count_down(&mut c, 7));
        assert!(c.is_empty());
    }
}
