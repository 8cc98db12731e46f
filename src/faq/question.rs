//! Which messages are questions. FAQ signals count questions only: thanks, complaints and insults
//! would otherwise form the biggest "clusters" and drown what citizens actually ask.
//!
//! Rules, not a model: a sentence is a question when it ends in a question mark, starts with an
//! interrogative ("hur", "när", "what") or with a verb followed by its subject ("kan jag",
//! "finns det", "is there"), or when the message asks for information in words ("jag undrar",
//! "tacksam för svar", "anyone know"). Swedish and English, Norwegian as a bonus.

use crate::text;

/// Whether a citizen's message asks something (Swedish, English, Norwegian).
pub fn is_question(message: &str) -> bool {
    let normalised = text::normalise(message);
    if ASKING_PHRASES
        .iter()
        .any(|p| contains_phrase(&normalised, p))
    {
        return true;
    }
    let mut sentences = sentences(&normalised);
    sentences.any(|(sentence, ending)| sentence_asks(sentence, ending))
}

/// How a sentence ended: the punctuation that closed it decides a lot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Question,
    /// "?!" or "!?": often indignation, still a question when phrased as one.
    Indignant,
    Other,
}

/// Sentences with the punctuation that ended them. A `?` inside a word or URL
/// ("sida?id=3") does not end a sentence.
fn sentences(normalised: &str) -> impl Iterator<Item = (&str, Ending)> {
    let bytes = normalised.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ends = matches!(b, b'.' | b'!' | b'?' | b'\n')
            && bytes.get(i + 1).is_none_or(|n| !n.is_ascii_alphanumeric());
        if !ends {
            i += 1;
            continue;
        }
        let mut j = i;
        let (mut question, mut exclaim) = (false, false);
        while j < bytes.len() && matches!(bytes[j], b'.' | b'!' | b'?' | b'\n' | b' ') {
            question |= bytes[j] == b'?';
            exclaim |= bytes[j] == b'!';
            j += 1;
        }
        let ending = match (question, exclaim) {
            (true, true) => Ending::Indignant,
            (true, false) => Ending::Question,
            _ => Ending::Other,
        };
        out.push((&normalised[start..i], ending));
        start = j;
        i = j;
    }
    if start < normalised.len() {
        out.push((&normalised[start..], Ending::Other));
    }
    out.into_iter()
}

fn sentence_asks(sentence: &str, ending: Ending) -> bool {
    let words: Vec<&str> = text::words(sentence).collect();
    let words = skip_greeting(&words);
    let Some(&first) = words.first() else {
        return false;
    };
    let next = words.get(1).copied().unwrap_or("");
    if RHETORICAL.iter().any(|p| contains_phrase(sentence, p)) {
        return false;
    }
    let interrogative = starts_with_interrogative(first, next);
    match ending {
        Ending::Question => true,
        Ending::Indignant => interrogative,
        // Without a question mark, an opening that is clearly interrogative still counts:
        // citizens often write "när töms soporna" and stop.
        Ending::Other => interrogative && words.len() >= 2,
    }
}

/// Greetings, address forms and conjunctions before the question proper ("Hej! Hur...",
/// "Hej kommunen, när...", "Tack! Men när...").
fn skip_greeting<'a, 'b>(words: &'b [&'a str]) -> &'b [&'a str] {
    let mut rest = words;
    while let Some((&w, tail)) = rest.split_first() {
        if GREETINGS.contains(&w) {
            rest = tail;
        } else {
            break;
        }
    }
    rest
}

fn starts_with_interrogative(first: &str, next: &str) -> bool {
    if any_contains(&WH_WORDS, first) {
        // "När jag kom dit var det stängt": a subordinate clause, not a question. A question puts
        // the verb right after the interrogative ("när kommer", "hur gör").
        if any_contains(&SUBJECTS, next) {
            return false;
        }
        // "Vad bra!", "what a mess": exclamations.
        if EXCLAMATION_AFTER_WH.contains(&next) {
            return false;
        }
        // "Var snäll och...", "var försiktig": imperative of "vara", not "where".
        if first == "var" && IMPERATIVE_AFTER_VAR.contains(&next) {
            return false;
        }
        return true;
    }
    // Verb first, then its subject: "kan jag", "finns det", "is there", "har dere".
    // "Kan inte fatta att..." has no subject and is a complaint.
    any_contains(&VERBS_FIRST, first) && any_contains(&SUBJECTS, next)
}

