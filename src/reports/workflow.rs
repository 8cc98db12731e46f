//! The contact centre's own work in the follow-up reports (issue 19): handovers per unit and
//! conversations per category ("the monthly follow-up of the contact centre's questions"), each
//! beside the period before. Aggregates only, never per staff member.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::render::Lang;
use super::{Figure, Report, ReportPeriod};
use crate::store::Store;
use crate::text::escape_html as escape;

/// A count under a name (a unit), this period and the one before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Counted {
    /// null: handed to a colleague who belonged to no unit.
    pub name: Option<String>,
    pub count: Figure,
}

/// Handovers per unit in the period and the one before, within the reader's channel limit;
/// the units with the most first.
pub async fn handovers(
    store: &Store,
    period: &ReportPeriod,
    previous: &ReportPeriod,
    channels: Option<&[i64]>,
) -> anyhow::Result<Vec<Counted>> {
    let now = store
        .handovers_per_unit(period.start_ms(), period.end_ms(), channels)
        .await?;
    let before = store
        .handovers_per_unit(previous.start_ms(), previous.end_ms(), channels)
        .await?;
    Ok(side_by_side(now, before))
}

/// Conversations begun in the period and the one before per category, within the reader's
/// channel limit; the largest first.
pub async fn categories(
    store: &Store,
    period: &ReportPeriod,
    previous: &ReportPeriod,
    channels: Option<&[i64]>,
) -> anyhow::Result<Vec<Counted>> {
    let now = store
        .categories_per_period(period.start_ms(), period.end_ms(), channels)
        .await?;
    let before = store
        .categories_per_period(previous.start_ms(), previous.end_ms(), channels)
        .await?;
    Ok(side_by_side(now, before))
}

/// Pairs the two periods' counts by name, the largest this period first.
pub fn side_by_side(
    now: Vec<(Option<String>, i64)>,
    before: Vec<(Option<String>, i64)>,
) -> Vec<Counted> {
    let mut by_name: BTreeMap<Option<String>, (i64, i64)> = BTreeMap::new();
    for (name, n) in now {
        by_name.entry(name).or_default().0 += n;
    }
    for (name, n) in before {
        by_name.entry(name).or_default().1 += n;
    }
    let mut out: Vec<Counted> = by_name
        .into_iter()
        .map(|(name, (n, p))| Counted {
            name,
            count: Figure::counts(n, p),
        })
        .collect();
    out.sort_by(|a, b| {
        b.count
            .value
            .partial_cmp(&a.count.value)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

fn label(key: &str, lang: Lang) -> &'static str {
    match (key, lang) {
        ("handovers", Lang::Sv) => "Överlämningar per enhet",
        ("handovers", _) => "Handovers per unit",
        ("unit", Lang::Sv) => "Enhet",
        ("categories", Lang::Sv) => "Konversationer per kategori",
        ("categories", _) => "Conversations per category",
        ("category", Lang::Sv) => "Kategori",
        ("category", _) => "Category",
        ("unit", _) => "Unit",
        ("count", Lang::Sv) => "Antal",
        ("count", _) => "Count",
        ("previous", Lang::Sv) => "förra perioden",
        ("previous", _) => "previous period",
        ("no_unit", Lang::Sv) => "(kollega utan enhet)",
        ("no_unit", _) => "(colleague without a unit)",
        ("none", Lang::Sv) => "Inget att visa.",
        _ => "Nothing to show.",
    }
}

fn table(s: &mut String, heading: &str, first: &str, rows: &[Counted], lang: Lang) {
    let _ = write!(s, "<h2>{}</h2>", escape(label(heading, lang)));
    if rows.is_empty() {
        let _ = write!(s, "<p>{}</p>", escape(label("none", lang)));
        return;
    }
    let _ = write!(
        s,
        "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        escape(label(first, lang)),
        escape(label("count", lang)),
        escape(label("previous", lang)),
    );
    let number = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{}", x as i64));
    for r in rows {
        let name = r.name.as_deref().unwrap_or(label("no_unit", lang));
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            number(r.count.value),
            number(r.count.previous)
        );
    }
    s.push_str("</tbody></table>");
}

/// The sections for the printable page.
pub fn html(report: &Report, lang: Lang) -> String {
    let mut s = String::new();
    table(&mut s, "handovers", "unit", &report.handovers, lang);
    table(&mut s, "categories", "category", &report.categories, lang);
    s
}

/// The sections' CSV rows: section, channel, kind, metric, value, previous value.
pub fn csv_rows(report: &Report) -> Vec<[String; 6]> {
    let number = |v: Option<f64>| v.map_or(String::new(), |x| format!("{}", x as i64));
    let rows = |section: &str, what: &str, list: &[Counted]| -> Vec<[String; 6]> {
        list.iter()
            .map(|r| {
                [
                    section.to_string(),
                    String::new(),
                    String::new(),
                    format!("{what} {}", r.name.as_deref().unwrap_or("")),
                    number(r.count.value),
                    number(r.count.previous),
                ]
            })
            .collect()
    };
    let mut out = rows("handovers", "unit", &report.handovers);
    out.extend(rows("categories", "category", &report.categories));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_paired_by_name_largest_first() {
        let rows = side_by_side(
            vec![(Some("Skola".into()), 1), (Some("Bygglov".into()), 3)],
            vec![(Some("Skola".into()), 2), (None, 4)],
        );
        let shown: Vec<(Option<&str>, Option<f64>, Option<f64>)> = rows
            .iter()
            .map(|r| (r.name.as_deref(), r.count.value, r.count.previous))
            .collect();
        assert_eq!(
            shown,
            [
                (Some("Bygglov"), Some(3.0), Some(0.0)),
                (Some("Skola"), Some(1.0), Some(2.0)),
                (None, Some(0.0), Some(4.0)),
            ]
        );
    }
}
