//! `GET /api/v1/events`: the event log as server-sent events, resumable with `Last-Event-ID`,
//! carrying only what the listener may see.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::stream::{self, Stream};
use serde::Deserialize;

use super::auth::Caller;
use super::error::Result;
use super::extract::Query;
use super::AppState;
use crate::access::Capability;
use crate::store::StoredEvent;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Start after this sequence number (as Last-Event-ID does); from now when absent.
    after: Option<i64>,
}

pub async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<impl IntoResponse> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after);
    let start = match resume {
        Some(seq) => seq.max(0),
        None => state.store.last_event_seq().await?,
    };
    state
        .store
        .audit(
            &caller.actor(),
            "events.subscribe",
            None,
            serde_json::json!({"after": start}),
        )
        .await?;
    Ok(Sse::new(events(state, caller, start)).keep_alive(KeepAlive::default()))
}

struct Cursor {
    state: AppState,
    caller: Caller,
    after: i64,
    ready: VecDeque<StoredEvent>,
    checked_at: tokio::time::Instant,
}

/// How often a long-lived stream checks that its caller may still listen (session not ended by
/// sign-out or a password or role change, account not disabled).
const RECHECK: Duration = Duration::from_secs(2);

fn events(
    state: AppState,
    caller: Caller,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let cursor = Cursor {
        state,
        caller,
        after,
        ready: VecDeque::new(),
        checked_at: tokio::time::Instant::now(),
    };
    stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.ready.pop_front() {
                let data = serde_json::json!({
                    "seq": e.seq,
                    "kind": e.kind,
                    "channel_id": e.channel_id,
                    "conversation_id": e.conversation_id,
                    "message_id": e.message_id,
                    "at": e.created_at,
                    "payload": e.payload,
                });
                let event = Event::default()
                    .id(e.seq.to_string())
                    .event(e.kind.clone())
                    .data(data.to_string());
                return Some((Ok(event), c));
            }
            if *c.state.shutdown.borrow() {
                return None;
            }
            if c.checked_at.elapsed() >= RECHECK {
                // Rights are re-read, so a scope change or expired training applies at once.
                c.caller = refreshed(&c.state, &c.caller).await?;
                c.checked_at = tokio::time::Instant::now();
            }
            // Ask to be woken before reading, so a commit between the read and the wait is not missed.
            let committed = c.state.store.committed.clone();
            let woken = committed.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match c.state.store.events_visible_after(c.after, 500).await {
                Ok(batch) => {
                    if let Some(last) = batch.last() {
                        c.after = last.0.seq;
                    }
                    c.ready.extend(
                        batch
                            .into_iter()
                            .filter(|(e, kind)| may_see(&c.caller, e, kind.as_deref()))
                            .map(|(e, _)| e),
                    );
                    if !c.ready.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream could not read the log"),
            }
            let mut shutdown = c.state.shutdown.clone();
            // Other instances write to the same log: look again at least every second.
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return None,
            }
        }
    })
}

/// The same rule as the routes: conversation events by the caller's read scope (kind and
/// channel); channel events for those who manage channels; quarantine events, like the
/// quarantine list, for administrators without a channel limit (what waits for an unregistered
/// page belongs to no channel). Payloads are metadata written by the store (ids, states, levels),
/// never words: the leak test (tests/api/leaks.rs) reads the stream of every principal.
fn may_see(caller: &Caller, event: &StoredEvent, conversation_kind: Option<&str>) -> bool {
    if let Some(channel) = event.channel_id {
        if !caller.may_see_channel(channel) {
            return false;
        }
    }
    match conversation_kind {
        Some(kind) => caller.read_scope().may_read_kind(kind),
        None => match event.kind.as_str() {
            "post.changed" | "reaction.changed" => caller.can(Capability::ReadComments),
            "messages.delivered" => caller.can(Capability::ReadDms),
            "quarantine.added" => caller.can(Capability::ManageChannels) && caller.scope.is_none(),
            _ => caller.can(Capability::ManageChannels),
        },
    }
}

/// The caller as they are now, or None when they may no longer listen: the session ended (sign-out,
/// password or role change), the API token was revoked, the account was disabled or changed role.
async fn refreshed(state: &AppState, caller: &Caller) -> Option<Caller> {
    if let Some(session) = &caller.session {
        if !state.store.session_open(session.id).await.ok()? {
            return None;
        }
    }
    let staff = match &caller.token_digest {
        // A revoked token (or a disabled account) ends the stream opened with it.
        Some(digest) => state.store.staff_by_token_digest(digest).await.ok()??,
        None => state
            .store
            .staff_by_username(&caller.staff.username)
            .await
            .ok()??,
    };
    if staff.role != caller.staff.role {
        return None;
    }
    let completions = state.store.completions(staff.id).await.ok()?;
    let effective = state
        .training
        .effective(caller.role, &completions, crate::store::now_ms());
    let scope = state.store.channel_scope(staff.id).await.ok()?;
    Some(Caller {
        effective,
        scope,
        ..caller.clone()
    })
}
