//! Moderation: the queue of cases, one case with its routine and evidence, steps, closing,
//! reports from any staff member and heated threads.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::conversations::MessageAnswer;
use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Json, Path, Query, RawBody};
use super::AppState;
use crate::access::{answer_capability, read_capability, Capability};
use crate::described;
use crate::moderation::cases::{missing, rules, step_kinds};
use crate::moderation::heat::HeatedThread;
use crate::moderation::routines::{Notice, Routine};
use crate::moderation::triage::Severity;
use crate::privacy::masking;
use crate::store::moderation::{CaseSummary, Evidence, StepOutcome, StepRecord, TriageFlag};
use crate::store::now_ms;
use crate::store::on_call::AlertView;

#[derive(OpenApi)]
// Schemas named, not derived, by a field (`schema_with`): `Finding` by the store's triage flag,
// which cannot import it; the others by `Option` fields described beside the reference.
#[openapi(
    paths(report, list, show, take_step, close, heated),
    components(schemas(
        crate::moderation::triage::Finding,
        Routine,
        AlertView,
        TriageFlag,
        crate::store::moderation::EvidenceContent,
        crate::store::moderation::FlaggedRevision,
        crate::store::outbox::DeliveryView
    ))
)]
pub struct Doc;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseQuery {
    /// Open or closed cases.
    #[param(inline, value_type = Option<CaseStatus>, default = "open")]
    status: Option<String>,
    /// Only cases of this level.
    #[param(schema_with = described::severity)]
    level: Option<String>,
    /// At most this many cases; values outside 1–1000 are clamped.
    #[param(default = 200)]
    limit: Option<i64>,
}

// The handler checks the words (a wrong one is 400); this enum only describes them.
/// Where a case stands.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum CaseStatus {
    Open,
    Closed,
}

/// The moderation queue.
#[derive(Serialize, ToSchema)]
#[schema(as = CaseList)]
struct CaseListView {
    /// Most serious level first (S5 first), then oldest first.
    items: Vec<CaseSummary>,
}

