//! Privacy and records (DESIGN.md §2): retention by rule (gallring), a person's data exported or
//! erased where the law allows, and personal data masked where a role does not need it.

pub mod erasure;
pub mod export;
pub mod masking;
pub mod retention;
pub mod rules;

use serde::Serialize;

/// A record kept although a rule or a request would dispose of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Kept {
    pub message_id: i64,
    pub conversation_id: i64,
    /// The rule that applies, `platform/message_kind` as in config/retention.toml.
    pub rule: String,
    #[schema(inline, value_type = KeptReason)]
    pub reason: &'static str,
    // Described in `kept_until`.
    #[schema(required = true, schema_with = kept_until)]
    pub until: Option<i64>,
}

/// `Kept::until`: a timestamp, or null.
fn kept_until() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(crate::described::timestamp())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "When the rule's period runs out; null while the conversation is not resolved.",
        ))
        .build()
        .into()
}

// Why a record is kept (`Kept::reason`), for the description only: the reasons are the words
// `explain` puts into sentences.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum KeptReason {
    LegalHold,
    OpenModerationCase,
    ModerationRecord,
    PublicRecord,
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
