//! The queue and the work on one conversation: read, claim, release, reply, set status. Parses
//! the request, checks which capability the route needs, calls the inbox (`crate::inbox`, where
//! the rules are) and answers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{
    BadRequest, Conflict, PayloadTooLarge, UnprocessableContent, UnsupportedMediaType,
};
use super::error::{AppError, Problem, Result};
use super::extract::{parse_json, Path, Query, RawBody};
use super::handover::Colleague;
use super::AppState;
use crate::access::{answer_capability, read_capability, readable_kinds};
use crate::described;
use crate::inbox::queue::{self, Handed};
use crate::inbox::suggestions::Suggestion;
use crate::inbox::{self, claims, service_level, Status};
use crate::model::{
    Attachment, ConversationKind, ConversationStatus, Direction, MessageKind, Platform,
};
use crate::platform::ReplyWindow;
use crate::privacy::masking;
use crate::store::conversations::{
    ClaimInfo, ConversationPlace, ConversationSummary, HandedRef, MessageView, PersonRef, PostRef,
    QueueFilter, Revision, ServiceLevel,
};
use crate::store::integrations::Handover;
use crate::store::notes::Note;
use crate::store::outbox::DeliveryView;
use crate::store::scope::Withheld;
use crate::text::detectors;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this queue (`dm` or `comments`); the caller must have the matching effective
    /// capability (`read_dms` or `read_comments`).
    #[param(value_type = Option<ConversationKind>)]
    queue: Option<String>,
    /// Only this channel id (within the caller's scope).
    channel: Option<i64>,
    /// Only this status. All statuses when absent.
    #[param(value_type = Option<ConversationStatus>)]
    status: Option<String>,
    /// Only conversations with this person (PersonRef.id).
    person: Option<i64>,
    /// `me`: only conversations whose newest handover went to the caller; `unit`: only those
    /// whose newest handover went to the caller's unit (set by an administrator, `PATCH
    /// /api/v1/staff/{id}` with `unit`; 422 when the caller has none). A conversation handed on
    /// leaves the list. `unit` needs the caller to belong to a unit (422 otherwise: an
    /// administrator sets it).
    #[param(value_type = Option<HandedFilter>, inline)]
    handed: Option<String>,
    /// `breach`: open conversations not yet past the service level first, the least time left
    /// first; then those past it, the most overdue first; then the rest. The oldest unanswered
    /// first when absent.
    #[param(value_type = Option<SortOrder>, inline)]
    sort: Option<String>,
    /// Page size; values outside 1–200 are clamped.
    #[param(default = 50)]
    limit: Option<i64>,
    /// How many to skip; values below 0 are read as 0.
    #[param(default = 0)]
    offset: Option<i64>,
}

/// Whose handovers the queue is narrowed to.
// Only described: the handler reads the word, so a wrong one gets its own 400 wording.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum HandedFilter {
    Me,
    Unit,
}

/// The queue's orders besides the default one.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum SortOrder {
    Breach,
}

/// One page of the queue.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationPage)]
struct QueuePageView {
    /// Most urgent first: conversations with the oldest unanswered message, then those without
    /// any, by latest activity.
    items: Vec<SummaryView>,
    /// How many conversations match the filter in all.
    total: i64,
    /// The page size applied (after clamping to 1–200).
    #[schema(minimum = 1, maximum = 200)]
    limit: i64,
    /// The offset applied.
    #[schema(minimum = 0)]
    offset: i64,
    service_level: ServiceLevelView,
}

