//! What must hold of every output of the parsers, whatever their input: shared by
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
