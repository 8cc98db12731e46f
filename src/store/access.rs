//! Sessions, sign-in failures, training records, channel scopes and staff administration.

use serde::Serialize;
use sqlx::Row;

use super::audit::{record, Actor};
use super::staff::{token_digest, StaffMember};
use super::{now_ms, Result, Store, StoreError};

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

/// A staff account as administrators see it. A channel-limited administrator sees only accounts
/// limited to channels inside their own limit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": 3, "username": "anna", "role": "agent", "disabled": false,
    "has_password": true, "channels": [1, 4], "kind": "person", "roles": ["agent"]}))]
pub struct StaffAccount {
    pub id: i64,
    pub username: String,
    /// The first of `roles`, for clients written before several roles.
    #[schema(schema_with = crate::described::role)]
    pub role: String,
    /// Every role the account holds (issue 19).
    #[schema(schema_with = crate::described::roles)]
    pub roles: Vec<String>,
    /// A disabled account cannot sign in, and its sessions and API tokens are refused.
    pub disabled: bool,
    /// Whether a password is set (without one, only API tokens work).
    pub has_password: bool,
    /// The channel ids the person is limited to. An empty array means every channel (unlike
    /// `channels` in GET /api/v1/me, which is null then).
    pub channels: Vec<i64>,
    /// `person`: a member of staff, who signs in and is accountable by name. `service`: an
    /// integration's service account (username `service:<name>`): no password, so it cannot sign
    /// in; its token is rotated by an administrator; what it does is audited under its own name.
    #[schema(schema_with = account_kinds)]
    pub kind: String,
    /// The unit of the organisation the person belongs to (set by administrators); handovers
    /// to the unit reach them.
    pub unit: Option<String>,
}

/// `kind`'s values, as `AccountKind` (src/access) spells them; a test holds the two together.
fn account_kinds() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ACCOUNT_KINDS))
        .build()
}

/// The account kinds' stored names (`AccountKind::as_str`).
pub const ACCOUNT_KINDS: [&str; 2] = ["person", "service"];

/// The sign-in limits (README, "Signing in"), in the store's terms. A maximum of 0 means no limit.
#[derive(Debug, Clone, Copy)]
pub struct SigninLimits {
    pub window_ms: i64,
    /// Failures and pending attempts for one account, from all addresses together.
    pub per_account: usize,
    /// Failures and pending attempts for one account from one address.
    pub per_account_and_address: usize,
    /// Failures for unknown usernames recorded one by one in a window (see `window_start`).
    pub unknown_recorded: usize,
}

impl SigninLimits {
    /// When the account is free again, if one of its limits holds: once enough of the counted
    /// attempts have left the window. `from_here` and `all` are times in order.
    pub fn locked(&self, from_here: &[i64], all: &[i64]) -> Option<Locked> {
        [
            (
                from_here,
                self.per_account_and_address,
                LockScope::FromAddress,
            ),
            (all, self.per_account, LockScope::Account),
        ]
        .into_iter()
        .filter(|(ats, max, _)| *max > 0 && ats.len() >= *max)
        .map(|(ats, max, scope)| Locked {
            until: ats[ats.len() - max] + self.window_ms,
            scope,
        })
        .max_by_key(|l| l.until)
    }

    /// The start of the fixed window that caps unknown names (a sliding one would need a row per
    /// failure to know when each leaves it).
    pub fn window_start(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_ms.max(1))
    }
}

/// Which limit holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// Too many failures for the account from this address.
    FromAddress,
    /// Too many failures for the account from all addresses together.
    Account,
}

/// A refused attempt: free again at `until` (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub until: i64,
    pub scope: LockScope,
}

/// A sign-in attempt, reserved before its password is checked.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its pending row; None for an unknown name beyond the window's cap (only counted).
    pub id: Option<i64>,
    pub username: String,
    pub address: String,
    /// The enabled account of that name, if any, and its password hash (None: no password set).
    pub staff: Option<StaffMember>,
    pub password_hash: Option<String>,
}

/// The key under which sign-ins of unknown usernames are counted (`Store::reserve_signin`).
const UNKNOWN_NAMES: &str = "signin of an unknown name";

