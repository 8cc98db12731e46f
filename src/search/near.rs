//! Near spellings already looked up, by segment: the words one typing error from a query word
//! that one segment's dictionary holds. A segment never changes once written (deletes mark
//! documents, they do not touch its dictionary), so what was found in it stays true for as long
//! as the segment lives: a kept answer is exact, never stale. Walking a large segment's
//! dictionary with the automaton is most of planning a query (about 0.5 ms over a million
//! messages), and agents search the same words again and again; the small, new segments are
//! walked each time, as cheap as ever.
//!
//! Bounded: when the kept spellings or lookups pass their limits, everything is let go at
//! once (segments merged away leave entries nobody asks for again; this clears them too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;

/// Most spellings kept over all lookups (about 40 bytes each: a couple of MiB).
const MAX_SPELLINGS: usize = 50_000;
/// Most lookups kept (a lookup that found nothing still costs its key: three words of at
/// most about 50 bytes, as the planner looks up no longer word; a few MiB in all).
const MAX_LOOKUPS: usize = 20_000;

/// What a lookup is: the segment, the form walked, and the word's own forms (the spellings
/// kept leave those out, so they are part of what was asked).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Lookup {
    pub segment: SegmentId,
    pub typed: String,
    pub folded: String,
    pub key: String,
}

#[derive(Default)]
struct Kept {
    found: HashMap<Lookup, Arc<[String]>>,
    spellings: usize,
}

/// The near spellings found per segment, shared by every search of one open index.
#[derive(Default)]
pub struct NearSpellings {
    kept: Mutex<Kept>,
}

impl NearSpellings {
    /// The spellings found before for this lookup, or those `walk` finds now (then kept).
    pub fn get_or_walk(
        &self,
        lookup: Lookup,
        walk: impl FnOnce() -> tantivy::Result<Vec<String>>,
    ) -> tantivy::Result<Arc<[String]>> {
        if let Some(found) = self.lock().found.get(&lookup) {
            return Ok(found.clone());
        }
        // Walked without the lock: segments are walked side by side, and two searches for the
        // same word at once both walk, which costs what it did before there was a cache.
        let found: Arc<[String]> = walk()?.into();
        let mut kept = self.lock();
        if kept.spellings + found.len() > MAX_SPELLINGS || kept.found.len() >= MAX_LOOKUPS {
            *kept = Kept::default();
        }
        if kept.found.insert(lookup, found.clone()).is_none() {
            kept.spellings += found.len();
        }
        Ok(found)
    }

    /// How many lookups are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().found.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(segment: SegmentId, typed: &str) -> Lookup {
        Lookup {
            segment,
            typed: typed.into(),
            folded: typed.into(),
            key: typed.into(),
        }
    }

    #[test]
    fn a_lookup_is_walked_once_per_segment_and_word() {
        let near = NearSpellings::default();
        let (one, other) = (SegmentId::generate_random(), SegmentId::generate_random());
        let mut walks = 0;
        let mut walk = |words: &[&str]| {
            walks += 1;
            Ok(words.iter().map(|w| w.to_string()).collect())
        };
        let first = near
            .get_or_walk(lookup(one, "faktura"), || walk(&["fakutra"]))
            .unwrap();
        let again = near
            .get_or_walk(lookup(one, "faktura"), || walk(&["never"]))
            .unwrap();
        let elsewhere = near
            .get_or_walk(lookup(other, "faktura"), || walk(&["faktur"]))
            .unwrap();
        assert_eq!(&*first, ["fakutra".to_string()]);
        assert_eq!(&*again, ["fakutra".to_string()], "kept, not walked again");
        assert_eq!(
            &*elsewhere,
            ["faktur".to_string()],
            "another segment is its own"
        );
        assert_eq!(walks, 2);
    }

    #[test]
    fn forty_searches_at_once_for_one_word_keep_it_once() {
        let near = NearSpellings::default();
        let segment = SegmentId::generate_random();
        std::thread::scope(|threads| {
            for _ in 0..40 {
                threads.spawn(|| {
                    let found = near
                        .get_or_walk(lookup(segment, "faktura"), || {
                            // As long as a large segment's walk: the searches overlap in it.
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            Ok(vec!["fakutra".into(), "faktur".into()])
                        })
                        .unwrap();
                    assert_eq!(found.len(), 2);
                });
            }
        });
        let kept = near.lock();
        assert_eq!((kept.found.len(), kept.spellings), (1, 2), "counted once");
    }

    #[test]
    fn everything_is_let_go_when_the_limit_is_passed() {
        let near = NearSpellings::default();
        let segment = SegmentId::generate_random();
        let many: Vec<String> = (0..MAX_SPELLINGS - 1).map(|i| i.to_string()).collect();
        near.get_or_walk(lookup(segment, "a"), || Ok(many.clone()))
            .unwrap();
        near.get_or_walk(lookup(segment, "b"), || Ok(vec!["x".into()]))
            .unwrap();
        assert_eq!(near.len(), 2, "at the limit, both kept");
        near.get_or_walk(lookup(segment, "c"), || Ok(vec!["y".into()]))
            .unwrap();
        assert_eq!(near.len(), 1, "past it, only the newest");
        let walked = near
            .get_or_walk(lookup(segment, "a"), || Ok(vec!["walked again".into()]))
            .unwrap();
        assert_eq!(&*walked, ["walked again".to_string()]);
    }
}
