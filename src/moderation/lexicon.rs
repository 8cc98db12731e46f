//! The moderation lexicons and patterns: their file format (`config/moderation/*.toml`), loading
//! (operator's copies first, the built-in ones for what is missing) and compilation into the tables
//! that `triage` matches with. Also the reduction that text and terms share ("skeleton"), so that
//! evasions (leetspeak, repeated letters, dropped diacritics, spaced letters, invisible characters,
//! compatibility forms, look-alike letters) meet the lexicon in one form.
//!
//! Swedish is the first language here: compounds are written as one word, so a term may be the
//! head or tail of a longer word (`idiotpolitiker`, `pundarjävel`) unless the lexicon marks it
//! `whole_word_only` because innocent words contain it (`mongo` in `Mongoliet`, `kuk` in
//! `kukeliku`). Å, ä and ö are letters of their own: a writer who leaves them out (`javla`) still
//! matches `jävla`, but a text that has them never matches a term without them (`höra` is not
//! `hora`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use anyhow::{anyhow, bail, Context};
use serde::Deserialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::char::{compose, decompose_canonical, decompose_compatible};

use super::triage::Severity;
use crate::text::detectors::Kind;

/// The built-in configuration, compiled into the binary so that it works without `config/`.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "categories.toml",
        include_str!("../../config/moderation/categories.toml"),
    ),
    ("sv.toml", include_str!("../../config/moderation/sv.toml")),
    (
        "sv_patterns.toml",
        include_str!("../../config/moderation/sv_patterns.toml"),
    ),
    ("en.toml", include_str!("../../config/moderation/en.toml")),
    (
        "en_patterns.toml",
        include_str!("../../config/moderation/en_patterns.toml"),
    ),
];

/// The configuration files of `dir`: each built-in file is replaced by the operator's copy when
/// there is one, and further `*.toml` files (another language, local additions) are added.
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for (name, built_in) in BUILT_IN {
        let path = dir.join(name);
        let text = if path.is_file() {
            std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?
        } else {
            (*built_in).to_string()
        };
        files.push((name.to_string(), text));
    }
    if dir.is_dir() {
        let mut extra = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.ends_with(".toml") && !BUILT_IN.iter().any(|(b, _)| *b == name) {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                extra.push((name, text));
            }
        }
        extra.sort();
        files.extend(extra);
    }
    Ok(files)
}

// =============================================================================================
// File format

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoriesFile {
    categories: BTreeMap<String, CategorySpec>,
    #[serde(default)]
    detectors: BTreeMap<String, DetectorSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategorySpec {
    severity: Severity,
    weight: f32,
    #[serde(default = "default_threshold")]
    threshold: f32,
    #[serde(default)]
    description: String,
}

fn default_threshold() -> f32 {
    0.5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorSpec {
    category: String,
    weight: f32,
}

/// A language file: lexicon terms by category and/or patterns (see the comments in
/// `config/moderation/sv.toml` and `sv_patterns.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageFile {
    language: String,
    #[serde(default)]
    suffixes: Vec<String>,
    #[serde(default)]
    open_suffixes: Vec<String>,
    /// Of the open suffixes, those that make an adjective (`idiot-iskt`): such a word describes
    /// a thing more often than it insults a person, so it weighs half.
    #[serde(default)]
    adjective_suffixes: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    lexicon: BTreeMap<String, Vec<TermSpec>>,
    #[serde(default)]
    negations: Vec<String>,
    #[serde(default)]
    lists: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pattern: Vec<PatternSpec>,
    #[serde(default)]
    compound: Vec<CompoundSpec>,
    /// Stem changes: a term with a key's ending also matches its stem (the ending without its
    /// first letter) followed by one of these endings (`hora` → `hor|or`, `jävel` → `jävl|ar`).
    #[serde(default)]
    stems: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    mentions: Option<MentionSpec>,
}

/// Words that show a term is mentioned, not used: a report of what someone else wrote
/// ("någon skrev 'hora' till min dotter", "han kallade mig svartskalle") or a group naming
/// itself ("vi gamla kärringar på gympan"). Such findings keep their span but weigh `factor` of
/// their weight, so a mention alone is not flagged; a moderator can still see it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MentionSpec {
    /// Anywhere in the message, these make a term inside quotation marks a mention.
    quote_cues: Vec<String>,
    /// Within `window` words before a term (and no `addressed` word between), these make it a
    /// mention: "kallade henne för …", "blev kallad …".
    before: Vec<String>,
    #[serde(default = "default_window")]
    window: usize,
    /// Words that aim the term at the reader after all ("jag kallar dig …").
    addressed: Vec<String>,
    /// A group naming itself: these right before the term, or with one of `self_adjectives`
    /// between ("vi kärringar", "vi gamla kärringar").
    self_reference: Vec<String>,
    self_adjectives: Vec<String>,
    factor: f32,
}

