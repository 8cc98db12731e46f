//! Moderation's SQL: triage flags, cases, steps and immutable evidence.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::outbox::{queue_private_reply_in, queue_visibility_in, DeliveryView, OutboxAction};
use super::scope::{s5_column, Args, ReadScope};
use super::{now_ms, Result, Store, StoreError, Tx};

/// Triage's advice for one new message, decided by the moderation capability before the write.
#[derive(Debug, Clone, Serialize)]
pub struct FlagInput {
    pub severity: String,
    pub score: f64,
    pub categories: Vec<String>,
    pub findings: serde_json::Value,
    /// The version of the trained model that scored the message (None: rules alone).
    pub model_version: Option<String>,
    /// Open a case at once (the advice is above the configured threshold).
    pub open_case: Option<CaseOpening>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseOpening {
    pub level: String,
    pub categories: Vec<String>,
    pub routine_version: String,
    pub due_minutes: i64,
    pub source: String,
    pub reported_by: Option<i64>,
    pub reason: Option<String>,
    /// Outside staffed hours an S4+ comment is hidden at once, reversibly, until reviewed.
    pub auto_hide: bool,
    /// An S4/S5 case gets an on-call alert to send (a receiver is configured).
    pub alert_on_call: bool,
    /// For a report on a message whose case is open: that case's routine version and its time
    /// limit for the reported level. A case keeps the version it opened under, raised or not.
    pub raise_under: Option<(String, i64)>,
}

/// One moderation case: a message, its level, and where the case stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// Case id.
    pub id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    /// The kind of the case's conversation: a DM's words are shown only to those who may read
    /// DMs.
    #[schema(schema_with = crate::described::conversation_kind)]
    pub conversation_kind: String,
    pub channel_id: i64,
    pub channel_name: String,
    #[schema(schema_with = crate::described::severity)]
    pub level: String,
    /// What triage flagged (e.g. `insult`, `threat`), most serious first; a case opened by a
    /// report starts with `reported`.
    pub categories: Vec<String>,
    /// Who opened it: triage at ingestion (at or above `case_threshold`, or `dm_case_threshold`
    /// for DMs) or a staff member's report.
    #[schema(schema_with = case_source)]
    pub source: String,
    /// The reporter's reason; null for cases opened by triage.
    pub reason: Option<String>,
    /// The version of config/routines.toml in force when the case was opened.
    pub routine_version: String,
    #[schema(schema_with = case_status)]
    pub status: String,
    /// When the case was opened. Milliseconds since the Unix epoch.
    pub opened_at: i64,
    /// When the routine wants it done: opened_at plus the routine's `due_minutes`. Milliseconds
    /// since the Unix epoch.
    pub due_at: i64,
    /// Open and past `due_at` (as of this answer).
    pub overdue: bool,
    /// When it was closed; null while open. Milliseconds since the Unix epoch.
    pub closed_at: Option<i64>,
    /// The decision written at closing; null while open.
    pub decision: Option<String>,
    #[schema(schema_with = crate::described::message_state)]
    pub message_state: String,
    /// The message's words, cut; None for S5 content (metadata only, DESIGN.md §3) and where the
    /// reader may not read the conversation's kind.
    pub preview: Option<String>,
}

/// One step taken on a case. Each step kind is taken at most once per case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepRecord {
    #[schema(schema_with = crate::described::step_kind)]
    pub step: String,
    /// Staff id of who took it; null for triage (`tavla:triage`).
    #[schema(required = true)]
    pub actor_id: Option<i64>,
    /// Username of who took it, or `tavla:triage`.
    pub actor: String,
    /// When it was taken. Milliseconds since the Unix epoch.
    pub at: i64,
    /// What the moderator gave (`reference`, `note`, `template`, `text`, null when not given), or
    /// `{"automatic": true}` for evidence captured automatically before a visibility change and for
    /// an automatic hide outside staffed hours (with a `note`). A step that asked something of the
    /// platform adds its `outbox_id`; `notify_poster` adds `notice_message_id`, the notice's own
    /// message in the DM conversation with the poster.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    #[schema(schema_with = delivery_or_null, required = true)]
    pub delivery: Option<DeliveryView>,
}

/// The immutable evidence record of a case's message, captured before any visibility change, in the
/// same transaction. For S5 only metadata: `content` is null.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub id: i64,
    pub message_id: i64,
    /// When it was captured. Milliseconds since the Unix epoch.
    pub captured_at: i64,
    /// Username of who captured it (or `tavla:triage`).
    pub captured_by: String,
    /// A link to the message on the platform, when one can be built (Facebook).
    #[schema(required = true)]
    pub permalink: Option<String>,
    #[schema(required = true)]
    pub author_platform_id: Option<String>,
    #[schema(required = true)]
    pub author_name: Option<String>,
    /// When the platform says the message was written. Milliseconds since the Unix epoch.
    pub platform_time: i64,
    // The stored copy (an `EvidenceContent`) read back as JSON: the hash is over the stored text.
    #[schema(schema_with = content_or_null, required = true)]
    pub content: Option<serde_json::Value>,
    /// SHA-256 (hex) over the record's fields, length-prefixed, computed at capture.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// Whether `sha256` still matches the stored record, recomputed when the case is read. False
    /// means the record was changed after capture.
    pub verified: bool,
}

/// The message's content as captured.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceContent {
    #[schema(required = true)]
    pub text: Option<String>,
    /// The attachments as stored (an array of Attachment).
    pub attachments: serde_json::Value,
    /// The raw payload as received from the platform (JSON), or null.
    pub raw: serde_json::Value,
}

/// Triage's advice for the message at ingestion. Triage only advises; a trained moderator decides.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TriageFlag {
    #[schema(schema_with = crate::described::severity)]
    pub severity: String,
    /// More and stronger findings score higher.
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    /// Flagged categories, most serious first.
    pub categories: Vec<String>,
    // `Finding`s as stored, `matched` null where the reader may not read the words.
    #[schema(schema_with = crate::described::findings)]
    pub findings: serde_json::Value,
    #[schema(schema_with = revision_or_null, required = true)]
    pub flagged_revision: Option<FlaggedRevision>,
    /// The version of the trained model (`tavla moderation train`) that scored the message beside
    /// the rules; null when the rules alone triaged it. Its findings have rules starting `model:`
    /// and point at the n-grams that pushed the score.
    #[schema(required = true)]
    pub model_version: Option<String>,
}

/// The edit whose text raised a message's flag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlaggedRevision {
    /// The edit's revision id.
    pub id: i64,
    /// When the platform says the edit was made. Milliseconds since the Unix epoch.
    #[schema(required = true)]
    pub platform_time: Option<i64>,
}

