//! A person's data (export, erasure), legal holds, retention runs and the audited reveal of one
//! masked value. The rules themselves live in `crate::privacy`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::instrument;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};

use super::auth::Caller;
use super::description::refusals::{
    BadRequest, Conflict, NotFound, UnprocessableContent, UnsupportedMediaType,
};
use super::error::{AppError, Result};
use super::extract::{parse_json, Json, Path, Query, RawBody};
use super::AppState;
use crate::access::{read_capability, Capability};
use crate::privacy::erasure::ErasureReport;
use crate::privacy::export::PersonExport;
use crate::privacy::retention::{RetentionError, RetentionReport};
use crate::store::privacy::{AuthorRow, LegalHold};

#[derive(OpenApi)]
#[openapi(paths(
    find,
    export,
    erase,
    holds,
    place_hold,
    lift_hold,
    run_retention,
    reveal
))]
pub struct Doc;

/// Platform ids are digits (Meta's ids) or short tokens; anything else is refused before a query.
fn platform_id(id: &str) -> Result<&str> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(AppError::bad_request(
            "give the person's platform id as the platform shows it (digits, letters, - _ .)",
        ));
    }
    Ok(id)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FindQuery {
    /// Part of the person's name as the platform showed it (2 to 100 characters after trimming).
    #[param(min_length = 2, max_length = 100)]
    name: String,
}

/// Matching authors.
#[derive(Serialize, ToSchema)]
struct AuthorList {
    items: Vec<AuthorRow>,
}

/// Find a person by name
///
/// Authors whose name (as the platform showed it) contains `name`, case-insensitive, at most 50:
/// how the DPO finds the platform id for an export or erasure. Pseudonyms are never listed.
/// Audited (`privacy.authors_searched`, without the name).
#[utoipa::path(
    get,
    path = "/api/v1/privacy/authors",
    operation_id = "findAuthors",
    tag = "privacy",
    params(FindQuery),
    responses(
        (status = 200, description = "Matching authors.", body = AuthorList),
        (status = 400, response = BadRequest),
    )
)]
#[instrument(skip_all)]
pub async fn find(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FindQuery>,
) -> Result<impl IntoResponse> {
    let name = q.name.trim();
    if name.chars().count() < 2 || name.chars().count() > 100 {
        return Err(AppError::bad_request(
            "give 2 to 100 characters of the person's name",
        ));
    }
    let items = state.store.find_authors(name, 50).await?;
    state
        .store
        .audit(
            &caller.actor(),
            "privacy.authors_searched",
            None,
            json!({"shown": items.len()}),
        )
        .await?;
    Ok(axum::Json(AuthorList { items }))
}

/// Export all data about a person
///
/// Everything stored about the person (GDPR art. 15): their messages with history, their
/// conversations, moderation cases about what they wrote, reactions and legal holds. Others' words
/// in their conversations are masked. Audited (`privacy.exported`, target `author:{platform_id}`).
/// The same as `tavla privacy export --author ID`.
#[utoipa::path(
    get,
    path = "/api/v1/privacy/authors/{platform_id}",
    operation_id = "exportPerson",
    tag = "privacy",
    params(("platform_id" = String, Path, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$",
        description = "The person's platform id, as in a message's `author.platform_id`.")),
    responses(
        (status = 200, description = "The export.",
            body = PersonExport),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    )
)]
#[instrument(skip_all)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse> {
    let id = platform_id(&id)?;
    let scope = caller.privacy_request_scope()?;
    let export = crate::privacy::export::export(&state.store, &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("nothing is stored about {id}")))?;
    state
        .store
        .audit(
            &caller.actor(),
            "privacy.exported",
            Some(&format!("author:{id}")),
            json!({"people": export.people.len()}),
        )
        .await?;
    Ok(axum::Json(export))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DryRun)]
pub struct RunBody {
    /// true: report what would happen and change nothing (no rows, events or audit entries are
    /// written). Required, so an empty body never disposes of anything.
    dry_run: bool,
}