fn default_window() -> usize {
    3
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TermSpec {
    Plain(String),
    Detailed(TermDetail),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TermDetail {
    term: String,
    #[serde(default)]
    whole_word_only: bool,
    weight: Option<f32>,
    /// An ordinary word in another language (English `slut`, Swedish "end"): counts only when
    /// the message is written in this file's language.
    #[serde(default)]
    only_in_language: bool,
    /// The text must have the term's å, ä, ö (without them it is another word).
    #[serde(default)]
    keep_diacritics: bool,
    /// Not when one of these words stands right before it (`vill hora` is `vill höra`).
    #[serde(default)]
    unless_after: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternSpec {
    id: String,
    category: String,
    severity: Option<Severity>,
    weight: f32,
    steps: Vec<String>,
    #[serde(default = "default_gap")]
    max_gap: usize,
    /// Gap allowed before each step after the first (overrides `max_gap`).
    #[serde(default)]
    gaps: Vec<usize>,
    /// Words that undo the match when they follow it ("du ska dö *av skratt*").
    #[serde(default)]
    unless_followed_by: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counter_examples: Vec<String>,
}

fn default_gap() -> usize {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompoundSpec {
    id: String,
    category: String,
    severity: Option<Severity>,
    weight: f32,
    heads: Vec<String>,
    tails: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
}

// =============================================================================================
// Compiled tables

#[derive(Debug, Clone)]
pub(crate) struct Category {
    pub name: String,
    pub severity: Severity,
    pub weight: f32,
    pub threshold: f32,
}

/// One run of equal skeleton characters in a term: the text must have at least `min` characters
/// there, each compatible with one of `chars`. `sk == ' '` separates the words of a phrase.
#[derive(Debug, Clone)]
pub(crate) struct TermRun {
    pub sk: char,
    pub min: u16,
    pub chars: Vec<char>,
    /// å, ä, ö must be written (see `keep_diacritics`).
    pub strict: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum EntryKind {
    Term {
        category: u8,
        weight: f32,
        compound: bool,
        only_in_language: bool,
        lang: u8,
        term: String,
        /// A stem reading (`hor` of `hora`): what follows must be one of the language's stem
        /// endings of this index, and the stem is never a compound head.
        stem: Option<u8>,
        /// Index into `Compiled::unless_after`: words that cancel the term right before it.
        unless_after: Option<u32>,
    },
    /// A pattern word ending in `*`: any token starting with it.
    PrefixWord { word: u32 },
    /// The tail of a group compound (`muslim|jävlar`).
    CompoundTail { rule: u32, lang: u8 },
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub kind: EntryKind,
    pub runs: Vec<TermRun>,
}

#[derive(Debug, Clone)]
pub(crate) struct Lang {
    pub code: String,
    pub suffixes: HashSet<String>,
    pub open_suffixes: HashSet<String>,
    pub adjective_suffixes: HashSet<String>,
    /// Per stem ending (`a`, `e`, `el`, `er`): the endings its stem takes.
    pub stems: Vec<(String, HashSet<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    Word(u32),
    Cat(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub id: String,
    pub category: u8,
    pub severity: Option<Severity>,
    pub weight: f32,
    /// Each step: alternatives, each a sequence of elements matched on consecutive tokens.
    pub steps: Vec<Vec<Vec<Elem>>>,
    /// Gap allowed before step i (index 0 unused).
    pub gaps: Vec<usize>,
    pub unless_followed_by: Vec<u32>,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompoundRule {
    pub id: String,
    pub category: u8,
    pub severity: Option<Severity>,
    pub weight: f32,
    pub heads: HashSet<String>,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub categories: Vec<Category>,
    pub langs: Vec<Lang>,
    pub entries: Vec<Entry>,
    pub ac: AhoCorasick,
    /// Automaton pattern id → entries with that skeleton.
    pub ac_entries: Vec<Vec<u32>>,
    pub allow: HashSet<String>,
    /// Pattern words: their runs; exact ones are found by token skeleton.
    pub words: Vec<Vec<TermRun>>,
    pub exact_words: HashMap<String, Vec<u32>>,
    pub negation: Vec<bool>,
    pub patterns: Vec<Pattern>,
    pub starts_by_word: Vec<Vec<u32>>,
    pub starts_by_cat: Vec<Vec<u32>>,
    pub compounds: Vec<CompoundRule>,
    pub detectors: Vec<(Kind, u8, f32)>,
    pub mentions: Mentions,
    pub unless_after: Vec<Vec<u32>>,
}

/// The compiled `[mentions]` of the language files: per pattern word, its roles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mentions {
    pub quote_cue: Vec<bool>,
    pub before: Vec<bool>,
    pub addressed: Vec<bool>,
    pub self_reference: Vec<bool>,
    pub self_adjective: Vec<bool>,
    pub window: usize,
    pub factor: f32,
}

/// Categories are tracked as bits per token.
const MAX_CATEGORIES: usize = 32;

impl Compiled {
    pub fn category(&self, name: &str) -> Option<u8> {
        self.categories
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u8)
    }
}

/// Compiles the files (name, content) as `read_dir` returns them.
pub(crate) fn compile(files: &[(String, String)]) -> anyhow::Result<Compiled> {
    let (cat_name, cat_text) = files
        .iter()
        .find(|(n, _)| n == "categories.toml")
        .ok_or_else(|| anyhow!("categories.toml is missing"))?;
    let cats: CategoriesFile =
        toml::from_str(cat_text).with_context(|| format!("parsing {cat_name}"))?;
    let mut b = Builder::default();
    for (name, spec) in &cats.categories {
        if !(0.0..=1.0).contains(&spec.weight) || !(0.0..=1.0).contains(&spec.threshold) {
            bail!("{cat_name}: category {name}: weight and threshold are between 0 and 1");
        }
        b.categories.push(Category {
            name: name.clone(),
            severity: spec.severity,
            weight: spec.weight,
            threshold: spec.threshold,
        });
        let _ = &spec.description; // documentation for people; shown by the config file itself
    }
    if b.categories.len() > MAX_CATEGORIES {
        bail!("{cat_name}: at most {MAX_CATEGORIES} categories");
    }
    for (name, spec) in &cats.detectors {
        let kind = match name.as_str() {
            "personnummer" => Kind::Personnummer,
            "samordningsnummer" => Kind::Samordningsnummer,
            "phone" => Kind::Phone,
            "email" => Kind::Email,
            other => bail!("{cat_name}: unknown detector {other}"),
        };
        let cat = b
            .category(&spec.category)
            .with_context(|| cat_name.clone())?;
        b.detectors
            .push((kind, cat, check_weight(spec.weight, cat_name)?));
    }
    for (name, text) in files.iter().filter(|(n, _)| n != "categories.toml") {
        let file: LanguageFile = toml::from_str(text).with_context(|| format!("parsing {name}"))?;
        b.add_file(&file).with_context(|| format!("in {name}"))?;
    }
    b.finish()
}

fn check_weight(w: f32, what: &str) -> anyhow::Result<f32> {
    if (0.0..=1.0).contains(&w) {
        Ok(w)
    } else {
        bail!("{what}: weight {w} is not between 0 and 1")
    }
}

#[derive(Default)]
struct Builder {
    categories: Vec<Category>,
    langs: Vec<Lang>,
    entries: Vec<Entry>,
    skeletons: Vec<String>,
    allow: HashSet<String>,
    words: Vec<Vec<TermRun>>,
    word_ids: HashMap<(String, String, bool), u32>,
    exact_words: HashMap<String, Vec<u32>>,
    negation: HashSet<u32>,
    patterns: Vec<Pattern>,
    compounds: Vec<CompoundRule>,
    detectors: Vec<(Kind, u8, f32)>,
    mention_words: [HashSet<u32>; 5],
    unless_after: Vec<Vec<u32>>,
    mention_window: usize,
    mention_factor: Option<f32>,
}

impl Builder {
    fn category(&self, name: &str) -> anyhow::Result<u8> {
        self.categories
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u8)
            .ok_or_else(|| anyhow!("unknown category {name:?} (see categories.toml)"))
    }

    fn lang(&mut self, code: &str) -> u8 {
        if let Some(i) = self.langs.iter().position(|l| l.code == code) {
            return i as u8;
        }
        self.langs.push(Lang {
            code: code.to_string(),
            suffixes: HashSet::new(),
            open_suffixes: HashSet::new(),
            adjective_suffixes: HashSet::new(),
            stems: Vec::new(),
        });
        (self.langs.len() - 1) as u8
    }

    fn add_file(&mut self, f: &LanguageFile) -> anyhow::Result<()> {
        let lang = self.lang(&f.language);
        for s in &f.suffixes {
            let sk = skeleton_of(s)?.0;
            self.langs[lang as usize].suffixes.insert(sk);
        }
        for s in &f.open_suffixes {
            let sk = skeleton_of(s)?.0;
            self.langs[lang as usize].open_suffixes.insert(sk);
        }
        for s in &f.adjective_suffixes {
            let sk = skeleton_of(s)?.0;
            self.langs[lang as usize].open_suffixes.insert(sk.clone());
            self.langs[lang as usize].adjective_suffixes.insert(sk);
        }
        for a in &f.allow {
            self.allow.insert(skeleton_of(a)?.0);
        }
        for (ending, endings) in &f.stems {
            let mut set = HashSet::new();
            for e in endings {
                set.insert(skeleton_of(e)?.0);
            }
            self.langs[lang as usize].stems.push((ending.clone(), set));
        }
        // Longest ending first, so `el` is tried before `l` would be.
        self.langs[lang as usize]
            .stems
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        if let Some(m) = &f.mentions {
            self.add_mentions(m)?;
        }
        for (cat_name, terms) in &f.lexicon {
            let category = self.category(cat_name)?;
            let default_weight = self.categories[category as usize].weight;
            for spec in terms {
                let (term, whole, weight, only, strict) = match spec {
                    TermSpec::Plain(t) => (t.as_str(), false, default_weight, false, false),
                    TermSpec::Detailed(d) => (
                        d.term.as_str(),
                        d.whole_word_only,
                        d.weight.unwrap_or(default_weight),
                        d.only_in_language,
                        d.keep_diacritics,
                    ),
                };
                let unless_after = match spec {
                    TermSpec::Detailed(d) if !d.unless_after.is_empty() => {
                        let mut ids = Vec::new();
                        for w in &d.unless_after {
                            match self.phrase(w)?.as_slice() {
                                [Elem::Word(id)] => ids.push(*id),
                                _ => bail!("{term}: unless_after takes single words: {w:?}"),
                            }
                        }
                        self.unless_after.push(ids);
                        Some(self.unless_after.len() as u32 - 1)
                    }
                    _ => None,
                };
                let weight = check_weight(weight, term)?;
                let (sk, runs) = skeleton_of(term)?;
                let entry = |stem: Option<u8>, mut runs: Vec<TermRun>| {
                    if strict {
                        for r in &mut runs {
                            r.strict = true;
                        }
                    }
                    Entry {
                        kind: EntryKind::Term {
                            category,
                            weight,
                            compound: !whole,
                            only_in_language: only,
                            lang,
                            term: term.to_string(),
                            stem,
                            unless_after,
                        },
                        runs,
                    }
                };
                if let Some((stem, index)) = self.stem_of(term, lang) {
                    let (stem_sk, stem_runs) = skeleton_of(&stem)?;
                    self.push_entry(stem_sk, entry(Some(index), stem_runs));
                }
                self.push_entry(sk, entry(None, runs));
            }
        }
        for n in &f.negations {
            for w in self.phrase(n)? {
                if let Elem::Word(id) = w {
                    self.negation.insert(id);
                }
            }
        }
        for p in &f.pattern {
            self.add_pattern(p, f)
                .with_context(|| format!("pattern {}", p.id))?;
        }
        for c in &f.compound {
            let rule = self.compounds.len() as u32;
            let mut heads = HashSet::new();
            for h in &c.heads {
                heads.insert(skeleton_of(h)?.0);
            }
            for t in &c.tails {
                let (sk, runs) = skeleton_of(t)?;
                self.push_entry(
                    sk,
                    Entry {
                        kind: EntryKind::CompoundTail { rule, lang },
                        runs,
                    },
                );
            }
            self.compounds.push(CompoundRule {
                id: c.id.clone(),
                category: self.category(&c.category)?,
                severity: c.severity,
                weight: check_weight(c.weight, &c.id)?,
                heads,
                examples: c.examples.clone(),
            });
        }
        Ok(())
    }

    /// The stem of a one-word term whose ending changes when inflected (`hora` → `hor`, `jävel`
    /// → `jävl`), with the index of its endings; None for other terms.
    fn stem_of(&self, term: &str, lang: u8) -> Option<(String, u8)> {
        if term.contains(char::is_whitespace) || term.contains('-') {
            return None;
        }
        let l = &self.langs[lang as usize];
        let (i, (ending, _)) = l
            .stems
            .iter()
            .enumerate()
            .find(|(_, (e, _))| term.ends_with(e.as_str()))?;
        let base = &term[..term.len() - ending.len()];
        // What stays must still be a word: `hor` of `hora`, not `fa` of `fan`.
        if base.chars().count() < 3 {
            return None;
        }
        let kept: String = ending.chars().skip(1).collect();
        Some((format!("{base}{kept}"), i as u8))
    }

    fn add_mentions(&mut self, m: &MentionSpec) -> anyhow::Result<()> {
        let lists = [
            &m.quote_cues,
            &m.before,
            &m.addressed,
            &m.self_reference,
            &m.self_adjectives,
        ];
        for (k, list) in lists.into_iter().enumerate() {
            for w in list {
                match self.phrase(w)?.as_slice() {
                    [Elem::Word(id)] => {
                        self.mention_words[k].insert(*id);
                    }
                    _ => bail!("[mentions] takes single words (a trailing * for a prefix): {w:?}"),
                }
            }
        }
        self.mention_window = self.mention_window.max(m.window);
        self.mention_factor = Some(check_weight(m.factor, "[mentions] factor")?);
        Ok(())
    }

    fn push_entry(&mut self, skeleton: String, entry: Entry) {
        self.skeletons.push(skeleton);
        self.entries.push(entry);
    }

    fn add_pattern(&mut self, p: &PatternSpec, f: &LanguageFile) -> anyhow::Result<()> {
        if p.steps.is_empty() {
            bail!("no steps");
        }
        if !p.gaps.is_empty() && p.gaps.len() + 1 != p.steps.len() {
            bail!("gaps has one entry per step after the first");
        }
        let mut steps = Vec::new();
        for step in &p.steps {
            let mut alts = Vec::new();
            for alt in step.split('|').map(str::trim).filter(|a| !a.is_empty()) {
                if let Some(list) = alt.strip_prefix('@') {
                    let items = f
                        .lists
                        .get(list)
                        .ok_or_else(|| anyhow!("no list {list:?} in this file"))?;
                    for item in items {
                        alts.push(self.phrase(item)?);
                    }
                } else if let Some(cat) = alt.strip_prefix('#') {
                    alts.push(vec![Elem::Cat(self.category(cat)?)]);
                } else {
                    alts.push(self.phrase(alt)?);
                }
            }
            if alts.is_empty() {
                bail!("an empty step");
            }
            steps.push(alts);
        }
        let mut gaps = vec![0];
        for i in 1..steps.len() {
            gaps.push(p.gaps.get(i - 1).copied().unwrap_or(p.max_gap));
        }
        let mut unless = Vec::new();
        for w in &p.unless_followed_by {
            match self.phrase(w)?.as_slice() {
                [Elem::Word(id)] => unless.push(*id),
                _ => bail!("unless_followed_by takes single words: {w:?}"),
            }
        }
        self.patterns.push(Pattern {
            id: p.id.clone(),
            category: self.category(&p.category)?,
            severity: p.severity,
            weight: check_weight(p.weight, &p.id)?,
            steps,
            gaps,
            unless_followed_by: unless,
            examples: p.examples.clone(),
            counter_examples: p.counter_examples.clone(),
        });
        Ok(())
    }

    /// The words of a pattern phrase, one element per token; a trailing `*` makes the last word
    /// a prefix.
    fn phrase(&mut self, text: &str) -> anyhow::Result<Vec<Elem>> {
        let (text, prefix) = match text.strip_suffix('*') {
            Some(t) => (t, true),
            None => (text, false),
        };
        let p = Prepared::new(text);
        let real: Vec<&Token> = p.tokens.iter().filter(|t| !t.virtual_).collect();
        if real.is_empty() {
            bail!("{text:?} has no words");
        }
        let mut elems = Vec::new();
        for (i, tok) in real.iter().enumerate() {
            let sk = p.skeleton[tok.sk.0 as usize..tok.sk.1 as usize].to_string();
            let runs = term_runs(&p, tok);
            let is_prefix = prefix && i + 1 == real.len();
            // Two words may share a skeleton (`shoot`, `shot`): the runs tell them apart.
            let exact: String = runs
                .iter()
                .map(|r| format!("{}{}", r.chars.iter().collect::<String>(), r.min))
                .collect();
            let key = (sk.clone(), exact, is_prefix);
            let id = match self.word_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let id = self.words.len() as u32;
                    self.words.push(runs.clone());
                    self.word_ids.insert(key, id);
                    if is_prefix {
                        self.push_entry(
                            sk,
                            Entry {
                                kind: EntryKind::PrefixWord { word: id },
                                runs,
                            },
                        );
                    } else {
                        self.exact_words.entry(sk).or_default().push(id);
                    }
                    id
                }
            };
            elems.push(Elem::Word(id));
        }
        Ok(elems)
    }

    fn finish(self) -> anyhow::Result<Compiled> {
        let mut unique: HashMap<&str, u32> = HashMap::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut ac_entries: Vec<Vec<u32>> = Vec::new();
        for (i, sk) in self.skeletons.iter().enumerate() {
            let id = *unique.entry(sk.as_str()).or_insert_with(|| {
                patterns.push(sk.as_str());
                ac_entries.push(Vec::new());
                (patterns.len() - 1) as u32
            });
            ac_entries[id as usize].push(i as u32);
        }
        // A DFA: the fastest search, and the tables are small (a few thousand short terms).
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .context("building the term automaton")?;
        let mut starts_by_word = vec![Vec::new(); self.words.len()];
        let mut starts_by_cat = vec![Vec::new(); self.categories.len()];
        for (pi, p) in self.patterns.iter().enumerate() {
            for alt in &p.steps[0] {
                let list = match alt[0] {
                    Elem::Word(w) => &mut starts_by_word[w as usize],
                    Elem::Cat(c) => &mut starts_by_cat[c as usize],
                };
                if !list.contains(&(pi as u32)) {
                    list.push(pi as u32);
                }
            }
        }
        let negation = (0..self.words.len() as u32)
            .map(|w| self.negation.contains(&w))
            .collect();
        let role = |k: usize| -> Vec<bool> {
            (0..self.words.len() as u32)
                .map(|w| self.mention_words[k].contains(&w))
                .collect()
        };
        let mentions = Mentions {
            quote_cue: role(0),
            before: role(1),
            addressed: role(2),
            self_reference: role(3),
            self_adjective: role(4),
            window: self.mention_window,
            factor: self.mention_factor.unwrap_or(1.0),
        };
        Ok(Compiled {
            categories: self.categories,
            langs: self.langs,
            entries: self.entries,
            ac,
            ac_entries,
            allow: self.allow,
            words: self.words,
            exact_words: self.exact_words,
            negation,
            patterns: self.patterns,
            starts_by_word,
            starts_by_cat,
            compounds: self.compounds,
            detectors: self.detectors,
            mentions,
            unless_after: self.unless_after,
        })
    }
}

/// The skeleton and runs of a term or phrase (its words joined by one space).
fn skeleton_of(term: &str) -> anyhow::Result<(String, Vec<TermRun>)> {
    let p = Prepared::new(term);
    let mut sk = String::new();
    let mut runs = Vec::new();
    for tok in p.tokens.iter().filter(|t| !t.virtual_) {
        if !sk.is_empty() {
            sk.push(' ');
            runs.push(TermRun {
                sk: ' ',
                min: 0,
                chars: Vec::new(),
                strict: false,
            });
        }
        sk.push_str(&p.skeleton[tok.sk.0 as usize..tok.sk.1 as usize]);
        runs.extend(term_runs(&p, tok));
    }
    if sk.is_empty() {
        bail!("{term:?} has no letters");
    }
    Ok((sk, runs))
}

fn term_runs(p: &Prepared, tok: &Token) -> Vec<TermRun> {
    (tok.runs.0..tok.runs.1)
        .map(|r| {
            let run = p.runs[r as usize];
            let mut chars: Vec<char> = (run.from..run.to)
                .map(|m| p.chars[p.members[m as usize] as usize].c)
                .collect();
            chars.dedup();
            TermRun {
                sk: run.sk,
                min: (run.to - run.from) as u16,
                chars,
                strict: false,
            }
        })
        .collect()
}

// =============================================================================================
// Normalisation and evasion: text → characters → tokens → skeleton

/// One character of the normalised text (lowercased, NFKC, look-alikes mapped), with the
/// original characters it came from (`start..end`, char indices), so findings point at what the
/// writer wrote.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NChar {
    pub c: char,
    pub start: u32,
    pub end: u32,
}

/// A run of equal skeleton characters: `members[from..to]` are its normalised characters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub sk: char,
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// `runs[runs.0..runs.1]`
    pub runs: (u32, u32),
    /// Byte range in `skeleton`.
    pub sk: (u32, u32),
    /// The token whose words this one adds to: itself, or for a variant reading (`1` as `l`)
    /// the token it was read from.
    pub origin: u32,
    /// Not a word of the text as written: a variant reading or spaced-out letters joined.
    pub virtual_: bool,
    /// Inside quotation marks.
    pub quoted: bool,
}

/// A text prepared for matching. The skeleton is the tokens' reduced forms joined by single
/// spaces: folded diacritics, leetspeak read as letters, runs of a letter collapsed to one. Real
/// tokens come first, then after a newline (which no term contains) the virtual ones.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// Byte offset of each original character, and the text's length at the end.
    pub orig_bytes: Vec<u32>,
    pub chars: Vec<NChar>,
    pub members: Vec<u32>,
    pub runs: Vec<Run>,
    pub tokens: Vec<Token>,
    pub skeleton: String,
    /// For each skeleton byte, its run (`NO_RUN` for separators).
    pub sk_run: Vec<u32>,
    /// Tokens in reading order for patterns: real tokens, with spaced-out letters replaced by
    /// their joined token.
    pub seq: Vec<u32>,
    /// Words with letters masked by `*` (`f*ck`, `j*vla`, `sh**`).
    pub masked: Vec<Masked>,
    /// Ranges of normalised characters inside quotation marks.
    pub quotes: Vec<(u32, u32)>,
}