// The `Option` fields' descriptions, beside the reference and null (see
// `described::or_null_described`).
fn delivery_or_null() -> utoipa::openapi::Schema {
    crate::described::or_null_described(
        &<DeliveryView as utoipa::ToSchema>::name(),
        "For a step that asked something of the platform (a hide, unhide or removal; the notice \
         to the poster as a private reply): how that delivery stands now. Null for other steps.",
    )
}

fn content_or_null() -> utoipa::openapi::Schema {
    crate::described::or_null_described(
        &<EvidenceContent as utoipa::ToSchema>::name(),
        "The text, attachments and raw payload; null for S5.",
    )
}

fn revision_or_null() -> utoipa::openapi::Schema {
    crate::described::or_null_described(
        &<FlaggedRevision as utoipa::ToSchema>::name(),
        "Which version of the text raised the flag: null for the message as it first arrived, \
         otherwise the edit whose triage raised it.",
    )
}

/// Who opened a case, for the API description.
fn case_source() -> utoipa::openapi::Object {
    string_enum(&["triage", "report"])
}

/// Where a case stands, for the API description.
fn case_status() -> utoipa::openapi::Object {
    string_enum(&["open", "closed"])
}

/// The platform change a step decided, or null, for the API description.
fn platform_action() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::json!("hide"),
            serde_json::json!("unhide"),
            serde_json::json!("remove"),
            serde_json::Value::Null,
        ]))
        .build()
}

