//! Records of a person and their disposal: legal holds, stable pseudonyms, the records retention
//! and erasure look at, and the two ways a record is disposed of (deleted, or pseudonymised).
//! Each disposal writes an event (ids only) so the search index and FAQ forget or follow it.

use rand::RngCore;
use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::{now_ms, Result, Store, StoreError, Tx};

/// A message as retention and erasure see it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordState {
    pub message_id: i64,
    pub conversation_id: i64,
    pub platform: String,
    pub message_kind: String,
    pub direction: String,
    pub author_id: Option<i64>,
    /// null, or "pseudonymised".
    pub disposal: Option<String>,
    pub status: String,
    pub resolved_at: Option<i64>,
    /// The latest closing of a moderation case about the message.
    pub case_closed_at: Option<i64>,
    pub open_cases: i64,
    pub holds: i64,
}

const RECORD_SELECT: &str = "select m.id, m.conversation_id, ch.platform, m.kind, m.direction, m.author_id, m.disposal, \
     c.status, c.resolved_at, \
     (select max(k.closed_at) from moderation_cases k where k.message_id = m.id) as case_closed_at, \
     (select count(*) from moderation_cases k where k.message_id = m.id and k.status = 'open') as open_cases, \
     (select count(*) from legal_holds h where h.lifted_at is null and ( \
        (h.scope = 'message' and h.target_id = m.id) \
        or (h.scope = 'conversation' and h.target_id = m.conversation_id) \
        or (h.scope = 'author' and (h.target_id = m.author_id or h.target_id = c.person_id)))) as holds \
     from messages m join conversations c on c.id = m.conversation_id join channels ch on ch.id = m.channel_id";

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<RecordState> {
    Ok(RecordState {
        message_id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        platform: r.try_get("platform")?,
        message_kind: r.try_get("kind")?,
        direction: r.try_get("direction")?,
        author_id: r.try_get("author_id")?,
        disposal: r.try_get("disposal")?,
        status: r.try_get("status")?,
        resolved_at: r.try_get("resolved_at")?,
        case_closed_at: r.try_get("case_closed_at")?,
        open_cases: r.try_get("open_cases")?,
        holds: r.try_get("holds")?,
    })
}

/// A person who wrote to a channel, as stored (one per platform).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Author)]
pub struct AuthorRow {
    pub id: i64,
    #[schema(schema_with = crate::described::platform)]
    pub platform: String,
    pub platform_id: String,
    pub name: Option<String>,
    #[schema(schema_with = crate::described::timestamp)]
    pub first_seen_at: i64,
    /// Messages they wrote that are stored.
    pub messages: i64,
}

/// A legal hold: records kept past every retention rule and erasure request until lifted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LegalHold {
    pub id: i64,
    #[schema(schema_with = hold_scope)]
    pub scope: String,
    /// The message's, conversation's or author's id.
    pub target_id: i64,
    pub reason: String,
    pub placed_by: String,
    #[schema(schema_with = crate::described::timestamp)]
    pub placed_at: i64,
    pub lifted_by: Option<String>,
    #[schema(schema_with = lifted_at)]
    pub lifted_at: Option<i64>,
}

/// What a hold covers, for the API description.
fn hold_scope() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["message", "conversation", "author"]))
        .build()
}

/// When a hold was lifted (null while in force), for the API description.
fn lifted_at() -> utoipa::openapi::Schema {
    utoipa::openapi::OneOfBuilder::new()
        .item(crate::described::timestamp())
        .item(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null),
        )
        .build()
        .into()
}

/// What to do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dispose {
    Delete,
    Pseudonymise,
}

/// How a kept record's words are masked: the privacy capability decides (which personal data,
/// how it is replaced); the store only writes the result.
pub type Mask<'a> = &'a (dyn Fn(&str) -> String + Sync);

/// Why records are being disposed of, for the event and the audit row, and how a pseudonymised
/// record's words are masked.
pub struct Disposal<'a> {
    pub reason: &'a str,
    pub audit_action: &'a str,
    pub audit_target: Option<String>,
    pub audit_detail: serde_json::Value,
    pub mask: Mask<'a>,
}

