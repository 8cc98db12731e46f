//! Why the inbox refuses a change, in words that say what to do. `http` chooses the status code
//! (409 for a claim held by someone else, 422 otherwise); the inbox chooses the words.

use serde_json::{json, Value};

use crate::platform::ReplyWindow;
use crate::store::conversations::ClaimInfo;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Nothing left once trimmed.
    EmptyReply,
    /// A saved reply's `{förnamn}` and the like, never filled: the person would see it.
    Placeholder,
    /// Longer than the platform takes in one message of this kind.
    TooLong { length: usize, max: usize },
    /// A tag on a comment thread: only direct messages have a reply window.
    TagOnComment,
    /// A tag the platform does not offer agents: `allowed` is the one it does, with the days it
    /// reaches (Meta: HUMAN_AGENT, 7), or None when it has none.
    UnknownTag {
        allowed: Option<(&'static str, i64)>,
    },
    /// The DM's standard window closed: only a person answering, with the tag, until it closes.
    NeedsHumanAgentTag(ReplyWindow),
    /// Past every window, or (None) the person never wrote.
    WindowClosed(Option<ReplyWindow>),
    /// A comment thread with no comment to answer (or `in_reply_to` of another thread).
    NothingToAnswer,
    /// Someone else is working on the conversation.
    HeldBy(ClaimInfo),
    /// Not one of the statuses a conversation has.
    UnknownStatus,
    /// "Handed to my unit" asked by someone in no unit.
    NoUnit,
    /// A retry of a message that is not one of ours waiting for delivery.
    NothingToRetry,
    /// A retry of a delivery that has not failed: it is pending, sending or sent.
    NotFailed(String),
}

impl Refusal {
    /// The words for the caller.
    pub fn detail(&self) -> String {
        match self {
            Refusal::EmptyReply => "the reply is empty; write something to send".into(),
            Refusal::Placeholder => "the reply still holds a placeholder such as {förnamn}; choose the saved reply again so its preview fills it, or write the words yourself".into(),
            Refusal::TooLong { length, max } => format!(
                "the reply has {length} characters; the platform takes at most {max}: shorten it or split it in two"
            ),
            Refusal::TagOnComment => {
                "a tag is for direct messages only; a comment reply has no reply window".into()
            }
            Refusal::UnknownTag { allowed: Some((tag, days)) } => format!(
                "the only tag an agent may choose is {tag} (a person answering, within {days} days)"
            ),
            Refusal::UnknownTag { allowed: None } => {
                "this platform offers agents no tag; send the reply without one".into()
            }
            Refusal::NeedsHumanAgentTag(w) => format!(
                "the 24-hour reply window closed at {}. If you, a person, are answering the person's \
                 question, you may still reply until {} by sending again with \"tag\": \"HUMAN_AGENT\"; \
                 do not use it for automated or promotional messages",
                rfc3339(w.closes_at),
                rfc3339(w.human_agent_closes_at)
            ),
            Refusal::WindowClosed(Some(w)) => format!(
                "the reply window closed at {}, 7 days after the person's last message, and the \
                 platform allows no reply now; wait for them to write again, or reach them another \
                 way (phone, e-mail, letter)",
                rfc3339(w.human_agent_closes_at)
            ),
            Refusal::WindowClosed(None) => {
                "the person has not written to the page, so the platform allows no message to them; \
                 wait for them to write"
                    .into()
            }
            Refusal::NothingToAnswer => "this thread has no comment to answer (or in_reply_to names a message of another thread)".into(),
            Refusal::HeldBy(claim) => format!(
                "{} is working on this conversation until their claim ends; pick another one or ask them",
                claim.username
            ),
            Refusal::UnknownStatus => "status must be open, waiting or resolved".into(),
            Refusal::NoUnit => "you belong to no unit, so nothing is handed to your unit; ask an administrator to set your unit (PATCH /api/v1/staff/{id} with \"unit\")".into(),
            Refusal::NothingToRetry => "this message is not one of ours waiting for delivery, so there is nothing to retry".into(),
            Refusal::NotFailed(status) => format!(
                "the delivery is {status}, not failed; only a failed delivery can be retried \
                 (a pending one is retried by itself)"
            ),
        }
    }

    /// Extra members of the problem document: the reply window's times, or who holds the claim.
    pub fn extra(&self) -> Option<Value> {
        match self {
            Refusal::NeedsHumanAgentTag(w) | Refusal::WindowClosed(Some(w)) => {
                Some(json!({ "reply_window": w }))
            }
            Refusal::HeldBy(claim) => {
                Some(json!({"holder": claim.username, "expires_at": claim.expires_at}))
            }
            Refusal::NothingToRetry => Some(json!({})),
            Refusal::NotFailed(status) => Some(json!({ "delivery_status": status })),
            _ => None,
        }
    }

    /// The refusal is about the state of things (someone else holds the conversation, the
    /// delivery is not a failed one), not about what the request says.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Refusal::HeldBy(_) | Refusal::NothingToRetry | Refusal::NotFailed(_)
        )
    }
}

/// What an inbox operation fails with: a refusal by the inbox's rules, or the store's failure
/// (a conversation gone: `StoreError::NotFound`).
#[derive(Debug)]
pub enum InboxError {
    Refused(Refusal),
    Store(StoreError),
}

impl From<Refusal> for InboxError {
    fn from(r: Refusal) -> InboxError {
        InboxError::Refused(r)
    }
}

impl From<StoreError> for InboxError {
    fn from(e: StoreError) -> InboxError {
        InboxError::Store(e)
    }
}

/// The conversation is not there (any more): the same words everywhere.
pub(crate) fn no_conversation(id: i64) -> InboxError {
    InboxError::Store(StoreError::NotFound(format!(
        "there is no conversation {id}"
    )))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