/// One recorded completion of a training module.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Completion {
    pub module: String,
    pub completed_at: i64,
    pub signed_off_by: String,
}

impl Store {
    /// Reserves a sign-in attempt before its password is checked, or refuses it while the account
    /// has too many recent failures (from this address, or from all together). Reservations are
    /// serialised per username (`lock_key`), on every instance, so the limit holds
    /// however many guesses arrive at once: a pending attempt counts like a failure until its
    /// outcome is recorded.
    pub async fn reserve_signin(
        &self,
        username: &str,
        address: &str,
        limits: &SigninLimits,
        now: i64,
    ) -> Result<Result<Attempt, Locked>> {
        let mut tx = self.begin().await?;
        super::lock_key(&mut tx, &format!("signin:{username}")).await?;
        let account = enabled_account(&mut tx, username).await?;
        let recent = sqlx::query(
            "select at, address from signin_failures \
             where username = $1 and kind <> 'overflow' and at >= $2 order by at",
        )
        .bind(username)
        .bind(now - limits.window_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut all = Vec::with_capacity(recent.len());
        let mut from_here = Vec::new();
        for row in &recent {
            let at: i64 = row.try_get("at")?;
            all.push(at);
            if row.try_get::<String, _>("address")? == address {
                from_here.push(at);
            }
        }
        if let Some(locked) = limits.locked(&from_here, &all) {
            tx.rollback().await?;
            return Ok(Err(locked));
        }
        if account.is_none() {
            // Unknown names share one cap per window: counted under one key (after the name's).
            super::lock_key(&mut tx, UNKNOWN_NAMES).await?;
        }
        let kind = if account.is_some() {
            Some("pending")
        } else if unknown_recorded_since(&mut tx, limits.window_start(now)).await?
            < limits.unknown_recorded as i64
        {
            Some("unknown_pending")
        } else {
            // Beyond the window's cap an unknown name is only counted (after its check).
            None
        };
        let id = match kind {
            Some(kind) => Some(
                sqlx::query_scalar::<_, i64>(
                    "insert into signin_failures (username, address, at, kind) \
                     values ($1, $2, $3, $4) returning id",
                )
                .bind(username)
                .bind(address)
                .bind(now)
                .bind(kind)
                .fetch_one(&mut *tx)
                .await?,
            ),
            None => None,
        };
        tx.commit().await?;
        let (staff, password_hash) = match account {
            Some((staff, hash)) => (Some(staff), hash),
            None => (None, None),
        };
        Ok(Ok(Attempt {
            id,
            username: username.to_string(),
            address: address.to_string(),
            staff,
            password_hash,
        }))
    }

    /// Gives a reservation back unchecked (the password could not be checked in time).
    pub async fn release_signin(&self, attempt: &Attempt) -> Result<()> {
        if let Some(id) = attempt.id {
            sqlx::query("delete from signin_failures where id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Records a checked attempt that failed: its reservation becomes a failure with an audit
    /// entry; an unknown name beyond the window's cap is added to the window's count, and the
    /// trail hears of that count at its 1st, 10th, 100th, ... failure.
    pub async fn record_signin_failure(
        &self,
        attempt: &Attempt,
        actor: &Actor,
        reason: &str,
        limits: &SigninLimits,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        match attempt.id {
            Some(id) => {
                let kind = if attempt.staff.is_some() {
                    "failed"
                } else {
                    "unknown"
                };
                sqlx::query("update signin_failures set kind = $1 where id = $2")
                    .bind(kind)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                // The target names the account by id when it exists (a disabled one too), like
                // every other staff entry.
                let id: Option<i64> =
                    sqlx::query_scalar("select id from staff where username = $1")
                        .bind(&attempt.username)
                        .fetch_optional(&mut *tx)
                        .await?;
                let target = id.map(|id| format!("staff:{id}"));
                record(
                    &mut tx,
                    actor,
                    "signin.failure",
                    target.as_deref(),
                    serde_json::json!({"reason": reason, "username": attempt.username}),
                )
                .await?;
            }
            None => {
                super::lock_key(&mut tx, UNKNOWN_NAMES).await?;
                let since = limits.window_start(now);
                let failures = count_overflow(&mut tx, since).await?;
                if is_power_of_ten(failures) {
                    let anonymous = Actor {
                        staff_id: None,
                        name: "anonymous".into(),
                        address: None,
                    };
                    record(
                        &mut tx,
                        &anonymous,
                        "signin.failure.flood",
                        None,
                        serde_json::json!({
                            "failures": failures,
                            "since": since,
                            "until": since + limits.window_ms,
                            "recorded_one_by_one": limits.unknown_recorded,
                            "note": "failed sign-ins for unknown usernames beyond those recorded one by one in this window, from any address; the full count is in signin_failures (kind overflow)",
                        }),
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A right password at a password change: the reservation and this address's failures for
    /// the account are cleared.
    pub async fn record_signin_success(&self, attempt: &Attempt) -> Result<()> {
        let mut tx = self.begin().await?;
        clear_attempt(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts a session for a checked attempt; the caller hands out `token` once as a cookie.
    pub async fn start_session(
        &self,
        staff: &StaffMember,
        token: &str,
        csrf: &str,
        actor: &Actor,
        attempt: &Attempt,
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
        clear_attempt(&mut tx, attempt).await?;
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
            "select id, username, role, kind, disabled_at, password_hash, unit from staff \
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
        let roles = sqlx::query(
            "select staff_id, role from staff_roles where ($1 = -1 or staff_id = $2) order by role",
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
                let mut held = Vec::new();
                for r in &roles {
                    if r.try_get::<i64, _>("staff_id")? == id {
                        held.push(r.try_get("role")?);
                    }
                }
                let first: String = r.try_get("role")?;
                let held = super::staff::held_roles(&first, held);
                Ok(StaffAccount {
                    id,
                    username: r.try_get("username")?,
                    role: first,
                    roles: held,
                    disabled: disabled.is_some(),
                    has_password: password.is_some(),
                    channels,
                    kind: r.try_get("kind")?,
                    unit: r.try_get("unit")?,
                })
            })
            .collect()
    }

    /// Changes role, disabled state and channel scope (see `change_staff`).
    pub async fn update_staff(
        &self,
        id: i64,
        role: Option<&str>,
        disabled: Option<bool>,
        channels: Option<&[i64]>,
        actor: &Actor,
    ) -> Result<()> {
        let roles = role.map(|r| [r]);
        self.change_staff(
            id,
            roles.as_ref().map(|r| &r[..]),
            disabled,
            channels,
            None,
            actor,
        )
        .await
    }

    /// Changes roles (the whole set, first role first), disabled state, channel scope and unit
    /// (`Some(None)`: no unit). A change of roles or disabling ends the person's sessions (and so
    /// their event streams); their API tokens act with the new roles from the next request.
    pub async fn change_staff(
        &self,
        id: i64,
        roles: Option<&[&str]>,
        disabled: Option<bool>,
        channels: Option<&[i64]>,
        unit: Option<Option<&str>>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        super::lock_row(&mut tx, "staff", id).await?;
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
        let mut roles_before = None;
        if let Some(roles) = roles {
            let held = super::staff::roles_in(&mut tx, id).await?;
            let mut wanted: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
            wanted.sort();
            if wanted != held || roles.first().is_some_and(|r| *r != current) {
                super::staff::give_roles(&mut tx, id, roles).await?;
                end_sessions = true;
                roles_before = Some(held);
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
        if let Some(unit) = unit {
            sqlx::query("update staff set unit = $1 where id = $2")
                .bind(unit)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if end_sessions {
            end_sessions_in(&mut tx, id, None).await?;
        }
        let mut change = serde_json::json!({"role": roles.and_then(|r| r.first()),
                                            "disabled": disabled, "channels": channels});
        if roles.is_some() {
            change["roles"] = serde_json::json!(roles);
        }
        if let Some(before) = roles_before {
            // A change of roles says what was held before, beside what is held now.
            change["roles_before"] = serde_json::json!(before);
        }
        if let Some(unit) = unit {
            change["unit"] = serde_json::json!(unit);
        }
        record(
            &mut tx,
            actor,
            "staff.updated",
            Some(&format!("staff:{id}")),
            change,
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
            return Err(StoreError::NotFound(format!(
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

/// The enabled account of a name and its password hash.
async fn enabled_account(
    tx: &mut super::Tx<'_>,
    username: &str,
) -> Result<Option<(StaffMember, Option<String>)>> {
    let row = sqlx::query(
        "select id, username, role, password_hash from staff where username = $1 and disabled_at is null",
    )
    .bind(username)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok((
            StaffMember {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                role: r.try_get("role")?,
            },
            r.try_get("password_hash")?,
        ))
    })
    .transpose()
}

/// Failures (and pending attempts) for unknown names recorded one by one since `since`.
async fn unknown_recorded_since(tx: &mut super::Tx<'_>, since: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from signin_failures where kind in ('unknown', 'unknown_pending') and at >= $1",
    )
    .bind(since)
    .fetch_one(&mut **tx)
    .await?)
}

/// Adds one to the window's count of unknown names beyond the cap; returns the new count.
async fn count_overflow(tx: &mut super::Tx<'_>, window_start: i64) -> Result<i64> {
    let counted: Option<i64> = sqlx::query_scalar(
        "update signin_failures set attempts = attempts + 1 \
         where kind = 'overflow' and at = $1 returning attempts",
    )
    .bind(window_start)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(n) = counted {
        return Ok(n);
    }
    sqlx::query(
        "insert into signin_failures (username, address, at, kind, attempts) \
         values ('', '', $1, 'overflow', 1)",
    )
    .bind(window_start)
    .execute(&mut **tx)
    .await?;
    Ok(1)
}

fn is_power_of_ten(mut n: i64) -> bool {
    while n >= 10 && n % 10 == 0 {
        n /= 10;
    }
    n == 1
}

/// A right password clears its reservation and the account's failures from that address. The
/// failures from other addresses stay: a right password here says nothing about guesses made
/// elsewhere, and their pending attempts must still become failures.
async fn clear_attempt(tx: &mut super::Tx<'_>, attempt: &Attempt) -> Result<()> {
    if let Some(id) = attempt.id {
        sqlx::query("delete from signin_failures where id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "delete from signin_failures where username = $1 and address = $2 and kind in ('failed', 'unknown')",
    )
    .bind(&attempt.username)
    .bind(&attempt.address)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SigninLimits = SigninLimits {
        window_ms: 1000,
        per_account: 4,
        per_account_and_address: 2,
        unknown_recorded: 10,
    };

    #[test]
    fn an_account_is_free_again_when_enough_failures_have_left_the_window() {
        assert_eq!(LIMITS.locked(&[5], &[1, 2, 5]), None);
        assert_eq!(
            LIMITS.locked(&[3, 5], &[3, 5]),
            Some(Locked {
                until: 1003,
                scope: LockScope::FromAddress
            })
        );
        // The later of the two limits decides.
        assert_eq!(
            LIMITS.locked(&[3, 9], &[1, 2, 3, 9]),
            Some(Locked {
                until: 1003,
                scope: LockScope::FromAddress
            })
        );
        assert_eq!(
            LIMITS.locked(&[9], &[1, 2, 7, 9, 11]),
            Some(Locked {
                until: 1002,
                scope: LockScope::Account
            })
        );
        let unlimited = SigninLimits {
            per_account: 0,
            per_account_and_address: 0,
            ..LIMITS
        };
        assert_eq!(unlimited.locked(&[1, 2, 3], &[1, 2, 3]), None);
    }

    #[test]
    fn unknown_names_are_capped_in_fixed_windows_and_counted_in_powers_of_ten() {
        assert_eq!(LIMITS.window_start(2500), 2000);
        assert_eq!(LIMITS.window_start(2000), 2000);
        let marks: Vec<i64> = (1..=2000).filter(|n| is_power_of_ten(*n)).collect();
        assert_eq!(marks, [1, 10, 100, 1000]);
    }
}