impl Store {
    /// Records of resolved conversations resolved at or before `resolved_before`, in id order.
    pub async fn retention_records(
        &self,
        resolved_before: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RecordState>> {
        let rows = sqlx::query(&format!(
            "{RECORD_SELECT} where c.status = 'resolved' and c.resolved_at <= $1 and m.id > $2 \
             order by m.id limit $3"
        ))
        .bind(resolved_before)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Every record about one author: what they wrote, and the whole of their DM conversations.
    pub async fn author_records(&self, author_id: i64) -> Result<Vec<RecordState>> {
        let rows = sqlx::query(&format!(
            "{RECORD_SELECT} where m.author_id = $1 or (c.kind = 'dm' and c.person_id = $2) order by m.id"
        ))
        .bind(author_id)
        .bind(author_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// The authors with this platform id (on any platform), never pseudonyms.
    pub async fn authors_by_platform_id(&self, platform_id: &str) -> Result<Vec<AuthorRow>> {
        let rows = sqlx::query(
            "select a.id, a.platform, a.platform_id, a.name, a.first_seen_at, \
             (select count(*) from messages m where m.author_id = a.id) as messages \
             from authors a where a.platform_id = $1 order by a.id",
        )
        .bind(platform_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(author_from_row).collect()
    }

    /// Authors whose name contains `name` (case-insensitive), for finding a person's platform id.
    pub async fn find_authors(&self, name: &str, limit: i64) -> Result<Vec<AuthorRow>> {
        let pattern = format!(
            "%{}%",
            name.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(
            "select a.id, a.platform, a.platform_id, a.name, a.first_seen_at, \
             (select count(*) from messages m where m.author_id = a.id) as messages \
             from authors a where lower(a.name) like $1 escape '\\' \
             and a.platform_id not like 'pseudonym:%' order by a.name, a.id limit $2",
        )
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(author_from_row).collect()
    }

    pub async fn place_hold(
        &self,
        scope: &str,
        targets: &[i64],
        reason: &str,
        actor: &Actor,
    ) -> Result<Vec<i64>> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::new();
        for target in targets {
            let id: i64 = sqlx::query_scalar(
                "insert into legal_holds (scope, target_id, reason, placed_by, placed_at) \
                 values ($1, $2, $3, $4, $5) returning id",
            )
            .bind(scope)
            .bind(target)
            .bind(reason)
            .bind(&actor.name)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await?;
            // The reason is the staff's own words about a matter, not message text.
            record(
                &mut tx,
                actor,
                "legal_hold.placed",
                Some(&format!("legal_hold:{id}")),
                serde_json::json!({"scope": scope, "target_id": target}),
            )
            .await?;
            ids.push(id);
        }
        self.commit(tx).await?;
        Ok(ids)
    }

    /// Lifts a hold; false when there is no such hold or it was lifted already.
    pub async fn lift_hold(&self, id: i64, actor: &Actor) -> Result<bool> {
        let mut tx = self.begin().await?;
        let lifted = sqlx::query(
            "update legal_holds set lifted_by = $1, lifted_at = $2 where id = $3 and lifted_at is null",
        )
        .bind(&actor.name)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if lifted {
            record(
                &mut tx,
                actor,
                "legal_hold.lifted",
                Some(&format!("legal_hold:{id}")),
                serde_json::json!({}),
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(lifted)
    }

    pub async fn holds(&self, include_lifted: bool) -> Result<Vec<LegalHold>> {
        let rows = sqlx::query(
            "select id, scope, target_id, reason, placed_by, placed_at, lifted_by, lifted_at \
             from legal_holds where lifted_at is null or $1 = 1 order by id",
        )
        .bind(include_lifted as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LegalHold {
                    id: r.try_get("id")?,
                    scope: r.try_get("scope")?,
                    target_id: r.try_get("target_id")?,
                    reason: r.try_get("reason")?,
                    placed_by: r.try_get("placed_by")?,
                    placed_at: r.try_get("placed_at")?,
                    lifted_by: r.try_get("lifted_by")?,
                    lifted_at: r.try_get("lifted_at")?,
                })
            })
            .collect()
    }

    /// Disposes of records in one transaction with one audit row. Records already in the asked
    /// state are skipped, so a repeated call changes nothing. Returns (deleted, pseudonymised).
    pub async fn dispose(
        &self,
        items: &[(i64, Dispose)],
        why: Disposal<'_>,
        actor: &Actor,
    ) -> Result<(i64, i64)> {
        let mut tx = self.begin().await?;
        let (mut deleted, mut pseudonymised) = (0, 0);
        let mut authors = Vec::new();
        for (id, action) in items {
            // A message disposed of twice at once (two runs, an erasure beside retention) is
            // counted and logged once: the second finds it gone or marked.
            super::lock_row(&mut tx, "messages", *id).await?;
            let row = sqlx::query(
                "select m.conversation_id, m.channel_id, m.author_id, m.disposal \
                 from messages m where m.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { continue };
            let conversation_id: i64 = row.try_get("conversation_id")?;
            let channel_id: i64 = row.try_get("channel_id")?;
            let author_id: Option<i64> = row.try_get("author_id")?;
            let disposal: Option<String> = row.try_get("disposal")?;
            authors.extend(author_id);
            match action {
                Dispose::Delete => {
                    delete_message(&mut tx, *id, conversation_id).await?;
                    deleted += 1;
                }
                Dispose::Pseudonymise if disposal.is_none() => {
                    pseudonymise_message(&mut tx, *id, conversation_id, author_id, why.mask)
                        .await?;
                    pseudonymised += 1;
                }
                Dispose::Pseudonymise => continue,
            }
            append(
                &mut tx,
                NewEvent {
                    kind: match action {
                        Dispose::Delete => EventKind::MessageErased,
                        Dispose::Pseudonymise => EventKind::MessagePseudonymised,
                    },
                    channel_id: Some(channel_id),
                    conversation_id: Some(conversation_id),
                    message_id: Some(*id),
                    payload: serde_json::json!({"reason": why.reason}),
                },
            )
            .await?;
        }
        let mut detail = why.audit_detail;
        detail["deleted"] = deleted.into();
        detail["pseudonymised"] = pseudonymised.into();
        record(
            &mut tx,
            actor,
            why.audit_action,
            why.audit_target.as_deref(),
            detail,
        )
        .await?;
        self.commit(tx).await?;
        Ok((deleted, pseudonymised))
    }

    /// After an erasure: the author's reactions go, and the author row itself (and its
    /// pseudonym link) when nothing refers to it any more. Returns whether the author went.
    pub async fn forget_author(&self, author_id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        // Ingestion names the author by upserting its row, so holding the row first means the
        // count below sees every message committed by then, and a later one recreates the row.
        super::lock_row(&mut tx, "authors", author_id).await?;
        sqlx::query("delete from reactions where author_id = $1")
            .bind(author_id)
            .execute(&mut *tx)
            .await?;
        let used: i64 = sqlx::query_scalar(
            "select (select count(*) from messages where author_id = $1) \
             + (select count(*) from conversations where person_id = $2) \
             + (select count(*) from posts where author_id = $3)",
        )
        .bind(author_id)
        .bind(author_id)
        .bind(author_id)
        .fetch_one(&mut *tx)
        .await?;
        let gone = used == 0;
        if gone {
            sqlx::query("delete from pseudonyms where author_id = $1")
                .bind(author_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from authors where id = $1")
                .bind(author_id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(gone)
    }

    pub async fn record_retention_run(
        &self,
        started_at: i64,
        clock: i64,
        counts: (i64, i64, i64),
        other: &super::sweep::OtherCounts,
        actor: &Actor,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into retention_runs (started_at, clock, dry_run, actor, erased, pseudonymised, kept, finished_at) \
             values ($1, $2, 0, $3, $4, $5, $6, $7) returning id",
        )
        .bind(started_at)
        .bind(clock)
        .bind(&actor.name)
        .bind(counts.0)
        .bind(counts.1)
        .bind(counts.2)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "retention.run",
            Some(&format!("retention_run:{id}")),
            serde_json::json!({"clock": clock, "deleted": counts.0, "pseudonymised": counts.1, "kept": counts.2, "other": other}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(id)
    }
}

fn author_from_row(r: &sqlx::any::AnyRow) -> Result<AuthorRow> {
    Ok(AuthorRow {
        id: r.try_get("id")?,
        platform: r.try_get("platform")?,
        platform_id: r.try_get("platform_id")?,
        name: r.try_get("name")?,
        first_seen_at: r.try_get("first_seen_at")?,
        messages: r.try_get("messages")?,
    })
}

/// Deletes a message with everything that holds its words: revisions, triage flags, moderation
/// cases with their evidence and steps (their period has run too), outbox rows, FAQ moves and
/// placements.
/// A conversation left without messages goes as well.
async fn delete_message(tx: &mut Tx<'_>, id: i64, conversation_id: i64) -> Result<()> {
    for sql in [
        "delete from evidence where message_id = $1",
        "delete from moderation_steps where case_id in (select id from moderation_cases where message_id = $1)",
        "delete from on_call_alerts where case_id in (select id from moderation_cases where message_id = $1)",
        "delete from moderation_cases where message_id = $1",
        "delete from message_flags where message_id = $1",
        "delete from message_revisions where message_id = $1",
        "delete from outbox where message_id = $1",
        "delete from faq_moves where message_id = $1",
        "delete from faq_members where message_id = $1",
        "delete from messages where id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    sqlx::query(
        "update conversations set message_count = message_count - 1 where id = $1 and message_count > 0",
    )
    .bind(conversation_id)
    .execute(&mut **tx)
    .await?;
    let left: i64 = sqlx::query_scalar("select count(*) from messages where conversation_id = $1")
        .bind(conversation_id)
        .fetch_one(&mut **tx)
        .await?;
    let cases: i64 =
        sqlx::query_scalar("select count(*) from moderation_cases where conversation_id = $1")
            .bind(conversation_id)
            .fetch_one(&mut **tx)
            .await?;
    if left == 0 && cases == 0 {
        // Staff's notes, handovers and categories go with the conversation: they were about what is now
        // disposed of (and a handover's row would otherwise hold the conversation's key).
        for sql in [
            "delete from conversation_notes where conversation_id = $1",
            "delete from handovers where conversation_id = $1",
            "delete from conversation_categories where conversation_id = $1",
        ] {
            sqlx::query(sql)
                .bind(conversation_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("delete from conversations where id = $1")
            .bind(conversation_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Keeps the record with its personal data masked and its author replaced by the author's
/// pseudonym. Evidence copies, triage findings and delivered outbox payloads hold the words
/// unmasked, so they go; the case itself (level, steps, decision) stays.
async fn pseudonymise_message(
    tx: &mut Tx<'_>,
    id: i64,
    conversation_id: i64,
    author_id: Option<i64>,
    mask: Mask<'_>,
) -> Result<()> {
    let text: Option<String> = sqlx::query_scalar("select text from messages where id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let pseudonym = match author_id {
        Some(a) => Some(pseudonym_for(tx, a).await?),
        None => None,
    };
    sqlx::query(
        "update messages set text = $1, raw = null, extra = null, attachments = '[]', \
         author_id = $2, disposal = 'pseudonymised', disposed_at = $3 where id = $4",
    )
    .bind(text.map(|t| mask(&t)))
    .bind(pseudonym.or(author_id))
    .bind(now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let revisions = sqlx::query("select id, text from message_revisions where message_id = $1")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    for r in revisions {
        let rid: i64 = r.try_get("id")?;
        let text: Option<String> = r.try_get("text")?;
        sqlx::query("update message_revisions set text = $1, raw = null where id = $2")
            .bind(text.map(|t| mask(&t)))
            .bind(rid)
            .execute(&mut **tx)
            .await?;
    }
    for sql in [
        "delete from evidence where message_id = $1",
        "delete from message_flags where message_id = $1",
        "delete from outbox where message_id = $1 and status in ('sent', 'failed')",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    mask_notes(tx, conversation_id, mask).await?;
    // A DM conversation names its person (and its thread key carries their platform id): once
    // nothing of theirs in it is whole, it names the pseudonym instead.
    if let (Some(author), Some(pseudonym)) = (author_id, pseudonym) {
        let whole: i64 = sqlx::query_scalar(
            "select count(*) from messages where conversation_id = $1 and author_id = $2 and disposal is null",
        )
        .bind(conversation_id)
        .bind(author)
        .fetch_one(&mut **tx)
        .await?;
        if whole == 0 {
            sqlx::query(
                "update conversations set person_id = $1, \
                 thread_key = 'dm:' || (select platform_id from authors where id = $2) \
                 where id = $3 and person_id = $4 and kind = 'dm'",
            )
            .bind(pseudonym)
            .bind(pseudonym)
            .bind(conversation_id)
            .bind(author)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// Staff's notes are staff's words and stay with the kept conversation, but personal data the
/// person gave (numbers, addresses) is masked in them as in the person's own messages.
async fn mask_notes(tx: &mut Tx<'_>, conversation_id: i64, mask: Mask<'_>) -> Result<()> {
    let notes = sqlx::query("select id, text from conversation_notes where conversation_id = $1")
        .bind(conversation_id)
        .fetch_all(&mut **tx)
        .await?;
    for n in notes {
        let (id, text): (i64, String) = (n.try_get("id")?, n.try_get("text")?);
        let masked = mask(&text);
        if masked != text {
            sqlx::query("update conversation_notes set text = $1 where id = $2")
                .bind(masked)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// The author's pseudonym: a stable stand-in author, created on first use. Random, so it cannot
/// be recomputed from the platform id; already a pseudonym stays itself.
async fn pseudonym_for(tx: &mut Tx<'_>, author_id: i64) -> Result<i64> {
    // One pseudonym per author, also when two instances pseudonymise the same author at once.
    super::lock_row(tx, "authors", author_id).await?;
    let row = sqlx::query("select platform, platform_id from authors where id = $1")
        .bind(author_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no author {author_id}")))?;
    let platform: String = row.try_get("platform")?;
    let platform_id: String = row.try_get("platform_id")?;
    if platform_id.starts_with("pseudonym:") {
        return Ok(author_id);
    }
    let existing: Option<i64> =
        sqlx::query_scalar("select pseudonym_author_id from pseudonyms where author_id = $1")
            .bind(author_id)
            .fetch_optional(&mut **tx)
            .await?;
    if let Some(p) = existing {
        return Ok(p);
    }
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    let tag = hex::encode(bytes);
    let id: i64 = sqlx::query_scalar(
        "insert into authors (platform, platform_id, name, first_seen_at) values ($1, $2, $3, $4) returning id",
    )
    .bind(platform)
    .bind(format!("pseudonym:{tag}"))
    .bind(format!("Person {}", &tag[..6]))
    .bind(now_ms())
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "insert into pseudonyms (author_id, pseudonym_author_id, created_at) values ($1, $2, $3)",
    )
    .bind(author_id)
    .bind(id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// The current text of a message, for an audited reveal of one value: only if the reader may
    /// read it (kind, channel, state and the S5 rule).
    pub async fn message_text(
        &self,
        scope: &super::scope::ReadScope,
        id: i64,
    ) -> Result<Option<String>> {
        let Some((filter, args)) = scope.where_readable("c.kind", "m.channel_id", |a| {
            format!("m.id = {}", a.int(id))
        }) else {
            return Ok(None);
        };
        let sql = format!(
            "select m.text from messages m join conversations c on c.id = m.conversation_id \
             where {filter} and {}",
            scope.readable_message("m")
        );
        let text: Option<Option<String>> = args
            .bind_scalar(sqlx::query_scalar(&sql))
            .fetch_optional(&self.pool)
            .await?;
        Ok(text.flatten())
    }
}