/// One conversation as listed in the queue.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationSummary)]
pub(super) struct SummaryView {
    /// Conversation id.
    id: i64,
    channel_id: i64,
    channel_name: String,
    #[schema(value_type = Platform)]
    platform: String,
    #[schema(value_type = ConversationKind)]
    kind: String,
    #[schema(value_type = ConversationStatus)]
    status: String,
    #[schema(schema_with = person_or_null, required = true)]
    person: Option<PersonRef>,
    #[schema(schema_with = post_or_null, required = true)]
    post: Option<PostRef>,
    /// Time of the oldest inbound message not yet answered; null when nothing waits for an
    /// answer. The queue is ordered by this, oldest first. Milliseconds since the Unix epoch.
    #[schema(required = true)]
    oldest_unanswered_at: Option<i64>,
    /// Time of the latest inbound message; null if none. Milliseconds since the Unix epoch.
    #[schema(required = true)]
    last_inbound_at: Option<i64>,
    /// Time of the latest message in either direction; null if none. Milliseconds since the Unix
    /// epoch.
    #[schema(required = true)]
    last_message_at: Option<i64>,
    /// Number of messages in the conversation.
    message_count: i64,
    #[schema(schema_with = claim_or_null, required = true)]
    claim: Option<ClaimInfo>,
    /// The newest message of the conversation whose words the caller may see (S5 content never;
    /// hidden, removed or deleted messages only for moderators), at most 140 characters, personal
    /// data masked; null when there is none.
    #[schema(required = true)]
    preview: Option<String>,
    #[schema(schema_with = resolved_at_or_null, required = true)]
    resolved_at: Option<i64>,
    #[schema(schema_with = handed_or_null, required = true)]
    handed: Option<HandedRef>,
    /// Open, with a message unanswered longer than the service level (`service_level_hours` for
    /// DMs, `comment_service_level_hours` for comment threads).
    // Sent by the queue and the conversation itself; not by `earlier_conversations`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    past_service_level: Option<bool>,
    /// When the oldest unanswered message passes the service level (ms since the epoch); null
    /// unless open with an unanswered message.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, format = Int64)]
    service_level_due_at: Option<Option<i64>>,
}

impl SummaryView {
    /// A summary as sent: the preview and the post's text masked (DESIGN.md §2), and with
    /// `level` marked with when its answer is due.
    pub(super) fn new(summary: ConversationSummary, level: Option<&ServiceLevel>) -> Self {
        let due = level.map(|level| {
            service_level::due(
                level,
                &summary.kind,
                &summary.status,
                summary.oldest_unanswered_at,
            )
        });
        let past = level.map(|level| service_level::past(level, due.flatten()));
        Self {
            id: summary.id,
            channel_id: summary.channel_id,
            channel_name: summary.channel_name,
            platform: summary.platform,
            kind: summary.kind,
            status: summary.status,
            person: summary.person,
            post: summary.post.map(|post| PostRef {
                text: post.text.map(|t| detectors::mask(&t)),
                ..post
            }),
            oldest_unanswered_at: summary.oldest_unanswered_at,
            last_inbound_at: summary.last_inbound_at,
            last_message_at: summary.last_message_at,
            message_count: summary.message_count,
            claim: summary.claim,
            preview: summary.preview.map(|p| detectors::mask(&p)),
            resolved_at: summary.resolved_at,
            handed: summary.handed,
            past_service_level: past,
            service_level_due_at: due,
        }
    }
}

/// One conversation with all its messages: the summary fields, plus the messages and, for DMs,
/// the same person's other conversations.
#[derive(Serialize, ToSchema)]
#[schema(as = ConversationDetail)]
struct DetailView {
    #[serde(flatten)]
    summary: SummaryView,
    /// Up to when the person has read the conversation (DMs, when the platform reports read
    /// receipts); null when unknown. Milliseconds since the Unix epoch.
    #[schema(required = true)]
    person_read_at: Option<i64>,
    #[schema(schema_with = reply_window_or_null, required = true)]
    reply_window: Option<ReplyWindow>,
    /// All messages, oldest first.
    messages: Vec<MessageAnswer>,
    /// For DMs: up to 20 other conversations with the same person that the caller may read
    /// (kinds and channels within their scope), most recent first. Empty for comment threads.
    earlier_conversations: Vec<SummaryView>,
    #[schema(schema_with = suggested_reply_or_null, required = true)]
    suggested_reply: Option<Suggestion>,
    /// Its handovers to the organisation's units (POST /api/v1/conversations/{id}/handover),
    /// oldest first.
    handovers: Vec<HandoverRecord>,
    /// The units a conversation may be handed to, from integrations_file; empty: any unit name (1
    /// to 100 characters).
    handover_units: Vec<String>,
    /// The colleagues it may be handed to (`to` of POST /api/v1/conversations/{id}/handover):
    /// those whose role and current training let them read and answer it and whose channel
    /// limit includes its channel, the caller left out; by username, with their unit.
    #[schema(schema_with = colleagues)]
    handover_colleagues: Vec<Colleague>,
    /// Staff's internal notes on the conversation (POST /api/v1/conversations/{id}/notes), oldest
    /// first, with personal data masked. Never sent to the platform.
    notes: Vec<Note>,
    /// Its categories (POST /api/v1/conversations/{id}/categories).
    // The categories' own answer as JSON (src/http/categories.rs).
    #[schema(schema_with = categories)]
    categories: serde_json::Value,
    /// Up to 3 categories colleagues gave conversations whose question is in the same FAQ
    /// cluster, those it has left out; empty when its newest question is in no cluster.
    #[schema(schema_with = categories)]
    category_suggestions: serde_json::Value,
}

