//! Retention and immutability of a repository's tags (pure: no IO, no
//! clock; the time is given). A repository's [`Rules`] keep tags (the
//! newest N pushed, those matching a pattern, those pulled in the last D
//! days) and make tags immutable (a push over one, or its deletion, is
//! refused). [`retain`] decides, tag by tag, what a retention run keeps and
//! removes and names the rule that decided; immutability always wins over
//! retention. [`check_push`] and [`check_delete`] are the immutability
//! checks of a push and of a deletion.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most patterns in one rule list, and the longest pattern.
pub const MAX_PATTERNS: usize = 32;
pub const MAX_PATTERN: usize = 128;
/// The longest `keep_pulled_within_days`: a hundred years.
pub const MAX_DAYS: u32 = 36_500;

/// A repository's retention and immutability rules. No retention rule at
/// all keeps everything; with one or more, a tag no rule keeps is removed
/// by a retention run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Keep the N most recently pushed tags.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::whole_number_opt"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000000))]
    pub keep_newest: Option<u32>,
    /// Keep tags matching any of these patterns (`*` any run, `?` one
    /// character).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_items = 32, min_length = 1, max_length = 128)
    )]
    pub keep_matching: Vec<String>,
    /// Keep tags pulled in the last D days.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::whole_number_opt"
    )]
    #[cfg_attr(feature = "openapi", schema(maximum = 36500))]
    pub keep_pulled_within_days: Option<u32>,
    /// Tags matching any of these patterns are immutable: once pushed,
    /// neither pushed over (with other content) nor deleted, by anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_items = 32, min_length = 1, max_length = 128)
    )]
    pub immutable: Vec<String>,
}

impl Rules {
    pub fn validate(&self) -> Result<()> {
        for (field, list) in [
            ("keep_matching", &self.keep_matching),
            ("immutable", &self.immutable),
        ] {
            if list.len() > MAX_PATTERNS {
                return Err(Error::invalid(
                    field,
                    format!("at most {MAX_PATTERNS} patterns"),
                ));
            }
            for p in list {
                if p.is_empty() || p.chars().count() > MAX_PATTERN {
                    return Err(Error::invalid(
                        field,
                        format!("a pattern is 1 to {MAX_PATTERN} characters, got {p:?}"),
                    ));
                }
            }
        }
        if self.keep_pulled_within_days.is_some_and(|d| d > MAX_DAYS) {
            return Err(Error::invalid(
                "keep_pulled_within_days",
                format!("at most {MAX_DAYS} days (a hundred years)"),
            ));
        }
        if self.keep_newest.is_some_and(|n| n > 1_000_000) {
            return Err(Error::invalid("keep_newest", "at most 1000000 tags"));
        }
        if self.keep_newest == Some(0) {
            return Err(Error::invalid(
                "keep_newest",
                "keeping the newest 0 tags keeps nothing: leave it out",
            ));
        }
        Ok(())
    }

    /// Whether any retention rule is set (without one, a run keeps all).
    pub fn retains(&self) -> bool {
        self.keep_newest.is_some()
            || !self.keep_matching.is_empty()
            || self.keep_pulled_within_days.is_some()
    }

    /// The immutable pattern `tag` matches, if any.
    pub fn immutable_rule(&self, tag: &str) -> Option<&str> {
        self.immutable
            .iter()
            .find(|p| matches(p, tag))
            .map(String::as_str)
    }
}

/// What a retention run knows of one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFacts {
    pub name: String,
    /// When it was last pushed (seconds since the epoch).
    pub pushed: u64,
    /// The order of pushes within a second (higher is later; the push
    /// time to the nanosecond where it is known).
    pub seq: u64,
    /// When it was last pulled, if ever.
    pub pulled: Option<u64>,
}

/// What a retention run does with a tag, and the rule that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub tag: String,
    pub keep: bool,
    /// The rule that decided: `immutable "v*"`, `newest 3 (it is 2nd)`,
    /// `matches "release-*"`, `pulled 2 days ago (within 7)`, `no rules:
    /// everything is kept`, or `no rule keeps it`.
    pub rule: String,
}

const DAY: u64 = 24 * 3600;

