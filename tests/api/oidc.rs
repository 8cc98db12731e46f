//! Single sign-on against a stand-in identity provider that the test runs: discovery, JWKS and a
//! token endpoint that checks the code and the PKCE verifier, signing ID tokens with RSA keys the
//! test generates. The test plays the browser: it follows the redirect to the provider by reading
//! its query, "signs in" there by granting a code, and calls tavla's callback itself, with the
//! cookie the start gave it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Form, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tavla::settings::Settings;

use crate::helpers::{Backend, TestApp};

const CLIENT_ID: &str = "tavla-test";
const CLIENT_SECRET: &str = "stand-in-client-secret";
const REDIRECT: &str = "http://tavla.test/auth/oidc/callback";
const PAGE: &str = "page-oidc-1";
const RULES: &str = r#"
[[rule]]
group = "tavla-admins"
role = "admin"

[[rule]]
group = "tavla-agents"
role = "agent"

[[rule]]
group = "tavla-facebook"
role = "communicator"
channels = ["facebook:page-oidc-1"]
"#;

/// Three keys for the whole test binary: the provider's first, the one it rotates to, and a
/// forger's. Generated once (RSA key generation is the slow part).
fn keys() -> &'static [RsaPrivateKey] {
    static KEYS: OnceLock<Vec<RsaPrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        (0..3)
            .map(|_| RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key"))
            .collect()
    })
}

const FIRST: usize = 0;
const ROTATED: usize = 1;
const FORGER: usize = 2;

/// What the provider puts in the token for one granted code.
struct Grant {
    challenge: String,
    claims: Value,
    /// The key that signs, and the key id the header names (they differ for a forgery).
    signer: usize,
    kid: usize,
}

#[derive(Default)]
struct ProviderState {
    issuer: Mutex<String>,
    /// Key indices published in the JWKS.
    published: Mutex<Vec<usize>>,
    grants: Mutex<HashMap<String, Grant>>,
    jwks_served: AtomicUsize,
    /// For a browser: tavla's address, and who signs in at the authorization endpoint.
    browser_person: Mutex<Option<(String, String, Vec<String>)>>,
}

/// The stand-in identity provider.
pub struct Idp {
    issuer: String,
    state: Arc<ProviderState>,
    dir: tempfile::TempDir,
}

impl Idp {
    pub async fn start() -> Idp {
        let state = Arc::new(ProviderState::default());
        *state.published.lock().unwrap() = vec![FIRST];
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/authorize", get(authorize))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        *state.issuer.lock().unwrap() = issuer.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("oidc.toml"), RULES).unwrap();
        Idp { issuer, state, dir }
    }

    /// A browser that comes to the authorization endpoint is signed in at once as `sub` in
    /// `groups` and sent back to tavla at `tavla` (its address, known only once it runs).
    pub fn sign_in_browsers_as(&self, tavla: &str, sub: &str, groups: &[&str]) {
        *self.state.browser_person.lock().unwrap() = Some((
            tavla.to_string(),
            sub.to_string(),
            groups.iter().map(|g| g.to_string()).collect(),
        ));
    }

    pub fn configure(&self, s: &mut Settings) {
        s.oidc_issuer = self.issuer.clone();
        s.oidc_provider_name = "Kommunens inloggning".into();
        s.oidc_client_id = CLIENT_ID.into();
        s.oidc_client_secret = CLIENT_SECRET.into();
        s.oidc_redirect_url = REDIRECT.into();
        s.oidc_roles_file = self.dir.path().join("oidc.toml");
    }

    /// The claims of a good token for `sub` in `groups`, answering `nonce`.
    fn claims(&self, sub: &str, groups: &[&str], nonce: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": self.issuer, "aud": CLIENT_ID, "sub": sub, "exp": now + 300, "iat": now,
               "nonce": nonce, "preferred_username": format!("{sub}@kommun.example"),
               "groups": groups})
    }

    /// The person signs in at the provider: it grants a code for the authorization request.
    fn grant(&self, request: &Authorization, claims: Value, signer: usize, kid: usize) -> String {
        let code = format!("code-{}", rand::random::<u64>());
        self.state.grants.lock().unwrap().insert(
            code.clone(),
            Grant {
                challenge: request.challenge.clone(),
                claims,
                signer,
                kid,
            },
        );
        code
    }
}