/// A handover of the conversation to a unit of the organisation, as the conversation view shows
/// it.
#[derive(Serialize, ToSchema)]
struct HandoverRecord {
    id: i64,
    /// The unit it went to.
    #[schema(required = true)]
    unit: Option<String>,
    /// The colleague it was handed to (their username); null for a handover to a unit.
    #[schema(required = true)]
    to_staff: Option<String>,
    /// The note for the unit, as written by the staff member (shown as text).
    #[schema(required = true)]
    note: Option<String>,
    /// The staff member's username; null when the account no longer exists.
    #[schema(required = true)]
    handed_by: Option<String>,
    #[schema(schema_with = described::timestamp)]
    handed_at: i64,
}

impl From<Handover> for HandoverRecord {
    fn from(h: Handover) -> Self {
        Self {
            id: h.id,
            unit: h.unit,
            to_staff: h.to_staff,
            note: h.note,
            handed_by: h.handed_by,
            handed_at: h.handed_at,
        }
    }
}

fn reply_window_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &ReplyWindow::name(),
        "DMs: how long a reply may still be sent, computed when the conversation is read. Null \
         for comment threads, and for DMs where the person has not written.",
    )
}

fn suggested_reply_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &Suggestion::name(),
        "The saved reply a communicator marked as the answer to the FAQ cluster of the \
         conversation's newest inbound message (see SuggestedReply). Null when there is no \
         inbound message, that message is in no FAQ cluster (DM messages never are), the cluster \
         is not answered by `saved-reply:ID`, or that saved reply does not exist or is archived. \
         Always present.",
    )
}

/// A list of `Category` (the schema of src/http/categories.rs).
fn categories() -> utoipa::openapi::Array {
    utoipa::openapi::Array::new(utoipa::openapi::Ref::from_schema_name("Category"))
}

/// The colleagues' list (src/http/handover.rs's `Colleague`: username and unit).
fn colleagues() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    utoipa::openapi::Array::new(
        ObjectBuilder::new()
            .property("username", ObjectBuilder::new().schema_type(Type::String))
            .property(
                "unit",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::String,
                        Type::Null,
                    ]))
                    .description(Some("Their unit; null when they have none.")),
            )
            .required("username")
            .required("unit"),
    )
}

