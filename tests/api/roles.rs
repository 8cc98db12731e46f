//! Several roles per person (issue 19 item 4): in a small municipality one person is both
//! communicator and moderator. What they may do is the union of the roles' capabilities, each
//! gated by its own training; a change of roles applies at once (tokens, sessions, streams);
//! administrators give roles only to accounts they reach; concurrent changes never mix.

use serde_json::{json, Value};

use crate::helpers::{actor, TestApp};
use crate::on_both_backends;
use crate::stream_endings::ends;

const PAGE: &str = "390000000000001";

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

/// A person created through the API with `body`, and an API token of theirs.
async fn created(app: &TestApp, admin: &str, body: Value) -> (i64, String) {
    let r = app.post(admin, "/api/v1/staff", body.clone()).await;
    assert_eq!(r.status(), 201, "{body}: {:?}", r.text().await);
    let made: Value = r.json().await.unwrap();
    let id = made["staff"]["id"].as_i64().unwrap();
    let token = tavla::access::new_token();
    app.store.add_api_token(id, &token, &actor()).await.unwrap();
    (id, token)
}

async fn train(app: &TestApp, id: i64, modules: &[&str]) {
    for m in modules {
        app.train(id, m).await;
    }
}

async fn status(app: &TestApp, token: &str, path: &str) -> u16 {
    app.get(token, path).await.status().as_u16()
}

async fn detail(app: &TestApp, token: &str, path: &str) -> String {
    let r = app.get(token, path).await;
    assert_eq!(r.status(), 403);
    r.json::<Value>().await.unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The entry of `per_role` for one role.
fn gives<'a>(me: &'a Value, role: &str) -> &'a Value {
    me["per_role"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == role)
        .unwrap_or_else(|| panic!("{role} in {me}"))
}

async fn comment(app: &TestApp, admin: &str, id: &str) {
    let body = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment",
        "id": id, "author": {"id": "p1", "name": "Per"}, "text": "När töms soptunnorna?",
        "time": chrono::Utc::now().timestamp_millis(), "post_id": format!("{PAGE}_1")}]});
    let r = app.post(admin, "/api/v1/messages", body).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

const COMMENTS: &str = "/api/v1/conversations?queue=comments";
const CASES: &str = "/api/v1/moderation/cases";
/// What moderating needs (config/training.toml): reading comments' modules and the routines.
const MODERATION_TRAINING: [&str; 3] = ["social-media-basics", "gdpr", "hateful-posts-routine"];