/// The authorization endpoint, for a browser: no page, the person is signed in at once.
async fn authorize(
    State(state): State<Arc<ProviderState>>,
    Query(query): Query<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some((tavla, sub, groups)) = state.browser_person.lock().unwrap().clone() else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let issuer = state.issuer.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": issuer, "aud": CLIENT_ID, "sub": sub, "exp": now + 300, "iat": now,
                        "nonce": query["nonce"], "preferred_username": sub, "groups": groups});
    let code = format!("code-{}", rand::random::<u64>());
    state.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: query["code_challenge"].clone(),
            claims,
            signer: FIRST,
            kid: FIRST,
        },
    );
    let mut back = reqwest::Url::parse(&format!("{tavla}/auth/oidc/callback")).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &query["state"]);
    axum::response::Redirect::to(back.as_str()).into_response()
}

async fn discovery(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    let issuer = state.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(state): State<Arc<ProviderState>>) -> Json<Value> {
    state.jwks_served.fetch_add(1, Ordering::SeqCst);
    let published = state.published.lock().unwrap().clone();
    let keys: Vec<Value> = published
        .iter()
        .map(|&i| {
            let public = keys()[i].to_public_key();
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": format!("k{i}"),
                   "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                   "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())})
        })
        .collect();
    Json(json!({ "keys": keys }))
}

/// The token endpoint: the code once, with the client's secret and the verifier whose SHA-256
/// is the challenge the authorization request carried.
async fn token(
    State(state): State<Arc<ProviderState>>,
    Form(form): Form<HashMap<String, String>>,
) -> (axum::http::StatusCode, Json<Value>) {
    let refuse = |error: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": error})),
        )
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != "authorization_code"
        || field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
        || field("redirect_uri") != REDIRECT
    {
        return refuse("invalid_client");
    }
    let Some(grant) = state.grants.lock().unwrap().remove(field("code")) else {
        return refuse("invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
    if challenge != grant.challenge {
        return refuse("invalid_grant");
    }
    let id_token = sign(&grant.claims, grant.signer, grant.kid);
    (
        axum::http::StatusCode::OK,
        Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token})),
    )
}

fn sign(claims: &Value, signer: usize, kid: usize) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": format!("k{kid}")});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = SigningKey::<Sha256>::new(keys()[signer].clone());
    let signature = key.sign(signed.as_bytes()).to_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// What tavla sent the browser to the provider with, and the cookie it set.
