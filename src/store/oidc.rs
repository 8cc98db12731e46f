//! OpenID Connect sign-in's rows: sign-ins started and not yet finished (each taken once, so a
//! state cannot be replayed, on any instance), and staff members known by the provider's issuer
//! and subject, whose role and channel limit follow the provider's groups at every sign-in.

use sqlx::Row;

use super::access::limit_to_channels;
use super::audit::{record, Actor};
use super::staff::{token_digest, StaffMember};
use super::{now_ms, Result, Store, StoreError};

/// A sign-in started at the provider: what the callback must find again.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub nonce: String,
    pub verifier: String,
    pub created_at: i64,
}

/// Who the provider says signed in, and what their groups map to.
#[derive(Debug, Clone)]
pub struct ProviderIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// The name to give a new account (preferred_username, e-mail or subject).
    pub name: &'a str,
    /// Every role the person's groups give, in `Roles`' order (the first is kept in `staff.role`).
    pub roles: &'a [&'a str],
    /// Channels as `platform:platform_id`; empty: every channel.
    pub channels: &'a [String],
}

/// A new session's secrets, as for a password sign-in.
pub struct NewSession<'a> {
    pub token: &'a str,
    pub csrf: &'a str,
}

/// Why the store refused an identity the provider vouched for.
#[derive(Debug)]
pub enum Refusal {
    Disabled,
    UnknownChannel(String),
}

