//! A report whose every text field carries the given hostile text, for the renderers' property
//! tests (tests/properties.rs) and their fuzz target (fuzz/fuzz_targets/report_render.rs): the
//! renderers must neutralise whatever a channel name, a FAQ label or a post says; and the check
//! that they do.
#![allow(dead_code)]

use std::collections::BTreeMap;

use tavla::reports::{
    ChannelFigures, FaqFigure, Figure, HeatMap, HeatedThread, ModerationFigures, PeriodInfo,
    Report, ServiceLevel, METRICS,
};

/// `text` in every field a person can write into (channel names, FAQ names and examples, post
/// excerpts, categories, answered links), with figures that exercise each number format.
pub fn report_with(text: &str, number: f64) -> Report {
    let figure = Figure {
        value: Some(number),
        previous: Some(number / 3.0),
    };
    let figures: BTreeMap<&'static str, Figure> = METRICS.iter().map(|m| (*m, figure)).collect();
    let channel = ChannelFigures {
        channel_id: Some(1),
        channel_name: Some(text.to_string()),
        platform: Some(text.to_string()),
        kind: "dm".into(),
        figures: figures.clone(),
    };
    let period = |label: &str| PeriodInfo {
        label: label.to_string(),
        kind: "month",
        start: 1_790_000_000_000,
        end: 1_792_000_000_000,
    };
    let by = |key: &str| BTreeMap::from([(key.to_string(), figure)]);
    Report {
        period: period("2026-11"),
        previous_period: period("2026-10"),
        generated_at: 1_792_000_000_000,
        service_level: ServiceLevel {
            dm_hours: 24,
            comment_hours: 48,
        },
        scope: None,
        channels: vec![channel.clone()],
        totals: vec![ChannelFigures {
            channel_id: None,
            channel_name: None,
            ..channel
        }],
        heatmap: BTreeMap::from([(
            "dm".to_string(),
            HeatMap {
                value: vec![vec![number as i64; 24]; 7],
                previous: vec![vec![0; 24]; 7],
            },
        )]),
        faq: vec![FaqFigure {
            cluster_id: 7,
            name: text.to_string(),
            count: figure,
            people: 3,
            change: -2,
            significant: true,
            answered: true,
            answered_url: Some(text.to_string()),
            examples: vec![text.to_string(), format!("{text}?")],
        }],
        moderation: ModerationFigures {
            cases: figure,
            by_level: by("S4"),
            by_category: by(text),
            time_to_action_median_seconds: figure,
            time_to_action_p90_seconds: figure,
            police_reports: figure,
            hidden_off_hours: figure,
            heated_threads: figure,
        },
        heated: vec![HeatedThread {
            conversation_id: 9,
            channel_id: 1,
            channel_name: text.to_string(),
            post_platform_id: Some(text.to_string()),
            post_excerpt: Some(text.to_string()),
            peak_hour_start: 1_791_000_000_000,
            peak_comments: 40,
            baseline_per_hour: number,
            peak_flagged: 5,
            heated_hours: 2,
            comments: 120,
        }],
        handovers: vec![tavla::reports::workflow::Counted {
            name: Some(text.to_string()),
            count: figure,
        }],
        categories: vec![tavla::reports::workflow::Counted {
            name: Some(text.to_string()),
            count: figure,
        }],
        posts: Some(post_section(text, figure)),
    }
}

/// The post follow-up section with `text` in the channel's name, the post's words, id and type,
/// and the campaign's name.
fn post_section(text: &str, figure: Figure) -> tavla::reports::post_section::PostSection {
    use tavla::reports::post_section::{CampaignFigures, ChannelTop, PostSection, TopPost};
    let post = TopPost {
        post_id: 4,
        platform_id: text.to_string(),
        post_type: Some(text.to_string()),
        excerpt: Some(text.to_string()),
        published_at: Some(1_791_000_000_000),
        value: Some(450),
        previous: None,
        comments: 3,
        questions: 1,
    };
    PostSection {
        metric: "reach".into(),
        channels: vec![ChannelTop {
            channel_id: 1,
            channel_name: text.to_string(),
            top: vec![post.clone()],
            previous_top: vec![post],
            posts: figure,
        }],
        goals_met: figure,
        goals_not_met: figure,
        campaigns: vec![CampaignFigures {
            campaign_id: 2,
            name: text.to_string(),
            sessions: figure,
            goal_completions: figure,
        }],
    }
}

/// With `text` in every field people write into: the printable page has exactly the markup of
/// the same report with harmless text (escaping adds none), no CSV cell but a number starts like
/// a formula, and the JSON carries the text as it was.
pub fn assert_report_neutralises(text: &str, number: f64) {
    use tavla::reports::render;
    let report = report_with(text, number);
    let tame: String = (text.chars())
        .map(|c| if "<>\"'&".contains(c) { 'x' } else { c })
        .collect();
    let lang = render::Lang::parse(Some("sv"));
    let hostile = render::html(&report, lang);
    let plain = render::html(&report_with(&tame, number), lang);
    for c in ['<', '>', '"', '\''] {
        assert_eq!(
            hostile.matches(c).count(),
            plain.matches(c).count(),
            "{c:?} from {text:?}"
        );
    }
    for cell in csv_cells(&render::csv(&report)) {
        let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
        assert!(
            !formula || cell.parse::<f64>().is_ok(),
            "cell {cell:?} from {text:?}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&render::json(&report)).expect("JSON");
    assert_eq!(json["channels"][0]["channel_name"].as_str(), Some(text));
}

/// The cells of an RFC 4180 document (quoted cells may hold commas, quotes and newlines).
pub fn csv_cells(csv: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = csv.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',' | '\n') => cells.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, c) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}