struct Authorization {
    state: String,
    nonce: String,
    challenge: String,
    cookie: String,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The first `name=value` of the response's Set-Cookie headers with that name.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

/// Presses "Sign in with ...": tavla's redirect to the provider, read as the browser would.
async fn begin(app: &TestApp, idp: &Idp) -> Authorization {
    let response = browser()
        .get(app.url("/auth/oidc/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "start redirects to the provider");
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location
        .as_str()
        .starts_with(&format!("{}/authorize?", idp.issuer)));
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
    Authorization {
        state: query["state"].clone(),
        nonce: query["nonce"].clone(),
        challenge: query["code_challenge"].clone(),
        cookie: set_cookie(&response, "tavla_oidc").expect("the start sets its cookie"),
    }
}

/// The provider sends the browser back to tavla's callback.
async fn come_back(app: &TestApp, request: &Authorization, code: &str) -> reqwest::Response {
    let mut url = reqwest::Url::parse(&app.url("/auth/oidc/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", &request.state);
    browser()
        .get(url)
        .header("cookie", &request.cookie)
        .send()
        .await
        .unwrap()
}

/// A whole sign-in of `sub` in `groups`; the callback's answer.
async fn sign_in(app: &TestApp, idp: &Idp, sub: &str, groups: &[&str]) -> reqwest::Response {
    let request = begin(app, idp).await;
    let code = idp.grant(
        &request,
        idp.claims(sub, groups, &request.nonce),
        FIRST,
        FIRST,
    );
    come_back(app, &request, &code).await
}

/// The session a successful callback gives: its cookie and CSRF token.
fn session_of(response: &reqwest::Response) -> (String, String) {
    assert_eq!(response.status(), 303, "signed in and sent to the console");
    let location = response.headers()["location"].to_str().unwrap();
    let csrf = location
        .strip_prefix("/#signed-in=")
        .unwrap_or_else(|| panic!("to the console with the CSRF token, not {location}"));
    let cookie = set_cookie(response, "tavla_session").expect("the session cookie");
    (cookie, csrf.to_string())
}

async fn get_with(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestApp, cookie: &str) -> Value {
    let response = get_with(app, cookie, "/api/v1/me").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A refusal page: its status and what it tells the person to do.
async fn refused(response: reqwest::Response, status: u16, says: &str) {
    assert_eq!(response.status(), status);
    assert!(
        set_cookie(&response, "tavla_session").is_none(),
        "no session"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(says), "the page says {says:?}: {page}");
}

/// The reasons of the audited single sign-on refusals.
async fn refusals(app: &TestApp) -> Vec<String> {
    let details: Vec<String> =
        sqlx::query_scalar("select detail from audit where action = 'signin.failure'")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
    details
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["reason"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

async fn staff_count(app: &TestApp) -> i64 {
    app.count("staff").await
}

async fn run<F, Fut>(backend: Backend, adjust: fn(&mut Settings), scenario: F)
where
    F: FnOnce(TestApp, Idp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let idp = Idp::start().await;
    let app = TestApp::spawn_with(backend, |s| {
        idp.configure(s);
        adjust(s);
    })
    .await;
    if let Some(app) = app {
        scenario(app, idp).await;
    }
}

macro_rules! oidc_test {
    ($name:ident, $scenario:expr) => {
        oidc_test!($name, |_| {}, $scenario);
    };
    ($name:ident, $adjust:expr, $scenario:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Backend::Sqlite, $adjust, $scenario).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(Backend::Postgres, $adjust, $scenario).await;
            }
        }
    };
}

oidc_test!(
    a_good_sign_in_lands_with_the_mapped_role_and_training_still_gates,
    |app: TestApp, idp: Idp| async move {
        let (cookie, csrf) = session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        let who = me(&app, &cookie).await;
        assert_eq!(who["role"], "agent");
        assert_eq!(who["username"], "anna@kommun.example");
        assert_eq!(who["capabilities"], json!([]), "untrained: nothing yet");
        let inbox = get_with(&app, &cookie, "/api/v1/conversations").await;
        assert_eq!(inbox.status(), 403);
        let refusal: Value = inbox.json().await.unwrap();
        assert!(refusal["missing_training"]
            .as_array()
            .is_some_and(|m| !m.is_empty()));
        // A trainer records the training; the same session now reaches the inbox.
        app.train(who["id"].as_i64().unwrap(), "all").await;
        let inbox = get_with(&app, &cookie, "/api/v1/conversations").await;
        assert_eq!(inbox.status(), 200);
        // The CSRF token from the redirect works for changes, as after a password sign-in.
        let out = browser()
            .delete(app.url("/api/v1/session"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        // Signing in again finds the same account, by the provider's subject.
        let (cookie, _) = session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        assert_eq!(me(&app, &cookie).await["id"], who["id"]);
        let audited: i64 = sqlx::query_scalar(
            "select count(*) from audit where action = 'signin.success' and detail like '%oidc%'",
        )
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(audited, 2);
    }
);

oidc_test!(
    a_group_with_channels_limits_the_person_to_them,
    |app: TestApp, idp: Idp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", "another-page", "Biblioteket")
            .await;
        let (cookie, _) = session_of(&sign_in(&app, &idp, "cia", &["tavla-facebook"]).await);
        let who = me(&app, &cookie).await;
        assert_eq!(who["role"], "communicator");
        let limited: i64 = sqlx::query_scalar("select id from channels where platform_id = $1")
            .bind(PAGE)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(who["channels"], json!([limited]));
    }
);

oidc_test!(
    a_token_signed_by_another_key_is_refused,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        // Forged: names the provider's key but is signed with the forger's.
        let claims = idp.claims("mallory", &["tavla-admins"], &request.nonce);
        let code = idp.grant(&request, claims, FORGER, FIRST);
        refused(come_back(&app, &request, &code).await, 401, "did not pass").await;
        assert_eq!(refusals(&app).await, ["ID token signature does not verify"]);
        assert_eq!(staff_count(&app).await, 0);
    }
);

oidc_test!(
    a_token_for_another_client_is_refused,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        let mut claims = idp.claims("anna", &["tavla-agents"], &request.nonce);
        claims["aud"] = json!("another-application");
        let code = idp.grant(&request, claims, FIRST, FIRST);
        refused(come_back(&app, &request, &code).await, 401, "did not pass").await;
        assert_eq!(refusals(&app).await, ["ID token issued to another client"]);
    }
);

oidc_test!(
    an_expired_token_is_refused,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        let mut claims = idp.claims("anna", &["tavla-agents"], &request.nonce);
        let now = chrono::Utc::now().timestamp();
        claims["iat"] = json!(now - 7200);
        claims["exp"] = json!(now - 3600);
        let code = idp.grant(&request, claims, FIRST, FIRST);
        refused(come_back(&app, &request, &code).await, 401, "did not pass").await;
        assert_eq!(refusals(&app).await, ["ID token expired"]);
    }
);

oidc_test!(
    a_token_with_another_nonce_is_refused,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        let claims = idp.claims("anna", &["tavla-agents"], "a nonce of another sign-in");
        let code = idp.grant(&request, claims, FIRST, FIRST);
        refused(come_back(&app, &request, &code).await, 401, "did not pass").await;
        assert_eq!(
            refusals(&app).await,
            ["ID token does not answer this sign-in (nonce)"]
        );
    }
);