/// Decides, for every tag, whether a retention run keeps or removes it, in
/// the order the tags are given. Immutability wins over everything; then
/// the first keep rule that holds (newest, pattern, pulled) is named.
pub fn retain(tags: &[TagFacts], rules: &Rules, now: u64) -> Vec<Decision> {
    // The newest N by push time (ties by name, so the choice is stable).
    let mut by_age: Vec<&TagFacts> = tags.iter().collect();
    by_age.sort_by(|a, b| {
        (b.pushed, b.seq)
            .cmp(&(a.pushed, a.seq))
            .then(a.name.cmp(&b.name))
    });
    let newest: BTreeSet<&str> = by_age
        .iter()
        .take(rules.keep_newest.map_or(0, |n| n as usize))
        .map(|t| t.name.as_str())
        .collect();
    let rank = |name: &str| by_age.iter().position(|t| t.name == name).unwrap_or(0) + 1;
    tags.iter()
        .map(|t| {
            let decide = |keep: bool, rule: String| Decision {
                tag: t.name.clone(),
                keep,
                rule,
            };
            if let Some(p) = rules.immutable_rule(&t.name) {
                return decide(true, format!("immutable {p:?}"));
            }
            if !rules.retains() {
                return decide(true, "no rules: everything is kept".into());
            }
            if newest.contains(t.name.as_str()) {
                let n = rules.keep_newest.unwrap_or(0);
                return decide(
                    true,
                    format!("newest {n} (it is {})", ordinal(rank(&t.name))),
                );
            }
            if let Some(p) = rules.keep_matching.iter().find(|p| matches(p, &t.name)) {
                return decide(true, format!("matches {p:?}"));
            }
            if let (Some(days), Some(pulled)) = (rules.keep_pulled_within_days, t.pulled) {
                let ago = now.saturating_sub(pulled);
                if ago <= u64::from(days) * DAY {
                    return decide(
                        true,
                        format!("pulled {} days ago (within {days})", ago / DAY),
                    );
                }
            }
            decide(false, "no rule keeps it".into())
        })
        .collect()
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The immutability check of a push of `tag` naming `digest`, where the
/// tag names `current` now (if it exists): refused when the tag is
/// immutable and would come to name other content. Pushing the same
/// content again is not a change.
pub fn check_push(rules: &Rules, tag: &str, current: Option<&str>, digest: &str) -> Result<()> {
    match (rules.immutable_rule(tag), current) {
        (Some(p), Some(now)) if now != digest => Err(Error::Forbidden {
            reason: format!(
                "tag {tag} is immutable (rule {p:?}) and names {now}: push under another tag"
            ),
        }),
        _ => Ok(()),
    }
}

/// The immutability check of deleting `tags` (a tag, or the tags that go
/// with a manifest deleted by digest).
pub fn check_delete(rules: &Rules, tags: &[String]) -> Result<()> {
    for tag in tags {
        if let Some(p) = rules.immutable_rule(tag) {
            return Err(Error::Forbidden {
                reason: format!("tag {tag} is immutable (rule {p:?}): it is not deleted"),
            });
        }
    }
    Ok(())
}

/// Whether `text` matches `pattern`: `*` any run of characters (none
/// included), `?` any one, everything else itself. Iterative, in time
/// linear in the product of the lengths at worst, whatever the input.
pub fn matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            // The last star takes one more character.
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn counts_are_whole_numbers_written_either_way() {
        let r: Rules =
            serde_json::from_str(r#"{"keep_newest": 3.0, "keep_pulled_within_days": 2407}"#)
                .unwrap();
        assert_eq!(r.keep_newest, Some(3));
        assert_eq!(r.keep_pulled_within_days, Some(2407));
        assert_eq!(
            serde_json::from_str::<Rules>("{}").unwrap(),
            Rules::default()
        );
        for bad in [
            r#"{"keep_newest": 2.5}"#,
            r#"{"keep_newest": -1}"#,
            r#"{"keep_newest": "3"}"#,
        ] {
            assert!(serde_json::from_str::<Rules>(bad).is_err(), "{bad}");
        }
    }

    const NOW: u64 = 1_800_000_000;

    fn tag(name: &str, pushed_days_ago: u64, pulled_days_ago: Option<u64>) -> TagFacts {
        TagFacts {
            name: name.into(),
            pushed: NOW - pushed_days_ago * DAY,
            seq: 0,
            pulled: pulled_days_ago.map(|d| NOW - d * DAY),
        }
    }

    #[test]
    fn patterns() {
        for (p, t, want) in [
            ("*", "", true),
            ("*", "anything", true),
            ("v*", "v1.0", true),
            ("v*", "1.0", false),
            ("release-?", "release-1", true),
            ("release-?", "release-10", false),
            ("*-rc*", "1.0-rc2", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("latest", "latest", true),
            ("latest", "latest2", false),
            (&"*a".repeat(60), &"a".repeat(100), true),
            (&"*a".repeat(60), &format!("{}b", "a".repeat(100)), false),
        ] {
            assert_eq!(matches(p, t), want, "{p} ~ {t}");
        }
    }

    /// (tags as (name, pushed days ago, pulled days ago), rules) → (tag,
    /// kept, rule).
    #[test]
    fn retention_table() {
        let tags = [
            tag("1.0", 30, None),
            tag("1.1", 20, Some(2)),
            tag("1.2", 10, None),
            tag("release-1", 40, None),
            tag("latest", 1, None),
            tag("v2", 50, None),
        ];
        type Row<'a> = (Rules, &'a [(&'a str, bool, &'a str)]);
        let rows: Vec<Row> = vec![
            (
                Rules::default(),
                &[
                    ("1.0", true, "no rules: everything is kept"),
                    ("v2", true, "no rules: everything is kept"),
                ],
            ),
            (
                Rules {
                    keep_newest: Some(2),
                    ..Rules::default()
                },
                &[
                    ("latest", true, "newest 2 (it is 1st)"),
                    ("1.2", true, "newest 2 (it is 2nd)"),
                    ("1.1", false, "no rule keeps it"),
                    ("v2", false, "no rule keeps it"),
                ],
            ),
            (
                Rules {
                    keep_newest: Some(1),
                    keep_matching: vec!["release-*".into()],
                    keep_pulled_within_days: Some(7),
                    ..Rules::default()
                },
                &[
                    ("latest", true, "newest 1 (it is 1st)"),
                    ("release-1", true, "matches \"release-*\""),
                    ("1.1", true, "pulled 2 days ago (within 7)"),
                    ("1.0", false, "no rule keeps it"),
                    ("1.2", false, "no rule keeps it"),
                ],
            ),
            (
                // Immutability wins over retention, and is named.
                Rules {
                    keep_newest: Some(1),
                    immutable: vec!["v*".into(), "1.0".into()],
                    ..Rules::default()
                },
                &[
                    ("v2", true, "immutable \"v*\""),
                    ("1.0", true, "immutable \"1.0\""),
                    ("latest", true, "newest 1 (it is 1st)"),
                    ("1.2", false, "no rule keeps it"),
                ],
            ),
            (
                // Pulled longer ago than the window: not kept by it.
                Rules {
                    keep_pulled_within_days: Some(1),
                    ..Rules::default()
                },
                &[("1.1", false, "no rule keeps it")],
            ),
        ];
        for (rules, want) in rows {
            rules.validate().unwrap();
            let got = retain(&tags, &rules, NOW);
            assert_eq!(got.len(), tags.len());
            for (name, keep, rule) in want {
                let d = got.iter().find(|d| d.tag == *name).unwrap();
                assert_eq!(
                    (d.keep, d.rule.as_str()),
                    (*keep, *rule),
                    "{rules:?}: {name}"
                );
            }
        }
    }

    #[test]
    fn immutable_tags_refuse_a_push_of_other_content_and_a_delete() {
        let rules = Rules {
            immutable: vec!["1.*".into()],
            ..Rules::default()
        };
        // A new tag, and the same content again: fine.
        check_push(&rules, "1.0", None, "sha256:a").unwrap();
        check_push(&rules, "1.0", Some("sha256:a"), "sha256:a").unwrap();
        // Other content under it: refused, naming the rule.
        let e = check_push(&rules, "1.0", Some("sha256:a"), "sha256:b").unwrap_err();
        assert!(matches!(e, Error::Forbidden { .. }));
        assert!(e.to_string().contains("immutable (rule \"1.*\")"), "{e}");
        // A mutable tag moves freely.
        check_push(&rules, "latest", Some("sha256:a"), "sha256:b").unwrap();
        assert!(check_delete(&rules, &["latest".into(), "1.2".into()]).is_err());
        check_delete(&rules, &["latest".into()]).unwrap();
    }

    #[test]
    fn rules_are_checked() {
        for bad in [
            Rules {
                keep_newest: Some(0),
                ..Rules::default()
            },
            Rules {
                immutable: vec![String::new()],
                ..Rules::default()
            },
            Rules {
                keep_matching: vec!["x".repeat(MAX_PATTERN + 1)],
                ..Rules::default()
            },
            Rules {
                immutable: vec!["x".into(); MAX_PATTERNS + 1],
                ..Rules::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let r: std::result::Result<Rules, _> = serde_json::from_str(r#"{"keep_oldest": 3}"#);
        assert!(r.is_err(), "an unknown rule is refused");
    }
}