/// The moderation queue
///
/// Lists moderation cases, most serious level first (S5 first), then oldest first, each marked
/// `overdue` when past its due time. Open cases by default. Previews are the first 140
/// characters of the message, never for S5 content and, for DM cases, only for callers with
/// `read_dms`. Cases of every conversation kind are listed, DM cases included. Cases on channels
/// outside the caller's channel scope are left out; `limit` is applied before that, so a caller
/// with a channel scope may receive fewer than `limit` cases even when more exist. There is no
/// paging. Each read is recorded in the audit trail (`moderation.queue_read`).
#[utoipa::path(
    get,
    path = "/api/v1/moderation/cases",
    operation_id = "listCases",
    tag = "moderation",
    params(CaseQuery),
    responses(
        (status = 200, description = "The cases.", body = CaseListView),
        (status = 400, description = "A query parameter is unknown or has the wrong type, \
            `status` is not `open` or `closed`, or `level` is not one of S0–S5.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CaseQuery>,
) -> Result<impl IntoResponse> {
    let status = q.status.unwrap_or_else(|| "open".into());
    if status != "open" && status != "closed" {
        return Err(AppError::bad_request("status must be open or closed"));
    }
    if let Some(level) = &q.level {
        if Severity::parse(level).is_none() {
            return Err(AppError::bad_request("level must be one of S0..S5"));
        }
    }
    // A DM's words only for those who may read DMs; S5 content for nobody (the store's scope).
    let cases = state
        .store
        .cases(
            &caller.read_scope(),
            &status,
            q.level.as_deref(),
            q.limit.unwrap_or(200).clamp(1, 1000),
        )
        .await?
        .into_iter()
        .map(|mut c| {
            c.preview = c.preview.map(|p| crate::text::detectors::mask(&p));
            c
        })
        .collect::<Vec<_>>();
    state
        .store
        .audit(
            &caller.actor(),
            "moderation.queue_read",
            None,
            json!({"status": status}),
        )
        .await?;
    Ok(axum::Json(CaseListView { items: cases }))
}

/// The routines a case follows (the version it was opened or raised under).
async fn case_routines(
    state: &AppState,
    case: &crate::store::moderation::CaseSummary,
) -> Result<std::sync::Arc<crate::moderation::routines::Routines>> {
    state
        .moderation
        .routines_for(&state.store, &case.routine_version)
        .await
        .map_err(AppError::internal)
}

async fn case_in_scope(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<crate::store::moderation::CaseSummary> {
    state
        .store
        .case(&caller.read_scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no case {id}")))
}

/// One case with its routine, the steps taken (each with the delivery of what it asked of the
/// platform), what is still missing, the on-call alert, the evidence, triage's advice and (below
/// S5) the message.
#[derive(Serialize, ToSchema)]
struct CaseDetail {
    case: CaseSummary,
    #[schema(schema_with = routine_or_null, required = true)]
    routine: Option<Routine>,
    /// The same routine as staff read it (Markdown, as `tavla routines print` renders it): its
    /// title, summary, time limit and each step with whether it is required and who may take it,
    /// headed by the version.
    #[schema(required = true)]
    routine_text: Option<String>,
    /// Steps taken, in order.
    steps: Vec<StepRecord>,
    /// What the routine still requires before the case may close: step kinds (e.g. `register`), and
    /// `one of A or B` for a group none of whose steps was taken. Empty when it may close.
    missing: Vec<String>,
    #[schema(schema_with = alert_or_null, required = true)]
    on_call_alert: Option<AlertView>,
    /// Triage's categories: what a moderator may say the message was when closing (`categories` of
    /// the close request).
    categories_known: Vec<String>,
    /// The evidence record (at most one per case), empty until captured.
    evidence: Vec<Evidence>,
    #[schema(schema_with = triage_or_null, required = true)]
    triage: Option<TriageFlag>,
    #[schema(schema_with = message_or_null, required = true)]
    message: Option<MessageAnswer>,
    /// The notices to the poster of the routines the case follows (its `routine_version`), for
    /// `notify_poster`.
    notices: Vec<Notice>,
}

// The `Option` fields' descriptions, beside the reference and null (see
// `described::or_null_described`).
fn routine_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &Routine::name(),
        "The routine for the case's level in the version of the routines the case follows \
         (`case.routine_version`: the version it was opened under, kept when it is raised to \
         another level and when config/routines.toml changes).",
    )
}

fn alert_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &AlertView::name(),
        "The on-call alert of an S4/S5 case (when `moderation_alert_url` is set); null for other \
         cases.",
    )
}

fn triage_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &TriageFlag::name(),
        "Triage's flag for the message; null when triage flagged nothing.",
    )
}

/// The case's message.
fn message_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &MessageAnswer::name(),
        "The message with its history, its words withheld where the caller's scope says so \
         (S5: `withheld` `s5`); null when the caller does not read the conversation's kind.",
    )
}

