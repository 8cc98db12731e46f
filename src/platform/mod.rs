//! Platform adapters: everything tavla must know about one social-media platform, behind one
//! trait, so that delivery, the reply window and ingestion do not assume Meta. Facebook and
//! Instagram are served by [`meta::Meta`]; another platform is one new module implementing
//! [`Adapter`] and one line in [`ADAPTERS`] (see `docs/add-a-platform.md`).
//!
//! An adapter is pure: it parses what the platform sends, says which HTTP request carries out an
//! outbox row, judges the platform's answer and states the platform's reply rules. It does no I/O
//! and keeps no state: the outbound worker sends the requests, the store persists, and this module
//! imports nothing but the normalised model, so the store and every capability may use it.

pub mod meta;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Inbound, Platform};

/// What an outbox row asks the platform to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A DM reply, or a public reply to a comment.
    Reply,
    /// A DM to the author of a comment, in answer to that comment.
    PrivateReply,
    Hide,
    Unhide,
    Remove,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Reply,
        Action::PrivateReply,
        Action::Hide,
        Action::Unhide,
        Action::Remove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reply => "reply",
            Action::PrivateReply => "private_reply",
            Action::Hide => "hide",
            Action::Unhide => "unhide",
            Action::Remove => "remove",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Sends a message of ours (rather than changing someone else's comment).
    pub fn sends_message(self) -> bool {
        matches!(self, Action::Reply | Action::PrivateReply)
    }
}

/// One outbox row as an adapter sees it: what to do, where, with which words.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub outbox_id: i64,
    pub action: Action,
    /// The channel's platform as stored (`facebook`, `instagram`, ...).
    pub platform: &'a str,
    /// The page's or account's id on the platform.
    pub channel_platform_id: &'a str,
    /// `{conversation_kind, recipient, comment_id, text, tag}` for replies; `{comment_id}` otherwise.
    pub payload: &'a Value,
    /// An earlier attempt may have reached the platform.
    pub in_doubt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

/// One HTTP request to the platform's API.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub verb: Verb,
    /// Relative to the platform's API base URL, starting with `/`; may carry a query.
    pub path: String,
    pub body: Option<Value>,
}

/// What an answer from the platform means for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Done; the id of what was created, when the platform said.
    Sent(Option<String>),
    /// A passing fault: try again later (no earlier than `retry_after` if the platform said).
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The platform refused for good; the agent must change something.
    Refused(String),
}

/// How long after a person's last direct message the page may still answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowRule {
    /// The standard window, open to any reply.
    pub standard_ms: i64,
    /// The longer window for a reply carrying `extended_tag`, when the platform has one.
    pub extended: Option<(i64, &'static str)>,
}

/// A platform's rules for replies, which the inbox applies (`src/inbox/`: the window judged inside
/// a reply's transaction, the limits before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyRules {
    /// None: the platform lets the page answer a DM at any time.
    pub dm_window: Option<WindowRule>,
    /// How long after a comment a private reply to its author may be sent; None: never.
    pub private_reply_within_ms: Option<i64>,
    /// Longest text the platform accepts in one direct message, in characters.
    pub max_text_chars: usize,
    /// Longest text the platform accepts in one comment (a public reply), in characters.
    pub max_comment_chars: usize,
}

/// How long a DM may still be answered (Meta's rule): 24 hours after the person's last message,
/// or 7 days with the HUMAN_AGENT tag.
// `deny_unknown_fields` only states in the description that nothing else is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "closes_at": 1762157700000_i64,
    "human_agent_closes_at": 1762676100000_i64,
    "seconds_left": 3600,
    "human_agent_seconds_left": 522000
}))]
pub struct ReplyWindow {
    /// When the 24-hour window closes. Milliseconds since the Unix epoch.
    pub closes_at: i64,
    /// When the 7-day window for a reply tagged HUMAN_AGENT closes. Milliseconds since the Unix
    /// epoch.
    pub human_agent_closes_at: i64,
    /// Seconds left of the 24-hour window; 0 once it has closed.
    #[schema(minimum = 0)]
    pub seconds_left: i64,
    /// Seconds left for a HUMAN_AGENT reply; 0 once that has closed too.
    #[schema(minimum = 0)]
    pub human_agent_seconds_left: i64,
}

/// What the window allows for a reply now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// Past the standard window: only with the extended tag.
    NeedsHumanAgentTag(ReplyWindow),
    /// Past every window, or the person never wrote: no reply is possible.
    Closed(Option<ReplyWindow>),
}

