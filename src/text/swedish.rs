//! Swedish word forms to one key, so that a search in any form of a word finds every form of it:
//! `förskolor`, `förskolan` and `forskola` all become `förskol` (folded: `forskol`), `tömde`,
//! `tömts` and `tömma` become `töm`, `böcker` becomes `bok`.
//!
//! Snowball's Swedish stemmer (what search used before) strips one suffix inside a region, so it
//! leaves `förskolan` whole while `förskolor` loses `or`, and keeps `cykeln` apart from `cyklar`.
//! These rules are our own: the longest inflectional ending is stripped (definite, plural,
//! genitive, verb and comparison endings), a second one where the first revealed a base that
//! inflects on top of another ending (`kvarteret` → `kvarter` → `kvart`, as `kvarter` itself),
//! an `e` dropped before l, r or n is put back (`cyklar` → `cykel`, `vintrar` → `vinter`), and
//! the consonants a stem ends in are settled (`tömm`, `tömt`, `tömd` → `töm`). Forms no rule can
//! reach (`böcker`, `gick`, `större`, `kön`) come from a small lexicon of irregular forms written
//! for tavla (`sv_forms.txt`); its nouns also end compounds (`bostäder` → `bostad`).
//!
//! A key is not a dictionary form and two words may share one (`häst` and `häs`): search ranks a
//! match on the key below a match on the word as written. The same function makes the key of what
//! is indexed and of what is searched, so the two always agree.

use std::sync::OnceLock;

use rustc_hash::FxHashMap as HashMap;

use super::fold;

const VOWELS: &str = "aeiouyäåöéü";

/// Inflectional endings, stripped longest first (Snowball's list, plus the definite forms it
/// lacks after a vowel: `-an`, `-ena`, `-et`, `-ets`, and `-ares`, `-anden`).
const ENDINGS: &[&str] = &[
    "andena", "andets", "andens", "ornas", "arnas", "ernas", "andes", "andet", "arens", "anden",
    "orna", "arna", "erna", "ande", "ades", "aste", "aren", "arne", "ares", "ade", "are", "ast",
    "ans", "ens", "ets", "ors", "ars", "ers", "ats", "ern", "ena", "an", "en", "et", "ar", "er",
    "or", "ad", "at", "as", "es", "a", "e",
];

/// Letters a genitive `s` may follow and be stripped (Snowball's "valid s-ending").
const S_ENDING: &str = "bcdfghjklmnoprtvy";

/// Consonants that, before a final l, r or n, show an `e` was dropped (`cykl-ar`, `vattn-et`).
const OBSTRUENTS: &str = "bcdfgkpqstvxz";

/// Final consonant pairs whose last letter goes: doubled consonants (`tömm-a`), and the past and
/// supine of verbs and neuter of adjectives (`tömd`, `köpt`, `läst`, `byggd`, `billigt`).
const SETTLE: &[&str] = &[
    "dd", "gd", "nn", "dt", "gt", "kt", "tt", "mm", "mt", "pt", "bt", "st", "md",
];

/// Word endings the rules would cut wrongly: `plats` is no genitive of `plat`, `månad` no
/// participle. A word ending so keeps its end (`hållplats`, `bostad`, `kostnad`).
const KEPT_ENDINGS: &[&str] = &["plats", "nad", "stad", "skämt", "recept", "koncept"];

/// The lexicon's irregular forms: each form (and its folded spelling) to its lemma's key; a noun's
/// forms that the rules miss also as the last part of a compound.
struct Lexicon {
    forms: HashMap<String, String>,
    folded: HashMap<String, String>,
    noun_forms: HashMap<String, String>,
    folded_noun_forms: HashMap<String, String>,
    longest_noun_form: usize,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| Lexicon::parse(include_str!("sv_forms.txt")))
}

impl Lexicon {
    /// Lines of `kind lemma: form form …` (kind n, v or a; `#` starts a comment).
    fn parse(text: &str) -> Lexicon {
        let mut l = Lexicon {
            forms: HashMap::default(),
            folded: HashMap::default(),
            noun_forms: HashMap::default(),
            folded_noun_forms: HashMap::default(),
            longest_noun_form: 0,
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (head, forms) = line.split_once(':').unwrap_or((line, ""));
            let mut head = head.split_whitespace();
            let (Some(kind), Some(lemma)) = (head.next(), head.next()) else {
                continue;
            };
            let key = by_rules(lemma);
            for form in std::iter::once(lemma).chain(forms.split_whitespace()) {
                l.forms.insert(form.to_string(), key.clone());
                l.folded.insert(fold(form), fold(&key));
                // Only forms the rules miss end compounds: `bostäder`, not `meddel-andet` as
                // `landet`.
                if kind == "n" && form.chars().count() >= 3 && by_rules(form) != key {
                    l.noun_forms.insert(form.to_string(), key.clone());
                    l.folded_noun_forms.insert(fold(form), fold(&key));
                    l.longest_noun_form = l.longest_noun_form.max(form.chars().count());
                }
            }
        }
        l
    }

