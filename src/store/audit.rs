//! The audit trail: append-only, each entry chained to the previous one by a SHA-256 hash, and
//! written in the same transaction as the action it records.
//!
//! Entries of their own (a read, a sign-in: `Store::audit`) are group-committed: one writer per
//! store takes every entry waiting and appends them, in order, in one transaction, and each
//! caller is answered only once the transaction holding its entry has committed. A search costs
//! one share of a commit instead of a commit, while every read stays on the trail before it is
//! answered. A crash loses only entries whose requests were still waiting, and so were never
//! answered: nothing shown goes unrecorded.

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::{now_ms, Backend, Result, Store, StoreError, Tx};

/// Who did something, from where.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub staff_id: Option<i64>,
    pub name: String,
    pub address: Option<String>,
}

impl Actor {
    /// The command line, run by whoever operates the server.
    pub fn command_line() -> Actor {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Actor {
            staff_id: None,
            name: format!("cli:{user}"),
            address: None,
        }
    }
}

/// One entry of the append-only audit trail. Each entry's `hash` chains it to the previous one
/// (SHA-256), so a changed or removed entry is detected by `tavla audit verify`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Increasing; use the last one seen as `before` for the next page.
    pub id: i64,
    /// When it was recorded. Milliseconds since the Unix epoch.
    pub at: i64,
    /// The staff id of who did it; null for the command line, for failed sign-ins, for the old
    /// session ended (`session.rotated`) at a sign-in, and for triage (`tavla:triage`).
    pub actor_id: Option<i64>,
    /// Who did it: a username, `cli:USER` for the command line, `tavla:triage` for cases opened
    /// (and comments hidden outside staffed hours) by triage, or the username tried at a failed
    /// sign-in.
    pub actor: String,
    /// What was done: `signin.success`, `signin.failure`, `session.rotated`, `session.expired`,
    /// `signout`, `staff.password_changed`, `staff.added`, `staff.updated`, `training.completed`,
    /// `token.created`, `channel.registered`, `channel.approved`, `queue.read`,
    /// `conversation.read`, `conversation.claimed`, `conversation.released`,
    /// `conversation.status_changed`, `conversation.replied`, `events.subscribe`, `audit.read`,
    /// `token.revoked`, `message.retried`, `search.read`, `moderation.queue_read`,
    /// `moderation.case_read`, `moderation.case_opened`, `moderation.evidence_captured`,
    /// `moderation.step.<step>`, `moderation.case_closed`, `message.hidden`, `message.unhidden`,
    /// `message.removed`, `message.hide_requested`, `message.unhide_requested`,
    /// `message.remove_requested`, `moderation.heated_read`, `faq.read`, `faq.curated`,
    /// `faq.questions_moved`, `saved_reply.added`, `saved_reply.updated`, `conversation.noted`.
    /// `moderation.step.<step>` stands for one action per step kind, e.g. `moderation.step.remove`
    /// or `moderation.step.police_report`; `message.hidden`, `message.unhidden` and
    /// `message.removed` record moderation's change of the local record, `message.*_requested` the
    /// change queued for the platform.
    pub action: String,
    /// What it was done to, as `kind:id`, e.g. `conversation:17`, `channel:3`, `session:12`,
    /// `staff:7`, `message:4711`, `case:12`, `faq_cluster:5` or `saved_reply:3` (staff actions and
    /// sign-ins name the staff id). Null when there is no single target (queue.read,
    /// events.subscribe, audit.read, search.read, moderation.queue_read, moderation.heated_read,
    /// faq.read) and for a failed sign-in with an unknown username.
    pub target: Option<String>,
    /// The client's address (the peer, or the forwarded address when the peer is a trusted proxy);
    /// null for the command line.
    pub address: Option<String>,
    /// Action-specific facts (JSON), e.g. the filters of a read or `{from, to}` of a status
    /// change.
    pub detail: serde_json::Value,
    /// SHA-256 (hex) over the previous entry's hash and this entry's fields.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::too_many_arguments)]
