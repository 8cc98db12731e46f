//! The browser's way through single sign-on. `GET /auth/oidc/start` sends it to the identity
//! provider with a fresh state, nonce and PKCE challenge (kept in the store, taken once, and tied
//! to this browser by a short-lived cookie); `GET /auth/oidc/callback` takes the state back,
//! exchanges the code, checks the ID token, maps the person's groups to a role, and starts the
//! same session as a password sign-in. Every refusal is a page that says what to do, and is
//! audited with its reason (never a token).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{OpenApi, ToSchema};

use super::auth::{authenticate, constant_time_eq, cookie_name};
use super::extract::ClientAddress;
use super::AppState;
use crate::access::new_token;
use crate::access::oidc::{groups_in, Provider, Started, TokenProblem};
use crate::store::audit::Actor;
use crate::store::now_ms;
use crate::store::oidc::{NewSession, PendingLogin, ProviderIdentity, Refusal};
use crate::store::staff::token_digest;
use crate::text::escape_html;

/// A started sign-in must come back within this long.
pub const LOGIN_LIFETIME_MS: i64 = 10 * 60_000;
/// Sign-ins waiting at once; beyond it `start` refuses (an anonymous flood stores a bounded amount).
const MAX_PENDING: i64 = 10_000;

fn state_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Secure-tavla_oidc"
    } else {
        "tavla_oidc"
    }
}

#[derive(OpenApi)]
#[openapi(paths(options, start, callback))]
pub struct Doc;

// The ways to sign in.
#[derive(Serialize, ToSchema)]
pub struct SigninOptions {
    local_passwords: bool,
    #[schema(required = true)]
    oidc: Option<SingleSignOn>,
}

// Single sign-on's button and where it starts.
#[derive(Serialize, ToSchema)]
pub struct SingleSignOn {
    provider_name: String,
    start: &'static str,
}

/// Which ways to sign in there are
///
/// For the console's sign-in page, before anyone is signed in: whether local passwords are
/// accepted (`local_passwords`, false when the organisation signs in only through its identity
/// provider) and, when single sign-on is configured, the provider's name for the button "Sign
/// in with <provider_name>" and the address that starts it.
#[utoipa::path(
    get,
    path = "/api/v1/signin-options",
    operation_id = "signinOptions",
    tag = "session",
    responses(
        (status = 200, description = "The ways to sign in.", body = SigninOptions,
            example = json!({"local_passwords": false, "oidc": {
                "provider_name": "Kommunens inloggning", "start": "/auth/oidc/start"}})),
    )
)]
pub async fn options(State(state): State<AppState>) -> Response {
    let oidc = state.oidc.as_ref().map(|p| SingleSignOn {
        provider_name: p.config.provider_name.clone(),
        start: "/auth/oidc/start",
    });
    axum::Json(SigninOptions {
        local_passwords: state.settings.local_passwords,
        oidc,
    })
    .into_response()
}

