//! The service level (DESIGN.md §2): how long a DM and a comment thread may wait for an answer,
//! from the settings the reports measure against, and when a conversation's answer is due.

use crate::settings::Settings;
use crate::store::conversations::ServiceLevel;

const HOUR_MS: i64 = 3_600_000;

/// The service level at `now`: `service_level_hours` for DMs, `comment_service_level_hours`
/// for comment threads (at least an hour each).
pub fn at(settings: &Settings, now: i64) -> ServiceLevel {
    ServiceLevel {
        now,
        dm_ms: settings.service_level_hours.max(1) * HOUR_MS,
        comments_ms: settings.comment_service_level_hours.max(1) * HOUR_MS,
    }
}

/// When an answer to this conversation is due: only an open one with an unanswered message.
pub fn due(
    level: &ServiceLevel,
    kind: &str,
    status: &str,
    oldest_unanswered_at: Option<i64>,
) -> Option<i64> {
    match (status, oldest_unanswered_at) {
        ("open", Some(oldest)) => Some(level.due(kind, oldest)),
        _ => None,
    }
}

/// Whether an answer due at `due` is late at the level's `now` (late at exactly that moment).
pub fn past(level: &ServiceLevel, due: Option<i64>) -> bool {
    due.is_some_and(|d| d <= level.now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_the_kinds_hours_and_past_at_exactly_that_moment() {
        let level = ServiceLevel {
            now: 10 * HOUR_MS,
            dm_ms: 4 * HOUR_MS,
            comments_ms: 8 * HOUR_MS,
        };
        let dm = due(&level, "dm", "open", Some(6 * HOUR_MS));
        assert_eq!(dm, Some(10 * HOUR_MS));
        assert!(past(&level, dm));
        let thread = due(&level, "comments", "open", Some(6 * HOUR_MS));
        assert_eq!(thread, Some(14 * HOUR_MS));
        assert!(!past(&level, thread));
        let waiting = due(&level, "dm", "waiting", Some(0));
        assert_eq!(waiting, None);
        assert!(!past(&level, waiting));
        let far = due(&level, "dm", "open", Some(i64::MAX));
        assert_eq!(far, Some(i64::MAX), "saturates rather than overflowing");
    }
}