fn chain_hash(
    prev: &str,
    at: i64,
    actor_id: Option<i64>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<&str>,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields, so no two different entries serialise alike.
    for field in [
        prev.to_string(),
        at.to_string(),
        actor_id.map(|i| i.to_string()).unwrap_or_default(),
        actor.to_string(),
        action.to_string(),
        target.unwrap_or("").to_string(),
        address.unwrap_or("").to_string(),
        detail.to_string(),
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside the caller's transaction and moves the anchored head to it.
///
/// The head row (`audit_head`) is updated first: on PostgreSQL that takes its row lock, so
/// appends are serialised by the row they all change, even in a transaction that did not come
/// from `Store::begin` (whose advisory lock serialises the event log's writers); on SQLite
/// `Store::begin` holds the write lock already. The head's hash is the previous entry's.
pub async fn record(
    tx: &mut Tx<'_>,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    let head = sqlx::query(
        "update audit_head set entries = entries + 1 where id = 1 returning last_id, entries, hash",
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(head) = head else {
        tracing::error!(
            "the audit trail's anchor (table audit_head) is gone: audited actions are refused; \
             run `tavla audit verify` and restore the database from a backup"
        );
        return Err(sqlx::Error::RowNotFound.into());
    };
    let prev: String = head.try_get("hash")?;
    let at = now_ms();
    let detail = detail.to_string();
    let hash = chain_hash(
        &prev,
        at,
        actor.staff_id,
        &actor.name,
        action,
        target,
        actor.address.as_deref(),
        &detail,
    );
    let id: i64 = sqlx::query_scalar(
        "insert into audit (at, actor_id, actor, action, target, address, detail, prev_hash, hash) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
    )
    .bind(at)
    .bind(actor.staff_id)
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(actor.address.as_deref())
    .bind(detail)
    .bind(prev)
    .bind(&hash)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("update audit_head set last_id = $1, hash = $2 where id = 1")
        .bind(id)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends a group of entries as `record` appends one, with one move of the head for them all
/// and the rows in few statements: the head is taken (and counted forward) first, each entry is
/// chained to the one before it, and the head is moved to the last.
async fn record_group(tx: &mut Tx<'_>, group: &[Pending]) -> Result<()> {
    const ROWS_PER_INSERT: usize = 64;
    let head = sqlx::query(
        "update audit_head set entries = entries + $1 where id = 1 returning last_id, entries, hash",
    )
    .bind(group.len() as i64)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(head) = head else {
        tracing::error!(
            "the audit trail's anchor (table audit_head) is gone: audited actions are refused; \
             run `tavla audit verify` and restore the database from a backup"
        );
        return Err(sqlx::Error::RowNotFound.into());
    };
    let mut prev: String = head.try_get("hash")?;
    let mut last_id = 0;
    for chunk in group.chunks(ROWS_PER_INSERT) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut values = Vec::with_capacity(chunk.len());
        for p in chunk {
            let at = now_ms();
            let detail = p.detail.to_string();
            let hash = chain_hash(
                &prev,
                at,
                p.actor.staff_id,
                &p.actor.name,
                &p.action,
                p.target.as_deref(),
                p.actor.address.as_deref(),
                &detail,
            );
            let n = 9 * values.len();
            rows.push(format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7,
                n + 8,
                n + 9
            ));
            values.push((
                at,
                p,
                detail,
                std::mem::replace(&mut prev, hash.clone()),
                hash,
            ));
        }
        let sql = format!(
            "insert into audit (at, actor_id, actor, action, target, address, detail, prev_hash, hash) \
             values {} returning id",
            rows.join(", ")
        );
        let mut insert = sqlx::query_scalar::<_, i64>(&sql);
        for (at, p, detail, prev_hash, hash) in values {
            insert = insert
                .bind(at)
                .bind(p.actor.staff_id)
                .bind(p.actor.name.clone())
                .bind(p.action.clone())
                .bind(p.target.clone())
                .bind(p.actor.address.clone())
                .bind(detail)
                .bind(prev_hash)
                .bind(hash);
        }
        let ids = insert.fetch_all(&mut **tx).await?;
        last_id = ids.into_iter().max().unwrap_or(last_id);
    }
    sqlx::query("update audit_head set last_id = $1, hash = $2 where id = 1")
        .bind(last_id)
        .bind(prev)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The newest entry of the trail: as anchored beside it, or as an operator kept it elsewhere
/// (`tavla audit head` prints it, `tavla audit verify --expect ID:HASH` checks it is still there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: String,
    /// Entries up to and including `id`, when known (the anchor counts; a kept copy need not).
    pub entries: Option<i64>,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, self.hash)
    }
}

