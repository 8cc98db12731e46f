//! FAQ: the questions clustering reads, and the curation that outlives re-clustering.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::scope::ReadScope;
use super::{now_ms, Marks, Result, Store, Tx};

/// One inbound question-like message as clustering sees it.
#[derive(Debug, Clone)]
pub struct QuestionRow {
    pub id: i64,
    pub text: String,
    pub time: i64,
    pub author: String,
    pub channel_id: i64,
    pub post_id: Option<String>,
    pub kind: String,
}

/// A cluster's curation as stored now.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = FaqCuration)]
pub struct Curation {
    pub cluster_id: i64,
    /// The name given; null when none.
    #[schema(required = true)]
    pub name: Option<String>,
    pub pinned: bool,
    pub dismissed: bool,
    /// `https://…`, `http://…` or `saved-reply:ID`; null when not marked answered.
    #[schema(required = true)]
    pub answered_url: Option<String>,
    /// When `answered_url` was last set; null when it is not set. Milliseconds since the Unix
    /// epoch.
    #[schema(required = true)]
    pub answered_at: Option<i64>,
    /// The cluster its questions count in; null when not merged.
    #[schema(required = true)]
    pub merged_into: Option<i64>,
}

/// Visible inbound messages with words, as clustering reads them. Clusters are shown to
/// communicators (labels, examples), so hidden content never joins them, and neither does S5
/// content, whatever the scope.
fn question_select(scope: &ReadScope) -> String {
    format!(
        "select m.id, m.text, m.platform_time, coalesce(a.platform_id, '') as author, m.channel_id, \
         p.platform_id as post, c.kind from messages m join conversations c on c.id = m.conversation_id \
         left join authors a on a.id = m.author_id left join posts p on p.id = c.post_id \
         where m.direction = 'inbound' and m.state = 'visible' and m.text is not null and {}",
        scope.readable_message("m")
    )
}

fn question_from_row(r: &sqlx::any::AnyRow) -> Result<QuestionRow> {
    Ok(QuestionRow {
        id: r.try_get("id")?,
        text: r.try_get("text")?,
        time: r.try_get("platform_time")?,
        author: r.try_get("author")?,
        channel_id: r.try_get("channel_id")?,
        post_id: r.try_get("post")?,
        kind: r.try_get("kind")?,
    })
}

