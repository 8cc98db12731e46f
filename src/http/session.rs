//! Signing in and out, and changing one's password. A password is checked only after its attempt
//! is reserved against the limits, and only in one of the few hash slots (README, "Signing in").

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::auth::{cookie_name, Caller};
use super::description::refusals::{
    BadRequest, InternalError, PasswordCheckBusy, PayloadTooLarge, TooManySignIns,
    UnsupportedMediaType,
};
use super::error::{AppError, Problem, Result};
use super::extract::{ClientAddress, Json};
use super::AppState;
use crate::access::hashing::Unavailable;
use crate::access::{
    hash_password_in, new_token, verify_password_in, HashMemory, MAX_PASSWORD_BYTES,
    MAX_USERNAME_CHARS,
};
use crate::described;
use crate::settings::Settings;
use crate::store::access::{Attempt, LockScope, Locked, SigninLimits};
use crate::store::audit::Actor;
use crate::store::now_ms;
use crate::store::staff::StaffMember;

#[derive(OpenApi)]
#[openapi(paths(sign_in, sign_out, change_password))]
pub struct Doc;

/// Username and password. Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "anna", "password": "korrekt häst batteri häftapparat"}))]
pub struct Credentials {
    /// Surrounding whitespace is trimmed; at most 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    username: String,
    /// At most 1024 bytes (UTF-8).
    password: String,
}

/// The signed-in staff member. The session itself travels in the cookie set by the same
/// response.
#[derive(Serialize, ToSchema)]
#[schema(as = SignInResult, example = json!({"username": "anna", "role": "agent",
    "csrf_token": "tavla_3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f",
    "roles": ["agent"]}))]
pub struct SignedIn {
    username: String,
    /// The first of `roles`, for clients written before several roles.
    #[schema(value_type = crate::access::Role)]
    role: String,
    #[schema(schema_with = described::roles)]
    roles: Option<crate::access::Roles>,
    /// Send this in the `X-CSRF-Token` header with every POST, PATCH and DELETE authenticated by
    /// the session cookie. Valid for the session's lifetime.
    #[schema(pattern = "^tavla_[0-9a-f]{64}$")]
    csrf_token: String,
}

/// Sign in
///
/// Checks a username and password and starts a session. The answer sets the session cookie
/// (HttpOnly, SameSite=Strict; it lasts at most `session_absolute_hours`, 12 by default, and
/// ends after `session_idle_minutes` without use, 30 by default) and returns a `csrf_token`:
/// send it as the `X-CSRF-Token` header with every POST, PATCH and DELETE made with the cookie. A
/// session cookie sent with the sign-in is ended and replaced (session rotation). A wrong
/// username, a wrong password, a disabled account and an account without a password all answer
/// the same 401, taking the same time; each failure is recorded. Each attempt is counted before
/// its password is checked, so guesses sent at once are limited like guesses sent one after
/// another: after too many failures for the account from this address, or for the account from
/// all addresses together, within `signin_window_minutes`, sign-in answers 429 with
/// `Retry-After` until enough failures have left the window, even for the right password. There
/// is no limit per address alone, so colleagues behind one NAT or proxy do not lock each other
/// out. Passwords are checked a few at a time (`password_hash_concurrency`); when none can be
/// checked within `password_hash_wait_ms` the answer is 503 with `Retry-After`, and the attempt
/// is not counted. A username longer than 64 characters or a password longer than 1024 bytes is
/// refused with 422 before anything is stored. Sign-ins are recorded in the audit trail;
/// failures for usernames that do not exist are recorded one by one up to
/// `signin_unknown_recorded_per_window` per window and then only counted (`signin.failure.flood`
/// entries at the 1st, 10th, 100th, ... of them).
///
/// **Access:** When `local_passwords` is false (the organisation signs in only through its
/// identity provider), every password sign-in answers 403 with a `detail` that points to single
/// sign-on (GET /auth/oidc/start).
#[utoipa::path(
    post,
    path = "/api/v1/session",
    operation_id = "signIn",
    tag = "session",
    request_body(content = Credentials, description = "Username and password."),
    responses(
        (status = 200, description = "Signed in.", body = SignedIn, headers(
            ("Set-Cookie" = String, description = "The session: `tavla_session=<session token>; \
                Path=/; HttpOnly; SameSite=Strict; Max-Age=<session_absolute_hours × 3600>`, plus \
                `; Secure` when `secure_cookies` is on. The cookie is named `tavla_session`, or \
                `__Host-tavla_session` when `secure_cookies` is on."),
        )),
        (status = 400, response = BadRequest),
        (status = 401, description = "The username or the password is wrong (or the account is \
            disabled or has no password).", body = Problem,
            content_type = "application/problem+json"),
        (status = 403, description = "Password sign-in is off (`local_passwords` is false): sign \
            in through the organisation's identity provider (GET /auth/oidc/start).",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The username is empty or longer than 64 characters, the \
            password is longer than 1024 bytes, or the body has unknown or missing fields. \
            Nothing was stored.", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "about:blank", "title": "The request could not be applied",
                "status": 422, "detail": "a username has at most 64 characters; check what was typed"})),
        (status = 429, response = TooManySignIns),
        (status = 500, response = InternalError),
        (status = 503, response = PasswordCheckBusy),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(credentials): Json<Credentials>,
) -> Result<Response> {
    let settings = &state.settings;
    if !settings.local_passwords {
        let way = match &state.oidc {
            Some(p) => format!("\"Sign in with {}\" (GET /auth/oidc/start)", p.config.provider_name),
            None => "the organisation's single sign-on, which is not configured yet (ask your IT department)".into(),
        };
        return Err(AppError::forbidden(format!(
            "tavla does not take passwords here: sign in through your organisation's sign-in, {way}"
        )));
    }
    let username = credentials.username.trim().to_string();
    check_username(&username)?;
    check_length(&credentials.password, "the password")?;
    let actor = Actor {
        staff_id: None,
        name: username.clone(),
        address: address.clone(),
    };
    let password = credentials.password;
    // An unknown name is checked against a dummy hash, so timing does not tell which names exist.
    let checked = check_password(
        &state,
        &username,
        actor.clone(),
        "wrong username or password",
        move |hash, memory| verify_password_in(&password, hash, memory).then_some(()),
    )
    .await?;
    let Some((attempt, staff, ())) = checked else {
        return Err(AppError::unauthorized(
            "the username or the password is wrong",
        ));
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
        .start_session(&staff, &token, &csrf, &actor, &attempt)
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
    let roles = crate::access::Roles::parse_all(&state.store.staff_roles(staff.id).await?);
    let mut response = axum::Json(SignedIn {
        username: staff.username,
        role: staff.role,
        roles,
        csrf_token: csrf,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(AppError::internal)?,
    );
    Ok(response)
}

/// Sign out
///
/// Ends the session the cookie names and clears the cookie. Event streams of the ended session
/// close within seconds. An API token has no session to end: with a bearer token the answer is
/// 400 (an administrator revokes tokens, DELETE /api/v1/staff/{id}/tokens).
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    operation_id = "signOut",
    tag = "session",
    responses(
        (status = 204, description = "Signed out.", headers(
            ("Set-Cookie" = String, description = "Clears the cookie: `tavla_session=; Path=/; \
                HttpOnly; SameSite=Strict; Max-Age=0`, plus `; Secure` when `secure_cookies` is \
                on. The cookie is named `tavla_session`, or `__Host-tavla_session` when \
                `secure_cookies` is on."),
        )),
        (status = 400, description = "The request is authenticated by an API token, which has \
            no session to end.", body = Problem, content_type = "application/problem+json"),
    )
)]
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