fn string_enum(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn case_select() -> String {
    format!(
        "select k.id, k.message_id, k.conversation_id, k.channel_id, ch.name as channel_name, \
         k.level, k.categories, k.source, k.reason, k.routine_version, k.status, k.opened_at, k.due_at, \
         k.closed_at, k.decision, m.state as message_state, m.text, c.kind as conversation_kind, {} \
         from moderation_cases k join channels ch on ch.id = k.channel_id join messages m on m.id = k.message_id \
         join conversations c on c.id = k.conversation_id",
        s5_column("m")
    )
}

fn case_from_row(scope: &ReadScope, r: &sqlx::any::AnyRow, now: i64) -> Result<CaseSummary> {
    let categories: String = r.try_get("categories")?;
    let status: String = r.try_get("status")?;
    let due_at: i64 = r.try_get("due_at")?;
    let level: String = r.try_get("level")?;
    let kind: String = r.try_get("conversation_kind")?;
    let state: String = r.try_get("message_state")?;
    let s5: i64 = r.try_get("s5")?;
    // A case's list entry shows the words only to a reader of its kind, and never S5 content.
    let readable = scope.may_read_kind(&kind) && scope.withheld(&state, s5 == 1).is_none();
    let text: Option<String> = if readable { r.try_get("text")? } else { None };
    Ok(CaseSummary {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        conversation_id: r.try_get("conversation_id")?,
        conversation_kind: kind,
        channel_id: r.try_get("channel_id")?,
        channel_name: r.try_get("channel_name")?,
        categories: serde_json::from_str(&categories).unwrap_or_default(),
        source: r.try_get("source")?,
        reason: r.try_get("reason")?,
        routine_version: r.try_get("routine_version")?,
        overdue: status == "open" && due_at < now,
        status,
        opened_at: r.try_get("opened_at")?,
        due_at,
        closed_at: r.try_get("closed_at")?,
        decision: r.try_get("decision")?,
        message_state: state,
        preview: text.map(|t| t.chars().take(140).collect()),
        level,
    })
}

/// Records triage flags for a new message and opens its case when advised. Runs inside the
/// ingesting transaction, so a flagged message never exists without its flag.
pub async fn flag_message(
    tx: &mut Tx<'_>,
    message_id: i64,
    flag: &FlagInput,
) -> Result<Option<i64>> {
    write_flag(tx, message_id, flag, None).await?;
    match &flag.open_case {
        Some(opening) => open_case_in(tx, message_id, opening, &system_actor()).await,
        None => Ok(None),
    }
}

/// Records a flag, or raises the message's flag to it; never lowers one. `revision_id` names
/// the edit whose text was triaged (None: the message as it first arrived).
async fn write_flag(
    tx: &mut Tx<'_>,
    message_id: i64,
    flag: &FlagInput,
    revision_id: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "insert into message_flags (message_id, severity, score, categories, findings, flagged_at, revision_id, model_version) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (message_id) do update set \
         severity = excluded.severity, score = excluded.score, categories = excluded.categories, \
         findings = excluded.findings, flagged_at = excluded.flagged_at, revision_id = excluded.revision_id, \
         model_version = excluded.model_version \
         where message_flags.severity < excluded.severity",
    )
    .bind(message_id)
    .bind(&flag.severity)
    .bind(flag.score)
    .bind(serde_json::to_string(&flag.categories).unwrap_or_default())
    .bind(flag.findings.to_string())
    .bind(now_ms())
    .bind(revision_id)
    .bind(flag.model_version.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Triages a message's new current text (an edit): triaged like a new message, so an edit
/// cannot slip past moderation. The flag rises with the text and never falls (a moderator, not
/// an edit, decides that a message is harmless), and records the revision that raised it. A
/// case opens, or the open one takes the higher level and the reason, as for a further report;
/// outside staffed hours an obvious crime is hidden until reviewed.
pub async fn flag_edit(
    tx: &mut Tx<'_>,
    message_id: i64,
    revision_id: i64,
    flag: &FlagInput,
) -> Result<()> {
    write_flag(tx, message_id, flag, Some(revision_id)).await?;
    let Some(opening) = &flag.open_case else {
        return Ok(());
    };
    let opening = CaseOpening {
        reason: Some(format!(
            "an edit (revision {revision_id}) was triaged at {}: {}",
            flag.severity,
            flag.categories.join(", ")
        )),
        ..opening.clone()
    };
    if open_case_in(tx, message_id, &opening, &system_actor())
        .await?
        .is_none()
    {
        add_report_in(tx, message_id, &opening, &system_actor()).await?;
    }
    Ok(())
}

fn system_actor() -> Actor {
    Actor {
        staff_id: None,
        name: "tavla:triage".into(),
        address: None,
    }
}

/// Holds a case's message row (as `open_case_in` and further reports do) and then the case's
/// own, so a step or a closing never interleaves with a report on the same case, and both
/// take the two locks in one order.
async fn lock_case(tx: &mut Tx<'_>, case_id: i64) -> Result<()> {
    let message_id: Option<i64> =
        sqlx::query_scalar("select message_id from moderation_cases where id = $1")
            .bind(case_id)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(message_id) = message_id {
        super::lock_row(tx, "messages", message_id).await?;
        super::lock_row(tx, "moderation_cases", case_id).await?;
    }
    Ok(())
}

/// Opens a case unless the message already has an open one (returns None then).
pub async fn open_case_in(
    tx: &mut Tx<'_>,
    message_id: i64,
    opening: &CaseOpening,
    actor: &Actor,
) -> Result<Option<i64>> {
    // Every writer of a message's cases holds the message's row first, so reports that arrive
    // together find the case the first one opened.
    super::lock_row(tx, "messages", message_id).await?;
    let row = sqlx::query("select conversation_id, channel_id from messages where id = $1")
        .bind(message_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no message {message_id}")))?;
    let conversation_id: i64 = row.try_get("conversation_id")?;
    let channel_id: i64 = row.try_get("channel_id")?;
    let open: Option<i64> = sqlx::query_scalar(
        "select id from moderation_cases where message_id = $1 and status = 'open'",
    )
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?;
    if open.is_some() {
        return Ok(None);
    }
    let now = now_ms();
    let case_id: i64 = sqlx::query_scalar(
        "insert into moderation_cases (message_id, conversation_id, channel_id, level, categories, source, \
         reported_by, reason, routine_id, routine_version, status, opened_at, due_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $12) returning id",
    )
    .bind(message_id)
    .bind(conversation_id)
    .bind(channel_id)
    .bind(&opening.level)
    .bind(serde_json::to_string(&opening.categories).unwrap_or_default())
    .bind(&opening.source)
    .bind(opening.reported_by)
    .bind(opening.reason.as_deref())
    .bind(&opening.level)
    .bind(&opening.routine_version)
    .bind(now)
    .bind(now + opening.due_minutes * 60_000)
    .fetch_one(&mut **tx)
    .await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::CaseOpened,
            channel_id: Some(channel_id),
            conversation_id: Some(conversation_id),
            message_id: Some(message_id),
            payload: serde_json::json!({"case_id": case_id, "level": opening.level, "source": opening.source}),
        },
    )
    .await?;
    record(
        tx,
        actor,
        "moderation.case_opened",
        Some(&format!("case:{case_id}")),
        serde_json::json!({"message_id": message_id, "level": opening.level, "source": opening.source}),
    )
    .await?;
    if opening.alert_on_call && is_urgent(&opening.level) {
        insert_alert(tx, case_id, now).await?;
    }
    if opening.auto_hide {
        hide_until_reviewed(tx, case_id, message_id, &opening.level, actor).await?;
    }
    Ok(Some(case_id))
}

/// Outside staffed hours an obviously criminal comment is hidden at once, reversibly, until a
/// moderator reviews it: evidence first, the local record marked, the hide queued for the
/// platform, and the steps recorded as automatic.
async fn hide_until_reviewed(
    tx: &mut Tx<'_>,
    case_id: i64,
    message_id: i64,
    level: &str,
    actor: &Actor,
) -> Result<()> {
    capture_evidence_in(tx, case_id, level, actor).await?;
    set_visibility_in(tx, case_id, message_id, "hidden", actor).await?;
    // And on the platform, through the outbox, when the platform knows the comment.
    let platform_id: Option<String> =
        sqlx::query_scalar("select platform_id from messages where id = $1")
            .bind(message_id)
            .fetch_one(&mut **tx)
            .await?;
    let mut outbox_id = None;
    if let Some(comment_id) = platform_id {
        outbox_id = Some(
            super::outbox::insert_row(
                tx,
                message_id,
                OutboxAction::Hide,
                &serde_json::json!({ "comment_id": comment_id }),
                now_ms(),
            )
            .await?,
        );
    }
    insert_step(
        tx,
        case_id,
        "capture_evidence",
        actor,
        serde_json::json!({"automatic": true}),
    )
    .await?;
    insert_step(
        tx,
        case_id,
        "hide",
        actor,
        serde_json::json!({"automatic": true, "outbox_id": outbox_id,
            "note": "hidden outside staffed hours until a moderator reviews it"}),
    )
    .await?;
    Ok(())
}

/// S4 and S5: the levels whose cases alert the on-call moderator.
fn is_urgent(level: &str) -> bool {
    level >= "S4"
}

/// The case's on-call alert, waiting to be claimed by one instance (once per case).
async fn insert_alert(tx: &mut Tx<'_>, case_id: i64, now: i64) -> Result<()> {
    sqlx::query(
        "insert into on_call_alerts (case_id, status, attempts, next_attempt_at, created_at, updated_at) \
         values ($1, 'pending', 0, $2, $3, $4) on conflict (case_id) do nothing",
    )
    .bind(case_id)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn insert_step(
    tx: &mut Tx<'_>,
    case_id: i64,
    step: &str,
    actor: &Actor,
    detail: serde_json::Value,
) -> Result<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "insert into moderation_steps (case_id, step, actor_id, actor, at, detail) values ($1, $2, $3, $4, $5, $6) \
         on conflict (case_id, step) do nothing returning id",
    )
    .bind(case_id)
    .bind(step)
    .bind(actor.staff_id)
    .bind(&actor.name)
    .bind(now_ms())
    .bind(detail.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.is_some())
}

