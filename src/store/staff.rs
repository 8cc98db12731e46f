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

/// An account to add: a person, or a service account (kind "service", no password) that gets
/// its first token in the same transaction.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    /// The first (or only) role, kept in `staff.role` for readers written before several roles.
    pub role: &'a str,
    /// Every role the account holds, `role` first; empty: `role` alone.
    pub roles: &'a [&'a str],
    /// "person" or "service".
    pub kind: &'a str,
    pub password_hash: Option<&'a str>,
    /// The channels it is limited to; empty: every channel.
    pub channels: &'a [i64],
    pub token: Option<&'a str>,
}

impl Default for NewAccount<'_> {
    /// A person without a password, a limit or a token.
    fn default() -> Self {
        NewAccount {
            username: "",
            role: "",
            roles: &[],
            kind: "person",
            password_hash: None,
            channels: &[],
            token: None,
        }
    }
}

impl Store {
    /// Adds a person (the command line and tests; the API adds with `add_account`).
    pub async fn add_staff(
        &self,
        username: &str,
        role: &str,
        password_hash: Option<&str>,
        actor: &Actor,
    ) -> Result<StaffMember> {
        self.add_account(
            &NewAccount {
                username,
                role,
                password_hash,
                ..Default::default()
            },
            actor,
        )
        .await
    }

