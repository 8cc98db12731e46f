//! Cases: the routine a case follows, staffed hours, and the on-call alert for urgent cases.

use std::time::Duration;

use chrono::{Datelike, Timelike};

use super::routines::{missing_steps, Routines};
use crate::store::moderation::{CaseOpening, StepRules};
use crate::store::Store;

/// When moderators are at work, in Swedish local time (DESIGN.md §2: off-hours auto-hide).
#[derive(Debug, Clone)]
pub struct StaffedHours {
    /// Weekdays 1 (Monday) ..= 7 (Sunday).
    pub days: Vec<u32>,
    pub from_minute: u32,
    pub to_minute: u32,
}

impl StaffedHours {
    /// Parses days like "mon-fri" or "mon,tue,sat" and times like "08:00".
    pub fn parse(days: &str, from: &str, to: &str) -> anyhow::Result<StaffedHours> {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let day = |d: &str| {
            NAMES
                .iter()
                .position(|n| *n == d.trim())
                .map(|i| i as u32 + 1)
                .ok_or_else(|| {
                    anyhow::anyhow!("unknown day {d:?}; use mon, tue, wed, thu, fri, sat, sun")
                })
        };
        let mut list = Vec::new();
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => list.extend(day(a)?..=day(b)?),
                None => list.push(day(part)?),
            }
        }
        let minute = |t: &str| -> anyhow::Result<u32> {
            let (h, m) = t
                .trim()
                .split_once(':')
                .ok_or_else(|| anyhow::anyhow!("times are HH:MM, not {t:?}"))?;
            Ok(h.parse::<u32>()? * 60 + m.parse::<u32>()?)
        };
        Ok(StaffedHours {
            days: list,
            from_minute: minute(from)?,
            to_minute: minute(to)?,
        })
    }

    pub fn is_staffed(&self, at_ms: i64) -> bool {
        let Some(utc) = chrono::DateTime::from_timestamp_millis(at_ms) else {
            return true;
        };
        let naive = utc.naive_utc();
        let local = naive + crate::text::swedish_offset(&naive);
        let minute = local.hour() * 60 + local.minute();
        self.days.contains(&local.weekday().number_from_monday())
            && minute >= self.from_minute
            && minute < self.to_minute
    }
}

/// How a case opens for a level: its routine's version and time limit.
pub fn opening(
    routines: &Routines,
    level: &str,
    categories: Vec<String>,
    source: &str,
) -> Option<CaseOpening> {
    let routine = routines.for_level(level)?;
    Some(CaseOpening {
        level: level.to_string(),
        categories,
        routine_version: routines.version.clone(),
        due_minutes: routine.due_minutes,
        source: source.to_string(),
        reported_by: None,
        reason: None,
        auto_hide: false,
    })
}

/// The step kinds of a level's routine, for the store's checks.
pub fn step_kinds(routines: &Routines, level: &str) -> Vec<String> {
    routines
        .for_level(level)
        .map(|r| r.steps.iter().map(|s| s.kind.clone()).collect())
        .unwrap_or_default()
}

pub fn rules<'a>(kinds: &'a [String]) -> StepRules<'a> {
    StepRules {
        kinds,
        records_evidence_step: kinds.iter().any(|k| k == "capture_evidence"),
    }
}

/// What a case still needs before it may close.
pub async fn missing(
    store: &Store,
    routines: &Routines,
    case_id: i64,
    level: &str,
) -> anyhow::Result<Vec<String>> {
    let done = store.case_step_kinds(case_id).await?;
    Ok(routines
        .for_level(level)
        .map(|r| missing_steps(r, &done))
        .unwrap_or_default())
}

/// Posts urgent (S4/S5) cases to an incoming-webhook URL (Teams- or Slack-style JSON) so the
/// on-call moderator hears of them. The alert names the case, never the message's content.
pub async fn alert_on_call(
    store: Store,
    url: String,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the alert client; urgent cases will not be alerted");
            return;
        }
    };
    loop {
        match store
            .cases_to_alert(&crate::store::scope::ReadScope::operator(), 5)
            .await
        {
            Ok(cases) => {
                for case in cases {
                    let text = format!(
                        "tavla: brådskande modereringsärende {} ({}, {}) i kanalen {}. Öppna ärendet i tavla och följ rutinen.",
                        case.id,
                        case.level,
                        case.categories.join(", "),
                        case.channel_name
                    );
                    let body =
                        serde_json::json!({"text": text, "case_id": case.id, "level": case.level});
                    let delivered = client
                        .post(&url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    if !delivered {
                        tracing::warn!(
                            case_id = case.id,
                            "the on-call alert was not accepted; it will be tried again"
                        );
                    }
                    if let Err(e) = store.mark_alert(case.id, delivered).await {
                        tracing::error!(error = %e, "cannot record the alert");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read cases to alert"),
        }
        let committed = store.committed.clone();
        tokio::select! {
            _ = committed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staffed_hours_follow_swedish_time() {
        let hours = StaffedHours::parse("mon-fri", "08:00", "17:00").unwrap();
        // Friday 2026-11-27 07:30 UTC is 08:30 in Sweden (CET): staffed.
        let friday_morning = chrono::DateTime::parse_from_rfc3339("2026-11-27T07:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert!(hours.is_staffed(friday_morning));
        // 16:30 UTC is 17:30 in Sweden: not staffed.
        let friday_evening = chrono::DateTime::parse_from_rfc3339("2026-11-27T16:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert!(!hours.is_staffed(friday_evening));
        // Saturday: not staffed. Summer time: 06:30 UTC on a Monday in June is 08:30 (CEST).
        let saturday = chrono::DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        assert!(!hours.is_staffed(saturday));
        let june = chrono::DateTime::parse_from_rfc3339("2026-06-15T06:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert!(hours.is_staffed(june));
        assert!(StaffedHours::parse("mon-fri", "8", "17:00").is_err());
    }
}
