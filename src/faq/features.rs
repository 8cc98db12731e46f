//! Features of a question: a sparse, L2-normalised TF-IDF vector over two kinds of feature,
//!
//! - word stems (Snowball via tantivy's `Stemmer`, per detected language), so "soptunnan" and
//!   "soptunnor" meet, with stop words removed but question words kept ("när" and "hur" ask
//!   different things), and
//! - character n-grams within words (diacritics folded), so spelling variants, missing å/ä/ö and
//!   Swedish compounds ("parkeringstillstånd" vs "tillstånd för parkering") still overlap.
//!
//! Features are hashed to `u32` ids (stems have [`STEM_BIT`] set) and vectors are sorted
//! `Vec<(u32, f32)>`, so a comparison is a merge of two short arrays. Document frequencies are
//! learned incrementally ([`Analyzer::learn`]): extraction needs no state and can run on many
//! threads, weighting reads the frequencies learned so far.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language as StemLanguage, Stemmer, TextAnalyzer, TokenStream, WhitespaceTokenizer,
};

use crate::text::{self, detectors};

/// A sparse vector: feature ids in increasing order, each once.
pub type SparseVec = Vec<(u32, f32)>;

/// Feature ids with this bit set are word stems; the others are character n-grams.
pub const STEM_BIT: u32 = 1 << 31;

/// Longest word worth features: longer runs are URLs, hashes or keyboard mashing.
const MAX_WORD: usize = 40;

/// How texts become vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Shortest and longest character n-gram (with `<` and `>` marking word edges).
    pub ngram_min: usize,
    pub ngram_max: usize,
    /// Share of the vector's weight given to n-grams (stems get `1 - ngram_weight`); both parts
    /// are normalised first, so a long word's many n-grams do not drown its stem.
    pub ngram_weight: f32,
    /// Features kept per text (the heaviest): bounds memory and comparison time.
    pub max_features: usize,
    /// Weight of interrogatives ("när", "hur", "when") relative to other stems. They are kept
    /// because they separate FAQs that share a subject ("när töms" / "hur sorterar"), but below
    /// 1: on CLINC150's validation split, weights above 1 pulled unrelated "when..." questions
    /// together (question NMI 0.85 → 0.82 at 1.5), and 0.6 grouped topics best at equal NMI.
    pub question_weight: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            ngram_min: 3,
            ngram_max: 5,
            ngram_weight: 0.5,
            max_features: 64,
            question_weight: 0.6,
        }
    }
}

/// Languages we stem. `crate::text::detect_language` knows Swedish and English; Norwegian is told
/// apart here because Swedish stemming of Norwegian words misses too much (xSID is Norwegian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    Swedish,
    English,
    Norwegian,
}

pub fn detect_language(normalised: &str) -> Lang {
    if text::detect_language(normalised) == text::Language::English {
        return Lang::English;
    }
    let (mut sv, mut no) = (0, 0);
    for w in text::words(normalised) {
        sv += SWEDISH_ONLY.contains(&w) as i32 + 2 * w.contains(['ä', 'ö']) as i32;
        no += NORWEGIAN_ONLY.contains(&w) as i32 + 2 * w.contains(['æ', 'ø']) as i32;
    }
    if no > sv {
        Lang::Norwegian
    } else {
        Lang::Swedish
    }
}

/// A text's features before weighting: what extraction finds without any learned state.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    /// (stem id, count), sorted by id.
    pub stems: Vec<(u32, u32)>,
    /// (n-gram id, count), sorted by id.
    pub ngrams: Vec<(u32, u32)>,
    /// Each stem id with a word it was written as, for readable top terms.
    pub surfaces: Vec<(u32, String)>,
    /// Stem ids that are interrogatives.
    pub asks: Vec<u32>,
}

impl Raw {
    pub fn is_empty(&self) -> bool {
        self.stems.is_empty() && self.ngrams.is_empty()
    }
}

