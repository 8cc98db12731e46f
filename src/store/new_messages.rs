//! New messages applied many at a time. Most of what arrives is a person's new message, and most
//! of the rest the page's own replies written on the platform; a run of them costs one statement
//! per table (authors, conversations, messages, conversation counters, events) instead of five
//! or six statements per message, which is what lets the one group committer keep up with
//! sustained webhooks (issue 17). Everything else (changes, echoes of our own replies, reactions,
//! redeliveries) goes through `ingest::apply` one by one, in order.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use sqlx::Row;

use super::ingest::{apply, bounded, dm_thread_key, upsert_post, BatchCache, Limits, Outcome};
use super::moderation::FlagInput;
use super::{now_ms, Marks, Result, Tx};
use crate::model::{ConversationStatus, Direction, Inbound, MessageItem, Platform};

/// A conversation to create: channel, its key, its kind, the DM's author, the comment thread's
/// post, its status.
type NewConversationRow<'a> = (
    i64,
    &'a str,
    &'static str,
    Option<i64>,
    Option<i64>,
    &'static str,
);

/// A new inbound message waiting in the run, with what the run has learnt about it.
pub(super) struct NewInbound<'a> {
    /// Its place in the group, for its outcome.
    pub index: usize,
    pub channel_id: i64,
    pub inbound: &'a Inbound,
    pub message: &'a MessageItem,
    pub flag: Option<&'a FlagInput>,
}

/// Rows per multi-row statement, largest first: a run is cut into these sizes so that a handful
/// of statement texts serve every run (each is prepared once and cached by the connection).
const CHUNKS: [usize; 5] = [64, 32, 16, 4, 1];

/// Parameters per statement at most (beyond the sizes of one row). Numbered parameters (`$n`)
/// on SQLite are bound by asking SQLite each one's name, which it looks up in a list as long as
/// the statement's parameters: binding grew with the square of its parameters, and 64 messages
/// of 15 columns took more time binding than the statement saved (issue 17's profile). SQLite
/// is now given its parameters in order ([`Marks::InOrder`]), which binds without that lookup.
const MAX_PARAMS: usize = 256;

/// Cuts `n` rows of `cols` parameters each into chunk sizes from `CHUNKS`, each statement within
/// `MAX_PARAMS` (or one row).
fn chunks(mut n: usize, cols: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    for size in CHUNKS {
        if size > 1 && size * cols > MAX_PARAMS {
            continue;
        }
        while n >= size {
            sizes.push(size);
            n -= size;
        }
    }
    sizes
}

/// `($k+1, …, $k+cols), (…)` for `rows` rows: the placeholders of a multi-row VALUES list whose
/// first parameter is `$first` (or `?`s, on SQLite).
fn placeholders(marks: Marks, first: usize, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            marks.mark(first + r * cols + c, &mut out);
        }
        out.push(')');
    }
    out
}

/// A stable fingerprint of a person's display name, so a repeat sender with the same name
/// costs no statement (a name that changed is written).
pub(super) fn name_fingerprint(name: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    name.hash(&mut h);
    // 0 means "name not known".
    h.finish().max(1)
}

/// Applies the run (and empties it): new rows for the messages it could insert, `apply` for
/// the rest (a message already stored, or twice in the run), each outcome at its index.
pub(super) async fn apply_run(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    limits: &Limits,
    run: &mut Vec<NewInbound<'_>>,
    outcomes: &mut [Outcome],
) -> Result<()> {
    if run.is_empty() {
        return Ok(());
    }
    let items = std::mem::take(run);
    let authors = author_ids(tx, cache, &items).await?;
    let conversations = conversation_ids(tx, cache, &items, &authors).await?;
    let inserted = insert_messages(tx, limits, &items, &authors, &conversations).await?;

    let mut events = Vec::with_capacity(items.len());
    let mut notes: HashMap<i64, Vec<(Direction, i64)>> = HashMap::new();
    for (i, n) in items.iter().enumerate() {
        let Some(id) = inserted[i] else { continue };
        if let Some(flag) = n.flag {
            super::moderation::flag_message(tx, id, flag).await?;
        }
        let conversation = conversations[i];
        notes
            .entry(conversation)
            .or_default()
            .push((n.message.direction, n.message.platform_time));
        events.push((n.channel_id, conversation, id, n.message));
        let outcome = &mut outcomes[n.index];
        outcome.stored += 1;
        if n.message.direction == Direction::Inbound {
            outcome.new_messages += 1;
        }
    }
    note_new(tx, &notes).await?;
    append_arrived(tx, &events).await?;
    // Already stored (a redelivery, a creation after its first change) or twice in this run:
    // the one-by-one path knows what each of those means.
    for (n, id) in items.iter().zip(&inserted) {
        if id.is_none() {
            outcomes[n.index] = apply(tx, cache, limits, n.inbound, n.flag).await?;
        }
    }
    Ok(())
}