/// A word with masked letters: each slot is a normalised character or `None` for a `*`; the
/// word covers original chars `start..end`.
#[derive(Debug, Clone)]
pub(crate) struct Masked {
    pub slots: Vec<Option<u32>>,
    pub start: u32,
    pub end: u32,
}

pub(crate) const NO_RUN: u32 = u32::MAX;

/// A range of normalised characters.
type Span = (u32, u32);

impl Prepared {
    pub fn new(text: &str) -> Prepared {
        let mut p = Prepared::default();
        p.normalise(text);
        p.quotes = quote_ranges(&p.chars);
        let (spans, urls) = p.word_spans();
        for (i, &(a, b)) in spans.iter().enumerate() {
            p.push_token(a..b, i as u32, false, false);
        }
        p.skeleton.push('\n');
        p.sk_run.push(NO_RUN);
        // `1` stands for both i and l: the first reading took i; when a word has a `1`, the
        // whole text is read again with l, so phrases ("ki11 yourself") match too.
        let ones = spans
            .iter()
            .any(|&(a, b)| p.leet_active(a, b) && (a..b).any(|k| p.chars[k as usize].c == '1'));
        if ones {
            for (i, &(a, b)) in spans.iter().enumerate() {
                p.push_token(a..b, i as u32, true, true);
            }
            p.skeleton.push('\n');
            p.sk_run.push(NO_RUN);
        }
        let groups = spaced_groups(&spans, &p.chars);
        let mut joined = Vec::with_capacity(groups.len());
        for &(g0, g1) in &groups {
            let members: Vec<u32> = spans[g0..g1].iter().map(|s| s.0).collect();
            let idx = p.tokens.len() as u32;
            p.push_token_members(&members, idx, true, false);
            joined.push(idx);
        }
        // A word split by punctuation (`svart-skallar`, `idi.ot`, `h_o_r_o_r`) is also read
        // whole, for the lexicon; patterns keep reading its parts.
        for (g0, g1) in punctuated_groups(&spans, &p.chars, &urls) {
            let members: Vec<u32> = spans[g0..g1].iter().flat_map(|s| s.0..s.1).collect();
            p.push_token_members(&members, g0 as u32, true, false);
        }
        if p.chars.iter().any(|c| c.c == '*') {
            p.masked = p.masked_words();
        }
        let mut g = 0;
        let mut t = 0;
        while t < spans.len() {
            if g < groups.len() && groups[g].0 == t {
                p.seq.push(joined[g]);
                t = groups[g].1;
                g += 1;
            } else {
                p.seq.push(t as u32);
                t += 1;
            }
        }
        p
    }