/// One moderation case
///
/// Returns a case with the routine for its level, the steps taken, what the routine still
/// requires before the case may close (`missing`), the evidence (with `verified`: its hash
/// recomputed now), triage's flag, and the message with its history. S5 content is metadata
/// only: `message` is a placeholder with `text` null and `withheld` `s5`, `case.preview` is
/// null, the evidence has no content and triage's `findings` have `matched` null. For a DM case,
/// a caller without `read_dms` gets `message` null and no words anywhere. A case on a channel
/// outside the caller's channel scope does not exist for them (404). Each read is recorded in
/// the audit trail (`moderation.case_read`).
#[utoipa::path(
    get,
    path = "/api/v1/moderation/cases/{id}",
    operation_id = "showCase",
    tag = "moderation",
    params(("id" = i64, Path, description = "The moderation case id (an integer).")),
    responses(
        (status = 200, description = "The case.",
            body = CaseDetail),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such case, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let scope = caller.read_scope();
    // S5: metadata only, never the content (DESIGN.md §3); a DM's words only for DM readers. The
    // store leaves out what the scope withholds: the preview, the evidence copy, the words
    // triage matched, and the message itself.
    let case = case_in_scope(&state, &caller, id).await?;
    let routines = case_routines(&state, &case).await?;
    let routine = routines.for_level(&case.level).cloned();
    let steps = state.store.case_steps(id).await?;
    let alert = state.store.case_alert(id).await?;
    let evidence = state.store.case_evidence(&scope, id).await?;
    let flag = state.store.message_flag(&scope, case.message_id).await?;
    let missing = missing(&state.store, &routines, id, &case.level)
        .await
        .map_err(AppError::internal)?;
    let message = state
        .store
        .conversation(&scope, case.conversation_id)
        .await?
        .and_then(|c| c.messages.into_iter().find(|m| m.id == case.message_id))
        .map(MessageAnswer::from);
    state
        .store
        .audit(
            &caller.actor(),
            "moderation.case_read",
            Some(&format!("case:{id}")),
            json!({}),
        )
        .await?;
    // The routine, its text and its notices are those of the version the case follows.
    let detail = CaseDetail {
        routine_text: routines.level_markdown(&case.level),
        case,
        routine,
        steps,
        missing,
        on_call_alert: alert,
        // What a moderator may say the message was when closing (training learns from it).
        categories_known: state.moderation.engine.categories(),
        evidence,
        triage: flag,
        message,
        notices: routines.notices.clone(),
    };
    let mut body = serde_json::to_value(detail).map_err(AppError::internal)?;
    // Personal data masked in the preview, the evidence copy and the message (DESIGN.md §2);
    // a moderator reveals one value through the message when the case needs it.
    masking::summary_json(&mut body["case"]);
    if let Some(items) = body["evidence"].as_array_mut() {
        for e in items {
            masking::every_string(&mut e["content"]);
        }
    }
    if let Some(findings) = body["triage"]["findings"].as_array_mut() {
        for f in findings {
            masking::every_string(&mut f["matched"]);
        }
    }
    Ok(axum::Json(body))
}

/// A step to take. Unknown fields are refused (422). Whatever is given is recorded with the step
/// (and in the audit trail).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StepRequest)]
pub struct StepBody {
    /// The step kind; it must be one of the case's routine (422 otherwise, listing the routine's
    /// steps).
    #[schema(schema_with = described::step_kind)]
    step: String,
    /// For `police_report` (required): the police's reference (diarienummer). For `register`:
    /// the register number.
    #[schema(max_length = 100)]
    reference: Option<String>,
    /// A note for the record.
    #[schema(max_length = 2000)]
    note: Option<String>,
    /// For `notify_poster`: the id of a notice from config/routines.toml (the case view lists
    /// them in `notices`). Without `text`, the notice's own text in `language` is what is sent.
    /// An unknown id is 422 and `detail` lists the ids.
    #[schema(max_length = 100)]
    template: Option<String>,
    /// For `notify_poster`: the text sent to the poster (this or `template` is required; it wins
    /// over the notice's text). It is sent as a private reply to the comment unless `send` is
    /// false, and recorded with the step.
    #[schema(max_length = 2000)]
    text: Option<String>,
    /// For `notify_poster` with `template`: the language of the notice's text (default sv).
    #[schema(inline, value_type = Option<NoticeLanguage>)]
    language: Option<String>,
    /// For `notify_poster`: false when the poster was told some other way (by phone, say); the
    /// step is recorded and nothing is sent. Default true.
    send: Option<bool>,
}

/// A language the routines' notices are written in.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum NoticeLanguage {
    Sv,
    En,
}

