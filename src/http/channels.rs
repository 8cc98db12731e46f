//! The channel registry and the quarantine of items for unregistered channels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::schema::ArrayBuilder;
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
use crate::store::channels::{Channel, NewChannel};

// The quarantine (GET /api/v1/channels/quarantine) is still described by hand.
#[derive(OpenApi)]
#[openapi(paths(list, register, approve))]
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

/// What waits in quarantine: for administrators, what and why (platform, page, kind, count,
/// received time); the words only for a caller who reads that kind of conversation, masked, and
/// the reading audited. A channel-limited administrator sees only what waits for their channels.
pub async fn quarantine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let scope = caller.read_scope();
    let mut items = state.store.quarantined(&scope, 500).await?;
    let pages = state.store.quarantined_pages(&scope).await?;
    for item in &mut items {
        item.text = item.text.as_deref().map(crate::text::detectors::mask);
    }
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
    Ok(axum::Json(json!({"pages": pages, "items": items})))
}
