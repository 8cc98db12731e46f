//! Snippets with the matched words marked. The text is hostile: it is escaped here, and the only
//! markup in a snippet is our own `<mark>`.

use serde::Serialize;

use crate::text;
use crate::text::escape_html as escape;

/// A window of about 160 characters of the message's text around the first match, with the
/// matched words marked. The message text is hostile input: `html` is escaped, and its only
/// markup is tavla's own `<mark>`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(example = json!({
    "text": "Hej! Var kan jag söka parkeringstillstånd för boende?",
    "highlights": [[22, 41]],
    "html": "Hej! Var kan jag söka <mark>parkeringstillstånd</mark> för boende?"
}))]
pub struct Snippet {
    /// The window as plain text, with `…` where it was cut. Empty when the message has no text.
    pub text: String,
    /// The matched words as `[start, end)` ranges of character (Unicode scalar) offsets into
    /// `text`, for clients that build the markup themselves.
    #[schema(schema_with = ranges)]
    pub highlights: Vec<(usize, usize)>,
    /// The same window as escaped HTML (`&`, `<`, `>`, `"`, `'`), with `<mark>` around each
    /// matched word. Safe to insert as HTML.
    pub html: String,
}

/// `highlights` as pairs of two offsets (with its words: a `schema_with` schema takes no doc
/// comment).
fn ranges() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let offset = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
    };
    let pair = ArrayBuilder::new()
        .prefix_items([offset(), offset()])
        .min_items(Some(2))
        .max_items(Some(2));
    ArrayBuilder::new()
        .items(pair)
        .description(Some(
            "The matched words as `[start, end)` ranges of character (Unicode scalar) offsets \
             into `text`, for clients that build the markup themselves.",
        ))
        .build()
}

const WINDOW: usize = 160;

/// What a search matched words by, all folded (no å/ä/ö): a word in the text is marked when it
/// starts with a query word, has the key of one (`förskolan` for `forskolor`), is a near spelling
/// the search accepted, or holds a compound part of one (`parkering` in `parkeringstillstånd`).
#[derive(Debug, Default, Clone)]
pub struct Highlight {
    pub prefixes: Vec<String>,
    pub keys: std::collections::HashSet<String>,
    pub spellings: std::collections::HashSet<String>,
    pub parts: Vec<String>,
}

impl Highlight {
    /// Marks words by what a person typed (no index needed): as the words, their keys and parts.
    pub fn of_words(words: &[String]) -> Highlight {
        let mut h = Highlight::default();
        for w in words {
            h.add_word(w);
        }
        h
    }

    pub fn add_word(&mut self, word: &str) {
        let folded = text::fold(word);
        let key = text::swedish::folded_key(word);
        if folded.chars().count() >= text::MIN_PART {
            self.parts.push(folded.clone());
        }
        if key.chars().count() >= text::MIN_PART && key != folded {
            self.parts.push(key.clone());
        }
        self.prefixes.push(folded);
        self.keys.insert(key);
    }

    fn matches(&self, word: &str) -> bool {
        let folded = text::fold(&text::normalise(word));
        self.prefixes.iter().any(|p| folded.starts_with(p.as_str()))
            || self.spellings.contains(&folded)
            || self.parts.iter().any(|p| folded.contains(p.as_str()))
            || (self.may_share_a_key(&folded)
                && self.keys.contains(&text::swedish::folded_key(&folded)))
    }

    /// A word's key is worth working out only when it begins as one of the keys does (a key
    /// keeps the first letters of its word, folded: `bok` of `böcker`) or the word is irregular.
    fn may_share_a_key(&self, folded: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.chars().take(2).eq(folded.chars().take(2)))
            || text::swedish::irregular(folded)
    }
}

pub fn make(body: &str, query: &Highlight) -> Snippet {
    // Word spans in character offsets.
    let chars: Vec<char> = body.chars().collect();
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, chars.len()));
    }
    let matches =
        |(s, e): &(usize, usize)| query.matches(&chars[*s..*e].iter().collect::<String>());
    // The window opens at the first match; only the words inside it need looking at after that.
    let first = spans.iter().position(matches);
    let at = first.map_or(0, |i| spans[i].0);
    let window_start = at.saturating_sub(WINDOW / 3);
    let window_end = (window_start + WINDOW).min(chars.len());
    let hits: Vec<(usize, usize)> = match first {
        None => Vec::new(),
        Some(i) => std::iter::once(spans[i])
            .chain(
                spans[i + 1..]
                    .iter()
                    .take_while(|(s, _)| *s < window_end)
                    .filter(|span| matches(span))
                    .copied(),
            )
            .collect(),
    };
    let mut out = Snippet {
        text: String::new(),
        highlights: Vec::new(),
        html: String::new(),
    };
    let lead = if window_start > 0 { "…" } else { "" };
    out.text.push_str(lead);
    out.html.push_str(lead);
    let offset = lead.chars().count();
    let mut at = window_start;
    for (s, e) in hits
        .iter()
        .filter(|(s, e)| *s >= window_start && *e <= window_end)
    {
        let before: String = chars[at..*s].iter().collect();
        let word: String = chars[*s..*e].iter().collect();
        out.html.push_str(&escape(&before));
        out.html.push_str("<mark>");
        out.html.push_str(&escape(&word));
        out.html.push_str("</mark>");
        out.highlights
            .push((offset + s - window_start, offset + e - window_start));
        at = *e;
    }
    let tail: String = chars[at..window_end].iter().collect();
    out.html.push_str(&escape(&tail));
    out.text.extend(&chars[window_start..window_end]);
    if window_end < chars.len() {
        out.text.push('…');
        out.html.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_matches_and_escapes_everything_else() {
        let s = make(
            "<b>Hej</b> & parkeringstillstånd?",
            &Highlight::of_words(&["parkering".to_string()]),
        );
        assert_eq!(
            s.html,
            "&lt;b&gt;Hej&lt;/b&gt; &amp; <mark>parkeringstillstånd</mark>?"
        );
        let (a, b) = s.highlights[0];
        let marked: String = s.text.chars().skip(a).take(b - a).collect();
        assert_eq!(marked, "parkeringstillstånd");
        let folded = make(
            "Öppettider för biblioteket",
            &Highlight::of_words(&["oppettider".to_string()]),
        );
        assert!(folded.html.starts_with("<mark>Öppettider</mark>"));
        // Another form of the word, typed without å/ä/ö, marks the form written.
        let forms = make(
            "När öppnar förskolan?",
            &Highlight::of_words(&["forskolor".to_string()]),
        );
        assert_eq!(forms.html, "När öppnar <mark>förskolan</mark>?");
    }
}