/// Captures the evidence record of a case's message: immutable, hashed. For S5 only metadata.
pub async fn capture_evidence_in(
    tx: &mut Tx<'_>,
    case_id: i64,
    level: &str,
    actor: &Actor,
) -> Result<i64> {
    let existing: Option<i64> = sqlx::query_scalar("select id from evidence where case_id = $1")
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let r = sqlx::query(
        "select m.id, m.platform_id, m.kind, m.text, m.attachments, m.raw, m.platform_time, m.parent_platform_id, \
         a.platform_id as author_platform_id, a.name as author_name, p.platform_id as post_platform_id, ch.platform \
         from moderation_cases k join messages m on m.id = k.message_id join channels ch on ch.id = m.channel_id \
         left join authors a on a.id = m.author_id left join conversations c on c.id = m.conversation_id \
         left join posts p on p.id = c.post_id where k.id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut **tx)
    .await?;
    let message_id: i64 = r.try_get("id")?;
    let platform_id: Option<String> = r.try_get("platform_id")?;
    let post: Option<String> = r.try_get("post_platform_id")?;
    let platform: String = r.try_get("platform")?;
    let permalink = match (platform.as_str(), &post, &platform_id) {
        ("facebook", Some(post), Some(comment)) => Some(format!(
            "https://www.facebook.com/{post}?comment_id={comment}"
        )),
        ("facebook", None, Some(id)) => Some(format!("https://www.facebook.com/{id}")),
        _ => None,
    };
    let content = if level == "S5" {
        None
    } else {
        let text: Option<String> = r.try_get("text")?;
        let attachments: String = r.try_get("attachments")?;
        let raw: Option<String> = r.try_get("raw")?;
        let content = EvidenceContent {
            text,
            attachments: serde_json::from_str::<serde_json::Value>(&attachments)
                .unwrap_or_default(),
            raw: raw
                .and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
                .unwrap_or_default(),
        };
        Some(serde_json::to_value(content).unwrap_or_default())
    };
    let captured_at = now_ms();
    let author_platform_id: Option<String> = r.try_get("author_platform_id")?;
    let author_name: Option<String> = r.try_get("author_name")?;
    let platform_time: i64 = r.try_get("platform_time")?;
    let content_text = content.as_ref().map(|c| c.to_string());
    let digest = evidence_digest(
        message_id,
        captured_at,
        &actor.name,
        permalink.as_deref(),
        author_platform_id.as_deref(),
        author_name.as_deref(),
        platform_time,
        content_text.as_deref(),
    );
    let id: i64 = sqlx::query_scalar(
        "insert into evidence (case_id, message_id, captured_at, captured_by, permalink, author_platform_id, \
         author_name, platform_time, content, sha256) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
    )
    .bind(case_id)
    .bind(message_id)
    .bind(captured_at)
    .bind(&actor.name)
    .bind(permalink.as_deref())
    .bind(author_platform_id.as_deref())
    .bind(author_name.as_deref())
    .bind(platform_time)
    .bind(content_text.as_deref())
    .bind(&digest)
    .fetch_one(&mut **tx)
    .await?;
    record(
        tx,
        actor,
        "moderation.evidence_captured",
        Some(&format!("case:{case_id}")),
        serde_json::json!({"evidence_id": id, "sha256": digest}),
    )
    .await?;
    Ok(id)
}

/// SHA-256 over the evidence record's fields, length-prefixed so no two records hash alike.
#[allow(clippy::too_many_arguments)]
pub fn evidence_digest(
    message_id: i64,
    captured_at: i64,
    captured_by: &str,
    permalink: Option<&str>,
    author_platform_id: Option<&str>,
    author_name: Option<&str>,
    platform_time: i64,
    content: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for field in [
        message_id.to_string().as_str(),
        captured_at.to_string().as_str(),
        captured_by,
        permalink.unwrap_or(""),
        author_platform_id.unwrap_or(""),
        author_name.unwrap_or(""),
        platform_time.to_string().as_str(),
        content.unwrap_or(""),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Marks the local message hidden, removed or visible again, keeping the change as history.
/// The record itself is never deleted by moderation (public records).
pub async fn set_visibility_in(
    tx: &mut Tx<'_>,
    case_id: i64,
    message_id: i64,
    state: &str,
    actor: &Actor,
) -> Result<()> {
    let change = match state {
        "hidden" => "hidden",
        "removed" => "removed",
        _ => "unhidden",
    };
    let row =
        sqlx::query("select text, channel_id, conversation_id, state from messages where id = $1")
            .bind(message_id)
            .fetch_one(&mut **tx)
            .await?;
    let text: Option<String> = row.try_get("text")?;
    let channel_id: i64 = row.try_get("channel_id")?;
    let conversation_id: i64 = row.try_get("conversation_id")?;
    let now = now_ms();
    sqlx::query(
        "insert into message_revisions (message_id, change, revision, text, platform_time, received_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing",
    )
    .bind(message_id)
    .bind(change)
    .bind(format!("tavla:case:{case_id}"))
    .bind(text.as_deref())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("update messages set state = $1 where id = $2")
        .bind(state)
        .bind(message_id)
        .execute(&mut **tx)
        .await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::MessageChanged,
            channel_id: Some(channel_id),
            conversation_id: Some(conversation_id),
            message_id: Some(message_id),
            payload: serde_json::json!({"change": change, "state": state, "case_id": case_id}),
        },
    )
    .await?;
    record(
        tx,
        actor,
        &format!("message.{change}"),
        Some(&format!("message:{message_id}")),
        serde_json::json!({"case_id": case_id}),
    )
    .await
}

impl Store {
    /// Open cases first by severity (S5 first), then oldest first, within the reader's channels.
    pub async fn cases(
        &self,
        scope: &ReadScope,
        status: &str,
        level: Option<&str>,
        limit: i64,
    ) -> Result<Vec<CaseSummary>> {
        // The channel limit is part of the query, so a limited moderator gets a full page.
        let mut args = Args::default();
        let mut conditions = vec![format!("k.status = {}", args.text(status))];
        if let Some(level) = level {
            conditions.push(format!("k.level = {}", args.text(level)));
        }
        if !scope.limit_channels("k.channel_id", &mut args, &mut conditions) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{} where {} order by k.level desc, k.opened_at limit {}",
            case_select(),
            conditions.join(" and "),
            args.int(limit)
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        let now = now_ms();
        rows.iter().map(|r| case_from_row(scope, r, now)).collect()
    }

    /// One case; None when there is none within the reader's channels.
    pub async fn case(&self, scope: &ReadScope, id: i64) -> Result<Option<CaseSummary>> {
        let mut args = Args::default();
        let mut conditions = vec![format!("k.id = {}", args.int(id))];
        if !scope.limit_channels("k.channel_id", &mut args, &mut conditions) {
            return Ok(None);
        }
        let sql = format!("{} where {}", case_select(), conditions.join(" and "));
        let row = args
            .bind(sqlx::query(&sql))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| case_from_row(scope, &r, now_ms())).transpose()
    }

    pub async fn case_steps(&self, id: i64) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query("select step, actor_id, actor, at, detail from moderation_steps where case_id = $1 order by id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut steps = Vec::with_capacity(rows.len());
        for r in &rows {
            let detail: String = r.try_get("detail")?;
            let detail: serde_json::Value = serde_json::from_str(&detail).unwrap_or_default();
            let delivery = match detail["outbox_id"].as_i64() {
                Some(outbox_id) => self.delivery_by_outbox_id(outbox_id).await?,
                None => None,
            };
            steps.push(StepRecord {
                step: r.try_get("step")?,
                actor_id: r.try_get("actor_id")?,
                actor: r.try_get("actor")?,
                at: r.try_get("at")?,
                detail,
                delivery,
            });
        }
        Ok(steps)
    }

    /// A case's evidence records. The copy of the content is left out where the reader may not
    /// read the conversation's kind (S5 evidence has no copy at all); the hash is still checked.
    pub async fn case_evidence(&self, scope: &ReadScope, id: i64) -> Result<Vec<Evidence>> {
        let rows = sqlx::query(&format!(
            "select e.id, e.message_id, e.captured_at, e.captured_by, e.permalink, e.author_platform_id, \
             e.author_name, e.platform_time, e.content, e.sha256, c.kind, m.state, {} \
             from evidence e join messages m on m.id = e.message_id \
             join conversations c on c.id = m.conversation_id where e.case_id = $1 order by e.id",
            s5_column("m")
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let content: Option<String> = r.try_get("content")?;
                let kind: String = r.try_get("kind")?;
                let state: String = r.try_get("state")?;
                let s5: i64 = r.try_get("s5")?;
                let shown = scope.may_read_kind(&kind) && scope.withheld(&state, s5 == 1).is_none();
                let e = Evidence {
                    id: r.try_get("id")?,
                    message_id: r.try_get("message_id")?,
                    captured_at: r.try_get("captured_at")?,
                    captured_by: r.try_get("captured_by")?,
                    permalink: r.try_get("permalink")?,
                    author_platform_id: r.try_get("author_platform_id")?,
                    author_name: r.try_get("author_name")?,
                    platform_time: r.try_get("platform_time")?,
                    content: content
                        .as_deref()
                        .filter(|_| shown)
                        .and_then(|c| serde_json::from_str(c).ok()),
                    sha256: r.try_get("sha256")?,
                    verified: false,
                };
                let expected = evidence_digest(
                    e.message_id,
                    e.captured_at,
                    &e.captured_by,
                    e.permalink.as_deref(),
                    e.author_platform_id.as_deref(),
                    e.author_name.as_deref(),
                    e.platform_time,
                    content.as_deref(),
                );
                Ok(Evidence {
                    verified: expected == e.sha256,
                    ..e
                })
            })
            .collect()
    }

    /// Triage's flag of a message. The words each finding matched are left out (null) where the
    /// reader may not read the message's words.
    pub async fn message_flag(
        &self,
        scope: &ReadScope,
        message_id: i64,
    ) -> Result<Option<TriageFlag>> {
        let row = sqlx::query(&format!(
            "select f.severity, f.score, f.categories, f.findings, f.revision_id, f.model_version, \
             r.platform_time as revision_time, c.kind, m.state, {} \
             from message_flags f join messages m on m.id = f.message_id \
             join conversations c on c.id = m.conversation_id \
             left join message_revisions r on r.id = f.revision_id where f.message_id = $1",
            s5_column("m")
        ))
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let categories: String = r.try_get("categories")?;
            let findings: String = r.try_get("findings")?;
            let score: f64 = r.try_get("score")?;
            let severity: String = r.try_get("severity")?;
            let kind: String = r.try_get("kind")?;
            let state: String = r.try_get("state")?;
            let s5: i64 = r.try_get("s5")?;
            let model_version: Option<String> = r.try_get("model_version")?;
            let shown = scope.may_read_kind(&kind) && scope.withheld(&state, s5 == 1).is_none();
            let mut findings =
                serde_json::from_str::<serde_json::Value>(&findings).unwrap_or_default();
            if !shown {
                for f in findings.as_array_mut().into_iter().flatten() {
                    f["matched"] = serde_json::Value::Null;
                }
            }
            // Which version of the text raised the flag: the first (null) or an edit.
            let revision_id: Option<i64> = r.try_get("revision_id")?;
            let flagged_revision = match revision_id {
                Some(id) => Some(FlaggedRevision {
                    id,
                    platform_time: r.try_get::<Option<i64>, _>("revision_time")?,
                }),
                None => None,
            };
            Ok(TriageFlag {
                severity,
                score,
                categories: serde_json::from_str(&categories).unwrap_or_default(),
                findings,
                flagged_revision,
                model_version,
            })
        })
        .transpose()
    }

    /// Opens a case on a staff member's report (or adds the report to the open one). Returns
    /// the case and whether the report's reason was kept with it (see `REASONS_MAX_CHARS`).
    pub async fn report_message(
        &self,
        message_id: i64,
        opening: &CaseOpening,
        actor: &Actor,
    ) -> Result<(i64, bool)> {
        let mut tx = self.begin().await?;
        let outcome = match open_case_in(&mut tx, message_id, opening, actor).await? {
            Some(id) => (id, true),
            None => add_report_in(&mut tx, message_id, opening, actor).await?,
        };
        self.commit(tx).await?;
        Ok(outcome)
    }

    /// The open case of a message, with the routine version it follows.
    pub async fn open_case_of_message(&self, message_id: i64) -> Result<Option<(i64, String)>> {
        let row = sqlx::query(
            "select id, routine_version from moderation_cases where message_id = $1 and status = 'open'",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("id")?, r.try_get("routine_version")?)))
            .transpose()
    }
}

