//! Staff administration: accounts, roles, channel limits, training records and API tokens, and
//! service accounts for integrations.
//!
//! An administrator's powers are bounded, so that no one widens what they may see:
//! - a channel-limited administrator reaches only accounts limited to channels inside their own
//!   limit. Everyone else does not exist for them: 404 on every route, and left out of the list.
//!   Hidden rather than shown read-only, as every other object outside a channel limit is hidden,
//!   and because such an account's channels and training record concern work the administrator
//!   has no part in (staff's personal data, kept to those who need it);
//! - nobody changes their own channel limit, and a limited administrator gives only channels
//!   inside their own limit, never "every channel" (an empty list);
//! - nobody signs off their own training (another administrator does: the trainer's job);
//! - an API token acts as its holder, so only the holder mints one (`POST /api/v1/me/tokens`).
//!   An integration gets a service account: created by an administrator with only the role it
//!   needs, no password, its token shown once at creation and rotation, and everything it does
//!   audited under its own name (`service:<name>`), never a person's. The operator on the
//!   machine keeps `tavla token create` (src/cli.rs).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::access::{hash_password_in, new_token, AccountKind, Role, Roles};
use crate::store::access::StaffAccount;
use crate::store::now_ms;
use crate::store::staff::NewAccount;

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<impl IntoResponse> {
    let now = now_ms();
    let mut items = Vec::new();
    for account in state.store.staff_accounts().await? {
        if !caller.reaches(&account.channels) {
            continue;
        }
        let completions = state.store.completions(account.id).await?;
        let training = state.training.statuses(&completions, now);
        let per_role = Roles::parse_all(&account.roles)
            .map(|roles| {
                state
                    .training
                    .effective(&roles, &completions, now)
                    .per_role(&roles)
            })
            .unwrap_or_default();
        items.push(json!({"account": account, "per_role": per_role, "training": training}));
    }
    Ok(axum::Json(json!({"items": items})))
}

/// The account, if the caller may administer it; otherwise, as when there is none, 404.
async fn reachable(state: &AppState, caller: &Caller, id: i64) -> Result<StaffAccount> {
    state
        .store
        .staff_account(id)
        .await?
        .filter(|a| caller.reaches(&a.channels))
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))
}

fn kind_of(account: &StaffAccount) -> AccountKind {
    AccountKind::parse(&account.kind).unwrap_or(AccountKind::Person)
}

/// The channels to give an account, if the caller may give them: anything for an unlimited
/// caller; for a limited one, some channels, all inside their own limit.
fn grantable(caller: &Caller, channels: &[i64]) -> Result<Vec<i64>> {
    let mut channels = channels.to_vec();
    channels.sort_unstable();
    channels.dedup();
    if caller.reaches(&channels) {
        return Ok(channels);
    }
    let own = caller
        .scope
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    Err(AppError::forbidden(if channels.is_empty() {
        format!(
            "an account without channels works with every channel, and you administer only channels {own}; give `channels` from those"
        )
    } else {
        format!("you can give only channels inside your own limit: {own}")
    }))
}

/// Refuses roles the account's kind may not hold (a service account holds exactly one).
fn check_fit(roles: &Roles, kind: AccountKind) -> Result<()> {
    roles.fit(kind).map_err(AppError::unprocessable)
}

/// The roles asked for: `roles` (one or more, no repeats), or `role` as clients written before
/// several roles send it (one role, `[role]`). Both at once are refused rather than one
/// silently winning.
fn asked_roles(role: Option<&str>, roles: Option<&[String]>) -> Result<Option<Roles>> {
    match (role, roles) {
        (Some(_), Some(_)) => Err(AppError::unprocessable(
            "give either `roles` (a list) or `role` (one role, as before), not both",
        )),
        (Some(role), None) => Ok(Some(Roles::one(parse_role(role)?))),
        (None, Some(names)) => {
            if names.is_empty() {
                return Err(AppError::unprocessable(
                    "`roles` needs at least one role; to take all access away, disable the account",
                ));
            }
            let parsed = names
                .iter()
                .map(|n| parse_role(n))
                .collect::<Result<Vec<Role>>>()?;
            let roles = Roles::new(parsed.iter().copied())
                .ok_or_else(|| AppError::unprocessable("`roles` needs at least one role"))?;
            if roles.len() != names.len() {
                return Err(AppError::unprocessable(
                    "`roles` names a role twice; name each once",
                ));
            }
            Ok(Some(roles))
        }
        (None, None) => Ok(None),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    username: String,
    /// One role (clients written before several roles); or
    role: Option<String>,
    /// one or more roles.
    roles: Option<Vec<String>>,
    password: Option<String>,
    /// The channels the person is limited to; every channel when absent or empty (which only an
    /// administrator without a limit may give).
    channels: Option<Vec<i64>>,
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| {
        AppError::unprocessable(
            "role must be agent, communicator, moderator, admin or auditor (integration for service accounts)",
        )
    })
}

pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewStaff>,
) -> Result<impl IntoResponse> {
    let channels = grantable(&caller, new.channels.as_deref().unwrap_or_default())?;
    let roles = asked_roles(new.role.as_deref(), new.roles.as_deref())?
        .ok_or_else(|| AppError::unprocessable("give the person's `roles` (or one `role`)"))?;
    check_fit(&roles, AccountKind::Person)?;
    let username = new.username.trim().to_string();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(AppError::unprocessable(
            "the username must be 1 to 64 characters",
        ));
    }
    if username.starts_with(AccountKind::SERVICE_PREFIX) {
        return Err(AppError::unprocessable(
            "names beginning with service: are service accounts' (POST /api/v1/service-accounts); choose another username",
        ));
    }
    let hash = match new.password {
        Some(p) if p.chars().count() < 12 => {
            return Err(AppError::unprocessable(
                "the password must have at least 12 characters",
            ))
        }
        Some(p) => {
            // Hashed in the same few slots as sign-ins, so administrators cannot be used to
            // exhaust memory either.
            super::session::check_length(&p, "the password")?;
            let hashed = state
                .password_hashing
                .run(move |memory| hash_password_in(&p, memory))
                .await
                .map_err(|e| super::session::busy(e, &state.settings))?;
            Some(hashed.map_err(AppError::internal)?)
        }
        None => None,
    };
    let staff = state
        .store
        .add_account(
            &NewAccount {
                username: &username,
                role: roles.primary().as_str(),
                roles: &roles.names(),
                kind: AccountKind::Person.as_str(),
                password_hash: hash.as_deref(),
                channels: &channels,
                token: None,
            },
            &caller.actor(),
        )
        .await?;
    let mut staff = json!(staff);
    staff["roles"] = json!(roles);
    Ok((StatusCode::CREATED, axum::Json(json!({"staff": staff}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    /// Lowercase letters, digits and hyphens (2 to 48): the account is named `service:<name>`.
    name: String,
    /// `integration` when absent: it submits messages and reads nothing. Another role only
    /// deliberately (a reading role also needs its training signed off); never admin.
    role: Option<String>,
    /// The channels it is limited to; every channel when absent or empty.
    channels: Option<Vec<i64>>,
}

fn valid_service_name(name: &str) -> bool {
    (2..=48).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// Creates an integration's own account and shows its token this once.
pub async fn add_service_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewServiceAccount>,
) -> Result<impl IntoResponse> {
    let channels = grantable(&caller, new.channels.as_deref().unwrap_or_default())?;
    let role = match new.role.as_deref() {
        Some(role) => parse_role(role)?,
        None => Role::Integration,
    };
    check_fit(&Roles::one(role), AccountKind::Service)?;
    if !valid_service_name(&new.name) {
        return Err(AppError::unprocessable(
            "the name must be 2 to 48 lowercase letters, digits and hyphens, e.g. crm-import",
        ));
    }
    let username = format!("{}{}", AccountKind::SERVICE_PREFIX, new.name);
    let token = new_token();
    let staff = state
        .store
        .add_account(
            &NewAccount {
                username: &username,
                role: role.as_str(),
                roles: &[],
                kind: AccountKind::Service.as_str(),
                password_hash: None,
                channels: &channels,
                token: Some(&token),
            },
            &caller.actor(),
        )
        .await?;
    let account = reachable(&state, &caller, staff.id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"account": account, "token": token})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    /// One role (clients written before several roles); or
    role: Option<String>,
    /// the whole set of roles, replacing what the person holds.
    roles: Option<Vec<String>>,
    disabled: Option<bool>,
    /// The channels the person is limited to; an empty list means every channel.
    channels: Option<Vec<i64>>,
    /// The unit the person belongs to (one of the units handovers go to); null or "" for none.
    #[serde(default, deserialize_with = "present")]
    unit: Option<Option<String>>,
}

/// Tells a field given as null (`Some(None)`) from one left out (`None`).
pub(super) fn present<'de, D>(d: D) -> std::result::Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// The unit to set, trimmed, if it is one conversations are handed to.
fn checked_unit(state: &AppState, unit: Option<&str>) -> Result<Option<String>> {
    let Some(unit) = unit.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if unit.chars().count() > 100 {
        return Err(AppError::unprocessable(
            "a unit's name has at most 100 characters",
        ));
    }
    if !state.integrations.unit_allowed(unit) {
        return Err(AppError::unprocessable(format!(
            "{unit:?} is not one of the organisation's units; choose one of: {}",
            state.integrations.units.join(", ")
        )));
    }
    Ok(Some(unit.to_string()))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<StaffChange>,
) -> Result<impl IntoResponse> {
    let roles = asked_roles(change.role.as_deref(), change.roles.as_deref())?;
    let account = reachable(&state, &caller, id).await?;
    let own = id == caller.staff.id;
    if own && change.channels.is_some() {
        return Err(AppError::forbidden(
            "nobody changes their own channel limit; ask another administrator",
        ));
    }
    if own
        && (change.disabled == Some(true)
            || roles.as_ref().is_some_and(|r| !r.contains(Role::Admin)))
    {
        return Err(AppError::unprocessable(
            "you cannot disable yourself or take away your own administrator role; ask another administrator",
        ));
    }
    let channels = change
        .channels
        .as_deref()
        .map(|c| grantable(&caller, c))
        .transpose()?;
    if let Some(roles) = &roles {
        check_fit(roles, kind_of(&account))?;
    }
    let unit = change
        .unit
        .as_ref()
        .map(|u| checked_unit(&state, u.as_deref()))
        .transpose()?;
    state
        .store
        .change_staff(
            id,
            roles.as_ref().map(Roles::names).as_deref(),
            change.disabled,
            channels.as_deref(),
            unit.as_ref().map(|u| u.as_deref()),
            &caller.actor(),
        )
        .await?;
    let account = state
        .store
        .staff_account(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))?;
    Ok(axum::Json(json!({"account": account})))
}

pub async fn training(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = reachable(&state, &caller, id).await?;
    let completions = state.store.completions(id).await?;
    let roles = Roles::parse_all(&account.roles)
        .ok_or_else(|| AppError::internal(format!("staff {id} has no known role")))?;
    let effective = state.training.effective(&roles, &completions, now_ms());
    Ok(axum::Json(
        json!({"account": account, "per_role": effective.per_role(&roles), "training": effective}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completed {
    /// Module ids, or ["all"] for every module.
    modules: Vec<String>,
    /// When the training was completed (ms since the epoch); now when absent.
    completed_at: Option<i64>,
}

/// Signs off someone else's training: an administrator's own is signed off by another.
pub async fn grant_training(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(done): Json<Completed>,
) -> Result<impl IntoResponse> {
    reachable(&state, &caller, id).await?;
    if id == caller.staff.id {
        return Err(AppError::forbidden(
            "nobody signs off their own training; ask another administrator (your trainer) to sign it off",
        ));
    }
    let modules: Vec<String> = if done.modules.iter().any(|m| m == "all") {
        state
            .training
            .modules
            .iter()
            .map(|m| m.id.clone())
            .collect()
    } else {
        done.modules
    };
    if modules.is_empty() {
        return Err(AppError::unprocessable(
            "name at least one module (or \"all\")",
        ));
    }
    for m in &modules {
        if state.training.module(m).is_none() {
            let known: Vec<_> = state
                .training
                .modules
                .iter()
                .map(|m| m.id.as_str())
                .collect();
            return Err(AppError::unprocessable(format!(
                "there is no training module {m:?}; the modules are {}",
                known.join(", ")
            )));
        }
    }
    let now = now_ms();
    let at = done.completed_at.unwrap_or(now);
    if at > now {
        return Err(AppError::unprocessable("completed_at lies in the future"));
    }
    for m in &modules {
        state
            .store
            .record_completion(id, m, at, &caller.actor())
            .await?;
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"recorded": modules})),
    ))
}

/// A service account's new token: the old ones stop working. A person's tokens are theirs to
/// mint, so this refuses every account but a service account.
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = reachable(&state, &caller, id).await?;
    if kind_of(&account) != AccountKind::Service {
        return Err(AppError::forbidden(
            "an API token acts as the person who holds it, so only they can create one (POST /api/v1/me/tokens, signed in as themselves); an integration gets a service account of its own: POST /api/v1/service-accounts",
        ));
    }
    if account.disabled {
        return Err(AppError::unprocessable(
            "the account is disabled; enable it first",
        ));
    }
    let token = new_token();
    let revoked = state
        .store
        .rotate_token(id, &token, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"token": token, "revoked": revoked})),
    ))
}