impl Store {
    /// Stores a started sign-in unless `max_pending` are already waiting; forgets those older
    /// than `lifetime_ms` first. Returns false when too many wait (an anonymous flood).
    pub async fn begin_oidc_login(
        &self,
        state_hash: &str,
        pending: &PendingLogin,
        lifetime_ms: i64,
        max_pending: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("delete from oidc_logins where created_at < $1")
            .bind(pending.created_at - lifetime_ms)
            .execute(&mut *tx)
            .await?;
        let waiting: i64 = sqlx::query_scalar("select count(*) from oidc_logins")
            .fetch_one(&mut *tx)
            .await?;
        if waiting >= max_pending {
            return Ok(false);
        }
        sqlx::query(
            "insert into oidc_logins (state_hash, nonce, verifier, created_at) values ($1, $2, $3, $4)",
        )
        .bind(state_hash)
        .bind(&pending.nonce)
        .bind(&pending.verifier)
        .bind(pending.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes a started sign-in by its state's digest: the row is gone afterwards, so a second
    /// callback with the same state finds nothing.
    pub async fn take_oidc_login(&self, state_hash: &str) -> Result<Option<PendingLogin>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "delete from oidc_logins where state_hash = $1 returning nonce, verifier, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(PendingLogin {
                nonce: r.try_get("nonce")?,
                verifier: r.try_get("verifier")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Finds (or adds) the account of a provider's subject, brings its role and channel limit
    /// in line with the provider's groups, and starts a session, in one transaction. A role or
    /// limit that changed ends the account's other sessions, as an administrator's change does.
    pub async fn oidc_sign_in(
        &self,
        who: &ProviderIdentity<'_>,
        session: &NewSession<'_>,
        address: Option<&str>,
    ) -> Result<std::result::Result<StaffMember, Refusal>> {
        let mut tx = self.begin().await?;
        let mut channels = Vec::new();
        for reference in who.channels {
            match channel_by_reference(&mut tx, reference).await? {
                Some(id) => channels.push(id),
                None => return Ok(Err(Refusal::UnknownChannel(reference.clone()))),
            }
        }
        let found = sqlx::query(
            "select id, username, role, disabled_at from staff where oidc_issuer = $1 and oidc_subject = $2",
        )
        .bind(who.issuer)
        .bind(who.subject)
        .fetch_optional(&mut *tx)
        .await?;
        let staff = match found {
            Some(row) => {
                if row.try_get::<Option<i64>, _>("disabled_at")?.is_some() {
                    return Ok(Err(Refusal::Disabled));
                }
                let staff = StaffMember {
                    id: row.try_get("id")?,
                    username: row.try_get("username")?,
                    role: row.try_get("role")?,
                };
                sync_access(&mut tx, &staff, who.roles, &channels, address).await?
            }
            None => add_provider_account(&mut tx, who, &channels, address).await?,
        };
        let now = now_ms();
        sqlx::query(
            "insert into sessions (token_hash, staff_id, csrf_token, address, created_at, last_seen_at) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_digest(session.token))
        .bind(staff.id)
        .bind(session.csrf)
        .bind(address)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            &actor_of(&staff, address),
            "signin.success",
            Some(&format!("staff:{}", staff.id)),
            serde_json::json!({"username": staff.username, "method": "oidc"}),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(staff))
    }
}

fn actor_of(staff: &StaffMember, address: Option<&str>) -> Actor {
    Actor {
        staff_id: Some(staff.id),
        name: staff.username.clone(),
        address: address.map(str::to_string),
    }
}

/// A channel named `platform:platform_id` in the mapping, as registered.
async fn channel_by_reference(tx: &mut super::Tx<'_>, reference: &str) -> Result<Option<i64>> {
    let Some((platform, platform_id)) = reference.split_once(':') else {
        return Ok(None);
    };
    Ok(
        sqlx::query_scalar("select id from channels where platform = $1 and platform_id = $2")
            .bind(platform)
            .bind(platform_id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The role and limit the provider's groups give now; a change is audited and ends the
/// account's sessions (the one about to start is not yet there).
async fn sync_access(
    tx: &mut super::Tx<'_>,
    staff: &StaffMember,
    roles: &[&str],
    channels: &[i64],
    address: Option<&str>,
) -> Result<StaffMember> {
    let held = super::staff::roles_in(tx, staff.id).await?;
    let mut wanted_roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    wanted_roles.sort();
    let mut current: Vec<i64> =
        sqlx::query_scalar("select channel_id from staff_channels where staff_id = $1")
            .bind(staff.id)
            .fetch_all(&mut **tx)
            .await?;
    current.sort_unstable();
    let mut wanted = channels.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let role = roles.first().copied().unwrap_or_default();
    if staff.role == role && held == wanted_roles && current == wanted {
        return Ok(staff.clone());
    }
    super::staff::give_roles(tx, staff.id, roles).await?;
    sqlx::query("delete from staff_channels where staff_id = $1")
        .bind(staff.id)
        .execute(&mut **tx)
        .await?;
    limit_to_channels(tx, staff.id, &wanted).await?;
    sqlx::query("update sessions set ended_at = $1 where staff_id = $2 and ended_at is null")
        .bind(now_ms())
        .bind(staff.id)
        .execute(&mut **tx)
        .await?;
    record(
        tx,
        &actor_of(staff, address),
        "staff.updated",
        Some(&format!("staff:{}", staff.id)),
        serde_json::json!({"role": role, "roles": roles, "roles_before": held,
                           "channels": wanted, "source": "oidc"}),
    )
    .await?;
    Ok(StaffMember {
        role: role.to_string(),
        ..staff.clone()
    })
}

/// A new account for a provider's subject: untrained, no password, under a name of its own (the
/// provider's name for them, with a suffix when a local account already has it).
async fn add_provider_account(
    tx: &mut super::Tx<'_>,
    who: &ProviderIdentity<'_>,
    channels: &[i64],
    address: Option<&str>,
) -> Result<StaffMember> {
    let base: String = who.name.chars().take(50).collect();
    let suffix = &token_digest(&format!("{}\n{}", who.issuer, who.subject))[..8];
    let mut id = None;
    for name in [base.clone(), format!("{base}-{suffix}")] {
        id = sqlx::query_scalar(
            "insert into staff (username, role, kind, password_hash, created_at, oidc_issuer, oidc_subject) \
             values ($1, $2, 'person', null, $3, $4, $5) on conflict (username) do nothing returning id",
        )
        .bind(&name)
        .bind(who.roles.first().copied().unwrap_or_default())
        .bind(now_ms())
        .bind(who.issuer)
        .bind(who.subject)
        .fetch_optional(&mut **tx)
        .await?
        .map(|id: i64| (id, name));
        if id.is_some() {
            break;
        }
    }
    let Some((id, username)) = id else {
        return Err(StoreError::Conflict(format!(
            "the names {base:?} and {base}-{suffix} are both taken by other accounts"
        )));
    };
    limit_to_channels(tx, id, channels).await?;
    super::staff::give_roles(tx, id, who.roles).await?;
    let staff = StaffMember {
        id,
        username,
        role: who.roles.first().copied().unwrap_or_default().to_string(),
    };
    record(
        tx,
        &actor_of(&staff, address),
        "staff.added",
        Some(&format!("staff:{id}")),
        serde_json::json!({"role": staff.role, "roles": who.roles, "username": staff.username, "kind": "person",
                           "channels": channels, "source": "oidc"}),
    )
    .await?;
    Ok(staff)
}
