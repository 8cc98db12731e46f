//! The reply window (DESIGN.md §2): how long after a person's last direct message the page may
//! still answer, by the conversation's platform (`platform::ReplyRules`: Meta 24 hours, 7 days
//! with the HUMAN_AGENT tag). A comment thread has no window.

use crate::platform::{self, ReplyWindow, Verdict};
use crate::store::conversations::WindowFacts;

/// Whether a reply may be sent now. Handed to the store as its `WindowJudge`, which calls it
/// inside the reply's transaction (see `store::conversations::WindowJudge` for why there).
pub fn judge(facts: &WindowFacts<'_>) -> Verdict {
    if facts.kind != "dm" {
        return Verdict::Open;
    }
    platform::rules(facts.platform).verdict(facts.last_inbound_at, facts.now, facts.tag)
}

/// The window a conversation shows its readers: DMs only (None for comment threads, and when
/// the person never wrote or the platform has no window).
pub fn shown(
    kind: &str,
    platform: &str,
    last_inbound_at: Option<i64>,
    now: i64,
) -> Option<ReplyWindow> {
    if kind != "dm" {
        return None;
    }
    platform::rules(platform).window_after(last_inbound_at, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    /// The person's last message, at an arbitrary moment.
    const LAST: i64 = 1_780_000_000_000;

    fn dm<'a>(platform: &'a str, now: i64, tag: Option<&'a str>) -> Verdict {
        judge(&WindowFacts {
            kind: "dm",
            platform,
            last_inbound_at: Some(LAST),
            now,
            tag,
        })
    }

    #[test]
    fn the_standard_window_closes_at_exactly_24_hours_on_each_meta_platform() {
        for platform in ["facebook", "instagram"] {
            assert_eq!(
                dm(platform, LAST + DAY - 1, None),
                Verdict::Open,
                "{platform}"
            );
            assert!(
                matches!(
                    dm(platform, LAST + DAY, None),
                    Verdict::NeedsHumanAgentTag(w) if w.closes_at == LAST + DAY && w.seconds_left == 0
                ),
                "{platform}"
            );
            assert_eq!(
                dm(platform, LAST + DAY, Some("HUMAN_AGENT")),
                Verdict::Open,
                "{platform}"
            );
        }
    }

    #[test]
    fn the_tagged_window_closes_at_exactly_7_days() {
        for platform in ["facebook", "instagram"] {
            assert_eq!(
                dm(platform, LAST + 7 * DAY - 1, Some("HUMAN_AGENT")),
                Verdict::Open,
                "{platform}"
            );
            assert!(
                matches!(
                    dm(platform, LAST + 7 * DAY, Some("HUMAN_AGENT")),
                    Verdict::Closed(Some(w)) if w.human_agent_closes_at == LAST + 7 * DAY
                ),
                "{platform}"
            );
            // Another tag is no HUMAN_AGENT: after 24 hours it still needs the right one.
            assert!(matches!(
                dm(platform, LAST + 2 * DAY, Some("ACCOUNT_UPDATE")),
                Verdict::NeedsHumanAgentTag(_)
            ));
        }
    }

    #[test]
    fn no_message_from_the_person_no_reply_and_comments_have_no_window() {
        let never = WindowFacts {
            kind: "dm",
            platform: "facebook",
            last_inbound_at: None,
            now: LAST,
            tag: Some("HUMAN_AGENT"),
        };
        assert_eq!(judge(&never), Verdict::Closed(None));
        let comments = WindowFacts {
            kind: "comments",
            last_inbound_at: Some(LAST),
            now: LAST + 365 * DAY,
            ..never
        };
        assert_eq!(judge(&comments), Verdict::Open);
        assert_eq!(shown("comments", "facebook", Some(LAST), LAST), None);
        let w = shown("dm", "instagram", Some(LAST), LAST + 23 * HOUR).expect("a window");
        assert_eq!((w.seconds_left, w.closes_at), (3600, LAST + DAY));
    }

    #[test]
    fn the_window_is_the_platforms_own() {
        // Each platform's rules come from its adapter: the window shown is the adapter's.
        for platform in ["facebook", "instagram"] {
            let rules = platform::rules(platform);
            let standard = rules.dm_window.expect("Meta has a DM window").standard_ms;
            let w = shown("dm", platform, Some(LAST), LAST).expect("a window");
            assert_eq!(w.closes_at, LAST + standard);
        }
    }
}
