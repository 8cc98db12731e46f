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
use crate::access::{Capability, Role};
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
    Ok(Sse::new(events(state, caller.role, start)).keep_alive(KeepAlive::default()))
}

struct Cursor {
    state: AppState,
    role: Role,
    after: i64,
    ready: VecDeque<StoredEvent>,
}

fn events(
    state: AppState,
    role: Role,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let cursor = Cursor {
        state,
        role,
        after,
        ready: VecDeque::new(),
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
                            .filter(|(e, kind)| may_see(c.role, e, kind.as_deref()))
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

/// The same rule as the routes: conversation events by the kind the role may read; channel and
/// quarantine events for those who manage channels.
fn may_see(role: Role, event: &StoredEvent, conversation_kind: Option<&str>) -> bool {
    match conversation_kind {
        Some("dm") => role.can(Capability::ReadDms),
        Some(_) => role.can(Capability::ReadComments),
        None => match event.kind.as_str() {
            "post.changed" | "reaction.changed" => role.can(Capability::ReadComments),
            "messages.delivered" => role.can(Capability::ReadDms),
            _ => role.can(Capability::ManageChannels),
        },
    }
}
