//! Messenger's and Instagram's reply window (DESIGN.md §2): a page may answer a person's direct
//! message within 24 hours of their last message, and within 7 days when a human answers and says
//! so with the `HUMAN_AGENT` tag. The store checks it inside the reply's transaction, so a reply
//! is refused by the same rule whichever route it takes.

use serde::Serialize;

pub const STANDARD_MS: i64 = 24 * 3_600_000;
pub const HUMAN_AGENT_MS: i64 = 7 * 24 * 3_600_000;

/// The only message tag an agent may choose: a person answers, outside the 24 hours.
pub const HUMAN_AGENT: &str = "HUMAN_AGENT";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplyWindow {
    /// When the standard 24-hour window closes (ms since the epoch).
    pub closes_at: i64,
    /// When the window for a reply tagged HUMAN_AGENT closes.
    pub human_agent_closes_at: i64,
    /// Seconds left of the standard window (0 once it has closed).
    pub seconds_left: i64,
    /// Seconds left for a HUMAN_AGENT reply (0 once that has closed too).
    pub human_agent_seconds_left: i64,
}

/// What the window allows for a reply now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// Past 24 hours: only with the HUMAN_AGENT tag.
    NeedsHumanAgentTag(ReplyWindow),
    /// Past 7 days, or the person never wrote: no reply is possible.
    Closed(Option<ReplyWindow>),
}

impl ReplyWindow {
    /// The window after the person's last message, or None when they have not written.
    pub fn after(last_inbound_at: Option<i64>, now: i64) -> Option<ReplyWindow> {
        let last = last_inbound_at?;
        let closes_at = last + STANDARD_MS;
        let human_agent_closes_at = last + HUMAN_AGENT_MS;
        Some(ReplyWindow {
            closes_at,
            human_agent_closes_at,
            seconds_left: ((closes_at - now) / 1000).max(0),
            human_agent_seconds_left: ((human_agent_closes_at - now) / 1000).max(0),
        })
    }

    /// Whether a reply (tagged or not) may be sent at `now`.
    pub fn verdict(last_inbound_at: Option<i64>, now: i64, tag: Option<&str>) -> Verdict {
        let Some(window) = ReplyWindow::after(last_inbound_at, now) else {
            return Verdict::Closed(None);
        };
        if now < window.closes_at {
            Verdict::Open
        } else if now >= window.human_agent_closes_at {
            Verdict::Closed(Some(window))
        } else if tag == Some(HUMAN_AGENT) {
            Verdict::Open
        } else {
            Verdict::NeedsHumanAgentTag(window)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn within_a_day_anything_goes() {
        assert_eq!(
            ReplyWindow::verdict(Some(0), 23 * HOUR, None),
            Verdict::Open
        );
        let w = ReplyWindow::after(Some(0), 23 * HOUR).unwrap();
        assert_eq!(w.seconds_left, 3600);
        assert_eq!(w.closes_at, 24 * HOUR);
        assert_eq!(w.human_agent_closes_at, 7 * 24 * HOUR);
    }

    #[test]
    fn after_a_day_only_a_human_agent_with_the_tag() {
        assert!(matches!(
            ReplyWindow::verdict(Some(0), 24 * HOUR, None),
            Verdict::NeedsHumanAgentTag(w) if w.seconds_left == 0
        ));
        assert_eq!(
            ReplyWindow::verdict(Some(0), 24 * HOUR, Some(HUMAN_AGENT)),
            Verdict::Open
        );
        assert!(matches!(
            ReplyWindow::verdict(Some(0), 30 * HOUR, Some("ACCOUNT_UPDATE")),
            Verdict::NeedsHumanAgentTag(_)
        ));
    }

    #[test]
    fn after_a_week_or_without_a_message_nothing() {
        assert!(matches!(
            ReplyWindow::verdict(Some(0), 7 * 24 * HOUR, Some(HUMAN_AGENT)),
            Verdict::Closed(Some(w)) if w.human_agent_seconds_left == 0
        ));
        assert_eq!(
            ReplyWindow::verdict(None, 0, Some(HUMAN_AGENT)),
            Verdict::Closed(None)
        );
    }
}