    fn push(&mut self, c: char, at: u32) {
        self.chars.push(NChar {
            c,
            start: at,
            end: at + 1,
        });
    }

    fn normalise(&mut self, text: &str) {
        self.chars.reserve(text.len());
        self.orig_bytes.reserve(text.len() + 1);
        for (ci, (bi, ch)) in text.char_indices().enumerate() {
            self.orig_bytes.push(bi as u32);
            let at = ci as u32;
            if ch.is_ascii() {
                self.push(ch.to_ascii_lowercase(), at);
            } else if ('\u{C0}'..='\u{FF}').contains(&ch) && ch != '×' && ch != '÷' {
                // Latin-1 letters (å, ä, ö, é, …) are already NFKC: only lowercase them.
                for l in ch.to_lowercase() {
                    self.push(l, at);
                }
            } else if is_invisible(ch) {
                // zero-width spaces and joiners, soft hyphens: written to split a word unseen
            } else if is_combining_mark(ch) {
                // A separate accent composes with the letter before it (a + ¨ = ä); marks that
                // do not compose (stacked "zalgo" marks) are dropped.
                self.attach_mark(ch, at);
            } else {
                let mut parts: Vec<char> = Vec::with_capacity(2);
                decompose_compatible(ch, |d| parts.push(d));
                for d in parts {
                    if is_combining_mark(d) {
                        self.attach_mark(d, at);
                    } else {
                        for l in d.to_lowercase() {
                            self.push(look_alike(l), at);
                        }
                    }
                }
            }
        }
        self.orig_bytes.push(text.len() as u32);
    }

