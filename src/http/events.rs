//! `GET /api/v1/events`: the event log as server-sent events, resumable with `Last-Event-ID`,
//! carrying only what the listener may see.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use tokio::sync::broadcast;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::{Extensions, ExtensionsBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::{BadRequest, ServiceUnavailable};
use super::error::Result;
use super::extract::Query;
use super::feed::{Batch, PAGE};
use super::overload::StreamSlot;
use super::AppState;
use crate::access::Capability;
use crate::store::{EventKind, StoredEvent};

/// Where a reconnecting stream resumes: read by the handler from the headers.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct Resume {
    /// Resume after this sequence number (the `id` of the last event received). Takes precedence
    /// over `after`; ignored if not an integer.
    #[param(rename = "Last-Event-ID", value_type = String, required = false)]
    last_event_id: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this sequence number (as Last-Event-ID does); from now when absent; 0 or below
    /// reads from the start.
    after: Option<i64>,
}

/// The JSON in the `data` field of one server-sent event.
#[derive(Serialize, ToSchema)]
#[schema(as = Event, example = json!({
    "seq": 1042, "kind": "conversation.claimed", "channel_id": 1, "conversation_id": 17,
    "message_id": null, "at": 1762071300000_i64,
    "payload": {"staff_id": 3, "until": 1762071900000_i64}
}))]
struct EventData {
    /// Position in the event log, increasing; also the SSE `id`. Resume after it.
    seq: i64,
    #[schema(value_type = EventKindNames)]
    kind: String,
    #[schema(required = true)]
    channel_id: Option<i64>,
    /// The conversation concerned, when any: re-read it with GET /api/v1/conversations/{id}.
    #[schema(required = true)]
    conversation_id: Option<i64>,
    #[schema(required = true)]
    message_id: Option<i64>,
    /// When the change was recorded. Milliseconds since the Unix epoch.
    at: i64,
    /// Kind-specific facts (see EventKind).
    #[schema(value_type = Option<Object>, required = true)]
    payload: Value,
}

/// The kinds of event as the store names them (`EventKind::ALL`), with what each one's payload
/// holds.
struct EventKindNames;

impl utoipa::PartialSchema for EventKindNames {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventKind::ALL.iter().map(|k| k.as_str())))
            .description(Some(EVENT_KINDS))
            .into()
    }
}

impl ToSchema for EventKindNames {
    fn name() -> std::borrow::Cow<'static, str> {
        "EventKind".into()
    }
}

/// What each kind's payload holds.
const EVENT_KINDS: &str = "The kind of a change in the event log, with its payload: `message.received` / `message.sent` (a new inbound / outbound message arrived from the platform; payload {kind, state, change}); `message.changed` (edited, hidden, unhidden, removed or deleted; {change, state}, plus `case_id` when a moderation case changed it); `post.changed` ({post_id, removed}); `reaction.changed` ({target, reaction, removed}); `conversation.read` (the person read a DM conversation; {read_at}); `messages.delivered` (outbound DMs reached the person; {messages, watermark}); `quarantine.added` ({quarantine_id, platform, channel_platform_id}); `conversation.claimed` ({staff_id, until}); `conversation.released` ({staff_id}); `conversation.replied` (a reply written in tavla was queued; {staff_id}, message_id set); `conversation.status_changed` ({from, to, staff_id}); `channel.changed` (registered or approved; {registered?, approved}); `message.delivery_changed` (an outbox row of the message changed: a reply's delivery, or a hide, unhide or removal on the platform; {outbox_id, action, status, failure, attempts, retry_in_ms} after an attempt, where status is `sent`, `retrying` or `failed`; {outbox_id, action, status: `pending`} when a hide, unhide or removal is queued; {outbox_id, status: `pending`, retried: true} after a retry; {status: `sent`, by: `echo`} when the platform's echo confirmed it); `moderation.case_opened` (by triage or a report; {case_id, level, source}); `moderation.case_changed` ({case_id, step} when a step was taken; {case_id, closed: true} when it was closed). Events never carry message text. `message.erased` (a record disposed of by retention or a person's erasure request: its rows are gone, search and FAQ drop it; payload {reason: retention | erasure}); `message.pseudonymised` (a record kept with personal data masked and its author replaced by a pseudonym; payload {reason}). `search.synonyms_changed` (an administrator changed the organisation's search synonyms; payload {group_id}; seen by those who manage channels). `conversation.noted` (an internal note was written on the conversation; payload {note_id}; never its words). `conversation.handed_over` (the conversation was handed to a unit of the organisation or a named colleague; payload {handover_id, unit, to_staff}; heard by everyone who may read the conversation, so each member of the unit (`unit` in GET /api/v1/me) and the colleague (`to_staff`, a staff id) can be told; never the note's words). `conversation.categorised` (the conversation's categories changed; payload {categories, removed}: category ids, the whole set now and those taken away; heard by those who may read the conversation).";