/// Unknown fields are refused (422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The caller's password now; a wrong one is refused with 403 and counts against the
    /// sign-in limits. At most 1024 bytes (UTF-8).
    current_password: String,
    /// At least 12 characters and at most 1024 bytes (UTF-8).
    #[schema(min_length = 12)]
    new_password: String,
}

/// Change my password
///
/// Changes the caller's own password after checking the current one, and ends the caller's
/// other sessions (the session making the request, if any, stays signed in; with a bearer token
/// every session ends). API tokens are not affected.
///
/// **Access:** The current password is checked under the sign-in limits: each check is counted
/// before it runs, a wrong one counts as a failed sign-in from the caller's address (403), and
/// while the account is held the answer is 429.
#[utoipa::path(
    post,
    path = "/api/v1/me/password",
    operation_id = "changePassword",
    tag = "session",
    request_body(content = PasswordChange, description = "The current and the new password.",
        example = json!({"current_password": "korrekt häst batteri häftapparat",
            "new_password": "ett nytt och längre lösenord"})),
    responses(
        (status = 204, description = "Changed."),
        (status = 400, response = BadRequest),
        (status = 403, description = "The current password is wrong (or no password is set); or \
            the request is authenticated by the session cookie and the `X-CSRF-Token` header is \
            missing or wrong.", body = ref("#/components/schemas/ForbiddenProblem"),
            content_type = "application/problem+json", examples(
                ("password" = (summary = "Wrong current password", value = json!({
                    "type": "about:blank", "title": "Not allowed", "status": 403,
                    "detail": "the current password is wrong"}))),
                ("csrf" = (summary = "Session cookie without the CSRF header", value = json!({
                    "type": "about:blank", "title": "Not allowed", "status": 403,
                    "detail": "this change needs the X-CSRF-Token header with the token given at \
                        sign-in; reload the page and try again"}))),
            )),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, description = "The new password has fewer than 12 characters, a password \
            is longer than 1024 bytes, or the body has unknown or missing fields.", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, response = TooManySignIns),
        (status = 503, response = PasswordCheckBusy),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(change): Json<PasswordChange>,
) -> Result<impl IntoResponse> {
    check_length(&change.current_password, "the current password")?;
    check_length(&change.new_password, "the new password")?;
    if change.new_password.chars().count() < 12 {
        return Err(AppError::unprocessable(
            "the new password must have at least 12 characters",
        ));
    }
    let (current, new) = (change.current_password, change.new_password);
    // Guessing the current password is limited like signing in, and counts against it.
    let checked = check_password(
        &state,
        &caller.staff.username,
        caller.actor(),
        "wrong current password at a password change",
        move |hash, memory| {
            verify_password_in(&current, hash, memory).then(|| hash_password_in(&new, memory))
        },
    )
    .await?;
    let Some((attempt, _, new_hash)) = checked else {
        return Err(AppError::forbidden("the current password is wrong"));
    };
    state.store.record_signin_success(&attempt).await?;
    let new_hash = new_hash.map_err(AppError::internal)?;
    let keep = caller.session.as_ref().map(|s| s.id);
    state
        .store
        .change_password(caller.staff.id, &new_hash, keep, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A username within bounds, before anything is stored or hashed.
fn check_username(username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(AppError::unprocessable("enter your username"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(AppError::unprocessable(format!(
            "a username has at most {MAX_USERNAME_CHARS} characters; check what was typed"
        )));
    }
    Ok(())
}

/// A password within bounds, before it is hashed: argon2's cost grows with its length.
pub(super) fn check_length(password: &str, what: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::unprocessable(format!(
            "{what} is longer than {MAX_PASSWORD_BYTES} bytes, the most tavla checks; use a shorter passphrase"
        )));
    }
    Ok(())
}

/// A check that passed: the reserved attempt, the account, and what the check returned.
type Passed<T> = (Attempt, StaffMember, T);

/// Checks a password for `username`: reserves the attempt against the limits (429 while they
/// hold), runs `check` on the stored hash in a hash slot (503 when none frees in time), and
/// records a failure. `check` returns Some when the password is right. Runs as a task of its own,
/// so a caller who hangs up mid-check still has the outcome recorded.
async fn check_password<T: Send + 'static>(
    state: &AppState,
    username: &str,
    actor: Actor,
    reason: &'static str,
    check: impl FnOnce(Option<&str>, &mut HashMemory) -> Option<T> + Send + 'static,
) -> Result<Option<Passed<T>>> {
    let (state, username) = (state.clone(), username.to_string());
    tokio::spawn(async move { check_reserved(state, username, actor, reason, check).await })
        .await
        .map_err(AppError::internal)?
}