    /// The key of a listed form, or of a compound whose last part is a listed noun form: the
    /// first part kept (at least 2 letters before a part of 4 or more, 3 before a shorter one).
    fn key(&self, word: &str, folded: bool) -> Option<String> {
        let (forms, nouns) = if folded {
            (&self.folded, &self.folded_noun_forms)
        } else {
            (&self.forms, &self.noun_forms)
        };
        if let Some(key) = forms.get(word) {
            return Some(key.clone());
        }
        // Longest last part first: walk the starts of the last `longest_noun_form` letters from
        // the left (without collecting the word's letters, as this runs for every word).
        let n = word.chars().count();
        let longest = self.longest_noun_form.min(n.saturating_sub(2));
        if longest < 3 {
            return None;
        }
        for (first_part, (at, _)) in word.char_indices().enumerate().skip(n - longest) {
            let len = n - first_part;
            if len < 3 {
                break;
            }
            if first_part < if len >= 4 { 2 } else { 3 } {
                continue;
            }
            if let Some(key) = nouns.get(&word[at..]) {
                return Some(format!("{}{key}", &word[..at]));
            }
        }
        None
    }
}

/// The key of a lowercased word (as `text::normalise` leaves it).
pub fn key(word: &str) -> String {
    lexicon().key(word, false).unwrap_or_else(|| by_rules(word))
}

/// The key of a word with å, ä and ö folded away: what a query typed without them is matched by,
/// and what the index keeps beside each word. `folded_key("förskolan") == folded_key("forskolor")`.
pub fn folded_key(word: &str) -> String {
    let folded = fold(word);
    lexicon()
        .key(&folded, true)
        .unwrap_or_else(|| by_rules(&folded))
}

/// The folded keys the index keeps for a word written with its diacritics: the key of the folded
/// word (what a query typed without them makes) and the folded key of the word as written, when
/// the two differ (`tillståndet` → `tillstand`, while `tillstandet` reads as `tillst-andet`).
pub fn folded_keys(word: &str) -> Vec<String> {
    let typed = folded_key(word);
    let written = fold(&key(word));
    if written == typed {
        vec![typed]
    } else {
        vec![typed, written]
    }
}

/// Words of three letters or more that carry grammar rather than meaning (prepositions,
/// conjunctions, pronouns, auxiliary verbs), folded. A long query word is never split into one
/// of these and another word: `förskola` is not `för` + `skola`, `tillstånd` not `till` +
/// `stånd`, and a part found in a third of all messages would only make the search slow.
const FUNCTION_WORDS: &[&str] = &[
    "alla", "allt", "att", "bara", "blev", "bli", "blir", "dar", "dem", "den", "denna", "deras",
    "dessa", "det", "detta", "dig", "din", "dina", "ditt", "efter", "eftersom", "eller", "era",
    "ert", "ett", "fick", "for", "fran", "hade", "han", "hans", "har", "hennes", "hon", "honom",
    "hur", "icke", "inom", "inte", "jag", "kan", "kunde", "man", "med", "mellan", "men", "mer",
    "mig", "min", "mina", "mitt", "mot", "mycket", "nagon", "nagot", "nagra", "nar", "nog", "oss",
    "over", "samma", "sedan", "sig", "sin", "sina", "sitt", "ska", "skall", "skulle", "som",
    "till", "under", "upp", "utan", "vad", "var", "vara", "varit", "vars", "vart", "vem", "vid",
    "vilka", "vilken", "vilket", "vill",
];

/// Whether a folded word is one of the [`FUNCTION_WORDS`].
pub fn function_word(folded: &str) -> bool {
    FUNCTION_WORDS.contains(&folded)
}

/// Whether a folded word is one of the lexicon's irregular forms (`gick`, `battre`), whose key
/// may begin otherwise than the word does.
pub fn irregular(folded: &str) -> bool {
    lexicon().folded.contains_key(folded)
}

fn is_vowel(c: char) -> bool {
    VOWELS.contains(c)
}

/// A stem may be left: it has a vowel, and three letters (two when it ends in a vowel: `kö`).
fn stem_ok(stem: &str) -> bool {
    let n = stem.chars().count();
    stem.chars().any(is_vowel) && (n >= 3 || (n == 2 && stem.chars().last().is_some_and(is_vowel)))
}