/// Start single sign-on (OpenID Connect)
///
/// Sends the browser to the identity provider's authorization endpoint (authorization code flow
/// with PKCE S256, a fresh `state` and `nonce`). The sign-in is kept server-side for ten minutes
/// and can be finished once; the browser gets a short-lived cookie (`tavla_oidc`, or
/// `__Secure-tavla_oidc` with `secure_cookies`; HttpOnly, SameSite=Lax, Path=/auth/oidc) that
/// ties it to this browser. Navigate to it; it is not for scripts.
#[utoipa::path(
    get,
    path = "/auth/oidc/start",
    operation_id = "oidcStart",
    tag = "session",
    responses(
        (status = 303, description = "To the identity provider.",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 404, description = "Single sign-on is not configured (`oidc_issuer` is empty): \
            a page that says so.", body = String, content_type = "text/html"),
        (status = 502, description = "The provider's discovery document could not be read: a \
            page that says to try again later.", body = String, content_type = "text/html"),
        (status = 503, description = "Too many sign-ins started and not finished at once.",
            body = String, content_type = "text/html"),
    )
)]
pub async fn start(State(state): State<AppState>) -> Response {
    let Some(provider) = state.oidc.clone() else {
        return not_configured();
    };
    let started = Started::new();
    let pending = PendingLogin {
        nonce: started.nonce.clone(),
        verifier: started.verifier.clone(),
        created_at: now_ms(),
    };
    let url = match provider.authorization_url(&started).await {
        Ok(url) => url,
        Err(e) => return provider_trouble(&provider, &e.0),
    };
    match state
        .store
        .begin_oidc_login(
            &token_digest(&started.state),
            &pending,
            LOGIN_LIFETIME_MS,
            MAX_PENDING,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                Said {
                    sv: ("Många inloggningar pågår just nu", "Väldigt många inloggningar har påbörjats utan att avslutas. Vänta några minuter och försök igen; säg till IT-avdelningen om det fortsätter.".into()),
                    en: ("Too many sign-ins are under way", "Very many sign-ins have been started and not finished. Wait a few minutes and try again; if it persists, tell your IT department.".into()),
                },
            )
        }
        Err(e) => return super::error::AppError::from(e).into_response(),
    }
    let secure = state.settings.secure_cookies;
    let cookie = format!(
        "{}={}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age={}{}",
        state_cookie_name(secure),
        started.state,
        LOGIN_LIFETIME_MS / 1000,
        if secure { "; Secure" } else { "" }
    );
    redirect(url.as_str(), &[cookie])
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Finish single sign-on
///
/// Where the identity provider sends the browser back (register
/// `https://<tavla>/auth/oidc/callback` as the redirect URI and set `oidc_redirect_url` to it).
/// tavla takes the started sign-in by `state` (unknown, already used, expired or from another
/// browser: refused), exchanges `code` with the PKCE verifier at the token endpoint, and checks
/// the ID token: its signature against the provider's JWKS (RS256 or ES256; keys cached, fetched
/// again once for an unknown `kid`), `iss`, `aud` (and `azp` when there are several audiences),
/// `exp` and `iat` with 60 s leeway, and `nonce`. The groups or app roles in the claim
/// `oidc_groups_claim` give the role and channel limit by the first matching rule of
/// `oidc_roles_file`; the account is found by issuer and subject (or added, untrained, without a
/// password), and its role and limit are set from the rules at every sign-in (a change ends its
/// other sessions). Then the same session cookie as `POST /api/v1/session` is set and the
/// browser goes to `/#signed-in=<csrf_token>`; the console keeps the CSRF token and removes the
/// fragment. Every sign-in and every refusal is audited (`signin.success` with `method: oidc`,
/// `signin.failure` with the reason; never a token). Refusals are HTML pages that say what to
/// do.
#[utoipa::path(
    get,
    path = "/auth/oidc/callback",
    operation_id = "oidcCallback",
    tag = "session",
    params(Callback),
    responses(
        (status = 303, description = "Signed in: to the console, with the session cookie set.",
            headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 400, description = "No code and state, or a state that is unknown, already \
            used, expired or from another browser: start again.", body = String,
            content_type = "text/html"),
        (status = 401, description = "The provider refused, or its ID token failed a check \
            (signature, issuer, audience, expiry, nonce).", body = String,
            content_type = "text/html"),
        (status = 403, description = "No rule of `oidc_roles_file` matches the person's groups, \
            the account is disabled, or a rule names an unregistered channel.", body = String,
            content_type = "text/html"),
        (status = 404, description = "Single sign-on is not configured.", body = String,
            content_type = "text/html"),
        (status = 502, description = "The provider could not be reached or refused the code.",
            body = String, content_type = "text/html"),
    )
)]
pub async fn callback(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(provider) = state.oidc.clone() else {
        return not_configured();
    };
    let refused = |reason: String| refusal(&state, address.clone(), reason);
    if let Some(error) = &callback.error {
        // Anyone can make such a link: what it says is shown short, and only as text.
        let error: String = error.chars().take(60).collect();
        let said: String = callback
            .error_description
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect();
        refused(format!("the provider answered {error}")).await;
        let answer = format!("{error}{}{said}", if said.is_empty() { "" } else { ": " });
        let name = &provider.config.provider_name;
        return page(
            StatusCode::UNAUTHORIZED,
            Said {
                sv: ("Inloggningen blev inte klar", format!("{name} loggade inte in dig ({answer}). Gå tillbaka till tavla och försök igen; händer det igen, berätta för IT-avdelningen vad som står här.")),
                en: ("The sign-in was not completed", format!("{name} did not sign you in ({answer}). Go back to tavla and try again; if it happens again, tell your IT department what it says here.")),
            },
        );
    }
    let (Some(code), Some(given_state)) = (&callback.code, &callback.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            Said {
                sv: ("Det här är inget svar på en inloggning", "Hit skickar inloggningstjänsten tillbaka dig efter inloggningen. Gå till tavlas startsida och logga in där.".into()),
                en: ("This is not a sign-in answer", "This address is where the identity provider sends you back after signing in. Go to tavla's start page and choose to sign in there.".into()),
            },
        );
    };
    let pending = match take_pending(&state, &headers, given_state).await {
        Ok(pending) => pending,
        Err(reason) => {
            refused(reason).await;
            return start_again(&provider);
        }
    };
    let claims = match provider
        .sign_in(code, &pending.verifier, &pending.nonce, now_ms() / 1000)
        .await
    {
        Ok(claims) => claims,
        Err(TokenProblem::Provider(e)) => {
            refused(format!("provider: {}", e.0)).await;
            return provider_trouble(&provider, &e.0);
        }
        Err(TokenProblem::Rejected(r)) => {
            refused(r.reason()).await;
            return page(
                StatusCode::UNAUTHORIZED,
                Said {
                    sv: ("Inloggningen kunde inte kontrolleras", "Svaret från inloggningstjänsten klarade inte tavlas kontroller, så du är inte inloggad. Försök igen; händer det igen, säg till IT-avdelningen (granskningsloggen säger varför).".into()),
                    en: ("The sign-in could not be verified", "The answer from the identity provider did not pass tavla's checks, so you are not signed in. Try again; if it happens again, tell your IT department (the audit trail says why).".into()),
                },
            );
        }
    };
    finish(&state, &provider, &claims, address, &headers).await
}

