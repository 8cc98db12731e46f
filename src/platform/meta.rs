//! Meta's platforms (Facebook Pages and Instagram accounts): the webhook parser (`webhook`), the
//! Graph API's shape, and Messenger's reply rules. Pure functions, no I/O, so every rule here is
//! unit-tested.
//!
//! - DM reply: `POST /{page-id}/messages` with `recipient.id`, `messaging_type` (`RESPONSE`, or
//!   `MESSAGE_TAG` with `tag: HUMAN_AGENT`) and `message.text`; on Facebook also
//!   `message.metadata = "tavla:outbox:ID"` so the echo names its outbox row.
//! - Private reply: the same with `recipient.comment_id`.
//! - Comment reply: Facebook `POST /{comment-id}/comments`, Instagram `POST /{comment-id}/replies`,
//!   with `message`.
//! - Hide / unhide: `POST /{comment-id}` with `is_hidden` (Instagram: `hide`).
//! - Remove: `DELETE /{comment-id}`.
//!
//! The token travels in the `Authorization` header (see `outbound::worker`), never in a URL or a
//! body.

pub mod webhook;

use std::time::Duration;

use serde_json::{json, Value};

use super::{
    Action, Adapter, FailureLabel, Judged, Outgoing, ReplyRules, Request, Verb, WindowRule,
};
use crate::model::{Inbound, Platform};

/// Prefix of the Messenger `metadata` we send, so that the echo names its outbox row.
pub const ECHO_METADATA_PREFIX: &str = "tavla:outbox:";

/// Messenger's and Instagram's reply window (DESIGN.md §2): a page may answer a person's direct
/// message within 24 hours of their last message, and within 7 days when a human answers and says
/// so with the `HUMAN_AGENT` tag.
pub const STANDARD_MS: i64 = 24 * 3_600_000;
pub const HUMAN_AGENT_MS: i64 = 7 * 24 * 3_600_000;

/// The only message tag an agent may choose: a person answers, outside the 24 hours.
pub const HUMAN_AGENT: &str = "HUMAN_AGENT";

/// Meta's reply rules: the windows above, a private reply within 7 days of the comment,
/// Messenger's 2,000 characters per text message and 8,000 per comment.
pub const REPLY_RULES: ReplyRules = ReplyRules {
    dm_window: Some(WindowRule {
        standard_ms: STANDARD_MS,
        extended: Some((HUMAN_AGENT_MS, HUMAN_AGENT)),
    }),
    private_reply_within_ms: Some(HUMAN_AGENT_MS),
    max_text_chars: 2000,
    max_comment_chars: 8000,
};

/// The adapter for Facebook and Instagram.
pub struct Meta;

impl Adapter for Meta {
    fn platforms(&self) -> &'static [Platform] {
        &[Platform::Facebook, Platform::Instagram]
    }

    fn api(&self) -> &'static str {
        "graph"
    }

    fn display_name(&self, platform: Platform) -> &'static str {
        platform_name(platform.as_str())
    }

    fn receive(&self, body: &Value) -> Result<Vec<Inbound>, String> {
        webhook::parse_webhook(body).map_err(|e| e.to_string())
    }

    fn reply_rules(&self, _platform: Platform) -> ReplyRules {
        REPLY_RULES
    }

    fn request(&self, row: &Outgoing) -> Result<Request, String> {
        build(row)
    }

    fn lookup(&self, row: &Outgoing) -> Option<Request> {
        lookup(row)
    }

    fn candidates(&self, row: &Outgoing, answer: &Value) -> Vec<String> {
        candidates(row, answer)
    }

    fn judge(
        &self,
        row: &Outgoing,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Judged {
        judge(row, status, retry_after, body)
    }

    fn failure_label(&self, status: u16, body: &Value) -> FailureLabel {
        Cause::of(status, body).label()
    }
}

/// "Facebook" or "Instagram", for the agent's messages.
pub fn platform_name(platform: &str) -> &'static str {
    match platform {
        "instagram" => "Instagram",
        "facebook" => "Facebook",
        _ => "the platform",
    }
}

/// Platform ids go into URL paths: anything but an id is refused, so a stored value can never
/// steer a request elsewhere (`../`, `?`, `#`).
fn id_segment(id: Option<&str>, what: &str) -> Result<String, String> {
    match id {
        Some(id)
            if !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                && id != "."
                && id != ".." =>
        {
            Ok(id.to_string())
        }
        Some(id) => Err(format!(
            "the {what} {id:?} is not a platform id, so it cannot be sent; tell an administrator"
        )),
        None => Err(format!(
            "the {what} is not known, so it cannot be sent; tell an administrator"
        )),
    }
}