impl std::str::FromStr for Head {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Head, String> {
        let wrong = || format!("{s:?} is not a head: give ID:HASH as `tavla audit head` prints it");
        let (id, hash) = s.trim().split_once(':').ok_or_else(wrong)?;
        let id = id.parse().map_err(|_| wrong())?;
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(wrong());
        }
        Ok(Head {
            id,
            hash,
            entries: None,
        })
    }
}

/// One head the walk must pass through, and where the trust in it comes from.
struct Checkpoint<'a> {
    head: &'a Head,
    source: &'static str,
    seen: bool,
}

impl Checkpoint<'_> {
    /// Checks the entry at the head's id, once the walk reaches it.
    fn check(&mut self, id: i64, hash: &str, checked: i64) -> Option<Broken> {
        if id != self.head.id {
            return None;
        }
        self.seen = true;
        if hash != self.head.hash {
            return Some(Broken {
                id,
                reason: format!(
                    "its hash is not the one {} names (the trail was cut and written again)",
                    self.source
                ),
            });
        }
        match self.head.entries {
            Some(entries) if entries != checked => Some(Broken {
                id,
                reason: format!(
                    "{} counts {entries} entries up to it, the trail has {checked} (entries before it were removed)",
                    self.source
                ),
            }),
            _ => None,
        }
    }

    /// A head the walk went past (`next` is the entry after `last`, None at the end) without
    /// meeting it was deleted: at the end, the newest entries were cut off.
    fn missing(&self, last: Option<i64>, next: Option<i64>) -> Option<Broken> {
        if self.seen || self.head.id == 0 || next.is_some_and(|n| n <= self.head.id) {
            return None;
        }
        let trail = match (last, next) {
            (Some(last), Some(next)) => format!("the trail goes from entry {last} to entry {next}"),
            (None, Some(next)) => format!("the trail starts at entry {next}"),
            (Some(last), None) => format!("the trail ends at entry {last}"),
            (None, None) => "the trail is empty".to_string(),
        };
        let cut = if next.is_none() {
            "the newest entries were deleted"
        } else {
            "entries were deleted and the chain written again"
        };
        Some(Broken {
            id: self.head.id,
            reason: format!(
                "it is missing: {trail}, but {} names entry {} as the head; {cut}",
                self.source, self.head.id
            ),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

/// An entry waiting for the writer, and whom to tell when it is committed.
struct Pending {
    actor: Actor,
    action: String,
    target: Option<String>,
    detail: serde_json::Value,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

/// Most entries in one transaction: a burst of reads is split into a few commits rather than one
/// that holds SQLite's write lock (and ingestion) for long.
const MOST_PER_COMMIT: usize = 512;

/// The store's writer of entries of their own, started with the first entry. Its task ends when
/// the last clone of the store is dropped.
#[derive(Clone, Default)]
pub(super) struct AuditWriter {
    entries: Arc<OnceLock<mpsc::UnboundedSender<Pending>>>,
}

impl AuditWriter {
    fn sender(&self, store: &Store) -> mpsc::UnboundedSender<Pending> {
        self.entries
            .get_or_init(|| {
                let (entries, waiting) = mpsc::unbounded_channel();
                // The writer's own store has no writer, so it does not keep the channel open.
                let writer = Store {
                    audit_writer: AuditWriter::default(),
                    ..store.clone()
                };
                tokio::spawn(write_in_groups(writer, waiting));
                entries
            })
            .clone()
    }
}

/// Takes the first entry waiting and every other one already there, appends them in one
/// transaction, and answers them all with its outcome.
async fn write_in_groups(store: Store, mut waiting: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < MOST_PER_COMMIT {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let outcome = store.append_group(&group).await.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            tracing::error!(error = %e, entries = group.len(), "audit entries could not be written; the requests they record are refused");
        }
        for pending in group {
            let _ = pending.done.send(outcome.clone());
        }
    }
}

impl Store {
    /// Records an entry of its own (reads, sign-ins), committed in a group with the entries of
    /// other requests; returns once it is durable.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.audit_queued(actor, action, target, detail).await
    }

    /// As `audit`, with the entry handed to the writer at once (its commit starts while the
    /// caller goes on); the returned future resolves once the entry is durable. A request must
    /// await it before it answers.
    pub fn audit_queued(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'static {
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            actor: actor.clone(),
            action: action.to_string(),
            target: target.map(str::to_string),
            detail,
            done,
        };
        // Failures are the store's, not the request's: they answer 500 with what was logged.
        fn failed(e: String) -> StoreError {
            StoreError::Db(sqlx::Error::Protocol(e))
        }
        let gone = || failed("the audit trail's writer has stopped".into());
        let sent = self
            .audit_writer
            .sender(self)
            .send(pending)
            .map_err(|_| gone());
        async move {
            sent?;
            committed.await.map_err(|_| gone())?.map_err(failed)
        }
    }

    /// One transaction for a group of entries. On PostgreSQL the trail's head row serialises
    /// appends (see `record`), so the event log's lock is not taken; on SQLite `begin` takes the
    /// write lock.
    async fn append_group(&self, group: &[Pending]) -> Result<()> {
        let mut tx = match self.backend {
            Backend::Postgres => self.pool.begin().await?,
            Backend::Sqlite => self.begin().await?,
        };
        record_group(&mut tx, group).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Newest first.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "select id, at, actor_id, actor, action, target, address, detail, hash from audit \
             where ($1 = '' or actor = $2) and ($3 = '' or action = $4) and ($5 = '' or target = $6) \
             and at >= $7 and at <= $8 and id < $9 order by id desc limit $10",
        )
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.actor.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.action.clone().unwrap_or_default())
        .bind(f.target.clone().unwrap_or_default())
        .bind(f.target.clone().unwrap_or_default())
        .bind(f.from.unwrap_or(0))
        .bind(f.to.unwrap_or(i64::MAX))
        .bind(f.before_id.unwrap_or(i64::MAX))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    address: r.try_get("address")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// The head anchored beside the trail (None when the anchor itself was deleted).
    pub async fn audit_head(&self) -> Result<Option<Head>> {
        let row = sqlx::query("select last_id, entries, hash from audit_head where id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Head {
                id: r.try_get("last_id")?,
                hash: r.try_get("hash")?,
                entries: Some(r.try_get("entries")?),
            })
        })
        .transpose()
    }

    /// Walks the whole chain in order and checks that it reaches its anchored head. Returns the
    /// number of entries checked, or the first entry whose content or link does not match, or
    /// the head that is missing.
    pub async fn verify_audit(&self) -> Result<Result<i64, Broken>> {
        self.verify_audit_with(None).await
    }

    /// As `verify_audit`, and the chain must also still contain `kept`: a head an operator kept
    /// outside the database, which someone able to rewrite the anchor cannot change.
    pub async fn verify_audit_with(&self, kept: Option<&Head>) -> Result<Result<i64, Broken>> {
        // Read before the walk: entries appended meanwhile come after it and are walked too.
        let Some(anchored) = self.audit_head().await? else {
            return Ok(Err(Broken {
                id: 0,
                reason: "the anchor of the trail's head (table audit_head) was deleted".into(),
            }));
        };
        let mut checkpoints = vec![Checkpoint {
            head: &anchored,
            source: "the anchor beside the trail (audit_head)",
            seen: false,
        }];
        if let Some(kept) = kept {
            checkpoints.push(Checkpoint {
                head: kept,
                source: "the head kept outside the database",
                seen: false,
            });
        }
        let mut prev = GENESIS.to_string();
        let mut after = 0i64;
        let mut checked = 0i64;
        loop {
            let rows = sqlx::query(
                "select id, at, actor_id, actor, action, target, address, detail, prev_hash, hash \
                 from audit where id > $1 order by id limit 1000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                let last = (checked > 0).then_some(after);
                if let Some(broken) = checkpoints.iter().find_map(|c| c.missing(last, None)) {
                    return Ok(Err(broken));
                }
                return Ok(Ok(checked));
            }
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let last = (checked > 0).then_some(after);
                if let Some(broken) = checkpoints.iter().find_map(|c| c.missing(last, Some(id))) {
                    return Ok(Err(broken));
                }
                let stored_hash = match check_entry(r, &prev)? {
                    Ok(hash) => hash,
                    Err(reason) => return Ok(Err(Broken { id, reason })),
                };
                checked += 1;
                for c in &mut checkpoints {
                    if let Some(broken) = c.check(id, &stored_hash, checked) {
                        return Ok(Err(broken));
                    }
                }
                prev = stored_hash;
                after = id;
            }
        }
    }
}