/// One message of a conversation, with its history.
#[derive(Serialize, ToSchema)]
#[schema(as = MessageView)]
pub(super) struct MessageAnswer {
    /// tavla's message id (use as `in_reply_to` when answering a comment).
    id: i64,
    #[schema(value_type = MessageKind)]
    kind: String,
    #[schema(value_type = Direction)]
    direction: String,
    /// The platform's id of the message; null for an outbound reply not yet delivered.
    #[schema(required = true)]
    platform_id: Option<String>,
    #[schema(schema_with = author_or_null, required = true)]
    author: Option<PersonRef>,
    /// Username of the staff member who wrote an outbound reply in tavla; otherwise null.
    #[schema(required = true)]
    sent_by: Option<String>,
    /// The current text (cut at the configured maximum length; the raw payload keeps the whole).
    /// Personal data is masked (see `masked`). Null when the message has none, or when its words
    /// are withheld from the caller (see `withheld`).
    #[schema(required = true)]
    text: Option<String>,
    /// Attachments; an empty array when there are none, or when the message's words are withheld.
    // As stored: the platform's list, read back as JSON.
    #[schema(value_type = Option<Vec<Attachment>>, required = true)]
    attachments: serde_json::Value,
    /// Platform id of the comment or message this one answers, when any.
    #[schema(required = true)]
    parent_platform_id: Option<String>,
    #[schema(schema_with = described::message_state)]
    state: String,
    /// True when the message has been edited since it was first seen.
    edited: bool,
    #[schema(schema_with = delivery_or_null, required = true)]
    delivery: Option<String>,
    #[schema(schema_with = delivery_detail_or_null, required = true)]
    delivery_detail: Option<DeliveryView>,
    /// When the platform says the message was written (for replies written in tavla: when they
    /// were written). Milliseconds since the Unix epoch.
    platform_time: i64,
    /// When tavla stored it. Milliseconds since the Unix epoch.
    received_at: i64,
    /// Every recorded change, oldest first.
    history: Vec<Revision>,
    /// The personal data masked in `text` (every output masks personnummer, samordningsnummer,
    /// phone numbers and e-mail addresses; history texts are masked too).
    masked: Vec<masking::MaskedSpan>,
    #[schema(schema_with = described::withheld_or_null, required = true)]
    withheld: Option<Withheld>,
}

impl From<MessageView> for MessageAnswer {
    /// A message as sent: personal data masked in its text and history (DESIGN.md §2), with
    /// `masked` saying where, for an audited reveal.
    fn from(m: MessageView) -> Self {
        let (text, masked) = match m.text {
            Some(text) => {
                let (text, spans) = masking::mask(&text);
                (Some(text), spans)
            }
            None => (None, Vec::new()),
        };
        Self {
            id: m.id,
            kind: m.kind,
            direction: m.direction,
            platform_id: m.platform_id,
            author: m.author,
            sent_by: m.sent_by,
            text,
            attachments: m.attachments,
            parent_platform_id: m.parent_platform_id,
            state: m.state,
            edited: m.edited,
            delivery: m.delivery,
            delivery_detail: m.delivery_detail,
            platform_time: m.platform_time,
            received_at: m.received_at,
            history: m
                .history
                .into_iter()
                .map(|r| Revision {
                    text: r.text.map(|t| detectors::mask(&t)),
                    ..r
                })
                .collect(),
            masked,
            withheld: m.withheld,
        }
    }
}

fn author_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &PersonRef::name(),
        "Who wrote it on the platform; null for replies written in tavla.",
    )
}

fn delivery_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        "DeliveryStatus",
        "For outbound messages written in tavla: how delivery stands. Null for inbound messages.",
    )
}

fn delivery_detail_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &DeliveryView::name(),
        "The newest outbox row for this message: for our replies (and private replies) how their \
         delivery stands and why not yet; for someone else's comment that moderation hid, unhid or \
         removed, how that change to the platform stands. Null when nothing was ever queued for \
         the message.",
    )
}

// The `Option` fields' descriptions, beside the reference and null (see
// `described::or_null_described`).
fn person_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &PersonRef::name(),
        "The person a DM conversation is with; null for comment threads.",
    )
}

fn post_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &PostRef::name(),
        "The post a comment thread is under; null for DMs.",
    )
}

fn claim_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &ClaimInfo::name(),
        "The current, unexpired claim; null when nobody holds one.",
    )
}

fn resolved_at_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        "Timestamp",
        "When the conversation was last resolved: its records' retention period counts from here \
         (config/retention.toml).",
    )
}

fn handed_or_null() -> utoipa::openapi::Schema {
    described::or_null_described(
        &HandedRef::name(),
        "The newest handover: `unit`, `to_staff` (a colleague's username, or null for a unit) and \
         `at`.",
    )
}

/// The configured service level and how many of the matching conversations are past it.
#[derive(Serialize, ToSchema)]
struct ServiceLevelView {
    /// Hours a DM may wait for an answer (`service_level_hours`).
    dm_hours: i64,
    /// Hours a comment thread may wait for an answer (`comment_service_level_hours`).
    comment_hours: i64,
    /// How many of the matching conversations are past it.
    past: i64,
}