    fn attach_mark(&mut self, mark: char, at: u32) {
        if let Some(last) = self.chars.last_mut() {
            if let Some(c) = compose(last.c, mark) {
                last.c = c;
            }
            last.end = at + 1;
        }
    }

    /// Word spans over the normalised characters: letters and digits, with the leet symbols
    /// `@ $ !` inside a word. An `@name` handle is someone else's name, not the writer's words,
    /// and is skipped; of a URL only the host counts (`bit.ly` is a spam cue, its path is noise).
    /// Also returns the URLs' character ranges.
    fn word_spans(&self) -> (Vec<Span>, Vec<Span>) {
        let n = self.chars.len();
        let c = |i: usize| self.chars.get(i).map_or(' ', |x| x.c);
        let mut spans = Vec::new();
        let mut urls = Vec::new();
        let mut i = 0;
        while i < n {
            let ch = c(i);
            if ch == '@' && (c(i + 1).is_alphanumeric() || c(i + 1) == '_') {
                i += 1;
                while i < n && (c(i).is_alphanumeric() || c(i) == '_') {
                    i += 1;
                }
                continue;
            }
            if let Some(end) = self.url_at(i, &mut spans) {
                urls.push((i as u32, end as u32));
                i = end;
                continue;
            }
            if ch.is_alphanumeric() || (ch == '$' && c(i + 1).is_alphabetic()) {
                let start = i;
                i += 1;
                while i < n {
                    let x = c(i);
                    let leet_inside = matches!(x, '@' | '$' | '!') && c(i + 1).is_alphanumeric();
                    if x.is_alphanumeric() || leet_inside {
                        i += 1;
                    } else {
                        break;
                    }
                }
                spans.push((start as u32, i as u32));
                continue;
            }
            i += 1;
        }
        (spans, urls)
    }

