//! Swedish public holidays, computed for any year rather than listed per year, so staffed hours
//! (and with them the off-hours auto-hide) know that nobody is at work on långfredagen or
//! midsommarafton. The public holidays of lagen (1989:253) om allmänna helgdagar, and the eves
//! that are days off in practice (midsommarafton, julafton, nyårsafton).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday (Gregorian calendar), by the anonymous Gregorian computus (Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("the computus gives a date")
}

/// The first `weekday` on or after `month`/`day` of `year`.
fn first_on_or_after(year: i32, month: u32, day: u32, weekday: Weekday) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(year, month, day).expect("a fixed date exists");
    let ahead = (7 + weekday.num_days_from_monday() - start.weekday().num_days_from_monday()) % 7;
    start + Duration::days(i64::from(ahead))
}

/// Every Swedish holiday of a year, with its Swedish name, in date order.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed =
        |month, day| NaiveDate::from_ymd_opt(year, month, day).expect("a fixed date exists");
    let easter = easter_sunday(year);
    let mut days = vec![
        (fixed(1, 1), "nyårsdagen"),
        (fixed(1, 6), "trettondedag jul"),
        (easter - Duration::days(2), "långfredagen"),
        (easter, "påskdagen"),
        (easter + Duration::days(1), "annandag påsk"),
        (fixed(5, 1), "första maj"),
        (easter + Duration::days(39), "Kristi himmelsfärdsdag"),
        (easter + Duration::days(49), "pingstdagen"),
        (fixed(6, 6), "Sveriges nationaldag"),
        // The Friday and Saturday between 19 and 26 June.
        (
            first_on_or_after(year, 6, 19, Weekday::Fri),
            "midsommarafton",
        ),
        (
            first_on_or_after(year, 6, 20, Weekday::Sat),
            "midsommardagen",
        ),
        // The Saturday between 31 October and 6 November.
        (
            first_on_or_after(year, 10, 31, Weekday::Sat),
            "alla helgons dag",
        ),
        (fixed(12, 24), "julafton"),
        (fixed(12, 25), "juldagen"),
        (fixed(12, 26), "annandag jul"),
        (fixed(12, 31), "nyårsafton"),
    ];
    days.sort();
    days
}

/// The holiday a date is, if any.
pub fn holiday(date: NaiveDate) -> Option<&'static str> {
    holidays(date.year())
        .into_iter()
        .find(|(d, _)| *d == date)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn easter_falls_on_the_known_sundays() {
        for (year, sunday) in [
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
        ] {
            assert_eq!(easter_sunday(year), date(sunday), "{year}");
            assert_eq!(easter_sunday(year).weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn the_holidays_of_2026() {
        let named: Vec<(String, &str)> = holidays(2026)
            .into_iter()
            .map(|(d, n)| (d.to_string(), n))
            .collect();
        let expected = [
            ("2026-01-01", "nyårsdagen"),
            ("2026-01-06", "trettondedag jul"),
            ("2026-04-03", "långfredagen"),
            ("2026-04-05", "påskdagen"),
            ("2026-04-06", "annandag påsk"),
            ("2026-05-01", "första maj"),
            ("2026-05-14", "Kristi himmelsfärdsdag"),
            ("2026-05-24", "pingstdagen"),
            ("2026-06-06", "Sveriges nationaldag"),
            ("2026-06-19", "midsommarafton"),
            ("2026-06-20", "midsommardagen"),
            ("2026-10-31", "alla helgons dag"),
            ("2026-12-24", "julafton"),
            ("2026-12-25", "juldagen"),
            ("2026-12-26", "annandag jul"),
            ("2026-12-31", "nyårsafton"),
        ];
        let expected: Vec<(String, &str)> =
            expected.iter().map(|(d, n)| (d.to_string(), *n)).collect();
        assert_eq!(named, expected);
    }

    #[test]
    fn moving_holidays_of_other_years() {
        for (day, name) in [
            ("2025-04-18", "långfredagen"),
            ("2025-04-21", "annandag påsk"),
            ("2025-05-29", "Kristi himmelsfärdsdag"),
            ("2025-06-20", "midsommarafton"),
            ("2025-06-21", "midsommardagen"),
            ("2025-11-01", "alla helgons dag"),
            ("2027-03-26", "långfredagen"),
            ("2027-03-29", "annandag påsk"),
            ("2027-05-06", "Kristi himmelsfärdsdag"),
            ("2027-06-25", "midsommarafton"),
            ("2027-06-26", "midsommardagen"),
            ("2027-11-06", "alla helgons dag"),
            ("2024-06-21", "midsommarafton"),
            ("2024-11-02", "alla helgons dag"),
        ] {
            assert_eq!(holiday(date(day)), Some(name), "{day}");
        }
        for ordinary in [
            "2026-04-02",
            "2026-06-18",
            "2026-06-26",
            "2026-11-02",
            "2026-12-23",
        ] {
            assert_eq!(holiday(date(ordinary)), None, "{ordinary}");
        }
    }

    #[test]
    fn midsommar_and_all_saints_stay_in_their_weeks() {
        for year in 1900..2200 {
            let days = holidays(year);
            let find = |name: &str| days.iter().find(|(_, n)| *n == name).unwrap().0;
            let eve = find("midsommarafton");
            assert_eq!(eve.weekday(), Weekday::Fri);
            assert!(eve >= NaiveDate::from_ymd_opt(year, 6, 19).unwrap());
            assert!(eve <= NaiveDate::from_ymd_opt(year, 6, 25).unwrap());
            assert_eq!(find("midsommardagen"), eve + Duration::days(1));
            let saints = find("alla helgons dag");
            assert_eq!(saints.weekday(), Weekday::Sat);
            assert!(saints >= NaiveDate::from_ymd_opt(year, 10, 31).unwrap());
            assert!(saints <= NaiveDate::from_ymd_opt(year, 11, 6).unwrap());
            assert_eq!(find("Kristi himmelsfärdsdag").weekday(), Weekday::Thu);
        }
    }
}