impl Store {
    /// A page of inbound messages in id order (the caller keeps the questions).
    pub async fn question_candidates_after(
        &self,
        scope: &ReadScope,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<QuestionRow>> {
        let rows = sqlx::query(&format!(
            "{} and m.id > $1 order by m.id limit $2",
            question_select(scope)
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(question_from_row).collect()
    }

    /// How many public comments up to `up_to` have no stored placement: what placing in the
    /// background has before it (the questions among them are placed, the rest looked at).
    pub async fn count_unplaced_question_candidates(
        &self,
        scope: &ReadScope,
        up_to: i64,
    ) -> Result<i64> {
        let select = question_select(scope);
        // The same rows as the pages above, counted: the select's columns inside a subquery.
        Ok(sqlx::query_scalar(&format!(
            "select count(*) from ({select} and m.id <= $1 and c.kind = 'comments' \
             and not exists (select 1 from faq_members fm where fm.message_id = m.id)) q"
        ))
        .bind(up_to)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The highest message id, or 0: where placing in the background stops (later messages
    /// come through the event log).
    pub async fn last_message_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("select max(id) from messages")
            .fetch_one(&self.pool)
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// The public question candidates among these messages, in one query.
    pub async fn question_candidates(
        &self,
        scope: &ReadScope,
        ids: &[i64],
    ) -> Result<Vec<QuestionRow>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let list = Marks::of_backend(self.backend).list(1, chunk.len());
            let sql = format!(
                "{} and m.id in ({list}) order by m.id",
                question_select(scope),
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            // The thread's kind is judged here, not in SQL: with `c.kind = 'comments'` in the
            // query SQLite (without statistics) walked every comment thread by the kind index
            // instead of looking the ids up, 20 ms at 200,000 messages and growing with the store.
            for r in q.fetch_all(&self.pool).await? {
                let row = question_from_row(&r)?;
                if row.kind == "comments" {
                    out.push(row);
                }
            }
        }
        Ok(out)
    }

    pub async fn curations(&self) -> Result<Vec<Curation>> {
        let rows = sqlx::query("select cluster_id, name, pinned, dismissed, answered_url, answered_at, merged_into from faq_curation")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let pinned: i64 = r.try_get("pinned")?;
                let dismissed: i64 = r.try_get("dismissed")?;
                Ok(Curation {
                    cluster_id: r.try_get("cluster_id")?,
                    name: r.try_get("name")?,
                    pinned: pinned == 1,
                    dismissed: dismissed == 1,
                    answered_url: r.try_get("answered_url")?,
                    answered_at: r.try_get("answered_at")?,
                    merged_into: r.try_get("merged_into")?,
                })
            })
            .collect()
    }

    pub async fn save_curation(&self, c: &Curation, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        // After or before a consolidation's move of curation (`move_curation`), never during.
        super::lock_row(&mut tx, "faq_state", 1).await?;
        let now = now_ms();
        sqlx::query(
            "insert into faq_curation (cluster_id, name, pinned, dismissed, answered_url, answered_at, merged_into, updated_by, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (cluster_id) do update set name = excluded.name, \
             pinned = excluded.pinned, dismissed = excluded.dismissed, answered_url = excluded.answered_url, \
             answered_at = excluded.answered_at, merged_into = excluded.merged_into, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(c.cluster_id)
        .bind(c.name.as_deref())
        .bind(c.pinned as i64)
        .bind(c.dismissed as i64)
        .bind(c.answered_url.as_deref())
        .bind(c.answered_at)
        .bind(c.merged_into)
        .bind(&actor.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "faq.curated",
            Some(&format!("faq_cluster:{}", c.cluster_id)),
            serde_json::to_value(c).unwrap_or_default(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// After consolidation merged cluster `from` into `into`, its curation follows, unless `into`
/// has one of its own (then the older decision of `into` stands).
async fn move_curation(tx: &mut super::Tx<'_>, from: i64, into: i64) -> Result<()> {
    let taken: Option<i64> =
        sqlx::query_scalar("select cluster_id from faq_curation where cluster_id = $1")
            .bind(into)
            .fetch_optional(&mut **tx)
            .await?;
    if taken.is_none() {
        sqlx::query("update faq_curation set cluster_id = $1 where cluster_id = $2")
            .bind(into)
            .bind(from)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Communicators' moves of single questions to another cluster (message id → cluster id).
    pub async fn faq_moves(&self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query("select message_id, cluster_id from faq_moves")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("message_id")?, r.try_get("cluster_id")?)))
            .collect()
    }

    pub async fn move_questions(
        &self,
        messages: &[i64],
        cluster: i64,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        for m in messages {
            sqlx::query(
                "insert into faq_moves (message_id, cluster_id, moved_by, moved_at) values ($1, $2, $3, $4) \
                 on conflict (message_id) do update set cluster_id = excluded.cluster_id, moved_by = excluded.moved_by, \
                 moved_at = excluded.moved_at",
            )
            .bind(m)
            .bind(cluster)
            .bind(&actor.name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        record(
            &mut tx,
            actor,
            "faq.questions_moved",
            Some(&format!("faq_cluster:{cluster}")),
            serde_json::json!({"messages": messages}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Where a question is stored as clustered, and by which event's handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub message_id: i64,
    pub cluster_id: i64,
    pub placed_seq: i64,
}

/// A change to the stored placements, decided while handling the event `seq`. Applied only over
/// a placement decided for an earlier event, so that instances handling the same events agree on
/// whichever decided first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementChange {
    Place {
        message_id: i64,
        cluster_id: i64,
        seq: i64,
    },
    Remove {
        message_id: i64,
        seq: i64,
    },
    /// A placement naming a cluster consolidation merged away, to where that cluster went.
    Redirect {
        message_id: i64,
        from: i64,
        into: i64,
    },
}

/// A consolidation's changes: questions moved (with the placement they were moved from, so a
/// question placed anew meanwhile is left alone) and clusters merged into others.
#[derive(Debug, Clone, Default)]
pub struct Consolidated {
    pub moves: Vec<(Placement, i64)>,
    pub merges: Vec<(i64, i64)>,
}

fn placement_from_row(r: &sqlx::any::AnyRow) -> Result<Placement> {
    Ok(Placement {
        message_id: r.try_get("message_id")?,
        cluster_id: r.try_get("cluster_id")?,
        placed_seq: r.try_get("placed_seq")?,
    })
}

impl Store {
    /// The stored placements of these messages.
    pub async fn faq_placements(&self, ids: &[i64]) -> Result<Vec<Placement>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let list = Marks::of_backend(self.backend).list(1, chunk.len());
            let sql = format!(
                "select message_id, cluster_id, placed_seq from faq_members where message_id in ({list})"
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(placement_from_row(&r)?);
            }
        }
        Ok(out)
    }

    /// Every stored placement, in message order.
    pub async fn all_faq_placements(&self) -> Result<Vec<Placement>> {
        let rows = sqlx::query(
            "select message_id, cluster_id, placed_seq from faq_members order by message_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(placement_from_row).collect()
    }

    /// Applies placement changes in one transaction; each only over an earlier event's decision.
    pub async fn change_faq_placements(&self, changes: &[PlacementChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let now = now_ms();
        let mut next = 0;
        while next < changes.len() {
            // A run of placements is one statement (a busy page places hundreds of questions a
            // second, each statement under the write lock); the rest go one by one, in order.
            let run = changes[next..]
                .iter()
                .take_while(|c| matches!(c, PlacementChange::Place { .. }))
                .count();
            if run > 0 {
                place_questions(&mut tx, &changes[next..next + run], now).await?;
                next += run;
                continue;
            }
            match changes[next] {
                PlacementChange::Place { .. } => unreachable!("runs of placements are taken above"),
                PlacementChange::Redirect {
                    message_id,
                    from,
                    into,
                } => {
                    sqlx::query(
                        "update faq_members set cluster_id = $1 where message_id = $2 and cluster_id = $3",
                    )
                    .bind(into)
                    .bind(message_id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?;
                }
                PlacementChange::Remove { message_id, seq } => {
                    sqlx::query(
                        "delete from faq_members where message_id = $1 and placed_seq < $2",
                    )
                    .bind(message_id)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            next += 1;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Hands out `n` fresh cluster ids, above `above`: returns the first; the block is
    /// `first..first + n`. Every instance takes its own block, so ids never clash.
    pub async fn reserve_faq_cluster_ids(&self, n: i64, above: i64) -> Result<i64> {
        let mut tx = self.begin().await?;
        let end: i64 = sqlx::query_scalar(
            "update faq_state set next_cluster_id = \
             (case when next_cluster_id <= $2 then $2 + 1 else next_cluster_id end) + $1 \
             where id = 1 returning next_cluster_id",
        )
        .bind(n)
        .bind(above)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(end - n)
    }

    /// Changes with every consolidation (and the first seeding), so instances know to reload.
    pub async fn faq_generation(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("select generation from faq_state where id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Clusters consolidation merged away: from → into.
    pub async fn faq_cluster_merges(&self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query("select from_id, into_id from faq_cluster_merges")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("from_id")?, r.try_get("into_id")?)))
            .collect()
    }

    /// Stores the first clustering of a store that has questions but no placements yet (made
    /// before clusters were stored): only if no instance has seeded or consolidated before, and
    /// with fresh ids beyond any id curation already names. Returns whether this call seeded.
    pub async fn seed_faq_placements(&self, placements: &[(i64, i64)], seq: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "update faq_state set generation = generation + 1 where id = 1 and generation = 0 \
             and not exists (select 1 from faq_members)",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Ok(false);
        }
        let now = now_ms();
        for (message, cluster) in placements {
            sqlx::query(
                "insert into faq_members (message_id, cluster_id, placed_seq, placed_at, \
                 asked_at, channel_id, author_id, post_id) \
                 select m.id, $1, $2, $3, m.platform_time, m.channel_id, m.author_id, c.post_id \
                 from messages m join conversations c on c.id = m.conversation_id \
                 where m.id = $4",
            )
            .bind(cluster)
            .bind(seq)
            .bind(now)
            .bind(message)
            .execute(&mut *tx)
            .await?;
        }
        let highest = placements.iter().map(|p| p.1).max().unwrap_or(0);
        let named: Option<i64> = sqlx::query_scalar(
            "select max(id) from (select cluster_id as id from faq_curation \
             union all select merged_into from faq_curation union all select cluster_id from faq_moves) ids",
        )
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("update faq_state set next_cluster_id = $1 where id = 1")
            .bind(highest.max(named.unwrap_or(0)) + 1)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The highest cluster id curation or a communicator's move names, or 0: new clusters get
    /// ids above it, so a name given before placements were stored never lands on other questions.
    pub async fn faq_highest_named_cluster(&self) -> Result<i64> {
        let named: Option<i64> = sqlx::query_scalar(
            "select max(id) from (select cluster_id as id from faq_curation \
             union all select merged_into from faq_curation union all select cluster_id from faq_moves) ids",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(named.unwrap_or(0))
    }

    /// Stores what a consolidation changed, moves curation after its merges (unless the
    /// cluster merged into has its own) and starts a new generation; returns it.
    pub async fn record_faq_consolidation(&self, c: &Consolidated) -> Result<i64> {
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "faq_state", 1).await?;
        let now = now_ms();
        for (from, to) in &c.moves {
            sqlx::query(
                "update faq_members set cluster_id = $1 where message_id = $2 and cluster_id = $3 \
                 and placed_seq = $4",
            )
            .bind(to)
            .bind(from.message_id)
            .bind(from.cluster_id)
            .bind(from.placed_seq)
            .execute(&mut *tx)
            .await?;
        }
        for (from, into) in &c.merges {
            sqlx::query(
                "insert into faq_cluster_merges (from_id, into_id, merged_at) values ($1, $2, $3) \
                 on conflict (from_id) do update set into_id = excluded.into_id, merged_at = excluded.merged_at",
            )
            .bind(from)
            .bind(into)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // Questions other instances placed there meanwhile follow.
            sqlx::query("update faq_members set cluster_id = $1 where cluster_id = $2")
                .bind(into)
                .bind(from)
                .execute(&mut *tx)
                .await?;
            move_curation(&mut tx, *from, *into).await?;
        }
        let generation: i64 = sqlx::query_scalar(
            "update faq_state set generation = generation + 1 where id = 1 returning generation",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Whether a question cluster has questions now (or, merged away, is still named by curation).
    pub async fn faq_cluster_exists(&self, cluster: i64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("select message_id from faq_members where cluster_id = $1 limit 1")
                .bind(cluster)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Whether a message is one of the clustered questions.
    pub async fn is_faq_question(&self, message: i64) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("select cluster_id from faq_members where message_id = $1")
                .bind(message)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }
}

/// Stores placements, each only over an earlier event's decision, 200 a statement. One statement
/// may not name a message twice (PostgreSQL refuses to update a row twice in one statement): the
/// latest decision per message is kept, which is what the `placed_seq` guard would keep anyway.
async fn place_questions(tx: &mut Tx<'_>, places: &[PlacementChange], now: i64) -> Result<()> {
    let mut latest: std::collections::BTreeMap<i64, (i64, i64)> = Default::default();
    for change in places {
        if let PlacementChange::Place {
            message_id,
            cluster_id,
            seq,
        } = *change
        {
            let entry = latest.entry(message_id).or_insert((cluster_id, seq));
            if seq >= entry.1 {
                *entry = (cluster_id, seq);
            }
        }
    }
    let rows: Vec<(i64, i64, i64)> = latest
        .into_iter()
        .map(|(message, (cluster, seq))| (message, cluster, seq))
        .collect();
    for chunk in rows.chunks(200) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!(
                    "(${}, ${}, ${}, ${})",
                    4 * i + 1,
                    4 * i + 2,
                    4 * i + 3,
                    4 * i + 4
                )
            })
            .collect();
        // When, where and by whom each question was asked come along from its message and
        // conversation (the store's figures read them here); a message erased meanwhile is
        // placed nowhere.
        let sql = format!(
            "with placed (message_id, cluster_id, placed_seq, placed_at) as (values {}) \
             insert into faq_members (message_id, cluster_id, placed_seq, placed_at, \
             asked_at, channel_id, author_id, post_id) \
             select p.message_id, p.cluster_id, p.placed_seq, p.placed_at, \
             m.platform_time, m.channel_id, m.author_id, c.post_id \
             from placed p join messages m on m.id = p.message_id \
             join conversations c on c.id = m.conversation_id where true \
             on conflict (message_id) do update set cluster_id = excluded.cluster_id, \
             placed_seq = excluded.placed_seq, placed_at = excluded.placed_at \
             where faq_members.placed_seq < excluded.placed_seq",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (message, cluster, seq) in chunk {
            q = q.bind(*message).bind(*cluster).bind(*seq).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
