//! The channel registry and the quarantine of items for unregistered channels.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path};
use super::AppState;

use crate::model::Platform;
use crate::store::channels::NewChannel;

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    // Everyone signed in may see the accounts in their scope; messages are guarded elsewhere.
    let items: Vec<_> = state
        .store
        .channels()
        .await?
        .into_iter()
        .filter(|c| caller.may_see_channel(c.id))
        .collect();
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    platform: String,
    platform_id: String,
    name: String,
    unit: Option<String>,
    purpose: Option<String>,
    responsible: Option<String>,
    personal_data_handling: Option<String>,
    #[serde(default)]
    approved: bool,
}

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
        axum::Json(json!({"channel": channel, "released_from_quarantine": released})),
    ))
}

/// Approves a registered channel and releases what waited for it in quarantine.
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
    Ok(axum::Json(
        json!({"channel": channel, "released_from_quarantine": released}),
    ))
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