/// The request that carries out a claimed row, or why it cannot be made (a permanent failure).
pub fn build(row: &Outgoing) -> Result<Request, String> {
    let instagram = match row.platform {
        "facebook" => false,
        "instagram" => true,
        other => {
            return Err(format!(
                "tavla cannot deliver to {other} yet; answer on {other} directly"
            ))
        }
    };
    let p = &row.payload;
    let text = p["text"].as_str().unwrap_or_default();
    let comment = || id_segment(p["comment_id"].as_str(), "comment");
    let message = |recipient: Value| {
        let mut message = json!({ "text": text });
        if !instagram {
            // Instagram's Send API has no metadata; its echoes are matched by id and words.
            message["metadata"] = format!("{ECHO_METADATA_PREFIX}{}", row.outbox_id).into();
        }
        let mut body = json!({ "recipient": recipient, "message": message });
        if p["tag"].as_str() == Some(HUMAN_AGENT) {
            body["messaging_type"] = "MESSAGE_TAG".into();
            body["tag"] = HUMAN_AGENT.into();
        } else {
            body["messaging_type"] = "RESPONSE".into();
        }
        body
    };
    let page = || id_segment(Some(row.channel_platform_id), "page id");
    let request = match row.action {
        Action::Reply if p["conversation_kind"] == "dm" => {
            let recipient = id_segment(p["recipient"].as_str(), "recipient")?;
            Request {
                verb: Verb::Post,
                path: format!("/{}/messages", page()?),
                body: Some(message(json!({ "id": recipient }))),
            }
        }
        Action::Reply => Request {
            verb: Verb::Post,
            path: format!(
                "/{}/{}",
                comment()?,
                if instagram { "replies" } else { "comments" }
            ),
            body: Some(json!({ "message": text })),
        },
        Action::PrivateReply => {
            let mut body = message(json!({ "comment_id": comment()? }));
            // A private reply is the page's first message to the person: no messaging type.
            if let Some(body) = body.as_object_mut() {
                body.remove("messaging_type");
                body.remove("tag");
            }
            Request {
                verb: Verb::Post,
                path: format!("/{}/messages", page()?),
                body: Some(body),
            }
        }
        Action::Hide | Action::Unhide => {
            let hidden = row.action == Action::Hide;
            let field = if instagram { "hide" } else { "is_hidden" };
            Request {
                verb: Verb::Post,
                path: format!("/{}", comment()?),
                body: Some(json!({ field: hidden })),
            }
        }
        Action::Remove => Request {
            verb: Verb::Delete,
            path: format!("/{}", comment()?),
            body: None,
        },
    };
    Ok(request)
}

/// For a reply whose earlier attempt may have arrived: the request that lists what the page has
/// sent there lately, so we can find it instead of sending twice. None when the platform offers
/// no way to look (private replies, which the platform refuses to send twice anyway).
pub fn lookup(row: &Outgoing) -> Option<Request> {
    let p = &row.payload;
    if row.action != Action::Reply {
        return None;
    }
    let instagram = row.platform == "instagram";
    let path = if p["conversation_kind"] == "dm" {
        let recipient = id_segment(p["recipient"].as_str(), "recipient").ok()?;
        format!(
            "/{}/conversations?platform={}&user_id={recipient}&fields=messages.limit(25)%7Bid,message,from%7D",
            id_segment(Some(row.channel_platform_id), "page id").ok()?,
            if instagram { "instagram" } else { "messenger" },
        )
    } else {
        let comment = id_segment(p["comment_id"].as_str(), "comment").ok()?;
        if instagram {
            format!("/{comment}/replies?fields=id,text,from&limit=50")
        } else {
            format!("/{comment}/comments?fields=id,message,from&limit=50")
        }
    };
    Some(Request {
        verb: Verb::Get,
        path,
        body: None,
    })
}

/// Ids in a lookup answer of messages or comments by the page with exactly our words, newest
/// first as the platform lists them.
pub fn candidates(row: &Outgoing, answer: &Value) -> Vec<String> {
    let text = row.payload["text"].as_str().unwrap_or_default();
    let mut items: Vec<&Value> = Vec::new();
    for entry in answer["data"].as_array().into_iter().flatten() {
        match entry["messages"]["data"].as_array() {
            Some(messages) => items.extend(messages),
            None => items.push(entry),
        }
    }
    items
        .into_iter()
        .filter(|item| {
            let words = item["message"].as_str().or(item["text"].as_str());
            let from = item["from"]["id"].as_str();
            words == Some(text) && from.is_none_or(|from| from == row.channel_platform_id)
        })
        .filter_map(|item| item["id"].as_str().map(str::to_string))
        .collect()
}

