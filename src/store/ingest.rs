//! Applying normalised arrivals to the store: idempotent on the platform's ids, history kept, the
//! event log appended in the same transaction. Called by the group committer with many items.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::events::{append, EventKind, NewEvent};
use super::moderation::FlagInput;
/// Kept under its old path for the callers that import it from here.
pub(super) use super::unanswered::note_message;
use super::{now_ms, Result, Tx};
use crate::model::{
    Change, ConversationKind, ConversationStatus, Direction, Inbound, Item, MessageItem, Person,
    Platform,
};

/// What one batch did, for the acknowledgement and the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// New messages, posts, changes and state updates stored.
    pub stored: usize,
    /// Items seen before (Meta redelivers): nothing written.
    pub duplicates: usize,
    /// Items for channels that are not registered and approved.
    pub quarantined: usize,
    /// Items kept verbatim because tavla does not understand them.
    pub unrecognised: usize,
    /// New inbound messages among `stored` (for the ingested-messages counter).
    pub new_messages: usize,
}

impl Outcome {
    pub fn add(&mut self, other: Outcome) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        self.unrecognised += other.unrecognised;
        self.new_messages += other.new_messages;
    }
}

/// Ids looked up earlier in the same transaction: a burst of comments under one post, or a batch
/// of one page's messages, would otherwise ask the same questions again and again.
#[derive(Default)]
pub struct BatchCache {
    channels: HashMap<(Platform, String), Option<i64>>,
    /// Each author's id and the fingerprint of the name last written (0: not known), so a repeat
    /// commenter with the same name costs no statement.
    authors: HashMap<(Platform, String), (i64, u64)>,
    conversations: HashMap<(i64, String), i64>,
    /// Per channel, the words of our own messages still waiting for the platform's id, which an
    /// echo may carry (`echo::match_echo`); None when there are too many to keep. Asked again in
    /// every group, as replies are written meanwhile.
    unsent: HashMap<i64, Option<std::collections::HashSet<String>>>,
}

/// Most authors and conversations remembered between groups. Repeat senders are mostly recent
/// ones, and each entry costs about a hundred bytes of resident memory.
const CACHE_LIMIT: usize = 100_000;

impl BatchCache {
    /// Starts a new group. Author and conversation ids never change once committed, so they are
    /// kept across groups (repeat senders are the rule); channel approval can change at any time,
    /// so it is asked again in every group. After a failed group, start from `default()`: ids
    /// from a rolled-back transaction must not survive it.
    pub fn next_group(&mut self) {
        self.channels.clear();
        self.unsent.clear();
        if self.authors.len() > CACHE_LIMIT || self.conversations.len() > CACHE_LIMIT {
            self.authors.clear();
            self.conversations.clear();
        }
    }

    /// The author's id, when known and (for a message that names them) known by that name.
    pub(super) fn author(&self, platform: Platform, id: &str, name: Option<&str>) -> Option<i64> {
        let &(author, written) = self.authors.get(&(platform, id.to_string()))?;
        match name {
            Some(name) if super::new_messages::name_fingerprint(name) != written => None,
            _ => Some(author),
        }
    }

    /// Remembers an author just written with `name` (None keeps whatever name it had).
    pub(super) fn remember_author(
        &mut self,
        platform: Platform,
        id: &str,
        name: Option<&str>,
        author: i64,
    ) {
        let key = (platform, id.to_string());
        let fingerprint = match name {
            Some(name) => super::new_messages::name_fingerprint(name),
            None => self.authors.get(&key).map_or(0, |&(_, f)| f),
        };
        self.authors.insert(key, (author, fingerprint));
    }

    pub(super) fn conversation(&self, key: &(i64, String)) -> Option<i64> {
        self.conversations.get(key).copied()
    }

    pub(super) fn remember_conversation(&mut self, key: (i64, String), id: i64) {
        self.conversations.insert(key, id);
    }
}

pub struct Limits {
    pub max_text_chars: usize,
}

/// Applies a group's items in order; each one's outcome. Runs of new messages (most of what
/// arrives: people's messages and the page's own replies written on the platform) are written a
/// run at a time (`new_messages`); everything else one by one, after the run before it, so an
/// edit never overtakes the message it edits.
pub async fn apply_group(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    limits: &Limits,
    items: &[(&Inbound, Option<&FlagInput>)],
) -> Result<Vec<Outcome>> {
    use super::new_messages::{apply_run, NewInbound};
    let mut outcomes = vec![Outcome::default(); items.len()];
    let mut run = Vec::new();
    for (index, &(inbound, flag)) in items.iter().enumerate() {
        if let Item::Message(message) = &inbound.item {
            if message.change == Change::Created {
                if let Some(channel_id) = approved_channel(tx, cache, inbound).await? {
                    if message.direction == Direction::Inbound
                        || !may_be_echo(tx, cache, channel_id, message).await?
                    {
                        run.push(NewInbound {
                            index,
                            channel_id,
                            inbound,
                            message,
                            flag,
                        });
                        continue;
                    }
                }
            }
        }
        apply_run(tx, cache, limits, &mut run, &mut outcomes).await?;
        outcomes[index] = apply(tx, cache, limits, inbound, flag).await?;
    }
    apply_run(tx, cache, limits, &mut run, &mut outcomes).await?;
    Ok(outcomes)
}

