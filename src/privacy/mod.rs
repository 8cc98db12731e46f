//! Privacy and records (DESIGN.md §2): retention by rule (gallring), a person's data exported or
//! erased where the law allows, and personal data masked where a role does not need it.

pub mod erasure;
pub mod export;
pub mod masking;
pub mod retention;
pub mod rules;

use serde::Serialize;

/// A record kept although a rule or a request would dispose of it, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Kept {
    pub message_id: i64,
    pub conversation_id: i64,
    pub rule: String,
    /// `legal_hold`, `open_moderation_case`, `moderation_record` or `public_record`.
    pub reason: &'static str,
    /// When the rule's period runs out (null while the conversation is not resolved).
    pub until: Option<i64>,
}

/// Why a record is kept, in words for the report.
pub fn explain(reason: &str) -> &'static str {
    match reason {
        "legal_hold" => "a legal hold keeps it until the hold is lifted",
        "open_moderation_case" => "a moderation case about it is still open",
        "moderation_record" => {
            "it was under a moderation case: kept as the record of supervision until the case's period has run"
        }
        _ => "a public record (allmän handling) that the archive rules keep until its period has run",
    }
}
