//! Administrators' powers are bounded: a channel limit cannot be widened by the person it limits
//! or by an administrator limited more narrowly than the person they act on; nobody signs off
//! their own training; API tokens are minted by their owner (an integration has a service account
//! of its own, audited under its own name); and every write on a channel-bound object refuses a
//! caller limited to other channels, without changing anything.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sqlx::Row;

use crate::helpers::{actor, TestApp};
use crate::on_both_backends;
use crate::webhooks::dm_batch;

const PAGE_A: &str = "800000000000001";
const PAGE_B: &str = "800000000000002";
const PAGE_C: &str = "800000000000003";

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn delete(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn id_of(app: &TestApp, query: &str, name: &str) -> i64 {
    sqlx::query_scalar(query)
        .bind(name)
        .fetch_one(&app.store.pool)
        .await
        .unwrap_or_else(|e| panic!("{query} ({name}): {e}"))
}

async fn staff_id(app: &TestApp, username: &str) -> i64 {
    id_of(app, "select id from staff where username = $1", username).await
}

async fn channel_id(app: &TestApp, name: &str) -> i64 {
    id_of(app, "select id from channels where name = $1", name).await
}

/// Limits a staff member to channels, as the operator would on the machine.
async fn limit(app: &TestApp, staff: i64, channels: &[i64]) {
    app.store
        .update_staff(staff, None, None, Some(channels), &actor())
        .await
        .expect("limit");
}

async fn scope(app: &TestApp, staff: i64) -> Option<Vec<i64>> {
    app.store.channel_scope(staff).await.unwrap()
}

/// Two approved channels A and B.
async fn two_channels(app: &TestApp) -> (i64, i64) {
    app.register_channel("facebook", PAGE_A, "Biblioteket")
        .await;
    app.register_channel("facebook", PAGE_B, "Simhallen").await;
    (
        channel_id(app, "Biblioteket").await,
        channel_id(app, "Simhallen").await,
    )
}

async fn detail(response: reqwest::Response) -> String {
    let problem: Value = response.json().await.expect("problem json");
    problem["detail"].as_str().unwrap_or_default().to_string()
}

on_both_backends!(
    a_limited_administrator_cannot_widen_any_limit,
    |app: TestApp| async move {
        let (a, b) = two_channels(&app).await;
        let chief = app.token("chief", "admin").await;
        let regional = app.token("regional", "admin").await;
        let regional_id = staff_id(&app, "regional").await;
        limit(&app, regional_id, &[a]).await;
        let (anna, _) = app.untrained_token("anna", "agent").await;
        limit(&app, anna, &[a]).await;
        let (bo, _) = app.untrained_token("bo", "agent").await;
        limit(&app, bo, &[b]).await;
        let (cia, _) = app.untrained_token("cia", "agent").await;
        let (dan, _) = app.untrained_token("dan", "agent").await;
        limit(&app, dan, &[a, b]).await;
        let chief_id = staff_id(&app, "chief").await;

        // Finding 3: the limited administrator lifts their own limit with an empty list.
        let own = format!("/api/v1/staff/{regional_id}");
        let lifted = patch(&app, &regional, &own, json!({"channels": []})).await;
        assert_eq!(lifted.status(), 403, "nobody lifts their own limit");
        assert!(detail(lifted).await.contains("another administrator"));
        assert_eq!(scope(&app, regional_id).await, Some(vec![a]));
        let swapped = patch(&app, &regional, &own, json!({"channels": [b]})).await;
        assert_eq!(swapped.status(), 403);
        assert_eq!(scope(&app, regional_id).await, Some(vec![a]));
        // Nobody changes their own limit, not even an administrator without one.
        let chief_own = format!("/api/v1/staff/{chief_id}");
        assert_eq!(
            patch(&app, &chief, &chief_own, json!({"channels": [a]}))
                .await
                .status(),
            403
        );
        assert_eq!(scope(&app, chief_id).await, None);
        // Role changes of oneself stay refused (the one role that may manage staff is kept).
        assert_eq!(
            patch(&app, &regional, &own, json!({"role": "agent"}))
                .await
                .status(),
            422
        );

        // Nobody is made unlimited, nor given a channel outside the limit.
        let anna_path = format!("/api/v1/staff/{anna}");
        let widened = patch(&app, &regional, &anna_path, json!({"channels": []})).await;
        assert_eq!(widened.status(), 403);
        assert!(detail(widened).await.contains("every channel"));
        assert_eq!(
            patch(&app, &regional, &anna_path, json!({"channels": [a, b]}))
                .await
                .status(),
            403
        );
        assert_eq!(scope(&app, anna).await, Some(vec![a]));
        let inside = patch(
            &app,
            &regional,
            &anna_path,
            json!({"role": "communicator", "channels": [a]}),
        )
        .await;
        assert_eq!(inside.status(), 200, "work inside the limit goes on");
        assert_eq!(
            app.post(
                &regional,
                &format!("/api/v1/staff/{anna}/training"),
                json!({"modules": ["gdpr"]})
            )
            .await
            .status(),
            201
        );

        // People whose limit is wider do not exist for the limited administrator.
        let listed: BTreeSet<String> = app.get_json(&regional, "/api/v1/staff").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["account"]["username"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            listed,
            BTreeSet::from(["anna".to_string(), "regional".to_string()])
        );
        let everyone = app.get_json(&chief, "/api/v1/staff").await["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(everyone, 6);
        let tokens_before = app.count("api_tokens where revoked_at is null").await;
        let training_before = app.count("training_completions").await;
        for wider in [bo, cia, dan, chief_id] {
            let path = format!("/api/v1/staff/{wider}");
            for (what, status) in [
                (
                    "disable",
                    patch(&app, &regional, &path, json!({"disabled": true}))
                        .await
                        .status(),
                ),
                (
                    "narrow",
                    patch(&app, &regional, &path, json!({"channels": [a]}))
                        .await
                        .status(),
                ),
                (
                    "read training",
                    app.get(&regional, &format!("{path}/training"))
                        .await
                        .status(),
                ),
                (
                    "train",
                    app.post(
                        &regional,
                        &format!("{path}/training"),
                        json!({"modules": ["gdpr"]}),
                    )
                    .await
                    .status(),
                ),
                (
                    "mint",
                    app.post(&regional, &format!("{path}/tokens"), json!({}))
                        .await
                        .status(),
                ),
                (
                    "revoke",
                    delete(&app, &regional, &format!("{path}/tokens"))
                        .await
                        .status(),
                ),
            ] {
                assert_eq!(status, 404, "{what} staff {wider}");
            }
        }
        assert_eq!(app.count("staff where disabled_at is not null").await, 0);
        assert_eq!(scope(&app, cia).await, None);
        assert_eq!(scope(&app, dan).await, Some(vec![a, b]));
        assert_eq!(
            app.count("api_tokens where revoked_at is null").await,
            tokens_before
        );
        assert_eq!(app.count("training_completions").await, training_before);

        // New accounts: only inside the limit (an account without channels has every channel).
        let add = |body: Value| app.post(&regional, "/api/v1/staff", body);
        assert_eq!(
            add(json!({"username": "eva", "role": "agent"}))
                .await
                .status(),
            403
        );
        assert_eq!(
            add(json!({"username": "eva", "role": "agent", "channels": [b]}))
                .await
                .status(),
            403
        );
        assert_eq!(app.count("staff where username = 'eva'").await, 0);
        let created = add(json!({"username": "eva", "role": "agent", "channels": [a]})).await;
        assert_eq!(created.status(), 201);
        let eva = created.json::<Value>().await.unwrap()["staff"]["id"]
            .as_i64()
            .unwrap();
        assert_eq!(scope(&app, eva).await, Some(vec![a]));
        for (body, status) in [
            (json!({"name": "bad-import"}), 403),
            (json!({"name": "bad-import", "channels": [b]}), 403),
            (json!({"name": "library-import", "channels": [a]}), 201),
        ] {
            let r = app.post(&regional, "/api/v1/service-accounts", body).await;
            assert_eq!(r.status(), status);
        }
        let service = staff_id(&app, "service:library-import").await;
        assert_eq!(scope(&app, service).await, Some(vec![a]));
    }
);

on_both_backends!(
    api_tokens_are_minted_by_their_owner_and_integrations_have_their_own_accounts,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE_A, "Biblioteket")
            .await;
        let chief = app.token("chief", "admin").await;
        let auditor = app.token("granskare", "auditor").await;
        let anna_token = app.token("anna", "agent").await;
        let anna = staff_id(&app, "anna").await;

        // Finding 4: an administrator mints a token that acts as another person.
        let taken = app
            .post(&chief, &format!("/api/v1/staff/{anna}/tokens"), json!({}))
            .await;
        assert_eq!(taken.status(), 403, "no token for another person");
        let said = detail(taken).await;
        assert!(said.contains("/api/v1/me/tokens"), "{said}");
        assert!(said.contains("/api/v1/service-accounts"), "{said}");
        assert_eq!(
            app.count(&format!("api_tokens where staff_id = {anna}"))
                .await,
            1,
            "only the token anna already had"
        );

        // A person mints and revokes their own.
        let minted = app.post(&anna_token, "/api/v1/me/tokens", json!({})).await;
        assert_eq!(minted.status(), 201);
        let own: String = minted.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .into();
        assert_eq!(app.get_json(&own, "/api/v1/me").await["username"], "anna");
        let created = app
            .get_json(
                &auditor,
                &format!("/api/v1/audit?action=token.created&target=staff:{anna}&actor=anna"),
            )
            .await;
        assert_eq!(created["items"].as_array().unwrap().len(), 1);
        assert_eq!(created["items"][0]["actor"], "anna");
        // A bounded number at once.
        for _ in 2..10 {
            assert_eq!(
                app.post(&own, "/api/v1/me/tokens", json!({}))
                    .await
                    .status(),
                201
            );
        }
        let eleventh = app.post(&own, "/api/v1/me/tokens", json!({})).await;
        assert_eq!(eleventh.status(), 422);
        assert!(detail(eleventh).await.contains("DELETE /api/v1/me/tokens"));
        let revoked = delete(&app, &own, "/api/v1/me/tokens").await;
        assert_eq!(revoked.status(), 200);
        assert_eq!(revoked.json::<Value>().await.unwrap()["revoked"], 10);
        assert_eq!(app.get(&own, "/api/v1/me").await.status(), 401);
        assert_eq!(app.get(&anna_token, "/api/v1/me").await.status(), 401);

        // An integration gets a service account: ingest only, shown its token once.
        let made = app
            .post(
                &chief,
                "/api/v1/service-accounts",
                json!({"name": "crm-import"}),
            )
            .await;
        assert_eq!(made.status(), 201);
        let made: Value = made.json().await.unwrap();
        let account = &made["account"];
        assert_eq!(account["username"], "service:crm-import");
        assert_eq!(account["kind"], "service");
        assert_eq!(account["role"], "integration");
        assert_eq!(account["has_password"], false);
        let service = account["id"].as_i64().unwrap();
        let import: String = made["token"].as_str().unwrap().into();
        let me = app.get_json(&import, "/api/v1/me").await;
        assert_eq!(me["capabilities"], json!(["ingest"]));
        let batch = json!({"messages": [{
            "platform": "facebook", "channel": PAGE_A, "kind": "dm", "id": "crm-1",
            "author": {"id": "person-1", "name": "Anna"}, "text": "Hej från kundtjänsten",
            "time": "2026-11-02T09:15:00+01:00"
        }]});
        let ingested = app.post(&import, "/api/v1/messages", batch).await;
        assert_eq!(ingested.status(), 200);
        assert_eq!(ingested.json::<Value>().await.unwrap()["stored"], 1);
        for path in [
            "/api/v1/conversations",
            "/api/v1/search?q=kundtjänsten",
            "/api/v1/staff",
            "/api/v1/audit",
        ] {
            assert_eq!(app.get(&import, path).await.status(), 403, "{path}");
        }
        let submitted = app
            .get_json(&auditor, "/api/v1/audit?action=messages.submitted")
            .await;
        assert_eq!(submitted["items"][0]["actor"], "service:crm-import");
        // It cannot sign in, nor mint tokens for itself.
        let sign_in = app
            .client
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "service:crm-import", "password": "ett långt lösenord"}))
            .send()
            .await
            .unwrap();
        assert_eq!(sign_in.status(), 401);
        assert_eq!(
            app.post(&import, "/api/v1/me/tokens", json!({}))
                .await
                .status(),
            403
        );
        // Rotation by an administrator: a new token, the old one ends.
        let rotated = app
            .post(
                &chief,
                &format!("/api/v1/staff/{service}/tokens"),
                json!({}),
            )
            .await;
        assert_eq!(rotated.status(), 201);
        let rotated: String = rotated.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .into();
        assert_eq!(app.get(&import, "/api/v1/me").await.status(), 401);
        assert_eq!(app.get(&rotated, "/api/v1/me").await.status(), 200);
        let gone = delete(&app, &chief, &format!("/api/v1/staff/{service}/tokens")).await;
        assert_eq!(gone.json::<Value>().await.unwrap()["revoked"], 1);
        assert_eq!(app.get(&rotated, "/api/v1/me").await.status(), 401);

        // Administrators are people; service accounts are not; names do not pass as each other.
        for (path, body) in [
            (
                "/api/v1/service-accounts",
                json!({"name": "boss", "role": "admin"}),
            ),
            (
                "/api/v1/service-accounts",
                json!({"name": "Inte ett namn!"}),
            ),
            (
                "/api/v1/staff",
                json!({"username": "service:fake", "role": "agent"}),
            ),
            (
                "/api/v1/staff",
                json!({"username": "ivar", "role": "integration"}),
            ),
        ] {
            let r = app.post(&chief, path, body.clone()).await;
            assert_eq!(r.status(), 422, "{path} {body}");
        }
        // A name that is taken is a conflict with what exists, not a malformed request.
        let taken = app
            .post(
                &chief,
                "/api/v1/service-accounts",
                json!({"name": "crm-import"}),
            )
            .await;
        assert_eq!(taken.status(), 409);
        let detail = taken.json::<serde_json::Value>().await.unwrap()["detail"].to_string();
        assert!(detail.contains("already exists"), "{detail}");
        assert_eq!(
            patch(
                &app,
                &chief,
                &format!("/api/v1/staff/{anna}"),
                json!({"role": "integration"})
            )
            .await
            .status(),
            422
        );
        assert_eq!(
            patch(
                &app,
                &chief,
                &format!("/api/v1/staff/{service}"),
                json!({"role": "admin"})
            )
            .await
            .status(),
            422
        );

        // Deliberately given a reading role (and its training), it reads as itself.
        let reader = app
            .post(
                &chief,
                "/api/v1/service-accounts",
                json!({"name": "crm-reader", "role": "agent"}),
            )
            .await;
        assert_eq!(reader.status(), 201);
        let reader: Value = reader.json().await.unwrap();
        let reader_id = reader["account"]["id"].as_i64().unwrap();
        let reader_token = reader["token"].as_str().unwrap().to_string();
        assert_eq!(
            app.post(
                &chief,
                &format!("/api/v1/staff/{reader_id}/training"),
                json!({"modules": ["all"]})
            )
            .await
            .status(),
            201
        );
        let conversation = app.conversations(&reader_token, "").await[0]["id"]
            .as_i64()
            .unwrap();
        app.get_json(
            &reader_token,
            &format!("/api/v1/conversations/{conversation}"),
        )
        .await;
        let read = app
            .get_json(
                &auditor,
                &format!(
                    "/api/v1/audit?action=conversation.read&target=conversation:{conversation}"
                ),
            )
            .await;
        assert_eq!(read["items"][0]["actor"], "service:crm-reader");
    }
);

