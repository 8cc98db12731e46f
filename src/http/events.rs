//! `GET /api/v1/events`: the event log as server-sent events, resumable with `Last-Event-ID`,
//! carrying only what the listener may see.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use tokio::sync::broadcast;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::stream::{self, Stream};
use serde::Deserialize;

use super::auth::Caller;
use super::error::Result;
use super::extract::Query;
use super::feed::{Batch, PAGE};
use super::overload::StreamSlot;
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
    // A place among the instance's streams first (refused with 429 or 503 when full), then
    // listening, then the starting point: what commits in between comes from the log.
    let slot = state.limits.streams.take(caller.staff.id)?;
    let feed = state.feed.subscribe();
    // A position beyond the log's end (a store restored from a backup, where the log is
    // shorter than what the console saw) resumes from the end, not after events yet to come.
    let last = state.store.last_event_seq().await?;
    let start = resume.map_or(last, |seq| seq.clamp(0, last));
    state
        .store
        .audit(
            &caller.actor(),
            "events.subscribe",
            None,
            serde_json::json!({"after": start}),
        )
        .await?;
    let cursor = Cursor {
        state,
        caller,
        after: start,
        ready: VecDeque::new(),
        checked_at: tokio::time::Instant::now(),
        feed,
        caught_up: false,
        _slot: slot,
    };
    Ok(Sse::new(events(cursor)).keep_alive(KeepAlive::default()))
}

struct Cursor {
    state: AppState,
    caller: Caller,
    after: i64,
    ready: VecDeque<StoredEvent>,
    checked_at: tokio::time::Instant,
    /// The instance's one reader of the log (src/http/feed.rs).
    feed: broadcast::Receiver<Batch>,
    /// True once this stream has read the log itself up to where the feed took over.
    caught_up: bool,
    /// Freed when the stream ends, whatever ends it.
    _slot: StreamSlot,
}

impl Cursor {
    /// Takes the events after the cursor's position that the listener may see.
    fn take(&mut self, batch: &[(StoredEvent, Option<String>)]) {
        let from = self.after;
        for (e, kind) in batch.iter().filter(|(e, _)| e.seq > from) {
            self.after = e.seq;
            if may_see(&self.caller, e, kind.as_deref()) {
                self.ready.push_back(e.clone());
            }
        }
    }
}

/// How often a long-lived stream checks that its caller may still listen (session not ended by
/// sign-out, expiry or a password or role change, token not revoked, account not disabled).
const RECHECK: Duration = Duration::from_secs(2);

fn events(cursor: Cursor) -> impl Stream<Item = Result<Event, Infallible>> {
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
            let mut shutdown = c.state.shutdown.clone();
            if !c.caught_up {
                // Resuming, or fallen behind the feed: read the log until its end.
                match c.state.store.events_visible_after(c.after, PAGE).await {
                    Ok(batch) => {
                        c.caught_up = (batch.len() as i64) < PAGE;
                        c.take(&batch);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream could not read the log");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = shutdown.changed() => return None,
                        }
                    }
                }
                continue;
            }
            tokio::select! {
                received = c.feed.recv() => match received {
                    Ok(batch) => c.take(&batch),
                    Err(broadcast::error::RecvError::Lagged(_)) => c.caught_up = false,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(c.checked_at + RECHECK) => {}
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
///
/// A session's stream ends at the session's idle expiry too: the stream itself is not use. An
/// open console tab must not keep a session alive, or a workstation left signed in would stay
/// so until the absolute limit; the person's own actions (each API request) keep it alive.
async fn refreshed(state: &AppState, caller: &Caller) -> Option<Caller> {
    if let Some(session) = &caller.session {
        let times = state.store.open_session_times(session.id).await.ok()??;
        if super::auth::session_expired(&state.settings, times.created_at, times.last_seen_at) {
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
    // A change of roles (one taken away, or given) ends the stream, as it ends the sessions:
    // the listener reconnects with what they hold now.
    let held = state.store.staff_roles(staff.id).await.ok()?;
    if crate::access::Roles::parse_all(&held).as_ref() != Some(&caller.roles) {
        return None;
    }
    let completions = state.store.completions(staff.id).await.ok()?;
    let effective = state
        .training
        .effective(&caller.roles, &completions, crate::store::now_ms());
    let scope = state.store.channel_scope(staff.id).await.ok()?;
    Some(Caller {
        effective,
        scope,
        ..caller.clone()
    })
}
