//! The library of saved replies.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::{now_ms, Result, Store, StoreError};

/// The languages a saved reply is written in.
// Only described: requests carry the word, so a wrong one gets the handler's own 422 wording.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ReplyLanguage {
    Sv,
    En,
}

/// A saved reply: a text kept by communicators for answering a recurring question.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": 3, "channel_id": null, "language": "sv", "title": "Storgatan",
    "body": "Storgatan är avstängd till mars. Läs mer på exempelby.se/storgatan.",
    "archived": false, "updated_by": "bertil", "updated_at": 1762071300000_i64
}))]
pub struct SavedReply {
    /// Use it in PATCH /api/v1/saved-replies/{id}, and as `saved-reply:ID` in a FAQ cluster's
    /// `answered_url`.
    pub id: i64,
    /// The channel it is for; null for every channel.
    pub channel_id: Option<i64>,
    #[schema(value_type = ReplyLanguage)]
    pub language: String,
    /// 1 to 200 characters.
    pub title: String,
    /// The reply, 1 to 2,000 characters (Messenger's limit).
    pub body: String,
    /// Archived replies are no longer listed or suggested.
    pub archived: bool,
    /// Username of who added or last changed it.
    pub updated_by: String,
    /// When it was added or last changed. Milliseconds since the Unix epoch.
    pub updated_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<SavedReply> {
    let archived: i64 = r.try_get("archived")?;
    Ok(SavedReply {
        id: r.try_get("id")?,
        channel_id: r.try_get("channel_id")?,
        language: r.try_get("language")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        archived: archived == 1,
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const SELECT: &str = "select id, channel_id, language, title, body, archived, updated_by, updated_at from saved_replies";

impl Store {
    /// Replies for a channel (its own and those for every channel), in a language, not archived.
    pub async fn saved_replies(
        &self,
        channel: Option<i64>,
        language: Option<&str>,
    ) -> Result<Vec<SavedReply>> {
        let rows = sqlx::query(&format!(
            "{SELECT} where archived = 0 and ($1 = -1 or channel_id is null or channel_id = $2) \
             and ($3 = '' or language = $4) order by title"
        ))
        .bind(channel.unwrap_or(-1))
        .bind(channel.unwrap_or(-1))
        .bind(language.unwrap_or(""))
        .bind(language.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn saved_reply(&self, id: i64) -> Result<Option<SavedReply>> {
        let row = sqlx::query(&format!("{SELECT} where id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_row(&r)).transpose()
    }

    pub async fn add_saved_reply(
        &self,
        channel_id: Option<i64>,
        language: &str,
        title: &str,
        body: &str,
        actor: &Actor,
    ) -> Result<i64> {
        let mut tx = self.begin().await?;
        if let Some(c) = channel_id {
            let known: Option<i64> = sqlx::query_scalar("select id from channels where id = $1")
                .bind(c)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(StoreError::NotFound(format!("there is no channel {c}")));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "insert into saved_replies (channel_id, language, title, body, updated_by, updated_at) \
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(channel_id)
        .bind(language)
        .bind(title)
        .bind(body)
        .bind(&actor.name)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "saved_reply.added",
            Some(&format!("saved_reply:{id}")),
            serde_json::json!({"title": title}),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn update_saved_reply(&self, reply: &SavedReply, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("update saved_replies set title = $1, body = $2, archived = $3, updated_by = $4, updated_at = $5 where id = $6")
            .bind(&reply.title)
            .bind(&reply.body)
            .bind(reply.archived as i64)
            .bind(&actor.name)
            .bind(now_ms())
            .bind(reply.id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            actor,
            "saved_reply.updated",
            Some(&format!("saved_reply:{}", reply.id)),
            serde_json::json!({"archived": reply.archived}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
