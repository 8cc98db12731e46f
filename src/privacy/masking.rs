//! The masking policy (DESIGN.md §2, minimise): personal identity numbers, phone numbers and
//! e-mail addresses are shown masked in every output that carries message text — conversations,
//! message lists, search snippets, FAQ examples, moderation previews and evidence. A role with
//! `reveal_personal_data` may ask for one value by its index among the message's detections
//! (audited). Detection and the masks themselves live in `crate::text::detectors`, so Swedish is
//! handled one way everywhere.

use serde::Serialize;
use serde_json::Value;

use crate::text::detectors::{self, Kind};

/// Where a masked personal identity number, phone number or e-mail address stands in the shown
/// text. `index` is the value's index among the message's detections: give it to POST
/// /api/v1/messages/{id}/reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MaskedSpan {
    pub index: usize,
    #[schema(inline, value_type = MaskedKind)]
    pub kind: Kind,
    /// Character (not byte) offset of the mask in `text`.
    pub start: usize,
    /// Character offset just after the mask.
    pub end: usize,
}

/// A kind of personal data that masking detects.
// `detectors::Kind` as it serialises, for the description only (a test holds them together).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum MaskedKind {
    Personnummer,
    Samordningsnummer,
    Phone,
    Email,
}

/// What a pseudonymised record keeps of its words: every detected personal datum masked. The store
/// is handed this function when it disposes of records; it applies no policy of its own.
pub fn for_disposal(text: &str) -> String {
    detectors::mask(text)
}

/// `text` masked, with where each mask stands.
pub fn mask(text: &str) -> (String, Vec<MaskedSpan>) {
    let found = detectors::detect(text);
    if found.is_empty() {
        return (text.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::with_capacity(found.len());
    let mut at = 0;
    let mut chars = 0;
    for (index, d) in found.iter().enumerate() {
        let before = &text[at..d.start];
        out.push_str(before);
        chars += before.chars().count();
        // The masks of the detectors, one item at a time, so each keeps its own shape.
        let masked = detectors::mask(&text[d.start..d.end]);
        let len = masked.chars().count();
        spans.push(MaskedSpan {
            index,
            kind: d.kind,
            start: chars,
            end: chars + len,
        });
        out.push_str(&masked);
        chars += len;
        at = d.end;
    }
    out.push_str(&text[at..]);
    (out, spans)
}

/// The `index`th detected value in `text`, unmasked (for an audited reveal).
pub fn reveal(text: &str, index: usize) -> Option<(Kind, String)> {
    detectors::detect(text)
        .get(index)
        .map(|d| (d.kind, text[d.start..d.end].to_string()))
}

/// Masks a string value in place.
fn mask_str(v: &mut Value) {
    if let Some(s) = v.as_str() {
        let masked = detectors::mask(s);
        if masked != s {
            *v = Value::String(masked);
        }
    }
}

/// A message as JSON (`text`, `history[].text`): masked, with `masked` saying where.
pub fn message_json(message: &mut Value) {
    let spans = match message.get("text").and_then(Value::as_str) {
        Some(text) => {
            let (masked, spans) = mask(text);
            message["text"] = Value::String(masked);
            spans
        }
        None => Vec::new(),
    };
    if let Some(obj) = message.as_object_mut() {
        obj.insert(
            "masked".into(),
            serde_json::to_value(spans).unwrap_or_default(),
        );
    }
    if let Some(history) = message.get_mut("history").and_then(Value::as_array_mut) {
        for revision in history {
            if let Some(t) = revision.get_mut("text") {
                mask_str(t);
            }
        }
    }
}

/// A conversation summary as JSON: its preview and the post's text.
pub fn summary_json(summary: &mut Value) {
    if let Some(p) = summary.get_mut("preview") {
        mask_str(p);
    }
    if let Some(t) = summary.get_mut("post").and_then(|p| p.get_mut("text")) {
        mask_str(t);
    }
}

/// Every string anywhere in `v` (evidence content, raw payloads).
pub fn every_string(v: &mut Value) {
    match v {
        Value::String(_) => mask_str(v),
        Value::Array(items) => items.iter_mut().for_each(every_string),
        Value::Object(map) => map.values_mut().for_each(every_string),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_described_kinds_are_the_kinds_sent() {
        use utoipa::PartialSchema;
        // A new kind fails to compile here until it is listed below and in `MaskedKind`.
        match Kind::Email {
            Kind::Personnummer | Kind::Samordningsnummer | Kind::Phone | Kind::Email => {}
        }
        let described = serde_json::to_value(MaskedKind::schema()).unwrap()["enum"].clone();
        let sent: Vec<_> = [
            Kind::Personnummer,
            Kind::Samordningsnummer,
            Kind::Phone,
            Kind::Email,
        ]
        .iter()
        .map(|k| serde_json::to_value(k).unwrap())
        .collect();
        assert_eq!(described, serde_json::Value::Array(sent));
    }

    #[test]
    fn spans_point_at_the_masks_in_characters() {
        let text = "Hej, jag är 811218-9876 och nås på anna.berg@exempel.se eller 070-123 45 67.";
        let (masked, spans) = mask(text);
        assert_eq!(
            masked,
            "Hej, jag är 811218-**** och nås på a***@exempel.se eller 070-*** ** 67."
        );
        let chars: Vec<char> = masked.chars().collect();
        let shown: Vec<String> = spans
            .iter()
            .map(|s| chars[s.start..s.end].iter().collect())
            .collect();
        assert_eq!(shown, ["811218-****", "a***@exempel.se", "070-*** ** 67"]);
        assert_eq!(
            spans.iter().map(|s| s.kind).collect::<Vec<_>>(),
            [Kind::Personnummer, Kind::Email, Kind::Phone]
        );
        assert_eq!(
            reveal(text, 1),
            Some((Kind::Email, "anna.berg@exempel.se".into()))
        );
        assert_eq!(reveal(text, 3), None);
    }

    #[test]
    fn json_strings_are_masked_everywhere() {
        let mut v = serde_json::json!({"text": "ring 070-123 45 67", "raw": {"m": ["811218-9876"]}, "n": 3});
        every_string(&mut v);
        assert_eq!(v["text"], "ring 070-*** ** 67");
        assert_eq!(v["raw"]["m"][0], "811218-****");
        assert_eq!(v["n"], 3);
    }
}