/// Stems, n-grams and surface words of `text`. Stateless, so batch rebuilds run it in parallel.
pub fn extract(text: &str, config: &FeatureConfig) -> Raw {
    let normalised = text::normalise(&scrub(text));
    let lang = detect_language(&normalised);
    let stop = stop_words(lang);
    let kept: Vec<&str> = text::words(&normalised)
        .filter(|w| {
            let len = w.chars().count();
            // Long digit runs are phone or identity numbers: noise for FAQs, and personal data
            // that must not become features.
            let personal = w.len() > 4 && w.bytes().all(|b| b.is_ascii_digit());
            (2..=MAX_WORD).contains(&len) && !personal && !stop.contains(w)
        })
        .collect();
    let joined = kept.join(" ");
    let mut stems = Vec::with_capacity(kept.len());
    let mut surfaces = Vec::with_capacity(kept.len());
    let mut asks = Vec::new();
    STEMMERS.with(|cell| {
        let mut analyzers = cell.borrow_mut();
        let analyzer = &mut analyzers[lang as usize];
        let mut stream = analyzer.token_stream(&joined);
        while stream.advance() {
            let token = stream.token();
            let id = hash_str(0x5eed, &text::fold(&token.text)) | STEM_BIT;
            stems.push(id);
            if let Some(surface) = joined.get(token.offset_from..token.offset_to) {
                if INTERROGATIVES.contains(&surface) {
                    asks.push(id);
                }
                surfaces.push((id, surface.to_string()));
            }
        }
    });
    let mut ngrams = Vec::with_capacity(kept.len() * 12);
    let mut chars = Vec::with_capacity(MAX_WORD + 2);
    for word in &kept {
        chars.clear();
        chars.push('<');
        chars.extend(text::fold(word).chars());
        chars.push('>');
        push_ngrams(&chars, config.ngram_min, config.ngram_max, &mut ngrams);
    }
    Raw {
        stems: count(stems),
        ngrams: count(ngrams),
        surfaces,
        asks,
    }
}

/// `text` without personal data (identity and phone numbers, e-mail addresses) and links: they
/// are not what a question is about, and an address's words ("anna", "svensson", "gmail") would
/// otherwise pull a question away from its cluster, and keep personal data in the features.
fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for d in detectors::detect(text) {
        if let Some(before) = text.get(at..d.start) {
            out.push_str(before);
            out.push(' ');
            at = d.end;
        }
    }
    out.push_str(text.get(at..).unwrap_or(""));
    if !out.contains("://") && !out.contains("www.") {
        return out;
    }
    out.split_inclusive(char::is_whitespace)
        .filter(|w| !w.contains("://") && !w.starts_with("www."))
        .collect()
}

/// Hashes of every n-gram of `chars` with `min <= n <= max`, computed incrementally per start.
fn push_ngrams(chars: &[char], min: usize, max: usize, out: &mut Vec<u32>) {
    for start in 0..chars.len() {
        let mut h = FNV_OFFSET;
        for (k, &c) in chars[start..].iter().take(max).enumerate() {
            h = (h ^ c as u64).wrapping_mul(FNV_PRIME);
            if k + 1 >= min {
                out.push(finish(h) & !STEM_BIT);
            }
        }
    }
}

fn count(mut ids: Vec<u32>) -> Vec<(u32, u32)> {
    ids.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ids.len());
    for id in ids {
        match out.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}

/// Learned state: document frequencies, and the most common way each stem is written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Analyzer {
    docs: u32,
    df: FxMap<u32, u32>,
    surfaces: FxMap<u32, Vec<(String, u32)>>,
}

/// Surface forms remembered per stem: enough to pick the usual spelling, bounded in memory.
const SURFACES_PER_STEM: usize = 4;

impl Analyzer {
    /// Counts one more document.
    pub fn learn(&mut self, raw: &Raw) {
        self.docs = self.docs.saturating_add(1);
        for &(id, _) in raw.stems.iter().chain(&raw.ngrams) {
            let df = self.df.entry(id).or_insert(0);
            *df = df.saturating_add(1);
        }
        for (id, word) in &raw.surfaces {
            let forms = self.surfaces.entry(*id).or_default();
            if let Some(form) = forms.iter_mut().find(|(w, _)| w == word) {
                form.1 += 1;
            } else if forms.len() < SURFACES_PER_STEM {
                forms.push((word.clone(), 1));
            }
        }
    }

    /// Adds the document frequencies counted by another analyzer (parallel batch learning).
    pub fn absorb(&mut self, other: Analyzer) {
        self.docs = self.docs.saturating_add(other.docs);
        for (id, n) in other.df {
            let df = self.df.entry(id).or_insert(0);
            *df = df.saturating_add(n);
        }
        for (id, forms) in other.surfaces {
            let mine = self.surfaces.entry(id).or_default();
            for (word, n) in forms {
                if let Some(form) = mine.iter_mut().find(|(w, _)| *w == word) {
                    form.1 += n;
                } else if mine.len() < SURFACES_PER_STEM {
                    mine.push((word, n));
                }
            }
        }
    }