async fn check_reserved<T: Send + 'static>(
    state: AppState,
    username: String,
    actor: Actor,
    reason: &'static str,
    check: impl FnOnce(Option<&str>, &mut HashMemory) -> Option<T> + Send + 'static,
) -> Result<Option<Passed<T>>> {
    let limits = signin_limits(&state.settings);
    let address = actor.address.clone().unwrap_or_default();
    let reserved = state
        .store
        .reserve_signin(&username, &address, &limits, now_ms())
        .await?;
    let attempt = reserved.map_err(too_many)?;
    let hash = attempt.password_hash.clone();
    let verdict = match state
        .password_hashing
        .run(move |memory| check(hash.as_deref(), memory))
        .await
    {
        Ok(verdict) => verdict,
        Err(unavailable) => {
            state.store.release_signin(&attempt).await?;
            return Err(busy(unavailable, &state.settings));
        }
    };
    match (verdict, attempt.staff.clone()) {
        (Some(value), Some(staff)) => Ok(Some((attempt, staff, value))),
        _ => {
            state
                .store
                .record_signin_failure(&attempt, &actor, reason, &limits, now_ms())
                .await?;
            Ok(None)
        }
    }
}

fn signin_limits(settings: &Settings) -> SigninLimits {
    SigninLimits {
        window_ms: settings.signin_window_minutes * 60_000,
        per_account: settings.signin_max_failures_per_account,
        per_account_and_address: settings.signin_max_failures_per_account_and_address,
        unknown_recorded: settings.signin_unknown_recorded_per_window,
    }
}

/// 429 with Retry-After while an account's limit holds, saying when it is free again.
fn too_many(locked: Locked) -> AppError {
    let seconds = ((locked.until - now_ms() + 999) / 1000).max(1);
    let at = chrono::DateTime::from_timestamp_millis(locked.until)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    let whose = match locked.scope {
        LockScope::FromAddress => "for this account from your address",
        LockScope::Account => "for this account from several addresses",
    };
    AppError {
        retry_after: Some(seconds as u64),
        ..AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins",
            format!(
                "too many failed sign-ins {whose}; try again in {} minute(s), at {at}; if the password is forgotten, ask an administrator to set a new one",
                (seconds + 59) / 60
            ),
        )
    }
}

/// 503 with Retry-After when every hash slot stayed busy for the whole wait.
pub(super) fn busy(unavailable: Unavailable, settings: &Settings) -> AppError {
    match unavailable {
        Unavailable::Busy => AppError {
            retry_after: Some(settings.password_hash_wait_ms.div_ceil(1000).max(1)),
            ..AppError::unavailable(
                "many sign-ins are being checked right now; try again in a few seconds",
            )
        },
        Unavailable::Failed(cause) => AppError::internal(cause),
    }
}
