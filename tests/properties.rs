//! Property tests of the parsers and renderers that take hostile input: the Meta webhook parser,
//! the import/ingest-API parser, the signature check, the search query parser, the masking of
//! personal data and the report renderers. They run in the ordinary suite (CI); the same targets
//! are fuzzed without bounds by `cargo fuzz` (fuzz/, see its README). A crash either finds becomes
//! a case in `regressions` below.

#[path = "support/invariants.rs"]
mod invariants;
#[path = "support/report_sample.rs"]
mod report_sample;

use invariants::{assert_ids_bounded, assert_query_bounded};
use report_sample::assert_report_neutralises;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Keys and values Meta's webhooks and our import format use, so generated bodies reach deep
/// into the parsers instead of failing at the first field.
const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "time",
    "messaging",
    "changes",
    "field",
    "value",
    "sender",
    "recipient",
    "message",
    "mid",
    "text",
    "timestamp",
    "attachments",
    "payload",
    "url",
    "verb",
    "item",
    "comment_id",
    "post_id",
    "parent_id",
    "from",
    "name",
    "is_hidden",
    "read",
    "delivery",
    "reaction",
    "is_echo",
    "watermark",
    "mids",
    "created_time",
    "message_edit",
    "edit_count",
    "media",
    "platform",
    "channel",
    "kind",
    "direction",
    "author",
    "type",
    "reaction_type",
    "standby",
    "postback",
    "title",
    "referral",
    "media_product_type",
    "action",
];
const WORDS: &[&str] = &[
    "page",
    "instagram",
    "feed",
    "comments",
    "messages",
    "mentions",
    "comment",
    "post",
    "status",
    "photo",
    "video",
    "add",
    "edited",
    "edit",
    "remove",
    "hide",
    "unhide",
    "react",
    "unreact",
    "facebook",
    "linkedin",
    "dm",
    "visitor_post",
    "mention",
    "inbound",
    "outbound",
    "image",
    "2026-11-02T09:15:00+01:00",
    "2016-01-01T12:00:00+0000",
    "1764000000000",
    "",
    " ",
    "0",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(&[i64::MIN, i64::MAX, -1, 0, 99_999_999_999, 100_000_000_000][..])
            .prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        prop::sample::select(WORDS).prop_map(|w| Value::from(w.to_string())),
        ".{0,40}".prop_map(Value::from),
        // Ids far longer than any platform uses.
        (300usize..2_000).prop_map(|n| Value::from("7".repeat(n))),
    ]
}

/// JSON in the shape of a webhook or an import line: objects keyed by the vocabulary above.
fn meta_like_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A webhook body whose top levels are right, so the generated part lands in entries.
fn webhook_body() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["page", "instagram", "user"][..]),
        prop::collection::vec(meta_like_json(), 0..4),
        prop::collection::vec(meta_like_json(), 0..4),
    )
        .prop_map(|(object, messaging, changes)| {
            json!({"object": object, "entry": [
                {"id": "700000000000001", "time": 1_764_000_000_000i64, "messaging": messaging},
                {"id": 17841400000000001u64, "time": 1_764_000_000, "changes": changes},
            ]})
        })
}

proptest! {
    // Failures are not written to a file beside the tests: each one found is kept by hand in
    // `regressions`, where it reads as a test.
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_webhook_parser_takes_any_body_and_bounds_ids(body in webhook_body()) {
        if let Ok(items) = tavla::ingest::meta::parse_webhook(&body) {
            items.iter().for_each(assert_ids_bounded);
        }
    }

    #[test]
    fn the_webhook_parser_takes_any_json(body in meta_like_json()) {
        if let Ok(items) = tavla::ingest::meta::parse_webhook(&body) {
            items.iter().for_each(assert_ids_bounded);
        }
    }

    #[test]
    fn a_well_formed_webhook_with_hostile_ids_is_bounded(
        sender in hostile_id(), mid in hostile_id(), post in hostile_id(), comment in hostile_id(),
    ) {
        let body = json!({"object": "page", "entry": [
            {"id": "700000000000001", "time": 1_764_000_000_000i64, "messaging": [{
                "sender": {"id": sender}, "recipient": {"id": "700000000000001"},
                "timestamp": 1_764_000_000_000i64, "message": {"mid": mid, "text": "Hej"}}]},
            {"id": "700000000000001", "time": 1_764_000_000_000i64, "changes": [{"field": "feed",
                "value": {"item": "comment", "verb": "add", "comment_id": comment, "post_id": post,
                    "parent_id": post, "from": {"id": sender, "name": "A"}, "message": "Hej",
                    "created_time": 1_764_000_000}}]},
        ]});
        let items = tavla::ingest::meta::parse_webhook(&body).expect("a page webhook parses");
        items.iter().for_each(assert_ids_bounded);
    }

    #[test]
    fn the_webhook_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
            let _ = tavla::ingest::meta::parse_webhook(&body);
        }
    }

    #[test]
    fn only_the_right_signature_verifies(
        body in prop::collection::vec(any::<u8>(), 0..256),
        header in prop_oneof![".{0,80}", "sha256=[0-9a-fA-F]{0,70}", "sha1=[0-9a-f]{40}"],
    ) {
        let secret = b"property-secret";
        let right = tavla::ingest::signature::sign(secret, &body);
        let verdict = tavla::ingest::signature::verify(secret, &body, Some(&header));
        prop_assert_eq!(verdict.is_ok(), header.trim() == right);
        prop_assert!(tavla::ingest::signature::verify(secret, &body, Some(&right)).is_ok());
    }

    #[test]
    fn the_import_parser_takes_any_line_and_bounds_ids(line in meta_like_json()) {
        if let Ok(inbound) = tavla::ingest::normalised::parse(line) {
            assert_ids_bounded(&inbound);
        }
    }

    #[test]
    fn a_well_formed_import_line_with_hostile_fields_is_bounded(
        id in prop_oneof![".{1,40}", (300usize..1_000).prop_map(|n| "9".repeat(n))],
        post in prop_oneof![".{1,40}", (300usize..1_000).prop_map(|n| "8".repeat(n))],
        text in ".{0,200}",
        time in any::<i64>(),
    ) {
        let line = json!({"platform": "facebook", "channel": "700000000000001", "kind": "comment",
            "id": id, "author": {"id": "p1"}, "text": text, "time": time, "post_id": post,
            "parent_id": post});
        if let Ok(inbound) = tavla::ingest::normalised::parse(line) {
            assert_ids_bounded(&inbound);
        }
    }

    #[test]
    fn a_search_query_is_bounded_whatever_is_typed(
        query in prop_oneof![".{0,600}", "[a-zåäö \"\\-]{0,600}", "(\"[a-z ]{0,400}\" ?){0,6}"],
        typing in any::<bool>(),
    ) {
        assert_query_bounded(&query, typing);
    }

    #[test]
    fn masking_hides_every_identity_number_and_reveals_it_by_index(
        before in "[a-zåäö ,.]{0,30}",
        after in "[a-zåäö ,.]{0,30}",
        number in personnummer(),
    ) {
        let text = format!("{before} {number} {after}");
        let (masked, spans) = tavla::privacy::masking::mask(&text);
        prop_assert!(!masked.contains(&number), "{masked:?} still shows {number}");
        let found = spans
            .iter()
            .find(|s| tavla::privacy::masking::reveal(&text, s.index).map(|(_, v)| v) == Some(number.clone()));
        prop_assert!(found.is_some(), "{number} cannot be revealed from {text:?}");
        let shown = masked.chars().count();
        prop_assert!(spans.iter().all(|s| s.start <= s.end && s.end <= shown));
    }

    #[test]
    fn the_report_renderers_neutralise_whatever_people_wrote(
        text in ".{0,120}",
        number in -1e7f64..1e7,
    ) {
        assert_report_neutralises(&text, number);
    }
}

