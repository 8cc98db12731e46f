//! Replies: what an agent's words must be for the platform to take them (length per platform
//! and kind, no unfilled placeholder, the only tag there is), and queueing them, or a failed
//! one again, through the store under the reply window's judgement (`window::judge`).

use crate::platform::{ReplyRules, Verdict};
use crate::store::audit::Actor;
use crate::store::conversations::{ConversationPlace, NewReply, ReplyOutcome};
use crate::store::retry::RetryOutcome;
use crate::store::Store;

use super::refusal::no_conversation;
use super::{window, InboxError, Refusal};

/// A reply as the agent wrote it.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub conversation_id: i64,
    pub staff_id: i64,
    pub text: &'a str,
    /// For comment threads: the comment (tavla message id) answered; the newest when absent.
    pub in_reply_to: Option<i64>,
    /// DMs only: the platform's extended tag (HUMAN_AGENT), chosen by the agent, never for them.
    pub tag: Option<&'a str>,
}

/// A failed reply sent again: as it was, or with new words and a tag chosen now.
#[derive(Debug, Clone, Copy)]
pub struct Redraft<'a> {
    pub message_id: i64,
    pub text: Option<&'a str>,
    pub tag: Option<&'a str>,
}

/// The longest reply the platform takes in a conversation of this kind.
pub fn max_chars(kind: &str, rules: &ReplyRules) -> usize {
    if kind == "dm" {
        rules.max_text_chars
    } else {
        rules.max_comment_chars
    }
}

/// The reply's text, trimmed, if the platform will take it.
pub fn reply_text<'a>(text: &'a str, kind: &str, rules: &ReplyRules) -> Result<&'a str, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::EmptyReply);
    }
    if crate::text::placeholders::has_known(text) {
        return Err(Refusal::Placeholder);
    }
    let length = text.chars().count();
    let max = max_chars(kind, rules);
    if length > max {
        return Err(Refusal::TooLong { length, max });
    }
    Ok(text)
}

/// The platform's one extended tag (Meta: HUMAN_AGENT), and only for DMs.
pub fn checked_tag<'a>(
    tag: Option<&'a str>,
    kind: &str,
    rules: &ReplyRules,
) -> Result<Option<&'a str>, Refusal> {
    let Some(tag) = tag else {
        return Ok(None);
    };
    let extended = rules.dm_window.and_then(|w| w.extended);
    match extended {
        Some((_, allowed)) if tag == allowed && kind == "dm" => Ok(Some(allowed)),
        Some((_, allowed)) if tag == allowed => Err(Refusal::TagOnComment),
        _ => Err(Refusal::UnknownTag {
            allowed: extended.map(|(ms, t)| (t, ms / (24 * 3_600_000))),
        }),
    }
}

/// Checks the draft and queues it for delivery; the new message's id. Replying takes or renews
/// the agent's claim for `lease_ms`.
pub async fn reply(
    store: &Store,
    place: &ConversationPlace,
    draft: &Draft<'_>,
    lease_ms: i64,
    actor: &Actor,
) -> Result<i64, InboxError> {
    let rules = crate::platform::rules(&place.platform);
    let text = reply_text(draft.text, &place.kind, &rules)?;
    let tag = checked_tag(draft.tag, &place.kind, &rules)?;
    let outcome = store
        .add_reply(
            &NewReply {
                conversation_id: draft.conversation_id,
                staff_id: draft.staff_id,
                text,
                in_reply_to: draft.in_reply_to,
                tag,
                lease_ms,
                window: window::judge,
            },
            actor,
        )
        .await?;
    match outcome {
        ReplyOutcome::Queued { message_id } => Ok(message_id),
        ReplyOutcome::HeldBy(claim) => Err(Refusal::HeldBy(claim).into()),
        ReplyOutcome::NotFound => Err(no_conversation(draft.conversation_id)),
        ReplyOutcome::NothingToAnswer => Err(Refusal::NothingToAnswer.into()),
        ReplyOutcome::NeedsHumanAgentTag(w) => Err(window_refusal(Verdict::NeedsHumanAgentTag(w))),
        ReplyOutcome::WindowClosed(w) => Err(window_refusal(Verdict::Closed(w))),
    }
}

