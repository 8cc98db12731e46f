//! The channel registry and the quarantine of items for unregistered channels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::Ref;
use utoipa::{OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{
    BadRequest, Duplicate, NotFound, PayloadTooLarge, UnsupportedMediaType,
};
use super::error::{AppError, Problem, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::described;

use crate::model::Platform;
use crate::store::channels::{Channel, NewChannel, QuarantinedItem, QuarantinedPage};

#[derive(OpenApi)]
#[openapi(paths(list, register, approve, quarantine))]
pub struct Doc;

fn channel_list() -> ArrayBuilder {
    ArrayBuilder::new().items(described::channel())
}

#[derive(Serialize, ToSchema)]
pub struct ChannelList {
    /// All registered channels, by name.
    #[schema(schema_with = channel_list)]
    items: Vec<Channel>,
}

/// A channel as registered or approved now, with what that released.
#[derive(Serialize, ToSchema)]
pub struct ChannelChange {
    #[schema(schema_with = described::channel)]
    channel: Channel,
    /// How many quarantined items for this channel were released into the queue (0 when the
    /// channel is not approved).
    released_from_quarantine: usize,
}

/// The channel registry
///
/// Lists the registered accounts of the municipality within the caller's channel scope (every
/// account, approved or not, when the caller has no scope). Messages stay guarded by the
/// conversation routes.
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    operation_id = "listChannels",
    tag = "channels",
    responses(
        (status = 200, description = "The channels the caller may see.", body = ChannelList),
    )
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // Everyone signed in may see the accounts in their scope; messages are guarded elsewhere.
    let items: Vec<_> = state
        .store
        .channels()
        .await?
        .into_iter()
        .filter(|c| caller.may_see_channel(c.id))
        .collect();
    Ok(axum::Json(ChannelList { items }))
}

/// A channel to register. Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChannelRegistration, example = json!({"platform": "facebook",
    "platform_id": "104857600123456", "name": "Kommunen – Återvinning",
    "unit": "Tekniska förvaltningen", "purpose": "Frågor om avfall och återvinning",
    "responsible": "Kommunikationsenheten",
    "personal_data_handling": "Registerförteckning 2026:14", "approved": false}))]
pub struct Registration {
    #[schema(schema_with = described::platform)]
    platform: String,
    /// The page or account id on the platform (trimmed; must not be empty). A platform and id
    /// can be registered only once.
    #[schema(min_length = 1, pattern = r"\S")]
    platform_id: String,
    /// A name staff recognise (trimmed; must not be empty).
    #[schema(min_length = 1, pattern = r"\S")]
    name: String,
    unit: Option<String>,
    purpose: Option<String>,
    responsible: Option<String>,
    personal_data_handling: Option<String>,
    /// Approve at once. Otherwise approval is a separate step (POST
    /// /api/v1/channels/{id}/approve).
    #[serde(default)]
    #[schema(default = false)]
    approved: bool,
}

/// Register a channel
///
/// Adds an account to the registry, with the facts the municipality records about it.
/// Registering with `approved: true` approves it at once and releases what waited for it in
/// quarantine; otherwise approve it later. Page access tokens for delivery are configured with
/// the CLI, not here. Recorded in the audit trail (`channel.registered`).
///
/// **Access:** A channel-limited administrator cannot register channels (403): a new channel is
/// outside every channel limit.
#[utoipa::path(
    post,
    path = "/api/v1/channels",
    operation_id = "registerChannel",
    tag = "channels",
    request_body(content = Registration, description = "The channel to register."),
    responses(
        (status = 201, description = "Registered.", body = ChannelChange),
        (status = 400, response = BadRequest),
        (status = 409, response = Duplicate),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The platform is unknown, `platform_id` or `name` is empty, \
            the body has unknown or missing fields, or the account is already registered.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Json(r): Json<Registration>,
) -> Result<impl IntoResponse> {
    // A new channel is outside every channel limit, so only an unlimited administrator may add it.
    if caller.scope.is_some() {
        return Err(AppError::forbidden(
            "you administer only some channels, so you cannot register new ones; ask an administrator without a channel limit",
        ));
    }
    let platform = Platform::parse(&r.platform).ok_or_else(|| {
        AppError::unprocessable("platform must be facebook, instagram or linkedin")
    })?;
    if r.platform_id.trim().is_empty() || r.name.trim().is_empty() {
        return Err(AppError::unprocessable(
            "platform_id and name must not be empty",
        ));
    }
    let channel = state
        .store
        .add_channel(
            &NewChannel {
                platform: Some(platform),
                platform_id: r.platform_id.trim().to_string(),
                name: r.name.trim().to_string(),
                unit: r.unit,
                purpose: r.purpose,
                responsible: r.responsible,
                personal_data_handling: r.personal_data_handling,
                approved: r.approved,
                access_token_file: None,
            },
            &caller.actor(),
        )
        .await?;
    let released = if channel.approved {
        crate::ingest::release_quarantine(&state.store, &state.ingestor, &channel).await?
    } else {
        0
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(ChannelChange {
            channel,
            released_from_quarantine: released,
        }),
    ))
}

