//! Signing in and out, and changing one's password.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::auth::{cookie_name, Caller};
use super::error::{AppError, Result};
use super::extract::{ClientAddress, Json};
use super::AppState;
use crate::access::{hash_password, new_token, verify_password};
use crate::store::audit::Actor;
use crate::store::now_ms;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(credentials): Json<Credentials>,
) -> Result<Response> {
    let settings = &state.settings;
    let username = credentials.username.trim().to_string();
    let actor = Actor {
        staff_id: None,
        name: username.clone(),
        address: address.clone(),
    };
    check_limits(&state, &username, address.as_deref()).await?;

    let stored = state.store.password_hash(&username).await?;
    let password = credentials.password;
    let hash = stored.as_ref().and_then(|(_, h)| h.clone());
    // Verify even when the account does not exist, so timing does not reveal which names do.
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref()))
        .await
        .map_err(AppError::internal)?;
    let staff = match (stored, matches) {
        (Some((staff, _)), true) => staff,
        _ => {
            state
                .store
                .record_signin_failure(&username, &actor, "wrong username or password")
                .await?;
            return Err(AppError::unauthorized(
                "the username or the password is wrong",
            ));
        }
    };

    // Rotate: a session presented at sign-in ends, and a new one begins.
    if let Some(old) = super::auth::authenticate(&state, &axum::http::Method::GET, &headers, None)
        .await
        .ok()
        .and_then(|c| c.session)
    {
        state
            .store
            .end_session(old.id, &actor, "session.rotated")
            .await?;
    }
    let token = new_token();
    let csrf = new_token();
    let actor = Actor {
        staff_id: Some(staff.id),
        ..actor
    };
    state
        .store
        .start_session(&staff, &token, &csrf, &actor)
        .await?;
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie_name(settings.secure_cookies),
        settings.session_absolute_hours * 3600,
        if settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = axum::Json(json!({
        "username": staff.username,
        "role": staff.role,
        "csrf_token": csrf,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(response)
}

pub async fn sign_out(State(state): State<AppState>, caller: Caller) -> Result<Response> {
    let Some(session) = &caller.session else {
        return Err(AppError::bad_request(
            "signing out ends a browser session; an API token is revoked by an administrator (DELETE /api/v1/staff/{id}/tokens)",
        ));
    };
    state
        .store
        .end_session(session.id, &caller.actor(), "signout")
        .await?;
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(state.settings.secure_cookies),
        if state.settings.secure_cookies {
            "; Secure"
        } else {
            ""
        }
    );
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password and ends their other sessions.
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(change): Json<PasswordChange>,
) -> Result<impl IntoResponse> {
    if change.new_password.chars().count() < 12 {
        return Err(AppError::unprocessable(
            "the new password must have at least 12 characters",
        ));
    }
    // Guessing the current password is limited like signing in.
    check_limits(&state, &caller.staff.username, caller.address.as_deref()).await?;
    let stored = state.store.password_hash(&caller.staff.username).await?;
    let hash = stored.and_then(|(_, h)| h);
    let current = change.current_password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, hash.as_deref()))
        .await
        .map_err(AppError::internal)?;
    if !ok {
        state
            .store
            .record_signin_failure(
                &caller.staff.username,
                &caller.actor(),
                "wrong current password at a password change",
            )
            .await?;
        return Err(AppError::forbidden("the current password is wrong"));
    }
    let new = change.new_password;
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let keep = caller.session.as_ref().map(|s| s.id);
    state
        .store
        .change_password(caller.staff.id, &new_hash, keep, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses with 429 and Retry-After while an account or an address has too many recent failures.
async fn check_limits(state: &AppState, username: &str, address: Option<&str>) -> Result<()> {
    let settings = &state.settings;
    let now = now_ms();
    let window_ms = settings.signin_window_minutes * 60_000;
    let (by_account, by_address) = state
        .store
        .signin_failures(username, address.unwrap_or(""), now - window_ms)
        .await?;
    let blocked_until = [
        (by_account, settings.signin_max_failures_per_account),
        (by_address, settings.signin_max_failures_per_address),
    ]
    .into_iter()
    .filter(|(failures, max)| *max > 0 && failures.len() >= *max)
    // Free again when enough of the failures have left the window.
    .map(|(failures, max)| failures[failures.len() - max] + window_ms)
    .max();
    let Some(until) = blocked_until else {
        return Ok(());
    };
    let seconds = ((until - now) / 1000).max(1);
    let at = chrono::DateTime::from_timestamp_millis(until)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    Err(AppError {
        retry_after: Some(seconds as u64),
        ..AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins",
            format!(
                "too many failed sign-ins for this account or from this address; try again in {} minute(s), at {at}, or ask an administrator to reset your password",
                (seconds + 59) / 60
            ),
        )
    })
}
