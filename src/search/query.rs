//! From what a person types to a tantivy query: all words by default, "phrases", -exclusions,
//! the last word as a prefix while typing; plus filters and permissions applied by the server,
//! never taken from the query text.

use std::ops::Bound;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, Order, Term};

use super::OpenIndex;
use crate::text;

/// The query text, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub words: Vec<String>,
    pub phrases: Vec<Vec<String>>,
    pub excluded: Vec<String>,
    /// The last word is still being typed (no space after it).
    pub last_is_prefix: bool,
}

/// Longest query accepted, in characters, and most terms used from it.
pub const MAX_QUERY_CHARS: usize = 500;
const MAX_TERMS: usize = 16;

pub fn parse(query: &str, typing: bool) -> Parsed {
    let mut parsed = Parsed::default();
    let mut rest = query;
    while let Some(start) = rest.find('"') {
        let (before, after) = rest.split_at(start);
        add_words(&mut parsed, before);
        let after = &after[1..];
        match after.find('"') {
            Some(end) => {
                let phrase: Vec<String> = text::words(&text::normalise(&after[..end]))
                    .take(MAX_TERMS)
                    .map(str::to_string)
                    .collect();
                match phrase.len() {
                    0 => {}
                    1 => parsed.words.extend(phrase),
                    _ => parsed.phrases.push(phrase),
                }
                rest = &after[end + 1..];
            }
            None => {
                rest = after;
                break;
            }
        }
    }
    add_words(&mut parsed, rest);
    parsed.last_is_prefix = typing
        && !query.ends_with(char::is_whitespace)
        && !query.trim_end().ends_with('"')
        && !parsed.words.is_empty();
    parsed.words.truncate(MAX_TERMS);
    parsed.excluded.truncate(MAX_TERMS);
    parsed.phrases.truncate(4);
    parsed
}

fn add_words(parsed: &mut Parsed, chunk: &str) {
    for token in chunk.split_whitespace() {
        let (negated, token) = match token.strip_prefix('-') {
            Some(t) if !t.is_empty() => (true, t),
            _ => (false, token),
        };
        for w in text::words(&text::normalise(token)) {
            if negated {
                parsed.excluded.push(w.to_string());
            } else {
                parsed.words.push(w.to_string());
            }
        }
    }
}

/// Filters and permissions. Every value here comes from the server's own checks or typed
/// parameters, never from the query text.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// Conversation kinds the caller may read and asked for; empty means nothing.
    pub kinds: Vec<String>,
    /// Message states the caller may see (visible; hidden and removed for moderators).
    pub states: Vec<String>,
    /// Channel scope ∩ requested channel; None for every channel.
    pub channels: Option<Vec<i64>>,
    pub platform: Option<String>,
    pub direction: Option<String>,
    pub status: Option<String>,
    pub author_id: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub attachments: Option<bool>,
    /// Only messages triage flagged at this severity or above (S1..S5).
    pub min_severity: Option<String>,
    /// Only these messages (an FAQ cluster's members).
    pub message_ids: Option<Vec<i64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Relevance,
    Newest,
    Oldest,
}

#[derive(Debug)]
pub struct Hits {
    pub total: usize,
    /// Message ids with their score (0 when sorted by time), best first.
    pub ids: Vec<(i64, f32)>,
}

