//! Image locality, indexed: which engines hold which image (as their health
//! checks listed them), so that preferring an engine that holds the
//! request's image costs a lookup, not a pass over the engines as free as
//! the best.
//!
//! Images are numbered in [`image_key`] form (`busybox` is `busybox:latest`);
//! the bare name of a `…:latest` image is kept beside it, so a request's
//! image is found in either form without building a string.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::snapshot::image_key;
use super::symbols::IdHasher;

/// An image some engine holds, by number.
pub(crate) type HeldId = u32;

/// The engines (by slot) that hold one image. Membership is asked for
/// every engine a walk of ties passes, so an image held widely also keeps
/// a bitmap of slots: a bit test in a few kilobytes, where the set of a
/// popular image spans hundreds. The bitmap exists only while it is no
/// larger than a few bytes per holder.
#[derive(Debug, Clone, Default)]
pub(crate) struct Holders {
    slots: HashSet<u32, BuildHasherDefault<IdHasher>>,
    bits: Vec<u64>,
    /// The highest slot inserted (the bitmap's size, were it made).
    highest: u32,
}

/// A bitmap is kept from one holder in this many slots.
const DENSE: usize = 64;

impl Holders {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().map(|&s| s as usize)
    }

    pub fn contains(&self, slot: usize) -> bool {
        if self.bits.is_empty() {
            return u32::try_from(slot).is_ok_and(|s| self.slots.contains(&s));
        }
        self.bits
            .get(slot / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    fn insert(&mut self, slot: u32) {
        if !self.slots.insert(slot) {
            return;
        }
        self.highest = self.highest.max(slot);
        let at = slot as usize;
        if !self.bits.is_empty() {
            if self.bits.len() <= at / 64 {
                self.bits.resize(at / 64 + 1, 0);
            }
            self.bits[at / 64] |= 1 << (at % 64);
        } else if self.slots.len() * DENSE > self.highest as usize {
            self.bits = vec![0; self.highest as usize / 64 + 1];
            for &s in &self.slots {
                self.bits[s as usize / 64] |= 1 << (s % 64);
            }
        }
    }

    fn remove(&mut self, slot: u32) {
        if !self.slots.remove(&slot) {
            return;
        }
        let at = slot as usize;
        if let Some(w) = self.bits.get_mut(at / 64) {
            *w &= !(1 << (at % 64));
        }
        // Half as dense as when the bitmap was made: back to the set alone.
        if !self.bits.is_empty() && self.slots.len() * DENSE * 2 < self.bits.len() * 64 {
            self.bits = Vec::new();
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Image {
    /// The image in `image_key` form.
    key: Box<str>,
    holders: Holders,
}

/// The images engines hold, each with its holders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Holdings {
    /// `image_key` form, and the bare name of `name:latest`, to the number.
    ids: HashMap<Box<str>, HeldId>,
    images: Vec<Image>,
    free: Vec<HeldId>,
}

/// The bare name a `…:latest` key is also found by, if any.
fn bare(key: &str) -> Option<&str> {
    key.strip_suffix(":latest")
        .filter(|name| image_key(name) == key)
}

impl Holdings {
    /// The number of a request's image (either form), if an engine holds it.
    pub fn id(&self, image: &str) -> Option<HeldId> {
        self.ids.get(image).copied()
    }

    /// The engines that hold image `id`.
    pub fn holders(&self, id: HeldId) -> &Holders {
        &self.images[id as usize].holders
    }

    /// Makes `images` the list of what engine `slot` holds; `held` is its
    /// previous list of numbers, sorted, and becomes the new one.
    pub fn replace(&mut self, slot: usize, held: &mut Vec<HeldId>, images: &[String]) {
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        self.clear(slot as usize, held);
        for image in images {
            let id = self.number(&image_key(image));
            self.images[id as usize].holders.insert(slot);
            held.push(id);
        }
        held.sort_unstable();
        held.dedup();
    }

    /// Engine `slot` holds nothing any more.
    pub fn clear(&mut self, slot: usize, held: &mut Vec<HeldId>) {
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        for id in held.drain(..) {
            let image = &mut self.images[id as usize];
            image.holders.remove(slot);
            if image.holders.is_empty() {
                let key = std::mem::take(&mut image.key);
                if let Some(name) = bare(&key) {
                    self.ids.remove(name);
                }
                self.ids.remove(&key);
                self.free.push(id);
            }
        }
    }

    /// The number of `key`, made if it is new.
    fn number(&mut self, key: &str) -> HeldId {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let image = Image {
            key: key.into(),
            holders: Holders::default(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.images[id as usize] = image;
                id
            }
            None => {
                self.images.push(image);
                HeldId::try_from(self.images.len() - 1).unwrap_or(HeldId::MAX)
            }
        };
        if let Some(name) = bare(key) {
            self.ids.insert(name.into(), id);
        }
        self.ids.insert(key.into(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_form_finds_the_image_until_no_engine_holds_it() {
        let mut h = Holdings::default();
        let (mut e0, mut e1) = (Vec::new(), Vec::new());
        h.replace(0, &mut e0, &["busybox".into(), "redis:7".into()]);
        h.replace(1, &mut e1, &["busybox:latest".into()]);
        let id = h.id("busybox").unwrap();
        assert_eq!(h.id("busybox:latest"), Some(id));
        assert_eq!(h.holders(id).len(), 2);
        assert_eq!(h.id("redis"), None, "redis:7 is not redis:latest");
        assert!(h.id("redis:7").is_some());
        h.replace(0, &mut e0, &[]);
        assert_eq!(h.id("redis:7"), None);
        assert_eq!(h.holders(id).len(), 1);
        h.clear(1, &mut e1);
        assert_eq!((h.id("busybox"), h.id("busybox:latest")), (None, None));
        h.replace(0, &mut e0, &["registry:5000/app".into()]);
        assert_eq!(h.id("registry:5000/app"), h.id("registry:5000/app:latest"));
        assert_eq!(e0, vec![id], "a freed number is reused");
    }

    #[test]
    fn holders_answer_alike_sparse_and_dense() {
        let mut h = Holders::default();
        let mut want = std::collections::BTreeSet::new();
        let mut rng = super::super::rank::SplitMix::new(9);
        for step in 0..20_000u32 {
            let slot = rng.below(if step < 10_000 { 5_000 } else { 200 }) as u32;
            if rng.below(3) == 0 {
                h.remove(slot);
                want.remove(&slot);
            } else {
                h.insert(slot);
                want.insert(slot);
            }
            if step % 500 == 0 {
                for s in 0..5_100usize {
                    assert_eq!(h.contains(s), want.contains(&(s as u32)), "slot {s}");
                }
                assert_eq!(h.len(), want.len());
            }
        }
        assert!(!h.bits.is_empty(), "the test made the bitmap");
    }
}
