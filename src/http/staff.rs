//! Staff administration: accounts, roles, channel scopes, training records and API tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::{Json, Path};
use super::AppState;
use crate::access::{hash_password, new_token, Role};
use crate::store::now_ms;

pub async fn list(State(state): State<AppState>, _caller: Caller) -> Result<impl IntoResponse> {
    let now = now_ms();
    let mut items = Vec::new();
    for account in state.store.staff_accounts().await? {
        let completions = state.store.completions(account.id).await?;
        let training = state.training.statuses(&completions, now);
        items.push(json!({"account": account, "training": training}));
    }
    Ok(axum::Json(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    username: String,
    role: String,
    password: Option<String>,
}

fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| {
        AppError::unprocessable("role must be agent, communicator, moderator, admin or auditor")
    })
}

pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Json(new): Json<NewStaff>,
) -> Result<impl IntoResponse> {
    let role = parse_role(&new.role)?;
    let username = new.username.trim().to_string();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(AppError::unprocessable(
            "the username must be 1 to 64 characters",
        ));
    }
    let hash = match new.password {
        Some(p) if p.chars().count() < 12 => {
            return Err(AppError::unprocessable(
                "the password must have at least 12 characters",
            ))
        }
        Some(p) => Some(
            tokio::task::spawn_blocking(move || hash_password(&p))
                .await
                .map_err(AppError::internal)?
                .map_err(AppError::internal)?,
        ),
        None => None,
    };
    let staff = state
        .store
        .add_staff(&username, role.as_str(), hash.as_deref(), &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"staff": staff}))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    role: Option<String>,
    disabled: Option<bool>,
    /// The channels the person is limited to; an empty list means every channel.
    channels: Option<Vec<i64>>,
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(change): Json<StaffChange>,
) -> Result<impl IntoResponse> {
    let role = change.role.as_deref().map(parse_role).transpose()?;
    if state.store.staff_account(id).await?.is_none() {
        return Err(AppError::not_found(format!(
            "there is no staff member {id}"
        )));
    }
    if id == caller.staff.id
        && (change.disabled == Some(true) || role.is_some_and(|r| r != Role::Admin))
    {
        return Err(AppError::unprocessable(
            "you cannot disable yourself or take away your own administrator role; ask another administrator",
        ));
    }
    state
        .store
        .update_staff(
            id,
            role.map(Role::as_str),
            change.disabled,
            change.channels.as_deref(),
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
    _caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = state
        .store
        .staff_account(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))?;
    let completions = state.store.completions(id).await?;
    let role = parse_role(&account.role)?;
    let effective = state.training.effective(role, &completions, now_ms());
    Ok(axum::Json(
        json!({"account": account, "training": effective}),
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

pub async fn grant_training(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(done): Json<Completed>,
) -> Result<impl IntoResponse> {
    if state.store.staff_account(id).await?.is_none() {
        return Err(AppError::not_found(format!(
            "there is no staff member {id}"
        )));
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

pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    let account = state
        .store
        .staff_account(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no staff member {id}")))?;
    if account.disabled {
        return Err(AppError::unprocessable(
            "the account is disabled; enable it first",
        ));
    }
    let token = new_token();
    state
        .store
        .add_api_token(id, &token, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({"token": token}))))
}

/// Revokes every API token of a staff member (a lost laptop, a finished integration).
pub async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse> {
    if state.store.staff_account(id).await?.is_none() {
        return Err(AppError::not_found(format!(
            "there is no staff member {id}"
        )));
    }
    let revoked = state.store.revoke_tokens(id, &caller.actor()).await?;
    Ok(axum::Json(json!({"revoked": revoked})))
}