/// Why the platform did not do it, judged from its answer: whether to try again, what the agent
/// is advised, and the label `/metrics` counts failures by (a fixed set, never Meta's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    RateLimited,
    PlatformFault,
    TokenInvalid,
    ReplyWindow,
    Unreachable,
    Gone,
    AlreadyReplied,
    Permission,
    Blocked,
    Refused,
}

impl Cause {
    /// The cause of a failed answer (status outside 2xx) with Meta's error document, if any.
    pub fn of(status: u16, answer: &Value) -> Cause {
        let error = &answer["error"];
        let (code, subcode) = (error["code"].as_i64(), error["error_subcode"].as_i64());
        if status == 429 || matches!(code, Some(4 | 17 | 32 | 613 | 80001..=80014)) {
            return Cause::RateLimited;
        }
        if status >= 500 || matches!(code, Some(1 | 2)) || error["is_transient"] == true {
            return Cause::PlatformFault;
        }
        match (code, subcode) {
            (Some(190), _) => Cause::TokenInvalid,
            (Some(10), Some(2018278 | 2534022 | 2018065)) => Cause::ReplyWindow,
            (Some(551), _) => Cause::Unreachable,
            (Some(100), Some(33)) => Cause::Gone,
            (Some(10900), _) => Cause::AlreadyReplied,
            (Some(10 | 200..=299 | 3), _) => Cause::Permission,
            (Some(368), _) => Cause::Blocked,
            _ => Cause::Refused,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Cause::RateLimited => "rate_limited",
            Cause::PlatformFault => "platform_fault",
            Cause::TokenInvalid => "token_invalid",
            Cause::ReplyWindow => "reply_window",
            Cause::Unreachable => "unreachable",
            Cause::Gone => "gone",
            Cause::AlreadyReplied => "already_replied",
            Cause::Permission => "permission",
            Cause::Blocked => "blocked",
            Cause::Refused => "refused",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Cause::TokenInvalid => " The channel's page access token is no longer valid: ask an administrator to renew it, then retry.",
            Cause::ReplyWindow => " The reply window has closed: wait for the person to write again, or answer another way (phone, e-mail).",
            Cause::Unreachable => " The person cannot be reached on the platform now (they may have blocked the page or left).",
            Cause::Gone => " What this answers no longer exists on the platform (deleted or hidden by its author).",
            Cause::AlreadyReplied => " The comment has already had a private reply; the platform allows only one.",
            Cause::Permission => " The page has not given tavla the permission this needs: ask an administrator.",
            Cause::Blocked => " The platform has blocked the page from doing this for a while; try again later or contact Meta.",
            _ => " Edit the text and retry, or ask an administrator if it happens again.",
        }
    }
}

/// What an HTTP answer means. `in_doubt` says an earlier attempt may have done the work, so a
/// refusal because it is already done counts as done.
pub fn judge(row: &Outgoing, status: u16, retry_after: Option<Duration>, body: &[u8]) -> Judged {
    let answer: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let name = platform_name(row.platform);
    if (200..300).contains(&status) {
        let id = answer["message_id"]
            .as_str()
            .or(answer["id"].as_str())
            .map(str::to_string);
        return Judged::Sent(id);
    }
    let error = &answer["error"];
    let code = error["code"].as_i64();
    let subcode = error["error_subcode"].as_i64();
    let said = error["error_user_msg"]
        .as_str()
        .or(error["message"].as_str())
        .map(|m| m.chars().take(500).collect::<String>());
    let quoted = match (&said, code) {
        (Some(m), Some(c)) => format!(
            ": \"{m}\" (code {c}{})",
            subcode.map(|s| format!("/{s}")).unwrap_or_default()
        ),
        (Some(m), None) => format!(": \"{m}\""),
        _ => format!(" (HTTP {status})"),
    };
    let cause = Cause::of(status, &answer);
    match cause {
        Cause::RateLimited => {
            return Judged::Transient {
                reason: format!(
                    "{name} is limiting how fast the page may send; trying again later{quoted}"
                ),
                retry_after,
            }
        }
        Cause::PlatformFault => {
            return Judged::Transient {
                reason: format!("{name} had a passing fault; trying again later{quoted}"),
                retry_after,
            }
        }
        _ => {}
    }
    if row.in_doubt || row.action == Action::Remove {
        // Removing what is gone, or a private reply the earlier attempt already sent: done.
        let gone = row.action == Action::Remove && code == Some(100);
        let replied = row.action == Action::PrivateReply && code == Some(10900);
        if gone || (replied && row.in_doubt) {
            return Judged::Sent(None);
        }
    }
    Judged::Refused(format!("{name} refused it{quoted}.{}", cause.advice()))
}

#[cfg(test)]
#[path = "meta_tests.rs"]
mod tests;