/// The stream's answer: server-sent events whose `data` is an [`EventData`] (utoipa's response
/// attributes cannot name a schema for the data inside the text, so it is written out here).
struct Streamed;

impl utoipa::IntoResponses for Streamed {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let event = || json!({"$ref": "#/components/schemas/Event"});
        let one_event = json!({
            "type": "object",
            "description": "One server-sent event; its `data` is an Event as JSON.",
            "required": ["data"],
            "properties": {
                "id": {"type": "string", "description": "The event's sequence number: send it back as Last-Event-ID (or `after`) to resume."},
                "event": {"type": "string", "description": "The event's kind, e.g. conversation.claimed."},
                "data": {"type": "string", "contentMediaType": "application/json",
                    "contentSchema": event()},
                "retry": {"type": "integer"}
            }
        });
        let content = ContentBuilder::new()
            .schema(Some(json_schema(one_event)))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add("x-sse-data-schema", event())
                    .build(),
            ))
            .build();
        let stream = ResponseBuilder::new()
            .description("The event stream. Each message looks like:\n\n```\nid: 1042\nevent: conversation.claimed\ndata: {\"seq\":1042,\"kind\":\"conversation.claimed\",\"channel_id\":1,\"conversation_id\":17,\"message_id\":null,\"at\":1762071300000,\"payload\":{\"staff_id\":3,\"until\":1762071900000}}\n```")
            .content("text/event-stream", content)
            .build();
        let too_many = Ref::from_response_name("TooManyStreams");
        BTreeMap::from([
            ("200".to_string(), stream.into()),
            ("429".to_string(), too_many.into()),
        ])
    }
}

/// A schema written as JSON, serialised as exactly the JSON given: for what utoipa's model
/// cannot state (`contentSchema`).
fn json_schema(value: Value) -> Schema {
    let Value::Object(members) = value else {
        unreachable!("a schema fragment is a JSON object")
    };
    let mut schema = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .build();
    schema.extensions = Some(Extensions::from_iter(members));
    Schema::Object(schema)
}

#[derive(OpenApi)]
// `Arrival`: what the event log and quarantine keep of each arrival (no operation names it).
#[openapi(
    paths(stream),
    components(schemas(EventData, EventKindNames, crate::model::Inbound))
)]
pub struct Doc;

/// Live event stream (server-sent events)
///
/// A live stream of changes as server-sent events, for keeping a client's queue and open
/// conversation up to date. Each event has `id` = the sequence number, `event` = the kind, and
/// `data` = an Event JSON object. Keep-alive comments are sent while idle. Resume after a
/// disconnect with the `Last-Event-ID` header (browsers' EventSource sends it) or the `after` query
/// parameter; without either, the stream starts from now. Each caller receives only what they may
/// see, by their effective capabilities (role AND training) and channel scope, re-read every 2
/// seconds while the stream is open (so a scope change or expired training applies at once): events
/// of a channel outside the scope are left out; conversation events go by the conversation's kind
/// (DMs need `read_dms`, comment threads `read_comments`), and so do `message.delivery_changed` and
/// the moderation events, which belong to the message's conversation (they are not limited to
/// `moderate`); `post.changed` and `reaction.changed` need `read_comments`; `messages.delivered`
/// needs `read_dms`; channel events need `manage_channels`; quarantine events need
/// `manage_channels` and no channel scope (a page nobody registered belongs to no channel).
/// Payloads carry ids, states and levels, never words. Opening a stream is recorded in the audit
/// trail (`events.subscribe`). The stream ends when the service shuts down, and within seconds of
/// the caller's session ending (sign-out, idle or absolute expiry, password or role change, account
/// disabled) or, for an API token, of the token being revoked or the account being disabled or its
/// role changed; reconnect and resume. The stream itself does not count as use of the session:
/// without other requests, the session (and its stream) ends at `session_idle_minutes`. Each person
/// may have `event_streams_per_person` streams open (429 beyond), and the instance
/// `event_streams_max` in all (503 beyond); a stream's place is freed when it ends.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "streamEvents",
    tag = "events",
    params(
        Resume,
        StreamQuery,
    ),
    responses(
        Streamed,
        (status = 400, response = BadRequest),
        (status = 503, response = ServiceUnavailable),
    )
)]
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
                let id = e.seq.to_string();
                let name = e.kind.clone();
                let data = EventData {
                    seq: e.seq,
                    kind: e.kind,
                    channel_id: e.channel_id,
                    conversation_id: e.conversation_id,
                    message_id: e.message_id,
                    at: e.created_at,
                    payload: e.payload,
                };
                let data = serde_json::to_string(&data).unwrap_or_default();
                let event = Event::default().id(id).event(name).data(data);
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
