use serde_json::json;

use super::*;

fn row(platform: &str, action: Action, payload: Value) -> Outgoing<'static> {
    Outgoing {
        outbox_id: 42,
        action,
        // A test's rows live as long as the test binary: leaking them keeps the helper short.
        payload: Box::leak(Box::new(payload)),
        in_doubt: false,
        platform: Box::leak(platform.to_string().into_boxed_str()),
        channel_platform_id: "PAGE1",
    }
}

fn dm(tag: Option<&str>) -> Value {
    json!({"conversation_kind": "dm", "recipient": "PSID9", "comment_id": null, "text": "Hej", "tag": tag})
}

fn comment_reply() -> Value {
    json!({"conversation_kind": "comments", "recipient": null, "comment_id": "C_5", "text": "Tack!"})
}

#[test]
fn a_dm_reply_names_the_stored_recipient_and_our_outbox_row() {
    let r = build(&row("facebook", Action::Reply, dm(None))).unwrap();
    assert_eq!(r.verb, Verb::Post);
    assert_eq!(r.path, "/PAGE1/messages");
    assert_eq!(
        r.body.unwrap(),
        json!({"recipient": {"id": "PSID9"}, "messaging_type": "RESPONSE",
               "message": {"text": "Hej", "metadata": "tavla:outbox:42"}})
    );
}

#[test]
fn a_human_agent_reply_is_tagged_and_instagram_gets_no_metadata() {
    let body = build(&row("instagram", Action::Reply, dm(Some("HUMAN_AGENT"))))
        .unwrap()
        .body
        .unwrap();
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "HUMAN_AGENT");
    assert!(body["message"].get("metadata").is_none());
}

#[test]
fn comment_replies_go_to_the_comment_on_each_platform() {
    let fb = build(&row("facebook", Action::Reply, comment_reply())).unwrap();
    assert_eq!(fb.path, "/C_5/comments");
    assert_eq!(fb.body.unwrap(), json!({"message": "Tack!"}));
    let ig = build(&row("instagram", Action::Reply, comment_reply())).unwrap();
    assert_eq!(ig.path, "/C_5/replies");
}

#[test]
fn private_replies_hides_and_removals() {
    let payload = json!({"comment_id": "C_5", "text": "Vi skriver till dig", "recipient": null});
    let private = build(&row("facebook", Action::PrivateReply, payload.clone())).unwrap();
    assert_eq!(private.path, "/PAGE1/messages");
    let body = private.body.unwrap();
    assert_eq!(body["recipient"], json!({"comment_id": "C_5"}));
    assert!(body.get("messaging_type").is_none());

    let hide = build(&row("facebook", Action::Hide, payload.clone())).unwrap();
    assert_eq!(
        (hide.path.as_str(), hide.body.unwrap()),
        ("/C_5", json!({"is_hidden": true}))
    );
    let unhide = build(&row("instagram", Action::Unhide, payload.clone())).unwrap();
    assert_eq!(unhide.body.unwrap(), json!({"hide": false}));
    let remove = build(&row("facebook", Action::Remove, payload)).unwrap();
    assert_eq!((remove.verb, remove.body), (Verb::Delete, None));
}

#[test]
fn ids_that_are_not_ids_never_reach_a_url() {
    let mut payload = comment_reply();
    payload["comment_id"] = "../PAGE1/messages?x=".into();
    let refused = build(&row("facebook", Action::Reply, payload)).unwrap_err();
    assert!(refused.contains("not a platform id"), "{refused}");
    let mut payload = dm(None);
    payload["recipient"] = Value::Null;
    assert!(build(&row("facebook", Action::Reply, payload)).is_err());
    assert!(build(&row("linkedin", Action::Reply, dm(None)))
        .unwrap_err()
        .contains("linkedin directly"));
}