fn kept(word: &str) -> bool {
    // The endings folded once: the rules run for every word indexed and searched.
    static FOLDED: OnceLock<Vec<String>> = OnceLock::new();
    let folded = FOLDED.get_or_init(|| KEPT_ENDINGS.iter().map(|k| fold(k)).collect());
    KEPT_ENDINGS.iter().any(|k| ends_with(word, k)) || folded.iter().any(|k| ends_with(word, k))
}

/// `word.ends_with(ending)` with the last bytes compared first. The rules try some sixty endings
/// on every word indexed, and most differ in their last byte: comparing each whole (a call to
/// `memcmp` each) was about 2 % of the service's CPU under sustained ingest (issue 17's profile).
fn ends_with(word: &str, ending: &str) -> bool {
    match ending.as_bytes().last() {
        // Every word ends with nothing, as `str::ends_with` says.
        None => true,
        last => word.as_bytes().last() == last && word.ends_with(ending),
    }
}

/// The longest ending that leaves a stem, or a genitive `s`, or `n` after `el`/`or` (`cykeln`,
/// `rektorn`). Returns the stem and the ending.
fn strip(word: &str) -> Option<(&str, &'static str)> {
    if kept(word) {
        return None;
    }
    for ending in ENDINGS {
        if !ends_with(word, ending) {
            continue;
        }
        if let Some(stem) = word.strip_suffix(ending) {
            // `-stånd` typed without å reads as a participle: `tillstandet` is no `tillst-andet`.
            let stand = ending.starts_with("and") && stem.ends_with("st");
            if stem_ok(stem) && !stand {
                return Some((stem, ending));
            }
        }
    }
    let mut last = word.chars().rev();
    let (end, before, before2) = (last.next()?, last.next()?, last.next()?);
    let stem = &word[..word.len() - end.len_utf8()];
    let after_el_or = matches!((before2, before), ('e', 'l') | ('o', 'r'));
    if end == 'n' && after_el_or && stem_ok(stem) {
        return Some((stem, "n"));
    }
    if end == 's' && S_ENDING.contains(before) && stem_ok(stem) {
        return Some((stem, "s"));
    }
    None
}

/// `cykl` → `cykel`, `vattn` → `vatten`: a stem ending in a consonant and l, r or n lost an `e`.
fn restore_dropped_e(stem: &str) -> Option<String> {
    let mut last = stem.chars().rev();
    let (end, before) = (last.next()?, last.next()?);
    if !"lrn".contains(end) || !OBSTRUENTS.contains(before) || !last.any(is_vowel) {
        return None;
    }
    let at = stem.len() - end.len_utf8();
    Some(format!("{}e{end}", &stem[..at]))
}