/// One entry against the previous entry's hash: its own hash, or why it does not match.
fn check_entry(r: &sqlx::any::AnyRow, prev: &str) -> Result<std::result::Result<String, String>> {
    let stored_prev: String = r.try_get("prev_hash")?;
    let stored_hash: String = r.try_get("hash")?;
    if stored_prev != prev {
        return Ok(Err("its link to the previous entry does not match (an entry before it was changed or removed)".into()));
    }
    let target: Option<String> = r.try_get("target")?;
    let address: Option<String> = r.try_get("address")?;
    let detail: String = r.try_get("detail")?;
    let actor: String = r.try_get("actor")?;
    let action: String = r.try_get("action")?;
    let expected = chain_hash(
        &stored_prev,
        r.try_get("at")?,
        r.try_get("actor_id")?,
        &actor,
        &action,
        target.as_deref(),
        address.as_deref(),
        &detail,
    );
    if expected != stored_hash {
        return Ok(Err(
            "its content does not match its hash (the entry was changed)".into(),
        ));
    }
    Ok(Ok(stored_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trail written before the anchor existed: the migration anchors it at its last entry.
    #[tokio::test]
    async fn the_migration_anchors_an_existing_trail_at_its_last_entry() {
        let dir = tempfile::tempdir().unwrap();
        let earlier = dir.path().join("earlier");
        std::fs::create_dir(&earlier).unwrap();
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        for file in std::fs::read_dir(&source).unwrap().flatten() {
            let name = file.file_name().into_string().unwrap();
            if name.as_str() < "0016" {
                std::fs::copy(file.path(), earlier.join(&name)).unwrap();
            }
        }
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(earlier.as_path())
            .await
            .unwrap()
            .run(&store.pool)
            .await
            .unwrap();
        // Three entries chained as `record` wrote them before 0016.
        let mut prev = GENESIS.to_string();
        for at in 1..=3 {
            let hash = chain_hash(&prev, at, None, "cli:test", "staff.added", None, None, "{}");
            sqlx::query(
                "insert into audit (at, actor, action, detail, prev_hash, hash) \
                 values ($1, 'cli:test', 'staff.added', '{}', $2, $3)",
            )
            .bind(at)
            .bind(&prev)
            .bind(&hash)
            .execute(&store.pool)
            .await
            .unwrap();
            prev = hash;
        }
        store.migrate().await.unwrap();
        let head = store.audit_head().await.unwrap().unwrap();
        assert_eq!((head.id, head.entries, &head.hash), (3, Some(3), &prev));
        assert_eq!(store.verify_audit().await.unwrap(), Ok(3));
        // New entries follow on from it.
        store
            .audit(
                &Actor::command_line(),
                "audit.checked",
                None,
                serde_json::json!({}),
            )
            .await
            .unwrap();
        assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
        sqlx::query("delete from audit where id = 4")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(store.verify_audit().await.unwrap().unwrap_err().id, 4);
        store.close().await;
    }

    /// Many reads at once: each is answered once committed, all in one unbroken chain.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_written_at_once_are_all_committed_in_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let reads = (0..200).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let detail = serde_json::json!({ "n": i });
                store
                    .audit(&Actor::command_line(), "search.read", None, detail)
                    .await
            })
        });
        for read in futures::future::join_all(reads).await {
            read.unwrap().unwrap();
        }
        assert_eq!(store.verify_audit().await.unwrap(), Ok(200));
        let mut numbers: Vec<i64> = store
            .audit_entries(&AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .iter()
            .map(|e| e.detail["n"].as_i64().unwrap())
            .collect();
        numbers.sort();
        assert_eq!(numbers, (0..200).collect::<Vec<_>>());
        store.close().await;
    }

    #[test]
    fn a_kept_head_reads_as_it_is_printed() {
        let head = Head {
            id: 42,
            hash: "ab".repeat(32),
            entries: None,
        };
        assert_eq!(head.to_string().parse::<Head>(), Ok(head));
        for wrong in [
            "",
            "42",
            "x:abab",
            "42:abc",
            &format!("42:{}", "zz".repeat(32)),
        ] {
            assert!(wrong.parse::<Head>().is_err(), "{wrong}");
        }
    }
}