impl Store {
    /// Keeps this version of the routines (as JSON). The same version with other contents is a
    /// conflict: cases name their routine by version, so a changed routine needs a new one.
    /// `same` judges a document already kept under the version (the capability reads it back).
    pub async fn remember_routines(
        &self,
        version: &str,
        document: &str,
        same: impl Fn(&str) -> bool,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let known: Option<String> =
            sqlx::query_scalar("select document from routine_versions where version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        match known {
            Some(known) if same(&known) => {}
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "config/routines.toml differs from the routines of version {version:?} that \
                     cases already follow; give the changed routines a new `version`"
                )))
            }
            None => {
                sqlx::query(
                    "insert into routine_versions (version, document, first_loaded_at) values ($1, $2, $3)",
                )
                .bind(version)
                .bind(document)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The routines of an earlier version, as JSON.
    pub async fn routines_document(&self, version: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("select document from routine_versions where version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

/// The longest a case's collected report reasons may grow: a bound on what a flood of reports
/// can store. A report beyond it still counts (categories, level, audit row); the reporter is
/// told its reason was not added.
pub const REASONS_MAX_CHARS: usize = 20_000;

/// A further report on a message whose case is open: the case keeps every reason, takes the
/// new categories and, when the report is more severe, the higher level with its routine and
/// the sooner due time (so an S4 report on an S2 case is alerted and due like any S4 case).
async fn add_report_in(
    tx: &mut Tx<'_>,
    message_id: i64,
    report: &CaseOpening,
    actor: &Actor,
) -> Result<(i64, bool)> {
    let row = sqlx::query(
        "select id, channel_id, conversation_id, level, categories, reason, due_at, routine_version \
         from moderation_cases where message_id = $1 and status = 'open'",
    )
    .bind(message_id)
    .fetch_one(&mut **tx)
    .await?;
    let case_id: i64 = row.try_get("id")?;
    let level: String = row.try_get("level")?;
    let mut categories: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("categories")?).unwrap_or_default();
    for c in &report.categories {
        if !categories.contains(c) {
            categories.push(c.clone());
        }
    }
    let mut reason: String = row
        .try_get::<Option<String>, _>("reason")?
        .unwrap_or_default();
    let mut reason_kept = true;
    if let Some(new) = report.reason.as_deref() {
        let entry = format!("{}: {new}", actor.name);
        if reason.chars().count() + entry.chars().count() < REASONS_MAX_CHARS {
            if !reason.is_empty() {
                reason.push_str("\n\n");
            }
            reason.push_str(&entry);
        } else {
            reason_kept = false;
        }
    }
    let escalated = report.level > level;
    let now = now_ms();
    let mut due_at: i64 = row.try_get("due_at")?;
    let version: String = row.try_get("routine_version")?;
    // The case keeps its routine version: the raised level's time limit is that version's.
    let due_minutes = match &report.raise_under {
        Some((under, minutes)) if *under == version => *minutes,
        _ => report.due_minutes,
    };
    let new_level = if escalated {
        due_at = due_at.min(now + due_minutes * 60_000);
        report.level.clone()
    } else {
        level.clone()
    };
    sqlx::query(
        "update moderation_cases set level = $1, routine_id = $2, categories = $3, reason = $4, \
         due_at = $5 where id = $6",
    )
    .bind(&new_level)
    .bind(&new_level)
    .bind(serde_json::to_string(&categories).unwrap_or_default())
    .bind(&reason)
    .bind(due_at)
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    if report.alert_on_call && is_urgent(&new_level) {
        insert_alert(tx, case_id, now).await?;
    }
    append(
        tx,
        NewEvent {
            kind: EventKind::CaseChanged,
            channel_id: Some(row.try_get("channel_id")?),
            conversation_id: Some(row.try_get("conversation_id")?),
            message_id: Some(message_id),
            payload: serde_json::json!({"case_id": case_id, "reported": report.source != "triage", "level": new_level}),
        },
    )
    .await?;
    // A staff member's report, or triage of an edit that made the message worse.
    let action = if report.source == "triage" {
        "moderation.case_retriaged"
    } else {
        "moderation.case_reported"
    };
    record(
        tx,
        actor,
        action,
        Some(&format!("case:{case_id}")),
        serde_json::json!({"message_id": message_id, "level": new_level,
            "escalated_from": escalated.then_some(level), "reason_kept": reason_kept}),
    )
    .await?;
    let visible: Option<String> =
        sqlx::query_scalar("select state from messages where id = $1 and state = 'visible'")
            .bind(message_id)
            .fetch_optional(&mut **tx)
            .await?;
    if escalated && report.auto_hide && visible.is_some() {
        hide_until_reviewed(tx, case_id, message_id, &new_level, actor).await?;
    }
    Ok((case_id, reason_kept))
}

/// What a step needs from the routine, as plain data (the store knows no routines).
pub struct StepRules<'a> {
    /// Step kinds of the case's routine.
    pub kinds: &'a [String],
    /// Whether the routine has a capture_evidence step to record when evidence is taken first.
    pub records_evidence_step: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepOutcome {
    pub case_id: i64,
    pub message_id: i64,
    #[schema(schema_with = crate::described::step_kind)]
    pub step: String,
    /// The change to make on the platform as well, for `hide`, `unhide` and `remove`; null
    /// otherwise.
    #[schema(schema_with = platform_action)]
    pub platform_action: Option<String>,
    /// That action, queued in the outbox with the step; or why the platform cannot be asked
    /// (a DM, a message the platform never named): then the change is local only.
    #[serde(skip)]
    pub platform: Option<std::result::Result<i64, String>>,
    /// The notice to the poster queued with the step: (its message, its outbox row).
    #[serde(skip)]
    pub notice: Option<(i64, i64)>,
}

impl Store {
    /// Takes one step of a case's routine, in one transaction: evidence before any visibility
    /// change, the local record marked (never deleted), the platform's hide or removal and the
    /// notice to the poster (`notice`: its text, for notify_poster) queued in the outbox, the
    /// step, the audit entry and the event. All of it or, when any part fails, none of it.
    pub async fn take_step(
        &self,
        case_id: i64,
        step: &str,
        mut detail: serde_json::Value,
        rules: &StepRules<'_>,
        notice: Option<&str>,
        actor: &Actor,
    ) -> Result<StepOutcome> {
        let mut tx = self.begin().await?;
        lock_case(&mut tx, case_id).await?;
        let case = OpenCase::load(&mut tx, case_id).await?;
        let taken = TakenStep::all(&mut tx, case_id).await?;
        check_step(&case, step, rules, &taken, &detail, actor)?;
        let platform_action = change_visibility(&mut tx, &case, step, rules, &taken, actor).await?;
        if step == "capture_evidence" {
            capture_evidence_in(&mut tx, case_id, &case.level, actor).await?;
        }
        // The platform follows the decision through the outbox, written in this transaction.
        let mut platform = None;
        if let Some(action) = platform_action.as_deref().and_then(OutboxAction::parse) {
            let queued = queue_visibility_in(&mut tx, case.message_id, action, actor).await?;
            if let Ok(outbox_id) = queued {
                detail["outbox_id"] = outbox_id.into();
            }
            platform = Some(queued);
        }
        let mut notice_queued = None;
        if let (Some(text), "notify_poster") = (notice, step) {
            let (notice_message, outbox_id) =
                queue_notice(&mut tx, case.message_id, text, actor).await?;
            detail["notice_message_id"] = notice_message.into();
            detail["outbox_id"] = outbox_id.into();
            notice_queued = Some((notice_message, outbox_id));
        }
        record_step(&mut tx, &case, step, detail, actor).await?;
        self.commit(tx).await?;
        if matches!(platform, Some(Ok(_))) || notice_queued.is_some() {
            self.outbox_committed();
        }
        Ok(StepOutcome {
            case_id,
            message_id: case.message_id,
            step: step.to_string(),
            platform_action,
            platform,
            notice: notice_queued,
        })
    }

    /// Closes a case once nothing required is missing (`missing` is computed from the routine).
    /// Closes a case with the decision in words and, when the moderator says it, what the
    /// message was (`decided`: categories; empty for nothing wrong), which training learns from.
    pub async fn close_case(
        &self,
        case_id: i64,
        missing: &[String],
        decision: &str,
        decided: Option<&[String]>,
        actor: &Actor,
    ) -> Result<()> {
        if !missing.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the case cannot close yet: the routine still requires {}",
                missing.join(", ")
            )));
        }
        let mut tx = self.begin().await?;
        lock_case(&mut tx, case_id).await?;
        let row = sqlx::query("select status, channel_id, conversation_id, message_id from moderation_cases where id = $1")
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("there is no case {case_id}")))?;
        let status: String = row.try_get("status")?;
        if status != "open" {
            return Err(StoreError::Conflict(format!(
                "case {case_id} is already closed"
            )));
        }
        let decided = decided.map(|d| serde_json::to_string(d).unwrap_or_default());
        sqlx::query(
            "update moderation_cases set status = 'closed', closed_at = $1, closed_by = $2, decision = $3, \
             decided_categories = $4 where id = $5",
        )
        .bind(now_ms())
        .bind(actor.staff_id)
        .bind(decision)
        .bind(decided.as_deref())
        .bind(case_id)
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            NewEvent {
                kind: EventKind::CaseChanged,
                channel_id: Some(row.try_get("channel_id")?),
                conversation_id: Some(row.try_get("conversation_id")?),
                message_id: Some(row.try_get("message_id")?),
                payload: serde_json::json!({"case_id": case_id, "closed": true}),
            },
        )
        .await?;
        record(
            &mut tx,
            actor,
            "moderation.case_closed",
            Some(&format!("case:{case_id}")),
            serde_json::json!({"decision": decision, "decided_categories": decided}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    pub async fn case_step_kinds(&self, case_id: i64) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("select step from moderation_steps where case_id = $1")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// A comment thread's inbound comments in the last hour and the day before it: what the
/// moderation capability judges heat by (`moderation::heat`).
#[derive(Debug, Clone)]
pub struct ThreadActivity {
    pub conversation_id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub post_platform_id: Option<String>,
    /// The post's words, for readers of comments only.
    pub post_text: Option<String>,
    /// Inbound comments in the last hour.
    pub last_hour: i64,
    /// Inbound comments in the 24 hours before that hour.
    pub day_before: i64,
    /// Of the last hour's comments, how many triage flagged at S2 or above.
    pub flagged: i64,
}

impl Store {
    /// Every comment thread with inbound comments in the 25 hours before `now`, within the
    /// reader's scope, with its counts; which are heated is the moderation capability's rule.
    pub async fn thread_activity(
        &self,
        scope: &ReadScope,
        now: i64,
    ) -> Result<Vec<ThreadActivity>> {
        let hour = 3_600_000;
        let mut args = Args::default();
        // Each value bound where it is used (no placeholder appears twice).
        let counts = format!(
            "sum(case when m.platform_time >= {} then 1 else 0 end) as last_hour, \
             sum(case when m.platform_time < {} then 1 else 0 end) as day_before, \
             sum(case when m.platform_time >= {} and f.severity >= 'S2' then 1 else 0 end) as flagged",
            args.int(now - hour),
            args.int(now - hour),
            args.int(now - hour)
        );
        let mut conditions = vec![
            "c.kind = 'comments'".to_string(),
            "m.direction = 'inbound'".to_string(),
            format!("m.platform_time >= {}", args.int(now - 25 * hour)),
        ];
        if !scope.limit_channels("c.channel_id", &mut args, &mut conditions) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select c.id, c.channel_id, ch.name as channel_name, p.platform_id as post_platform_id, p.text as post_text, \
             {counts} \
             from conversations c join channels ch on ch.id = c.channel_id left join posts p on p.id = c.post_id \
             join messages m on m.conversation_id = c.id left join message_flags f on f.message_id = m.id \
             where {} group by c.id, c.channel_id, ch.name, p.platform_id, p.text",
            conditions.join(" and ")
        );
        let rows = args.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        // The post's words are for readers of comments.
        let post_readable = scope.may_read_kind("comments");
        rows.iter()
            .map(|r| {
                Ok(ThreadActivity {
                    conversation_id: r.try_get("id")?,
                    channel_id: r.try_get("channel_id")?,
                    channel_name: r.try_get("channel_name")?,
                    post_platform_id: r.try_get("post_platform_id")?,
                    post_text: if post_readable {
                        r.try_get("post_text")?
                    } else {
                        None
                    },
                    last_hour: r.try_get("last_hour")?,
                    day_before: r.try_get("day_before")?,
                    flagged: r.try_get("flagged")?,
                })
            })
            .collect()
    }
}

/// A closed case as a lesson for the model: what the message said, what the moderators did.
#[derive(Debug, Clone, Serialize)]
pub struct ClosedCase {
    pub case_id: i64,
    pub message_id: i64,
    pub level: String,
    pub categories: Vec<String>,
    /// What the moderator who closed it judged it to be, when they said (empty: nothing wrong).
    pub decided: Option<Vec<String>>,
    /// The kinds of the steps taken (remove, hide, unhide, police_report, …).
    pub steps: Vec<String>,
    /// The message's words as stored now (None when erased).
    pub text: Option<String>,
}

impl Store {
    /// The latest closed case of each message, with its steps and the message's words, oldest
    /// first: what `tavla moderation train --from-cases` learns from. S5 cases are left out:
    /// their content is kept as metadata only (DESIGN.md §3), so no model learns from it.
    pub async fn closed_cases(&self) -> Result<Vec<ClosedCase>> {
        let rows = sqlx::query(
            "select k.id, k.message_id, k.level, k.categories, k.decided_categories, m.text from moderation_cases k \
             join messages m on m.id = k.message_id \
             where k.status = 'closed' and k.level <> 'S5' and k.id = \
             (select max(k2.id) from moderation_cases k2 where k2.message_id = k.message_id and k2.status = 'closed') \
             order by k.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let steps = sqlx::query(
            "select s.case_id, s.step from moderation_steps s join moderation_cases k on k.id = s.case_id \
             where k.status = 'closed' order by s.case_id, s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_case: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::new();
        for r in steps {
            by_case
                .entry(r.try_get("case_id")?)
                .or_default()
                .push(r.try_get("step")?);
        }
        rows.iter()
            .map(|r| {
                let case_id: i64 = r.try_get("id")?;
                let categories: String = r.try_get("categories")?;
                Ok(ClosedCase {
                    case_id,
                    message_id: r.try_get("message_id")?,
                    level: r.try_get("level")?,
                    categories: serde_json::from_str(&categories).unwrap_or_default(),
                    decided: r
                        .try_get::<Option<String>, _>("decided_categories")?
                        .and_then(|d| serde_json::from_str(&d).ok()),
                    steps: by_case.remove(&case_id).unwrap_or_default(),
                    text: r.try_get("text")?,
                })
            })
            .collect()
    }
}

/// An open case, as a step needs it.
struct OpenCase {
    id: i64,
    message_id: i64,
    level: String,
    channel_id: i64,
    conversation_id: i64,
}

impl OpenCase {
    /// The case, refused when it is missing or closed.
    async fn load(tx: &mut Tx<'_>, case_id: i64) -> Result<OpenCase> {
        let row = sqlx::query(
            "select message_id, level, status, channel_id, conversation_id \
             from moderation_cases where id = $1",
        )
        .bind(case_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no case {case_id}")))?;
        let status: String = row.try_get("status")?;
        if status != "open" {
            return Err(StoreError::Conflict(format!(
                "case {case_id} is closed; open a new case by reporting the message again"
            )));
        }
        Ok(OpenCase {
            id: case_id,
            message_id: row.try_get("message_id")?,
            level: row.try_get("level")?,
            channel_id: row.try_get("channel_id")?,
            conversation_id: row.try_get("conversation_id")?,
        })
    }
}

/// A step already taken in a case: which, and by whom (no staff id: taken automatically).
struct TakenStep {
    step: String,
    actor_id: Option<i64>,
    actor: String,
}

impl TakenStep {
    async fn all(tx: &mut Tx<'_>, case_id: i64) -> Result<Vec<TakenStep>> {
        let rows =
            sqlx::query("select step, actor_id, actor from moderation_steps where case_id = $1")
                .bind(case_id)
                .fetch_all(&mut **tx)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(TakenStep {
                    step: r.try_get("step")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                })
            })
            .collect()
    }

    fn find<'a>(taken: &'a [TakenStep], step: &str) -> Option<&'a TakenStep> {
        taken.iter().find(|t| t.step == step)
    }
}

