//! The platform layer's own tests: Meta's reply window, and a toy platform that proves one new
//! module (an `Adapter`) is all a platform needs.

use serde_json::{json, Value};

use super::*;

const HOUR: i64 = 3_600_000;

#[test]
fn within_a_day_anything_goes() {
    assert_eq!(
        meta::REPLY_RULES.verdict(Some(0), 23 * HOUR, None),
        Verdict::Open
    );
    let w = meta::REPLY_RULES.window_after(Some(0), 23 * HOUR).unwrap();
    assert_eq!(w.seconds_left, 3600);
    assert_eq!(w.closes_at, 24 * HOUR);
    assert_eq!(w.human_agent_closes_at, 7 * 24 * HOUR);
}

#[test]
fn after_a_day_only_a_human_agent_with_the_tag() {
    assert!(matches!(
        meta::REPLY_RULES.verdict(Some(0), 24 * HOUR, None),
        Verdict::NeedsHumanAgentTag(w) if w.seconds_left == 0
    ));
    assert_eq!(
        meta::REPLY_RULES.verdict(Some(0), 24 * HOUR, Some(meta::HUMAN_AGENT)),
        Verdict::Open
    );
    assert!(matches!(
        meta::REPLY_RULES.verdict(Some(0), 30 * HOUR, Some("ACCOUNT_UPDATE")),
        Verdict::NeedsHumanAgentTag(_)
    ));
}

#[test]
fn after_a_week_or_without_a_message_nothing() {
    assert!(matches!(
        meta::REPLY_RULES.verdict(Some(0), 7 * 24 * HOUR, Some(meta::HUMAN_AGENT)),
        Verdict::Closed(Some(w)) if w.human_agent_seconds_left == 0
    ));
    assert_eq!(
        meta::REPLY_RULES.verdict(None, 0, Some(meta::HUMAN_AGENT)),
        Verdict::Closed(None)
    );
}

/// A made-up platform on LinkedIn: no DM window, short replies, comments answered at
/// `/comments/{id}/replies`. Everything it needs is this module.
mod toy {
    use super::*;

    pub struct Toy;

    impl Adapter for Toy {
        fn platforms(&self) -> &'static [Platform] {
            &[Platform::Linkedin]
        }
        fn api(&self) -> &'static str {
            "toy"
        }
        fn display_name(&self, _platform: Platform) -> &'static str {
            "Toy"
        }
        fn receive(&self, body: &Value) -> Result<Vec<Inbound>, String> {
            let items = body["items"].as_array().ok_or("no items")?;
            items
                .iter()
                .map(|item| crate::ingest::normalised::parse(item.clone()))
                .collect()
        }
        fn reply_rules(&self, _platform: Platform) -> ReplyRules {
            ReplyRules {
                dm_window: None,
                private_reply_within_ms: None,
                max_text_chars: 1250,
                max_comment_chars: 1250,
            }
        }
        fn request(&self, row: &Outgoing) -> Result<Request, String> {
            let comment = row.payload["comment_id"].as_str().ok_or("no comment")?;
            Ok(Request {
                verb: Verb::Post,
                path: format!("/comments/{comment}/replies"),
                body: Some(json!({ "text": row.payload["text"] })),
            })
        }
        fn judge(&self, _row: &Outgoing, status: u16, _: Option<Duration>, _: &[u8]) -> Judged {
            if status < 300 {
                Judged::Sent(None)
            } else {
                Judged::Refused("Toy refused it".into())
            }
        }
        fn failure_label(&self, _status: u16, _body: &Value) -> FailureLabel {
            "refused"
        }
    }
}

#[test]
fn a_second_platform_is_one_module_and_one_line() {
    static WITH_TOY: Adapters = Adapters(&[&meta::Meta, &toy::Toy]);
    let toy = WITH_TOY
        .for_name("linkedin")
        .expect("the toy serves LinkedIn");
    assert_eq!(toy.display_name(Platform::Linkedin), "Toy");
    // Meta still serves its own platforms.
    assert_eq!(WITH_TOY.for_name("facebook").unwrap().api(), "graph");
    assert!(
        ADAPTERS.for_name("linkedin").is_none(),
        "tavla itself has no LinkedIn adapter"
    );

    // The reply rules are the toy's: no window, so any reply is open, even years later.
    let rules = WITH_TOY.rules("linkedin");
    assert_eq!(
        rules.verdict(Some(0), 1000 * 24 * HOUR, None),
        Verdict::Open
    );
    assert_eq!(rules.window_after(Some(0), 0), None);
    assert_eq!(rules.max_text_chars, 1250);

    // Delivery: the outbox row becomes the toy's request, and its answer is judged by the toy.
    let payload = json!({"conversation_kind": "comments", "comment_id": "C1", "text": "Tack!"});
    let row = Outgoing {
        outbox_id: 1,
        action: Action::Reply,
        platform: "linkedin",
        channel_platform_id: "ORG1",
        payload: &payload,
        in_doubt: false,
    };
    let request = toy.request(&row).unwrap();
    assert_eq!(request.path, "/comments/C1/replies");
    assert_eq!(toy.judge(&row, 201, None, b"{}"), Judged::Sent(None));
    assert!(
        toy.lookup(&row).is_none(),
        "a platform without look-ups needs no code for it"
    );

    // Receive: the toy's body becomes the same normalised items Meta's do.
    let body = json!({"items": [{
        "platform": "linkedin", "channel": "ORG1", "kind": "comment", "id": "M1",
        "author": {"id": "P1"}, "text": "Hej", "time": 1_700_000_000_000i64, "post_id": "POST1"
    }]});
    let items = toy.receive(&body).unwrap();
    assert_eq!(items.len(), 1);
}

#[test]
fn meta_serves_facebook_and_instagram_with_its_window() {
    let fb = adapter("facebook").unwrap();
    assert_eq!(fb.display_name(Platform::Instagram), "Instagram");
    assert_eq!(rules("instagram"), meta::REPLY_RULES);
    assert_eq!(display_name("linkedin"), "the platform");
    assert!(adapter("myspace").is_none());
}