    /// Adds an account with its channel limit (and a service account's token) at once, so an
    /// account never exists, even for a moment, with every channel when it was meant to have some.
    pub async fn add_account(&self, new: &NewAccount<'_>, actor: &Actor) -> Result<StaffMember> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into staff (username, role, kind, password_hash, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (username) do nothing returning id",
        )
        .bind(new.username)
        .bind(new.role)
        .bind(new.kind)
        .bind(new.password_hash)
        .bind(now_ms())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(StoreError::Conflict(format!(
                "a staff member named {:?} already exists; choose another name",
                new.username
            )));
        };
        super::access::limit_to_channels(&mut tx, id, new.channels).await?;
        let roles = if new.roles.is_empty() {
            std::slice::from_ref(&new.role)
        } else {
            new.roles
        };
        give_roles(&mut tx, id, roles).await?;
        record(
            &mut tx,
            actor,
            "staff.added",
            Some(&format!("staff:{id}")),
            serde_json::json!({"role": new.role, "roles": roles, "username": new.username,
                               "kind": new.kind, "channels": new.channels}),
        )
        .await?;
        if let Some(token) = new.token {
            insert_token(&mut tx, id, token, actor).await?;
        }
        tx.commit().await?;
        Ok(StaffMember {
            id,
            username: new.username.to_string(),
            role: new.role.to_string(),
        })
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

    /// The roles an account holds (stored names; `access::Roles::parse_all` orders them), as
    /// `held_roles` reconciles them with `staff.role`.
    pub async fn staff_roles(&self, staff_id: i64) -> Result<Vec<String>> {
        let first: Option<String> = sqlx::query_scalar("select role from staff where id = $1")
            .bind(staff_id)
            .fetch_optional(&self.pool)
            .await?;
        let held: Vec<String> =
            sqlx::query_scalar("select role from staff_roles where staff_id = $1 order by role")
                .bind(staff_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(match first {
            Some(first) => held_roles(&first, held),
            None => Vec::new(),
        })
    }

    pub async fn staff_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select count(*) from staff")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Stores a new token for the staff member; the caller shows the token once and forgets it.
    pub async fn add_api_token(&self, staff_id: i64, token: &str, actor: &Actor) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_token(&mut tx, staff_id, token, actor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many of an account's tokens still work.
    pub async fn live_tokens(&self, staff_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "select count(*) from api_tokens where staff_id = $1 and revoked_at is null",
        )
        .bind(staff_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Replaces every live token of an account with a new one (a service account's rotation):
    /// the old ones stop working in the same transaction. Returns how many were revoked.
    pub async fn rotate_token(&self, staff_id: i64, token: &str, actor: &Actor) -> Result<u64> {
        let mut tx = self.begin().await?;
        // Two rotations at once leave one live token, not one each.
        super::lock_row(&mut tx, "staff", staff_id).await?;
        let revoked = revoke_in(&mut tx, staff_id).await?;
        insert_token(&mut tx, staff_id, token, actor).await?;
        record(
            &mut tx,
            actor,
            "token.revoked",
            Some(&format!("staff:{staff_id}")),
            serde_json::json!({"tokens": revoked, "rotated": true}),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked)
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

    /// Everything a request with this API token needs to know of its caller, in one statement:
    /// the owner (when the token is live and the account enabled), their roles, training
    /// completions and channel scope. A request's own reads cost as much as their answers, so
    /// four of them one after another were most of what authenticating took.
    pub async fn caller_by_token_digest(&self, digest: &str) -> Result<Option<CallerRecord>> {
        let rows = sqlx::query(
            "select 1 as part, s.id as number, s.username as first, s.role as second \
               from api_tokens t join staff s on s.id = t.staff_id \
               where t.token_hash = $1 and t.revoked_at is null and s.disabled_at is null \
             union all select 2, null, r.role, null \
               from api_tokens t join staff_roles r on r.staff_id = t.staff_id where t.token_hash = $2 \
             union all select 3, c.completed_at, c.module, c.signed_off_by_name \
               from api_tokens t join training_completions c on c.staff_id = t.staff_id \
               where t.token_hash = $3 \
             union all select 4, sc.channel_id, null, null \
               from api_tokens t join staff_channels sc on sc.staff_id = t.staff_id \
               where t.token_hash = $4",
        )
        .bind(digest)
        .bind(digest)
        .bind(digest)
        .bind(digest)
        .fetch_all(&self.pool)
        .await?;
        let mut staff = None;
        let (mut held, mut completions, mut channels) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let part: i64 = row.try_get("part")?;
            match part {
                1 => {
                    staff = Some(StaffMember {
                        id: row.try_get("number")?,
                        username: row.try_get("first")?,
                        role: row.try_get("second")?,
                    })
                }
                2 => held.push(row.try_get("first")?),
                3 => completions.push(super::access::Completion {
                    module: row.try_get("first")?,
                    completed_at: row.try_get("number")?,
                    signed_off_by: row.try_get("second")?,
                }),
                _ => channels.push(row.try_get::<i64, _>("number")?),
            }
        }
        // A revoked token or a disabled account has no owner row: the rest is not theirs to use.
        let Some(staff) = staff else { return Ok(None) };
        channels.sort_unstable();
        Ok(Some(CallerRecord {
            roles: held_roles(&staff.role, held),
            staff,
            completions,
            channel_scope: (!channels.is_empty()).then_some(channels),
        }))
    }

    /// Revokes every API token of a staff member; returns how many were live.
    pub async fn revoke_tokens(&self, staff_id: i64, actor: &Actor) -> Result<u64> {
        let mut tx = self.begin().await?;
        let n = revoke_in(&mut tx, staff_id).await?;
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

/// Gives an account these roles, replacing what it held; `staff.role` keeps the first of them.
/// Within the caller's transaction, so two changes at once end with one set or the other, whole.
pub(super) async fn give_roles(
    tx: &mut super::Tx<'_>,
    staff_id: i64,
    roles: &[&str],
) -> Result<()> {
    let Some(first) = roles.first() else {
        return Err(StoreError::Invalid(
            "an account holds at least one role".into(),
        ));
    };
    sqlx::query("delete from staff_roles where staff_id = $1")
        .bind(staff_id)
        .execute(&mut **tx)
        .await?;
    for role in roles {
        sqlx::query("insert into staff_roles (staff_id, role) values ($1, $2)")
            .bind(staff_id)
            .bind(*role)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("update staff set role = $1 where id = $2")
        .bind(*first)
        .bind(staff_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The roles' order, first to last: `access::Role::ALL`'s (the store imports no capability; a
/// test in src/access/mod.rs holds the two together).
pub const ROLE_ORDER: [&str; 6] = [
    "agent",
    "communicator",
    "moderator",
    "admin",
    "auditor",
    "integration",
];

/// What an account holds, given `staff.role` and its `staff_roles` rows. Writers since several
/// roles keep `staff.role` the first of the rows; an instance from before them (still serving
/// during a rolling upgrade, README "Upgrades") writes `staff.role` alone, for a new account or
/// a change of role (only to a role other than the one it sees, the first). So rows whose first
/// is not `staff.role` (or no rows) are out of date, and `staff.role` alone is what the account
/// holds: roles changed by an older instance are changed here too.
pub fn held_roles(first: &str, mut held: Vec<String>) -> Vec<String> {
    let rows_first = ROLE_ORDER.iter().find(|r| held.iter().any(|h| h == *r));
    let agrees = rows_first.is_some_and(|r| *r == first)
        && held.iter().all(|h| ROLE_ORDER.contains(&h.as_str()));
    if agrees {
        held.sort();
        held
    } else {
        vec![first.to_string()]
    }
}

/// The roles an account holds, read within a transaction.
pub(super) async fn roles_in(tx: &mut super::Tx<'_>, staff_id: i64) -> Result<Vec<String>> {
    let first: String = sqlx::query_scalar("select role from staff where id = $1")
        .bind(staff_id)
        .fetch_one(&mut **tx)
        .await?;
    let held: Vec<String> =
        sqlx::query_scalar("select role from staff_roles where staff_id = $1 order by role")
            .bind(staff_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(held_roles(&first, held))
}

async fn insert_token(
    tx: &mut super::Tx<'_>,
    staff_id: i64,
    token: &str,
    actor: &Actor,
) -> Result<()> {
    sqlx::query("insert into api_tokens (staff_id, token_hash, created_at) values ($1, $2, $3)")
        .bind(staff_id)
        .bind(token_digest(token))
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    record(
        tx,
        actor,
        "token.created",
        Some(&format!("staff:{staff_id}")),
        serde_json::json!({}),
    )
    .await
}

async fn revoke_in(tx: &mut super::Tx<'_>, staff_id: i64) -> Result<u64> {
    Ok(sqlx::query(
        "update api_tokens set revoked_at = $1 where staff_id = $2 and revoked_at is null",
    )
    .bind(now_ms())
    .bind(staff_id)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A caller as the store knows them (`Store::caller_by_token_digest`).
#[derive(Debug, Clone)]
pub struct CallerRecord {
    pub staff: StaffMember,
    /// Every role held, as `Store::staff_roles` gives them.
    pub roles: Vec<String>,
    pub completions: Vec<super::access::Completion>,
    /// As `Store::channel_scope`: None for every channel.
    pub channel_scope: Option<Vec<i64>>,
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