/// Whether the routine allows this step now: one of its steps, not taken before, with what it
/// must record, and a second confirmation only by a second moderator.
fn check_step(
    case: &OpenCase,
    step: &str,
    rules: &StepRules<'_>,
    taken: &[TakenStep],
    detail: &serde_json::Value,
    actor: &Actor,
) -> Result<()> {
    if !rules.kinds.iter().any(|k| k == step) {
        return Err(StoreError::Invalid(format!(
            "the {} routine has no step {step:?}; its steps are {}",
            case.level,
            rules.kinds.join(", ")
        )));
    }
    if let Some(t) = TakenStep::find(taken, step) {
        return Err(StoreError::Conflict(format!(
            "the step {step} was already taken by {}",
            t.actor
        )));
    }
    let text = |key: &str| {
        detail
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match step {
        "police_report" if text("reference").is_none() => Err(StoreError::Invalid(
            "a police report needs its reference (the police's diarienummer) in `reference`".into(),
        )),
        "notify_poster" if text("template").is_none() && text("text").is_none() => {
            Err(StoreError::Invalid(
                "say what the poster was told: a `template` id or the `text` sent".into(),
            ))
        }
        "second_confirmation" => check_second_confirmation(rules, taken, actor),
        _ => Ok(()),
    }
}

/// The decision confirmed is the removal when the routine has one, else the hiding; it must have
/// been taken by a moderator (not automatically) and by another one.
fn check_second_confirmation(
    rules: &StepRules<'_>,
    taken: &[TakenStep],
    actor: &Actor,
) -> Result<()> {
    let decisive = if rules.kinds.iter().any(|k| k == "remove") {
        "remove"
    } else {
        "hide"
    };
    let Some(decider) = TakenStep::find(taken, decisive).and_then(|t| t.actor_id) else {
        return Err(StoreError::Invalid(format!(
            "confirm after a moderator has taken the step {decisive}"
        )));
    };
    if Some(decider) == actor.staff_id {
        return Err(StoreError::Invalid(
            "the confirmation must come from a second moderator, not the one who removed or hid the message".into(),
        ));
    }
    Ok(())
}

/// For hide, unhide and remove: evidence first (and its step, when the routine records one),
/// then the local record's visibility. The platform action to queue, if any.
async fn change_visibility(
    tx: &mut Tx<'_>,
    case: &OpenCase,
    step: &str,
    rules: &StepRules<'_>,
    taken: &[TakenStep],
    actor: &Actor,
) -> Result<Option<String>> {
    let state = match step {
        "hide" => "hidden",
        "remove" => "removed",
        "unhide" => "visible",
        _ => return Ok(None),
    };
    // Evidence first: captured before any visibility change, in the same transaction.
    capture_evidence_in(tx, case.id, &case.level, actor).await?;
    if rules.records_evidence_step && TakenStep::find(taken, "capture_evidence").is_none() {
        let detail = serde_json::json!({"automatic": true});
        insert_step(tx, case.id, "capture_evidence", actor, detail).await?;
    }
    set_visibility_in(tx, case.id, case.message_id, state, actor).await?;
    Ok(Some(step.to_string()))
}

/// The notice to the poster, queued as a private reply: (its message, its outbox row).
async fn queue_notice(
    tx: &mut Tx<'_>,
    message_id: i64,
    text: &str,
    actor: &Actor,
) -> Result<(i64, i64)> {
    let staff_id = actor
        .staff_id
        .ok_or_else(|| StoreError::Invalid("a notice to the poster is sent by a person".into()))?;
    queue_private_reply_in(tx, message_id, staff_id, text, actor)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(why) => StoreError::Invalid(format!(
                "the notice cannot be sent: {why}. Tell the poster another way and record it with \"send\": false"
            )),
            other => other,
        })
}

/// The step itself, its event and its audit entry.
async fn record_step(
    tx: &mut Tx<'_>,
    case: &OpenCase,
    step: &str,
    detail: serde_json::Value,
    actor: &Actor,
) -> Result<()> {
    insert_step(tx, case.id, step, actor, detail.clone()).await?;
    append(
        tx,
        NewEvent {
            kind: EventKind::CaseChanged,
            channel_id: Some(case.channel_id),
            conversation_id: Some(case.conversation_id),
            message_id: Some(case.message_id),
            payload: serde_json::json!({"case_id": case.id, "step": step}),
        },
    )
    .await?;
    let target = format!("case:{}", case.id);
    record(
        tx,
        actor,
        &format!("moderation.step.{step}"),
        Some(&target),
        detail,
    )
    .await?;
    Ok(())
}
