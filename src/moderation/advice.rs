//! Triage's advice at ingestion: flags for a new message and, above the threshold, a case.
//! Triage only triages: a trained moderator decides (DESIGN.md §3).

use super::service::Moderation;
use crate::model::{Change, Direction, Inbound, Item};
use crate::store::moderation::FlagInput;

/// The advice for one arriving item, or None when there is nothing to flag.
pub fn advise(moderation: &Moderation, inbound: &Inbound, now_ms: i64) -> Option<FlagInput> {
    let Item::Message(m) = &inbound.item else {
        return None;
    };
    // Our own messages are not triaged; only what arrives as a new text.
    if m.direction == Direction::Outbound || !matches!(m.change, Change::Created | Change::Edited) {
        return None;
    }
    let text = m.text.as_deref().filter(|t| !t.trim().is_empty())?;
    let triage = moderation.engine.triage(text);
    if triage.categories.is_empty() {
        return None;
    }
    let severity = serde_json::to_value(triage.severity)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "S0".into());
    let threshold = if m.kind.is_direct() {
        &moderation.dm_case_threshold
    } else {
        &moderation.case_threshold
    };
    let open_case = (severity.as_str() >= threshold.as_str()).then(|| {
        moderation
            .opening(&severity, triage.categories.clone(), "triage")
            .map(|mut o| {
                // Outside staffed hours an obviously criminal comment is hidden at once, reversibly,
                // until a moderator reviews it (the Bulletin Board Act asks for supervision).
                o.auto_hide = !m.kind.is_direct()
                    && severity.as_str() >= "S4"
                    && !moderation.staffed.is_staffed(now_ms);
                o
            })
    });
    Some(FlagInput {
        severity,
        score: f64::from(triage.score),
        categories: triage.categories.clone(),
        findings: serde_json::to_value(&triage.findings).unwrap_or_default(),
        model_version: triage.model_version.clone(),
        open_case: open_case.flatten(),
    })
}