oidc_test!(a_state_works_once, |app: TestApp, idp: Idp| async move {
    let request = begin(&app, &idp).await;
    let claims = idp.claims("anna", &["tavla-agents"], &request.nonce);
    let code = idp.grant(&request, claims.clone(), FIRST, FIRST);
    session_of(&come_back(&app, &request, &code).await);
    let sessions = app.count("sessions").await;
    // The same answer again (a replay), even with a fresh code from the provider.
    let again = idp.grant(&request, claims, FIRST, FIRST);
    refused(come_back(&app, &request, &again).await, 400, "work once").await;
    assert_eq!(app.count("sessions").await, sessions);
    assert_eq!(refusals(&app).await, ["unknown or already used state"]);
});

oidc_test!(
    an_unknown_state_is_refused,
    |app: TestApp, idp: Idp| async move {
        let mut request = begin(&app, &idp).await;
        let code = idp.grant(
            &request,
            idp.claims("anna", &["tavla-agents"], &request.nonce),
            FIRST,
            FIRST,
        );
        request.state = "a-state-tavla-never-gave".into();
        request.cookie = format!("tavla_oidc={}", request.state);
        refused(come_back(&app, &request, &code).await, 400, "Start again").await;
        assert_eq!(staff_count(&app).await, 0);
    }
);

oidc_test!(
    a_state_from_another_browser_is_refused,
    |app: TestApp, idp: Idp| async move {
        // Login CSRF: an attacker's own sign-in, finished in the victim's browser.
        let mut request = begin(&app, &idp).await;
        let code = idp.grant(
            &request,
            idp.claims("mallory", &["tavla-agents"], &request.nonce),
            FIRST,
            FIRST,
        );
        request.cookie = "tavla_oidc=the-victims-own".into();
        refused(come_back(&app, &request, &code).await, 400, "Start again").await;
        assert_eq!(staff_count(&app).await, 0);
    }
);

oidc_test!(
    the_provider_may_rotate_its_keys,
    |app: TestApp, idp: Idp| async move {
        session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        assert_eq!(idp.state.jwks_served.load(Ordering::SeqCst), 1);
        // A second sign-in with the same key uses the cached keys.
        session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        assert_eq!(idp.state.jwks_served.load(Ordering::SeqCst), 1);
        // The provider switches to a new key and stops publishing the old one.
        *idp.state.published.lock().unwrap() = vec![ROTATED];
        let request = begin(&app, &idp).await;
        let claims = idp.claims("anna", &["tavla-agents"], &request.nonce);
        let code = idp.grant(&request, claims, ROTATED, ROTATED);
        session_of(&come_back(&app, &request, &code).await);
        assert_eq!(idp.state.jwks_served.load(Ordering::SeqCst), 2);
    }
);

oidc_test!(
    a_person_without_a_mapped_group_is_refused,
    |app: TestApp, idp: Idp| async move {
        let response = sign_in(&app, &idp, "bertil", &["kaffeklubben"]).await;
        refused(response, 403, "none of your groups gives access").await;
        assert_eq!(staff_count(&app).await, 0);
        assert_eq!(
            refusals(&app).await,
            ["no rule for the person's groups (1 group(s))"]
        );
    }
);