    /// Words where `*` stands for letters: a letter or digit first, at least two visible
    /// characters and no more stars than visible ones (so `**viktigt**` and `f***` are not).
    fn masked_words(&self) -> Vec<Masked> {
        let n = self.chars.len();
        let mut out = Vec::new();
        let mut i = 0;
        while i < n {
            let starts = self.chars[i].c.is_alphanumeric()
                && (i == 0
                    || !(self.chars[i - 1].c.is_alphanumeric() || self.chars[i - 1].c == '*'));
            if !starts {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < n && (self.chars[j].c.is_alphanumeric() || self.chars[j].c == '*') {
                j += 1;
            }
            let slots: Vec<Option<u32>> = (i..j)
                .map(|k| (self.chars[k].c != '*').then_some(k as u32))
                .collect();
            let stars = slots.iter().filter(|s| s.is_none()).count();
            let visible = slots.len() - stars;
            if stars > 0 && visible >= 2 && visible >= stars {
                out.push(Masked {
                    slots,
                    start: self.chars[i].start,
                    end: self.chars[j - 1].end,
                });
            }
            i = j;
        }
        out
    }

    /// At a URL (`http://`, `https://`, `www.`): pushes its host's labels and returns the end.
    fn url_at(&self, i: usize, spans: &mut Vec<(u32, u32)>) -> Option<usize> {
        let n = self.chars.len();
        let starts_with = |s: &str| {
            s.chars()
                .enumerate()
                .all(|(k, x)| self.chars.get(i + k).is_some_and(|y| y.c == x))
        };
        if i > 0 && self.chars[i - 1].c.is_alphanumeric() {
            return None;
        }
        let host_start = if starts_with("https://") {
            i + 8
        } else if starts_with("http://") {
            i + 7
        } else if starts_with("www.") {
            i
        } else {
            return None;
        };
        let mut j = host_start;
        let mut label = j;
        while j < n {
            let x = self.chars[j].c;
            if x.is_alphanumeric() {
                j += 1;
                continue;
            }
            if j > label {
                spans.push((label as u32, j as u32));
            }
            if x == '.' || x == '-' {
                j += 1;
                label = j;
            } else {
                break;
            }
        }
        if j == n && j > label {
            spans.push((label as u32, j as u32));
        }
        while j < n && !self.chars[j].c.is_whitespace() {
            j += 1;
        }
        Some(j)
    }

    /// Leetspeak is read only in tokens that have a letter: `2024` stays a number.
    fn leet_active(&self, a: u32, b: u32) -> bool {
        (a..b).any(|k| self.chars[k as usize].c.is_alphabetic())
    }

    fn push_token(&mut self, range: std::ops::Range<u32>, origin: u32, virt: bool, one_as_l: bool) {
        let members: Vec<u32> = range.collect();
        self.push_token_members(&members, origin, virt, one_as_l);
    }

    fn push_token_members(&mut self, members: &[u32], origin: u32, virt: bool, one_as_l: bool) {
        let leet = members
            .iter()
            .any(|&m| self.chars[m as usize].c.is_alphabetic());
        if !self.skeleton.is_empty() && !self.skeleton.ends_with('\n') {
            self.skeleton.push(' ');
            self.sk_run.push(NO_RUN);
        }
        let sk_start = self.skeleton.len() as u32;
        let run_start = self.runs.len() as u32;
        for &m in members {
            let k = self.members.len() as u32;
            self.members.push(m);
            let s = skeleton_char(self.chars[m as usize].c, leet, one_as_l);
            let in_token = self.runs.len() as u32 > run_start;
            match self.runs.last_mut() {
                Some(last) if in_token && last.sk == s => last.to = k + 1,
                _ => {
                    self.runs.push(Run {
                        sk: s,
                        from: k,
                        to: k + 1,
                    });
                    self.skeleton.push(s);
                    let r = (self.runs.len() - 1) as u32;
                    self.sk_run.extend(std::iter::repeat_n(r, s.len_utf8()));
                }
            }
        }
        let first = members.first().copied().unwrap_or(0);
        let quoted = self.quotes.iter().any(|&(a, b)| a < first && first < b);
        self.tokens.push(Token {
            runs: (run_start, self.runs.len() as u32),
            sk: (sk_start, self.skeleton.len() as u32),
            origin,
            virtual_: virt,
            quoted,
        });
    }

    /// Original char range of normalised-member range `runs[r0].from .. runs[r1].to`.
    pub fn orig_span(&self, first_run: u32, last_run: u32) -> (u32, u32) {
        let a = self.members[self.runs[first_run as usize].from as usize];
        let b = self.members[self.runs[last_run as usize].to as usize - 1];
        (self.chars[a as usize].start, self.chars[b as usize].end)
    }

    /// The original text of a char range.
    pub fn original<'t>(&self, text: &'t str, start: u32, end: u32) -> &'t str {
        let a = self.orig_bytes[start as usize] as usize;
        let b = self.orig_bytes[end as usize] as usize;
        &text[a..b]
    }

    /// The char index of a byte offset of the original text.
    pub fn char_index(&self, byte: usize) -> u32 {
        self.orig_bytes.partition_point(|&b| (b as usize) < byte) as u32
    }
}

