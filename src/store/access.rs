//! Sessions, sign-in failures, training records, channel scopes and staff administration.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::staff::{token_digest, StaffMember};
use super::{now_ms, Result, Store, StoreError};
use crate::access::training::Completion;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub staff: StaffMember,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionTimes {
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaffAccount {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub disabled: bool,
    pub has_password: bool,
    /// Empty: every channel.
    pub channels: Vec<i64>,
    /// "person" or "service" (an integration's account: no password, audited under its name).
    pub kind: String,
}

impl Store {
    pub async fn password_hash(
        &self,
        username: &str,
    ) -> Result<Option<(StaffMember, Option<String>)>> {
        let row = sqlx::query(
            "select id, username, role, password_hash from staff where username = $1 and disabled_at is null",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some((
                StaffMember {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    role: r.try_get("role")?,
                },
                r.try_get("password_hash")?,
            ))),
            None => Ok(None),
        }
    }

    /// Failed sign-ins since `since`, for one account and for one address.
    pub async fn signin_failures(
        &self,
        username: &str,
        address: &str,
        since: i64,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let by_account: Vec<i64> = sqlx::query_scalar(
            "select at from signin_failures where username = $1 and at >= $2 order by at",
        )
        .bind(username)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let by_address: Vec<i64> = sqlx::query_scalar(
            "select at from signin_failures where address = $1 and at >= $2 order by at",
        )
        .bind(address)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok((by_account, by_address))
    }

    pub async fn record_signin_failure(
        &self,
        username: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("insert into signin_failures (username, address, at) values ($1, $2, $3)")
            .bind(username)
            .bind(actor.address.as_deref().unwrap_or(""))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        // The target names the account by id when it exists, like every other staff entry.
        let id: Option<i64> = sqlx::query_scalar("select id from staff where username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        let target = id.map(|id| format!("staff:{id}"));
        record(
            &mut tx,
            actor,
            "signin.failure",
            target.as_deref(),
            serde_json::json!({"reason": reason, "username": username}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a session; the caller hands out `token` once as a cookie.
    pub async fn start_session(
        &self,
        staff: &StaffMember,
        token: &str,
        csrf: &str,
        actor: &Actor,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query(
            "insert into sessions (token_hash, staff_id, csrf_token, address, created_at, last_seen_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_digest(token))
        .bind(staff.id)
        .bind(csrf)
        .bind(actor.address.as_deref())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // A successful sign-in clears the account's failures.
        sqlx::query("delete from signin_failures where username = $1")
            .bind(&staff.username)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            actor,
            "signin.success",
            Some(&format!("staff:{}", staff.id)),
            serde_json::json!({"username": staff.username}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session_by_token(&self, token: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "select se.id, se.csrf_token, se.created_at, se.last_seen_at, s.id as staff_id, s.username, s.role \
             from sessions se join staff s on s.id = se.staff_id \
             where se.token_hash = $1 and se.ended_at is null and s.disabled_at is null",
        )
        .bind(token_digest(token))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Session {
                id: r.try_get("id")?,
                staff: StaffMember {
                    id: r.try_get("staff_id")?,
                    username: r.try_get("username")?,
                    role: r.try_get("role")?,
                },
                csrf_token: r.try_get("csrf_token")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    /// When an open session began and was last used; None once it has ended (sign-out, a
    /// password or role change, disabling). Expiry by time is for the caller to judge.
    pub async fn open_session_times(&self, id: i64) -> Result<Option<SessionTimes>> {
        let row = sqlx::query(
            "select created_at, last_seen_at from sessions where id = $1 and ended_at is null",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionTimes {
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
            })
        })
        .transpose()
    }

    pub async fn touch_session(&self, id: i64) -> Result<()> {
        sqlx::query("update sessions set last_seen_at = $1 where id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn end_session(&self, id: i64, actor: &Actor, reason: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("update sessions set ended_at = $1 where id = $2 and ended_at is null")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            actor,
            reason,
            Some(&format!("session:{id}")),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes a password and ends the person's other sessions.
    pub async fn change_password(
        &self,
        staff_id: i64,
        hash: &str,
        keep_session: Option<i64>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("update staff set password_hash = $1 where id = $2")
            .bind(hash)
            .bind(staff_id)
            .execute(&mut *tx)
            .await?;
        end_sessions_in(&mut tx, staff_id, keep_session).await?;
        record(
            &mut tx,
            actor,
            "staff.password_changed",
            Some(&format!("staff:{staff_id}")),
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn completions(&self, staff_id: i64) -> Result<Vec<Completion>> {
        let rows = sqlx::query(
            "select module, completed_at, signed_off_by_name from training_completions where staff_id = $1",
        )
        .bind(staff_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Completion {
                    module: r.try_get("module")?,
                    completed_at: r.try_get("completed_at")?,
                    signed_off_by: r.try_get("signed_off_by_name")?,
                })
            })
            .collect()
    }

    pub async fn record_completion(
        &self,
        staff_id: i64,
        module: &str,
        completed_at: i64,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "insert into training_completions (staff_id, module, completed_at, signed_off_by, signed_off_by_name, created_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(staff_id)
        .bind(module)
        .bind(completed_at)
        .bind(actor.staff_id)
        .bind(&actor.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            actor,
            "training.completed",
            Some(&format!("staff:{staff_id}")),
            serde_json::json!({"module": module, "completed_at": completed_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The channels a staff member is limited to; None means every channel.
    pub async fn channel_scope(&self, staff_id: i64) -> Result<Option<Vec<i64>>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select channel_id from staff_channels where staff_id = $1 order by channel_id",
        )
        .bind(staff_id)
        .fetch_all(&self.pool)
        .await?;
        Ok((!ids.is_empty()).then_some(ids))
    }

    pub async fn staff_accounts(&self) -> Result<Vec<StaffAccount>> {
        self.accounts(None).await
    }

    pub async fn staff_account(&self, id: i64) -> Result<Option<StaffAccount>> {
        Ok(self.accounts(Some(id)).await?.into_iter().next())
    }

    /// Every account, or the one with `id`.
    async fn accounts(&self, id: Option<i64>) -> Result<Vec<StaffAccount>> {
        let rows = sqlx::query(
            "select id, username, role, kind, disabled_at, password_hash from staff \
             where ($1 = -1 or id = $2) order by username",
        )
        .bind(id.unwrap_or(-1))
        .bind(id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        let scopes = sqlx::query(
            "select staff_id, channel_id from staff_channels where ($1 = -1 or staff_id = $2) \
             order by channel_id",
        )
        .bind(id.unwrap_or(-1))
        .bind(id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let disabled: Option<i64> = r.try_get("disabled_at")?;
                let password: Option<String> = r.try_get("password_hash")?;
                let mut channels = Vec::new();
                for s in &scopes {
                    if s.try_get::<i64, _>("staff_id")? == id {
                        channels.push(s.try_get("channel_id")?);
                    }
                }
                Ok(StaffAccount {
                    id,
                    username: r.try_get("username")?,
                    role: r.try_get("role")?,
                    disabled: disabled.is_some(),
                    has_password: password.is_some(),
                    channels,
                    kind: r.try_get("kind")?,
                })
            })
            .collect()
    }

    /// Changes role, disabled state and channel scope. A role change or disabling ends the
    /// person's sessions (and so their event streams).
    pub async fn update_staff(
        &self,
        id: i64,
        role: Option<&str>,
        disabled: Option<bool>,
        channels: Option<&[i64]>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let current: Option<String> = sqlx::query_scalar("select role from staff where id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(current) = current else {
            return Err(StoreError::Invalid(format!(
                "there is no staff member {id}"
            )));
        };
        let mut end_sessions = false;
        if let Some(role) = role {
            if role != current {
                sqlx::query("update staff set role = $1 where id = $2")
                    .bind(role)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                end_sessions = true;
            }
        }
        if let Some(disabled) = disabled {
            let at = disabled.then(now_ms);
            sqlx::query("update staff set disabled_at = $1 where id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            end_sessions |= disabled;
            if disabled {
                // A disabled account's tokens stay dead even if the account is enabled again.
                sqlx::query("update api_tokens set revoked_at = $1 where staff_id = $2 and revoked_at is null")
                    .bind(now_ms())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if let Some(channels) = channels {
            sqlx::query("delete from staff_channels where staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            limit_to_channels(&mut tx, id, channels).await?;
        }
        if end_sessions {
            end_sessions_in(&mut tx, id, None).await?;
        }
        record(
            &mut tx,
            actor,
            "staff.updated",
            Some(&format!("staff:{id}")),
            serde_json::json!({"role": role, "disabled": disabled, "channels": channels}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Adds channels to an account's limit (none: the limit stays as it is); an unknown channel
/// rolls the whole change back.
pub(super) async fn limit_to_channels(
    tx: &mut super::Tx<'_>,
    staff_id: i64,
    channels: &[i64],
) -> Result<()> {
    for channel in channels {
        let known: Option<i64> = sqlx::query_scalar("select id from channels where id = $1")
            .bind(channel)
            .fetch_optional(&mut **tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::Invalid(format!(
                "there is no channel {channel}"
            )));
        }
        sqlx::query("insert into staff_channels (staff_id, channel_id) values ($1, $2)")
            .bind(staff_id)
            .bind(channel)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn end_sessions_in(tx: &mut super::Tx<'_>, staff_id: i64, keep: Option<i64>) -> Result<()> {
    sqlx::query(
        "update sessions set ended_at = $1 where staff_id = $2 and ended_at is null and id <> $3",
    )
    .bind(now_ms())
    .bind(staff_id)
    .bind(keep.unwrap_or(-1))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
