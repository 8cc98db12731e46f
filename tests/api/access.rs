//! Access is enforced on the server for every route. The first test walks the router's own route
//! table, so a new route without an expectation here fails it.

use std::collections::HashMap;

use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::webhooks::dm_batch;

const PAGE: &str = "700000000000001";
const ROLES: [&str; 6] = [
    "agent",
    "communicator",
    "moderator",
    "admin",
    "auditor",
    "integration",
];
/// Every role a person may hold (integration is for service accounts only).
const PEOPLE: [&str; 5] = ["agent", "communicator", "moderator", "admin", "auditor"];

/// Who gets past access control on each route (any status but 401/403), when fully trained and
/// when untrained. Routes whose rule is Public are listed in PUBLIC instead.
fn expectations() -> HashMap<&'static str, (&'static [&'static str], &'static [&'static str])> {
    const ALL: &[&str] = &ROLES;
    const NONE: &[&str] = &[];
    const AGENT: &[&str] = &["agent"];
    const ADMIN: &[&str] = &["admin"];
    const INGEST: &[&str] = &["admin", "integration"];
    const FOLLOW_UP: &[&str] = &["communicator", "admin"];
    HashMap::from([
        ("DELETE /api/v1/session", (ALL, ALL)),
        ("GET /api/v1/me", (ALL, ALL)),
        ("POST /api/v1/me/password", (ALL, ALL)),
        // A person mints their own tokens; a service account's are rotated by an administrator.
        ("POST /api/v1/me/tokens", (&PEOPLE[..], &PEOPLE[..])),
        ("DELETE /api/v1/me/tokens", (ALL, ALL)),
        ("GET /api/v1/channels", (ALL, ALL)),
        ("GET /api/v1/events", (ALL, ALL)),
        ("POST /api/v1/messages", (INGEST, INGEST)),
        (
            "GET /api/v1/conversations",
            (&["agent", "communicator", "moderator"][..], NONE),
        ),
        // {id} is a direct message: only agents may read or work on it.
        ("GET /api/v1/conversations/{id}", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/claim", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/release", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/status", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/replies", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/handover", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/notes", (AGENT, NONE)),
        ("POST /api/v1/conversations/{id}/categories", (AGENT, NONE)),
        // The categories of the questions: read by those who read conversations and by
        // administrators, kept by administrators.
        (
            "GET /api/v1/categories",
            (&["agent", "communicator", "moderator", "admin"][..], NONE),
        ),
        ("POST /api/v1/categories", (ADMIN, NONE)),
        ("PATCH /api/v1/categories/{id}", (ADMIN, NONE)),
        // {id} is the DM: a saved reply filled for it is for those who may answer it.
        (
            "GET /api/v1/conversations/{id}/saved-replies/{reply}/preview",
            (AGENT, NONE),
        ),
        // {id} is the DM's message: retrying needs answer_dms (409 there: nothing failed).
        ("POST /api/v1/messages/{id}/retry", (AGENT, NONE)),
        ("POST /api/v1/channels", (ADMIN, NONE)),
        ("POST /api/v1/channels/{id}/approve", (ADMIN, NONE)),
        ("GET /api/v1/quarantine", (ADMIN, NONE)),
        ("GET /api/v1/staff", (ADMIN, ADMIN)),
        ("POST /api/v1/staff", (ADMIN, ADMIN)),
        ("POST /api/v1/service-accounts", (ADMIN, ADMIN)),
        ("PATCH /api/v1/staff/{id}", (ADMIN, ADMIN)),
        ("GET /api/v1/staff/{id}/training", (ADMIN, ADMIN)),
        ("POST /api/v1/staff/{id}/training", (ADMIN, ADMIN)),
        ("POST /api/v1/staff/{id}/tokens", (ADMIN, ADMIN)),
        ("DELETE /api/v1/staff/{id}/tokens", (ADMIN, ADMIN)),
        ("GET /api/v1/audit", (&["admin", "auditor"][..], NONE)),
        // The organisation's search synonyms: read by those who search and by administrators,
        // kept by administrators.
        (
            "GET /api/v1/search/synonyms",
            (&["agent", "communicator", "moderator", "admin"][..], NONE),
        ),
        ("POST /api/v1/search/synonyms", (ADMIN, NONE)),
        ("PATCH /api/v1/search/synonyms/{id}", (ADMIN, NONE)),
        ("DELETE /api/v1/search/synonyms/{id}", (ADMIN, NONE)),
        (
            "GET /api/v1/search",
            (&["agent", "communicator", "moderator"][..], NONE),
        ),
        // {id} is the DM's message: only those who read DMs may report it.
        ("POST /api/v1/messages/{id}/report", (AGENT, NONE)),
        ("GET /api/v1/moderation/cases", (&["moderator"][..], NONE)),
        (
            "GET /api/v1/moderation/cases/{id}",
            (&["moderator"][..], NONE),
        ),
        // {id} is a DM's case: moderators, and agents (who answer DMs) for the steps
        // routines.toml gives them; a communicator answers no DMs.
        (
            "POST /api/v1/moderation/cases/{id}/steps",
            (&["moderator", "agent"][..], NONE),
        ),
        (
            "POST /api/v1/moderation/cases/{id}/close",
            (&["moderator"][..], NONE),
        ),
        ("GET /api/v1/moderation/heated", (&["moderator"][..], NONE)),
        ("GET /api/v1/faq/clusters", (&["communicator"][..], NONE)),
        (
            "GET /api/v1/saved-replies",
            (&["agent", "communicator"][..], NONE),
        ),
        ("POST /api/v1/saved-replies", (&["communicator"][..], NONE)),
        (
            "PATCH /api/v1/saved-replies/{id}",
            (&["communicator"][..], NONE),
        ),
        (
            "PATCH /api/v1/faq/clusters/{id}",
            (&["communicator"][..], NONE),
        ),
        (
            "POST /api/v1/faq/clusters/{id}/questions",
            (&["communicator"][..], NONE),
        ),
        ("GET /api/v1/faq/topics", (&["communicator"][..], NONE)),
        (
            "GET /api/v1/reports",
            (&["communicator", "admin", "auditor"][..], NONE),
        ),
        // Post follow-up: communicators and administrators, each within their channel limit.
        ("GET /api/v1/posts", (FOLLOW_UP, NONE)),
        ("GET /api/v1/posts/{id}", (FOLLOW_UP, NONE)),
        ("POST /api/v1/posts/refresh", (FOLLOW_UP, NONE)),
        ("GET /api/v1/posts/refresh", (FOLLOW_UP, NONE)),
        ("POST /api/v1/posts/{id}/notes", (FOLLOW_UP, NONE)),
        ("GET /api/v1/post-notes", (FOLLOW_UP, NONE)),
        ("POST /api/v1/campaign-analytics", (FOLLOW_UP, NONE)),
        ("GET /api/v1/campaigns", (FOLLOW_UP, NONE)),
        ("POST /api/v1/campaigns", (FOLLOW_UP, NONE)),
        ("POST /api/v1/goals", (FOLLOW_UP, NONE)),
        ("PATCH /api/v1/goals/{id}", (FOLLOW_UP, NONE)),
        ("DELETE /api/v1/goals/{id}", (FOLLOW_UP, NONE)),
        ("PATCH /api/v1/campaigns/{id}", (FOLLOW_UP, NONE)),
        ("DELETE /api/v1/campaigns/{id}", (FOLLOW_UP, NONE)),
        // A note: its writer or an administrator (decided per note, tests/api/posts.rs).
        ("PATCH /api/v1/post-notes/{id}", (FOLLOW_UP, NONE)),
        ("DELETE /api/v1/post-notes/{id}", (FOLLOW_UP, NONE)),
        // The DPO (auditor) answers a person's requests; all of privacy needs the GDPR module.
        ("GET /api/v1/privacy/authors", (&["auditor"][..], NONE)),
        (
            "GET /api/v1/privacy/authors/{platform_id}",
            (&["auditor"][..], NONE),
        ),
        (
            "POST /api/v1/privacy/authors/{platform_id}/erase",
            (&["auditor"][..], NONE),
        ),
        // Holds and retention: the archivist's administrator and the DPO.
        ("GET /api/v1/legal-holds", (&["admin", "auditor"][..], NONE)),
        (
            "POST /api/v1/legal-holds",
            (&["admin", "auditor"][..], NONE),
        ),
        (
            "DELETE /api/v1/legal-holds/{id}",
            (&["admin", "auditor"][..], NONE),
        ),
        (
            "POST /api/v1/retention/runs",
            (&["admin", "auditor"][..], NONE),
        ),
        // {id} is the DM's message: revealing needs reveal_personal_data and reading the DM
        // (agent), or the DPO's privacy work (auditor); a moderator reads no DMs.
        (
            "POST /api/v1/messages/{id}/reveal",
            (&["agent", "auditor"][..], NONE),
        ),
    ])
}

/// A token for every role, trained and untrained (service accounts for integration).
async fn role_tokens(app: &TestApp, suffix: &str) -> Vec<(&'static str, bool, String)> {
    let mut tokens = Vec::new();
    for role in ROLES {
        for trained in [true, false] {
            let name = format!(
                "{role}-{}{suffix}",
                if trained { "trained" } else { "untrained" }
            );
            let (id, token) = if role == "integration" {
                app.service_token(&name, role).await
            } else {
                app.untrained_token(&name, role).await
            };
            if trained {
                app.train(id, "all").await;
            }
            tokens.push((role, trained, token));
        }
    }
    tokens
}

/// Routes open without sign-in, each a deliberate decision.
const PUBLIC: [&str; 13] = [
    // The console's page and files: everything it shows comes from the API.
    "GET /",
    "GET /static/{*path}",
    // Browsers report CSP violations without credentials (size-bounded, rate-limited).
    "POST /api/v1/csp-reports",
    "GET /healthz",
    // Readiness for load balancers: a status and migration numbers, nothing of anyone's.
    "GET /readyz",
    // No staff sign-in, but not open to all: a scrape token or an allowed address (loopback by
    // default, which is where this test calls from); refusals in tests/api/hardening.rs.
    "GET /metrics",
    "GET /webhooks/meta",
    "POST /webhooks/meta",
    "GET /api/v1/openapi.json",
    "POST /api/v1/session",
    // Single sign-on: the ways to sign in, and the browser's way to the provider and back
    // (without single sign-on configured they answer 404; tests/api/oidc.rs).
    "GET /api/v1/signin-options",
    "GET /auth/oidc/start",
    "GET /auth/oidc/callback",
];

on_both_backends!(
    every_route_checks_role_and_training,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
                .await
                .status(),
            200
        );
        let conversation: i64 = sqlx::query_scalar("select id from conversations")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let channel: i64 = sqlx::query_scalar("select id from channels")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let message: i64 = sqlx::query_scalar("select id from messages")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let routines = tavla::moderation::routines::Routines::built_in();
        let opening =
            tavla::moderation::cases::opening(&routines, "S2", vec!["insult".into()], "report")
                .unwrap();
        let (case, _) = app
            .store
            .report_message(message, &opening, &crate::helpers::actor())
            .await
            .unwrap();
        let (target_staff, _) = app.untrained_token("target", "agent").await;
        // Tokens are minted (and rotated) by an administrator for service accounts only.
        let (target_service, _) = app.service_token("target", "integration").await;
        let tokens = role_tokens(&app, "").await;
        // Revoking one's own tokens would end those the rest of the walk uses.
        let throwaway = role_tokens(&app, "-throwaway").await;
        let expected = expectations();
        let mut covered = 0;
        for (spec, _) in tavla::http::routes() {
            let key = format!("{} {}", spec.method, spec.path);
            let path = spec.path.replace(
                "{id}",
                &if spec.path.starts_with("/api/v1/conversations") {
                    conversation.to_string()
                } else if spec.path.starts_with("/api/v1/channels") {
                    channel.to_string()
                } else if spec.path.starts_with("/api/v1/messages") {
                    message.to_string()
                } else if spec.path.starts_with("/api/v1/moderation/cases") {
                    case.to_string()
                } else if spec.path.ends_with("/tokens") {
                    target_service.to_string()
                } else {
                    target_staff.to_string()
                },
            );
            // A saved reply that does not exist: the conversation decides access first.
            let path = path.replace("{reply}", "1");
            let send = |token: Option<&str>| {
                let mut request = app.client.request(spec.method.clone(), app.url(&path));
                if let Some(t) = token {
                    request = request.bearer_auth(t);
                }
                if spec.method != reqwest::Method::GET && spec.method != reqwest::Method::DELETE {
                    request = request.json(&json!({}));
                }
                request.send()
            };
            if PUBLIC.contains(&key.as_str()) {
                assert_eq!(
                    spec.rule,
                    tavla::http::Rule::Public,
                    "{key} is listed as public"
                );
                // The webhook carries its own credentials (verify token, signature): tested elsewhere.
                if !key.contains("/webhooks/") {
                    let status = send(None).await.unwrap().status().as_u16();
                    assert!(
                        status != 401 && status != 403,
                        "{key} is public, got {status}"
                    );
                }
                covered += 1;
                continue;
            }
            let (trained_ok, untrained_ok) = expected.get(key.as_str()).unwrap_or_else(|| {
                panic!("the route {key} has no access expectation in tests/api/access.rs")
            });
            assert_eq!(
                send(None).await.unwrap().status(),
                401,
                "{key} without credentials"
            );
            let tokens = if key == "DELETE /api/v1/me/tokens" {
                &throwaway
            } else {
                &tokens
            };
            for (role, trained, token) in tokens {
                let status = send(Some(token)).await.unwrap().status().as_u16();
                let ok = if *trained { trained_ok } else { untrained_ok };
                if ok.contains(role) {
                    assert!(
                        status != 401 && status != 403,
                        "{key}: {role} (trained: {trained}) got {status}"
                    );
                } else {
                    assert_eq!(
                        status, 403,
                        "{key}: {role} (trained: {trained}) must be refused"
                    );
                }
            }
            covered += 1;
        }
        assert_eq!(
            covered,
            expected.len() + PUBLIC.len(),
            "every expectation matches a route"
        );
    }
);