on_both_backends!(
    nobody_signs_off_their_own_training,
    |app: TestApp| async move {
        let (trainer, own) = app.untrained_token("tränare", "admin").await;
        let signed = app
            .post(
                &own,
                &format!("/api/v1/staff/{trainer}/training"),
                json!({"modules": ["gdpr"]}),
            )
            .await;
        assert_eq!(signed.status(), 403);
        assert!(detail(signed).await.contains("another administrator"));
        assert_eq!(
            app.count(&format!("training_completions where staff_id = {trainer}"))
                .await,
            0
        );
        // Signing off another administrator's training is the trainer's job.
        let colleague = app.token("kollega", "admin").await;
        let colleague_id = staff_id(&app, "kollega").await;
        assert_eq!(
            app.post(
                &colleague,
                &format!("/api/v1/staff/{trainer}/training"),
                json!({"modules": ["gdpr"]})
            )
            .await
            .status(),
            201
        );
        let by: String = sqlx::query_scalar(
            "select signed_off_by_name from training_completions where staff_id = $1",
        )
        .bind(trainer)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(by, "kollega");
        assert_eq!(
            app.post(
                &own,
                &format!("/api/v1/staff/{colleague_id}/training"),
                json!({"modules": ["gdpr"]})
            )
            .await
            .status(),
            201
        );
    }
);