on_both_backends!(
    a_communicator_and_moderator_gets_each_roles_capabilities_by_its_own_training,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        comment(&app, &admin, "r-1").await;

        // Refused: both `role` and `roles`, none, repeats, an unknown or a service role.
        for (body, why) in [
            (
                json!({"username": "x", "role": "agent", "roles": ["agent"]}),
                "both",
            ),
            (json!({"username": "x"}), "neither"),
            (json!({"username": "x", "roles": []}), "no role"),
            (
                json!({"username": "x", "roles": ["agent", "agent"]}),
                "a repeat",
            ),
            (
                json!({"username": "x", "roles": ["agent", "chef"]}),
                "unknown",
            ),
            (
                json!({"username": "x", "roles": ["agent", "integration"]}),
                "integration",
            ),
        ] {
            let r = app.post(&admin, "/api/v1/staff", body).await;
            assert_eq!(r.status(), 422, "{why}");
        }
        assert_eq!(app.count("staff").await, 1, "nothing was added");

        let (maja, token) = created(
            &app,
            &admin,
            json!({"username": "maja", "roles": ["moderator", "communicator"]}),
        )
        .await;
        let me = app.get_json(&token, "/api/v1/me").await;
        assert_eq!(me["roles"], json!(["communicator", "moderator"]));
        assert_eq!(me["role"], "communicator", "the first, for older clients");
        assert!(
            strings(&me["capabilities"]).is_empty(),
            "untrained: nothing"
        );
        assert!(strings(&gives(&me, "moderator")["capabilities"]).contains(&"moderate".into()));
        assert!(strings(&gives(&me, "moderator")["missing_training"])
            .contains(&"hateful-posts-routine".to_string()));
        let refused = detail(&app, &token, CASES).await;
        assert!(
            refused.contains("training") && refused.contains("your moderator role"),
            "the refusal says which role's work waits for training: {refused}"
        );

        // Moderation's training only: the moderator's work, not the communicator's answering.
        train(&app, maja, &MODERATION_TRAINING).await;
        assert_eq!(status(&app, &token, CASES).await, 200, "moderates");
        let comments = app.get_json(&token, COMMENTS).await;
        assert_eq!(
            comments["items"].as_array().unwrap().len(),
            1,
            "reads comments"
        );
        let me = app.get_json(&token, "/api/v1/me").await;
        let caps = strings(&me["capabilities"]);
        assert!(caps.contains(&"moderate".into()) && !caps.contains(&"answer_comments".into()));
        assert!(strings(&gives(&me, "moderator")["missing_training"]).is_empty());
        assert_eq!(
            strings(&gives(&me, "communicator")["missing_training"]),
            ["image-choice", "tone-and-plain-language"],
            "what the communicator's work still needs"
        );
        assert!(!strings(&gives(&me, "communicator")["usable"]).contains(&"answer_comments".into()));

        // Everything done: both roles' work.
        app.train(maja, "all").await;
        let caps = strings(&app.get_json(&token, "/api/v1/me").await["capabilities"]);
        for c in ["read_comments", "answer_comments", "see_faq", "moderate"] {
            assert!(caps.contains(&c.to_string()), "{c} in {caps:?}");
        }
        assert!(!caps.contains(&"read_dms".into()), "no role gives DMs");
        let refused = detail(&app, &token, "/api/v1/conversations?queue=dm").await;
        assert!(
            refused.contains("your roles (communicator and moderator)"),
            "the refusal names the roles: {refused}"
        );

        // A trained communicator alone does not moderate, and is told by role.
        let lone = app.token("lone", "communicator").await;
        let refused = detail(&app, &lone, CASES).await;
        assert!(refused.contains("your role (communicator)"), "{refused}");

        // The staff list and the account's view show every role and what each gives.
        let list = app.get_json(&admin, "/api/v1/staff").await;
        let item = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["account"]["id"] == maja)
            .unwrap();
        assert_eq!(
            item["account"]["roles"],
            json!(["communicator", "moderator"])
        );
        assert_eq!(item["per_role"].as_array().unwrap().len(), 2);
        let shown = app
            .get_json(&admin, &format!("/api/v1/staff/{maja}/training"))
            .await;
        assert_eq!(
            shown["account"]["roles"],
            json!(["communicator", "moderator"])
        );
        assert!(strings(&gives(&shown, "communicator")["usable"]).contains(&"see_faq".into()));
    }
);

