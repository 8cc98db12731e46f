//! The organisation's synonyms, applied when a search is made (never written into the index, so
//! an edit takes effect at once without a rebuild). Communicators know that residents write
//! `sopor` where the municipality writes `hushållsavfall`, and `LSS` for `lagen om stöd och
//! service`: an administrator keeps groups of such terms, and a search for any term of a group
//! also finds the others. A term matches in any form of its words (`soporna`, `avfall`), and a
//! term of several words matches those words in a row of the query.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::text;

/// Most terms in one group, most groups, and the longest term (characters and words): an
/// administrator's list, not a thesaurus; the bounds keep every search's expansion small.
pub const MAX_TERMS: usize = 20;
pub const MAX_GROUPS: usize = 2000;
pub const MAX_TERM_CHARS: usize = 80;
pub const MAX_TERM_WORDS: usize = 6;

/// One group as stored and shown: its terms as the administrator wrote them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub id: i64,
    pub terms: Vec<String>,
}

/// A term's words, normalised, and their folded keys (what a query's words are matched by).
#[derive(Debug, Clone)]
struct Term {
    words: Vec<String>,
    keys: Vec<String>,
    written: String,
}

fn term(written: &str) -> Option<Term> {
    let normalised = text::normalise(written);
    let words: Vec<String> = text::words(&normalised).map(str::to_string).collect();
    if words.is_empty() {
        return None;
    }
    let keys = words.iter().map(|w| text::swedish::folded_key(w)).collect();
    Some(Term {
        words,
        keys,
        written: written.trim().to_string(),
    })
}

/// The groups, ready for matching: by the key of a term's first word.
#[derive(Debug, Default)]
pub struct Synonyms {
    groups: Vec<Vec<Term>>,
    by_first_key: HashMap<String, Vec<(usize, usize)>>,
}

/// A run of query words that is a term of a group, and the group's other terms.
#[derive(Debug)]
pub struct Found<'a> {
    /// How many query words the term covers.
    pub len: usize,
    /// The other terms: their words (normalised), and as written.
    pub others: Vec<(&'a [String], &'a str)>,
}

impl Synonyms {
    pub fn new(groups: &[Group]) -> Synonyms {
        let mut s = Synonyms::default();
        for g in groups {
            let terms: Vec<Term> = g.terms.iter().filter_map(|t| term(t)).collect();
            if terms.len() < 2 {
                continue;
            }
            let at = s.groups.len();
            for (i, t) in terms.iter().enumerate() {
                s.by_first_key
                    .entry(t.keys[0].clone())
                    .or_default()
                    .push((at, i));
            }
            s.groups.push(terms);
        }
        s
    }

    /// The longest term of any group that the query's words start with.
    pub fn at_start(&self, words: &[String]) -> Option<Found<'_>> {
        let first = text::swedish::folded_key(words.first()?);
        let candidates = self.by_first_key.get(&first)?;
        let keys: Vec<String> = words
            .iter()
            .take(MAX_TERM_WORDS)
            .map(|w| text::swedish::folded_key(w))
            .collect();
        let (group, term) = candidates
            .iter()
            .filter(|(g, t)| keys.starts_with(&self.groups[*g][*t].keys))
            .max_by_key(|(g, t)| self.groups[*g][*t].keys.len())?;
        let terms = &self.groups[*group];
        Some(Found {
            len: terms[*term].keys.len(),
            others: terms
                .iter()
                .enumerate()
                .filter(|(i, _)| i != term)
                .map(|(_, t)| (t.words.as_slice(), t.written.as_str()))
                .collect(),
        })
    }
}

/// The groups in use on this instance: replaced whole when they change (an edit here, or one
/// on another instance seen in the event log), read by every search.
#[derive(Default)]
pub struct SynonymCache {
    current: RwLock<Arc<Synonyms>>,
}

impl SynonymCache {
    pub fn get(&self) -> Arc<Synonyms> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set(&self, groups: &[Group]) {
        let fresh = Arc::new(Synonyms::new(groups));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }
}

/// Checks a group's terms as an administrator sent them: the reason it cannot be kept, if any.
pub fn check_terms(terms: &[String]) -> Result<Vec<String>, String> {
    let mut kept: Vec<String> = Vec::new();
    for t in terms {
        let t = t.trim();
        if t.is_empty() {
            // Refused rather than skipped: the description says every term has a word, and a
            // blank one is more likely a slip (two commas) than a wish.
            return Err("a term is empty; remove it or write the word it was meant to be".into());
        }
        if t.chars().count() > MAX_TERM_CHARS {
            return Err(format!(
                "a term may have at most {MAX_TERM_CHARS} characters; shorten {:?}",
                t.chars().take(20).collect::<String>()
            ));
        }
        let Some(parsed) = term(t) else {
            return Err(format!(
                "{t:?} has no letters or digits: a term is one or more words"
            ));
        };
        if parsed.words.len() > MAX_TERM_WORDS {
            return Err(format!(
                "a term may have at most {MAX_TERM_WORDS} words; shorten {t:?}"
            ));
        }
        if !kept.iter().any(|k| k.to_lowercase() == t.to_lowercase()) {
            kept.push(t.to_string());
        }
    }
    if kept.len() < 2 {
        return Err("a group needs at least two different terms, e.g. sopor and avfall".into());
    }
    if kept.len() > MAX_TERMS {
        return Err(format!(
            "a group may have at most {MAX_TERMS} terms; split it into two"
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &str) -> Vec<String> {
        q.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn terms_match_in_any_form_and_the_longest_wins() {
        let s = Synonyms::new(&[
            Group {
                id: 1,
                terms: vec!["sopor".into(), "avfall".into(), "hushållsavfall".into()],
            },
            Group {
                id: 2,
                terms: vec!["LSS".into(), "lagen om stöd och service".into()],
            },
        ]);
        let found = s.at_start(&words("soporna norrby")).unwrap();
        assert_eq!(found.len, 1);
        let others: Vec<&str> = found.others.iter().map(|o| o.1).collect();
        assert_eq!(others, ["avfall", "hushållsavfall"]);
        let found = s.at_start(&words("lagen om stod och service")).unwrap();
        assert_eq!((found.len, found.others[0].1), (5, "LSS"));
        assert!(s.at_start(&words("lagen om parkering")).is_none());
        assert_eq!(s.at_start(&words("lss")).unwrap().others[0].0.len(), 5);
    }

    #[test]
    fn a_group_needs_two_bounded_terms() {
        assert_eq!(
            check_terms(&[" sopor ".into(), "avfall".into()]),
            Ok(vec!["sopor".to_string(), "avfall".to_string()])
        );
        // A blank term is refused, as the API description says, not skipped.
        for blank in ["", "  "] {
            let err = check_terms(&["sopor".into(), blank.into(), "avfall".into()]).unwrap_err();
            assert!(err.contains("empty"), "{err}");
        }
        assert!(check_terms(&["sopor".into(), "Sopor".into()]).is_err());
        assert!(check_terms(&["sopor".into(), "🙂".into()]).is_err());
        assert!(check_terms(&["a".into(), "x".repeat(81)]).is_err());
    }
}
