//! FAQ: the questions clustering reads, and the curation that outlives re-clustering.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::scope::ReadScope;
use super::{now_ms, Result, Store};

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct Curation {
    pub cluster_id: i64,
    pub name: Option<String>,
    pub pinned: bool,
    pub dismissed: bool,
    pub answered_url: Option<String>,
    pub answered_at: Option<i64>,
    /// A communicator merged this cluster into another: its questions count there.
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

    /// The public question candidates among these messages, in one query.
    pub async fn question_candidates(
        &self,
        scope: &ReadScope,
        ids: &[i64],
    ) -> Result<Vec<QuestionRow>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "{} and c.kind = 'comments' and m.id in ({}) order by m.id",
                question_select(scope),
                list.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(question_from_row(&r)?);
            }
        }
        Ok(out)
    }

    pub async fn question_candidate(
        &self,
        scope: &ReadScope,
        id: i64,
    ) -> Result<Option<QuestionRow>> {
        let row = sqlx::query(&format!("{} and m.id = $1", question_select(scope)))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| question_from_row(&r)).transpose()
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

impl Store {
    /// After consolidation merged cluster `from` into `into`, its curation follows, unless
    /// `into` has one of its own (then the older decision of `into` stands).
    pub async fn move_curation(&self, from: i64, into: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        let taken: Option<i64> =
            sqlx::query_scalar("select cluster_id from faq_curation where cluster_id = $1")
                .bind(into)
                .fetch_optional(&mut *tx)
                .await?;
        if taken.is_none() {
            sqlx::query("update faq_curation set cluster_id = $1 where cluster_id = $2")
                .bind(into)
                .bind(from)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Communicators' moves of single questions to another cluster (message id → cluster id).
    pub async fn faq_moves(&self) -> Result<std::collections::HashMap<i64, i64>> {
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