/// Erase a person's data where the law allows
///
/// GDPR art. 17 within the archive rules: a record under a legal hold or an open moderation case
/// is kept; a record whose retention period has run is deleted; before that, the rule's
/// `on_request` decides (keep a public record, pseudonymise or delete; a record that was under a
/// moderation case is kept as the record of supervision). Deleted records leave the store, the
/// search index and the FAQ examples (events `message.erased`, `message.pseudonymised`). The
/// report lists what was kept and why. Audited (`privacy.erased`, with message ids only); a dry
/// run writes nothing. Erasure covers the person in every channel: a channel-limited caller is
/// refused (403).
#[utoipa::path(
    post,
    path = "/api/v1/privacy/authors/{platform_id}/erase",
    operation_id = "erasePerson",
    tag = "privacy",
    params(("platform_id" = String, Path, max_length = 64, pattern = "^[A-Za-z0-9_.-]+$",
        description = "The person's platform id, as in a message's `author.platform_id`.")),
    request_body(content = RunBody),
    responses(
        (status = 200, description = "What was (or would be) done.",
            body = ErasureReport),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller, or the \
            caller is limited to some channels and this work spans every channel.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableContent),
    )
)]
#[instrument(skip_all)]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RunBody>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("erasing a person's data (in every channel they wrote to)")?;
    let id = platform_id(&id)?;
    let report = crate::privacy::erasure::erase(
        &state.store,
        &state.retention,
        id,
        crate::store::now_ms(),
        body.dry_run,
        &caller.actor(),
    )
    .await?
    .ok_or_else(|| AppError::not_found(format!("nothing is stored about {id}")))?;
    Ok(axum::Json(report))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HoldsQuery {
    /// Lifted holds too.
    all: Option<bool>,
}

/// The holds.
#[derive(Serialize, ToSchema)]
struct HoldList {
    items: Vec<LegalHold>,
}

/// Legal holds
///
/// Holds in force (with `all=true`, lifted ones too). A hold keeps the records it covers past
/// every retention rule and erasure request until lifted.
#[utoipa::path(
    get,
    path = "/api/v1/legal-holds",
    operation_id = "listLegalHolds",
    tag = "privacy",
    params(HoldsQuery),
    responses(
        (status = 200, description = "The holds.", body = HoldList),
        (status = 400, response = BadRequest),
    )
)]
pub async fn holds(
    State(state): State<AppState>,
    Query(q): Query<HoldsQuery>,
) -> Result<impl IntoResponse> {
    let items = state.store.holds(q.all.unwrap_or(false)).await?;
    Ok(axum::Json(HoldList { items }))
}

/// A legal hold to place. Scope `message` or `conversation` takes `id` (and no `platform_id`);
/// scope `author` takes `platform_id` (and no `id`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    #[schema(inline, value_type = HoldScope)]
    scope: String,
    /// For scope message or conversation.
    #[schema(minimum = 1)]
    id: Option<i64>,
    /// For scope author: the person's platform id.
    platform_id: Option<String>,
    /// Why (a case number, a decision): 1 to 500 characters after surrounding spaces are trimmed.
    #[schema(pattern = r"^{blank}*(?:{not_blank}|{not_blank}[\s\S]{0,498}{not_blank}){blank}*$")]
    reason: String,
}

// What a legal hold covers (`NewHold::scope`), for the description only.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum HoldScope {
    Message,
    Conversation,
    Author,
}

/// [`NewHold`]'s fields with the rule across them, as `NewLegalHold`: scope `author` takes
/// `platform_id` (a platform id as `platform_id` accepts it) and no `id`; `message` and
/// `conversation` take `id` and no `platform_id`. JSON Schema's `if`/`then`/`else`, which
/// utoipa's attributes cannot state, is merged into the derived object.
struct NewLegalHold;