/// Puts a failed reply in `place`'s conversation back in the outbox, by the same rules as a
/// new reply (text, tag, window), without the claim.
pub async fn retry(
    store: &Store,
    place: &ConversationPlace,
    redraft: &Redraft<'_>,
    actor: &Actor,
) -> Result<(), InboxError> {
    let rules = crate::platform::rules(&place.platform);
    let text = redraft
        .text
        .map(|t| reply_text(t, &place.kind, &rules))
        .transpose()?;
    let tag = checked_tag(redraft.tag, &place.kind, &rules)?;
    match store
        .retry_delivery(redraft.message_id, text, tag, window::judge, actor)
        .await?
    {
        RetryOutcome::Queued => Ok(()),
        RetryOutcome::NotFound => Err(Refusal::NothingToRetry.into()),
        RetryOutcome::NotFailed(status) => Err(Refusal::NotFailed(status).into()),
        RetryOutcome::NeedsHumanAgentTag(w) => Err(window_refusal(Verdict::NeedsHumanAgentTag(w))),
        RetryOutcome::WindowClosed(w) => Err(window_refusal(Verdict::Closed(w))),
    }
}

fn window_refusal(verdict: Verdict) -> InboxError {
    match verdict {
        Verdict::NeedsHumanAgentTag(w) => Refusal::NeedsHumanAgentTag(w).into(),
        Verdict::Closed(w) => Refusal::WindowClosed(w).into(),
        Verdict::Open => unreachable!("an open window refuses nothing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(platform: &str) -> ReplyRules {
        crate::platform::rules(platform)
    }

    #[test]
    fn a_reply_may_be_as_long_as_the_platform_takes_and_not_one_character_more() {
        for platform in ["facebook", "instagram"] {
            let rules = rules(platform);
            for (kind, max) in [
                ("dm", rules.max_text_chars),
                ("comments", rules.max_comment_chars),
            ] {
                // Counted in characters, not bytes: å is one.
                let at_limit = "å".repeat(max);
                assert_eq!(
                    reply_text(&at_limit, kind, &rules),
                    Ok(at_limit.as_str()),
                    "{platform} {kind}"
                );
                let over = "å".repeat(max + 1);
                assert_eq!(
                    reply_text(&over, kind, &rules),
                    Err(Refusal::TooLong {
                        length: max + 1,
                        max
                    }),
                    "{platform} {kind}"
                );
            }
        }
        // Meta's limits, as its adapter states them.
        assert_eq!(max_chars("dm", &rules("facebook")), 2000);
        assert_eq!(max_chars("comments", &rules("facebook")), 8000);
    }

    #[test]
    fn the_limit_is_the_adapters() {
        let short = ReplyRules {
            dm_window: None,
            private_reply_within_ms: None,
            max_text_chars: 10,
            max_comment_chars: 20,
        };
        assert!(reply_text(&"a".repeat(11), "dm", &short).is_err());
        assert!(reply_text(&"a".repeat(20), "comments", &short).is_ok());
        // A platform without an extended tag takes none.
        assert_eq!(
            checked_tag(Some("HUMAN_AGENT"), "dm", &short),
            Err(Refusal::UnknownTag { allowed: None })
        );
    }

    #[test]
    fn trimmed_words_without_placeholders() {
        let rules = rules("facebook");
        assert_eq!(reply_text("  Hej!\n", "dm", &rules), Ok("Hej!"));
        assert_eq!(reply_text(" \n\t", "dm", &rules), Err(Refusal::EmptyReply));
        assert_eq!(
            reply_text("Hej {förnamn}!", "comments", &rules),
            Err(Refusal::Placeholder)
        );
    }

    #[test]
    fn human_agent_only_on_direct_messages() {
        let rules = rules("instagram");
        assert_eq!(checked_tag(None, "comments", &rules), Ok(None));
        assert_eq!(
            checked_tag(Some("HUMAN_AGENT"), "dm", &rules),
            Ok(Some("HUMAN_AGENT"))
        );
        assert_eq!(
            checked_tag(Some("HUMAN_AGENT"), "comments", &rules),
            Err(Refusal::TagOnComment)
        );
        let other = checked_tag(Some("ACCOUNT_UPDATE"), "dm", &rules).unwrap_err();
        assert_eq!(
            other.detail(),
            "the only tag an agent may choose is HUMAN_AGENT (a person answering, within 7 days)"
        );
    }
}