/// The author of each message: from the cache when known with the same name, else written in
/// one upsert per chunk (a name given later replaces an earlier one, as one by one).
async fn author_ids(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    items: &[NewInbound<'_>],
) -> Result<Vec<i64>> {
    // (platform, platform id) → the name to write (the last one given in the run).
    let mut wanted: Vec<(Platform, &str, Option<&str>)> = Vec::new();
    let mut at: HashMap<(Platform, &str), usize> = HashMap::new();
    for n in items {
        let person = &n.message.person;
        let platform = n.inbound.channel.platform;
        if cache
            .author(platform, &person.platform_id, person.name.as_deref())
            .is_some()
        {
            continue;
        }
        match at.get(&(platform, person.platform_id.as_str())) {
            Some(&i) => {
                if person.name.is_some() {
                    wanted[i].2 = person.name.as_deref();
                }
            }
            None => {
                at.insert((platform, person.platform_id.as_str()), wanted.len());
                wanted.push((platform, &person.platform_id, person.name.as_deref()));
            }
        }
    }
    // In one order on every instance, so two batches that share authors wait for each other
    // rather than deadlock on PostgreSQL.
    wanted.sort_unstable_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
    let now = now_ms();
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(wanted.len(), 4) {
        let part = &wanted[done..done + size];
        done += size;
        // A known author is written only when the message names them otherwise: rewriting an
        // unchanged row dirtied one page of the authors' table per message, each written to the
        // log and again by the checkpoint (issue 17). Rows left as they were are not returned,
        // so their ids are read after.
        let sql = format!(
            "insert into authors (platform, platform_id, name, first_seen_at) values {} \
             on conflict (platform, platform_id) do update set name = excluded.name \
             where excluded.name is not null and authors.name is distinct from excluded.name \
             returning id, platform, platform_id",
            placeholders(marks, 1, size, 4)
        );
        let mut q = sqlx::query(&sql);
        for (platform, id, name) in part {
            q = q.bind(platform.as_str()).bind(*id).bind(*name).bind(now);
        }
        let mut by_id: HashMap<(String, String), i64> = HashMap::with_capacity(part.len());
        for row in q.fetch_all(&mut **tx).await? {
            by_id.insert(
                (row.try_get("platform")?, row.try_get("platform_id")?),
                row.try_get("id")?,
            );
        }
        // Per platform, so the lookup walks the (platform, platform_id) index.
        let mut unwritten: HashMap<Platform, Vec<&str>> = HashMap::new();
        for (platform, id, _) in part {
            if !by_id.contains_key(&(platform.as_str().to_string(), id.to_string())) {
                unwritten.entry(*platform).or_default().push(id);
            }
        }
        for (platform, ids) in unwritten {
            let sql = format!(
                "select id, platform, platform_id from authors where platform = {} and platform_id in ({})",
                marks.one(1),
                marks.list(2, ids.len())
            );
            let mut q = sqlx::query(&sql).bind(platform.as_str());
            for id in &ids {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut **tx).await? {
                by_id.insert(
                    (row.try_get("platform")?, row.try_get("platform_id")?),
                    row.try_get("id")?,
                );
            }
        }
        for (platform, platform_id, name) in part {
            let key = (platform.as_str().to_string(), platform_id.to_string());
            let id = *by_id.get(&key).ok_or_else(|| {
                super::StoreError::Invalid(format!(
                    "the author {platform_id} was neither written nor found after its upsert"
                ))
            })?;
            cache.remember_author(*platform, platform_id, *name, id);
        }
    }
    items
        .iter()
        .map(|n| {
            let person = &n.message.person;
            cache
                .author(n.inbound.channel.platform, &person.platform_id, None)
                .ok_or_else(|| {
                    super::StoreError::Invalid(format!(
                        "the author {} is unknown after its upsert",
                        person.platform_id
                    ))
                })
        })
        .collect()
}

/// The thread of each message: its direct-message thread with the person, or the comment
/// thread of its post. Looked up per channel in one select, the missing ones created together.
async fn conversation_ids(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    items: &[NewInbound<'_>],
    authors: &[i64],
) -> Result<Vec<i64>> {
    let keys: Vec<(i64, String)> = items
        .iter()
        .map(|n| {
            let key = if n.message.kind.is_direct() {
                dm_thread_key(&n.message.person)
            } else {
                format!("post:{}", n.message.post_id.as_deref().unwrap_or("unknown"))
            };
            (n.channel_id, key)
        })
        .collect();
    // Missing from the cache, once each, with the message that first names it.
    let mut missing: Vec<usize> = Vec::new();
    let mut seen: HashMap<&(i64, String), ()> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if cache.conversation(key).is_none() && seen.insert(key, ()).is_none() {
            missing.push(i);
        }
    }
    let found = existing_conversations(tx, &keys, &missing).await?;
    let mut to_create = Vec::new();
    for &i in &missing {
        match found.get(&keys[i]) {
            Some(&id) => cache.remember_conversation(keys[i].clone(), id),
            None => to_create.push(i),
        }
    }
    create_conversations(tx, cache, items, authors, &keys, &to_create).await?;
    keys.iter()
        .map(|key| {
            cache.conversation(key).ok_or_else(|| {
                super::StoreError::Invalid(format!("the conversation {} is unknown", key.1))
            })
        })
        .collect()
}

/// Which of the `missing` keys are stored already, per channel in chunks.
async fn existing_conversations(
    tx: &mut Tx<'_>,
    keys: &[(i64, String)],
    missing: &[usize],
) -> Result<HashMap<(i64, String), i64>> {
    let mut per_channel: HashMap<i64, Vec<&str>> = HashMap::new();
    for &i in missing {
        per_channel.entry(keys[i].0).or_default().push(&keys[i].1);
    }
    let mut found = HashMap::new();
    let marks = Marks::of(tx);
    for (channel_id, threads) in per_channel {
        let mut done = 0;
        for size in chunks(threads.len(), 1) {
            let part = &threads[done..done + size];
            done += size;
            let list = marks.list(2, size);
            let sql = format!(
                "select id, thread_key from conversations where channel_id = {} and thread_key in ({list})",
                marks.one(1)
            );
            let mut q = sqlx::query(&sql).bind(channel_id);
            for t in part {
                q = q.bind(*t);
            }
            for row in q.fetch_all(&mut **tx).await? {
                found.insert((channel_id, row.try_get("thread_key")?), row.try_get("id")?);
            }
        }
    }
    Ok(found)
}

/// Creates the conversations at `to_create` (open: a person started them), their posts first.
async fn create_conversations(
    tx: &mut Tx<'_>,
    cache: &mut BatchCache,
    items: &[NewInbound<'_>],
    authors: &[i64],
    keys: &[(i64, String)],
    to_create: &[usize],
) -> Result<()> {
    // (channel, thread key, kind, person, post)
    let mut rows: Vec<NewConversationRow> = Vec::new();
    for &i in to_create {
        let n = &items[i];
        // A thread the page started waits on the person; one the person started is open.
        let status = match n.message.direction {
            Direction::Inbound => ConversationStatus::Open,
            Direction::Outbound => ConversationStatus::Waiting,
        }
        .as_str();
        let row = if n.message.kind.is_direct() {
            (
                n.channel_id,
                keys[i].1.as_str(),
                "dm",
                Some(authors[i]),
                None,
                status,
            )
        } else {
            let post = match &n.message.post_id {
                Some(post) => Some(
                    upsert_post(tx, n.channel_id, post, None, None, None, false)
                        .await?
                        .0,
                ),
                None => None,
            };
            (
                n.channel_id,
                keys[i].1.as_str(),
                "comments",
                None,
                post,
                status,
            )
        };
        rows.push(row);
    }
    rows.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let now = now_ms();
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(rows.len(), 8) {
        let part = &rows[done..done + size];
        done += size;
        let sql = format!(
            "insert into conversations (channel_id, thread_key, kind, person_id, post_id, status, \
             created_at, updated_at) values {} on conflict (channel_id, thread_key) do nothing \
             returning id, channel_id, thread_key",
            placeholders(marks, 1, size, 8)
        );
        let mut q = sqlx::query(&sql);
        for (channel_id, key, kind, person, post, status) in part {
            q = q
                .bind(*channel_id)
                .bind(*key)
                .bind(*kind)
                .bind(*person)
                .bind(*post)
                .bind(*status)
                .bind(now)
                .bind(now);
        }
        for row in q.fetch_all(&mut **tx).await? {
            cache.remember_conversation(
                (row.try_get("channel_id")?, row.try_get("thread_key")?),
                row.try_get("id")?,
            );
        }
    }
    // Those another instance created meanwhile (its insert committed before ours went on).
    let raced: Vec<usize> = to_create
        .iter()
        .copied()
        .filter(|&i| cache.conversation(&keys[i]).is_none())
        .collect();
    for (key, id) in existing_conversations(tx, keys, &raced).await? {
        cache.remember_conversation(key, id);
    }
    Ok(())
}

/// Inserts the messages; the id of each one inserted, None for one already stored (or the
/// second of two with the same platform id in the run).
async fn insert_messages(
    tx: &mut Tx<'_>,
    limits: &Limits,
    items: &[NewInbound<'_>],
    authors: &[i64],
    conversations: &[i64],
) -> Result<Vec<Option<i64>>> {
    let now = now_ms();
    let mut ids: HashMap<(i64, String), i64> = HashMap::with_capacity(items.len());
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(items.len(), 15) {
        let sql = format!(
            "insert into messages (conversation_id, channel_id, kind, direction, platform_id, author_id, \
             text, attachments, parent_platform_id, extra, state, edited, platform_time, received_at, raw) \
             values {} on conflict (channel_id, platform_id) do nothing returning id, channel_id, platform_id",
            placeholders(marks, 1, size, 15)
        );
        let mut q = sqlx::query(&sql);
        for i in done..done + size {
            let m = items[i].message;
            q = q
                .bind(conversations[i])
                .bind(items[i].channel_id)
                .bind(m.kind.as_str())
                .bind(m.direction.as_str())
                .bind(m.platform_id.as_str())
                .bind(authors[i])
                .bind(m.text.as_deref().map(|t| bounded(t, limits.max_text_chars)))
                .bind(serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into()))
                .bind(m.parent_id.as_deref())
                .bind(m.extra.as_ref().map(|v| v.to_string()))
                .bind("visible")
                .bind(0i64)
                .bind(m.platform_time)
                .bind(now)
                .bind(items[i].inbound.raw.to_string());
        }
        done += size;
        for row in q.fetch_all(&mut **tx).await? {
            ids.insert(
                (row.try_get("channel_id")?, row.try_get("platform_id")?),
                row.try_get("id")?,
            );
        }
    }
    // The first message of the run with a key was the one inserted.
    Ok(items
        .iter()
        .map(|n| ids.remove(&(n.channel_id, n.message.platform_id.clone())))
        .collect())
}

/// One step of a conversation's counters and clocks: inbound messages at one platform time (how
/// many), or one outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Inbound { at: i64, count: i64 },
    Outbound { at: i64 },
}

/// Each conversation's steps, in the run's order: what one `note_message` per message would do.
/// Inbound messages commute with each other (the clocks are minima and maxima, the count a sum),
/// so a stretch of them becomes one step per distinct time; an outbound message does not commute
/// with inbound ones (it answers only what came before it), so it stays where it came.
fn steps(notes: &[(Direction, i64)]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut stretch: Vec<i64> = Vec::new();
    let flush = |stretch: &mut Vec<i64>, steps: &mut Vec<Step>| {
        stretch.sort_unstable();
        let mut i = 0;
        while i < stretch.len() {
            let same = stretch[i..]
                .iter()
                .take_while(|&&t| t == stretch[i])
                .count();
            steps.push(Step::Inbound {
                at: stretch[i],
                count: same as i64,
            });
            i += same;
        }
        stretch.clear();
    };
    for &(direction, at) in notes {
        match direction {
            Direction::Inbound => stretch.push(at),
            Direction::Outbound => {
                flush(&mut stretch, &mut steps);
                steps.push(Step::Outbound { at });
            }
        }
    }
    flush(&mut stretch, &mut steps);
    steps
}

/// The conversations' counters and clocks after new messages (as `note_message` does for one).
/// Applying the k-th step of every conversation together, then the next, gives what one update
/// per message would: each conversation's steps are applied in turn, none twice.
async fn note_new(tx: &mut Tx<'_>, notes: &HashMap<i64, Vec<(Direction, i64)>>) -> Result<()> {
    let mut layers: Vec<Vec<(i64, Step)>> = Vec::new();
    for (&conversation, notes) in notes {
        for (k, step) in steps(notes).into_iter().enumerate() {
            if layers.len() <= k {
                layers.push(Vec::new());
            }
            layers[k].push((conversation, step));
        }
    }
    let now = now_ms();
    for layer in layers {
        // By conversation, so batches of two instances lock shared rows in one order.
        let mut inbound: Vec<(i64, i64, i64)> = Vec::new();
        let mut outbound: Vec<(i64, i64)> = Vec::new();
        for (conversation, step) in layer {
            match step {
                Step::Inbound { at, count } => inbound.push((conversation, at, count)),
                Step::Outbound { at } => outbound.push((conversation, at)),
            }
        }
        inbound.sort_unstable();
        outbound.sort_unstable();
        note_inbound_layer(tx, &inbound, now).await?;
        note_outbound_layer(tx, &outbound, now).await?;
    }
    Ok(())
}

/// Inbound steps of distinct conversations: (conversation, platform time, how many).
async fn note_inbound_layer(tx: &mut Tx<'_>, layer: &[(i64, i64, i64)], now: i64) -> Result<()> {
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(layer.len(), 3) {
        let part = &layer[done..done + size];
        done += size;
        // Unanswered only if no reply of ours is newer (webhooks may arrive out of order).
        let sql = format!(
            "update conversations set \
               status = 'open', \
               oldest_unanswered_at = case \
                 when last_outbound_at is not null and last_outbound_at >= v.column2 then oldest_unanswered_at \
                 when oldest_unanswered_at is null or oldest_unanswered_at > v.column2 then v.column2 \
                 else oldest_unanswered_at end, \
               last_inbound_at = case when last_inbound_at is null or last_inbound_at < v.column2 then v.column2 else last_inbound_at end, \
               last_message_at = case when last_message_at is null or last_message_at < v.column2 then v.column2 else last_message_at end, \
               message_count = message_count + v.column3, updated_at = {} \
             from (values {}) as v where conversations.id = v.column1",
            marks.one(1),
            placeholders(marks, 2, size, 3)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for (conversation, t, count) in part {
            q = q.bind(*conversation).bind(*t).bind(*count);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Outbound steps of distinct conversations: (conversation, platform time). The page's message
/// stops the clock for everything it answers, as `note_message` does for one.
async fn note_outbound_layer(tx: &mut Tx<'_>, layer: &[(i64, i64)], now: i64) -> Result<()> {
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(layer.len(), 2) {
        let part = &layer[done..done + size];
        done += size;
        let sql = format!(
            "update conversations set \
               oldest_unanswered_at = case when oldest_unanswered_at is not null and oldest_unanswered_at <= v.column2 then null \
                 else oldest_unanswered_at end, \
               last_outbound_at = case when last_outbound_at is null or last_outbound_at < v.column2 then v.column2 else last_outbound_at end, \
               last_message_at = case when last_message_at is null or last_message_at < v.column2 then v.column2 else last_message_at end, \
               message_count = message_count + 1, updated_at = {} \
             from (values {}) as v where conversations.id = v.column1",
            marks.one(1),
            placeholders(marks, 2, size, 2)
        );
        let mut q = sqlx::query(&sql).bind(now);
        for (conversation, t) in part {
            q = q.bind(*conversation).bind(*t);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `message.received` for each new message of a person, `message.sent` for each of the page's,
/// in the run's order.
async fn append_arrived(tx: &mut Tx<'_>, events: &[(i64, i64, i64, &MessageItem)]) -> Result<()> {
    let now = now_ms();
    let marks = Marks::of(tx);
    let mut done = 0;
    for size in chunks(events.len(), 6) {
        let part = &events[done..done + size];
        done += size;
        let sql = format!(
            "insert into events (kind, channel_id, conversation_id, message_id, payload, created_at) values {}",
            placeholders(marks, 1, size, 6)
        );
        let mut q = sqlx::query(&sql);
        for (channel_id, conversation_id, message_id, m) in part {
            let payload =
                serde_json::json!({"kind": m.kind, "state": "visible", "change": m.change});
            let kind = match m.direction {
                Direction::Inbound => super::events::EventKind::MessageReceived,
                Direction::Outbound => super::events::EventKind::MessageSent,
            };
            q = q
                .bind(kind.as_str())
                .bind(*channel_id)
                .bind(*conversation_id)
                .bind(*message_id)
                .bind(payload.to_string())
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_cut_into_few_statement_sizes() {
        assert_eq!(chunks(0, 4), Vec::<usize>::new());
        assert_eq!(chunks(1, 4), vec![1]);
        assert_eq!(chunks(300, 4), vec![64, 64, 64, 64, 32, 4, 4, 4]);
        assert_eq!(chunks(1024, 4).iter().sum::<usize>(), 1024);
        assert!(chunks(63, 4).len() <= 9);
        // Wide rows come in smaller statements: binding grows with the square of the parameters.
        assert_eq!(chunks(40, 15), vec![16, 16, 4, 4]);
        assert!(chunks(1000, 15).iter().all(|&size| size * 15 <= MAX_PARAMS));
        assert_eq!(chunks(3, 300), vec![1, 1, 1]);
    }

    #[test]
    fn inbound_steps_merge_by_time_and_an_outbound_step_keeps_its_place() {
        use Direction::{Inbound as In, Outbound as Out};
        assert_eq!(
            steps(&[(In, 8), (In, 3), (In, 8)]),
            vec![
                Step::Inbound { at: 3, count: 1 },
                Step::Inbound { at: 8, count: 2 }
            ]
        );
        // The reply at 5 answers both messages before it, not one that comes after it.
        assert_eq!(
            steps(&[(In, 3), (In, 8), (Out, 5), (In, 9), (Out, 4)]),
            vec![
                Step::Inbound { at: 3, count: 1 },
                Step::Inbound { at: 8, count: 1 },
                Step::Outbound { at: 5 },
                Step::Inbound { at: 9, count: 1 },
                Step::Outbound { at: 4 },
            ]
        );
        assert_eq!(steps(&[]), Vec::<Step>::new());
    }

    #[test]
    fn placeholders_number_rows_in_order() {
        let numbered = Marks::Numbered;
        assert_eq!(
            placeholders(numbered, 2, 2, 3),
            "($2, $3, $4), ($5, $6, $7)"
        );
        assert_eq!(placeholders(numbered, 1, 1, 1), "($1)");
        assert_eq!(placeholders(Marks::InOrder, 2, 2, 2), "(?, ?), (?, ?)");
    }
}