impl ReplyRules {
    /// The window after the person's last message, or None when they have not written or the
    /// platform has no window.
    pub fn window_after(&self, last_inbound_at: Option<i64>, now: i64) -> Option<ReplyWindow> {
        let rule = self.dm_window?;
        let last = last_inbound_at?;
        let closes_at = last + rule.standard_ms;
        let human_agent_closes_at = last + rule.extended.map_or(rule.standard_ms, |(ms, _)| ms);
        Some(ReplyWindow {
            closes_at,
            human_agent_closes_at,
            seconds_left: ((closes_at - now) / 1000).max(0),
            human_agent_seconds_left: ((human_agent_closes_at - now) / 1000).max(0),
        })
    }

    /// Whether a DM reply (tagged or not) may be sent at `now`.
    pub fn verdict(&self, last_inbound_at: Option<i64>, now: i64, tag: Option<&str>) -> Verdict {
        let Some(rule) = self.dm_window else {
            return Verdict::Open;
        };
        let Some(window) = self.window_after(last_inbound_at, now) else {
            return Verdict::Closed(None);
        };
        let tagged = rule.extended.is_some_and(|(_, t)| tag == Some(t));
        if now < window.closes_at {
            Verdict::Open
        } else if now >= window.human_agent_closes_at {
            Verdict::Closed(Some(window))
        } else if tagged {
            Verdict::Open
        } else {
            Verdict::NeedsHumanAgentTag(window)
        }
    }
}

/// Why the platform did not do it, as `/metrics` counts failures: a fixed set of labels, never
/// the platform's words.
pub type FailureLabel = &'static str;

/// Everything tavla needs from one platform. Implementations are unit structs without state.
pub trait Adapter: Sync {
    /// The platforms this adapter serves.
    fn platforms(&self) -> &'static [Platform];

    /// Which API base URL setting this adapter's requests are relative to (see
    /// `outbound::DeliveryConfig::base_url`).
    fn api(&self) -> &'static str;

    /// The platform's name for people ("Facebook").
    fn display_name(&self, platform: Platform) -> &'static str;

    /// Receive: one webhook body into normalised items, or why the body is not one.
    fn receive(&self, body: &Value) -> Result<Vec<Inbound>, String>;

    /// The reply window and limits of `platform`.
    fn reply_rules(&self, platform: Platform) -> ReplyRules;

    /// Deliver: the request that carries out a row, or why it cannot be made (for good).
    fn request(&self, row: &Outgoing) -> Result<Request, String>;

    /// For a reply whose earlier attempt may have arrived: the request that lists what the page
    /// sent there lately. None when the platform offers no way to look.
    fn lookup(&self, _row: &Outgoing) -> Option<Request> {
        None
    }

    /// Ids in a lookup answer that carry exactly our words, newest first.
    fn candidates(&self, _row: &Outgoing, _answer: &Value) -> Vec<String> {
        Vec::new()
    }

    /// What an answer (status and body) means for the row.
    fn judge(
        &self,
        row: &Outgoing,
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Judged;

    /// The `/metrics` label of a failed answer.
    fn failure_label(&self, status: u16, body: &Value) -> FailureLabel;
}

/// Every adapter tavla has. A new platform adds its line here.
pub static ADAPTERS: Adapters = Adapters(&[&meta::Meta]);

/// A set of adapters, looked up by platform.
pub struct Adapters(pub &'static [&'static dyn Adapter]);

impl Adapters {
    pub fn for_platform(&self, platform: Platform) -> Option<&'static dyn Adapter> {
        self.0
            .iter()
            .copied()
            .find(|a| a.platforms().contains(&platform))
    }

    /// The adapter for a platform as stored (a string), if tavla can talk to it.
    pub fn for_name(&self, platform: &str) -> Option<&'static dyn Adapter> {
        Platform::parse(platform).and_then(|p| self.for_platform(p))
    }

    /// The reply rules for a stored platform name. A platform without an adapter cannot be
    /// delivered to at all, so its rules do not matter for sending; Meta's are answered so that
    /// the window shown stays as it was.
    pub fn rules(&self, platform: &str) -> ReplyRules {
        match Platform::parse(platform) {
            Some(p) => self
                .for_platform(p)
                .map_or(meta::REPLY_RULES, |a| a.reply_rules(p)),
            None => meta::REPLY_RULES,
        }
    }
}

/// The adapter for a stored platform name, among [`ADAPTERS`].
pub fn adapter(platform: &str) -> Option<&'static dyn Adapter> {
    ADAPTERS.for_name(platform)
}

/// The reply rules for a stored platform name, among [`ADAPTERS`].
pub fn rules(platform: &str) -> ReplyRules {
    ADAPTERS.rules(platform)
}

/// "Facebook", or "the platform" when tavla has no adapter for it.
pub fn display_name(platform: &str) -> &'static str {
    match (Platform::parse(platform), adapter(platform)) {
        (Some(p), Some(a)) => a.display_name(p),
        _ => "the platform",
    }
}

#[cfg(test)]
mod tests;
