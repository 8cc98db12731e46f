//! The report as JSON, CSV (one row per figure, safe to open in a spreadsheet) and a standalone
//! printable HTML page with inline SVG charts: no scripts, no fonts, nothing fetched.

use std::fmt::Write as _;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::{Figure, Report, METRICS};
use crate::text::escape_html as escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Sv,
    En,
}

impl Lang {
    pub fn parse(s: Option<&str>) -> Lang {
        match s {
            Some("en") => Lang::En,
            _ => Lang::Sv,
        }
    }
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into())
}

/// A number as reports print it: whole numbers without decimals, others with up to four.
fn num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => format!("{}", x as i64),
        Some(x) => {
            let s = format!("{x:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// One CSV cell: a leading =, +, -, @, tab or carriage return (which a spreadsheet would run as
/// a formula) gets a single quote before it, then RFC 4180 quoting.
pub fn csv_cell(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

const DAYS_EN: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One row per figure: section, channel, kind, metric, value, previous value.
pub fn csv(report: &Report) -> String {
    let mut out = String::new();
    let mut row = |cells: [&str; 6]| {
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    row(["section", "channel", "kind", "metric", "value", "previous"]);
    let period = format!("{} / {}", report.period.label, report.previous_period.label);
    row(["period", "", "", "period", &period, ""]);
    for (section, rows) in [("channel", &report.channels), ("total", &report.totals)] {
        for r in rows {
            let name = r.channel_name.clone().unwrap_or_default();
            for m in METRICS {
                let f = r.figures.get(m).copied().unwrap_or_default();
                row([section, &name, &r.kind, m, &num(f.value), &num(f.previous)]);
            }
        }
    }
    for (kind, map) in &report.heatmap {
        for (d, day) in DAYS_EN.iter().enumerate() {
            for h in 0..24 {
                let metric = format!("{day} {h:02}");
                row([
                    "heatmap",
                    "",
                    kind,
                    &metric,
                    &map.value[d][h].to_string(),
                    &map.previous[d][h].to_string(),
                ]);
            }
        }
    }
    for f in &report.faq {
        let metric = format!("{} #{}", f.name, f.cluster_id);
        row([
            "faq",
            "",
            "comments",
            &metric,
            &num(f.count.value),
            &num(f.count.previous),
        ]);
        row([
            "faq_answered",
            "",
            "comments",
            &metric,
            if f.answered { "1" } else { "0" },
            "",
        ]);
    }
    let m = &report.moderation;
    let mut moderation = vec![
        ("cases".to_string(), m.cases),
        (
            "time_to_action_median_seconds".into(),
            m.time_to_action_median_seconds,
        ),
        (
            "time_to_action_p90_seconds".into(),
            m.time_to_action_p90_seconds,
        ),
        ("police_reports".into(), m.police_reports),
        ("hidden_off_hours".into(), m.hidden_off_hours),
        ("heated_threads".into(), m.heated_threads),
    ];
    moderation.extend(m.by_level.iter().map(|(l, f)| (format!("level {l}"), *f)));
    moderation.extend(
        m.by_category
            .iter()
            .map(|(c, f)| (format!("category {c}"), *f)),
    );
    for (metric, f) in moderation {
        row([
            "moderation",
            "",
            "",
            &metric,
            &num(f.value),
            &num(f.previous),
        ]);
    }
    for t in &report.heated {
        let metric = |what: &str| format!("thread {} {what}", t.conversation_id);
        let excerpt = t.post_excerpt.clone().unwrap_or_default();
        row([
            "heated",
            &t.channel_name,
            "comments",
            &metric("post"),
            &excerpt,
            "",
        ]);
        for (what, v) in [
            ("peak_hour_start", t.peak_hour_start),
            ("peak_comments", t.peak_comments),
            ("peak_flagged", t.peak_flagged),
            ("heated_hours", t.heated_hours),
            ("comments", t.comments),
        ] {
            row([
                "heated",
                &t.channel_name,
                "comments",
                &metric(what),
                &v.to_string(),
                "",
            ]);
        }
    }
    for cells in super::workflow::csv_rows(report) {
        row(cells.each_ref().map(String::as_str));
    }
    if let Some(posts) = &report.posts {
        for cells in super::post_section::csv_rows(posts) {
            row(cells.each_ref().map(String::as_str));
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;max-width:60rem}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #999}\
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}\
th:first-child,td:first-child{text-align:left}.prev{color:#555;font-size:.75rem}\
.up{color:#a40000}.down{color:#006100}svg{max-width:100%;height:auto}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}";

/// The report page's own Content-Security-Policy: nothing loads, scripts never run, and only
/// this page's one style block applies (by its hash; no `unsafe-inline`).
pub fn html_csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64(&Sha256::digest(STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
    })
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn label(key: &str, lang: Lang) -> String {
    let sv = match key {
        "inbound" => "Inkommande",
        "replies" => "Svar",
        "questions" => "Frågor som väntade",
        "answered" => "Besvarade",
        "first_response_median_seconds" => "Första svar, median",
        "first_response_p90_seconds" => "Första svar, 90:e percentil",
        "within_service_level" => "Inom servicenivån",
        "resolved" => "Avslutade",
        "resolution_median_seconds" => "Tid till avslut, median",
        "resolution_p90_seconds" => "Tid till avslut, 90:e percentil",
        "waiting_on_person" => "Väntar på personen",
        "dm" => "Direktmeddelanden",
        "comments" => "Kommentarer",
        "title" => "Uppföljning av kanaler och frågor",
        "against" => "jämfört med",
        "channels" => "Kanaler",
        "channel" => "Kanal",
        "kind" => "Typ",
        "total" => "Totalt",
        "heatmap" => "Veckans timmar (inkommande, svensk tid)",
        "faq" => "Vanligaste frågorna",
        "question" => "Fråga",
        "count" => "Antal",
        "answered_q" => "Besvarad",
        "yes" => "ja",
        "no" => "nej",
        "moderation" => "Moderering",
        "cases" => "Ärenden",
        "time_to_action_median_seconds" => "Tid till åtgärd, median",
        "time_to_action_p90_seconds" => "Tid till åtgärd, 90:e percentil",
        "police_reports" => "Polisanmälningar",
        "hidden_off_hours" => "Dolda utanför bemannad tid",
        "heated_threads" => "Heta trådar",
        "heated" => "Heta trådar och inläggen bakom dem",
        "post" => "Inlägg",
        "peak" => "Flest per timme",
        "flagged" => "Flaggade",
        "hours" => "Heta timmar",
        "level" => "Nivå",
        "category" => "Kategori",
        "previous" => "förra perioden",
        "none" => "Inget att visa.",
        "service" => "Servicenivå: första svar inom",
        "hours_dm" => "timmar för direktmeddelanden och",
        "hours_comments" => "timmar för kommentarer.",
        "aggregates" => "Endast sammanräknade siffror; ingen rangordning av enskilda medarbetare.",
        other => other,
    };
    if lang == Lang::Sv {
        return sv.to_string();
    }
    match key {
        "inbound" => "Inbound",
        "replies" => "Replies",
        "questions" => "Questions waiting",
        "answered" => "Answered",
        "first_response_median_seconds" => "First response, median",
        "first_response_p90_seconds" => "First response, 90th percentile",
        "within_service_level" => "Within service level",
        "resolved" => "Resolved",
        "resolution_median_seconds" => "Resolution, median",
        "resolution_p90_seconds" => "Resolution, 90th percentile",
        "waiting_on_person" => "Waiting on the person",
        "dm" => "Direct messages",
        "comments" => "Comments",
        "title" => "Follow-up of channels and questions",
        "against" => "against",
        "channels" => "Channels",
        "channel" => "Channel",
        "kind" => "Kind",
        "total" => "Total",
        "heatmap" => "Hours of the week (inbound, Swedish time)",
        "faq" => "Most frequent questions",
        "question" => "Question",
        "count" => "Count",
        "answered_q" => "Answered",
        "yes" => "yes",
        "no" => "no",
        "moderation" => "Moderation",
        "cases" => "Cases",
        "time_to_action_median_seconds" => "Time to action, median",
        "time_to_action_p90_seconds" => "Time to action, 90th percentile",
        "police_reports" => "Police reports",
        "hidden_off_hours" => "Hidden outside staffed hours",
        "heated_threads" => "Heated threads",
        "heated" => "Heated threads and the posts behind them",
        "post" => "Post",
        "peak" => "Most in an hour",
        "flagged" => "Flagged",
        "hours" => "Heated hours",
        "level" => "Level",
        "category" => "Category",
        "previous" => "previous period",
        "none" => "Nothing to show.",
        "service" => "Service level: first reply within",
        "hours_dm" => "hours for direct messages and",
        "hours_comments" => "hours for comments.",
        "aggregates" => "Aggregates only; no ranking of individual staff.",
        other => other,
    }
    .to_string()
}

/// A figure in words: durations as hours and minutes, shares as percent, counts as they are.
fn show(metric: &str, v: Option<f64>) -> String {
    let Some(x) = v else {
        return "–".into();
    };
    if metric.ends_with("_seconds") {
        let minutes = (x / 60.0).round() as i64;
        if minutes >= 60 {
            format!("{} h {} min", minutes / 60, minutes % 60)
        } else if x < 60.0 {
            format!("{} s", x.round() as i64)
        } else {
            format!("{minutes} min")
        }
    } else if metric == "within_service_level" {
        format!("{} %", (x * 100.0).round() as i64)
    } else {
        num(Some(x))
    }
}

fn cell(metric: &str, f: &Figure) -> String {
    format!(
        "<td>{}<br><span class=\"prev\">{}</span></td>",
        escape(&show(metric, f.value)),
        escape(&show(metric, f.previous))
    )
}

/// Bars of this period's inbound per channel and kind, the previous period's beside in grey.
fn bar_chart(report: &Report, lang: Lang) -> String {
    let rows = &report.channels;
    if rows.is_empty() {
        return format!("<p>{}</p>", label("none", lang));
    }
    let max = rows
        .iter()
        .flat_map(|r| {
            let f = r.figures.get("inbound").copied().unwrap_or_default();
            [f.value.unwrap_or(0.0), f.previous.unwrap_or(0.0)]
        })
        .fold(1.0_f64, f64::max);
    let height = 30 * rows.len() + 10;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 700 {height}\" width=\"700\" height=\"{height}\" role=\"img\" aria-label=\"{}\">",
        escape(&label("inbound", lang))
    );
    for (i, r) in rows.iter().enumerate() {
        let f = r.figures.get("inbound").copied().unwrap_or_default();
        let y = 30 * i + 5;
        let w_now = (f.value.unwrap_or(0.0) / max * 400.0).round();
        let w_prev = (f.previous.unwrap_or(0.0) / max * 400.0).round();
        let name = format!(
            "{} · {}",
            r.channel_name.as_deref().unwrap_or(""),
            label(&r.kind, lang)
        );
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>\
             <rect x=\"230\" y=\"{y}\" width=\"{w_now}\" height=\"12\" fill=\"#1f5fa8\"/>\
             <rect x=\"230\" y=\"{}\" width=\"{w_prev}\" height=\"8\" fill=\"#b0b0b0\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\">{} ({})</text>",
            y + 12,
            escape(&name.chars().take(40).collect::<String>()),
            y + 14,
            235.0 + w_now.max(w_prev),
            y + 11,
            num(f.value),
            num(f.previous)
        );
    }
    s.push_str("</svg>");
    s
}

/// A week of hours: one row per day, one square per hour, darker for more messages.
fn heat_map(map: &super::HeatMap, lang: Lang) -> String {
    let days_sv = ["mån", "tis", "ons", "tor", "fre", "lör", "sön"];
    let days = if lang == Lang::Sv { days_sv } else { DAYS_EN };
    let max = map
        .value
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut s = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 560 190\" width=\"560\" height=\"190\" role=\"img\">",
    );
    for h in (0..24).step_by(3) {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"12\" font-size=\"9\">{h:02}</text>",
            40 + h * 21
        );
    }
    for (d, day) in days.iter().enumerate() {
        let y = 18 + d * 23;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"10\">{day}</text>",
            y + 14
        );
        for h in 0..24 {
            let v = map.value[d][h];
            let opacity = if v == 0 {
                0.04
            } else {
                0.15 + 0.85 * v as f64 / max
            };
            let _ = write!(
                s,
                "<rect x=\"{}\" y=\"{y}\" width=\"19\" height=\"20\" fill=\"#1f5fa8\" fill-opacity=\"{opacity:.2}\"><title>{day} {h:02}: {v} ({})</title></rect>",
                40 + h * 21,
                map.previous[d][h]
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The FAQ top list as bars with an arrow for the change against the previous period.
fn faq_chart(report: &Report, lang: Lang) -> String {
    if report.faq.is_empty() {
        return format!("<p>{}</p>", label("none", lang));
    }
    let max = report
        .faq
        .iter()
        .map(|f| {
            f.count
                .value
                .unwrap_or(0.0)
                .max(f.count.previous.unwrap_or(0.0))
        })
        .fold(1.0_f64, f64::max);
    let height = 24 * report.faq.len() + 10;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 700 {height}\" width=\"700\" height=\"{height}\" role=\"img\">"
    );
    for (i, f) in report.faq.iter().enumerate() {
        let y = 24 * i + 5;
        let w = (f.count.value.unwrap_or(0.0) / max * 300.0).round();
        let (arrow, colour) = match f.change {
            c if c > 0 => ("▲", "#a40000"),
            c if c < 0 => ("▼", "#006100"),
            _ => ("■", "#555555"),
        };
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"11\">{}</text>\
             <rect x=\"330\" y=\"{y}\" width=\"{w}\" height=\"14\" fill=\"#1f5fa8\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{colour}\">{} {arrow} {:+}</text>",
            y + 12,
            escape(&f.name.chars().take(50).collect::<String>()),
            335.0 + w,
            y + 12,
            num(f.count.value),
            f.change
        );
    }
    s.push_str("</svg>");
    s
}

fn table_head(s: &mut String, cols: &[String]) {
    s.push_str("<table><thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", escape(c));
    }
    s.push_str("</tr></thead><tbody>");
}

/// The standalone page. Every text that comes from data is escaped.
pub fn html(report: &Report, lang: Lang) -> String {
    let mut s = String::new();
    html_head(&mut s, report, lang);
    channels_section(&mut s, report, lang);
    heatmap_section(&mut s, report, lang);
    faq_section(&mut s, report, lang);
    moderation_section(&mut s, report, lang);
    s.push_str(&super::workflow::html(report, lang));
    heated_section(&mut s, report, lang);
    if let Some(posts) = &report.posts {
        s.push_str(&super::post_section::html(posts, lang));
    }
    s.push_str("</body></html>");
    s
}

/// The document head, the title and what the figures compare.
fn html_head(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let _ = write!(
        s,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{} {}</title><style>{STYLE}</style></head><body>",
        if lang == Lang::Sv { "sv" } else { "en" },
        l("title"),
        escape(&report.period.label)
    );
    let _ = write!(
        s,
        "<h1>{} {}</h1><p>{} {} ({}). {} {} {} {} {}</p><p>{}</p>",
        l("title"),
        escape(&report.period.label),
        l("against"),
        escape(&report.previous_period.label),
        l("previous"),
        l("service"),
        report.service_level.dm_hours,
        l("hours_dm"),
        report.service_level.comment_hours,
        l("hours_comments"),
        l("aggregates")
    );
}

/// Each channel's figures, as a chart and a table with the totals.
fn channels_section(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let _ = write!(s, "<h2>{}</h2>", l("channels"));
    s.push_str(&bar_chart(report, lang));
    let mut cols = vec![label("channel", lang), label("kind", lang)];
    cols.extend(METRICS.iter().map(|m| label(m, lang)));
    table_head(s, &cols);
    let total = label("total", lang);
    for r in report.channels.iter().chain(&report.totals) {
        let name = r.channel_name.clone().unwrap_or_else(|| total.clone());
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", escape(&name), l(&r.kind));
        for m in METRICS {
            s.push_str(&cell(m, &r.figures.get(m).copied().unwrap_or_default()));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
}

/// When messages arrive, per kind of conversation.
fn heatmap_section(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let _ = write!(s, "<h2>{}</h2>", l("heatmap"));
    for (kind, map) in &report.heatmap {
        let _ = write!(s, "<h3>{}</h3>", l(kind));
        s.push_str(&heat_map(map, lang));
    }
}

/// The recurring questions, with examples and whether they are answered.
fn faq_section(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let _ = write!(s, "<h2>{}</h2>", l("faq"));
    s.push_str(&faq_chart(report, lang));
    if !report.faq.is_empty() {
        table_head(
            s,
            &[
                label("question", lang),
                label("count", lang),
                label("answered_q", lang),
            ],
        );
        for f in &report.faq {
            let _ = write!(s, "<tr><td>{}", escape(&f.name));
            for e in &f.examples {
                let _ = write!(s, "<br><span class=\"prev\">{}</span>", escape(e));
            }
            let _ = write!(
                s,
                "</td>{}<td>{}</td></tr>",
                cell("count", &f.count),
                if f.answered { l("yes") } else { l("no") }
            );
        }
        s.push_str("</tbody></table>");
    }
}

/// Moderation's cases, times to action, by level and by category.
fn moderation_section(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let m = &report.moderation;
    let _ = write!(s, "<h2>{}</h2>", l("moderation"));
    table_head(s, &[String::new(), label("count", lang)]);
    for (k, f) in [
        ("cases", &m.cases),
        (
            "time_to_action_median_seconds",
            &m.time_to_action_median_seconds,
        ),
        ("time_to_action_p90_seconds", &m.time_to_action_p90_seconds),
        ("police_reports", &m.police_reports),
        ("hidden_off_hours", &m.hidden_off_hours),
        ("heated_threads", &m.heated_threads),
    ] {
        let _ = write!(s, "<tr><td>{}</td>{}</tr>", l(k), cell(k, f));
    }
    for (level, f) in &m.by_level {
        let _ = write!(
            s,
            "<tr><td>{} {}</td>{}</tr>",
            l("level"),
            escape(level),
            cell("count", f)
        );
    }
    for (category, f) in &m.by_category {
        let _ = write!(
            s,
            "<tr><td>{}: {}</td>{}</tr>",
            l("category"),
            escape(category),
            cell("count", f)
        );
    }
    s.push_str("</tbody></table>");
}

/// The heated threads of the period.
fn heated_section(s: &mut String, report: &Report, lang: Lang) {
    let l = |k: &str| escape(&label(k, lang));
    let _ = write!(s, "<h2>{}</h2>", l("heated"));
    if report.heated.is_empty() {
        let _ = write!(s, "<p>{}</p>", l("none"));
    } else {
        table_head(
            s,
            &[
                label("post", lang),
                label("channel", lang),
                label("peak", lang),
                label("flagged", lang),
                label("hours", lang),
                label("comments", lang),
            ],
        );
        for t in &report.heated {
            let when = super::period::local_time(t.peak_hour_start)
                .format("%Y-%m-%d %H:00")
                .to_string();
            let _ = write!(
                s,
                "<tr><td>{}<br><span class=\"prev\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(t.post_excerpt.as_deref().unwrap_or("")),
                escape(&when),
                escape(&t.channel_name),
                t.peak_comments,
                t.peak_flagged,
                t.heated_hours,
                t.comments
            );
        }
        s.push_str("</tbody></table>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_quoted() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("Kommunen"), "Kommunen");
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn html_escapes_and_the_policy_names_the_style() {
        assert_eq!(
            escape("<img src=x onerror=\"a\">&'"),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
        assert!(html_csp().starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!html_csp().contains("unsafe-inline"));
    }
}