impl PartialSchema for NewLegalHold {
    fn schema() -> RefOr<Schema> {
        super::description::with_rule(
            NewHold::schema(),
            json!({
                "if": {"properties": {"scope": {"const": "author"}}},
                "then": {
                    "required": ["platform_id"],
                    "properties": {
                        "platform_id": {"type": "string", "minLength": 1, "maxLength": 64,
                            "pattern": "^[0-9A-Za-z_.-]+$"},
                        "id": {"type": "null"}
                    }
                },
                "else": {
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "integer", "format": "int64", "minimum": 1},
                        "platform_id": {"type": "null"}
                    }
                }
            }),
        )
    }
}

impl ToSchema for NewLegalHold {
    fn name() -> std::borrow::Cow<'static, str> {
        "NewLegalHold".into()
    }
}

/// The new holds' ids.
#[derive(Serialize, ToSchema)]
struct HoldsPlaced {
    ids: Vec<i64>,
}

/// Place a legal hold
///
/// Holds a message, a conversation or everything by one author (by platform id: one hold per
/// platform where the id is known). Audited (`legal_hold.placed`). Legal holds are kept centrally
/// (a hold on an author covers every channel): a channel-limited caller is refused (403).
#[utoipa::path(
    post,
    path = "/api/v1/legal-holds",
    operation_id = "placeLegalHold",
    tag = "privacy",
    request_body(content = NewLegalHold),
    responses(
        (status = 201, description = "The new holds' ids.", body = HoldsPlaced),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller, or the \
            caller is limited to some channels and this work spans every channel.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableContent),
    )
)]
#[instrument(skip_all)]
pub async fn place_hold(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewHold>,
) -> Result<impl IntoResponse> {
    // Holds are the registry's, kept and lifted centrally: a hold on a person covers them in
    // every channel, and one placed by someone without a limit must not be lifted by someone
    // with one.
    caller.require_every_channel("placing a legal hold")?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::unprocessable(
            "say why the records are held (1 to 500 characters), e.g. the case number",
        ));
    }
    let targets =
        match (body.scope.as_str(), body.id, body.platform_id.as_deref()) {
            ("author", None, Some(pid)) => {
                let pid = platform_id(pid)?;
                let ids: Vec<i64> = state
                    .store
                    .authors_by_platform_id(pid)
                    .await?
                    .into_iter()
                    .map(|a| a.id)
                    .collect();
                if ids.is_empty() {
                    return Err(AppError::not_found(format!(
                        "nothing is stored about {pid}"
                    )));
                }
                ids
            }
            ("message", Some(id), None) => {
                state
                    .store
                    .message_place(id)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("there is no message {id}")))?;
                vec![id]
            }
            ("conversation", Some(id), None) => {
                state
                    .store
                    .conversation_place(id)
                    .await?
                    .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
                vec![id]
            }
            _ => return Err(AppError::unprocessable(
                "give scope message or conversation with its id, or scope author with platform_id",
            )),
        };
    let ids = state
        .store
        .place_hold(&body.scope, &targets, reason, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(HoldsPlaced { ids })))
}

/// Lift a legal hold
///
/// The records it kept fall under their rules again at the next retention run. Audited
/// (`legal_hold.lifted`). Legal holds are kept centrally: a channel-limited caller is refused
/// (403).
#[utoipa::path(
    delete,
    path = "/api/v1/legal-holds/{id}",
    operation_id = "liftLegalHold",
    tag = "privacy",
    params(("id" = i64, Path, description = "The legal hold's id.")),
    responses(
        (status = 204, description = "Lifted."),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller, or the \
            caller is limited to some channels and this work spans every channel.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 404, response = NotFound),
    )
)]
#[instrument(skip_all)]
pub async fn lift_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("lifting a legal hold")?;
    if state.store.lift_hold(id, &caller.actor()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!(
            "there is no legal hold {id} in force"
        )))
    }
}