/// Approve a channel
///
/// Approves a registered channel so its messages enter the queue, and releases into the queue
/// every item that waited for it in quarantine. Approving an approved channel is harmless (it
/// releases anything still waiting). No request body. Recorded in the audit trail
/// (`channel.approved`).
///
/// **Access:** A channel outside the caller's channel scope does not exist for them (404).
#[utoipa::path(
    post,
    path = "/api/v1/channels/{id}/approve",
    operation_id = "approveChannel",
    tag = "channels",
    params(("id" = i64, Path, description = "The channel id (an integer).")),
    responses(
        (status = 200, description = "Approved.", body = ChannelChange),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 422, description = "The quarantined items could not all be released; approve \
            again to release the rest.", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    if !caller.may_see_channel(id) {
        return Err(AppError::not_found(format!("there is no channel {id}")));
    }
    state.store.approve_channel(id, &caller.actor()).await?;
    let channel = state
        .store
        .channel(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no channel {id}")))?;
    let released =
        crate::ingest::release_quarantine(&state.store, &state.ingestor, &channel).await?;
    Ok(axum::Json(ChannelChange {
        channel,
        released_from_quarantine: released,
    }))
}

/// A string of one of `words`, described.
fn one_of(words: &[&str], description: Option<&str>) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .description(description)
        .build()
        .into()
}

/// A named schema or null, described.
fn or_null(named: Ref, description: &str) -> Schema {
    OneOfBuilder::new()
        .item(named)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(description))
        .build()
        .into()
}

const WAITING_BECAUSE: &[&str] = &["unregistered", "not_approved"];

fn waiting_because() -> Schema {
    one_of(
        WAITING_BECAUSE,
        Some(
            "Why it waits: no channel is registered for the page, or the channel is not approved yet.",
        ),
    )
}

fn waiting_because_bare() -> Schema {
    one_of(WAITING_BECAUSE, None)
}

fn item_type() -> Schema {
    one_of(
        &[
            "message",
            "post",
            "reaction",
            "read",
            "delivery",
            "unrecognised",
        ],
        None,
    )
}

fn would_join() -> Schema {
    or_null(
        described::conversation_kind(),
        "For a message or a post: the kind of conversation it would join.",
    )
}

fn withheld() -> Schema {
    or_null(
        described::withheld(),
        "Why `text` is null although the message has words; null when nothing is withheld.",
    )
}

/// An item that arrived for an account that is not registered and approved. It is kept, not
/// queued, until the channel is approved. What waits and why is shown to every caller of the
/// list; the words only to a caller who reads that kind of conversation.
#[derive(Serialize, ToSchema)]
#[schema(as = QuarantinedItem)]
pub struct QuarantinedItemView {
    id: i64,
    #[schema(schema_with = described::platform)]
    platform: String,
    /// The page or account id the item was for: register a channel with this id to claim it.
    channel_platform_id: String,
    /// The registered channel it waits for; null when nobody registered the page.
    #[schema(required = true)]
    channel_id: Option<i64>,
    #[schema(schema_with = waiting_because)]
    waiting_because: &'static str,
    /// When it arrived. Milliseconds since the Unix epoch.
    received_at: i64,
    #[schema(schema_with = item_type)]
    item_type: &'static str,
    #[schema(schema_with = would_join, required = true)]
    kind: Option<&'static str>,
    /// The words, personal data masked, for a caller who reads this kind of conversation
    /// (`read_dms` for DMs, `read_comments` for comments and posts) without a channel limit or
    /// with the channel in it; otherwise null.
    #[schema(required = true)]
    text: Option<String>,
    #[schema(schema_with = withheld, required = true)]
    withheld: Option<crate::store::scope::Withheld>,
}