/// Whether an outbound message could be the echo of one of ours (`echo::match_echo`), which
/// only the one-by-one path matches: it names our outbox row, or carries the words of one of our
/// messages in its channel still waiting for the platform's id. Anything else the page wrote
/// (replies written on the platform itself, most outbound arrivals) is new and joins the run.
async fn may_be_echo(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    channel_id: i64,
    m: &MessageItem,
) -> Result<bool> {
    if super::echo::outbox_id_in(m).is_some() {
        return Ok(true);
    }
    let Some(text) = m.text.as_deref() else {
        return Ok(false);
    };
    if let std::collections::hash_map::Entry::Vacant(unknown) = cache.unsent.entry(channel_id) {
        // The same rows as the echo's own look-up, in the whole channel rather than one thread.
        const KEPT: usize = 1000;
        let texts: Vec<Option<String>> = sqlx::query_scalar(
            "select text from messages where channel_id = $1 and platform_id is null \
             and direction = 'outbound' and sent_by is not null \
             and delivery in ('pending', 'failed') limit $2",
        )
        .bind(channel_id)
        .bind(KEPT as i64 + 1)
        .fetch_all(&mut **tx)
        .await?;
        let unsent = (texts.len() <= KEPT).then(|| texts.into_iter().flatten().collect());
        unknown.insert(unsent);
    }
    Ok(match &cache.unsent[&channel_id] {
        Some(texts) => texts.contains(text),
        None => true,
    })
}

pub async fn apply(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    limits: &Limits,
    inbound: &Inbound,
    flag: Option<&FlagInput>,
) -> Result<Outcome> {
    let mut out = Outcome::default();
    let Some(channel_id) = approved_channel(tx, cache, inbound).await? else {
        if quarantine(tx, inbound).await? {
            out.quarantined += 1;
        } else {
            out.duplicates += 1;
        }
        return Ok(out);
    };
    let platform = inbound.channel.platform;
    let stored = match &inbound.item {
        Item::Message(m) => {
            let r = apply_message(
                tx,
                cache,
                limits,
                platform,
                channel_id,
                m,
                &inbound.raw,
                flag,
            )
            .await?;
            if r == Applied::NewInbound {
                out.new_messages += 1;
            }
            r != Applied::Duplicate
        }
        Item::Post {
            platform_id,
            author,
            text,
            platform_time,
            removed,
        } => {
            let post = PostSeen {
                platform_id,
                author: author.as_ref(),
                text: text.as_deref(),
                platform_time: *platform_time,
                removed: *removed,
            };
            apply_post(tx, cache, platform, channel_id, post).await?
        }
        Item::Reaction {
            target_id,
            person,
            reaction,
            removed,
            platform_time,
        } => {
            let author_id = upsert_author(tx, cache, platform, person).await?;
            let reaction = ReactionSeen {
                target_id,
                reaction,
                removed: *removed,
                platform_time: *platform_time,
            };
            apply_reaction(tx, channel_id, author_id, reaction).await?
        }
        Item::Read {
            person,
            watermark,
            message_id,
            platform_time,
        } => {
            let read_at = read_time(tx, channel_id, *watermark, message_id, *platform_time).await?;
            apply_read(tx, channel_id, person, read_at).await?
        }
        Item::Delivery {
            person,
            message_ids,
            watermark,
        } => apply_delivery(tx, channel_id, person, message_ids, *watermark).await?,
        Item::Unrecognised { reason } => {
            keep_unrecognised(tx, Some(channel_id), reason, &inbound.raw).await?;
            tracing::info!(channel_id, reason = %reason, "kept a webhook item that tavla does not handle");
            out.unrecognised += 1;
            return Ok(out);
        }
    };
    if stored {
        out.stored += 1;
    } else {
        out.duplicates += 1;
    }
    Ok(out)
}

/// A post as it arrived: created, edited or removed.
struct PostSeen<'a> {
    platform_id: &'a str,
    author: Option<&'a Person>,
    text: Option<&'a str>,
    platform_time: i64,
    removed: bool,
}