/// The started sign-in that `given_state` names, taken once: it must come back in the browser
/// that started it, unused, and in time. Err: why not (for the audit trail).
async fn take_pending(
    state: &AppState,
    headers: &HeaderMap,
    given_state: &str,
) -> Result<PendingLogin, String> {
    let cookie = cookie_value(headers, state_cookie_name(state.settings.secure_cookies));
    let same_browser =
        cookie.is_some_and(|c| constant_time_eq(c.as_bytes(), given_state.as_bytes()));
    let taken = state
        .store
        .take_oidc_login(&token_digest(given_state))
        .await
        .map_err(|e| format!("store: {e}"))?;
    let Some(pending) = taken else {
        return Err("unknown or already used state".into());
    };
    if !same_browser {
        return Err("state came back without the cookie of the browser that started it".into());
    }
    if now_ms() - pending.created_at > LOGIN_LIFETIME_MS {
        return Err("state expired".into());
    }
    Ok(pending)
}

/// The verified person: their roles from their groups (every matching rule's), their account, their session.
async fn finish(
    state: &AppState,
    provider: &Provider,
    claims: &serde_json::Value,
    address: Option<String>,
    headers: &HeaderMap,
) -> Response {
    let config = &provider.config;
    let groups = groups_in(claims, &config.groups_claim);
    let Some(grant) = config.grant_for(&groups) else {
        let overage = claims["_claim_names"][&config.groups_claim].is_string();
        refusal(
            state,
            address.clone(),
            format!(
                "no rule for the person's groups ({} group(s){})",
                groups.len(),
                if overage {
                    ", too many for the token"
                } else {
                    ""
                }
            ),
        )
        .await;
        let (sv, en) = if overage {
            ("Du är med i för många grupper för att inloggningstjänsten ska kunna räkna upp dem, så tavla kan inte se om du får använda tavla. Be IT-avdelningen koppla tavlas roller till approller i stället för grupper.",
             "You are in too many groups for the identity provider to list them in the sign-in, so tavla cannot see whether you may use it. Ask your IT department to map tavla's roles with app roles instead of groups.")
        } else {
            ("Du loggade in, men ingen av dina grupper ger tillgång till tavla. Behöver du tavla i arbetet, be IT-avdelningen lägga till dig i en av tavlas grupper och logga sedan in igen.",
             "You signed in, but none of your groups gives access to tavla. If your work needs tavla, ask your IT department to add you to one of tavla's groups, then sign in again.")
        };
        return page(
            StatusCode::FORBIDDEN,
            Said {
                sv: ("Ingen tillgång till tavla", sv.into()),
                en: ("No access to tavla", en.into()),
            },
        );
    };
    let subject = claims["sub"].as_str().unwrap_or_default();
    let name = ["preferred_username", "email", "sub"]
        .iter()
        .find_map(|k| claims[*k].as_str().filter(|v| !v.trim().is_empty()))
        .unwrap_or(subject);
    let who = ProviderIdentity {
        issuer: &config.issuer,
        subject,
        name: name.trim(),
        roles: &grant.roles.names(),
        channels: &grant.channels,
    };
    let (token, csrf) = (new_token(), new_token());
    // Rotate: a session this browser still had ends, as at a password sign-in.
    if let Some(old) = authenticate(state, &axum::http::Method::GET, headers, None)
        .await
        .ok()
        .and_then(|c| c.session)
    {
        let actor = Actor {
            staff_id: None,
            name: name.to_string(),
            address: address.clone(),
        };
        if let Err(e) = state
            .store
            .end_session(old.id, &actor, "session.rotated")
            .await
        {
            return super::error::AppError::from(e).into_response();
        }
    }
    let outcome = state
        .store
        .oidc_sign_in(
            &who,
            &NewSession {
                token: &token,
                csrf: &csrf,
            },
            address.as_deref(),
        )
        .await;
    match outcome {
        Ok(Ok(_)) => signed_in(state, &token, &csrf),
        Ok(Err(Refusal::Disabled)) => {
            refusal(state, address, "the account is disabled in tavla".into()).await;
            page(
                StatusCode::FORBIDDEN,
                Said {
                    sv: ("Ditt konto i tavla är avstängt", "En administratör har stängt av ditt konto i tavla. Fråga dem om du behöver det i arbetet igen.".into()),
                    en: ("Your tavla account is disabled", "An administrator has disabled your account in tavla. Ask them if your work needs it again.".into()),
                },
            )
        }
        Ok(Err(Refusal::UnknownChannel(channel))) => {
            refusal(
                state,
                address,
                format!("the rule names channel {channel}, which is not registered"),
            )
            .await;
            page(
                StatusCode::FORBIDDEN,
                Said {
                    sv: ("tavlas inloggningsregler nämner en okänd kanal", format!("Regeln för din grupp begränsar dig till kanalen {channel}, som tavla inte känner till. Be tavlas administratör rätta oidc_roles_file.")),
                    en: ("tavla's sign-in rules name an unknown channel", format!("The rule for your group limits you to the channel {channel}, which tavla does not know. Tell your tavla administrator to correct oidc_roles_file.")),
                },
            )
        }
        Err(e) => super::error::AppError::from(e).into_response(),
    }
}

