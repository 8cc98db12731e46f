//! Placeholders in saved replies: `{förnamn}`, `{namn}` and `{kanal}`, filled from the
//! conversation before anything is sent. A reply naming another placeholder is refused when it is
//! saved; a value the conversation lacks (the platform gave no name) becomes a neutral word, so a
//! citizen never reads a placeholder.

/// The placeholders there are, as written in a reply.
pub const KNOWN: [&str; 3] = ["{förnamn}", "{namn}", "{kanal}"];

/// What the conversation gives the placeholders.
pub struct Values<'a> {
    /// The person's name as the platform gave it, when it gave one.
    pub name: Option<&'a str>,
    pub channel: &'a str,
    /// The reply's language (sv or en), for the neutral word.
    pub language: &'a str,
}

/// Every `{word}` in the text (letters, digits, `_` and `-` between the braces).
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('{').filter_map(move |(start, _)| {
        let rest = &text[start + 1..];
        let end = rest.find('}')?;
        let word = &rest[..end];
        let is_word = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
        is_word.then(|| &text[start..start + end + 2])
    })
}

/// The placeholders in the text that tavla does not know, each once, in order.
pub fn unknown(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens(text) {
        if !KNOWN.contains(&t) && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

/// Whether the text still holds a placeholder tavla fills (it must not go out as it is).
pub fn has_known(text: &str) -> bool {
    tokens(text).any(|t| KNOWN.contains(&t))
}

/// The text with the placeholders filled.
pub fn fill(text: &str, v: &Values) -> String {
    let neutral = if v.language == "en" { "there" } else { "du" };
    let name = v.name.map(str::trim).filter(|n| !n.is_empty());
    let first = name.and_then(|n| n.split_whitespace().next());
    text.replace("{förnamn}", first.unwrap_or(neutral))
        .replace("{namn}", name.unwrap_or(neutral))
        .replace("{kanal}", v.channel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_from_the_conversation_and_falls_back_to_a_neutral_word() {
        let v = Values {
            name: Some("Anna Lindqvist"),
            channel: "Exempelby kommun",
            language: "sv",
        };
        assert_eq!(
            fill(
                "Hej {förnamn}! Tack för att du skrev till {kanal}, {namn}.",
                &v
            ),
            "Hej Anna! Tack för att du skrev till Exempelby kommun, Anna Lindqvist."
        );
        let nameless = Values {
            name: Some("  "),
            ..v
        };
        assert_eq!(fill("Hej {förnamn}!", &nameless), "Hej du!");
        let english = Values {
            name: None,
            channel: "Exempelby",
            language: "en",
        };
        assert_eq!(fill("Hi {förnamn}!", &english), "Hi there!");
    }

    #[test]
    fn finds_unknown_placeholders_only() {
        assert_eq!(
            unknown("Hej {fornamn} och {förnamn}, {x y} {} {adress} {adress}"),
            ["{fornamn}", "{adress}"]
        );
        assert!(has_known("Hej {kanal}"));
        assert!(!has_known("Hej {kanal"));
    }
}
