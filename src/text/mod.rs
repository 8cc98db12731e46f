//! Language, handled one way everywhere: normalisation, tokens, Swedish/English detection,
//! diacritic folding and compound parts. Search uses it now; FAQ, moderation and privacy will too.

pub mod detectors;
pub mod placeholders;
pub mod swedish;

use unicode_normalization::UnicodeNormalization;

/// Lowercased NFKC text without zero-width and other invisible formatting characters, so that
/// compatibility forms (full-width letters, ligatures) and hidden joiners do not split words.
pub fn normalise(text: &str) -> String {
    text.nfkc()
        .filter(|c| !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}')
}

/// Words of a text: runs of letters and digits (after `normalise`). URLs, emoji and punctuation
/// separate words and never end up inside one.
pub fn words(normalised: &str) -> impl Iterator<Item = &str> {
    normalised
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// å, ä and ö are letters of their own in Swedish; folded away, a query typed without them can
/// still find the word (search ranks such matches lower).
pub fn fold(word: &str) -> String {
    word.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    match c {
        'å' | 'ä' | 'á' | 'à' | 'â' => 'a',
        'ö' | 'ø' | 'ó' | 'ò' | 'ô' => 'o',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'ü' | 'ú' | 'ù' => 'u',
        'í' | 'ì' | 'ï' => 'i',
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Swedish,
    English,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::Swedish => "sv",
            Language::English => "en",
        }
    }
}

const SWEDISH_MARKERS: &[&str] = &[
    "och", "att", "det", "som", "en", "på", "är", "av", "för", "med", "till", "den", "har", "de",
    "inte", "om", "ett", "men", "jag", "vi", "ni", "hur", "när", "var", "kan", "ska", "vill",
    "hej", "tack", "varför", "vad", "finns", "också", "eller", "efter", "mycket",
];
const ENGLISH_MARKERS: &[&str] = &[
    "the", "and", "to", "of", "is", "in", "that", "it", "for", "you", "with", "on", "are", "this",
    "be", "was", "have", "not", "what", "how", "when", "where", "can", "will", "please", "thanks",
    "hello", "my", "your", "do", "does", "why",
];

/// Swedish unless the text reads clearly as English: the municipality's language is the default.
pub fn detect_language(normalised: &str) -> Language {
    let (mut sv, mut en) = (0, 0);
    for w in words(normalised) {
        if SWEDISH_MARKERS.contains(&w) {
            sv += 1;
        }
        if ENGLISH_MARKERS.contains(&w) {
            en += 1;
        }
        if w.contains(['å', 'ä', 'ö']) {
            sv += 2;
        }
    }
    if en > sv {
        Language::English
    } else {
        Language::Swedish
    }
}

/// Shortest compound part worth indexing, and the shortest word treated as a possible compound.
pub const MIN_PART: usize = 4;
const MIN_COMPOUND: usize = 8;
/// Shortest trailing part of a word's key worth indexing (`sop` of `hushållssop-or`).
pub const MIN_KEY_PART: usize = 3;

/// The parts of a long word, folded (no å/ä/ö), so that a search for `parkering` finds
/// `parkeringstillstånd` and one for `sopor` (or `soporna`) finds `hushållssopor`. Swedish writes
/// compounds as one word; without a dictionary, every prefix and suffix of at least four letters
/// stands in for the real parts, and so does every trailing part of the word's key
/// (`swedish::folded_key`) of at least three letters after four (search ranks all of these below
/// whole words). The word's own folded keys are left out: the index keeps them beside the word
/// already (`förskolan` is found as `förskol` by its key), and a part that every form of a
/// common word also carries would only be read again on each search for it.
pub fn compound_parts(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    if is_compound_candidate(word) {
        each_compound_part(word, &swedish::folded_keys(word), |p| {
            parts.push(p.to_string())
        });
    }
    parts
}

/// Whether `compound_parts` finds parts in the word at all: long enough, and letters only.
pub fn is_compound_candidate(word: &str) -> bool {
    word.chars().count() >= MIN_COMPOUND && word.chars().map(fold_char).all(char::is_alphabetic)
}

