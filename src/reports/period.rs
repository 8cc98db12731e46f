//! Report periods: a calendar month (`2026-10`) or quarter (`2026Q3`) in Swedish local time, so a
//! message at 23:30 on the last evening of the month belongs to that month, in summer and in winter.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::text::swedish_offset;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodKind {
    Month,
    Quarter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPeriod {
    pub kind: PeriodKind,
    pub year: i32,
    /// 1..=12 for a month, 1..=4 for a quarter.
    pub index: u32,
}

impl ReportPeriod {
    /// `2026-10` (a month) or `2026Q3` / `2026-Q3` (a quarter).
    pub fn parse(text: &str) -> Option<ReportPeriod> {
        let text = text.trim();
        if text.len() > 8 {
            return None;
        }
        let year_of = |s: &str| {
            (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i32>().ok())
                .flatten()
                .filter(|y| (2000..=2999).contains(y))
        };
        if let Some((y, q)) = text.split_once(['Q', 'q']) {
            let year = year_of(y.trim_end_matches('-'))?;
            let index: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            (q.len() == 1).then_some(ReportPeriod {
                kind: PeriodKind::Quarter,
                year,
                index,
            })
        } else {
            let (y, m) = text.split_once('-')?;
            let year = year_of(y)?;
            let index: u32 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
            (m.len() == 2).then_some(ReportPeriod {
                kind: PeriodKind::Month,
                year,
                index,
            })
        }
    }

    pub fn month(year: i32, month: u32) -> ReportPeriod {
        ReportPeriod {
            kind: PeriodKind::Month,
            year,
            index: month,
        }
    }

    pub fn quarter(year: i32, quarter: u32) -> ReportPeriod {
        ReportPeriod {
            kind: PeriodKind::Quarter,
            year,
            index: quarter,
        }
    }

    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Month => format!("{}-{:02}", self.year, self.index),
            PeriodKind::Quarter => format!("{}Q{}", self.year, self.index),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            PeriodKind::Month => "month",
            PeriodKind::Quarter => "quarter",
        }
    }

    /// The period before: the month before, or the quarter before.
    pub fn previous(&self) -> ReportPeriod {
        let last = match self.kind {
            PeriodKind::Month => 12,
            PeriodKind::Quarter => 4,
        };
        if self.index == 1 {
            ReportPeriod {
                year: self.year - 1,
                index: last,
                ..*self
            }
        } else {
            ReportPeriod {
                index: self.index - 1,
                ..*self
            }
        }
    }

    fn first_month(&self) -> u32 {
        match self.kind {
            PeriodKind::Month => self.index,
            PeriodKind::Quarter => (self.index - 1) * 3 + 1,
        }
    }

    /// The first instant of the period (local midnight on its first day), in epoch milliseconds.
    pub fn start_ms(&self) -> i64 {
        local_midnight_ms(self.year, self.first_month())
    }

    /// The first instant after the period (exclusive end).
    pub fn end_ms(&self) -> i64 {
        let months = match self.kind {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
        };
        let m0 = self.first_month() - 1 + months; // zero-based, may pass December
        local_midnight_ms(self.year + (m0 / 12) as i32, m0 % 12 + 1)
    }
}

/// Midnight in Sweden on the first of a month. Midnight is never inside a clock change (those
/// happen at 02:00 and 03:00), so the offset is unambiguous.
fn local_midnight_ms(year: i32, month: u32) -> i64 {
    let local = NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("the first of a month exists");
    let offset = swedish_offset(&local);
    local.and_utc().timestamp_millis() - i64::from(offset.local_minus_utc()) * 1000
}

/// Swedish local time of an instant. `swedish_offset` answers for a local time; probing with
/// UTC+1 and UTC+2 tells summer from winter time at the changes too: it is summer time only when
/// both readings say so (spring: UTC 01:00 is 03:00 CEST; autumn: UTC 01:00 is 02:00 CET).
pub fn local_time(ms: i64) -> NaiveDateTime {
    let utc = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc();
    let hour = chrono::Duration::hours(1);
    let summer = swedish_offset(&(utc + hour)).local_minus_utc() == 7200
        && swedish_offset(&(utc + hour * 2)).local_minus_utc() == 7200;
    utc + if summer { hour * 2 } else { hour }
}

/// Monday = 0 .. Sunday = 6, and the hour 0..23, in Swedish local time: a cell of the week's heat map.
pub fn week_cell(ms: i64) -> (usize, usize) {
    let t = local_time(ms);
    (
        t.weekday().num_days_from_monday() as usize,
        t.hour() as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn months_and_quarters_parse_and_refuse_the_rest() {
        assert_eq!(
            ReportPeriod::parse("2026-10"),
            Some(ReportPeriod::month(2026, 10))
        );
        assert_eq!(
            ReportPeriod::parse("2026Q3"),
            Some(ReportPeriod::quarter(2026, 3))
        );
        assert_eq!(
            ReportPeriod::parse("2026-Q3"),
            Some(ReportPeriod::quarter(2026, 3))
        );
        for bad in [
            "2026-13", "2026-0", "2026Q5", "2026Q0", "26-10", "2026-1", "x", "", "2026-10x",
            "2026Q33", "+026-10",
        ] {
            assert_eq!(ReportPeriod::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn boundaries_are_swedish_midnights() {
        let oct = ReportPeriod::month(2026, 10);
        // 1 October is summer time (+2), 1 November winter time (+1).
        assert_eq!(oct.start_ms(), utc("2026-09-30T22:00:00Z"));
        assert_eq!(oct.end_ms(), utc("2026-10-31T23:00:00Z"));
        let q3 = ReportPeriod::quarter(2026, 3);
        assert_eq!(q3.start_ms(), utc("2026-06-30T22:00:00Z"));
        assert_eq!(q3.end_ms(), utc("2026-09-30T22:00:00Z"));
        let q4 = ReportPeriod::quarter(2026, 4);
        assert_eq!(q4.end_ms(), utc("2026-12-31T23:00:00Z"));
        assert_eq!(q4.previous(), q3);
        assert_eq!(
            ReportPeriod::quarter(2026, 1).previous(),
            ReportPeriod::quarter(2025, 4)
        );
        assert_eq!(
            ReportPeriod::month(2026, 1).previous(),
            ReportPeriod::month(2025, 12)
        );
        assert_eq!(
            ReportPeriod::month(2026, 12).end_ms(),
            utc("2026-12-31T23:00:00Z")
        );
    }

    #[test]
    fn local_time_follows_the_clock_changes() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let fmt = |ms| local_time(ms).format("%Y-%m-%d %H:%M").to_string();
        assert_eq!(fmt(utc("2026-03-29T00:59:00Z")), "2026-03-29 01:59");
        assert_eq!(fmt(utc("2026-03-29T01:00:00Z")), "2026-03-29 03:00");
        assert_eq!(fmt(utc("2026-10-25T00:59:00Z")), "2026-10-25 02:59");
        assert_eq!(fmt(utc("2026-10-25T01:00:00Z")), "2026-10-25 02:00");
        assert_eq!(fmt(utc("2026-07-01T10:00:00Z")), "2026-07-01 12:00");
        assert_eq!(fmt(utc("2026-12-01T10:00:00Z")), "2026-12-01 11:00");
        // Saturday 31 October 2026, 23:30 local.
        assert_eq!(week_cell(utc("2026-10-31T22:30:00Z")), (5, 23));
    }
}