on_both_backends!(
    a_limited_communicator_keeps_saved_replies_of_their_channels_only,
    |app: TestApp| async move {
        let (a, b) = two_channels(&app).await;
        let everyone = app.token("kommunikatör", "communicator").await;
        let limited = app.token("biblioteket", "communicator").await;
        limit(&app, staff_id(&app, "biblioteket").await, &[a]).await;
        let reply = |token: String, channel: Value| {
            let app = &app;
            async move {
                let r = app
                    .post(
                        &token,
                        "/api/v1/saved-replies",
                        json!({"title": "Öppettider", "body": "Vi har öppet 9-16.",
                               "language": "sv", "channel_id": channel}),
                    )
                    .await;
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (_, shared) = reply(everyone.clone(), json!(null)).await;
        let (_, for_b) = reply(everyone.clone(), json!(b)).await;
        let (_, for_a) = reply(everyone.clone(), json!(a)).await;
        let shared = shared["id"].as_i64().unwrap();
        let for_b = for_b["id"].as_i64().unwrap();
        let for_a = for_a["id"].as_i64().unwrap();

        // Finding 11: the limited communicator edits a reply every channel uses.
        let edit = |id: i64| {
            let (app, limited) = (&app, &limited);
            async move {
                patch(
                    app,
                    limited,
                    &format!("/api/v1/saved-replies/{id}"),
                    json!({"body": "Stängt."}),
                )
                .await
            }
        };
        let refused = edit(shared).await;
        assert_eq!(refused.status(), 403);
        assert!(detail(refused).await.contains("every channel"));
        assert_eq!(edit(for_b).await.status(), 404);
        assert_eq!(edit(for_a).await.status(), 200);
        let bodies: Vec<(i64, String)> =
            sqlx::query("select id, body from saved_replies order by id")
                .fetch_all(&app.store.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get("id"), r.get("body")))
                .collect();
        assert_eq!(
            bodies,
            [
                (shared, "Vi har öppet 9-16.".to_string()),
                (for_b, "Vi har öppet 9-16.".to_string()),
                (for_a, "Stängt.".to_string())
            ]
        );
        assert_eq!(reply(limited.clone(), json!(null)).await.0, 403);
        assert_eq!(reply(limited.clone(), json!(b)).await.0, 404);
        assert_eq!(reply(limited.clone(), json!(a)).await.0, 201);
        assert_eq!(app.count("saved_replies").await, 4);
        // The shared reply stays readable for them, to use.
        let listed: Vec<i64> = app.get_json(&limited, "/api/v1/saved-replies").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert!(listed.contains(&shared) && listed.contains(&for_a) && !listed.contains(&for_b));
    }
);

/// Routes that change only the caller's own account: nothing channel-bound to act on.
const OWN_ACCOUNT: [&str; 4] = [
    "DELETE /api/v1/session",
    "POST /api/v1/me/password",
    "POST /api/v1/me/tokens",
    "DELETE /api/v1/me/tokens",
];

/// Tables whose rows a refused change must leave as they were (the audit trail and sessions
/// record reads and use, not changes).
const STORE_TABLES: [&str; 42] = [
    "staff",
    "api_tokens",
    "channels",
    "authors",
    "posts",
    "conversations",
    "messages",
    "message_revisions",
    "reactions",
    "quarantine",
    "unrecognised",
    "outbox",
    "events",
    "training_completions",
    "staff_channels",
    "staff_roles",
    "message_flags",
    "moderation_cases",
    "moderation_steps",
    "evidence",
    "faq_curation",
    "saved_replies",
    "faq_moves",
    "legal_holds",
    "pseudonyms",
    "retention_runs",
    "routine_versions",
    "handovers",
    "webhook_outbox",
    "synonym_groups",
    "oidc_logins",
    "conversation_notes",
    "post_insights",
    "post_fetches",
    "campaign_analytics",
    "campaigns",
    "campaign_posts",
    "post_goals",
    "post_evaluation_notes",
    "post_refresh_jobs",
    "categories",
    "conversation_categories",
];

/// Every row of every table, as text, in a stable order.
async fn store_state(app: &TestApp) -> Vec<String> {
    let mut state = Vec::new();
    for table in STORE_TABLES {
        let rows = sqlx::query(&format!("select * from {table}"))
            .fetch_all(&app.store.pool)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                let cells: Vec<String> = (0..row.len()).map(|i| cell(row, i)).collect();
                format!("{table}: {}", cells.join(" | "))
            })
            .collect();
        lines.sort();
        state.extend(lines);
    }
    state
}