/// `phrase` occurs in `text` at word boundaries.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = text[from..].find(phrase) {
        let start = from + pos;
        let end = start + phrase.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = text[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        from = start + phrase.chars().next().map_or(1, char::len_utf8);
    }
    false
}

const GREETINGS: &[&str] = &[
    "hej", "hejsan", "hallå", "tjena", "tja", "god", "morgon", "dag", "kväll", "goddag", "hei",
    "heisann", "hi", "hello", "hey", "dear", "kommunen", "ok", "okej", "tack", "och", "så", "men",
    "fast", "but", "and", "so", "og",
];

/// Interrogatives that open a question: Swedish, English, Norwegian.
const WH_WORDS: [&[&str]; 3] = [
    &[
        "hur",
        "vad",
        "var",
        "vart",
        "varifrån",
        "när",
        "varför",
        "vem",
        "vems",
        "vilken",
        "vilket",
        "vilka",
        "hurdan",
    ],
    &[
        "what", "whats", "how", "when", "where", "why", "who", "whom", "whose", "which",
    ],
    &[
        "hva", "hvor", "hvordan", "hvorfor", "hvem", "hvilken", "hvilket", "hvilke",
    ],
];

/// Verbs that open a yes/no question when their subject follows: Swedish, English, Norwegian.
const VERBS_FIRST: [&[&str]; 3] = [
    &[
        "kan",
        "får",
        "måste",
        "ska",
        "skall",
        "bör",
        "behöver",
        "går",
        "finns",
        "är",
        "har",
        "gäller",
        "stämmer",
        "brukar",
        "vet",
        "hade",
        "skulle",
        "kommer",
        "blir",
        "borde",
        "tar",
        "fungerar",
        "funkar",
        "gör",
        "använder",
        "ingår",
        "hämtas",
        "töms",
    ],
    &[
        "can", "could", "would", "will", "is", "are", "was", "were", "do", "does", "did", "should",
        "shall", "may", "might", "have", "has", "am",
    ],
    &["må", "skal", "er", "fins", "vil"],
];

/// Subjects (and the words that stand for them) that follow a question's verb.
const SUBJECTS: [&[&str]; 3] = [
    &[
        "jag",
        "du",
        "man",
        "ni",
        "vi",
        "de",
        "dom",
        "den",
        "det",
        "han",
        "hon",
        "hen",
        "någon",
        "något",
        "några",
        "min",
        "mitt",
        "mina",
        "vår",
        "vårt",
        "våra",
        "er",
        "ert",
        "era",
        "ens",
        "kommunen",
        "biblioteket",
    ],
    &[
        "i", "you", "we", "they", "it", "he", "she", "there", "anyone", "anybody", "someone",
        "somebody", "my", "your", "our", "the", "this", "that", "these", "those",
    ],
    &["jeg", "dere", "hun", "noen", "noe", "meg", "dem", "mine"],
];

/// "Vad bra!", "what a mess": an interrogative that opens an exclamation.
const EXCLAMATION_AFTER_WH: &[&str] = &[
    "bra",
    "skönt",
    "kul",
    "roligt",
    "fint",
    "härligt",
    "trevligt",
    "tråkigt",
    "synd",
    "dåligt",
    "vackert",
    "gött",
    "snällt",
    "fantastiskt",
    "underbart",
    "pinsamt",
    "typiskt",
    "dumt",
    "a",
    "an",
    "nice",
    "great",
    "lovely",
    "flott",
];

/// "Var snäll och...": the imperative of "vara", not "where".
const IMPERATIVE_AFTER_VAR: &[&str] = &[
    "snäll",
    "snälla",
    "försiktig",
    "försiktiga",
    "beredd",
    "beredda",
    "så",
    "rädd",
    "rädda",
    "vänlig",
    "vänliga",
    "noga",
    "uppmärksam",
    "uppmärksamma",
    "med",
];

fn any_contains(lists: &[&[&str]; 3], word: &str) -> bool {
    lists.iter().any(|list| list.contains(&word))
}