/// Groups of at least three single letters spaced out with one or two separators (`i d i o t`,
/// `f.u.c.k`): `(first span, end span)`.
fn spaced_groups(spans: &[(u32, u32)], chars: &[NChar]) -> Vec<(usize, usize)> {
    let single = |s: &(u32, u32)| {
        s.1 - s.0 == 1 && {
            let c = chars[s.0 as usize].c;
            c.is_alphabetic() || matches!(c, '0' | '1' | '3' | '4' | '5' | '7')
        }
    };
    let gap_ok = |a: &(u32, u32), b: &(u32, u32)| {
        let gap = b.0 - a.1;
        (1..=2).contains(&gap)
            && (a.1..b.0).all(|k| matches!(chars[k as usize].c, ' ' | '.' | '-' | '_' | '*' | '·'))
    };
    let mut groups = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let mut j = i;
        while j < spans.len() && single(&spans[j]) && (j == i || gap_ok(&spans[j - 1], &spans[j])) {
            j += 1;
        }
        if j - i >= 3 {
            groups.push((i, j));
            i = j;
        } else {
            i = j.max(i + 1);
        }
    }
    groups
}

/// Groups of words joined by one punctuation mark each, with no space (`svart-skallar`,
/// `i.d.i.o.t.e.r`, `k_u_k`): `(first span, end span)`. At most eight parts.
fn punctuated_groups(
    spans: &[(u32, u32)],
    chars: &[NChar],
    urls: &[(u32, u32)],
) -> Vec<(usize, usize)> {
    let in_url = |s: &(u32, u32)| urls.iter().any(|&(a, b)| a <= s.0 && s.1 <= b);
    let joins = |a: &(u32, u32), b: &(u32, u32)| {
        b.0 == a.1 + 1
            && !in_url(a)
            && matches!(
                chars[a.1 as usize].c,
                '.' | '-' | '_' | '*' | '·' | '\'' | '’' | '|' | '/' | '+' | '~'
            )
    };
    let mut groups = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let mut j = i + 1;
        while j < spans.len() && j - i < 8 && joins(&spans[j - 1], &spans[j]) {
            j += 1;
        }
        if j - i >= 2 {
            groups.push((i, j));
        }
        i = j;
    }
    groups
}