fn cell(row: &sqlx::any::AnyRow, i: usize) -> String {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return format!("{v:?}");
    }
    if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
        return format!("{v:?}");
    }
    "?".into()
}

on_both_backends!(
    every_write_on_another_channel_refuses_a_limited_caller,
    |app: TestApp| async move {
        let (a, b) = two_channels(&app).await;
        let chief = app.token("chief", "admin").await;
        let c = app
            .post(
                &chief,
                "/api/v1/channels",
                json!({"platform": "facebook", "platform_id": PAGE_C, "name": "Ishallen"}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["channel"]["id"]
            .as_i64()
            .expect("an unapproved channel");
        assert_eq!(
            app.webhook(&dm_batch(&[
                (PAGE_A, "u1", "m1", "Hej biblioteket"),
                (PAGE_B, "u2", "m2", "Ring mig på 070-123 45 67 om simhallen"),
            ]))
            .await
            .status(),
            200
        );
        let conversation_b = id_of(
            &app,
            "select id from conversations where channel_id = (select id from channels where name = $1)",
            "Simhallen",
        )
        .await;
        let message_b = id_of(&app, "select id from messages where platform_id = $1", "m2").await;
        let routines = tavla::moderation::routines::Routines::built_in();
        let opening =
            tavla::moderation::cases::opening(&routines, "S2", vec!["insult".into()], "report")
                .unwrap();
        let (case_b, _) = app
            .store
            .report_message(message_b, &opening, &actor())
            .await
            .unwrap();
        let shared_reply = app
            .store
            .add_saved_reply(None, "sv", "Öppettider", "9-16", &actor())
            .await
            .unwrap();
        let reply_b = app
            .store
            .add_saved_reply(Some(b), "sv", "Simskola", "Anmälan i kassan", &actor())
            .await
            .unwrap();
        let hold_b = app
            .post(
                &chief,
                "/api/v1/legal-holds",
                json!({"scope": "message", "id": message_b, "reason": "Ärende 2026/12"}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["ids"][0]
            .as_i64()
            .expect("a hold");
        // A post of B's with its figures, as post follow-up fetched it.
        app.store
            .save_fetched_posts(
                b,
                &[tavla::store::posts::FetchedPost {
                    platform_id: format!("{PAGE_B}_77"),
                    text: Some("Simskolan börjar".into()),
                    figures: vec![("reach".into(), 40)],
                    ..Default::default()
                }],
                1_764_000_000_000,
                None,
                0,
            )
            .await
            .unwrap();
        let post_b = id_of(
            &app,
            "select id from posts where platform_id = $1",
            &format!("{PAGE_B}_77"),
        )
        .await;
        // A goal, a campaign and a note on B's post, set by someone who follows up B.
        let goal_b = app
            .store
            .add_goal(
                &tavla::store::posts::NewGoal {
                    post_id: Some(post_b),
                    campaign_id: None,
                    metric: "reach".into(),
                    target: 100,
                    audience: None,
                    plan_text: None,
                    due_at: 1_800_000_000_000,
                },
                &actor(),
            )
            .await
            .unwrap()
            .id;
        let campaign_b = app
            .store
            .add_campaign("simhallen", &[post_b], &actor())
            .await
            .unwrap()
            .id;
        let note_b = app
            .store
            .add_evaluation_note(post_b, "Bra tid på dagen", &actor())
            .await
            .unwrap()
            .id;
        let category_b = app
            .post(&chief, "/api/v1/categories", json!({"name": "Bad"}))
            .await
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_i64()
            .expect("a category");
        let synonyms_b = app
            .post(
                &chief,
                "/api/v1/search/synonyms",
                json!({"terms": ["soptunna", "kärl"]}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_i64()
            .expect("a synonym group");
        let (person_b, _) = app.untrained_token("bo", "agent").await;
        limit(&app, person_b, &[b]).await;
        let (unlimited, _) = app.untrained_token("cia", "agent").await;
        let service_b = app
            .post(
                &chief,
                "/api/v1/service-accounts",
                json!({"name": "simhallen-import", "channels": [b]}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["account"]["id"]
            .as_i64()
            .expect("a service account");

        // The callers: every role, limited to channel A.
        let mut callers = std::collections::HashMap::new();
        for role in ["agent", "communicator", "moderator", "admin", "auditor"] {
            let name = format!("{role}-a");
            let token = app.token(&name, role).await;
            limit(&app, staff_id(&app, &name).await, &[a]).await;
            callers.insert(role, token);
        }
        let import_a = app
            .post(
                &chief,
                "/api/v1/service-accounts",
                json!({"name": "biblioteket-import", "channels": [a]}),
            )
            .await
            .json::<Value>()
            .await
            .unwrap()["token"]
            .as_str()
            .expect("a service token")
            .to_string();
        callers.insert("integration", import_a);

        let ingest_b = json!({"messages": [{
            "platform": "facebook", "channel": PAGE_B, "kind": "dm", "id": "in-b",
            "author": {"id": "u9", "name": "Nils"}, "text": "Inskickat till simhallen",
            "time": "2026-11-02T09:15:00+01:00"
        }]});
        let ingest_unknown = json!({"messages": [{
            "platform": "facebook", "channel": "800000000000099", "kind": "dm", "id": "in-x",
            "author": {"id": "u9", "name": "Nils"}, "text": "Till en okänd sida",
            "time": "2026-11-02T09:15:00+01:00"
        }]});
        let new_reply = |channel: Value| json!({"title": "Ny", "body": "Ny text", "language": "sv", "channel_id": channel});
        // (route, role, path, body): the caller acts on channel B's objects, or on objects that
        // span every channel.
        let cases: Vec<(&str, &str, String, Value)> = vec![
            (
                "POST /api/v1/messages",
                "admin",
                "/api/v1/messages".into(),
                ingest_b.clone(),
            ),
            (
                "POST /api/v1/messages",
                "integration",
                "/api/v1/messages".into(),
                ingest_b,
            ),
            (
                "POST /api/v1/messages",
                "integration",
                "/api/v1/messages".into(),
                ingest_unknown,
            ),
            (
                "POST /api/v1/conversations/{id}/claim",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/claim"),
                json!({}),
            ),
            (
                "POST /api/v1/conversations/{id}/release",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/release"),
                json!({}),
            ),
            (
                "POST /api/v1/conversations/{id}/status",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/status"),
                json!({"status": "resolved"}),
            ),
            (
                "POST /api/v1/conversations/{id}/replies",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/replies"),
                json!({"text": "Hej!"}),
            ),
            (
                "POST /api/v1/conversations/{id}/handover",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/handover"),
                json!({"unit": "Bygglov", "note": "Gäller friggebod"}),
            ),
            (
                "POST /api/v1/posts/refresh",
                "communicator",
                "/api/v1/posts/refresh".into(),
                json!({"channel_id": b}),
            ),
            (
                "POST /api/v1/posts/{id}/notes",
                "communicator",
                format!("/api/v1/posts/{post_b}/notes"),
                json!({"text": "Bra bild"}),
            ),
            (
                "POST /api/v1/campaign-analytics",
                "communicator",
                "/api/v1/campaign-analytics".into(),
                Value::Null,
            ),
            (
                "POST /api/v1/campaigns",
                "admin",
                "/api/v1/campaigns".into(),
                json!({"name": "simskola", "post_ids": [post_b]}),
            ),
            (
                "POST /api/v1/goals",
                "communicator",
                "/api/v1/goals".into(),
                json!({"post_id": post_b, "metric": "reach", "target": 10, "due": "2027-01-31"}),
            ),
            (
                "PATCH /api/v1/goals/{id}",
                "communicator",
                format!("/api/v1/goals/{goal_b}"),
                json!({"target": 5}),
            ),
            (
                "DELETE /api/v1/goals/{id}",
                "admin",
                format!("/api/v1/goals/{goal_b}"),
                json!(null),
            ),
            (
                "PATCH /api/v1/campaigns/{id}",
                "communicator",
                format!("/api/v1/campaigns/{campaign_b}"),
                json!({"name": "annat"}),
            ),
            (
                "DELETE /api/v1/campaigns/{id}",
                "admin",
                format!("/api/v1/campaigns/{campaign_b}"),
                json!(null),
            ),
            (
                "PATCH /api/v1/post-notes/{id}",
                "admin",
                format!("/api/v1/post-notes/{note_b}"),
                json!({"text": "Ändrad"}),
            ),
            (
                "DELETE /api/v1/post-notes/{id}",
                "communicator",
                format!("/api/v1/post-notes/{note_b}"),
                json!(null),
            ),
            (
                "POST /api/v1/conversations/{id}/notes",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/notes"),
                json!({"text": "Ringde upp"}),
            ),
            (
                "POST /api/v1/messages/{id}/retry",
                "agent",
                format!("/api/v1/messages/{message_b}/retry"),
                json!({}),
            ),
            (
                "POST /api/v1/channels",
                "admin",
                "/api/v1/channels".into(),
                json!({"platform": "facebook", "platform_id": "800000000000098", "name": "Ny"}),
            ),
            (
                "POST /api/v1/channels/{id}/approve",
                "admin",
                format!("/api/v1/channels/{c}/approve"),
                json!({}),
            ),
            (
                "POST /api/v1/staff",
                "admin",
                "/api/v1/staff".into(),
                json!({"username": "ny-b", "role": "agent", "channels": [b]}),
            ),
            (
                "POST /api/v1/staff",
                "admin",
                "/api/v1/staff".into(),
                json!({"username": "ny-alla", "role": "agent"}),
            ),
            (
                "POST /api/v1/service-accounts",
                "admin",
                "/api/v1/service-accounts".into(),
                json!({"name": "ny-b", "channels": [b]}),
            ),
            (
                "POST /api/v1/service-accounts",
                "admin",
                "/api/v1/service-accounts".into(),
                json!({"name": "ny-alla"}),
            ),
            (
                "PATCH /api/v1/staff/{id}",
                "admin",
                format!("/api/v1/staff/{person_b}"),
                json!({"disabled": true}),
            ),
            (
                "PATCH /api/v1/staff/{id}",
                "admin",
                format!("/api/v1/staff/{unlimited}"),
                json!({"channels": [a]}),
            ),
            (
                "POST /api/v1/staff/{id}/training",
                "admin",
                format!("/api/v1/staff/{person_b}/training"),
                json!({"modules": ["gdpr"]}),
            ),
            (
                "POST /api/v1/staff/{id}/tokens",
                "admin",
                format!("/api/v1/staff/{service_b}/tokens"),
                json!({}),
            ),
            (
                "DELETE /api/v1/staff/{id}/tokens",
                "admin",
                format!("/api/v1/staff/{service_b}/tokens"),
                json!(null),
            ),
            (
                "POST /api/v1/messages/{id}/report",
                "agent",
                format!("/api/v1/messages/{message_b}/report"),
                json!({"reason": "hot"}),
            ),
            (
                "POST /api/v1/moderation/cases/{id}/steps",
                "moderator",
                format!("/api/v1/moderation/cases/{case_b}/steps"),
                json!({"step": "evidence"}),
            ),
            (
                "POST /api/v1/moderation/cases/{id}/close",
                "moderator",
                format!("/api/v1/moderation/cases/{case_b}/close"),
                json!({"decision": "Klart"}),
            ),
            (
                "POST /api/v1/saved-replies",
                "communicator",
                "/api/v1/saved-replies".into(),
                new_reply(json!(b)),
            ),
            (
                "POST /api/v1/saved-replies",
                "communicator",
                "/api/v1/saved-replies".into(),
                new_reply(json!(null)),
            ),
            (
                "PATCH /api/v1/saved-replies/{id}",
                "communicator",
                format!("/api/v1/saved-replies/{reply_b}"),
                json!({"body": "Ändrad"}),
            ),
            (
                "PATCH /api/v1/saved-replies/{id}",
                "communicator",
                format!("/api/v1/saved-replies/{shared_reply}"),
                json!({"archived": true}),
            ),
            (
                "PATCH /api/v1/faq/clusters/{id}",
                "communicator",
                "/api/v1/faq/clusters/0".into(),
                json!({"name": "Simhallen"}),
            ),
            (
                "POST /api/v1/faq/clusters/{id}/questions",
                "communicator",
                "/api/v1/faq/clusters/0/questions".into(),
                json!({"messages": [message_b]}),
            ),
            (
                "POST /api/v1/privacy/authors/{platform_id}/erase",
                "auditor",
                "/api/v1/privacy/authors/u2/erase".into(),
                json!({"dry_run": false}),
            ),
            (
                "POST /api/v1/legal-holds",
                "admin",
                "/api/v1/legal-holds".into(),
                json!({"scope": "message", "id": message_b, "reason": "Ärende 2026/13"}),
            ),
            (
                "POST /api/v1/legal-holds",
                "auditor",
                "/api/v1/legal-holds".into(),
                json!({"scope": "author", "platform_id": "u2", "reason": "Ärende 2026/14"}),
            ),
            (
                "DELETE /api/v1/legal-holds/{id}",
                "admin",
                format!("/api/v1/legal-holds/{hold_b}"),
                json!(null),
            ),
            (
                "POST /api/v1/retention/runs",
                "admin",
                "/api/v1/retention/runs".into(),
                json!({"dry_run": false}),
            ),
            // The organisation's categories apply on every channel.
            (
                "POST /api/v1/categories",
                "admin",
                "/api/v1/categories".into(),
                json!({"name": "Avfall"}),
            ),
            (
                "PATCH /api/v1/categories/{id}",
                "admin",
                format!("/api/v1/categories/{category_b}"),
                json!({"archived": true}),
            ),
            (
                "POST /api/v1/conversations/{id}/categories",
                "agent",
                format!("/api/v1/conversations/{conversation_b}/categories"),
                json!({"categories": [category_b]}),
            ),
            // The organisation's search synonyms apply on every channel.
            (
                "POST /api/v1/search/synonyms",
                "admin",
                "/api/v1/search/synonyms".into(),
                json!({"terms": ["sopor", "avfall"]}),
            ),
            (
                "PATCH /api/v1/search/synonyms/{id}",
                "admin",
                format!("/api/v1/search/synonyms/{synonyms_b}"),
                json!({"terms": ["sopor", "skräp"]}),
            ),
            (
                "DELETE /api/v1/search/synonyms/{id}",
                "admin",
                format!("/api/v1/search/synonyms/{synonyms_b}"),
                json!(null),
            ),
            (
                "POST /api/v1/messages/{id}/reveal",
                "agent",
                format!("/api/v1/messages/{message_b}/reveal"),
                json!({"index": 0}),
            ),
            (
                "POST /api/v1/messages/{id}/reveal",
                "auditor",
                format!("/api/v1/messages/{message_b}/reveal"),
                json!({"index": 0}),
            ),
        ];

        // Every write route is walked, so a new one needs a case here.
        let mut walked = 0;
        for (spec, _) in tavla::http::routes() {
            let key = format!("{} {}", spec.method, spec.path);
            if spec.method == reqwest::Method::GET
                || spec.rule == tavla::http::Rule::Public
                || OWN_ACCOUNT.contains(&key.as_str())
            {
                continue;
            }
            assert!(
                cases.iter().any(|(route, ..)| *route == key),
                "the write route {key} has no case in every_write_on_another_channel_refuses_a_limited_caller"
            );
            walked += 1;
        }
        assert!(walked >= 25, "{walked} write routes");

        let mut leaks = Vec::new();
        for (route, role, path, body) in cases {
            let (method, _) = route.split_once(' ').unwrap();
            let before = store_state(&app).await;
            let mut request = app
                .client
                .request(method.parse().unwrap(), app.url(&path))
                .bearer_auth(&callers[role]);
            if !body.is_null() {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let after = store_state(&app).await;
            if status != 403 && status != 404 {
                leaks.push(format!("{route} as {role} on {path}: {status} {text}"));
            }
            if before != after {
                let changed: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
                leaks.push(format!("{route} as {role} on {path} changed {changed:?}"));
            }
        }
        assert!(leaks.is_empty(), "{leaks:#?}");
    }
);