/// Stores a post (or its new state) and says whether anything changed.
async fn apply_post(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    platform: Platform,
    channel_id: i64,
    post: PostSeen<'_>,
) -> Result<bool> {
    let author_id = match post.author {
        Some(a) => Some(upsert_author(tx, cache, platform, a).await?),
        None => None,
    };
    let (post_id, changed) = upsert_post(
        tx,
        channel_id,
        post.platform_id,
        author_id,
        post.text,
        Some(post.platform_time),
        post.removed,
    )
    .await?;
    if changed {
        let payload = serde_json::json!({"post_id": post_id, "removed": post.removed});
        append(
            tx,
            NewEvent {
                kind: EventKind::PostChanged,
                channel_id: Some(channel_id),
                conversation_id: None,
                message_id: None,
                payload,
            },
        )
        .await?;
    }
    Ok(changed)
}

/// A reaction given or taken back.
struct ReactionSeen<'a> {
    target_id: &'a str,
    reaction: &'a str,
    removed: bool,
    platform_time: i64,
}

/// Stores a reaction once (a redelivery writes nothing) and says whether it was new.
async fn apply_reaction(
    tx: &mut Tx<'_>,
    channel_id: i64,
    author_id: i64,
    r: ReactionSeen<'_>,
) -> Result<bool> {
    let inserted = sqlx::query(
        "insert into reactions (channel_id, target_platform_id, author_id, reaction, removed, \
         platform_time, received_at) values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict do nothing returning id",
    )
    .bind(channel_id)
    .bind(r.target_id)
    .bind(author_id)
    .bind(r.reaction)
    .bind(r.removed as i64)
    .bind(r.platform_time)
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await?
    .is_some();
    if inserted {
        append(
            tx,
            NewEvent {
                kind: EventKind::ReactionChanged,
                channel_id: Some(channel_id),
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({
                    "target": r.target_id, "reaction": r.reaction, "removed": r.removed
                }),
            },
        )
        .await?;
    }
    Ok(inserted)
}

/// When the person read up to: the watermark, else the time of the message they read, else the
/// event's own time.
async fn read_time(
    tx: &mut Tx<'_>,
    channel_id: i64,
    watermark: Option<i64>,
    message_id: &Option<String>,
    platform_time: i64,
) -> Result<i64> {
    let read_at = match (watermark, message_id) {
        (Some(w), _) => Some(w),
        (None, Some(mid)) => {
            sqlx::query_scalar::<_, i64>(
                "select platform_time from messages where channel_id = $1 and platform_id = $2",
            )
            .bind(channel_id)
            .bind(mid)
            .fetch_optional(&mut **tx)
            .await?
        }
        (None, None) => Some(platform_time),
    };
    Ok(read_at.unwrap_or(platform_time))
}

/// Moves the person's read mark of their DM conversation forward (never back); whether it moved.
async fn apply_read(
    tx: &mut Tx<'_>,
    channel_id: i64,
    person: &Person,
    read_at: i64,
) -> Result<bool> {
    let updated = sqlx::query(
        "update conversations set person_read_at = $1 \
         where channel_id = $2 and thread_key = $3 \
         and (person_read_at is null or person_read_at < $4) returning id",
    )
    .bind(read_at)
    .bind(channel_id)
    .bind(dm_thread_key(person))
    .bind(read_at)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = &updated else {
        return Ok(false);
    };
    let conversation_id: i64 = row.try_get("id")?;
    append(
        tx,
        NewEvent {
            kind: EventKind::ConversationRead,
            channel_id: Some(channel_id),
            conversation_id: Some(conversation_id),
            message_id: None,
            payload: serde_json::json!({"read_at": read_at}),
        },
    )
    .await?;
    Ok(true)
}

#[derive(Debug, PartialEq, Eq)]
enum Applied {
    NewInbound,
    Stored,
    Duplicate,
}

/// One message as it arrived, with where it goes and what triage advised.
struct Arrival<'a> {
    channel_id: i64,
    m: &'a MessageItem,
    raw: &'a serde_json::Value,
    flag: Option<&'a FlagInput>,
    /// The text, cut to the configured limit.
    text: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn apply_message(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    limits: &Limits,
    platform: Platform,
    channel_id: i64,
    m: &MessageItem,
    raw: &serde_json::Value,
    flag: Option<&FlagInput>,
) -> Result<Applied> {
    let author_id = upsert_author(tx, cache, platform, &m.person).await?;
    let text = m.text.as_deref().map(|t| bounded(t, limits.max_text_chars));
    let arrival = Arrival {
        channel_id,
        m,
        raw,
        flag,
        text,
    };
    let conversation_id = conversation_of(tx, cache, channel_id, author_id, m).await?;
    if m.change == Change::Created
        && super::echo::match_echo(tx, channel_id, conversation_id, m)
            .await?
            .is_some()
    {
        // The echo of our own reply: our message now carries its id; nothing is stored twice.
        return Ok(Applied::Stored);
    }
    if let Some(message_id) = insert_message(tx, &arrival, conversation_id, author_id).await? {
        return first_seen(tx, &arrival, conversation_id, message_id).await;
    }
    let known = Known::of(tx, channel_id, conversation_id, &m.platform_id).await?;
    let text = arrival.text.as_deref();
    if m.change == Change::Created {
        return late_creation(tx, &known, m, text, raw, flag).await;
    }
    apply_change(tx, &known, m, text, raw, flag).await
}