/// The session cookie, as a password sign-in sets it, and on to the console, which takes the
/// CSRF token from the address's fragment (never sent to any server) and then removes it.
fn signed_in(state: &AppState, token: &str, csrf: &str) -> Response {
    let settings = &state.settings;
    let secure = settings.secure_cookies;
    let session = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie_name(secure),
        settings.session_absolute_hours * 3600,
        if secure { "; Secure" } else { "" }
    );
    let spent = format!(
        "{}=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0{}",
        state_cookie_name(secure),
        if secure { "; Secure" } else { "" }
    );
    redirect(&format!("/#signed-in={csrf}"), &[session, spent])
}

async fn refusal(state: &AppState, address: Option<String>, reason: String) {
    let actor = Actor {
        staff_id: None,
        name: "single sign-on".into(),
        address,
    };
    let detail = json!({"method": "oidc", "reason": reason});
    if let Err(e) = state
        .store
        .audit(&actor, "signin.failure", None, detail)
        .await
    {
        tracing::error!(error = %e, "could not audit a refused single sign-on");
    }
}

fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    for cookie in cookies {
        if let Ok(cookie) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, cookie);
        }
    }
    response
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        Said {
            sv: ("Gemensam inloggning är inte inställd", "tavla har ingen inloggningstjänst inställd. Logga in med ditt användarnamn och lösenord för tavla, eller be IT-avdelningen ställa in oidc_issuer.".into()),
            en: ("Single sign-on is not set up", "tavla has no identity provider configured. Sign in with your tavla username and password, or ask your IT department to set oidc_issuer (README, \"Single sign-on\").".into()),
        },
    )
}

