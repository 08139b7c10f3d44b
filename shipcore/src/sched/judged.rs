//! Which buckets (label sets) a request's label constraints admit: judged
//! once per distinct list of constraints and remembered, since a cluster
//! sees the same few lists (`env==prod`, `ssd`, …) over and over.
//!
//! The memo is found by an unkeyed fingerprint of the list, cheap enough to
//! compute for every request. Every hit is checked by equality and a
//! fingerprint keeps at most a few lists, so lists made to collide cost a
//! comparison each and then a judgement made afresh, never more.

use std::hash::BuildHasher;

use super::bucket::Bucket;
use super::request::Constraint;
use super::symbols::{IdHasher, IdMap};

/// Every bucket's verdict on one list of label constraints.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judgement {
    /// Per bucket, the first constraint it breaks.
    pub broken: Vec<Option<usize>>,
    /// The buckets that break none.
    pub matching: Vec<usize>,
}

impl Judgement {
    fn judge(&mut self, buckets: &[Bucket], constraints: &[Constraint]) {
        self.broken.clear();
        self.matching.clear();
        for (b, bucket) in buckets.iter().enumerate() {
            let broken = constraints.iter().position(|c| !c.holds(&bucket.labels));
            self.broken.push(broken);
            if broken.is_none() {
                self.matching.push(b);
            }
        }
    }
}

/// How many lists the memo keeps before it starts over (a cluster has a
/// handful, not thousands).
const KEPT: usize = 1024;
/// How many lists one fingerprint keeps.
const PER_PRINT: usize = 4;

/// Judgements by constraint list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judged {
    by_print: IdMap<u64, Vec<(Vec<Constraint>, Judgement)>>,
    kept: usize,
}

impl Judged {
    /// Forgets every judgement (a bucket was added: they all lack its
    /// verdict).
    pub fn clear(&mut self) {
        self.by_print.clear();
        self.kept = 0;
    }

    /// Writes the buckets' verdicts on `constraints` into `into`.
    pub fn judge(&mut self, buckets: &[Bucket], constraints: &[Constraint], into: &mut Judgement) {
        let print = std::hash::BuildHasherDefault::<IdHasher>::default().hash_one(constraints);
        let lists = self.by_print.entry(print).or_default();
        if let Some((_, known)) = lists.iter().find(|(c, _)| c.as_slice() == constraints) {
            into.broken.clone_from(&known.broken);
            into.matching.clone_from(&known.matching);
            return;
        }
        into.judge(buckets, constraints);
        if lists.len() < PER_PRINT {
            lists.push((constraints.to_vec(), into.clone()));
            self.kept += 1;
            if self.kept > KEPT {
                self.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_remembered_until_cleared() {
        let buckets = [
            Bucket::new(vec!["ssd".into(), "zone=a".into()]),
            Bucket::new(vec!["zone=b".into()]),
        ];
        let mut memo = Judged::default();
        let mut j = Judgement::default();
        let ssd = [Constraint::Has("ssd".into())];
        let zone = [
            Constraint::Ne("zone".into(), "c".into()),
            Constraint::Eq("zone".into(), "b".into()),
        ];
        for _ in 0..2 {
            memo.judge(&buckets, &ssd, &mut j);
            assert_eq!(
                (j.broken.clone(), j.matching.clone()),
                (vec![None, Some(0)], vec![0])
            );
            memo.judge(&buckets, &zone, &mut j);
            assert_eq!(
                (j.broken.clone(), j.matching.clone()),
                (vec![Some(1), None], vec![1])
            );
            memo.judge(&buckets, &[], &mut j);
            assert_eq!(j.matching, vec![0, 1]);
        }
        assert_eq!(memo.kept, 3);
        memo.clear();
        memo.judge(&buckets[..1], &zone, &mut j);
        assert_eq!(j.broken, vec![Some(1)], "judged afresh after clear");
    }
}