/// Apply retention now
///
/// Applies config/retention.toml with the real clock (the service does this daily, see
/// `retention_every_hours`). Idempotent. Records due by their rule are deleted or pseudonymised;
/// held ones and those under an open moderation case are kept and listed. Written to the audit
/// trail (`retention.disposed` with message ids, `retention.run` with counts) and the event log. A
/// dry run writes nothing and takes no lease, so it is answered even while a real run goes on. A
/// real run takes the retention lease shared by every instance: 409 while another run (on any
/// instance) holds it. A retention run covers every channel: a channel-limited caller is refused
/// (403).
#[utoipa::path(
    post,
    path = "/api/v1/retention/runs",
    operation_id = "runRetention",
    tag = "privacy",
    request_body(content = RunBody),
    responses(
        (status = 200, description = "What was (or would be) done.",
            body = RetentionReport),
        (status = 400, response = BadRequest),
        (status = 403, description = "The capability is not effective for the caller, or the \
            caller is limited to some channels and this work spans every channel.",
            body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json"),
        (status = 409, response = Conflict),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableContent),
    )
)]
#[instrument(skip_all)]
pub async fn run_retention(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<RunBody>,
) -> Result<impl IntoResponse> {
    caller.require_every_channel("a retention run")?;
    // A run goes on to its end even if the caller goes away (the route is also exempt from the
    // timeout): a run stopped half-way would hold the retention lease until it ran out.
    let run = tokio::spawn(async move {
        crate::privacy::retention::run(
            &state.store,
            &state.retention,
            crate::store::now_ms(),
            body.dry_run,
            &caller.actor(),
        )
        .await
    });
    match run.await.map_err(AppError::internal)? {
        Ok(report) => Ok(axum::Json(report)),
        Err(RetentionError::Busy) => Err(AppError::conflict(
            RetentionError::Busy.to_string(),
            json!({}),
        )),
        Err(RetentionError::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RevealRequest)]
pub struct RevealBody {
    /// `masked[].index` of the value.
    #[schema(maximum = 18446744073709551615_u64)]
    index: usize,
}

/// One masked value, shown.
#[derive(Serialize, ToSchema)]
#[schema(as = Revealed)]
struct RevealedView {
    message_id: i64,
    index: usize,
    /// What kind of personal data the value is.
    #[schema(inline, value_type = crate::privacy::masking::MaskedKind)]
    kind: crate::text::detectors::Kind,
    value: String,
}

// Shows one masked value of a message to someone who may read it (or answers privacy
// requests), and records that they saw it — never the value itself.
/// Reveal one masked value
///
/// Returns one masked personal identity number, phone number or e-mail address of the message's
/// current text, by its index in the message's `masked` list. Audited (`personal_data.revealed`
/// with the index and kind, never the value).
///
/// **Access:** Beyond the capability, except for the auditor's privacy work, the caller needs the
/// right to read the message's conversation (agents DMs, moderators comments); outside the
/// caller's channels the message does not exist (404).
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/reveal",
    operation_id = "revealPersonalData",
    tag = "privacy",
    params(("id" = i64, Path, description = "The tavla message id (an integer).")),
    request_body(content = RevealBody),
    responses(
        (status = 200, description = "The value.", body = RevealedView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableContent),
    )
)]
#[instrument(skip_all)]
pub async fn reveal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: RawBody,
) -> Result<impl IntoResponse> {
    let place = state
        .store
        .message_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no message {id}")))?;
    let scope = if caller.can(Capability::HandlePrivacyRequests) {
        caller.privacy_request_scope()?
    } else {
        caller.require(read_capability(&place.kind))?;
        caller.read_scope()
    };
    // The body is read after the access check, so a caller who may not read learns nothing.
    let body: RevealBody = parse_json(&body.0)?;
    // Words the scope withholds (S5 content, hidden content for non-moderators) reveal nothing.
    let text = state
        .store
        .message_text(&scope, id)
        .await?
        .unwrap_or_default();
    let (kind, value) = crate::privacy::masking::reveal(&text, body.index).ok_or_else(|| {
        AppError::not_found(format!(
            "message {id} has no masked value {}; use an index from its `masked` list",
            body.index
        ))
    })?;
    state
        .store
        .audit(
            &caller.actor(),
            "personal_data.revealed",
            Some(&format!("message:{id}")),
            json!({"index": body.index, "kind": kind}),
        )
        .await?;
    Ok(axum::Json(RevealedView {
        message_id: id,
        index: body.index,
        kind,
        value,
    }))
}