/// A step recorded, with what it queued for the platform.
#[derive(Serialize, ToSchema)]
#[schema(as = StepTaken)]
struct StepTakenView {
    step: StepOutcome,
    /// For `hide`, `unhide` and `remove`: whether the change was queued for the platform; null
    /// for other steps.
    platform: Option<PlatformQueued>,
    /// For `notify_poster`: the notice queued as a private reply with the step (`queued: true`,
    /// with `message_id`, the notice's own message in the DM conversation with the poster, and
    /// `outbox_id`). null for other steps or with `send: false`. A notice the platform cannot
    /// take refuses the whole step (422).
    notice: Option<NoticeQueued>,
}

/// Whether the platform change was queued in the outbox, in the same transaction as the step.
/// When the platform cannot be asked (a DM, a message without its platform id), the local record
/// alone changes.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum PlatformQueued {
    Queued {
        /// Always true here.
        queued: bool,
        /// Follow it in the message's `delivery_detail` and `message.delivery_changed` events.
        outbox_id: i64,
    },
    NotQueued {
        /// Always false here.
        queued: bool,
        /// Why not, e.g. a DM, or a comment the platform does not know (no platform id).
        reason: String,
    },
}

/// The notice to the poster, queued as a private reply with the step.
#[derive(Serialize, ToSchema)]
struct NoticeQueued {
    /// Always true.
    queued: bool,
    /// The notice's own message, in the DM conversation with the poster.
    message_id: i64,
    outbox_id: i64,
}