fn start_again(provider: &Provider) -> Response {
    let name = &provider.config.provider_name;
    page(
        StatusCode::BAD_REQUEST,
        Said {
            sv: ("Inloggningen har gått ut eller redan använts", format!("En inloggning fungerar en gång, i tio minuter, i webbläsaren där den påbörjades. Börja om med \"Logga in med {name}\" på tavlas startsida.")),
            en: ("This sign-in has expired or was already used", format!("Sign-in links work once, for ten minutes, in the browser that started them. Start again with \"Sign in with {name}\" on tavla's start page.")),
        },
    )
}

fn provider_trouble(provider: &Provider, cause: &str) -> Response {
    tracing::warn!(
        cause,
        "single sign-on: the identity provider could not be used"
    );
    let name = &provider.config.provider_name;
    page(
        StatusCode::BAD_GATEWAY,
        Said {
            sv: ("Inloggningstjänsten går inte att nå", format!("tavla kunde inte slutföra inloggningen med {name}. Försök igen om några minuter; säg till IT-avdelningen om det fortsätter (tavlas logg säger varför).")),
            en: ("The identity provider cannot be reached", format!("tavla could not complete the sign-in with {name}. Try again in a few minutes; if it persists, tell your IT department (tavla's log says why).")),
        },
    )
}

/// A page's title and what to do, in Swedish and in English.
struct Said {
    sv: (&'static str, String),
    en: (&'static str, String),
}

/// A small page of its own (no script): Swedish first, then English, and the way back.
fn page(status: StatusCode, said: Said) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{sv_title} – tavla</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body><main><h1>{sv_title}</h1><p id=\"what-to-do\">{sv_text}</p>\
         <p><a href=\"/\">Tillbaka till tavla</a></p>\
         <section lang=\"en\"><h2>{en_title}</h2><p>{en_text}</p><p><a href=\"/\">Back to tavla</a></p></section>\
         </main></body></html>\n",
        sv_title = escape_html(said.sv.0),
        sv_text = escape_html(&said.sv.1),
        en_title = escape_html(said.en.0),
        en_text = escape_html(&said.en.1),
    );
    (status, Html(body)).into_response()
}