/// A platform id as platforms write them, or far longer than any does.
fn hostile_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,20}",
        "[0-9_]{1,60}",
        (257usize..3_000).prop_map(|n| "5".repeat(n))
    ]
}

/// A valid personnummer (YYMMDD-NNNC with its Luhn check digit).
fn personnummer() -> impl Strategy<Value = String> {
    (0u32..100, 1u32..13, 1u32..29, 0u32..1000).prop_map(|(y, m, d, n)| {
        let digits = format!("{y:02}{m:02}{d:02}{n:03}");
        let sum: u32 = digits
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let v = c.to_digit(10).unwrap() * if i % 2 == 0 { 2 } else { 1 };
                v / 10 + v % 10
            })
            .sum();
        format!("{}-{}{}", &digits[..6], &digits[6..], (10 - sum % 10) % 10)
    })
}

/// Cases the properties or the fuzzers found, kept as they were found.
mod regressions {
    use serde_json::json;

    /// A phrase was not held to the query's term limit (found by the query property).
    #[test]
    fn a_phrase_of_many_words_keeps_to_the_term_limit() {
        let typed = format!("\"{}\"", vec!["a"; 17].join(" "));
        let parsed = tavla::search::query::parse(&typed, false);
        assert_eq!(parsed.phrases[0].len(), 16);
    }

    /// An import line's post id was not bounded like its other ids (found by the import property).
    #[test]
    fn an_import_line_with_a_300_digit_post_id_is_refused() {
        let line = json!({"platform": "facebook", "channel": "700000000000001", "kind": "comment",
            "id": "!", "author": {"id": "p1"}, "text": "", "time": 0, "post_id": "8".repeat(300)});
        let refused = tavla::ingest::normalised::parse(line).unwrap_err();
        assert!(refused.contains("post_id is longer than 256"), "{refused}");
    }

    /// The smallest 64-bit time panicked in the webhook parser (negating it overflows; found by
    /// the webhook property): a message with it is kept, its time saturated.
    #[test]
    fn a_webhook_time_of_i64_min_does_not_panic() {
        let body = json!({"object": "page", "entry": [{"id": "700000000000001", "time": i64::MIN,
            "messaging": [{"sender": {"id": "1"}, "recipient": {"id": "700000000000001"},
                "timestamp": i64::MIN, "message": {"mid": "m1", "text": "Hej"}}]}]});
        let items = tavla::ingest::meta::parse_webhook(&body).unwrap();
        assert_eq!(items.len(), 1);
    }

    /// A webhook's ids were not bounded at all (found by the webhook property): the comment is
    /// still kept (with its raw payload), but an absurd post id counts as no post id.
    #[test]
    fn a_webhook_comment_with_a_257_digit_post_id_is_kept_without_it() {
        let body = json!({"object": "page", "entry": [{"id": "700000000000001", "time": 0,
            "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add",
                "comment_id": "0", "post_id": "5".repeat(257), "from": {"id": "0"},
                "message": "Hej", "created_time": 1_764_000_000}}]}]});
        let items = tavla::ingest::meta::parse_webhook(&body).unwrap();
        match &items[..] {
            [tavla::model::Inbound {
                item: tavla::model::Item::Message(m),
                ..
            }] => {
                assert_eq!((m.platform_id.as_str(), m.post_id.as_deref()), ("0", None));
            }
            other => panic!("one comment expected, got {other:?}"),
        }
    }
}
