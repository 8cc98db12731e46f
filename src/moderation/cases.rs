//! Cases: the routine a case follows, staffed hours, and the on-call alert for urgent cases.

use std::time::Duration;

use chrono::{Datelike, NaiveDate, Timelike};

use super::routines::{missing_steps, Routines};
use crate::outbound::RetryPolicy;
use crate::store::moderation::{CaseOpening, StepRules};
use crate::store::on_call::ClaimedAlert;
use crate::store::{now_ms, Store};

/// When moderators are at work, in Swedish local time (DESIGN.md §2: off-hours auto-hide).
#[derive(Debug, Clone)]
pub struct StaffedHours {
    /// Weekdays 1 (Monday) ..= 7 (Sunday).
    pub days: Vec<u32>,
    pub from_minute: u32,
    pub to_minute: u32,
    /// Swedish public holidays (and midsommarafton, julafton, nyårsafton) are not staffed.
    pub holidays_closed: bool,
    /// The organisation's own closing days (a "klämdag", a staff day).
    pub closed_days: Vec<ClosedDay>,
}

/// A closing day: one date, or a day of the year every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedDay {
    Date(NaiveDate),
    EveryYear { month: u32, day: u32 },
}

impl ClosedDay {
    /// "2026-12-23" (that day) or "12-23" (every year).
    pub fn parse(text: &str) -> anyhow::Result<ClosedDay> {
        let text = text.trim();
        if let Ok(date) = text.parse::<NaiveDate>() {
            return Ok(ClosedDay::Date(date));
        }
        let every_year = text.split_once('-').and_then(|(m, d)| {
            let (month, day) = (m.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
            // 2024 is a leap year: 02-29 is a day of the year too.
            NaiveDate::from_ymd_opt(2024, month, day).map(|_| ClosedDay::EveryYear { month, day })
        });
        every_year.ok_or_else(|| {
            anyhow::anyhow!(
                "closing days are dates like \"2026-12-23\" (that day) or \"12-23\" (every year), not {text:?}"
            )
        })
    }

    fn is(&self, date: NaiveDate) -> bool {
        match *self {
            ClosedDay::Date(d) => d == date,
            ClosedDay::EveryYear { month, day } => date.month() == month && date.day() == day,
        }
    }
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
            holidays_closed: true,
            closed_days: Vec::new(),
        })
    }

    /// The days off besides the weekly schedule: public holidays (when `holidays_closed`) and the
    /// organisation's own closing days.
    pub fn closing(
        mut self,
        holidays_closed: bool,
        closed_days: &[String],
    ) -> anyhow::Result<Self> {
        self.holidays_closed = holidays_closed;
        self.closed_days = closed_days
            .iter()
            .map(|d| ClosedDay::parse(d))
            .collect::<anyhow::Result<_>>()?;
        Ok(self)
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
            && !self.is_closed(local.date())
    }

    /// Whether the whole (Swedish) day is a day off.
    pub fn is_closed(&self, date: NaiveDate) -> bool {
        (self.holidays_closed && super::holidays::holiday(date).is_some())
            || self.closed_days.iter().any(|c| c.is(date))
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
        alert_on_call: false,
        raise_under: None,
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

/// How long a claimed alert is this instance's: the request's timeout and a margin. An instance
/// that dies mid-send leaves the alert to be taken over after this.
const ALERT_TIMEOUT: Duration = Duration::from_secs(10);
const ALERT_LEASE_MS: i64 = 30_000;
/// Longest sleep without looking: alerts other instances wrote or gave back are found within this.
const ALERT_POLL: Duration = Duration::from_secs(5);

/// Posts urgent (S4/S5) cases to an incoming-webhook URL (Teams- or Slack-style JSON) so the
/// on-call moderator hears of them: each alert claimed in the store before it is sent, so one
/// instance of many sends it, and retried with backoff (`policy`) until the receiver accepts.
/// The alert names the case, never the message's content.
pub async fn alert_on_call(
    store: Store,
    url: String,
    policy: RetryPolicy,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(ALERT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the alert client; urgent cases will not be alerted");
            return;
        }
    };
    while !*shutdown.borrow() {
        // Listen before looking, so a case committed between the look and the sleep wakes us.
        let committed = store.committed.clone();
        let written = committed.notified();
        tokio::pin!(written);
        written.as_mut().enable();
        // A cheap read first: every commit wakes this loop, and a claim takes SQLite's write lock.
        let wait = match store.next_alert_due().await {
            Ok(Some(due)) if due > now_ms() => {
                Duration::from_millis((due - now_ms()) as u64).min(ALERT_POLL)
            }
            Ok(Some(_)) => match store.claim_alert(ALERT_LEASE_MS).await {
                Ok(Some(alert)) => {
                    send_alert(&store, &client, &url, &policy, &alert).await;
                    continue;
                }
                // Another instance holds it, about to record its claim.
                Ok(None) => Duration::from_millis(50),
                Err(e) => {
                    tracing::error!(error = %e, "cannot take an on-call alert from the store");
                    ALERT_POLL
                }
            },
            Ok(None) => ALERT_POLL,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the on-call alerts");
                ALERT_POLL
            }
        };
        tokio::select! {
            _ = &mut written => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn send_alert(
    store: &Store,
    client: &reqwest::Client,
    url: &str,
    policy: &RetryPolicy,
    alert: &ClaimedAlert,
) {
    let text = format!(
        "tavla: brådskande modereringsärende {} ({}, {}) i kanalen {}. Öppna ärendet i tavla och följ rutinen.",
        alert.case_id,
        alert.level,
        alert.categories.join(", "),
        alert.channel_name
    );
    let body = serde_json::json!({"text": text, "case_id": alert.case_id, "level": alert.level});
    // The URL may carry the receiver's secret: no error below names it.
    let refused = match client.post(url).json(&body).send().await {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!(
            "the alert receiver answered HTTP {}",
            r.status().as_u16()
        )),
        Err(e) if e.is_timeout() => Some("the alert receiver did not answer in time".into()),
        Err(e) if e.is_connect() => Some("could not connect to the alert receiver".into()),
        Err(_) => Some("the connection to the alert receiver broke off".into()),
    };
    let recorded = match &refused {
        None => {
            tracing::info!(
                case_id = alert.case_id,
                attempts = alert.attempts,
                "on-call alert sent"
            );
            store.alert_sent(alert).await
        }
        Some(reason) => {
            let delay = policy.delay_ms(alert.attempts, rand::random::<f64>());
            tracing::warn!(case_id = alert.case_id, attempts = alert.attempts, retry_in_ms = delay,
                reason = %reason, "the on-call alert was not accepted; it will be tried again");
            store.alert_not_accepted(alert, reason, delay).await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the alert is taken again: not lost, at worst sent twice.
        tracing::error!(case_id = alert.case_id, error = %e, "cannot record the on-call alert");
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

    fn at(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn holidays_and_closing_days_are_off_hours() {
        let hours = StaffedHours::parse("mon-fri", "08:00", "17:00").unwrap();
        // Långfredagen 2026 (3 April) and midsommarafton (19 June), mid-morning: nobody there.
        assert!(!hours.is_staffed(at("2026-04-03T08:00:00Z")));
        assert!(!hours.is_staffed(at("2026-06-19T08:00:00Z")));
        assert!(!hours.is_staffed(at("2026-12-24T09:00:00Z")));
        // The Thursday before Easter and the day after midsummer's weekend are ordinary days.
        assert!(hours.is_staffed(at("2026-04-02T08:00:00Z")));
        assert!(hours.is_staffed(at("2026-06-22T08:00:00Z")));
        // 23:30 UTC on 5 January is already trettondedag jul in Sweden.
        let weekend = StaffedHours::parse("mon-sun", "00:00", "24:00").unwrap();
        assert!(!weekend.is_staffed(at("2026-01-05T23:30:00Z")));
        assert!(weekend.is_staffed(at("2026-01-05T22:30:00Z")));

        // An operator who staffs holidays, with closing days of their own.
        let own = StaffedHours::parse("mon-fri", "08:00", "17:00")
            .unwrap()
            .closing(false, &["2026-05-15".into(), "12-23".into()])
            .unwrap();
        assert!(
            own.is_staffed(at("2026-04-03T08:00:00Z")),
            "långfredagen staffed"
        );
        assert!(!own.is_staffed(at("2026-05-15T08:00:00Z")), "klämdag");
        assert!(!own.is_staffed(at("2027-12-23T09:00:00Z")), "every year");
        assert!(own.is_staffed(at("2027-05-14T08:00:00Z")));
        for bad in ["2026-02-30", "13-01", "fredag"] {
            let error = StaffedHours::parse("mon-fri", "08:00", "17:00")
                .unwrap()
                .closing(true, &[bad.into()])
                .unwrap_err()
                .to_string();
            assert!(error.contains("12-23"), "{bad}: {error}");
        }
    }
}