/// The conversation a message belongs to: the person's DM thread, or the thread under its post
/// (created on first sight, with the post).
async fn conversation_of(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    channel_id: i64,
    author_id: i64,
    m: &MessageItem,
) -> Result<i64> {
    if m.kind.is_direct() {
        let key = dm_thread_key(&m.person);
        return upsert_conversation(
            tx,
            cache,
            channel_id,
            ConversationKind::Dm.as_str(),
            &key,
            Some(author_id),
            None,
            m.direction,
        )
        .await;
    }
    // Instagram sometimes omits the media: such comments share one thread per channel.
    let key = format!("post:{}", m.post_id.as_deref().unwrap_or("unknown"));
    // A known thread has its post already (posts are never deleted).
    let post_db_id = match &m.post_id {
        Some(post) if cache.conversation(&(channel_id, key.clone())).is_none() => Some(
            upsert_post(tx, channel_id, post, None, None, None, false)
                .await?
                .0,
        ),
        _ => None,
    };
    upsert_conversation(
        tx,
        cache,
        channel_id,
        ConversationKind::Comments.as_str(),
        &key,
        None,
        post_db_id,
        m.direction,
    )
    .await
}

/// Inserts the message unless its platform id is known; the new row's id.
async fn insert_message(
    tx: &mut Tx<'_>,
    arrival: &Arrival<'_>,
    conversation_id: i64,
    author_id: i64,
) -> Result<Option<i64>> {
    let m = arrival.m;
    let extra = m.extra.as_ref().map(|v| v.to_string());
    let inserted = sqlx::query_scalar(
        "insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, text, \
         attachments, parent_platform_id, extra, state, edited, platform_time, received_at, raw) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         on conflict (channel_id, platform_id) do nothing returning id",
    )
    .bind(conversation_id)
    .bind(arrival.channel_id)
    .bind(m.kind.as_str())
    .bind(m.direction.as_str())
    .bind(&m.platform_id)
    .bind(author_id)
    .bind(arrival.text.as_deref())
    .bind(serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into()))
    .bind(m.parent_id.as_deref())
    .bind(extra)
    .bind(state_after(m.change, "visible", true))
    .bind((m.change == Change::Edited) as i64)
    .bind(m.platform_time)
    .bind(now_ms())
    .bind(arrival.raw.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(inserted)
}

/// A message just inserted: its flags, its first piece of history when it was first seen through
/// a change, the conversation's counters, and the event.
async fn first_seen(
    tx: &mut Tx<'_>,
    arrival: &Arrival<'_>,
    conversation_id: i64,
    message_id: i64,
) -> Result<Applied> {
    let m = arrival.m;
    let state = state_after(m.change, "visible", true);
    let counts_as_unanswered = m.direction == Direction::Inbound && state == "visible";
    // Triage's flags (and a case, when advised) belong to the message from its first moment.
    if let Some(flag) = arrival.flag {
        super::moderation::flag_message(tx, message_id, flag).await?;
    }
    if m.change != Change::Created {
        // First seen through a change: the change itself is the first piece of history.
        insert_revision(tx, message_id, m, arrival.text.as_deref(), arrival.raw).await?;
    }
    note_message(
        tx,
        conversation_id,
        m.direction,
        m.platform_time,
        counts_as_unanswered,
    )
    .await?;
    let kind = match m.direction {
        Direction::Inbound => EventKind::MessageReceived,
        Direction::Outbound => EventKind::MessageSent,
    };
    append(
        tx,
        NewEvent {
            kind,
            channel_id: Some(arrival.channel_id),
            conversation_id: Some(conversation_id),
            message_id: Some(message_id),
            payload: serde_json::json!({"kind": m.kind, "state": state, "change": m.change}),
        },
    )
    .await?;
    Ok(if counts_as_unanswered {
        Applied::NewInbound
    } else {
        Applied::Stored
    })
}