/// Ranges of characters inside quotation marks: straight and typographic double quotes and
/// guillemets pair up in order; a single quote counts only at a word's edge (`'hora'`, not
/// `it's`).
fn quote_ranges(chars: &[NChar]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut open_double: Option<usize> = None;
    let mut open_single: Option<usize> = None;
    let at = |i: usize| chars.get(i).map_or(' ', |c| c.c);
    for (i, c) in chars.iter().enumerate() {
        match c.c {
            '"' | '“' | '”' | '„' | '«' | '»' => match open_double.take() {
                Some(o) => out.push((o as u32, i as u32)),
                None => open_double = Some(i),
            },
            '\'' | '‘' | '’' => {
                let before = i > 0 && at(i - 1).is_alphanumeric();
                let after = at(i + 1).is_alphanumeric();
                match open_single {
                    Some(o) if before && !after => {
                        out.push((o as u32, i as u32));
                        open_single = None;
                    }
                    None if !before && after => open_single = Some(i),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
        | '\u{034F}' | '\u{180E}' | '\u{FE00}'..='\u{FE0F}')
}

/// Cyrillic and Greek letters that look like Latin ones (`іdіоt` written with Cyrillic і and о).
fn look_alike(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' | 'н' => 'h',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'х' | 'χ' => 'x',
        'у' => 'y',
        other => other,
    }
}

/// A letter without its diacritic (å, ä → a; ö, ø → o; é → e; ü → u …).
pub(crate) fn fold(c: char) -> char {
    match c {
        'a'..='z' | '0'..='9' => c,
        'å' | 'ä' | 'à' | 'á' | 'â' | 'ã' | 'æ' => 'a',
        'ö' | 'ø' | 'ò' | 'ó' | 'ô' | 'õ' => 'o',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'ü' | 'ù' | 'ú' | 'û' => 'u',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ç' => 'c',
        'ñ' => 'n',
        'ß' => 's',
        _ if c.is_ascii() => c,
        _ => {
            let mut base = c;
            let mut first = true;
            decompose_canonical(c, |d| {
                if first {
                    base = d;
                    first = false;
                }
            });
            base
        }
    }
}

/// The letter a leetspeak character stands for (`1` is i here; the variant reading takes l).
fn leet(c: char, one_as_l: bool) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' if one_as_l => 'l',
        '1' | '!' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        _ => return None,
    })
}

fn skeleton_char(c: char, leet_active: bool, one_as_l: bool) -> char {
    if leet_active {
        if let Some(l) = leet(c, one_as_l) {
            return l;
        }
    }
    fold(c)
}

/// Whether a character of the text can stand for a character of a term: itself, the term's
/// letter without its diacritic (`javla` for `jävla`), another diacritic on a letter that is not
/// å/ä/ö (`fück`), Norwegian/Danish æ/ø for ä/ö, or leetspeak. Never å/ä/ö for a plain letter:
/// `höra` (hear) is not `hora`.
pub(crate) fn compatible(text: char, term: char) -> bool {
    if text == term {
        return true;
    }
    let base = fold(term);
    if text == base {
        return true;
    }
    if !matches!(text, 'å' | 'ä' | 'ö') && fold(text) == term && term.is_ascii() {
        return true;
    }
    match (text, term) {
        ('æ', 'ä') | ('ø', 'ö') => true,
        ('1', 'l') => true,
        _ => leet(text, false) == Some(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeleton(text: &str) -> String {
        Prepared::new(text).skeleton
    }

    #[test]
    fn skeleton_reads_through_evasions() {
        assert_eq!(skeleton("IDIOOOOT"), "idiot\n");
        assert_eq!(skeleton("1d10t"), "idiot\nldlot\n");
        assert_eq!(skeleton("J4VL4"), "javla\n");
        assert_eq!(skeleton("id\u{200B}iot"), "idiot\n");
        assert_eq!(skeleton("ｉｄｉｏｔ"), "idiot\n");
        assert_eq!(skeleton("іdіоt"), "idiot\n"); // Cyrillic і and о
        assert_eq!(skeleton("$h!t"), "shit\n");
        assert_eq!(skeleton("ja\u{0308}vla"), "javla\n");
        // spaced letters are joined into a virtual token after the newline
        assert_eq!(skeleton("i d i o t"), "i d i o t\nidiot");
        // `1` read both ways
        assert_eq!(skeleton("ki11 dig"), "ki dig\nkil dig\n");
        assert_eq!(skeleton("år 2024"), "ar 2024\n");
    }

    #[test]
    fn handles_and_url_paths_are_not_words() {
        assert_eq!(skeleton("@idiot hej"), "hej\n");
        assert_eq!(skeleton("se https://bit.ly/idiot nu"), "se bit ly nu\n");
    }

    #[test]
    fn compatibility_is_one_way_for_swedish_letters() {
        assert!(compatible('a', 'ä'));
        assert!(!compatible('ä', 'a'));
        assert!(!compatible('ö', 'o'));
        assert!(compatible('ü', 'u'));
        assert!(compatible('4', 'a'));
        assert!(compatible('1', 'l'));
        assert!(compatible('1', 'i'));
    }

    #[test]
    fn spans_point_back_at_original_characters() {
        let text = "Ｆｕ\u{200B}ck";
        let p = Prepared::new(text);
        let tok = p.tokens[0];
        let (a, b) = p.orig_span(tok.runs.0, tok.runs.1 - 1);
        assert_eq!(p.original(text, a, b), text);
    }

    #[test]
    fn built_in_configuration_compiles() {
        let files: Vec<(String, String)> = BUILT_IN
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        let c = compile(&files).expect("built-in configuration");
        assert!(c.category("hate").is_some());
        assert!(!c.patterns.is_empty());
    }
}
