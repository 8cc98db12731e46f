//! Staff accounts and their API tokens. Tokens are stored only as SHA-256 digests.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::audit::{record, Actor};
use super::{now_ms, Result, Store, StoreError};

#[derive(Debug, Clone, serde::Serialize)]
pub struct StaffMember {
    pub id: i64,
    pub username: String,
    pub role: String,
}

impl Store {
    pub async fn add_staff(
        &self,
        username: &str,
        role: &str,
        password_hash: Option<&str>,
        actor: &Actor,
    ) -> Result<StaffMember> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into staff (username, role, password_hash, created_at) values ($1, $2, $3, $4) \
             on conflict (username) do nothing returning id",
        )
        .bind(username)
        .bind(role)
        .bind(password_hash)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        match id {
            Some(id) => {
                record(
                    &mut tx,
                    actor,
                    "staff.added",
                    Some(&format!("staff:{id}")),
                    serde_json::json!({"role": role, "username": username}),
                )
                .await?;
                tx.commit().await?;
                Ok(StaffMember {
                    id,
                    username: username.to_string(),
                    role: role.to_string(),
                })
            }
            None => Err(StoreError::Invalid(format!(
                "a staff member named {username:?} already exists"
            ))),
        }
    }

    pub async fn staff_by_username(&self, username: &str) -> Result<Option<StaffMember>> {
        let row = sqlx::query(
            "select id, username, role from staff where username = $1 and disabled_at is null",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| staff_from_row(&r)).transpose()
    }

    pub async fn staff_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from staff")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Stores a new token for the staff member; the caller shows the token once and forgets it.
    pub async fn add_api_token(&self, staff_id: i64, token: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "insert into api_tokens (staff_id, token_hash, created_at) values ($1, $2, $3)",
        )
        .bind(staff_id)
        .bind(token_digest(token))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "token.created",
            Some(&format!("staff:{staff_id}")),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn staff_by_token(&self, token: &str) -> Result<Option<StaffMember>> {
        self.staff_by_token_digest(&token_digest(token)).await
    }

    /// The live token's holder by the token's digest (long-lived streams keep only the digest).
    pub async fn staff_by_token_digest(&self, digest: &str) -> Result<Option<StaffMember>> {
        let row = sqlx::query(
            "select s.id, s.username, s.role from api_tokens t join staff s on s.id = t.staff_id \
             where t.token_hash = $1 and t.revoked_at is null and s.disabled_at is null",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| staff_from_row(&r)).transpose()
    }

    /// Revokes every API token of a staff member; returns how many were live.
    pub async fn revoke_tokens(&self, staff_id: i64, actor: &Actor) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "update api_tokens set revoked_at = $1 where staff_id = $2 and revoked_at is null",
        )
        .bind(now_ms())
        .bind(staff_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        record(
            &mut tx,
            actor,
            "token.revoked",
            Some(&format!("staff:{staff_id}")),
            serde_json::json!({"tokens": n}),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}

fn staff_from_row(row: &sqlx::any::AnyRow) -> Result<StaffMember> {
    Ok(StaffMember {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: row.try_get("role")?,
    })
}

/// Tokens are long random strings, so a fast digest suffices (no dictionary to guard against).
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