/// A message already stored, as it stands before a change is applied.
struct Known {
    id: i64,
    conversation_id: i64,
    channel_id: i64,
    state: String,
    text: Option<String>,
    /// The platform time the message row carries (its creation, or the change it was first
    /// seen through).
    created_at: i64,
}

impl Known {
    /// The stored message with this platform id (it exists: the insert found it).
    async fn of(
        tx: &mut Tx<'_>,
        channel_id: i64,
        conversation_id: i64,
        platform_id: &str,
    ) -> Result<Known> {
        let row = sqlx::query(
            "select id, state, text, platform_time from messages where channel_id = $1 and platform_id = $2",
        )
        .bind(channel_id)
        .bind(platform_id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(Known {
            id: row.try_get("id")?,
            conversation_id,
            channel_id,
            state: row.try_get("state")?,
            text: row.try_get("text")?,
            created_at: row.try_get("platform_time")?,
        })
    }
}

/// The platform times of the changes that decided a message's current text and visibility.
/// Derived from the history (which every writer keeps, tavla's own hides included), so nothing
/// else has to remember them.
struct Decided {
    text_at: i64,
    state_at: Option<i64>,
}

impl Decided {
    async fn of(tx: &mut Tx<'_>, known: &Known) -> Result<Decided> {
        let row = sqlx::query(
            "select \
               (select max(platform_time) from message_revisions \
                 where message_id = $1 and change in ('created', 'edited')) as text_at, \
               (select max(platform_time) from message_revisions \
                 where message_id = $2 and change in ('hidden', 'unhidden', 'removed', 'deleted')) as state_at",
        )
        .bind(known.id)
        .bind(known.id)
        .fetch_one(&mut **tx)
        .await?;
        let text_at: Option<i64> = row.try_get("text_at")?;
        Ok(Decided {
            text_at: text_at.map_or(known.created_at, |t| t.max(known.created_at)),
            state_at: row.try_get("state_at")?,
        })
    }

    /// Whether a text carried by a change at `t` replaces the current text. Ties go to the
    /// change received later: the platform reports seconds, and two changes in one second are
    /// most likely delivered in the order they happened.
    fn text_is_replaced_at(&self, t: i64) -> bool {
        t >= self.text_at
    }

    /// Whether a reversible change (hide, unhide) at `t` is newer than the current visibility.
    fn state_is_replaced_at(&self, t: i64) -> bool {
        self.state_at.is_none_or(|at| t >= at)
    }
}

/// An edit, hide, unhide, removal or deletion of a stored message. Every change joins the
/// history; only one newer (by the platform's time) than the current text or visibility
/// replaces it, so a late retry of an older change never undoes a newer one.
async fn apply_change(
    tx: &mut Tx<'_>,
    known: &Known,
    m: &MessageItem,
    text: Option<&str>,
    raw: &serde_json::Value,
    flag: Option<&FlagInput>,
) -> Result<Applied> {
    let now = now_ms();
    // Keep what the message said before its first change, so history is never overwritten.
    sqlx::query(
        "insert into message_revisions (message_id, change, revision, text, platform_time, received_at) \
         select $1, 'created', '', $2, $3, $4 \
         where not exists (select 1 from message_revisions where message_id = $5)",
    )
    .bind(known.id)
    .bind(known.text.as_deref())
    .bind(known.created_at)
    .bind(now)
    .bind(known.id)
    .execute(&mut **tx)
    .await?;
    let decided = Decided::of(tx, known).await?;
    let Some(revision_id) = insert_revision(tx, known.id, m, text, raw).await? else {
        return Ok(Applied::Duplicate);
    };
    let mut text_changed = false;
    let new_state = if m.change == Change::Edited {
        text_changed = decided.text_is_replaced_at(m.platform_time);
        edit_text(tx, known.id, text, text_changed).await?;
        if let Some(flag) = flag.filter(|_| text_changed) {
            super::moderation::flag_edit(tx, known.id, revision_id, flag).await?;
        }
        known.state.as_str()
    } else {
        let newest = decided.state_is_replaced_at(m.platform_time);
        let state = state_after(m.change, &known.state, newest);
        if state != known.state {
            sqlx::query("update messages set state = $1 where id = $2")
                .bind(state)
                .bind(known.id)
                .execute(&mut **tx)
                .await?;
        }
        state
    };
    changed_event(tx, known, m.change, new_state, text_changed).await?;
    Ok(Applied::Stored)
}

/// An edit is kept as history; its text becomes the message's text only when it is the newest.
/// This is the one place where ingestion changes a message's current text: whatever must follow
/// the text (search, FAQ and triage of the new wording) keys on `text_changed` in the event.
async fn edit_text(
    tx: &mut Tx<'_>,
    message_id: i64,
    text: Option<&str>,
    is_newest: bool,
) -> Result<()> {
    let query = if is_newest {
        sqlx::query("update messages set text = $1, edited = 1 where id = $2").bind(text)
    } else {
        sqlx::query("update messages set edited = 1 where id = $1")
    };
    query.bind(message_id).execute(&mut **tx).await?;
    Ok(())
}

/// The creation of a message that was first seen through a change (Meta delivered the edit or
/// hide before the comment itself): its first version joins the history. Any other repeat of a
/// creation is a redelivery. A message is "first seen through a change" when it has history from
/// the platform (rows with the platform's payload) but no first version.
async fn late_creation(
    tx: &mut Tx<'_>,
    known: &Known,
    m: &MessageItem,
    text: Option<&str>,
    raw: &serde_json::Value,
    flag: Option<&FlagInput>,
) -> Result<Applied> {
    let decided = Decided::of(tx, known).await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into message_revisions (message_id, change, revision, text, platform_time, received_at, raw) \
         select $1, 'created', '', $2, $3, $4, $5 \
         where not exists (select 1 from message_revisions where message_id = $6 and change = 'created') \
         and exists (select 1 from message_revisions where message_id = $7 and raw is not null) \
         on conflict do nothing returning id",
    )
    .bind(known.id)
    .bind(text)
    .bind(m.platform_time)
    .bind(now_ms())
    .bind(raw.to_string())
    .bind(known.id)
    .bind(known.id)
    .fetch_optional(&mut **tx)
    .await?;
    if inserted.is_none() {
        return Ok(Applied::Duplicate);
    }
    // Only a platform whose clock says the creation came after the change would make this the
    // current text; the rule is the same as for edits.
    let text_changed = decided.text_is_replaced_at(m.platform_time);
    if text_changed {
        sqlx::query("update messages set text = $1 where id = $2")
            .bind(text)
            .bind(known.id)
            .execute(&mut **tx)
            .await?;
        if let Some((flag, revision_id)) = flag.zip(inserted) {
            super::moderation::flag_edit(tx, known.id, revision_id, flag).await?;
        }
    }
    changed_event(tx, known, Change::Created, &known.state, text_changed).await?;
    Ok(Applied::Stored)
}

