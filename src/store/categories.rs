//! Categories of the contact centre's questions (avfall, bygglov, skola, …): the list the
//! administrators keep, the categories staff give a conversation, the ones suggested from the
//! FAQ cluster of its question (what colleagues gave conversations of the same cluster), and
//! counts per category for the reports. Tags go with their conversation.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::{now_ms, Result, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: i64,
    pub name: String,
    /// An archived category is kept on the conversations that have it, and offered no more.
    pub archived: bool,
}

fn category(r: &sqlx::any::AnyRow) -> Result<Category> {
    let archived: Option<i64> = r.try_get("archived_at")?;
    Ok(Category {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        archived: archived.is_some(),
    })
}

impl Store {
    /// Every category, by name.
    pub async fn categories(&self) -> Result<Vec<Category>> {
        let rows = sqlx::query("select id, name, archived_at from categories order by name, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(category).collect()
    }

    /// Adds a category; a name already listed is refused.
    pub async fn add_category(&self, name: &str, actor: &Actor) -> Result<Category> {
        let mut tx = self.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar("select id from categories where name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "there is already a category {name:?}; use it, or rename that one"
            )));
        }
        let id: i64 = sqlx::query_scalar(
            "insert into categories (name, created_by, created_at) values ($1, $2, $3) returning id",
        )
        .bind(name)
        .bind(actor.staff_id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "category.added",
            Some(&format!("category:{id}")),
            serde_json::json!({"name": name}),
        )
        .await?;
        self.commit(tx).await?;
        Ok(Category {
            id,
            name: name.to_string(),
            archived: false,
        })
    }

    /// Renames and/or archives (or brings back) a category.
    pub async fn change_category(
        &self,
        id: i64,
        name: Option<&str>,
        archived: Option<bool>,
        actor: &Actor,
    ) -> Result<Category> {
        let mut tx = self.begin().await?;
        super::rename_unique(
            &mut tx,
            "categories",
            id,
            name,
            format!("there is no category {id}"),
            format!(
                "there is already a category {:?}; choose another name",
                name.unwrap_or("")
            ),
        )
        .await?;
        if let Some(archived) = archived {
            sqlx::query("update categories set archived_at = $1 where id = $2")
                .bind(archived.then(now_ms))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        record(
            &mut tx,
            actor,
            "category.changed",
            Some(&format!("category:{id}")),
            serde_json::json!({"name": name, "archived": archived}),
        )
        .await?;
        let row = sqlx::query("select id, name, archived_at from categories where id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let changed = category(&row)?;
        self.commit(tx).await?;
        Ok(changed)
    }

    /// The conversation's categories, by name.
    pub async fn categories_of(&self, conversation_id: i64) -> Result<Vec<Category>> {
        let rows = sqlx::query(
            "select k.id, k.name, k.archived_at from conversation_categories t \
             join categories k on k.id = t.category_id where t.conversation_id = $1 \
             order by k.name, k.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(category).collect()
    }

    /// Gives the conversation exactly these categories (kept ones keep who gave them and when);
    /// `faq_cluster` is the FAQ cluster of its newest question now, remembered with new tags.
    /// An unknown or archived category is refused, and nothing changes.
    pub async fn set_categories(
        &self,
        conversation_id: i64,
        ids: &[i64],
        faq_cluster: Option<i64>,
        actor: &Actor,
    ) -> Result<Vec<Category>> {
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "conversations", conversation_id).await?;
        let channel_id: i64 =
            sqlx::query_scalar("select channel_id from conversations where id = $1")
                .bind(conversation_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    StoreError::NotFound(format!("there is no conversation {conversation_id}"))
                })?;
        let current: Vec<i64> = sqlx::query_scalar(
            "select category_id from conversation_categories where conversation_id = $1",
        )
        .bind(conversation_id)
        .fetch_all(&mut *tx)
        .await?;
        let now = now_ms();
        for id in ids.iter().filter(|id| !current.contains(id)) {
            let open: Option<Option<i64>> =
                sqlx::query_scalar("select archived_at from categories where id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match open {
                Some(None) => {}
                Some(Some(_)) => {
                    return Err(StoreError::Invalid(format!(
                        "category {id} is archived; choose one of the categories in use (GET /api/v1/categories)"
                    )))
                }
                None => {
                    return Err(StoreError::NotFound(format!(
                        "there is no category {id}; choose from GET /api/v1/categories"
                    )))
                }
            }
            sqlx::query(
                "insert into conversation_categories \
                 (conversation_id, category_id, faq_cluster, tagged_by, tagged_at) \
                 values ($1, $2, $3, $4, $5)",
            )
            .bind(conversation_id)
            .bind(id)
            .bind(faq_cluster)
            .bind(actor.staff_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let removed: Vec<i64> = current
            .iter()
            .copied()
            .filter(|c| !ids.contains(c))
            .collect();
        for id in &removed {
            sqlx::query(
                "delete from conversation_categories where conversation_id = $1 and category_id = $2",
            )
            .bind(conversation_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let added = ids.iter().any(|id| !current.contains(id));
        if added || !removed.is_empty() {
            // Told live to those who may read the conversation (the stream filters by its kind
            // and channel), so an open queue or conversation shows the new categories.
            let mut now: Vec<i64> = ids.to_vec();
            now.sort_unstable();
            append(
                &mut tx,
                NewEvent {
                    kind: EventKind::Categorised,
                    channel_id: Some(channel_id),
                    conversation_id: Some(conversation_id),
                    message_id: None,
                    payload: serde_json::json!({"categories": now, "removed": removed}),
                },
            )
            .await?;
        }
        record(
            &mut tx,
            actor,
            "conversation.categorised",
            Some(&format!("conversation:{conversation_id}")),
            serde_json::json!({"categories": ids, "removed": removed, "faq_cluster": faq_cluster}),
        )
        .await?;
        self.commit(tx).await?;
        self.categories_of(conversation_id).await
    }

    /// The categories colleagues gave most often to conversations whose question was in this
    /// FAQ cluster (in use, not archived), at most `limit`.
    pub async fn categories_for_cluster(&self, cluster: i64, limit: i64) -> Result<Vec<Category>> {
        let rows = sqlx::query(
            "select k.id, k.name, k.archived_at, count(*) as n from conversation_categories t \
             join categories k on k.id = t.category_id \
             where t.faq_cluster = $1 and k.archived_at is null \
             group by k.id, k.name, k.archived_at order by n desc, k.name limit $2",
        )
        .bind(cluster)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(category).collect()
    }

    /// Conversations begun in [start, end) per category, on the given channels (None: every
    /// channel).
    pub async fn categories_per_period(
        &self,
        start: i64,
        end: i64,
        channels: Option<&[i64]>,
    ) -> Result<Vec<(Option<String>, i64)>> {
        self.counted_in_period(
            "select k.name as label, count(*) as n from conversation_categories t \
             join categories k on k.id = t.category_id \
             join conversations c on c.id = t.conversation_id \
             where c.created_at >= $1 and c.created_at < $2",
            (start, end),
            channels,
        )
        .await
    }
}