/// `compound_parts` of a word whose `swedish::folded_keys` are known (the indexer has them
/// already), each handed to `part` in order, without a string of its own: the indexer runs this
/// for every long word of every message.
pub fn each_compound_part(word: &str, keys: &[String], part: impl FnMut(&str)) {
    if !is_compound_candidate(word) {
        return;
    }
    let folded = fold(word);
    // Where each letter starts, and the end.
    let at: Vec<usize> = folded
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(folded.len()))
        .collect();
    let n = at.len() - 1;
    let mut parts: Vec<&str> = Vec::with_capacity(3 * (n - MIN_PART));
    for end in MIN_PART..n {
        let leading = &folded[..at[end]];
        if !keys.iter().any(|k| k == leading) {
            parts.push(leading);
        }
    }
    for start in 1..=n - MIN_PART {
        parts.push(&folded[at[start]..]);
    }
    for key in keys {
        let key_at: Vec<usize> = key.char_indices().map(|(i, _)| i).collect();
        for start in MIN_PART..=key_at.len().saturating_sub(MIN_KEY_PART) {
            let trailing = &key[key_at[start]..];
            if !parts.contains(&trailing) {
                parts.push(trailing);
            }
        }
    }
    parts.into_iter().for_each(part);
}

/// Sweden's UTC offset at a local time: CET (+1) in winter, CEST (+2) from the last Sunday of
/// March to the last Sunday of October (changing at 01:00 UTC). Reports and date filters count
/// days in Swedish time.
pub fn swedish_offset(local: &chrono::NaiveDateTime) -> chrono::FixedOffset {
    use chrono::{Datelike, NaiveDate, Weekday};
    let last_sunday = |year: i32, month: u32| {
        let mut d =
            NaiveDate::from_ymd_opt(year, month, 31).expect("March and October have 31 days");
        while d.weekday() != Weekday::Sun {
            d = d.pred_opt().expect("a date before");
        }
        d
    };
    let year = local.year();
    let summer_starts = last_sunday(year, 3)
        .and_hms_opt(2, 0, 0)
        .expect("valid time");
    let summer_ends = last_sunday(year, 10)
        .and_hms_opt(3, 0, 0)
        .expect("valid time");
    let hours = if *local >= summer_starts && *local < summer_ends {
        2
    } else {
        1
    };
    chrono::FixedOffset::east_opt(hours * 3600).expect("a valid offset")
}

/// Text from data, safe inside HTML text and attribute values: the one escape for every page the
/// service writes itself (search snippets, the printable report).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_removes_hidden_characters_and_compatibility_forms() {
        assert_eq!(normalise("Ｈej\u{200B}san ﬁne"), "hejsan fine");
        let n = normalise("Se https://exempel.se/sida?x=1 🙂bra");
        let w: Vec<_> = words(&n).collect();
        assert!(w.contains(&"bra") && w.contains(&"sida"));
    }

    #[test]
    fn languages() {
        assert_eq!(
            detect_language(&normalise("Hej, när töms soporna?")),
            Language::Swedish
        );
        assert_eq!(
            detect_language(&normalise("When is the library open?")),
            Language::English
        );
        assert_eq!(detect_language(""), Language::Swedish);
    }

    #[test]
    fn compounds_give_leading_and_trailing_parts() {
        let parts = compound_parts("parkeringstillstånd");
        assert!(parts.contains(&"parkering".to_string()));
        assert!(parts.contains(&"parkerings".to_string()));
        assert!(parts.contains(&"tillstand".to_string()), "folded");
        // The key's trailing parts: `soporna` (key `sop`) finds `hushållssopor`.
        assert!(compound_parts("hushållssopor").contains(&"sop".to_string()));
        assert!(compound_parts("parkeringstillståndet").contains(&"tillstand".to_string()));
        assert!(compound_parts("sopor").is_empty());
        // A word's own key is not a part of it: the key is indexed beside the word.
        assert_eq!(crate::text::swedish::folded_key("förskolan"), "forskol");
        assert!(!compound_parts("förskolan").contains(&"forskol".to_string()));
        assert!(compound_parts("förskolebarnen").contains(&"forskol".to_string()));
        assert_eq!(fold("överförmyndarnämnden"), "overformyndarnamnden");
    }
}