/// `text_changed` tells the log's readers whether the message's current text is new (an older
/// change only grew the history).
async fn changed_event(
    tx: &mut Tx<'_>,
    known: &Known,
    change: Change,
    state: &str,
    text_changed: bool,
) -> Result<()> {
    append(
        tx,
        NewEvent {
            kind: EventKind::MessageChanged,
            channel_id: Some(known.channel_id),
            conversation_id: Some(known.conversation_id),
            message_id: Some(known.id),
            payload: serde_json::json!({"change": change, "state": state, "text_changed": text_changed}),
        },
    )
    .await?;
    Ok(())
}

/// The visibility a message has after a change. Edits do not change visibility. A deletion by
/// the author and a removal are final, whenever they happened, so nothing brings such a message
/// back; a hide or unhide decides only when it is newer than the current visibility (`newest`).
fn state_after(change: Change, current: &str, newest: bool) -> &str {
    match (change, current) {
        (_, "deleted") | (Change::Deleted, _) => "deleted",
        (_, "removed") | (Change::Removed, _) => "removed",
        (Change::Hidden, _) if newest => "hidden",
        (Change::Unhidden, "hidden") if newest => "visible",
        (_, state) => state,
    }
}

/// Records a change as history; its id, or None when the same change was already recorded.
async fn insert_revision(
    tx: &mut Tx<'_>,
    message_id: i64,
    m: &MessageItem,
    text: Option<&str>,
    raw: &serde_json::Value,
) -> Result<Option<i64>> {
    let id: Option<i64> = sqlx::query_scalar(
        "insert into message_revisions (message_id, change, revision, text, platform_time, received_at, raw) \
         values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing returning id",
    )
    .bind(message_id)
    .bind(m.change.as_str())
    .bind(&m.revision)
    .bind(text)
    .bind(m.platform_time)
    .bind(now_ms())
    .bind(raw.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id)
}

