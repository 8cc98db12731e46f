//! The organisation's search synonyms as stored: groups of terms kept by administrators. Each
//! change is audited with the terms before and after, and appends an event so that every
//! instance loads the groups again (search applies them when a query is made).

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::events::{append, EventKind, NewEvent};
use super::{now_ms, Result, Store, Tx};

/// A group of search terms that mean the same.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SynonymGroup {
    pub id: i64,
    pub terms: Vec<String>,
    /// Who added or last changed the group.
    pub updated_by: String,
    /// When (ms since the epoch).
    pub updated_at: i64,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<SynonymGroup> {
    let terms: String = r.try_get("terms")?;
    Ok(SynonymGroup {
        id: r.try_get("id")?,
        terms: serde_json::from_str(&terms).unwrap_or_default(),
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The event every instance reloads on, and the audit entry, in the change's transaction.
async fn changed(
    tx: &mut Tx<'_>,
    actor: &Actor,
    action: &str,
    id: i64,
    detail: serde_json::Value,
) -> Result<()> {
    append(
        tx,
        NewEvent {
            kind: EventKind::SynonymsChanged,
            channel_id: None,
            conversation_id: None,
            message_id: None,
            payload: serde_json::json!({"group_id": id}),
        },
    )
    .await?;
    record(tx, actor, action, Some(&format!("synonyms:{id}")), detail).await
}

impl Store {
    /// Every group, oldest first.
    pub async fn synonym_groups(&self) -> Result<Vec<SynonymGroup>> {
        let rows =
            sqlx::query("select id, terms, updated_by, updated_at from synonym_groups order by id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn synonym_group_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from synonym_groups")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn add_synonym_group(&self, terms: &[String], actor: &Actor) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "insert into synonym_groups (terms, updated_by, updated_at) values ($1, $2, $3) returning id",
        )
        .bind(serde_json::json!(terms).to_string())
        .bind(&actor.name)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        changed(
            &mut tx,
            actor,
            "synonyms.added",
            id,
            serde_json::json!({ "terms": terms }),
        )
        .await?;
        self.commit(tx).await?;
        Ok(id)
    }

    /// Replaces a group's terms; false when there is no such group.
    pub async fn change_synonym_group(
        &self,
        id: i64,
        terms: &[String],
        actor: &Actor,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        // The audit's "before" is what this change replaced, not what another one did.
        super::lock_row(&mut tx, "synonym_groups", id).await?;
        let before: Option<String> =
            sqlx::query_scalar("select terms from synonym_groups where id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before else {
            return Ok(false);
        };
        sqlx::query(
            "update synonym_groups set terms = $1, updated_by = $2, updated_at = $3 where id = $4",
        )
        .bind(serde_json::json!(terms).to_string())
        .bind(&actor.name)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let before: Vec<String> = serde_json::from_str(&before).unwrap_or_default();
        let detail = serde_json::json!({"before": before, "terms": terms});
        changed(&mut tx, actor, "synonyms.changed", id, detail).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// Removes a group; false when there is no such group.
    pub async fn remove_synonym_group(&self, id: i64, actor: &Actor) -> Result<bool> {
        let mut tx = self.begin().await?;
        let before: Option<String> =
            sqlx::query_scalar("delete from synonym_groups where id = $1 returning terms")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before else {
            return Ok(false);
        };
        let before: Vec<String> = serde_json::from_str(&before).unwrap_or_default();
        let detail = serde_json::json!({ "before": before });
        changed(&mut tx, actor, "synonyms.removed", id, detail).await?;
        self.commit(tx).await?;
        Ok(true)
    }
}
