//! Personal-data detectors: Swedish personal identity numbers (personnummer and
//! samordningsnummer), Swedish phone numbers and e-mail addresses.
//!
//! Moderation flags them (third-party personal data is S2, DESIGN §3), privacy masks them where a
//! role does not need them (§2), search can leave them out of snippets. Every detector returns
//! spans as **byte** offsets into the text it was given (half-open, on char boundaries), so a
//! caller can slice `&text[d.start..d.end]`; moderation converts them to char offsets itself.
//!
//! They are hand-written scanners rather than regular expressions: the rules (Luhn check digit,
//! real calendar dates, Swedish number plans) need code anyway, and a scan that only wakes up at
//! digits and `@` keeps triage fast.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// What a detector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Personnummer,
    /// A coordination number: a personnummer whose day has 60 added, for people who are not (or
    /// not yet) registered as resident.
    Samordningsnummer,
    Phone,
    Email,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Personnummer => "personnummer",
            Kind::Samordningsnummer => "samordningsnummer",
            Kind::Phone => "phone",
            Kind::Email => "email",
        }
    }
}

/// One detected item: `text[start..end]` (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// All personal data in `text`, sorted by position and without overlaps (an identity number wins
/// over a phone number that would cover the same digits).
pub fn detect(text: &str) -> Vec<Detection> {
    let mut found = identity_numbers(text);
    for d in phone_numbers(text).into_iter().chain(emails(text)) {
        if !found.iter().any(|f| f.start < d.end && d.start < f.end) {
            found.push(d);
        }
    }
    found.sort_by_key(|d| d.start);
    found
}

/// `text` with identity numbers, phone numbers and e-mail addresses masked: the birth date of an
/// identity number stays (`19850312-****`), a phone number keeps its prefix and last two digits
/// (`070-*** ** 12`), an address keeps its first letter and domain (`a***@example.se`). Enough
/// for a colleague to recognise which item it is, not enough to use it.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for d in detect(text) {
        out.push_str(&text[at..d.start]);
        let item = &text[d.start..d.end];
        match d.kind {
            Kind::Personnummer | Kind::Samordningsnummer => mask_identity(item, &mut out),
            Kind::Phone => mask_phone(item, &mut out),
            Kind::Email => mask_email(item, &mut out),
        }
        at = d.end;
    }
    out.push_str(&text[at..]);
    out
}

fn mask_identity(item: &str, out: &mut String) {
    // The last four digits (birth number and check digit) identify the person; the date alone
    // does not.
    let keep = item.len().saturating_sub(4);
    out.push_str(&item[..keep]);
    out.push_str("****");
}

fn mask_phone(item: &str, out: &mut String) {
    let digits = item.bytes().filter(u8::is_ascii_digit).count();
    let prefix = if item.starts_with('+') {
        4 // country code 46 and the first two digits of the national number
    } else if item.starts_with("00") {
        6
    } else if item.starts_with("07") {
        3 // mobile prefix 07x
    } else {
        2 // area code start; longer area codes are masked partly, which errs on the safe side
    };
    let mut seen = 0;
    for c in item.chars() {
        if c.is_ascii_digit() {
            seen += 1;
            if seen <= prefix || seen > digits.saturating_sub(2) {
                out.push(c);
            } else {
                out.push('*');
            }
        } else {
            out.push(c);
        }
    }
}