/// Revokes every API token of a staff member (a lost laptop, a finished integration).
pub async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    reachable(&state, &caller, id).await?;
    let revoked = state.store.revoke_tokens(id, &caller.actor()).await?;
    Ok(axum::Json(json!({"revoked": revoked})))
}

/// Live tokens a person may hold at once: enough for a few scripts, and a bound on the table.
const MAX_OWN_TOKENS: i64 = 10;

/// A token of one's own, for one's scripts: it acts as oneself (role, training, channels).
pub async fn create_own_token(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let account = state
        .store
        .staff_account(caller.staff.id)
        .await?
        .ok_or_else(|| AppError::unauthorized("your account no longer exists"))?;
    if kind_of(&account) == AccountKind::Service {
        return Err(AppError::forbidden(format!(
            "a service account's token is rotated by an administrator (POST /api/v1/staff/{}/tokens)",
            account.id
        )));
    }
    if state.store.live_tokens(account.id).await? >= MAX_OWN_TOKENS {
        return Err(AppError::unprocessable(format!(
            "you already have {MAX_OWN_TOKENS} API tokens that work; revoke them (DELETE /api/v1/me/tokens) and create the ones you need"
        )));
    }
    let token = new_token();
    state
        .store
        .add_api_token(account.id, &token, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"token": token}))))
}

/// Revokes every API token of one's own (sessions stay).
pub async fn revoke_own_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse> {
    let revoked = state
        .store
        .revoke_tokens(caller.staff.id, &caller.actor())
        .await?;
    Ok(axum::Json(json!({"revoked": revoked})))
}