oidc_test!(
    a_role_change_at_the_provider_applies_at_the_next_sign_in,
    |app: TestApp, idp: Idp| async move {
        let (first, _) = session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        assert_eq!(me(&app, &first).await["role"], "agent");
        let (second, _) =
            session_of(&sign_in(&app, &idp, "anna", &["tavla-agents", "tavla-admins"]).await);
        // Every matching rule gives its role (several roles per person, issue 19), not only
        // the first that matches.
        let now = me(&app, &second).await;
        assert_eq!(now["roles"], json!(["agent", "admin"]));
        assert!(now["role_capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("manage_staff")));
        assert!(now["role_capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("read_dms")));
        // The change ends the session that had the old role.
        assert_eq!(get_with(&app, &first, "/api/v1/me").await.status(), 401);
        assert_eq!(staff_count(&app).await, 1);
        // The channel limit is the person's: a matching rule without channels gives every
        // channel, whatever another matching rule limits.
        let (third, _) =
            session_of(&sign_in(&app, &idp, "anna", &["tavla-agents", "tavla-facebook"]).await);
        let now = me(&app, &third).await;
        assert_eq!(now["roles"], json!(["agent", "communicator"]));
        assert_eq!(now["channels"], Value::Null);
    }
);

oidc_test!(
    with_local_passwords_off_the_password_sign_in_refuses,
    |s: &mut Settings| s.local_passwords = false,
    |app: TestApp, _idp: Idp| async move {
        let hash = tavla::access::hash_password("ett långt och rätt lösenord").unwrap();
        app.store
            .add_staff("lokal", "agent", Some(&hash), &crate::helpers::actor())
            .await
            .unwrap();
        let response = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "lokal", "password": "ett långt och rätt lösenord"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(set_cookie(&response, "tavla_session").is_none());
        let problem: Value = response.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("Sign in with Kommunens inloggning"),
            "{detail}"
        );
        let options: Value = app
            .client
            .get(app.url("/api/v1/signin-options"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            options,
            json!({"local_passwords": false,
                   "oidc": {"provider_name": "Kommunens inloggning", "start": "/auth/oidc/start"}})
        );
    }
);

oidc_test!(
    a_refusal_at_the_provider_is_shown_as_text,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        let mut url = reqwest::Url::parse(&app.url("/auth/oidc/callback")).unwrap();
        url.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "<script>alert(1)</script> the user cancelled",
            )
            .append_pair("state", &request.state);
        let response = browser()
            .get(url)
            .header("cookie", &request.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let page = response.text().await.unwrap();
        assert!(
            page.contains(
                "access_denied: &lt;script&gt;alert(1)&lt;/script&gt; the user cancelled"
            ),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("Inloggningen blev inte klar"),
            "Swedish first: {page}"
        );
        assert_eq!(
            refusals(&app).await,
            ["the provider answered access_denied"]
        );
    }
);

oidc_test!(
    an_expired_state_is_refused,
    |app: TestApp, idp: Idp| async move {
        let request = begin(&app, &idp).await;
        let code = idp.grant(
            &request,
            idp.claims("anna", &["tavla-agents"], &request.nonce),
            FIRST,
            FIRST,
        );
        // Eleven minutes pass at the provider.
        sqlx::query("update oidc_logins set created_at = created_at - 660000")
            .execute(&app.store.pool)
            .await
            .unwrap();
        refused(
            come_back(&app, &request, &code).await,
            400,
            "for ten minutes",
        )
        .await;
        assert_eq!(refusals(&app).await, ["state expired"]);
        assert_eq!(staff_count(&app).await, 0);
    }
);

oidc_test!(
    a_local_account_of_the_same_name_is_not_taken_over,
    |app: TestApp, idp: Idp| async move {
        let local = app
            .store
            .add_staff(
                "anna@kommun.example",
                "admin",
                None,
                &crate::helpers::actor(),
            )
            .await
            .unwrap();
        let (cookie, _) = session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        let who = me(&app, &cookie).await;
        assert_ne!(who["id"], json!(local.id));
        assert_eq!(who["role"], "agent");
        let name = who["username"].as_str().unwrap();
        assert!(
            name.starts_with("anna@kommun.example-") && name.len() > 21,
            "{name}"
        );
    }
);

oidc_test!(
    a_disabled_account_stays_out,
    |app: TestApp, idp: Idp| async move {
        let (cookie, _) = session_of(&sign_in(&app, &idp, "anna", &["tavla-agents"]).await);
        let id = me(&app, &cookie).await["id"].as_i64().unwrap();
        app.store
            .update_staff(id, None, Some(true), None, &crate::helpers::actor())
            .await
            .unwrap();
        let response = sign_in(&app, &idp, "anna", &["tavla-agents"]).await;
        refused(response, 403, "disabled your account").await;
        assert_eq!(refusals(&app).await, ["the account is disabled in tavla"]);
    }
);