fn mask_email(item: &str, out: &mut String) {
    match item.split_once('@') {
        Some((local, domain)) => {
            if let Some(first) = local.chars().next() {
                out.push(first);
            }
            // A fixed number of stars, so the mask does not reveal the length either.
            out.push_str("***@");
            out.push_str(domain);
        }
        None => out.push_str("***"),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity numbers

/// Personnummer and samordningsnummer written as `YYMMDD-NNNC`, `YYMMDD+NNNC` (`+` once the person
/// is 100), `YYMMDDNNNC`, `YYYYMMDD-NNNC` or `YYYYMMDDNNNC`, with a valid Luhn check digit (computed
/// over the 10-digit form) and a date that exists (day + 60 for a samordningsnummer).
pub fn identity_numbers(text: &str) -> Vec<Detection> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && is_word_byte_before(text, i)) {
            i += 1;
            continue;
        }
        let run = digit_run(b, i);
        let candidate = match run {
            10 | 12 => Some((i + run, &b[i..i + run], false)),
            6 | 8
                if i + run + 5 <= b.len()
                    && matches!(b[i + run], b'-' | b'+')
                    && digit_run(b, i + run + 1) == 4 =>
            {
                let end = i + run + 5;
                Some((end, &b[i..end], b[i + run] == b'+'))
            }
            _ => None,
        };
        if let Some((end, digits, plus)) = candidate {
            if !is_word_byte_at(text, end) {
                if let Some(kind) = check_digits(digits, plus) {
                    found.push(Detection {
                        kind,
                        start: i,
                        end,
                    });
                    i = end;
                    continue;
                }
            }
        }
        i += run.max(1);
    }
    found
}

/// Whether `candidate` (one identity number as written) is a valid personnummer or
/// samordningsnummer, and which.
pub fn identity_number_kind(candidate: &str) -> Option<Kind> {
    let found = identity_numbers(candidate);
    match found.as_slice() {
        [d] if d.start == 0 && d.end == candidate.len() => Some(d.kind),
        _ => None,
    }
}