async fn apply_delivery(
    tx: &mut Tx<'_>,
    channel_id: i64,
    person: &Person,
    message_ids: &[String],
    watermark: Option<i64>,
) -> Result<bool> {
    let mut changed = 0u64;
    for mid in message_ids {
        changed += sqlx::query(
            "update messages set delivery = 'delivered' where channel_id = $1 and platform_id = $2 \
             and direction = 'outbound' and (delivery is null or delivery <> 'delivered')",
        )
        .bind(channel_id)
        .bind(mid)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    if let Some(w) = watermark {
        changed += sqlx::query(
            "update messages set delivery = 'delivered' where conversation_id in \
               (select id from conversations where channel_id = $1 and thread_key = $2) \
             and direction = 'outbound' and platform_time <= $3 \
             and (delivery is null or delivery <> 'delivered')",
        )
        .bind(channel_id)
        .bind(dm_thread_key(person))
        .bind(w)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    if changed > 0 {
        append(
            tx,
            NewEvent {
                kind: EventKind::MessagesDelivered,
                channel_id: Some(channel_id),
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({"messages": changed, "watermark": watermark}),
            },
        )
        .await?;
    }
    Ok(changed > 0)
}

pub(super) fn dm_thread_key(person: &Person) -> String {
    format!("dm:{}", person.platform_id)
}

/// Cuts text beyond the configured size on a character boundary. The raw payload keeps the whole.
pub(super) fn bounded(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => text[..at].to_string(),
        None => text.to_string(),
    }
}

async fn approved_channel(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    inbound: &Inbound,
) -> Result<Option<i64>> {
    let key = (
        inbound.channel.platform,
        inbound.channel.platform_id.clone(),
    );
    if let Some(hit) = cache.channels.get(&key) {
        return Ok(*hit);
    }
    let id: Option<i64> = sqlx::query_scalar(
        "select id from channels where platform = $1 and platform_id = $2 and approved = 1",
    )
    .bind(inbound.channel.platform.as_str())
    .bind(&inbound.channel.platform_id)
    .fetch_optional(&mut **tx)
    .await?;
    cache.channels.insert(key, id);
    Ok(id)
}

/// Returns false when the same item was quarantined before.
async fn quarantine(tx: &mut Tx<'_>, inbound: &Inbound) -> Result<bool> {
    let item = serde_json::to_string(inbound).unwrap_or_default();
    let digest = hex::encode(Sha256::digest(item.as_bytes()));
    let id: Option<i64> = sqlx::query_scalar(
        "insert into quarantine (platform, channel_platform_id, digest, item, received_at) \
         values ($1, $2, $3, $4, $5) on conflict (digest) do nothing returning id",
    )
    .bind(inbound.channel.platform.as_str())
    .bind(&inbound.channel.platform_id)
    .bind(digest)
    .bind(item)
    .bind(now_ms())
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = id {
        append(
            tx,
            NewEvent {
                kind: EventKind::Quarantined,
                channel_id: None,
                conversation_id: None,
                message_id: None,
                payload: serde_json::json!({
                    "quarantine_id": id,
                    "platform": inbound.channel.platform,
                    "channel_platform_id": inbound.channel.platform_id,
                }),
            },
        )
        .await?;
    }
    Ok(id.is_some())
}

pub async fn keep_unrecognised(
    tx: &mut Tx<'_>,
    channel_id: Option<i64>,
    reason: &str,
    raw: &serde_json::Value,
) -> Result<()> {
    let raw = raw.to_string();
    let digest = hex::encode(Sha256::digest(raw.as_bytes()));
    sqlx::query(
        "insert into unrecognised (channel_id, digest, reason, raw, received_at) \
         values ($1, $2, $3, $4, $5) on conflict (digest) do nothing",
    )
    .bind(channel_id)
    .bind(digest)
    .bind(reason)
    .bind(raw)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_author(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    platform: Platform,
    person: &Person,
) -> Result<i64> {
    if let Some(id) = cache.author(platform, &person.platform_id, person.name.as_deref()) {
        return Ok(id);
    }
    let id: i64 = sqlx::query_scalar(
        "insert into authors (platform, platform_id, name, first_seen_at) values ($1, $2, $3, $4) \
         on conflict (platform, platform_id) do update set name = coalesce(excluded.name, authors.name) \
         returning id",
    )
    .bind(platform.as_str())
    .bind(&person.platform_id)
    .bind(person.name.as_deref())
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    cache.remember_author(platform, &person.platform_id, person.name.as_deref(), id);
    Ok(id)
}

/// Returns the post's id and whether anything about it changed.
pub(super) async fn upsert_post(
    tx: &mut Tx<'_>,
    channel_id: i64,
    platform_id: &str,
    author_id: Option<i64>,
    text: Option<&str>,
    platform_time: Option<i64>,
    removed: bool,
) -> Result<(i64, bool)> {
    // A post another instance creates meanwhile is found on the second look.
    for _ in 0..2 {
        let existing = sqlx::query(
            "select id, text, removed, author_id from posts where channel_id = $1 and platform_id = $2",
        )
        .bind(channel_id)
        .bind(platform_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = existing {
            return update_post(tx, &row, author_id, text, removed).await;
        }
        let id: Option<i64> = sqlx::query_scalar(
            "insert into posts (channel_id, platform_id, author_id, text, platform_time, removed, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (channel_id, platform_id) do nothing returning id",
        )
        .bind(channel_id)
        .bind(platform_id)
        .bind(author_id)
        .bind(text)
        .bind(platform_time)
        .bind(removed as i64)
        .bind(now_ms())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = id {
            return Ok((id, true));
        }
    }
    Err(super::StoreError::Invalid(format!(
        "the post {platform_id} was neither found nor created; send it again"
    )))
}

/// Brings a stored post up to what arrived; returns its id and whether anything changed.
async fn update_post(
    tx: &mut Tx<'_>,
    row: &sqlx::any::AnyRow,
    author_id: Option<i64>,
    text: Option<&str>,
    removed: bool,
) -> Result<(i64, bool)> {
    let id: i64 = row.try_get("id")?;
    let old_text: Option<String> = row.try_get("text")?;
    let old_removed: i64 = row.try_get("removed")?;
    let old_author: Option<i64> = row.try_get("author_id")?;
    let text_changed = text.is_some() && text != old_text.as_deref();
    let removed_now = removed && old_removed == 0;
    let author_new = author_id.is_some() && old_author.is_none();
    if !(text_changed || removed_now || author_new) {
        return Ok((id, false));
    }
    sqlx::query(
        "update posts set text = coalesce($1, text), author_id = coalesce($2, author_id), \
         removed = case when $3 = 1 then 1 else removed end where id = $4",
    )
    .bind(text)
    .bind(author_id)
    .bind(removed as i64)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok((id, true))
}

#[allow(clippy::too_many_arguments)]
async fn upsert_conversation(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    channel_id: i64,
    kind: &str,
    thread_key: &str,
    person_id: Option<i64>,
    post_id: Option<i64>,
    first_direction: Direction,
) -> Result<i64> {
    let key = (channel_id, thread_key.to_string());
    if let Some(id) = cache.conversation(&key) {
        return Ok(id);
    }
    let existing: Option<i64> = sqlx::query_scalar(
        "select id from conversations where channel_id = $1 and thread_key = $2",
    )
    .bind(channel_id)
    .bind(thread_key)
    .fetch_optional(&mut **tx)
    .await?;
    let id = match existing {
        Some(id) => id,
        None => {
            // A thread the page started waits on the person; one the person started is open.
            let status = match first_direction {
                Direction::Inbound => ConversationStatus::Open,
                Direction::Outbound => ConversationStatus::Waiting,
            }
            .as_str();
            let now = now_ms();
            let inserted: Option<i64> = sqlx::query_scalar(
                "insert into conversations (channel_id, kind, thread_key, person_id, post_id, status, \
                 created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8) \
                 on conflict (channel_id, thread_key) do nothing returning id",
            )
            .bind(channel_id)
            .bind(kind)
            .bind(thread_key)
            .bind(person_id)
            .bind(post_id)
            .bind(status)
            .bind(now)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await?;
            match inserted {
                Some(id) => id,
                // Another instance created it meanwhile (and has committed: the insert waited).
                None => {
                    sqlx::query_scalar(
                        "select id from conversations where channel_id = $1 and thread_key = $2",
                    )
                    .bind(channel_id)
                    .bind(thread_key)
                    .fetch_one(&mut **tx)
                    .await?
                }
            }
        }
    };
    cache.conversations.insert(key, id);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_and_deletion_are_final_and_only_a_newer_hide_or_unhide_decides() {
        use Change::*;
        for newest in [true, false] {
            assert_eq!(state_after(Removed, "hidden", newest), "removed");
            assert_eq!(state_after(Deleted, "removed", newest), "deleted");
            assert_eq!(state_after(Unhidden, "removed", newest), "removed");
            assert_eq!(state_after(Hidden, "deleted", newest), "deleted");
            assert_eq!(state_after(Edited, "hidden", newest), "hidden");
        }
        assert_eq!(state_after(Hidden, "visible", true), "hidden");
        assert_eq!(state_after(Hidden, "visible", false), "visible");
        assert_eq!(state_after(Unhidden, "hidden", true), "visible");
        assert_eq!(state_after(Unhidden, "hidden", false), "hidden");
    }

    #[test]
    fn ties_go_to_the_change_received_later() {
        let decided = Decided {
            text_at: 1000,
            state_at: Some(2000),
        };
        assert!(decided.text_is_replaced_at(1000));
        assert!(!decided.text_is_replaced_at(999));
        assert!(decided.state_is_replaced_at(2000));
        assert!(!decided.state_is_replaced_at(1999));
        let never_changed = Decided {
            text_at: 0,
            state_at: None,
        };
        assert!(never_changed.state_is_replaced_at(i64::MIN));
    }
}