impl From<QuarantinedItem> for QuarantinedItemView {
    fn from(i: QuarantinedItem) -> Self {
        QuarantinedItemView {
            id: i.id,
            platform: i.platform,
            channel_platform_id: i.channel_platform_id,
            channel_id: i.channel_id,
            waiting_because: i.waiting_because,
            received_at: i.received_at,
            item_type: i.item_type,
            kind: i.kind,
            // The words masked: personal data never leaves in the quarantine's list.
            text: i.text.as_deref().map(crate::text::detectors::mask),
            withheld: i.withheld,
        }
    }
}

/// What waits for one page.
#[derive(Serialize, ToSchema)]
#[schema(as = QuarantinedPage)]
pub struct QuarantinedPageView {
    #[schema(schema_with = described::platform)]
    platform: String,
    channel_platform_id: String,
    #[schema(required = true)]
    channel_id: Option<i64>,
    #[schema(schema_with = waiting_because_bare)]
    waiting_because: &'static str,
    /// Items waiting.
    #[schema(minimum = 1)]
    items: i64,
    #[schema(schema_with = described::timestamp)]
    first_received_at: i64,
    #[schema(schema_with = described::timestamp)]
    last_received_at: i64,
}

impl From<QuarantinedPage> for QuarantinedPageView {
    fn from(p: QuarantinedPage) -> Self {
        QuarantinedPageView {
            platform: p.platform,
            channel_platform_id: p.channel_platform_id,
            channel_id: p.channel_id,
            waiting_because: p.waiting_because,
            items: p.items,
            first_received_at: p.first_received_at,
            last_received_at: p.last_received_at,
        }
    }
}

// What waits, per page and item by item.
#[derive(Serialize, ToSchema)]
pub struct QuarantineList {
    /// Per page: how much waits, since when and why, longest-waiting first.
    pages: Vec<QuarantinedPageView>,
    /// Unreleased items, oldest first, at most 500.
    #[schema(max_items = 500)]
    items: Vec<QuarantinedItemView>,
}

/// Items waiting for an unregistered channel
///
/// Lists what arrived for accounts that are not registered and approved (oldest first, at most
/// 500, and per page), so an administrator can see which accounts send traffic and register
/// them: platform, page, kind, count, when and why. What people wrote is shown only to a caller
/// who reads that kind of conversation, masked. A caller with a channel scope sees only what
/// waits for their own registered channels; items for pages nobody registered are for callers
/// without one. Each read is recorded in the audit trail (`quarantine.read`).
#[utoipa::path(
    get,
    path = "/api/v1/quarantine",
    operation_id = "listQuarantine",
    tag = "channels",
    responses(
        (status = 200, description = "The quarantine.", body = QuarantineList),
    )
)]
pub async fn quarantine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let scope = caller.read_scope();
    let items: Vec<QuarantinedItemView> = state
        .store
        .quarantined(&scope, 500)
        .await?
        .into_iter()
        .map(QuarantinedItemView::from)
        .collect();
    let pages = state.store.quarantined_pages(&scope).await?;
    state
        .store
        .audit(
            &caller.actor(),
            "quarantine.read",
            None,
            json!({
                "shown": items.len(),
                "with_text": items.iter().filter(|i| i.text.is_some()).count(),
            }),
        )
        .await?;
    Ok(axum::Json(QuarantineList {
        pages: pages.into_iter().map(QuarantinedPageView::from).collect(),
        items,
    }))
}