    pub fn documents(&self) -> u32 {
        self.docs
    }

    /// Smoothed inverse document frequency; an unseen feature counts as seen once.
    pub fn idf(&self, id: u32) -> f32 {
        let df = self.df.get(&id).copied().unwrap_or(0);
        ((self.docs as f32 + 1.0) / (df as f32 + 1.0)).ln() + 1.0
    }

    /// The most common written form of a stem.
    pub fn surface(&self, stem: u32) -> Option<&str> {
        self.surfaces
            .get(&stem)?
            .iter()
            .max_by_key(|(_, n)| *n)
            .map(|(w, _)| w.as_str())
    }

    /// The unit TF-IDF vector of `raw`, keeping the `max_features` heaviest features.
    pub fn weigh(&self, raw: &Raw, config: &FeatureConfig) -> SparseVec {
        let part = |features: &[(u32, u32)], share: f32, out: &mut SparseVec| {
            let start = out.len();
            for &(id, tf) in features {
                let boost = if raw.asks.contains(&id) {
                    config.question_weight
                } else {
                    1.0
                };
                out.push((id, boost * (1.0 + (tf as f32).ln()) * self.idf(id)));
            }
            let norm = norm(&out[start..]);
            if norm > 0.0 {
                for f in &mut out[start..] {
                    f.1 *= share / norm;
                }
            }
        };
        let mut v = Vec::with_capacity(raw.stems.len() + raw.ngrams.len());
        let share = config.ngram_weight.clamp(0.0, 1.0);
        part(&raw.stems, 1.0 - share, &mut v);
        part(&raw.ngrams, share, &mut v);
        if v.len() > config.max_features {
            v.select_nth_unstable_by(config.max_features, |a, b| b.1.total_cmp(&a.1));
            v.truncate(config.max_features);
        }
        v.retain(|f| f.1 > 0.0);
        v.sort_unstable_by_key(|f| f.0);
        normalise(&mut v);
        v
    }
}

pub fn norm(v: &[(u32, f32)]) -> f32 {
    v.iter().map(|f| f.1 * f.1).sum::<f32>().sqrt()
}

pub fn normalise(v: &mut [(u32, f32)]) {
    let n = norm(v);
    if n > 0.0 {
        for f in v {
            f.1 /= n;
        }
    }
}

/// Dot product of two sorted sparse vectors. The merge advances without branching on the
/// comparison (which a CPU cannot predict here): this is the innermost loop of assignment.
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x.0 == y.0 {
            sum += x.1 * y.1;
        }
        i += (x.0 <= y.0) as usize;
        j += (y.0 <= x.0) as usize;
    }
    sum
}

/// `a + scale * b` for sorted sparse vectors (entries that cancel out are dropped).
pub fn add_scaled(a: &[(u32, f32)], b: &[(u32, f32)], scale: f32) -> SparseVec {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].0 < b[j].0);
        let take_b = i >= a.len() || (j < b.len() && b[j].0 < a[i].0);
        let (id, w) = if take_a {
            i += 1;
            a[i - 1]
        } else if take_b {
            j += 1;
            (b[j - 1].0, scale * b[j - 1].1)
        } else {
            i += 1;
            j += 1;
            (a[i - 1].0, a[i - 1].1 + scale * b[j - 1].1)
        };
        if w > 1e-6 {
            out.push((id, w));
        }
    }
    out
}

// ---- hashing -------------------------------------------------------------------------------

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Avalanche a 64-bit state into 32 bits (FNV alone mixes the high bits poorly).
fn finish(mut h: u64) -> u32 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h as u32
}

fn hash_str(seed: u64, s: &str) -> u32 {
    let mut h = FNV_OFFSET ^ seed;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
    }
    finish(h)
}

/// A stable 64-bit hash for author names: clusters count distinct authors without keeping names.
pub fn hash64(s: &str) -> u64 {
    let mut h = FNV_OFFSET;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
    }
    h ^ (h >> 29)
}

/// The multiply-rotate hash rustc uses: our keys are already well-mixed integers, so SipHash's
/// DoS resistance buys nothing and costs a third of assignment time.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

