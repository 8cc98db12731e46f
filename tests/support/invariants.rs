//! What must hold of every output of the parsers and renderers, whatever their input: shared by
//! the property tests (tests/properties.rs) and the fuzz targets (fuzz/fuzz_targets), so both
//! check one definition.
#![allow(dead_code)]

use tavla::model::{Inbound, Item, MAX_PLATFORM_ID};

/// Every platform id a parsed item carries: the store keeps these, so each must be bounded.
pub fn ids(inbound: &Inbound) -> Vec<&str> {
    let mut ids = vec![inbound.channel.platform_id.as_str()];
    match &inbound.item {
        Item::Message(m) => {
            ids.push(&m.platform_id);
            ids.push(&m.person.platform_id);
            ids.extend(m.post_id.as_deref());
            ids.extend(m.parent_id.as_deref());
        }
        Item::Post { platform_id, .. } => ids.push(platform_id),
        Item::Reaction {
            target_id, person, ..
        } => ids.extend([target_id.as_str(), person.platform_id.as_str()]),
        Item::Read {
            person, message_id, ..
        } => {
            ids.push(&person.platform_id);
            ids.extend(message_id.as_deref());
        }
        Item::Delivery {
            person,
            message_ids,
            ..
        } => {
            ids.push(&person.platform_id);
            ids.extend(message_ids.iter().map(String::as_str));
        }
        Item::Unrecognised { .. } => {}
    }
    ids
}

pub fn assert_ids_bounded(inbound: &Inbound) {
    for id in ids(inbound) {
        assert!(
            id.len() <= MAX_PLATFORM_ID,
            "an id of {} bytes was accepted (item {:?})",
            id.len(),
            std::mem::discriminant(&inbound.item)
        );
    }
}

/// The cells of an RFC 4180 document (quoted cells may hold commas, quotes and newlines).
pub fn csv_cells(csv: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',' | '\n') => cells.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, c) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// The query parser's limits: at most 16 words, 16 exclusions, 4 phrases of at most 16 words,
/// no empty word, and a prefix only while typing.
pub fn assert_query_bounded(query: &str, typing: bool) {
    let parsed = tavla::search::query::parse(query, typing);
    assert!(parsed.words.len() <= 16 && parsed.excluded.len() <= 16);
    assert!(parsed.phrases.len() <= 4);
    for phrase in &parsed.phrases {
        assert!(phrase.len() <= 16, "a phrase of {} words", phrase.len());
    }
    let every = (parsed.words.iter())
        .chain(&parsed.excluded)
        .chain(parsed.phrases.iter().flatten());
    for word in every {
        assert!(!word.is_empty(), "an empty word from {query:?}");
    }
    assert!(!parsed.last_is_prefix || typing);
}

/// With `text` in every field people write into: the printable page has exactly the markup of
/// the same report with harmless text (escaping adds none), no CSV cell but a number starts like
/// a formula, and the JSON carries the text as it was.
pub fn assert_report_neutralises(text: &str, number: f64) {
    use tavla::reports::render;
    let report = crate::report_sample::report_with(text, number);
    let tame: String = (text.chars())
        .map(|c| if "<>\"'&".contains(c) { 'x' } else { c })
        .collect();
    let lang = render::Lang::parse(Some("sv"));
    let hostile = render::html(&report, lang);
    let plain = render::html(&crate::report_sample::report_with(&tame, number), lang);
    for c in ['<', '>', '"', '\''] {
        assert_eq!(
            hostile.matches(c).count(),
            plain.matches(c).count(),
            "{c:?} from {text:?}"
        );
    }
    for cell in csv_cells(&render::csv(&report)) {
        let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
        assert!(
            !formula || cell.parse::<f64>().is_ok(),
            "cell {cell:?} from {text:?}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&render::json(&report)).expect("JSON");
    assert_eq!(json["channels"][0]["channel_name"].as_str(), Some(text));
}
