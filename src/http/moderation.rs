//! Moderation: the queue of cases, one case with its routine and evidence, steps, closing,
//! reports from any staff member and heated threads.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{parse_json, Json, Path, Query, RawBody};
use super::AppState;
use crate::access::{answer_capability, read_capability, Capability};
use crate::moderation::cases::{missing, rules, step_kinds};
use crate::moderation::triage::Severity;
use crate::privacy::masking;
use crate::store::now_ms;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    status: Option<String>,
    level: Option<String>,
    limit: Option<i64>,
}

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
    Ok(axum::Json(json!({"items": cases})))
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
        .and_then(|c| c.messages.into_iter().find(|m| m.id == case.message_id));
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
    let mut body = json!({
        "case": case, "routine": routine, "routine_text": routines.level_markdown(&case.level),
        "steps": steps, "missing": missing, "on_call_alert": alert,
        // What a moderator may say the message was when closing (training learns from it).
        "categories_known": state.moderation.engine.categories(),
        "evidence": evidence, "triage": flag, "message": message,
        "notices": routines.notices,
    });
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
    if !body["message"].is_null() {
        masking::message_json(&mut body["message"]);
    }
    Ok(axum::Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    step: String,
    /// The police's reference for police_report; the register number for register.
    reference: Option<String>,
    note: Option<String>,
    /// The notice used for notify_poster (an id from config/routines.toml's notices).
    template: Option<String>,
    /// The text sent to the poster for notify_poster (instead of the notice's own text).
    text: Option<String>,
    /// The notice's language: "sv" (default) or "en".
    language: Option<String>,
    /// For notify_poster: false when the poster was told some other way, so nothing is sent.
    send: Option<bool>,
}

/// A step of the case's routine. Moderators take the steps given to them; communicators and
/// agents those given to their role (answering a question, say), on cases in the conversations
/// they answer. What the step decides for the platform is queued with it, in one transaction.
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
        Some(Ok(outbox_id)) => json!({"queued": true, "outbox_id": outbox_id}),
        Some(Err(reason)) => json!({"queued": false, "reason": reason}),
        None => json!(null),
    };
    // The notice is a message of its own, in the DM conversation with the poster.
    let notice = match outcome.notice {
        Some((message_id, outbox_id)) => {
            json!({"queued": true, "message_id": message_id, "outbox_id": outbox_id})
        }
        None => json!(null),
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"step": outcome, "platform": platform, "notice": notice})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    decision: String,
    /// What the message was, in the moderator's judgement: triage's category names, or an empty
    /// list for nothing wrong. Optional; training learns from it before anything else.
    categories: Option<Vec<String>>,
}

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
    Ok(axum::Json(json!({"closed": id})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    reason: String,
    /// The reporter's view of the severity (S0..S5); S1 when absent. Triage may raise it.
    level: Option<String>,
}

/// Any staff member who can read a message may report it to moderation.
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
        if let Some(s) = flag["severity"].as_str() {
            if s > level.as_str() {
                level = s.to_string();
            }
        }
        if let Some(c) = flag["categories"].as_array() {
            categories.extend(c.iter().filter_map(|v| v.as_str().map(String::from)));
        }
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
    let mut answer = json!({"case_id": case_id, "level": level, "reason_kept": reason_kept});
    if !reason_kept {
        answer["note"] = json!(format!(
            "the report counts, but the case already holds {} characters of reasons, so yours was not added; tell the moderators another way if it says something new",
            crate::store::moderation::REASONS_MAX_CHARS
        ));
    }
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

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
    Ok(axum::Json(json!({"items": threads})))
}