// ---- languages -----------------------------------------------------------------------------

thread_local! {
    /// One stemming analyzer per language and thread (tantivy's analyzers need `&mut`).
    static STEMMERS: RefCell<[TextAnalyzer; 3]> = RefCell::new([
        stemmer(StemLanguage::Swedish),
        stemmer(StemLanguage::English),
        stemmer(StemLanguage::Norwegian),
    ]);
}

fn stemmer(language: StemLanguage) -> TextAnalyzer {
    TextAnalyzer::builder(WhitespaceTokenizer::default())
        .filter(Stemmer::new(language))
        .build()
}

fn stop_words(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::Swedish => SWEDISH_STOP,
        Lang::English => ENGLISH_STOP,
        Lang::Norwegian => NORWEGIAN_STOP,
    }
}

// Stop words are function words and greetings only. Interrogatives (hur, när, vad, var, vem,
// vilken, varför; how, when, what...), modal verbs and negation are kept on purpose: "när
// öppnar" and "hur öppnar" are different FAQs, and IDF already damps what is merely common.
const SWEDISH_STOP: &[&str] = &[
    "och",
    "att",
    "det",
    "som",
    "en",
    "ett",
    "på",
    "är",
    "av",
    "för",
    "med",
    "till",
    "den",
    "de",
    "dem",
    "dom",
    "om",
    "så",
    "men",
    "eller",
    "jag",
    "du",
    "han",
    "hon",
    "hen",
    "vi",
    "ni",
    "man",
    "mig",
    "dig",
    "sig",
    "oss",
    "er",
    "min",
    "mitt",
    "mina",
    "din",
    "ditt",
    "dina",
    "sin",
    "sitt",
    "sina",
    "vår",
    "vårt",
    "våra",
    "ert",
    "era",
    "hans",
    "hennes",
    "deras",
    "denna",
    "detta",
    "dessa",
    "då",
    "nu",
    "också",
    "bara",
    "från",
    "vid",
    "mot",
    "ju",
    "väl",
    "hej",
    "hejsan",
    "hallå",
    "tack",
    "mvh",
    "vänliga",
    "hälsningar",
    "ha",
    "har",
    "hade",
    "vara",
    "varit",
    "blir",
    "bli",
    "blev",
    "åt",
    "in",
    "ut",
    "upp",
    "något",
    "någon",
    "några",
    "lite",
    "mycket",
    "sen",
    "här",
    "där",
    "jo",
    "nej",
    "ja",
    "ok",
    "okej",
];

const ENGLISH_STOP: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from",
    "by", "about", "as", "into", "me", "my", "mine", "you", "your", "yours", "we", "us", "our",
    "he", "him", "his", "she", "her", "they", "them", "their", "it", "its", "this", "that",
    "these", "those", "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did",
    "have", "has", "had", "please", "hi", "hello", "hey", "thanks", "thank", "just", "so", "some",
    "there", "get", "got", "would", "like", "tell", "know", "let", "ok", "okay",
];

const NORWEGIAN_STOP: &[&str] = &[
    "og", "å", "at", "det", "som", "en", "et", "ei", "på", "er", "av", "for", "med", "til", "den",
    "de", "dem", "om", "så", "men", "eller", "jeg", "eg", "du", "han", "hun", "vi", "dere", "man",
    "meg", "deg", "seg", "oss", "min", "mitt", "mine", "din", "ditt", "dine", "sin", "sitt",
    "sine", "vår", "vårt", "våre", "deres", "denne", "dette", "disse", "da", "nå", "også", "bare",
    "fra", "ved", "mot", "hei", "takk", "har", "hadde", "være", "vært", "blir", "bli", "ble",
];

/// Interrogatives of the three languages (as written, before stemming).
const INTERROGATIVES: &[&str] = &[
    "hur", "vad", "var", "vart", "när", "varför", "vem", "vilken", "vilket", "vilka", "what",
    "how", "when", "where", "why", "who", "which", "hva", "hvor", "hvordan", "når", "hvorfor",
    "hvem", "hvilken", "hvilket", "hvilke",
];