fn digit_run(b: &[u8], from: usize) -> usize {
    b[from.min(b.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// `digits` is one candidate as written: 10 or 12 digits, or 6/8 digits, a separator and 4.
fn check_digits(written: &[u8], plus: bool) -> Option<Kind> {
    let digits: Vec<u32> = written
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| u32::from(c - b'0'))
        .collect();
    let (century, ten): (Option<u32>, &[u32]) = match digits.len() {
        12 => (Some(digits[0] * 10 + digits[1]), &digits[2..]),
        10 => (None, &digits[..]),
        _ => return None,
    };
    let yy = ten[0] * 10 + ten[1];
    let month = ten[2] * 10 + ten[3];
    let mut day = ten[4] * 10 + ten[5];
    let kind = if day > 60 {
        day -= 60;
        Kind::Samordningsnummer
    } else {
        Kind::Personnummer
    };
    let exists = |year: u32| {
        NaiveDate::from_ymd_opt(year as i32, month, day).is_some()
            && year as i32 <= chrono::Utc::now().year()
    };
    let date_ok = match century {
        Some(c) => (18..=20).contains(&c) && exists(c * 100 + yy),
        // Without the century, the date must exist in one the number can mean: `+` marks people
        // aged 100 or more.
        None if plus => exists(1800 + yy) || exists(1900 + yy),
        None => exists(1900 + yy) || exists(2000 + yy),
    };
    if date_ok && luhn_ok(ten) {
        Some(kind)
    } else {
        None
    }
}

/// The Luhn (mod 10) check over the 10-digit form: weights 2,1,2,1… on the first nine digits,
/// digit sums of the products; the tenth digit makes the total a multiple of ten.
fn luhn_ok(ten: &[u32]) -> bool {
    let sum: u32 = ten[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = if i % 2 == 0 { d * 2 } else { *d };
            p / 10 + p % 10
        })
        .sum();
    (10 - sum % 10) % 10 == ten[9]
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

/// Swedish phone numbers: mobile `07x-xxx xx xx` (10 digits), landlines with an area code
/// (`08-123 456 78`, `031-12 34 56`; 8–10 digits with the leading 0), and both in international
/// form (`+46 70 123 45 67`, `+46 (0)8 …`, `0046 …`). Groups may be separated by one space or
/// hyphen.
pub fn phone_numbers(text: &str) -> Vec<Detection> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = (b[i] == b'+' || b[i] == b'0') && !(i > 0 && is_word_byte_before(text, i));
        if starts {
            if let Some(end) = phone_at(b, i) {
                if !is_word_byte_at(text, end) {
                    found.push(Detection {
                        kind: Kind::Phone,
                        start: i,
                        end,
                    });
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    found
}

/// The end of a phone number starting at `i`, if one does.
fn phone_at(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    // The national number always starts with the trunk prefix 0, also when written
    // internationally (where it is dropped).
    let mut national: Vec<u8> = Vec::with_capacity(12);
    if b[j..].starts_with(b"+46") {
        j += 3;
    } else if b[j..].starts_with(b"0046") {
        j += 4;
    }
    if j > i {
        national.push(b'0');
        if b.get(j) == Some(&b' ') || b.get(j) == Some(&b'-') {
            j += 1;
        }
        if b[j..].starts_with(b"(0)") {
            j += 3;
            if b.get(j) == Some(&b' ') {
                j += 1;
            }
        }
        if !b.get(j).is_some_and(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    } else if !(b.get(j + 1).is_some_and(|c| (b'1'..=b'9').contains(c))) {
        return None; // "00…" that is not 0046, or a lone 0
    }
    // Digit groups separated by single spaces or hyphens; remember where each group ends, so
    // that digits that follow the number ("ring 070-123 45 67 2 gånger") can be left out.
    let mut ends: Vec<(usize, usize)> = Vec::new();
    loop {
        let run = digit_run(b, j);
        if run == 0 {
            break;
        }
        national.extend_from_slice(&b[j..j + run]);
        j += run;
        ends.push((j, national.len()));
        match (b.get(j), b.get(j + 1)) {
            (Some(b' ' | b'-'), Some(c)) if c.is_ascii_digit() => j += 1,
            _ => break,
        }
        if national.len() > 12 {
            break;
        }
    }
    ends.iter()
        .rev()
        .find(|(_, n)| valid_national(&national[..*n]))
        .map(|(end, _)| *end)
}

fn valid_national(n: &[u8]) -> bool {
    if n.len() < 2 || n[0] != b'0' || n[1] == b'0' {
        return false;
    }
    if n[1] == b'7' {
        n.len() == 10 // mobile numbers: 07x + 7 digits
    } else {
        (8..=10).contains(&n.len())
    }
}

// ---------------------------------------------------------------------------------------------
// E-mail addresses

/// E-mail addresses: a local part, `@`, and a domain with at least one dot and a top-level domain
/// of two or more letters. A Twitter-style `@name` is not an address.
pub fn emails(text: &str) -> Vec<Detection> {
    let b = text.as_bytes();
    let mut found: Vec<Detection> = Vec::new();
    for (at, _) in text.match_indices('@') {
        if found.last().is_some_and(|d| at < d.end) {
            continue;
        }
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || "._%+-".contains(*c))
            .last()
            .map_or(at, |(i, _)| i);
        // A local part does not start with a dot (the dot ended a sentence before it).
        let start = start + text[start..at].len() - text[start..at].trim_start_matches('.').len();
        let mut end = at + 1;
        for (i, c) in text[at + 1..].char_indices() {
            if c.is_alphanumeric() || c == '-' || c == '.' {
                end = at + 1 + i + c.len_utf8();
            } else {
                break;
            }
        }
        // A trailing dot or hyphen ends the sentence, not the address.
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &text[at + 1..end];
        let labels_ok = domain.split('.').all(|l| !l.is_empty());
        let tld_ok = domain
            .rsplit('.')
            .next()
            .is_some_and(|t| t.chars().count() >= 2 && t.chars().all(char::is_alphabetic));
        if start < at && domain.contains('.') && labels_ok && tld_ok {
            found.push(Detection {
                kind: Kind::Email,
                start,
                end,
            });
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------

/// Whether the char ending just before byte `i` is a letter or digit: a number glued to a word
/// ("ABC850312-1234", "nr0701234567x") is a reference, not personal data.
fn is_word_byte_before(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

fn is_word_byte_at(text: &str, i: usize) -> bool {
    text[i..].chars().next().is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        detect(text)
            .into_iter()
            .map(|d| (d.kind, &text[d.start..d.end]))
            .collect()
    }

    #[test]
    fn personnummer_in_all_written_forms() {
        for pnr in [
            "121212-1212",
            "1212121212",
            "19121212-1212",
            "191212121212",
            "811218-9876",
            "000229-1235", // 29 February 2000 existed
        ] {
            assert_eq!(identity_number_kind(pnr), Some(Kind::Personnummer), "{pnr}");
        }
        assert_eq!(
            identity_number_kind("121212+1212"),
            Some(Kind::Personnummer)
        );
        assert_eq!(
            kinds("Mitt pnr är 811218-9876, hjälp!"),
            vec![(Kind::Personnummer, "811218-9876")]
        );
    }

    #[test]
    fn samordningsnummer_adds_sixty_to_the_day() {
        assert_eq!(
            identity_number_kind("701063-2391"),
            Some(Kind::Samordningsnummer)
        );
        assert_eq!(
            identity_number_kind("850372-1238"),
            Some(Kind::Samordningsnummer)
        );
        // day 93 - 60 = 33: no such day
        assert_eq!(identity_number_kind("850393-1230"), None);
    }

    #[test]
    fn wrong_check_digits_and_impossible_dates_are_rejected() {
        assert_eq!(identity_number_kind("121212-1213"), None); // check digit
        assert_eq!(identity_number_kind("811218-9877"), None);
        assert_eq!(identity_number_kind("701063-2392"), None);
        // 13th month, day 0, 30 February, 29 February in a year that was not a leap year
        for bad in ["851312-1234", "850300-1234", "850230-1234", "19010229-0000"] {
            assert!(identity_numbers(bad).is_empty(), "{bad}");
        }
        // A number that passes Luhn but is dated in the future, and an organisation number
        // (month + 20) are not personal identity numbers.
        assert!(identity_numbers("20991231-0005").is_empty());
        assert!(identity_numbers("556036-0793").is_empty());
        // Glued to letters or longer digit strings: a reference, not a person.
        assert!(identity_numbers("ref811218-9876x").is_empty());
        assert!(identity_numbers("98112189876").is_empty());
    }

    #[test]
    fn phone_numbers_swedish_and_international() {
        for (text, number) in [
            ("ring 070-123 45 67 idag", "070-123 45 67"),
            ("ring 0701234567", "0701234567"),
            ("sms 073-1234567.", "073-1234567"),
            ("växeln 08-123 456 78", "08-123 456 78"),
            ("tel 031-12 34 56", "031-12 34 56"),
            ("+46 70 123 45 67", "+46 70 123 45 67"),
            ("+46701234567", "+46701234567"),
            ("+46 (0)8 123 456 78", "+46 (0)8 123 456 78"),
            ("0046 70 123 45 67", "0046 70 123 45 67"),
            ("ring 070-123 45 67 2 gånger", "070-123 45 67"),
        ] {
            assert_eq!(kinds(text), vec![(Kind::Phone, number)], "{text}");
        }
        for not_phone in [
            "år 2024-01-15",
            "kl 08.00-16.00",
            "070-12",
            "0 kr",
            "07012345678901",
            "x0701234567",
        ] {
            assert!(phone_numbers(not_phone).is_empty(), "{not_phone}");
        }
    }

    #[test]
    fn e_mail_addresses() {
        assert_eq!(
            kinds("Mejla anna.svensson@kommun.se. Tack"),
            vec![(Kind::Email, "anna.svensson@kommun.se")]
        );
        assert_eq!(
            kinds("till åsa-lö@exempel.nu!"),
            vec![(Kind::Email, "åsa-lö@exempel.nu")]
        );
        for not_email in ["@kommunen tack", "a@b", "mail@host.c1", "x@.se", "@@"] {
            assert!(emails(not_email).is_empty(), "{not_email}");
        }
    }

    #[test]
    fn masking_keeps_enough_to_recognise_and_no_more() {
        assert_eq!(mask("pnr 19850312-1231"), "pnr 19850312-****");
        assert_eq!(mask("pnr 8503121231."), "pnr 850312****.");
        assert_eq!(mask("ring 070-123 45 12"), "ring 070-*** ** 12");
        assert_eq!(mask("+46 70 123 45 12"), "+46 70 *** ** 12");
        assert_eq!(mask("08-123 456 78"), "08-*** *** 78");
        assert_eq!(
            mask("skriv till anna@example.se"),
            "skriv till a***@example.se"
        );
        assert_eq!(mask("inget här 123"), "inget här 123");
        // An invalid number is not personal data and stays as it is.
        assert_eq!(mask("19850312-1234"), "19850312-1234");
    }
}