#[derive(OpenApi)]
#[openapi(
    paths(list, show, claim, release, set_status, reply),
    components(schemas(
        ConversationKind,
        ConversationStatus,
        PersonRef,
        PostRef,
        ClaimInfo,
        HandedRef,
        DetailView,
        HandoverRecord,
        ReplyWindow,
        Suggestion,
        MessageAnswer,
        masking::MaskedSpan,
        DeliveryView,
        Revision,
        Attachment
    ))
)]
pub struct Doc;

/// The queue
///
/// Lists conversations on approved channels within the caller's channel scope, most urgent first
/// (the oldest unanswered message first), in pages. Which queues a caller sees follows their
/// effective capabilities: `read_dms` gives the DM queue, `read_comments` the comment threads.
/// Without `queue`, every queue the caller may read is listed together. Each read of the queue
/// is recorded in the audit trail (`queue.read`).
///
/// **Access:** With `queue=dm` the caller needs `read_dms`, with `queue=comments`
/// `read_comments` (403 otherwise). A `channel` outside the caller's scope gives an empty page.
/// Each item carries `past_service_level` and `service_level_due_at` (when an open
/// conversation's oldest unanswered message passes the service level the reports measure:
/// `service_level_hours`, 8 by default, for DMs, `comment_service_level_hours`, 24, for comment
/// threads); the page's `service_level` gives both and how many of the matching conversations
/// are past it (`past`). Each item's `handed` is its newest handover (`unit`, `to_staff`, `at`),
/// or null.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    operation_id = "listConversations",
    tag = "conversations",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of the queue.", body = QueuePageView),
        (status = 400, response = BadRequest),
        (status = 422, response = UnprocessableContent),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse> {
    let mut kinds = readable_kinds(&caller.effective.capabilities);
    if let Some(queue) = q.queue.as_deref() {
        if queue != "dm" && queue != "comments" {
            return Err(AppError::bad_request("queue must be dm or comments"));
        }
        if !kinds.contains(&queue) {
            return Err(caller
                .require(crate::access::read_capability(queue))
                .err()
                .unwrap_or_else(|| {
                    AppError::forbidden(format!("you may not read the {queue} queue"))
                }));
        }
        kinds.retain(|k| *k == queue);
    }
    if kinds.is_empty() {
        return Err(AppError::forbidden("you may not read any conversations"));
    }
    if let Some(status) = q.status.as_deref() {
        // A query that names no status there is is malformed (400), unlike a change (422).
        Status::parse(status).map_err(|r| AppError::bad_request(r.detail()))?;
    }
    let by_breach = match q.sort.as_deref() {
        None => false,
        Some("breach") => true,
        Some(_) => {
            return Err(AppError::bad_request(
                "sort must be breach (closest to breaching the service level first), or left out for the oldest unanswered first",
            ))
        }
    };
    let handed = match q.handed.as_deref() {
        None => None,
        Some("me") => Some(Handed::Me),
        Some("unit") => Some(Handed::Unit),
        Some(_) => {
            return Err(AppError::bad_request(
                "handed must be me (handed to you) or unit (handed to your unit)",
            ))
        }
    };
    let (handed_to_staff, handed_to_unit) =
        queue::handed_to(&state.store, caller.staff.id, handed).await?;
    let (limit, offset) = queue::page(q.limit, q.offset);
    let level = service_level::at(&state.settings, crate::store::now_ms());
    let scope = caller.read_scope();
    let filter = QueueFilter {
        // Narrowed to the one asked for above.
        kind: q.queue.as_ref().map(|_| kinds[0]),
        channel_id: q.channel,
        status: q.status,
        person_id: q.person,
        handed_to_staff,
        handed_to_unit,
        service_level: level,
        by_breach,
        limit,
        offset,
    };
    let page = state.store.queue(&scope, &filter).await?;
    let total = page.total;
    let items: Vec<SummaryView> = page
        .items
        .into_iter()
        .map(|s| SummaryView::new(s, Some(&level)))
        .collect();
    state
        .store
        .audit(
            &caller.actor(),
            "queue.read",
            None,
            json!({
                "kinds": kinds, "channel": filter.channel_id, "status": filter.status,
                "person": filter.person_id, "offset": filter.offset,
                "handed": q.handed, "sort": q.sort,
                "shown": items.len(),
            }),
        )
        .await?;
    Ok(axum::Json(QueuePageView {
        items,
        total,
        limit: filter.limit,
        offset: filter.offset,
        service_level: ServiceLevelView {
            dm_hours: state.settings.service_level_hours,
            comment_hours: state.settings.comment_service_level_hours,
            past: page.past_service_level,
        },
    }))
}