/// Words that are Swedish and not Norwegian, and the other way round (dialect forms included).
const SWEDISH_ONLY: &[&str] = &[
    "och", "inte", "jag", "hur", "vad", "vill", "ska", "till", "är", "också", "mig", "dig", "sig",
    "någon", "några", "vem", "varför", "vilken", "vilka", "vilket", "när", "kommer", "finns",
];
const NORWEGIAN_ONLY: &[&str] = &[
    "ikke", "ikkje", "jeg", "eg", "hva", "kva", "ka", "hvor", "kor", "hvordan", "korleis",
    "hvorfor", "hvem", "kven", "hvilken", "hvilke", "hvilket", "meg", "deg", "seg", "og", "til",
    "skal", "vil", "hvis", "noen", "nå", "være", "dere", "hun", "mye", "også", "frå", "fra", "å",
    "et", "ei", "noe", "bare", "gjør", "gjøre", "neste", "mange", "morgen", "kveld", "klokka",
    "klokken", "uke", "hjem", "mellom", "ble", "blitt", "vær", "været",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(a: &mut Analyzer, text: &str) -> SparseVec {
        let config = FeatureConfig::default();
        let raw = extract(text, &config);
        a.learn(&raw);
        a.weigh(&raw, &config)
    }

    #[test]
    fn vectors_are_unit_length_and_sorted() {
        let mut a = Analyzer::default();
        let v = vector(&mut a, "När töms soporna på Storgatan?");
        assert!((norm(&v) - 1.0).abs() < 1e-4);
        assert!(v.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(v.len() <= FeatureConfig::default().max_features);
        assert!(vector(&mut a, "🙂 ...").is_empty());
    }

    #[test]
    fn inflections_and_spelling_variants_overlap_but_question_words_count() {
        let mut a = Analyzer::default();
        for t in [
            "Var ligger biblioteket?",
            "Hur bokar jag tvättstugan?",
            "Vad kostar bussen?",
        ] {
            vector(&mut a, t);
        }
        let base = vector(&mut a, "När töms soptunnorna?");
        let inflected = vector(&mut a, "När tömmer ni soptunnan?");
        let unaccented = vector(&mut a, "nar toms soptunnorna");
        let other_question = vector(&mut a, "Hur töms soptunnorna?");
        let unrelated = vector(&mut a, "När öppnar badhuset?");
        assert!(dot(&base, &inflected) > dot(&base, &unrelated) + 0.1);
        assert!(dot(&base, &unaccented) > 0.4, "{}", dot(&base, &unaccented));
        assert!(dot(&base, &other_question) < 0.999);
    }

    #[test]
    fn stems_keep_a_readable_surface_and_numbers_stay_out() {
        let mut a = Analyzer::default();
        let raw = extract(
            "Bygglovet för garaget, ring 0701234567",
            &FeatureConfig::default(),
        );
        a.learn(&raw);
        assert!(raw.surfaces.iter().any(|(_, w)| w == "bygglovet"));
        assert!(!raw.surfaces.iter().any(|(_, w)| w.contains("0701")));
        let stem = raw.surfaces[0].0;
        assert_eq!(a.surface(stem), Some(raw.surfaces[0].1.as_str()));
    }

    #[test]
    fn personal_data_and_links_are_not_features() {
        let config = FeatureConfig::default();
        let plain = extract("När töms soporna?", &config);
        for noisy in [
            "När töms soporna? anna.svensson@example.se",
            "När töms soporna? 070-123 45 67",
            "När töms soporna? https://kommun.se/sopor?id=3",
        ] {
            let raw = extract(noisy, &config);
            assert_eq!(
                (&raw.stems, &raw.ngrams),
                (&plain.stems, &plain.ngrams),
                "{noisy}"
            );
        }
    }

    #[test]
    fn languages_are_told_apart() {
        let d = |t: &str| detect_language(&text::normalise(t));
        assert_eq!(
            d("Hvordan søker jeg om parkeringstillatelse?"),
            Lang::Norwegian
        );
        assert_eq!(d("Hur söker jag parkeringstillstånd?"), Lang::Swedish);
        assert_eq!(d("How do I apply for a parking permit?"), Lang::English);
    }

    #[test]
    fn sparse_arithmetic() {
        let a = vec![(1, 1.0), (3, 2.0)];
        let b = vec![(2, 1.0), (3, 1.0)];
        assert_eq!(dot(&a, &b), 2.0);
        assert_eq!(add_scaled(&a, &b, 1.0), vec![(1, 1.0), (2, 1.0), (3, 3.0)]);
        assert_eq!(add_scaled(&a, &b, -2.0), vec![(1, 1.0)]);
    }
}