/// Phrases that ask for information wherever they stand in the message.
const ASKING_PHRASES: &[&str] = &[
    // Swedish
    "undrar",
    "hur gör man",
    "hur gör jag",
    "finns det",
    "någon som vet",
    "vet någon",
    "jag vill veta",
    "vill gärna veta",
    "skulle vilja veta",
    "vill bara veta",
    "tacksam för svar",
    "tacksam för ett svar",
    "tacksam för besked",
    "tacksam för info",
    "tacksam för information",
    "ge besked",
    "kan ni svara",
    "kan någon svara",
    "kan ni förklara",
    "kan ni berätta",
    "vart vänder jag mig",
    "vem ska jag kontakta",
    "vem kontaktar jag",
    "hjälp mig förstå",
    // English
    "i wonder",
    "i was wondering",
    "anyone know",
    "does anyone know",
    "anybody know",
    "any idea",
    "i would like to know",
    "i'd like to know",
    "please let me know",
    "could you tell me",
    "can you tell me",
    // Norwegian
    "lurer på",
    "noen som vet",
    "vet noen",
    "har noen",
];

/// Question-shaped sentences that are not asking (insults, indignation). Moderation handles them.
const RHETORICAL: &[&str] = &[
    "dumma i huvudet",
    "helt dumma",
    "är ni helt",
    "är ni dumma",
    "fattar ni inte",
    "hur svårt kan det",
    "hur dum",
    "hur dumma",
    "skämtar ni",
    "vem bryr sig",
    "är det ett skämt",
    "what is wrong with you",
    "are you stupid",
    "are you kidding",
    "who cares",
    "are you serious",
];

#[cfg(test)]
mod tests {
    use super::is_question;

    #[test]
    fn swedish_questions() {
        for q in [
            "Hej! När töms soporna på Storgatan?",
            "när öppnar biblioteket i sommar",
            "Hur ansöker jag om bygglov för ett attefallshus",
            "Vad kostar det att parkera vid resecentrum?",
            "Var kan man lämna grovsopor",
            "Varför är simhallen stängd?!",
            "Vilka dagar har återvinningscentralen öppet",
            "Kan jag få hjälp med ansökan om försörjningsstöd",
            "Får man grilla på stranden",
            "Måste jag ha parkeringstillstånd för att stå här",
            "Finns det lediga platser på förskolan i Sävsjö",
            "Hejsan, jag undrar om ni har öppet på annandag påsk",
            "Någon som vet om färjan går idag",
            "Jag vill veta vilka regler som gäller för eldning. Tacksam för svar",
            "Hej kommunen, ska vi betala för skolskjutsen",
            "Är det någon som vet när vägen öppnar igen",
            "hur gör man för att säga upp sitt abonnemang",
        ] {
            assert!(is_question(q), "should be a question: {q}");
        }
    }

    #[test]
    fn english_and_norwegian_questions() {
        for q in [
            "When does the library open on Sundays",
            "How do I apply for a parking permit?",
            "Is there a bus to the hospital from the station",
            "Can I pay my water bill online",
            "Does anyone know if the pool is open today",
            "I wonder if the recycling centre takes batteries",
            "Hvor kan jeg parkere i sentrum",
            "Jeg lurer på når bassenget åpner",
        ] {
            assert!(is_question(q), "should be a question: {q}");
        }
    }

    #[test]
    fn thanks_complaints_and_insults_are_not_questions() {
        for s in [
            "Tack för snabbt svar!",
            "Tack så mycket, vad bra!",
            "När jag kom dit var det stängt. Riktigt dåligt.",
            "Kan inte fatta att ni har stängt badet igen",
            "Ni är värdelösa och borde skämmas",
            "Är ni helt dumma i huvudet?!",
            "Var snälla och laga vägen nu",
            "Vägen har varit avstängd i tre veckor utan information",
            "Fy fan vad dåligt skött",
            "Thanks for the quick reply!",
            "What a mess this town is.",
            "Great job everyone",
            "Se https://kommun.se/sida?id=12 för mer info",
            "Har väntat i två veckor på svar",
            "",
            "🙂👍",
        ] {
            assert!(!is_question(s), "should not be a question: {s}");
        }
    }
}