/// Loads the conversation's kind and checks that the caller may read it. Outside the caller's
/// channel scope a conversation does not exist for them.
pub(super) async fn readable(state: &AppState, caller: &Caller, id: i64) -> Result<String> {
    Ok(readable_place(state, caller, id).await?.kind)
}

/// Like [`readable`], with the platform too (whose rules a reply follows).
pub(super) async fn readable_place(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<ConversationPlace> {
    let place = state
        .store
        .conversation_place(id)
        .await?
        .filter(|p| caller.may_see_channel(p.channel_id))
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    caller.require(read_capability(&place.kind))?;
    Ok(place)
}

/// One conversation
///
/// Returns a conversation with every message and its edit/moderation history, for DMs the same
/// person's other conversations, and `suggested_reply`: the saved reply that answers the FAQ
/// cluster of the conversation's newest inbound message, when a communicator marked one. Each
/// read is recorded in the audit trail (`conversation.read`).
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms`, a comment
/// thread `read_comments` (403 otherwise, with `missing_training` when training is what is
/// missing). A conversation on a channel outside the caller's channel scope does not exist for
/// them (404).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    operation_id = "showConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    responses(
        (status = 200, description = "The conversation.",
            body = DetailView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    readable(&state, &caller, id).await?;
    let detail = state
        .store
        .conversation(&caller.read_scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no conversation {id}")))?;
    state
        .store
        .audit(
            &caller.actor(),
            "conversation.read",
            Some(&format!("conversation:{id}")),
            json!({}),
        )
        .await?;
    let cluster = question_cluster(&state, &detail).await?;
    let suggested = inbox::suggestions::suggested_reply(&state.store, cluster).await?;
    let (categories, category_suggestions) =
        super::categories::of_conversation(&state, id, cluster).await?;
    // Handovers to the organisation's units, and the units there are to choose from (none
    // listed: any name).
    let handovers = state.store.handovers_of(id).await?;
    // The colleagues it may be handed to (who may read and answer it), by name and unit.
    let mut colleagues =
        super::handover::colleagues(&state, &detail.summary.kind, detail.summary.channel_id)
            .await?;
    colleagues.retain(|c| c.id != caller.staff.id);
    let now = crate::store::now_ms();
    // DMs only: how long a reply may still be sent (DESIGN.md §2), by the platform's rules.
    let reply_window = inbox::window::shown(
        &detail.summary.kind,
        &detail.summary.platform,
        detail.summary.last_inbound_at,
        now,
    );
    // Staff's internal notes, for the timeline; same readers as the conversation.
    // Personal data in them is masked like the messages' (the export gives it whole).
    let mut notes = state.store.notes_of(id).await?;
    for n in &mut notes {
        n.text = crate::text::detectors::mask(&n.text);
    }
    let level = service_level::at(&state.settings, now);
    // Personal data masked while each part is built; `masked` on each message says where, for
    // an audited reveal.
    let body = DetailView {
        summary: SummaryView::new(detail.summary, Some(&level)),
        person_read_at: detail.person_read_at,
        reply_window,
        messages: detail
            .messages
            .into_iter()
            .map(MessageAnswer::from)
            .collect(),
        earlier_conversations: detail
            .earlier_conversations
            .into_iter()
            .map(|s| SummaryView::new(s, None))
            .collect(),
        suggested_reply: suggested,
        handovers: handovers.into_iter().map(HandoverRecord::from).collect(),
        handover_units: state.integrations.units.clone(),
        handover_colleagues: colleagues,
        notes,
        // Its categories, and those colleagues gave conversations of the same FAQ cluster.
        categories,
        category_suggestions,
    };
    Ok(axum::Json(body))
}

/// The FAQ cluster of the thread's newest question, if it has one.
pub(super) async fn question_cluster(
    state: &AppState,
    detail: &crate::store::conversations::ConversationDetail,
) -> Result<Option<u64>> {
    Ok(inbox::suggestions::question_cluster(&state.store, &state.faq, detail).await?)
}

/// The claim the caller now holds.
#[derive(Serialize, ToSchema)]
#[schema(as = ClaimResponse, example = json!({
    "claim": {"staff_id": 3, "username": "anna", "expires_at": 1762071900000_i64}
}))]
struct Claimed {
    claim: ClaimInfo,
}

/// Claim a conversation
///
/// Takes (or renews) the claim on a conversation so colleagues see someone is working on it and
/// do not answer twice. A claim is a lease of `claim_lease_seconds` (600 s by default); claiming
/// again or replying renews it. Claiming a conversation someone else holds fails with 409. No
/// request body.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/claim",
    operation_id = "claimConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    responses(
        (status = 200, description = "The caller now holds the claim.", body = Claimed),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = Conflict),
        (status = 422, description = "The claim changed while it was being taken; try again.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let claim = claims::claim(
        &state.store,
        id,
        caller.staff.id,
        claims::lease_ms(&state.settings),
        &caller.actor(),
    )
    .await?;
    Ok(axum::Json(Claimed { claim }))
}

/// Release a claim
///
/// Gives up the caller's claim so colleagues can take the conversation. Releasing a conversation
/// nobody holds, or whose claim has expired, succeeds. Fails with 409 when someone else holds
/// it. No request body.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms`, a comment
/// thread `read_comments` (403 otherwise, with `missing_training` when training is what is
/// missing). A conversation on a channel outside the caller's channel scope does not exist for
/// them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/release",
    operation_id = "releaseConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    responses(
        (status = 204, description = "Released (or nothing to release)."),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = Conflict),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    readable(&state, &caller, id).await?;
    claims::release(&state.store, id, caller.staff.id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The new status.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StatusRequest, example = json!({"status": "resolved"}))]
