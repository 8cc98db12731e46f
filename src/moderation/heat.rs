//! When a comment thread is heated in an hour: the one rule behind the live view
//! (`GET /api/v1/moderation/heated`) and the follow-up reports' heated threads, so the two never
//! disagree. `min_comments` is `heated_min_comments` in config/default.toml.

use serde::Serialize;

use crate::store::moderation::ThreadActivity;
use crate::store::scope::ReadScope;
use crate::store::Store;

/// A comment thread where a debate is catching fire: in the last hour at least
/// `heated_min_comments` inbound comments (config, 10 by default) and at least 3 times its own
/// hourly baseline (at least 1), or at least 5 inbound comments of which at least a fifth triage
/// flagged at S2 or above.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HeatedThread {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    /// The post's id on the platform.
    pub post_platform_id: Option<String>,
    /// The post's text, when known and the caller reads comments.
    pub post_text: Option<String>,
    /// Inbound comments in the last hour (by the platform's time).
    #[schema(minimum = 0)]
    pub last_hour: i64,
    /// Average inbound comments per hour over the 24 hours before the last hour.
    #[schema(minimum = 0)]
    pub baseline_per_hour: f64,
    /// Of the last hour's comments, how many triage flagged at S2 or above.
    #[schema(minimum = 0)]
    pub flagged: i64,
}

/// The threads in the reader's scope that are heated now (`is_heated` with the operator's
/// `min_comments`), busiest first. The store counts; this decides.
pub async fn heated_threads(
    store: &Store,
    scope: &ReadScope,
    now: i64,
    min_comments: i64,
) -> crate::store::Result<Vec<HeatedThread>> {
    Ok(heated(
        store.thread_activity(scope, now).await?,
        min_comments,
    ))
}

fn heated(activity: Vec<ThreadActivity>, min_comments: i64) -> Vec<HeatedThread> {
    let mut out: Vec<HeatedThread> = activity
        .into_iter()
        .filter(|t| is_heated(t.last_hour, t.flagged, t.day_before, min_comments))
        .map(|t| HeatedThread {
            conversation_id: t.conversation_id,
            channel_id: t.channel_id,
            channel_name: t.channel_name,
            post_platform_id: t.post_platform_id,
            post_text: t.post_text,
            last_hour: t.last_hour,
            baseline_per_hour: baseline_per_hour(t.day_before),
            flagged: t.flagged,
        })
        .collect();
    out.sort_by_key(|t| std::cmp::Reverse(t.last_hour));
    out
}

/// The thread's average inbound comments per hour over the 24 hours before the hour.
pub fn baseline_per_hour(day_before: i64) -> f64 {
    day_before as f64 / 24.0
}

/// A jump to at least `min_comments` comments and three times the thread's own average over the
/// day before (counted as at least one an hour), or at least five comments of which a fifth or
/// more were flagged S2 or above.
pub fn is_heated(comments: i64, flagged: i64, day_before: i64, min_comments: i64) -> bool {
    let jumped =
        comments >= min_comments && comments as f64 >= 3.0 * baseline_per_hour(day_before).max(1.0);
    let hostile = comments >= 5 && flagged * 5 >= comments;
    jumped || hostile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jump_against_the_threads_own_day_or_a_fifth_flagged() {
        // Ten in an hour after a quiet day: heated; nine is not enough.
        assert!(is_heated(10, 0, 4, 10));
        assert!(!is_heated(9, 0, 4, 10));
        // A thread that has had 96 an hour all day (4 per hour × 24): 10 is no jump, 12 is.
        assert!(!is_heated(10, 0, 96, 10));
        assert!(is_heated(12, 0, 96, 10));
        // Five comments, one flagged: hostile; six with one flagged: not.
        assert!(is_heated(5, 1, 0, 10));
        assert!(!is_heated(6, 1, 0, 10));
        // The threshold is the operator's.
        assert!(is_heated(6, 0, 0, 6));
        assert_eq!(baseline_per_hour(12), 0.5);
    }
}