fn term_text(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

impl OpenIndex {
    /// The terms an analyzer of `field` makes of `word` (stemmed, or nothing for a stop word).
    pub(super) fn analysed(&self, field: Field, word: &str) -> Vec<Term> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(word);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(Term::from_field_text(field, &token.text));
        }
        terms
    }

    /// One query word: the exact word ranks first, then its stem in either language, then the
    /// word without diacritics, then compound parts; `prefix` adds words that start with it.
    fn word_query(&self, word: &str, prefix: bool) -> Box<dyn Query> {
        let f = &self.fields;
        let boosted = |q: Box<dyn Query>, b: f32| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(BoostQuery::new(q, b)))
        };
        let term = |field: Field, w: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, w),
                IndexRecordOption::WithFreqs,
            ))
        };
        let mut clauses = vec![
            boosted(term(f.words, word), 3.0),
            boosted(term(f.folded, &text::fold(word)), 1.0),
        ];
        if word.chars().count() >= text::MIN_PART {
            clauses.push(boosted(term(f.parts, word), 0.8));
        }
        // The word's Swedish stem without diacritics (documents index their folded stems).
        for t in self.analysed(f.sv, word) {
            if let Some(stem) = t.value().as_str() {
                clauses.push(boosted(term(f.folded, &text::fold(stem)), 0.9));
            }
        }
        for field in [f.sv, f.en] {
            for t in self.analysed(field, word) {
                clauses.push(boosted(
                    Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)),
                    2.0,
                ));
            }
        }
        if prefix {
            let q = FuzzyTermQuery::new_prefix(Term::from_field_text(f.words, word), 0, true);
            clauses.push(boosted(Box::new(q), 0.5));
            let q = FuzzyTermQuery::new_prefix(
                Term::from_field_text(f.folded, &text::fold(word)),
                0,
                true,
            );
            clauses.push(boosted(Box::new(q), 0.3));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    pub fn build(&self, parsed: &Parsed, filters: &Filters) -> Box<dyn Query> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let last = parsed.words.len().saturating_sub(1);
        for (i, w) in parsed.words.iter().enumerate() {
            clauses.push((
                Occur::Must,
                self.word_query(w, parsed.last_is_prefix && i == last),
            ));
        }
        for phrase in &parsed.phrases {
            let terms = phrase
                .iter()
                .map(|w| Term::from_field_text(f.words, w))
                .collect();
            clauses.push((
                Occur::Must,
                Box::new(BoostQuery::new(Box::new(PhraseQuery::new(terms)), 3.0)),
            ));
        }
        for w in &parsed.excluded {
            clauses.push((Occur::MustNot, self.word_query(w, false)));
        }
        if parsed.words.is_empty() && parsed.phrases.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        // One value is a plain term (read lazily); a set is built into a bitset per segment on
        // every query, so a filter that allows every value is left out altogether.
        let any_of = |field: Field, values: &[String]| -> Box<dyn Query> {
            match values {
                [one] => term_text(field, one),
                many => Box::new(TermSetQuery::new(
                    many.iter().map(|v| Term::from_field_text(field, v)),
                )),
            }
        };
        let covers =
            |values: &[String], all: &[&str]| all.iter().all(|a| values.iter().any(|v| v == a));
        if !covers(&filters.kinds, &["dm", "comments"]) {
            clauses.push(filter(any_of(f.kind, &filters.kinds)));
        }
        if !covers(
            &filters.states,
            &["visible", "hidden", "removed", "deleted"],
        ) {
            clauses.push(filter(any_of(f.state, &filters.states)));
        }
        if let Some(channels) = &filters.channels {
            let terms = channels
                .iter()
                .map(|c| Term::from_field_u64(f.channel_id, *c as u64));
            clauses.push(filter(Box::new(TermSetQuery::new(terms))));
        }
        for (field, value) in [
            (f.platform, &filters.platform),
            (f.direction, &filters.direction),
            (f.status, &filters.status),
        ] {
            if let Some(v) = value {
                clauses.push(filter(term_text(field, v)));
            }
        }
        if let Some(author) = filters.author_id {
            let t = Term::from_field_u64(f.author_id, author as u64);
            clauses.push(filter(Box::new(TermQuery::new(
                t,
                IndexRecordOption::Basic,
            ))));
        }
        if let Some(with) = filters.attachments {
            let t = Term::from_field_u64(f.attachments, with as u64);
            clauses.push(filter(Box::new(TermQuery::new(
                t,
                IndexRecordOption::Basic,
            ))));
        }
        if let Some(ids) = &filters.message_ids {
            let terms = ids
                .iter()
                .map(|id| Term::from_field_u64(f.message_id, *id as u64));
            clauses.push(filter(Box::new(TermSetQuery::new(terms))));
        }
        if let Some(min) = &filters.min_severity {
            let levels: Vec<String> = ["S1", "S2", "S3", "S4", "S5"]
                .iter()
                .filter(|l| **l >= min.as_str())
                .map(|l| l.to_string())
                .collect();
            clauses.push(filter(any_of(f.severity, &levels)));
        }
        if filters.from.is_some() || filters.to.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => Bound::Included(Term::from_field_i64(f.time, v)),
                None => Bound::Unbounded,
            };
            clauses.push(filter(Box::new(RangeQuery::new(
                bound(filters.from),
                bound(filters.to),
            ))));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// Runs a query: the total number of hits and one page of them.
    pub fn run(
        &self,
        query: &dyn Query,
        sort: SortOrder,
        limit: usize,
        offset: usize,
    ) -> anyhow::Result<Hits> {
        let searcher = self.reader.searcher();
        let top = TopDocs::with_limit(limit.max(1)).and_offset(offset);
        let (total, addresses): (usize, Vec<(f32, DocAddress)>) = match sort {
            SortOrder::Relevance => searcher.search(query, &(Count, top.order_by_score()))?,
            SortOrder::Newest | SortOrder::Oldest => {
                let order = if sort == SortOrder::Newest {
                    Order::Desc
                } else {
                    Order::Asc
                };
                let (total, hits) = searcher.search(
                    query,
                    &(Count, top.order_by_fast_field::<i64>("time", order)),
                )?;
                (total, hits.into_iter().map(|(_, a)| (0.0, a)).collect())
            }
        };
        let mut ids = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let column = searcher
                .segment_reader(address.segment_ord)
                .fast_fields()
                .u64("message_id")?;
            if let Some(id) = column.first(address.doc_id) {
                ids.push((id as i64, score));
            }
        }
        Ok(Hits { total, ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_words_phrases_exclusions_and_prefix() {
        let p = parse(r#"parkering "boende parkering" -avgift tillst"#, true);
        assert_eq!(p.words, ["parkering", "tillst"]);
        assert_eq!(
            p.phrases,
            [vec!["boende".to_string(), "parkering".to_string()]]
        );
        assert_eq!(p.excluded, ["avgift"]);
        assert!(p.last_is_prefix);
        assert!(!parse("parkering ", true).last_is_prefix);
        assert!(!parse("parkering", false).last_is_prefix);
        // Punctuation and emoji never reach the index as terms; a lone quote is harmless.
        let odd = parse("\"unclosed 🙂 https://x.se/a?b=c -", true);
        assert!(odd.words.contains(&"unclosed".to_string()));
        assert!(odd.excluded.is_empty());
    }
}