#[test]
fn lookups_find_our_words_by_the_page_only() {
    let r = row("facebook", Action::Reply, comment_reply());
    assert_eq!(
        lookup(&r).unwrap().path,
        "/C_5/comments?fields=id,message,from&limit=50"
    );
    let answer = json!({"data": [
        {"id": "c1", "message": "Tack!", "from": {"id": "someone"}},
        {"id": "c2", "message": "Tack!", "from": {"id": "PAGE1"}},
        {"id": "c3", "message": "Annat", "from": {"id": "PAGE1"}},
    ]});
    assert_eq!(candidates(&r, &answer), ["c2"]);

    let d = row("facebook", Action::Reply, dm(None));
    assert!(lookup(&d)
        .unwrap()
        .path
        .starts_with("/PAGE1/conversations?platform=messenger&user_id=PSID9"));
    let answer = json!({"data": [{"id": "t1", "messages": {"data": [
        {"id": "m2", "message": "Hej", "from": {"id": "PAGE1"}},
        {"id": "m1", "message": "Hej", "from": {"id": "PSID9"}},
    ]}}]});
    assert_eq!(candidates(&d, &answer), ["m2"]);
    assert!(lookup(&row("facebook", Action::PrivateReply, comment_reply())).is_none());
}

fn meta_error(code: i64, subcode: Option<i64>, message: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"error": {"message": message, "type": "OAuthException",
        "code": code, "error_subcode": subcode, "fbtrace_id": "Ab12"}}),
    )
    .unwrap()
}

#[test]
fn success_answers_give_the_platform_id() {
    let r = row("facebook", Action::Reply, dm(None));
    assert_eq!(
        judge(
            &r,
            200,
            None,
            br#"{"recipient_id":"PSID9","message_id":"m_1"}"#
        ),
        Judged::Sent(Some("m_1".into()))
    );
    assert_eq!(
        judge(&r, 200, None, br#"{"id":"c_1"}"#),
        Judged::Sent(Some("c_1".into()))
    );
    assert_eq!(
        judge(&r, 200, None, br#"{"success":true}"#),
        Judged::Sent(None)
    );
}

#[test]
fn rate_limits_and_server_faults_are_passing() {
    let r = row("facebook", Action::Reply, dm(None));
    let wait = Some(Duration::from_secs(3));
    assert!(
        matches!(judge(&r, 429, wait, b""), Judged::Transient { retry_after, .. } if retry_after == wait)
    );
    assert!(matches!(
        judge(&r, 503, None, b"<html>"),
        Judged::Transient { .. }
    ));
    assert!(matches!(
        judge(&r, 400, None, &meta_error(613, None, "Calls to this api have exceeded the rate limit.")),
        Judged::Transient { reason, .. } if reason.contains("limiting")
    ));
}

#[test]
fn refusals_quote_meta_and_say_what_to_do() {
    let r = row("facebook", Action::Reply, dm(None));
    let Judged::Refused(reason) = judge(
        &r,
        400,
        None,
        &meta_error(
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window.",
        ),
    ) else {
        panic!("a closed window is final")
    };
    assert!(reason.starts_with("Facebook refused it: \"(#10) This message is sent outside of allowed window.\" (code 10/2018278)."), "{reason}");
    assert!(reason.contains("reply window has closed"));
    let Judged::Refused(reason) = judge(
        &r,
        400,
        None,
        &meta_error(190, Some(463), "Error validating access token"),
    ) else {
        panic!()
    };
    assert!(reason.contains("renew"), "{reason}");
    let Judged::Refused(reason) = judge(&r, 403, None, b"not json") else {
        panic!()
    };
    assert!(reason.contains("HTTP 403"), "{reason}");
}

#[test]
fn what_is_already_done_counts_as_done() {
    let gone = meta_error(100, Some(33), "Object does not exist");
    assert_eq!(
        judge(
            &row("facebook", Action::Remove, comment_reply()),
            400,
            None,
            &gone
        ),
        Judged::Sent(None)
    );
    let mut private = row("facebook", Action::PrivateReply, comment_reply());
    let replied = meta_error(10900, None, "Activity already replied to");
    assert!(matches!(
        judge(&private, 400, None, &replied),
        Judged::Refused(_)
    ));
    private.in_doubt = true;
    assert_eq!(judge(&private, 400, None, &replied), Judged::Sent(None));
}