pub struct StatusBody {
    // Read as a word so a wrong one gets the inbox's own 422 wording.
    #[schema(value_type = ConversationStatus)]
    status: String,
}

/// The status now set.
#[derive(Serialize, ToSchema)]
#[schema(as = StatusResponse)]
struct StatusSet {
    #[schema(value_type = ConversationStatus)]
    status: &'static str,
}

/// Set the status
///
/// Marks a conversation open, waiting or resolved. Resolving also releases any claim on it.
/// Does not require holding the claim. The body is judged only after access is checked (so a
/// caller who may not act learns nothing from validation errors); its Content-Type is not
/// checked.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/status",
    operation_id = "setConversationStatus",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    request_body(content = StatusBody, description = "The new status."),
    responses(
        (status = 200, description = "The status now set.", body = StatusSet,
            example = json!({"status": "resolved"})),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = UnprocessableContent),
    )
)]
pub async fn set_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = readable(&state, &caller, id).await?;
    caller.require(answer_capability(&kind))?;
    let body: StatusBody = parse_json(&body)?;
    let status = inbox::set_status(
        &state.store,
        id,
        caller.staff.id,
        &body.status,
        &caller.actor(),
    )
    .await?;
    Ok(axum::Json(StatusSet {
        status: status.as_str(),
    }))
}