on_both_backends!(
    missing_and_expired_training_is_named,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
                .await
                .status(),
            200
        );
        let (id, agent) = app.untrained_token("nyanställd", "agent").await;
        let refused = app.get(&agent, "/api/v1/conversations").await;
        assert_eq!(refused.status(), 403);
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("contact-centre-1"),
            "{problem}"
        );
        assert!(problem["missing_training"]
            .as_array()
            .unwrap()
            .contains(&json!("gdpr")));

        for module in ["social-media-basics", "gdpr", "contact-centre-1"] {
            app.train(id, module).await;
        }
        assert_eq!(app.get(&agent, "/api/v1/conversations").await.status(), 200);
        let me = app.get_json(&agent, "/api/v1/me").await;
        assert!(me["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("read_dms")));
        assert!(!me["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("answer_dms")));
        assert!(me["missing_training"]["answer_dms"]
            .as_array()
            .unwrap()
            .contains(&json!("contact-centre-2")));
        let conversation = app.conversations(&agent, "").await[0]["id"]
            .as_i64()
            .unwrap();
        let claim = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{conversation}/claim"),
                json!({}),
            )
            .await;
        assert_eq!(claim.status(), 403, "reading is not answering");

        // GDPR expires after its validity: a completion from two years ago no longer counts.
        sqlx::query("update training_completions set completed_at = completed_at - $1 where module = 'gdpr'")
        .bind(2 * 365 * 24 * 3_600_000i64)
        .execute(&app.store.pool)
        .await
        .unwrap();
        let refused = app.get(&agent, "/api/v1/conversations").await;
        assert_eq!(refused.status(), 403);
        let me = app.get_json(&agent, "/api/v1/me").await;
        let gdpr = me["training"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "gdpr")
            .unwrap()
            .clone();
        assert_eq!(gdpr["state"], "expired");
    }
);

on_both_backends!(
    channel_scope_hides_other_channels_everywhere,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", "700000000000002", "Skolan")
            .await;
        let admin = app.token("admin", "admin").await;
        let (school_agent_id, _) = (0, ());
        let _ = school_agent_id;
        let teacher = app.token("teacher", "agent").await;
        let teacher_id: i64 = sqlx::query_scalar("select id from staff where username = 'teacher'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let school: i64 = sqlx::query_scalar("select id from channels where name = 'Skolan'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/staff/{teacher_id}")))
            .bearer_auth(&admin)
            .json(&json!({"channels": [school]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let stream = app.get(&teacher, "/api/v1/events").await;
        assert_eq!(
            app.webhook(&dm_batch(&[
                (PAGE, "u1", "m1", "Till kommunen"),
                ("700000000000002", "u2", "m2", "Till skolan")
            ]))
            .await
            .status(),
            200
        );
        let list = app.conversations(&teacher, "").await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["channel_name"], "Skolan");
        let other: i64 = sqlx::query_scalar("select c.id from conversations c join channels ch on ch.id = c.channel_id where ch.name = 'Kommunen'")
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(
            app.get(&teacher, &format!("/api/v1/conversations/{other}"))
                .await
                .status(),
            404
        );
        assert_eq!(
            app.post(
                &teacher,
                &format!("/api/v1/conversations/{other}/claim"),
                json!({})
            )
            .await
            .status(),
            404
        );
        let channels = app.get_json(&teacher, "/api/v1/channels").await;
        assert_eq!(channels["items"].as_array().unwrap().len(), 1);
        let events = crate::events::read_events(stream, 1).await;
        assert_eq!(
            events[0].2["channel_id"], school,
            "the other channel's event was not sent"
        );
    }
);

on_both_backends!(
    channel_limited_administrator_works_only_on_own_channels,
    |app: TestApp| async move {
        let admin = app.token("admin", "admin").await;
        let regional = app.token("regional", "admin").await;
        let register = |platform_id: &'static str, name: &'static str| json!({"platform": "facebook", "platform_id": platform_id, "name": name});
        for (id, name) in [
            ("700000000000011", "Biblioteket"),
            ("700000000000012", "Simhallen"),
        ] {
            let r = app
                .post(&admin, "/api/v1/channels", register(id, name))
                .await;
            assert_eq!(r.status(), 201);
        }
        let channel_id = |name: &'static str| {
            let pool = app.store.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("select id from channels where name = $1")
                    .bind(name)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let library = channel_id("Biblioteket").await;
        let pool_hall = channel_id("Simhallen").await;
        let regional_id: i64 =
            sqlx::query_scalar("select id from staff where username = 'regional'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/staff/{regional_id}")))
            .bearer_auth(&admin)
            .json(&json!({"channels": [library]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // One message waits for each unapproved channel, one for a page nobody registered.
        let batch = dm_batch(&[
            ("700000000000011", "u1", "m1", "Till biblioteket"),
            ("700000000000012", "u2", "m2", "Till simhallen"),
            ("700000000000013", "u3", "m3", "Till en okänd sida"),
        ]);
        assert_eq!(app.webhook(&batch).await.status(), 200);

        let everything = app.get_json(&admin, "/api/v1/quarantine").await;
        assert_eq!(everything["items"].as_array().unwrap().len(), 3);
        let own = app.get_json(&regional, "/api/v1/quarantine").await;
        let own = own["items"].as_array().unwrap();
        assert_eq!(own.len(), 1, "{own:?}");
        assert_eq!(own[0]["channel_platform_id"], "700000000000011");

        let other = app
            .post(
                &regional,
                &format!("/api/v1/channels/{pool_hall}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(other.status(), 404);
        let new = app
            .post(
                &regional,
                "/api/v1/channels",
                register("700000000000013", "Okänd"),
            )
            .await;
        assert_eq!(new.status(), 403);
        let mine = app
            .post(
                &regional,
                &format!("/api/v1/channels/{library}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(mine.status(), 200);
        assert_eq!(
            mine.json::<serde_json::Value>().await.unwrap()["released_from_quarantine"],
            1
        );
    }
);

/// Signs in and returns (cookie header value, csrf token).
pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn staff_with_password(
    app: &TestApp,
    username: &str,
    role: &str,
    password: &str,
) -> i64 {
    let hash = tavla::access::hash_password(password).unwrap();
    let staff = app
        .store
        .add_staff(username, role, Some(&hash), &crate::helpers::actor())
        .await
        .unwrap();
    app.train(staff.id, "all").await;
    staff.id
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

on_both_backends!(
    sessions_need_csrf_for_changes_and_rotate,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
                .await
                .status(),
            200
        );
        staff_with_password(&app, "anna", "agent", "ett långt lösenord").await;
        let first = sign_in(&app, "anna", "ett långt lösenord").await;
        assert_eq!(first.status(), 200);
        let cookie = cookie_of(&first);
        let csrf = first.json::<serde_json::Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        let get = |c: &str| {
            app.client
                .get(app.url("/api/v1/conversations"))
                .header("cookie", c.to_string())
                .send()
        };
        assert_eq!(get(&cookie).await.unwrap().status(), 200);
        let id: i64 = sqlx::query_scalar("select id from conversations")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let claim = |c: &str, csrf: Option<&str>| {
            let mut r = app
                .client
                .post(app.url(&format!("/api/v1/conversations/{id}/claim")))
                .header("cookie", c.to_string());
            if let Some(t) = csrf {
                r = r.header("x-csrf-token", t.to_string());
            }
            r.send()
        };
        let no_csrf = claim(&cookie, None).await.unwrap();
        assert_eq!(no_csrf.status(), 403);
        assert!(no_csrf.text().await.unwrap().contains("X-CSRF-Token"));
        assert_eq!(claim(&cookie, Some("forged")).await.unwrap().status(), 403);
        assert_eq!(claim(&cookie, Some(&csrf)).await.unwrap().status(), 200);

        // Signing in again with the old cookie rotates: the old session ends.
        let second = app
            .client
            .post(app.url("/api/v1/session"))
            .header("cookie", cookie.clone())
            .json(&json!({"username": "anna", "password": "ett långt lösenord"}))
            .send()
            .await
            .unwrap();
        let new_cookie = cookie_of(&second);
        assert_ne!(new_cookie, cookie);
        assert_eq!(get(&cookie).await.unwrap().status(), 401);
        assert_eq!(get(&new_cookie).await.unwrap().status(), 200);

        let out = app
            .client
            .delete(app.url("/api/v1/session"))
            .header("cookie", new_cookie.clone())
            .header(
                "x-csrf-token",
                second.json::<serde_json::Value>().await.unwrap()["csrf_token"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        assert_eq!(get(&new_cookie).await.unwrap().status(), 401);
    }
);

on_both_backends!(
    failed_sign_ins_are_limited_with_a_clear_message,
    |app: TestApp| async move {
        staff_with_password(&app, "bertil", "agent", "rätt lösenord här").await;
        for _ in 0..5 {
            let r = sign_in(&app, "bertil", "fel lösenord").await;
            assert_eq!(r.status(), 401);
            assert!(r
                .text()
                .await
                .unwrap()
                .contains("username or the password is wrong"));
        }
        let blocked = sign_in(&app, "bertil", "rätt lösenord här").await;
        assert_eq!(blocked.status(), 429);
        assert!(
            blocked.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 0
        );
        assert!(blocked.text().await.unwrap().contains("try again in"));
        // An unknown name gets the same answer as a wrong password.
        assert_eq!(sign_in(&app, "ingen-sådan", "x").await.status(), 401);
        let audit = app
            .get_json(
                &app.token("granskare", "auditor").await,
                "/api/v1/audit?action=signin.failure",
            )
            .await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 6);
        assert!(audit["items"][0]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1"));
    }
);

on_both_backends!(
    a_password_change_ends_other_sessions_and_streams,
    |app: TestApp| async move {
        staff_with_password(&app, "cecilia", "agent", "första lösenordet").await;
        let a = sign_in(&app, "cecilia", "första lösenordet").await;
        let cookie_a = cookie_of(&a);
        let csrf_a = a.json::<serde_json::Value>().await.unwrap()["csrf_token"]
            .as_str()
            .unwrap()
            .to_string();
        let b = sign_in(&app, "cecilia", "första lösenordet").await;
        let cookie_b = cookie_of(&b);
        let stream_b = app
            .client
            .get(app.url("/api/v1/events"))
            .header("cookie", cookie_b.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(stream_b.status(), 200);
        let changed = app
        .client
        .post(app.url("/api/v1/me/password"))
        .header("cookie", cookie_a.clone())
        .header("x-csrf-token", csrf_a)
        .json(&json!({"current_password": "första lösenordet", "new_password": "andra lösenordet!"}))
        .send()
        .await
        .unwrap();
        assert_eq!(changed.status(), 204);
        let me = |c: String| {
            app.client
                .get(app.url("/api/v1/me"))
                .header("cookie", c)
                .send()
        };
        assert_eq!(
            me(cookie_a.clone()).await.unwrap().status(),
            200,
            "the session that changed it stays"
        );
        assert_eq!(me(cookie_b.clone()).await.unwrap().status(), 401);
        // The other session's event stream ends by itself.
        let ended =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream_b.bytes()).await;
        assert!(ended.is_ok(), "the stream of an ended session closes");
        assert_eq!(
            sign_in(&app, "cecilia", "första lösenordet").await.status(),
            401
        );
        assert_eq!(
            sign_in(&app, "cecilia", "andra lösenordet!").await.status(),
            200
        );
    }
);

on_both_backends!(
    reads_and_actions_are_audited_and_tampering_is_found,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        assert_eq!(
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")]))
                .await
                .status(),
            200
        );
        let agent = app.token("agent", "agent").await;
        let auditor = app.token("auditor", "auditor").await;
        let id = app.conversations(&agent, "").await[0]["id"]
            .as_i64()
            .unwrap();
        app.get_json(&agent, &format!("/api/v1/conversations/{id}"))
            .await;
        assert_eq!(
            app.post(
                &agent,
                &format!("/api/v1/conversations/{id}/claim"),
                json!({})
            )
            .await
            .status(),
            200
        );
        let target = format!("conversation:{id}");
        let trail = app
            .get_json(&auditor, &format!("/api/v1/audit?target={target}"))
            .await;
        let actions: Vec<_> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(actions, ["conversation.claimed", "conversation.read"]);
        assert_eq!(trail["items"][0]["actor"], "agent");

        let verify = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
                .args(["audit", "verify"])
                .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
                .env("TAVLA_LOG_LEVEL", "warn")
                .output()
                .unwrap()
        };
        let ok = verify();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let tampered: i64 =
            sqlx::query_scalar("select id from audit where action = 'conversation.read'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        sqlx::query("update audit set actor = 'someone-else' where id = $1")
            .bind(tampered)
            .execute(&app.store.pool)
            .await
            .unwrap();
        let broken = verify();
        assert!(!broken.status.success());
        let stderr = String::from_utf8_lossy(&broken.stderr);
        assert!(
            stderr.contains(&format!("broken at entry {tampered}")),
            "{stderr}"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookies_idle_timeout_and_forged_forwarding_headers() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.secure_cookies = true;
        s.session_idle_minutes = 0;
    })
    .await
    .unwrap();
    staff_with_password(&app, "dora", "agent", "ett långt lösenord").await;
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "dora", "password": "ett långt lösenord"}))
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-tavla_session=") && set.contains("; Secure"),
        "{set}"
    );
    // No trusted proxy is configured, so the forged header is not the logged address.
    let address: String =
        sqlx::query_scalar("select address from audit where action = 'signin.success'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(address, "127.0.0.1");
    // With an idle limit of zero minutes the session is over by the next request.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cookie = set.split(';').next().unwrap().to_string();
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert!(me.text().await.unwrap().contains("timed out"));
}

on_both_backends!(
    tokens_can_be_revoked_and_disabling_revokes_them,
    |app: TestApp| async move {
        let admin = app.token("admin", "admin").await;
        let (id, token) = app.untrained_token("integration", "agent").await;
        assert_eq!(app.get(&token, "/api/v1/me").await.status(), 200);
        let stream = app.get(&token, "/api/v1/events").await;
        assert_eq!(stream.status(), 200);
        let revoked = app
            .client
            .delete(app.url(&format!("/api/v1/staff/{id}/tokens")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            revoked.json::<serde_json::Value>().await.unwrap()["revoked"],
            1
        );
        assert_eq!(app.get(&token, "/api/v1/me").await.status(), 401);
        // The stream opened with the revoked token ends by itself.
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), stream.bytes()).await;
        assert!(ended.is_ok(), "the stream of a revoked token closes");

        let (id2, token2) = app.untrained_token("leaver", "agent").await;
        let patch = |body: serde_json::Value| {
            app.client
                .patch(app.url(&format!("/api/v1/staff/{id2}")))
                .bearer_auth(&admin)
                .json(&body)
                .send()
        };
        assert_eq!(
            patch(json!({"disabled": true})).await.unwrap().status(),
            200
        );
        assert_eq!(
            patch(json!({"disabled": false})).await.unwrap().status(),
            200
        );
        assert_eq!(
            app.get(&token2, "/api/v1/me").await.status(),
            401,
            "an old token stays dead"
        );
        let missing = app
            .client
            .patch(app.url("/api/v1/staff/999999"))
            .bearer_auth(&admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let _ = id;
    }
);

/// The OpenAPI document states each API route's access rule as `x-access`, the same as the
/// route table's, so a route added or changed without its documentation fails here.
#[test]
fn every_api_route_is_documented_with_its_access_rule() {
    let doc = tavla::http::description::document();
    let names = |capabilities: &[tavla::access::Capability]| {
        capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>()
    };
    for (spec, _) in tavla::http::routes() {
        // The console's page and files are not API.
        if spec.path == "/" || spec.path.starts_with("/static/") {
            continue;
        }
        let (rule, capabilities) = match spec.rule {
            tavla::http::Rule::Public => ("public", vec![]),
            tavla::http::Rule::SignedIn => ("signed_in", vec![]),
            tavla::http::Rule::Needs(c) => ("needs", names(&[c])),
            tavla::http::Rule::AnyOf(cs) => ("any_of", names(cs)),
        };
        let method = spec.method.as_str().to_lowercase();
        let documented = &doc["paths"][spec.path][&method]["x-access"];
        assert_eq!(
            documented,
            &json!({"rule": rule, "capabilities": capabilities}),
            "{} {} in src/http/openapi.json",
            spec.method,
            spec.path
        );
    }
}

/// And the other way: every operation the document describes is served, so a route taken away
/// (or renamed) does not live on in the description that clients are generated from.
#[test]
fn every_documented_operation_is_a_route() {
    let doc = tavla::http::description::document();
    let served: std::collections::HashSet<(String, String)> = tavla::http::routes()
        .iter()
        .map(|(spec, _)| (spec.method.as_str().to_lowercase(), spec.path.to_string()))
        .collect();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            if !served.contains(&(method.clone(), path.clone())) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "documented in src/http/openapi.json but not served: {missing:?}"
    );
}

/// The live stream's events are described by kind in the API description; a kind the service
/// emits but the description lacks made every client that validates the stream fail (found by
/// schemathesis: `conversation.handed_over`).
#[test]
fn every_event_kind_is_documented() {
    let doc = tavla::http::description::document();
    let documented: Vec<&str> = doc["components"]["schemas"]["EventKind"]["enum"]
        .as_array()
        .expect("EventKind lists the kinds")
        .iter()
        .map(|k| k.as_str().expect("a kind is a string"))
        .collect();
    let emitted: Vec<&str> = tavla::store::EventKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        documented, emitted,
        "components.schemas.EventKind in src/http/openapi.json"
    );
}

/// Every `$ref` in the composed description points at something it holds: a typed operation
/// naming a shared refusal (`description/refusals.rs`) or a schema the hand-written part lacks
/// would leave clients and schemathesis a dangling reference.
#[test]
fn every_reference_resolves() {
    fn walk(value: &serde_json::Value, refs: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    refs.push(target.clone());
                }
                map.values().for_each(|v| walk(v, refs));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let doc = tavla::http::description::document();
    let mut refs = Vec::new();
    walk(&doc, &mut refs);
    assert!(refs.len() > 100, "the description references its parts");
    let dangling: Vec<&String> = refs
        .iter()
        .filter(|r| {
            r.strip_prefix('#')
                .and_then(|pointer| doc.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

/// The typed operations are in the served description with what their handlers declare: the
/// note a handler takes is described from the Rust type the handler parses (its length rule and
/// its refusal of unknown fields), and the rule's refusals are added from the route table.
#[test]
fn typed_operations_are_derived_from_their_handlers() {
    let doc = tavla::http::description::document();
    let write = &doc["paths"]["/api/v1/conversations/{id}/notes"]["post"];
    assert_eq!(write["operationId"], "writeConversationNote");
    let body = &write["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/NoteRequest");
    let note = &doc["components"]["schemas"]["NoteRequest"];
    assert_eq!(note["properties"]["text"]["maxLength"], 4000, "{note}");
    assert_eq!(note["additionalProperties"], false, "{note}");
    for status in ["401", "403", "500"] {
        assert!(
            write["responses"][status].is_object(),
            "{status} added from the rule: {write}"
        );
    }
    let description = write["description"].as_str().unwrap();
    assert!(
        description.contains("**Access:** needs at least one of the capabilities `answer_dms`")
            && description.contains("Then the conversation decides")
            && description.ends_with("the answer is 403."),
        "{description}"
    );
}

on_both_backends!(
    the_staff_rules_the_description_states_are_the_ones_the_service_keeps,
    |app: TestApp| async move {
        // What the typed request of addStaff says: a username of 1 to 64 characters, and
        // `role` or `roles`, not both and not neither.
        let doc = tavla::http::description::document();
        let schema = &doc["components"]["schemas"]["NewStaff"];
        assert_eq!(
            schema["properties"]["username"]["maxLength"], 64,
            "{schema}"
        );
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(
            schema["not"]["required"],
            json!(["role", "roles"]),
            "{schema}"
        );
        assert_eq!(
            schema["anyOf"].as_array().map(Vec::len),
            Some(2),
            "{schema}"
        );
        // The service refuses exactly those, and takes what the schema allows.
        let admin = app.token("admin", "admin").await;
        let add = |body: serde_json::Value| app.post(&admin, "/api/v1/staff", body);
        let long = "a".repeat(65);
        for refused in [
            json!({"username": long, "role": "agent"}),
            json!({"username": "eva", "role": "agent", "roles": ["agent"]}),
            json!({"username": "eva"}),
        ] {
            assert_eq!(add(refused.clone()).await.status(), 422, "{refused}");
        }
        let taken = json!({"username": "a".repeat(64), "roles": ["agent", "moderator"]});
        let created = add(taken).await;
        assert_eq!(created.status(), 201);
        let created: serde_json::Value = created.json().await.unwrap();
        assert_eq!(created["staff"]["roles"], json!(["agent", "moderator"]));
        assert_eq!(created["staff"]["role"], "agent");
    }
);
/// The limits the conversation handlers enforce are in the schemas derived from the types they
/// parse: a batch of more than 5,000 items, a handover note over 2,000 characters or a reply over
/// the comment limit is refused by the service, and a client generated from the description must
/// know before it sends. The queue's `handed` filter is described with the two words it takes.
#[test]
fn conversation_limits_are_derived_from_their_handlers() {
    let doc = tavla::http::description::document();
    let schemas = &doc["components"]["schemas"];
    let batch = &schemas["IngestBatch"];
    assert_eq!(batch["properties"]["messages"]["maxItems"], 5000, "{batch}");
    assert_eq!(batch["additionalProperties"], false, "{batch}");
    let handover = &schemas["HandoverRequest"];
    assert_eq!(
        handover["properties"]["note"]["maxLength"], 2000,
        "{handover}"
    );
    assert_eq!(
        handover["properties"]["unit"]["maxLength"], 100,
        "{handover}"
    );
    let reply = &schemas["ReplyRequest"];
    assert_eq!(reply["properties"]["text"]["maxLength"], 8000, "{reply}");
    let list = &doc["paths"]["/api/v1/conversations"]["get"];
    let handed = list["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "handed"))
        .unwrap_or_else(|| panic!("the queue takes `handed`: {list}"));
    assert_eq!(handed["schema"]["enum"], serde_json::json!(["me", "unit"]));
    let retry = &doc["paths"]["/api/v1/messages/{id}/retry"]["post"]["requestBody"];
    assert_ne!(
        retry["required"], true,
        "a retry's body is optional: {retry}"
    );
}
// The moderation step's length limits are described from the type the handler parses: a value
// one character over each described limit is refused, and one at the limit is not refused for
// its length.
on_both_backends!(
    the_described_step_limits_are_the_ones_refused,
    |app: TestApp| async move {
        app.register_channel("facebook", crate::moderation::PAGE, "Kommunen")
            .await;
        let message = crate::moderation::comment_at(
            &app,
            "limits-1",
            "Ni borde alla skjutas, vi vet var ni bor",
            json!("2026-11-20T21:00:00+01:00"),
        )
        .await;
        let moderator = app.token("moderator-limits", "moderator").await;
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{message}/report"),
                json!({"reason": "Hot", "level": "S4"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let case = r.json::<serde_json::Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();
        let doc: serde_json::Value = app
            .get(&moderator, "/api/v1/openapi.json")
            .await
            .json()
            .await
            .unwrap();
        let fields = &doc["components"]["schemas"]["StepRequest"]["properties"];
        for field in ["reference", "note", "template", "text"] {
            let max = fields[field]["maxLength"]
                .as_u64()
                .unwrap_or_else(|| panic!("{field} has a described limit: {fields}"))
                as usize;
            let over = crate::moderation::step(
                &app,
                &moderator,
                case,
                json!({"step": "register", field: "å".repeat(max + 1)}),
            )
            .await;
            assert_eq!(over.status(), 422, "{field} over {max}");
            let detail = over.json::<serde_json::Value>().await.unwrap()["detail"].clone();
            assert!(
                detail
                    .as_str()
                    .unwrap()
                    .contains(&format!("{field} is longer")),
                "{detail}"
            );
        }
        // At the limits the step is taken (register takes any of these fields).
        let at: serde_json::Map<String, serde_json::Value> = ["reference", "note", "text"]
            .into_iter()
            .map(|field| {
                let max = fields[field]["maxLength"].as_u64().unwrap() as usize;
                (field.to_string(), json!("å".repeat(max)))
            })
            .chain([("step".to_string(), json!("register"))])
            .collect();
        let at = crate::moderation::step(&app, &moderator, case, json!(at)).await;
        assert_eq!(at.status(), 201);
    }
);