/// Take a step of the case's routine
///
/// Records one step of the case's routine, with actor and time. The step must be one of the steps
/// of the routine for the case's level (the version of config/routines.toml the case follows: the
/// one it was opened under, also after it is raised to another level), and each step kind is taken
/// at most once per case. `police_report` needs `reference`; `notify_poster` needs `template` or
/// `text`; `second_confirmation` needs a `remove` or `hide` step taken before, and must come from
/// another moderator than the one who took the `remove` step (or, without one, the `hide` step);
/// when that step was taken automatically by triage, any moderator may confirm. `hide`, `unhide`
/// and `remove` first capture the evidence record (once per case; for S5 without content) and
/// record the routine's `capture_evidence` step if it has one and it was not taken, in the same
/// transaction; then they mark the local message (with history; it is never deleted) and queue the
/// same change for the platform through the outbox, in the same transaction as the step (see
/// `platform` in the answer, and the step's `delivery` in the case view). `capture_evidence`
/// captures the record on its own. `notify_poster` (unless `send` is false) queues the notice as a
/// private reply to the comment in the same transaction; where the platform allows none (a comment
/// older than 7 days, a DM, a comment without its platform id or author) the step is refused with
/// 422 and nothing is recorded: tell the poster another way and record it with `send: false`. If
/// any part cannot be written, none of it is (500): the step, the local change and the outbox row
/// are written together or not at all.
///
/// **Who may take a step.** Each step of a routine names the roles that may take it (`roles` in
/// config/routines.toml; the case view shows them in `routine.steps[].roles`). Anyone else is
/// refused with 403, and `detail` names the step, the level and the roles. Moderators (`moderate`)
/// take steps on any case in their channel scope; communicators and agents take the steps given to
/// their role, on cases in the conversations they answer: a comment thread needs
/// `answer_comments`, a DM `answer_dms` (403 otherwise). The second confirmation is always a
/// moderator's.
///
/// In the shipped routines (version 2026-12-05.1):
///
/// - **S0** (Question, complaint or own case details), due in 4320 minutes. Steps: `reply`,
///   `capture_evidence`, `hide`, `refer_secure_channel`. Required before closing: none. `reply`
///   and `refer_secure_channel` may be taken by moderators, communicators and agents; every other
///   step of every level by moderators only.
/// - **S1** (Spam, off-topic, flooding, party-political campaigning), due in 2880 minutes. Steps:
///   `capture_evidence`, `hide`. Required before closing: `capture_evidence`, `hide`.
/// - **S2** (Profanity, insult, disinformation, third-party personal data), due in 1440 minutes.
///   Steps: `capture_evidence`, `hide`, `remove`, `notify_poster`. Required before closing:
///   `capture_evidence`, `notify_poster`, one of `hide` or `remove`.
/// - **S3** (Harassment, defamation, threats or abuse against staff, sensitive data about others),
///   due in 240 minutes. Steps: `capture_evidence`, `remove`, `register`, `police_report`,
///   `incident_report`, `block`. Required before closing: `capture_evidence`, `remove`,
///   `register`, `block`.
/// - **S4** (Obviously criminal under the Bulletin Board Act (unlawful threat, incitement against
///   a group …)), due in 60 minutes. Steps: `capture_evidence`, `remove`, `register`,
///   `police_report`, `block`, `incident_report`, `second_confirmation`. Required before closing:
///   `capture_evidence`, `remove`, `register`, `police_report`, `block`, `second_confirmation`.
/// - **S5** (Child sexual abuse material; imminent danger), due in 15 minutes. Steps:
///   `capture_evidence`, `remove`, `alert`, `police_report`, `second_confirmation`. Required
///   before closing: `capture_evidence`, `remove`, `alert`, `police_report`,
///   `second_confirmation`.
///
/// Recorded in the audit trail (`moderation.step.<step>`, plus `moderation.evidence_captured`,
/// `message.hidden`/`message.unhidden`/`message.removed` and `message.<action>_requested` as they
/// apply) and announced as a `moderation.case_changed` event. A case on a channel outside the
/// caller's channel scope does not exist for them (404). The case is looked up (404) and the
/// caller's right to act on it checked (403) before the body is judged.
///
/// **Access:** Then the case and the step decide (see above).
#[utoipa::path(
    post,
    path = "/api/v1/moderation/cases/{id}/steps",
    operation_id = "takeCaseStep",
    tag = "moderation",
    params(("id" = i64, Path, description = "The moderation case id (an integer).")),
    request_body(content = StepBody, description = "The step and what it needs."),
    responses(
        (status = 201, description = "The step is recorded.", body = StepTakenView, example = json!({
            "step": {"case_id": 12, "message_id": 4711, "step": "remove", "platform_action": "remove"},
            "platform": {"queued": true, "outbox_id": 88}, "notice": null
        })),
        (status = 400, response = BadRequest),
        (status = 403, description = "The caller may not take this step: the route's \
            capabilities are missing (see Access), a communicator or agent on a case outside the \
            conversations they answer, or the routine gives the step to other roles (`detail` \
            names the step, the level and who may take it).", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "There is no such case, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The step was already taken on this case (`detail` says by \
            whom), or the case is closed (report the message again to open a new one).",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The step is not one of the case's routine (`detail` lists \
            its steps); `police_report` without `reference`; `notify_poster` without `template` \
            or `text`; `notify_poster` whose notice the platform cannot take (older than 7 days, \
            a DM: tell the poster another way and record it with `send: false`); \
            `second_confirmation` before any `remove` or `hide`, or by the moderator who removed \
            or hid the message; a field longer than its limit (`reference` and `template` 100 \
            characters, `note` and `text` 2,000); or the body has unknown or missing fields.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn take_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(raw): RawBody,
) -> Result<impl IntoResponse> {
    let case = case_in_scope(&state, &caller, id).await?;
    if !caller.can(Capability::Moderate) {
        caller.require(answer_capability(&case.conversation_kind))?;
    }
    let body: StepBody = parse_json(&raw)?;
    for (name, value, max) in [
        ("reference", &body.reference, 100),
        ("note", &body.note, 2000),
        ("template", &body.template, 100),
        ("text", &body.text, 2000),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(AppError::unprocessable(format!(
                "{name} is longer than {max} characters"
            )));
        }
    }
    let routines = case_routines(&state, &case).await?;
    if let Some(step) = routines
        .for_level(&case.level)
        .and_then(|r| r.steps.iter().find(|s| s.kind == body.step))
    {
        if !caller
            .roles
            .iter()
            .any(|r| step.may_be_taken_by(r.as_str()))
        {
            return Err(AppError::forbidden(format!(
                "the step {} ({}) of the {} routine may be taken by {} only, and {} {}; ask one of them",
                step.kind,
                step.title_en,
                case.level,
                step.roles.join(", "),
                caller.roles.describe(),
                if caller.roles.len() > 1 { "are others" } else { "is another" }
            )));
        }
    }
    let notifying = body.step == "notify_poster";
    let mut text = body.text.clone();
    if let (true, Some(id)) = (notifying, body.template.as_deref()) {
        // The notices of the routines the case follows.
        let notice = routines.notice(id).ok_or_else(|| {
            let ids: Vec<_> = routines.notices.iter().map(|n| n.id.as_str()).collect();
            AppError::unprocessable(format!(
                "there is no notice {id:?}; the notices of the routines this case follows are: {}",
                ids.join(", ")
            ))
        })?;
        if text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            text = Some(
                notice
                    .text(body.language.as_deref().unwrap_or("sv"))
                    .to_string(),
            );
        }
    }
    let kinds = step_kinds(&routines, &case.level);
    let detail = json!({"reference": body.reference, "note": body.note, "template": body.template, "text": text});
    // The notice goes to the poster as a private reply, queued with the step.
    let send = text
        .as_deref()
        .filter(|_| notifying && body.send != Some(false));
    let outcome = state
        .store
        .take_step(
            id,
            &body.step,
            detail,
            &rules(&kinds),
            send,
            &caller.actor(),
        )
        .await?;
    let platform = match &outcome.platform {
        Some(Ok(outbox_id)) => Some(PlatformQueued::Queued {
            queued: true,
            outbox_id: *outbox_id,
        }),
        Some(Err(reason)) => Some(PlatformQueued::NotQueued {
            queued: false,
            reason: reason.clone(),
        }),
        None => None,
    };
    // The notice is a message of its own, in the DM conversation with the poster.
    let notice = outcome.notice.map(|(message_id, outbox_id)| NoticeQueued {
        queued: true,
        message_id,
        outbox_id,
    });
    Ok((
        StatusCode::CREATED,
        axum::Json(StepTakenView {
            step: outcome,
            platform,
            notice,
        }),
    ))
}

/// Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CloseRequest)]
pub struct CloseBody {
    /// What was done and why (trimmed; 1 to 2,000 characters).
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    decision: String,
    /// What the message was, in the moderator's judgement: names of triage's categories
    /// (config/moderation/categories.toml; another name is refused with 422), or an empty list
    /// for nothing wrong. Optional; `tavla moderation train --from-cases` learns from it before
    /// anything else.
    categories: Option<Vec<String>>,
}

/// The case closed.
#[derive(Serialize, ToSchema)]
#[schema(as = CaseClosed)]
struct CaseClosedView {
    /// The id of the case closed.
    closed: i64,
}

/// Close a case
///
/// Closes a case with a written decision, once nothing its routine requires is missing. Otherwise
/// the answer is 422 and `detail` lists what is missing (e.g. `the case cannot close yet: the
/// routine still requires register, one of hide or remove`); GET /api/v1/moderation/cases/{id}
/// gives the same list as `missing`. Recorded in the audit trail (`moderation.case_closed`, with
/// the decision) and announced as a `moderation.case_changed` event. A case on a channel outside
/// the caller's channel scope does not exist for them (404). The body is read before the case is
/// looked up.
#[utoipa::path(
    post,
    path = "/api/v1/moderation/cases/{id}/close",
    operation_id = "closeCase",
    tag = "moderation",
    params(("id" = i64, Path, description = "The moderation case id (an integer).")),
    request_body(content = CloseBody, description = "The decision.", example = json!({
        "decision": "Hot mot personal: borttaget, registrerat, polisanmält och blockerat.",
        "categories": ["threat"]
    })),
    responses(
        (status = 200, description = "Closed.", body = CaseClosedView,
            example = json!({"closed": 12})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such case, or it is on a channel outside the \
            caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The case is already closed.", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "Required steps are missing (listed in `detail`), the \
            decision is empty (after trimming) or longer than 2,000 characters, or the body has \
            unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<CloseBody>,
) -> Result<impl IntoResponse> {
    let case = case_in_scope(&state, &caller, id).await?;
    let routines = case_routines(&state, &case).await?;
    let decision = body.decision.trim();
    if decision.is_empty() || decision.chars().count() > 2000 {
        return Err(AppError::unprocessable(
            "write the decision (1 to 2000 characters): what was done and why",
        ));
    }
    if let Some(categories) = &body.categories {
        let known = state.moderation.engine.categories();
        if let Some(unknown) = categories.iter().find(|c| !known.contains(c)) {
            return Err(AppError::unprocessable(format!(
                "{unknown:?} is not a moderation category; use some of {} (or an empty list: nothing wrong)",
                known.join(", ")
            )));
        }
    }
    let missing = missing(&state.store, &routines, id, &case.level)
        .await
        .map_err(AppError::internal)?;
    state
        .store
        .close_case(
            id,
            &missing,
            decision,
            body.categories.as_deref(),
            &caller.actor(),
        )
        .await?;
    Ok(axum::Json(CaseClosedView { closed: id }))
}

/// Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportRequest)]
pub struct ReportBody {
    /// Why the message is reported (trimmed; 1 to 2,000 characters, at least one of them not
    /// blank).
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    reason: String,
    /// The reporter's view of the level; S1 when absent or null. Triage's severity for the
    /// message replaces it when higher. Any other value is refused (422).
    #[schema(schema_with = described::severity_or_null)]
    level: Option<String>,
}

/// The case a report opened or joined.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportResult)]
struct ReportResultView {
    /// The case opened, or the message's case already open, to which this report was added (its
    /// reason, categories and, when more severe, its level).
    case_id: i64,
    /// The case's level after this report: the higher of the reporter's level and triage's
    /// severity for a new case; for a case already open, the higher of its level and this
    /// report's.
    #[schema(schema_with = described::severity)]
    level: String,
    /// Whether the reason was added to the case. A case holds at most 20,000 characters of
    /// reasons (a bound on what a flood of reports can store); a report beyond it still counts
    /// (its categories, a higher level, the audit row) but its reason is not added, and `note`
    /// says so.
    reason_kept: bool,
    /// Present when `reason_kept` is false: what happened, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// Report a message to moderation
///
/// Any staff member who may read a message may report it. This opens a moderation case that
/// follows the routine for its level: the higher of the reporter's `level` (S1 when absent) and
/// triage's severity for the message. Its categories are `reported` plus what triage flagged. A
/// new case is recorded in the audit trail (`moderation.case_opened`, by the reporter), announced
/// as a `moderation.case_opened` event, and for S4/S5 given an on-call alert when
/// `moderation_alert_url` is set: sent once, retried until accepted, never with the content (see
/// `on_call_alert` in the case view). The message's visibility is not checked: a message that is
/// hidden, removed or deleted can be reported by its id. The body is judged only after access is
/// checked (so a caller who may not act learns nothing from validation errors); its Content-Type
/// is not checked. A report on a message whose case is still open adds to that case instead of
/// opening another: its reason is kept beside the earlier ones (with the reporter's name; up to
/// 20,000 characters in all, see `reason_kept`), its categories are added, and when it is more
/// severe the case takes its level, that level's routine in the version the case follows and the
/// sooner due time (`level` in the answer is the case's level); raised to S4/S5, it gets its
/// on-call alert.
///
/// **Access:** Then the message's conversation decides: a message in a DM conversation needs
/// `read_dms`, in a comment thread `read_comments` (403 otherwise, with `missing_training` when
/// training is what is missing). A message on a channel outside the caller's channel scope does
/// not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/report",
    operation_id = "reportMessage",
    tag = "moderation",
    params(("id" = i64, Path, description = "The tavla id of the message to report.")),
    request_body(content = ReportBody, description = "Why the message is reported.",
        example = json!({"reason": "Hotfull kommentar mot en handläggare", "level": "S3"})),
    responses(
        (status = 201, description = "The case opened (or the one already open).",
            body = ReportResultView,
            example = json!({"case_id": 12, "level": "S3", "reason_kept": true})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such message, or it is on a channel outside \
            the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "`reason` is empty (after trimming) or longer than 2,000 \
            characters, `level` is not one of S0–S5, or the body has unknown or missing fields.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(message_id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let place = state
        .store
        .message_place(message_id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no message {message_id}")))?;
    caller.require(read_capability(&place.kind))?;
    let body: ReportBody = parse_json(&body)?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::unprocessable(
            "say why you report it (1 to 2000 characters)",
        ));
    }
    let mut level = body.level.unwrap_or_else(|| "S1".into());
    if Severity::parse(&level).is_none() {
        return Err(AppError::unprocessable("level must be one of S0..S5"));
    }
    // Severity is the highest that applies: the reporter's or triage's.
    let mut categories = vec!["reported".to_string()];
    if let Some(flag) = state
        .store
        .message_flag(&caller.read_scope(), message_id)
        .await?
    {
        if flag.severity > level {
            level = flag.severity;
        }
        categories.extend(flag.categories);
    }
    let mut open = state
        .moderation
        .opening(&level, categories, "report")
        .ok_or_else(|| AppError::internal(format!("no routine for {level}")))?;
    open.reported_by = Some(caller.staff.id);
    open.reason = Some(reason.to_string());
    // A report on a message whose case is open joins that case, which keeps its routines.
    if let Some((_, version)) = state.store.open_case_of_message(message_id).await? {
        let routines = state
            .moderation
            .routines_for(&state.store, &version)
            .await
            .map_err(AppError::internal)?;
        if let Some(routine) = routines.for_level(&level) {
            open.raise_under = Some((version, routine.due_minutes));
        }
    }
    let (case_id, reason_kept) = state
        .store
        .report_message(message_id, &open, &caller.actor())
        .await?;
    // A case that was already open may have stayed at a higher level than this report's.
    let level = state
        .store
        .case(&caller.read_scope(), case_id)
        .await?
        .map(|c| c.level)
        .unwrap_or(level);
    let note = (!reason_kept).then(|| format!(
        "the report counts, but the case already holds {} characters of reasons, so yours was not added; tell the moderators another way if it says something new",
        crate::store::moderation::REASONS_MAX_CHARS
    ));
    let answer = ReportResultView {
        case_id,
        level,
        reason_kept,
        note,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// The heated threads.
#[derive(Serialize, ToSchema)]
#[schema(as = HeatedList)]
struct HeatedListView {
    /// Busiest first (most comments in the last hour).
    items: Vec<HeatedThread>,
}

/// Heated comment threads
///
/// Lists comment threads where a debate is catching fire, busiest first: in the last hour at least
/// `heated_min_comments` inbound comments (config, 10 by default) and at least 3 times the
/// thread's own hourly average over the 24 hours before, or at least 5 inbound comments of which
/// at least a fifth triage flagged at S2 or above. Threads on channels outside the caller's
/// channel scope are left out. Takes no parameters. Each read is recorded in the audit trail
/// (`moderation.heated_read`, with how many threads were shown).
#[utoipa::path(
    get,
    path = "/api/v1/moderation/heated",
    operation_id = "heatedThreads",
    tag = "moderation",
    responses(
        (status = 200, description = "The heated threads (possibly none).", body = HeatedListView),
    )
)]
pub async fn heated(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    let threads = crate::moderation::heat::heated_threads(
        &state.store,
        &caller.read_scope(),
        now_ms(),
        state.settings.heated_min_comments.max(1),
    )
    .await?;
    state
        .store
        .audit(
            &caller.actor(),
            "moderation.heated_read",
            None,
            json!({"shown": threads.len()}),
        )
        .await?;
    Ok(axum::Json(HeatedListView { items: threads }))
}