/// The answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReplyRequest, example = json!({
    "text": "Hej! Återvinningscentralen har öppet till 19 i dag."
}))]
pub struct ReplyBody {
    /// The answer. Surrounding whitespace is trimmed; it must not be empty, and may have at most
    /// 2,000 characters in a DM conversation and 8,000 in a comment thread.
    #[schema(min_length = 1, max_length = 8000, pattern = r"\S")]
    text: String,
    /// Comment threads only: the tavla message id of the comment answered. When absent, the
    /// newest inbound comment of the thread is answered. Ignored for DMs, which always go to the
    /// conversation's person.
    in_reply_to: Option<i64>,
    /// DMs only. `HUMAN_AGENT` sends a reply after the 24-hour reply window, until 7 days after
    /// the person's last message, and tells the platform that a person (not an automation)
    /// answers. The agent chooses it knowingly; it is never added for them. Any other tag, or a
    /// tag in a comment thread, is refused (422).
    // Read as a word so any other gets the inbox's own 422 wording.
    #[schema(value_type = Option<ReplyTag>)]
    tag: Option<String>,
}

/// The one message tag a reply may carry.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) enum ReplyTag {
    #[schema(rename = "HUMAN_AGENT")]
    HumanAgent,
}

/// Where a reply stands right after it is recorded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Queued {
    Pending,
}

/// The reply is recorded and queued for delivery.
#[derive(Serialize, ToSchema)]
#[schema(as = ReplyQueued, example = json!({"message_id": 4711, "delivery": "pending"}))]
struct ReplyQueuedView {
    /// The id of the outbound message recorded in the conversation.
    message_id: i64,
    /// The reply is queued for delivery to the platform; follow `message.*` /
    /// `messages.delivered` events or re-read the conversation for its progress.
    delivery: Queued,
}

/// Answer a conversation
///
/// Records a reply and queues it for delivery to the platform: to the conversation's person for
/// DMs, or as an answer to one comment in a comment thread (the one named by `in_reply_to`, else
/// the newest inbound comment). The recipient is always the stored one, never taken from the
/// request. Replying takes or renews the caller's claim; it fails with 409 while someone else
/// holds the claim. Text limits: 2,000 characters for DMs, 8,000 for comments. A DM reply must
/// fit the reply window: from 24 hours after the person's last message it is refused (422, with
/// `reply_window`) unless `tag` is `HUMAN_AGENT`, and from 7 days after it (or when the person
/// has never written) always; the conversation's `reply_window` shows the times. Delivery is
/// followed in the message's `delivery` and `delivery_detail` and by `message.delivery_changed`
/// events; a failed reply can be sent again with POST /api/v1/messages/{id}/retry. The body is
/// judged only after access is checked (so a caller who may not act learns nothing from
/// validation errors); its Content-Type is not checked.
///
/// **Access:** Then the conversation decides: a DM conversation needs `read_dms` and
/// `answer_dms`, a comment thread `read_comments` and `answer_comments` (403 otherwise, with
/// `missing_training` when training is what is missing). A conversation on a channel outside
/// the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/replies",
    operation_id = "replyToConversation",
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation id (an integer).")),
    request_body(content = ReplyBody, description = "The answer."),
    responses(
        (status = 201, description = "The reply is recorded and queued for delivery.",
            body = ReplyQueuedView),
        (status = 400, response = BadRequest),
        (status = 404, description = "There is no such conversation, or it is on a channel \
            outside the caller's scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The reply is empty or too long, the body has unknown or \
            missing fields, the tag is not `HUMAN_AGENT` (or is given in a comment thread), or a \
            comment thread has no comment to answer (or `in_reply_to` names a message of another \
            conversation). Also when the DM's reply window does not allow the reply now: `detail` \
            says when it closed and what to do, and `reply_window` gives the times (absent when \
            the person has never written).",
            body = ref("#/components/schemas/ReplyWindowProblem"),
            content_type = "application/problem+json"),
    )
)]
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let place = readable_place(&state, &caller, id).await?;
    caller.require(answer_capability(&place.kind))?;
    let body: ReplyBody = parse_json(&body)?;
    let message_id = inbox::reply(
        &state.store,
        &place,
        &inbox::Draft {
            conversation_id: id,
            staff_id: caller.staff.id,
            text: &body.text,
            in_reply_to: body.in_reply_to,
            tag: body.tag.as_deref(),
        },
        claims::lease_ms(&state.settings),
        &caller.actor(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ReplyQueuedView {
            message_id,
            delivery: Queued::Pending,
        }),
    ))
}
