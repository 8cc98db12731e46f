//! The service level (DESIGN.md §2): how long a DM and a comment thread may wait for an answer,
//! from the settings the reports measure against, and when a conversation's answer is due.

use serde_json::{json, Value};

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

/// Marks a queue item or conversation (as JSON) with `service_level_due_at` and
/// `past_service_level`.
pub fn mark(item: &mut Value, level: &ServiceLevel) {
    let kind = item["kind"].as_str().unwrap_or("dm").to_string();
    let due = item["status"]
        .as_str()
        .and_then(|status| due(level, &kind, status, item["oldest_unanswered_at"].as_i64()));
    item["service_level_due_at"] = json!(due);
    item["past_service_level"] = json!(due.is_some_and(|d| d <= level.now));
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
        let mut dm = json!({"kind": "dm", "status": "open", "oldest_unanswered_at": 6 * HOUR_MS});
        mark(&mut dm, &level);
        assert_eq!(dm["service_level_due_at"], json!(10 * HOUR_MS));
        assert_eq!(dm["past_service_level"], json!(true));
        let mut thread =
            json!({"kind": "comments", "status": "open", "oldest_unanswered_at": 6 * HOUR_MS});
        mark(&mut thread, &level);
        assert_eq!(thread["service_level_due_at"], json!(14 * HOUR_MS));
        assert_eq!(thread["past_service_level"], json!(false));
        let mut waiting = json!({"kind": "dm", "status": "waiting", "oldest_unanswered_at": 0});
        mark(&mut waiting, &level);
        assert_eq!(waiting["service_level_due_at"], Value::Null);
        assert_eq!(waiting["past_service_level"], json!(false));
    }
}