on_both_backends!(
    taking_a_role_away_takes_its_capabilities_at_once,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let (maja, token) = created(
            &app,
            &admin,
            json!({"username": "maja", "roles": ["communicator", "moderator"]}),
        )
        .await;
        app.train(maja, "all").await;
        assert_eq!(status(&app, &token, CASES).await, 200);
        let stream = app.get(&token, "/api/v1/events").await;
        assert_eq!(stream.status(), 200);

        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{maja}"),
            json!({"roles": ["communicator"]}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let account: Value = r.json().await.unwrap();
        assert_eq!(account["account"]["roles"], json!(["communicator"]));
        // At once, on the very next request: no moderating, reading comments still.
        let refused = detail(&app, &token, CASES).await;
        assert!(refused.contains("your role (communicator)"), "{refused}");
        assert_eq!(status(&app, &token, COMMENTS).await, 200);
        // The stream opened with both roles closes; a new one carries what is held now.
        assert!(
            ends(stream).await,
            "the stream closes at the change of roles"
        );

        // Audited, with what was held before.
        let detail: String = sqlx::query_scalar(
            "select detail from audit where action = 'staff.updated' and target = $1 order by id desc",
        )
        .bind(format!("staff:{maja}"))
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        let detail: Value = serde_json::from_str(&detail).unwrap();
        assert_eq!(detail["roles"], json!(["communicator"]));
        assert_eq!(detail["roles_before"], json!(["communicator", "moderator"]));

        // `role` as older clients send it still sets one role; both at once are refused.
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{maja}"),
            json!({"role": "agent"}),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>().await.unwrap()["account"]["roles"],
            json!(["agent"])
        );
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{maja}"),
            json!({"role": "agent", "roles": ["moderator"]}),
        )
        .await;
        assert_eq!(r.status(), 422);
        // An administrator keeps their own administrator role among others.
        let admin_id: i64 = sqlx::query_scalar("select id from staff where username = 'admin'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let own = format!("/api/v1/staff/{admin_id}");
        let r = patch(&app, &admin, &own, json!({"roles": ["communicator"]})).await;
        assert_eq!(r.status(), 422, "not their own administrator role");
        let r = patch(
            &app,
            &admin,
            &own,
            json!({"roles": ["admin", "communicator"]}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
);

on_both_backends!(
    service_accounts_keep_one_role_and_limited_administrators_reach_only_their_own,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", "390000000000002", "Skolan")
            .await;
        let admin = app.token("admin", "admin").await;
        let channel = |platform_id: &'static str| {
            let pool = app.store.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>("select id from channels where platform_id = $1")
                    .bind(platform_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let (kommunen, skolan) = (channel(PAGE).await, channel("390000000000002").await);

        let r = app
            .post(&admin, "/api/v1/service-accounts", json!({"name": "crm"}))
            .await;
        assert_eq!(r.status(), 201);
        let service = r.json::<Value>().await.unwrap()["account"]["id"]
            .as_i64()
            .unwrap();
        for roles in [
            json!(["integration", "agent"]),
            json!(["agent", "communicator"]),
        ] {
            let r = patch(
                &app,
                &admin,
                &format!("/api/v1/staff/{service}"),
                json!({"roles": roles}),
            )
            .await;
            assert_eq!(r.status(), 422, "{roles}");
        }
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{service}"),
            json!({"roles": ["agent"]}),
        )
        .await;
        assert_eq!(r.status(), 200, "one reading role, deliberately");

        // A Skolan-limited administrator.
        let (_, limited) = created(
            &app,
            &admin,
            json!({"username": "skoladmin", "roles": ["admin"], "channels": [skolan]}),
        )
        .await;
        let (elsewhere, _) = created(
            &app,
            &admin,
            json!({"username": "kim", "roles": ["agent"], "channels": [kommunen]}),
        )
        .await;
        let before: Vec<String> =
            sqlx::query_scalar("select role from staff_roles where staff_id = $1")
                .bind(elsewhere)
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        let r = patch(
            &app,
            &limited,
            &format!("/api/v1/staff/{elsewhere}"),
            json!({"roles": ["agent", "moderator"]}),
        )
        .await;
        assert_eq!(
            r.status(),
            404,
            "an account outside the limit does not exist for them"
        );
        let after: Vec<String> =
            sqlx::query_scalar("select role from staff_roles where staff_id = $1")
                .bind(elsewhere)
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(before, after);
        // Inside their limit they give several roles, and only with a limit inside their own.
        let r = app
            .post(
                &limited,
                "/api/v1/staff",
                json!({"username": "lo", "roles": ["agent", "moderator"]}),
            )
            .await;
        assert_eq!(r.status(), 403, "not every channel");
        let (lo, _) = created(
            &app,
            &limited,
            json!({"username": "lo", "roles": ["agent", "moderator"], "channels": [skolan]}),
        )
        .await;
        let r = patch(
            &app,
            &limited,
            &format!("/api/v1/staff/{lo}"),
            json!({"roles": ["communicator", "moderator"]}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
);

on_both_backends!(
    forty_role_changes_at_once_end_with_one_set_whole,
    |app: TestApp| async move {
        let admin = app.token("admin", "admin").await;
        let (maja, _) = created(
            &app,
            &admin,
            json!({"username": "maja", "roles": ["agent"]}),
        )
        .await;
        let people = ["agent", "communicator", "moderator", "admin", "auditor"];
        // Forty different sets (31 non-empty subsets of five, then repeats of the largest).
        let sets: Vec<Vec<&str>> = (1..=40u32)
            .map(|i| {
                let bits = if i <= 31 { i } else { 31 - (i - 31) };
                people
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| bits & (1 << n) != 0)
                    .map(|(_, r)| *r)
                    .collect()
            })
            .collect();
        let path = format!("/api/v1/staff/{maja}");
        let changes = sets.iter().map(|set| {
            let (app, admin, path) = (&app, &admin, &path);
            async move {
                patch(app, admin, path, json!({"roles": set}))
                    .await
                    .status()
            }
        });
        let statuses = futures::future::join_all(changes).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

        let mut held: Vec<String> =
            sqlx::query_scalar("select role from staff_roles where staff_id = $1")
                .bind(maja)
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        held.sort();
        let first: String = sqlx::query_scalar("select role from staff where id = $1")
            .bind(maja)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let whole = sets.iter().find(|set| {
            let mut set: Vec<String> = set.iter().map(|r| r.to_string()).collect();
            set.sort();
            set == held
        });
        let whole = whole.unwrap_or_else(|| panic!("{held:?} is one of the sets sent"));
        assert_eq!(first, whole[0], "staff.role is that set's first");
        let shown = app
            .get_json(&admin, &format!("/api/v1/staff/{maja}/training"))
            .await;
        assert_eq!(strings(&shown["account"]["roles"]).len(), whole.len());
    }
);

on_both_backends!(
    the_command_line_adds_a_person_with_several_roles,
    |app: TestApp| async move {
        let add = |username: &str, roles: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
                .args(["staff", "add", "--username", username, "--role", roles])
                .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
                .env("TAVLA_LOG_LEVEL", "warn")
                .output()
                .unwrap()
        };
        let ok = add("maja", "moderator, communicator");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(String::from_utf8_lossy(&ok.stderr).contains("communicator and moderator"));
        let refused = add("bo", "agent,integration");
        assert!(
            !refused.status.success(),
            "integration is not a person's role"
        );
        let mut held: Vec<String> = sqlx::query_scalar(
            "select r.role from staff_roles r join staff s on s.id = r.staff_id where s.username = $1",
        )
        .bind("maja")
        .fetch_all(&app.store.pool)
        .await
        .unwrap();
        held.sort();
        assert_eq!(held, ["communicator", "moderator"]);
        assert_eq!(app.count("staff").await, 1);
    }
);

on_both_backends!(
    what_an_older_instance_writes_during_an_upgrade_is_what_counts,
    |app: TestApp| async move {
        let admin = app.token("admin", "admin").await;
        let (maja, token) = created(
            &app,
            &admin,
            json!({"username": "maja", "roles": ["communicator", "moderator"]}),
        )
        .await;
        app.train(maja, "all").await;
        assert_eq!(status(&app, &token, CASES).await, 200);
        // An instance from before several roles changes her role as it knew how: `staff.role`
        // alone (it writes only a role other than the one it sees, the first of hers).
        sqlx::query("update staff set role = 'agent' where id = $1")
            .bind(maja)
            .execute(&app.store.pool)
            .await
            .unwrap();
        let me = app.get_json(&token, "/api/v1/me").await;
        assert_eq!(
            me["roles"],
            json!(["agent"]),
            "the out-of-date rows are not believed"
        );
        assert_eq!(status(&app, &token, CASES).await, 403);
        // And adds an account without rows: it holds its one role.
        sqlx::query(
            "insert into staff (username, role, kind, password_hash, created_at) \
             values ('gammal', 'agent', 'person', null, 1)",
        )
        .execute(&app.store.pool)
        .await
        .unwrap();
        let list = app.get_json(&admin, "/api/v1/staff").await;
        let old = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["account"]["username"] == "gammal")
            .unwrap();
        assert_eq!(old["account"]["roles"], json!(["agent"]));
        assert_eq!(old["per_role"][0]["role"], "agent");
    }
);