/// The rules alone (see the module's comment).
fn by_rules(word: &str) -> String {
    let mut stem = word.to_string();
    if let Some((first, ending)) = strip(word) {
        let (restored, again) = match restore_dropped_e(first) {
            Some(r) => (r, true),
            None => {
                // Definite and genitive endings sit on whole words, which may end in what the
                // word alone loses (`kvarter-et`, `altan-en`); plurals in -er on words in -ar/-or.
                let again = matches!(ending, "en" | "et" | "ens" | "ets" | "s" | "n")
                    || (matches!(ending, "er" | "erna" | "ernas" | "ers")
                        && (first.ends_with("ar") || first.ends_with("or")));
                (first.to_string(), again)
            }
        };
        stem = restored;
        if again {
            if let Some((second, _)) = strip(&stem) {
                stem = second.to_string();
            }
        }
    }
    if !kept(&stem) {
        if let Some(pair) = SETTLE.iter().find(|p| ends_with(&stem, p)) {
            let shorter = &stem[..stem.len() - pair.chars().last().map_or(0, char::len_utf8)];
            if stem_ok(shorter) {
                stem = shorter.to_string();
            }
        }
    }
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_with_agrees_with_the_standard_one() {
        for word in ["", "a", "cykelbanorna", "stånd", "förskolan", "ö"] {
            for ending in ["", "a", "na", "orna", "and", "ånd", "stånd", "n", "ö", "xö"] {
                assert_eq!(
                    ends_with(word, ending),
                    word.ends_with(ending),
                    "{word:?} {ending:?}"
                );
            }
        }
    }

    /// Every form of each of these words has one key, with and without å/ä/ö.
    const FAMILIES: &[&str] = &[
        "skola skolan skolor skolorna skolans skolornas",
        "förskola förskolan förskolor förskolorna förskolans",
        "cykelbana cykelbanan cykelbanor cykelbanorna",
        "soptunna soptunnan soptunnor soptunnorna",
        "sopor soporna",
        "gata gatan gator gatorna",
        "väg vägen vägar vägarna vägens",
        "park parken parker parkerna",
        "hus huset husen husens husets",
        "äpple äpplet äpplen äpplena",
        "bibliotek biblioteket biblioteken bibliotekets biblioteks",
        "kommun kommunen kommuner kommunerna kommunens",
        "parkering parkeringen parkeringar parkeringarna parkeringens",
        "tillstånd tillståndet tillstånden",
        "bygglov bygglovet bygglovs",
        "kö kön köer köerna",
        "förskolekö förskolekön förskoleköer",
        "sjö sjön sjöar sjöarna",
        "cykel cykeln cyklar cyklarna",
        "nyckel nyckeln nycklar",
        "regel regeln regler reglerna",
        "vinter vintern vintrar",
        "vatten vattnet",
        "öppen öppet öppna",
        "hämta hämtar hämtade hämtat hämtas hämtades",
        "tömma tömmer tömde tömt töms tömdes tömts tömd",
        "stänga stänger stängde stängt stängs stängd stängda",
        "köpa köper köpte köpt",
        "läsa läser läste läst",
        "bygga bygger byggde byggt byggs",
        "svara svarar svarade svarat",
        "billig billigt billiga billigare billigast",
        "snabb snabbt snabba snabbare snabbast",
        "plats platsen platser platserna",
        "hållplats hållplatsen hållplatser",
        "skatt skatten skatter",
        "simhall simhallen simhallar",
        "kvarter kvarteret kvarteren",
        "arbete arbetet arbeten arbetena",
        "vägarbete vägarbetet vägarbeten",
        "öppettid öppettider öppettiderna",
        "snöröjning snöröjningen",
        "teater teatern teatrar teaterns",
        "meddelande meddelandet meddelanden meddelandena",
        "område området områden områdena",
        "kostnad kostnaden kostnader",
        "månad månaden månader månaderna",
        "handläggningstid handläggningstiden handläggningstider",
        "lärare läraren lärarna lärares",
        "rektor rektorn rektorer rektorerna",
        "trottoar trottoaren trottoarer",
        "avgift avgiften avgifter avgifterna",
        "ansöka ansöker ansökte ansökt ansöks ansökan ansökningar",
        "bok boken böcker böckerna",
        "stad staden städer städerna",
        "bostad bostaden bostäder bostäderna",
        "gå går gick gått",
        "ta tar tog tagit tagen",
        "skriva skriver skrev skrivit skriven skrivna",
        "stor stort stora större störst största",
        "gammal gammalt gamla äldre äldst",
        "god gott goda bättre bäst",
        "liten litet lilla små mindre minst",
    ];

    /// Forms whose folded spelling ends like an inflection (`område` → `omrade`, `-ade`).
    const FOLDED_AMBIGUOUS: &[&str] = &["område"];

    #[test]
    fn every_form_of_a_word_has_its_key() {
        for family in FAMILIES {
            let forms: Vec<&str> = family.split_whitespace().collect();
            for a in &forms {
                for b in &forms {
                    assert_eq!(key(a), key(b), "{a} against {b}");
                    // Typed without å/ä/ö, a form finds the others as the index keeps them;
                    // except where the folded word reads as another ending (`omr-ade`), which
                    // search settles by the words in the index (`query::Planner::restored`).
                    let typed = folded_key(&fold(a));
                    assert_eq!(typed, folded_key(a), "{a}");
                    if !FOLDED_AMBIGUOUS.contains(&forms[0]) {
                        assert!(folded_keys(b).contains(&typed), "{a} typed, {b} written");
                    }
                }
            }
        }
    }

    #[test]
    fn different_words_keep_different_keys() {
        for (a, b) in [
            ("sopor", "spor"),
            ("bil", "bild"),
            ("gård", "går"),
            ("hall", "hal"),
            ("barn", "bar"),
            ("kort", "kor"),
            ("vård", "vår"),
            ("parkering", "parkera"),
            ("plats", "plat"),
        ] {
            assert_ne!(key(a), key(b), "{a} and {b}");
        }
    }

    #[test]
    fn the_issues_forms() {
        // `forskola` typed without ö finds `förskolan`; plurals find definite singulars.
        assert_eq!(folded_key("forskola"), folded_key("förskolan"));
        assert_eq!(key("förskolor"), key("förskolan"));
        assert_eq!(key("cykelbanor"), key("cykelbanan"));
        assert_eq!(key("cykelbanorna"), key("cykelbanan"));
    }
}
