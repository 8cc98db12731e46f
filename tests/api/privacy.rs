//! Privacy and records: retention by rule with a clock the test controls, a person's data
//! exported and erased where the law allows, personal data masked in every output and revealed
//! one value at a time, audited.

use serde_json::{json, Value};
use tavla::privacy::retention::run;
use tavla::privacy::rules::{RetentionRules, DAY_MS};

use crate::helpers::{actor, eventually, ingest, TestApp};
use crate::on_both_backends;

const PAGE: &str = "880000000000001";
const PNR: &str = "811218-9876";

fn message(id: &str, kind: &str, author: &str, name: &str, text: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let mut m = json!({"platform": "facebook", "channel": PAGE, "kind": kind, "id": id,
        "author": {"id": author, "name": name}, "text": text, "time": now - 60_000});
    if kind == "comment" {
        m["post_id"] = json!(format!("post-{id}"));
    }
    m
}

async fn id_of(app: &TestApp, platform_id: &str) -> (i64, i64) {
    let row: (i64, i64) =
        sqlx::query_as("select id, conversation_id from messages where platform_id = $1")
            .bind(platform_id)
            .fetch_one(&app.store.pool)
            .await
            .expect("message stored");
    row
}

/// Resolves a conversation through the API and returns when it was resolved, as the API says.
async fn resolve(app: &TestApp, token: &str, conversation: i64) -> i64 {
    let r = app
        .post(
            token,
            &format!("/api/v1/conversations/{conversation}/status"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let c = app
        .get_json(token, &format!("/api/v1/conversations/{conversation}"))
        .await;
    c["resolved_at"].as_i64().expect("resolved_at")
}

async fn search(app: &TestApp, token: &str, q: &str, expected: usize) -> Value {
    eventually(&format!("search {q} giving {expected} hits"), || async {
        let found = app.get_json(token, &format!("/api/v1/search?q={q}")).await;
        (found["items"].as_array().unwrap().len() == expected).then_some(found)
    })
    .await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.store.pool)
        .await
        .expect(sql)
}

async fn audit(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let v = app
        .get_json(token, &format!("/api/v1/audit?action={action}&limit=100"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

on_both_backends!(
    retention_disposes_at_the_limit_and_keeps_what_is_held,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("dpo", "auditor").await;
        ingest(
            &app,
            &admin,
            vec![
                message(
                    "r-dm",
                    "dm",
                    "p1",
                    "Per Persson",
                    &format!(
                        "Hej, mitt personnummer är {PNR}, hur går det med bygglovet för garaget?"
                    ),
                ),
                message(
                    "r-c1",
                    "comment",
                    "p2",
                    "Pia",
                    "Varför stänger biblioteket i Norrby?",
                ),
                message(
                    "r-c2",
                    "comment",
                    "p3",
                    "Pål",
                    "Bra jobbat med snöröjningen i Kvarnbyn",
                ),
            ],
        )
        .await;
        let (dm, dm_conv) = id_of(&app, "r-dm").await;
        let (c1, c1_conv) = id_of(&app, "r-c1").await;
        let (c2, c2_conv) = id_of(&app, "r-c2").await;
        search(&app, &communicator, "biblioteket", 1).await;
        // c2 first, so c1 is resolved last and "at the limit" is exact for it.
        let c2_resolved = resolve(&app, &communicator, c2_conv).await;
        let c1_resolved = resolve(&app, &communicator, c1_conv).await;
        let dm_resolved = resolve(&app, &agent, dm_conv).await;
        let hold = app
            .post(
                &auditor,
                "/api/v1/legal-holds",
                json!({"scope": "message", "id": c2, "reason": "Överklagande, mål 1234-26"}),
            )
            .await;
        assert_eq!(hold.status(), 201);
        let hold: i64 = hold.json::<Value>().await.unwrap()["ids"][0]
            .as_i64()
            .unwrap();
        let rules = RetentionRules::built_in();
        let year = 365 * DAY_MS;

        // Before the limit: nothing is due.
        let r = run(&app.store, &rules, c2_resolved + year - 1, false, &actor())
            .await
            .unwrap();
        assert_eq!((r.deleted, r.pseudonymised, r.kept_count), (0, 0, 0));

        // At the limit: the comment goes; the held one stays, and the report says why.
        let r = run(&app.store, &rules, c1_resolved + year, false, &actor())
            .await
            .unwrap();
        assert_eq!((r.deleted, r.pseudonymised, r.kept_count), (1, 0, 1));
        assert_eq!(r.actions[0].message_id, c1);
        assert_eq!(r.actions[0].rule, "*/comment");
        assert_eq!((r.kept[0].message_id, r.kept[0].reason), (c2, "legal_hold"));
        // A second run at the same moment does nothing.
        let again = run(&app.store, &rules, c1_resolved + year, false, &actor())
            .await
            .unwrap();
        assert_eq!(
            (again.deleted, again.pseudonymised, again.kept_count),
            (0, 0, 1)
        );

        // Through the API: the comment and its thread are gone from the store and the index.
        let gone = app
            .get(&communicator, &format!("/api/v1/conversations/{c1_conv}"))
            .await;
        assert_eq!(gone.status(), 404);
        search(&app, &communicator, "biblioteket", 0).await;
        search(&app, &communicator, "snöröjningen", 1).await;
        assert_eq!(
            scalar(
                &app,
                &format!("select count(*) from messages where id = {c1}")
            )
            .await,
            0
        );

        // The DM is not due after one year; after two it is pseudonymised, not deleted.
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{dm_conv}"))
            .await;
        assert_eq!(view["messages"][0]["author"]["name"], "Per Persson");
        let r = run(
            &app.store,
            &rules,
            dm_resolved + 730 * DAY_MS - 1,
            false,
            &actor(),
        )
        .await
        .unwrap();
        assert_eq!(r.pseudonymised, 0);
        let r = run(
            &app.store,
            &rules,
            dm_resolved + 730 * DAY_MS,
            false,
            &actor(),
        )
        .await
        .unwrap();
        assert_eq!((r.deleted, r.pseudonymised), (0, 1));
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{dm_conv}"))
            .await;
        let m = &view["messages"][0];
        assert_eq!(
            m["text"],
            "Hej, mitt personnummer är 811218-****, hur går det med bygglovet för garaget?"
        );
        assert!(
            m["author"]["name"].as_str().unwrap().starts_with("Person "),
            "{m}"
        );
        assert!(view["person"]["platform_id"]
            .as_str()
            .unwrap()
            .starts_with("pseudonym:"));
        // Stored masked, not only shown masked: nothing can reveal it any more.
        let stored: String = sqlx::query_scalar("select text from messages where id = $1")
            .bind(dm)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert!(!stored.contains(PNR) && stored.contains("811218-****"));
        search(&app, &agent, "bygglovet", 1).await;
        let again = run(
            &app.store,
            &rules,
            dm_resolved + 731 * DAY_MS,
            false,
            &actor(),
        )
        .await
        .unwrap();
        assert_eq!((again.deleted, again.pseudonymised), (0, 0));

        // Lifting the hold lets the rule apply.
        let lifted = app
            .client
            .delete(app.url(&format!("/api/v1/legal-holds/{hold}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(lifted.status(), 204);
        let r = run(&app.store, &rules, c1_resolved + year, false, &actor())
            .await
            .unwrap();
        assert_eq!((r.deleted, r.kept_count), (1, 0));
        assert_eq!(r.actions[0].message_id, c2);
        search(&app, &communicator, "snöröjningen", 0).await;

        // Every run is in the audit trail and the event log; neither holds message text.
        let runs = audit(&app, &auditor, "retention.run").await;
        assert_eq!(runs.len(), 7);
        let trail = app
            .get_json(&auditor, "/api/v1/audit?limit=500")
            .await
            .to_string();
        // (Searches are audited with their query, so only words nobody searched for are checked.)
        assert!(!trail.contains("Norrby") && !trail.contains(PNR));
        assert_eq!(
            scalar(
                &app,
                "select count(*) from events where kind = 'message.erased'"
            )
            .await,
            2
        );
        assert_eq!(
            scalar(
                &app,
                "select count(*) from events where kind = 'message.pseudonymised'"
            )
            .await,
            1
        );
        let payloads: Vec<String> = sqlx::query_scalar("select payload from events")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert!(payloads
            .iter()
            .all(|p| !p.contains("Norrby") && !p.contains(PNR)));
    }
);

on_both_backends!(a_dry_run_changes_nothing, |app: TestApp| async move {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let admin = app.token("admin", "admin").await;
    let communicator = app.token("comm", "communicator").await;
    ingest(
        &app,
        &admin,
        vec![message(
            "d-c1",
            "comment",
            "p2",
            "Pia",
            "När öppnar badhuset?",
        )],
    )
    .await;
    let (c1, conv) = id_of(&app, "d-c1").await;
    let resolved = resolve(&app, &communicator, conv).await;
    let counts = || async {
        let mut out = Vec::new();
        for table in [
            "messages",
            "conversations",
            "events",
            "audit",
            "retention_runs",
        ] {
            out.push(app.count(table).await);
        }
        out
    };
    let before = counts().await;
    let rules = RetentionRules::built_in();
    let r = run(&app.store, &rules, resolved + 400 * DAY_MS, true, &actor())
        .await
        .unwrap();
    assert!(r.dry_run && r.run_id.is_none());
    assert_eq!((r.deleted, r.actions.len()), (1, 1));
    assert_eq!(r.actions[0].message_id, c1);
    assert_eq!(counts().await, before);

    // Over HTTP with the real clock: nothing is due yet.
    let r = app
        .post(&admin, "/api/v1/retention/runs", json!({"dry_run": true}))
        .await;
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(
        (r["dry_run"].clone(), r["deleted"].clone()),
        (json!(true), json!(0))
    );
    // A run must say whether it is a dry run: an empty body is refused.
    let r = app.post(&admin, "/api/v1/retention/runs", json!({})).await;
    assert_eq!(r.status(), 422);

    // The command line shows what a run at a later moment would do, and changes nothing.
    let before = counts().await;
    let at = chrono::DateTime::from_timestamp_millis(resolved + 400 * DAY_MS)
        .unwrap()
        .to_rfc3339();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(["retention", "run", "--dry-run", "--at", &at])
        .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
        .env("TAVLA_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("1 records would be deleted, 0 would be pseudonymised; 0 kept")
            && stdout.contains(&format!(
                "message {c1} (conversation {conv}): Delete by rule */comment"
            )),
        "{stdout}"
    );
    assert_eq!(counts().await, before);
});

on_both_backends!(
    an_export_holds_everything_about_the_person_and_masks_others,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let moderator = app.token("mod", "moderator").await;
        let auditor = app.token("dpo", "auditor").await;
        ingest(
            &app,
            &admin,
            vec![
                message(
                    "e-dm",
                    "dm",
                    "p1",
                    "Per Persson",
                    "Ring mig på 070-123 45 67 om hemtjänsten",
                ),
                message(
                    "e-c1",
                    "comment",
                    "p1",
                    "Per Persson",
                    "Ni är helt värdelösa idioter",
                ),
                message("e-c2", "comment", "p9", "Nils", "Håller med om detta"),
            ],
        )
        .await;
        let (_, dm_conv) = id_of(&app, "e-dm").await;
        let (c1, _) = id_of(&app, "e-c1").await;
        let reply = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{dm_conv}/claim"),
                json!({}),
            )
            .await;
        assert_eq!(reply.status(), 200);
        let reply = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{dm_conv}/replies"),
                json!({"text": "Hej! Din handläggare nås på lena.berg@kommun.se"}),
            )
            .await;
        assert!(
            reply.status().is_success(),
            "{}",
            reply.text().await.unwrap()
        );
        let report = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{c1}/report"),
                json!({"reason": "förolämpning", "level": "S2"}),
            )
            .await;
        assert!(report.status().is_success());

        assert_eq!(
            app.get(&agent, "/api/v1/privacy/authors/p1").await.status(),
            403
        );
        let found = app
            .get_json(&auditor, "/api/v1/privacy/authors?name=persson")
            .await;
        assert_eq!(found["items"][0]["platform_id"], "p1");
        let export = app.get_json(&auditor, "/api/v1/privacy/authors/p1").await;
        let person = &export["people"][0];
        assert_eq!(person["author"]["name"], "Per Persson");
        let messages = person["messages"].as_array().unwrap();
        let texts: Vec<&str> = messages
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "Ring mig på 070-123 45 67 om hemtjänsten",
                "Ni är helt värdelösa idioter",
                "Hej! Din handläggare nås på l***@kommun.se",
            ]
        );
        assert_eq!(messages[2]["written_by_person"], false);
        assert_eq!(messages[2]["masked"][0]["kind"], "email");
        assert_eq!(person["conversations"].as_array().unwrap().len(), 2);
        let cases = person["moderation_cases"].as_array().unwrap();
        assert_eq!(
            (cases.len(), cases[0]["message_id"].as_i64()),
            (1, Some(c1))
        );
        // Nothing of the other commenter.
        assert!(!export.to_string().contains("Håller med"));
        assert_eq!(
            app.get(&auditor, "/api/v1/privacy/authors/nobody")
                .await
                .status(),
            404
        );
        let trail = audit(&app, &auditor, "privacy.exported").await;
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0]["target"], "author:p1");
    }
);

on_both_backends!(
    erasure_removes_from_store_index_and_faq_and_keeps_what_the_law_keeps,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("dpo", "auditor").await;
        let mut messages = vec![
            message(
                "x-dm",
                "dm",
                "p1",
                "Per Persson",
                "Hej, jag har frågor om min bostadsanpassning",
            ),
            message(
                "x-c1",
                "comment",
                "p1",
                "Per Persson",
                "Hur länge är Storgatan avstängd för trafik?",
            ),
            message(
                "x-c2",
                "comment",
                "p1",
                "Per Persson",
                "Varför sänks lönerna för undersköterskor?",
            ),
        ];
        for (i, who) in ["p5", "p6"].iter().enumerate() {
            messages.push(message(
                &format!("x-o{i}"),
                "comment",
                who,
                "Annan",
                "Hur länge blir Storgatan avstängd?",
            ));
        }
        ingest(&app, &admin, messages).await;
        let (dm, _) = id_of(&app, "x-dm").await;
        let (c1, _) = id_of(&app, "x-c1").await;
        let (c2, _) = id_of(&app, "x-c2").await;
        let hold = app
            .post(
                &admin,
                "/api/v1/legal-holds",
                json!({"scope": "message", "id": c2, "reason": "Begäran om allmän handling, dnr KS 2026/88"}),
            )
            .await;
        assert_eq!(hold.status(), 201);
        search(&app, &communicator, "trafik", 1).await;
        let storgatan = |clusters: &Value| {
            clusters["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["label"].as_str().unwrap_or("").contains("Storgatan"))
                .cloned()
        };
        let mut before = None;
        for _ in 0..100 {
            let v = app
                .get_json(&communicator, "/api/v1/faq/clusters?period=week")
                .await;
            if let Some(c) = storgatan(&v).filter(|c| c["count"] == 3) {
                before = Some(c);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let before = before.expect("a Storgatan cluster of three");
        assert!(before.to_string().contains("för trafik"), "{before}");

        // A dry run says what would happen and changes nothing.
        let preview = app
            .post(
                &auditor,
                "/api/v1/privacy/authors/p1/erase",
                json!({"dry_run": true}),
            )
            .await;
        assert_eq!(preview.status(), 200);
        let preview: Value = preview.json().await.unwrap();
        assert_eq!(preview["deleted"], 1);
        assert_eq!(app.count("messages").await, 5);

        let erased = app
            .post(
                &auditor,
                "/api/v1/privacy/authors/p1/erase",
                json!({"dry_run": false}),
            )
            .await;
        assert_eq!(erased.status(), 200);
        let erased: Value = erased.json().await.unwrap();
        assert_eq!(
            (erased["deleted"].as_i64(), erased["pseudonymised"].as_i64()),
            (Some(1), Some(0))
        );
        assert_eq!(erased["actions"], json!([[c1, "delete"]]));
        let kept: Vec<(i64, &str)> = erased["kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["message_id"].as_i64().unwrap(),
                    k["reason"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(kept, [(dm, "public_record"), (c2, "legal_hold")]);
        assert!(erased["kept"][0]["why"]
            .as_str()
            .unwrap()
            .contains("allmän handling"));
        assert_eq!(erased["author_removed"], false);

        // Gone from the store, the index and the FAQ examples; the held record and the DM stay.
        assert_eq!(
            scalar(
                &app,
                &format!("select count(*) from messages where id = {c1}")
            )
            .await,
            0
        );
        search(&app, &communicator, "trafik", 0).await;
        search(&app, &communicator, "undersköterskor", 1).await;
        search(&app, &agent, "bostadsanpassning", 1).await;
        let mut after = None;
        for _ in 0..100 {
            let v = app
                .get_json(&communicator, "/api/v1/faq/clusters?period=week")
                .await;
            if let Some(c) = storgatan(&v).filter(|c| c["count"] == 2) {
                after = Some(c);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let after = after.expect("the Storgatan cluster without the erased question");
        assert!(!after.to_string().contains("för trafik"), "{after}");
        // Someone with nothing kept disappears altogether: no author record, nothing to export.
        ingest(
            &app,
            &admin,
            vec![message(
                "x-q1",
                "comment",
                "p7",
                "Kim Ek",
                "Finns det lediga kolonilotter?",
            )],
        )
        .await;
        let erased = app
            .post(
                &auditor,
                "/api/v1/privacy/authors/p7/erase",
                json!({"dry_run": false}),
            )
            .await;
        let erased: Value = erased.json().await.unwrap();
        assert_eq!(
            (
                erased["deleted"].as_i64(),
                erased["author_removed"].as_bool()
            ),
            (Some(1), Some(true))
        );
        assert_eq!(
            app.get(&auditor, "/api/v1/privacy/authors/p7")
                .await
                .status(),
            404
        );
        assert_eq!(
            scalar(
                &app,
                "select count(*) from authors where platform_id = 'p7'"
            )
            .await,
            0
        );
        let trail = audit(&app, &auditor, "privacy.erased").await;
        assert_eq!(trail.len(), 2);
        let trail: Vec<Value> = trail
            .into_iter()
            .filter(|e| e["target"] == "author:p1")
            .collect();
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0]["detail"]["deleted"], 1);
        assert!(!trail[0].to_string().contains("Storgatan"));
    }
);

on_both_backends!(
    personal_data_is_masked_in_every_output_and_a_reveal_is_audited,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let moderator = app.token("mod", "moderator").await;
        let auditor = app.token("dpo", "auditor").await;
        let text = format!(
            "Jag heter Anna, pnr {PNR}, mejla anna.lund@exempel.se eller ring 070-123 45 67 om färdtjänsten"
        );
        ingest(
            &app,
            &admin,
            vec![
                message("m-dm", "dm", "p1", "Anna Lund", &text),
                message(
                    "m-c1",
                    "comment",
                    "p2",
                    "Bo",
                    "Ring Kalle på 070-765 43 21, han är en idiot",
                ),
            ],
        )
        .await;
        let (dm, dm_conv) = id_of(&app, "m-dm").await;
        let (c1, _) = id_of(&app, "m-c1").await;
        let masked = "Jag heter Anna, pnr 811218-****, mejla a***@exempel.se eller ring 070-*** ** 67 om färdtjänsten";

        // The conversation view and the queue.
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{dm_conv}"))
            .await;
        let m = &view["messages"][0];
        assert_eq!(m["text"], masked);
        let spans: Vec<(String, String)> = m["masked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let chars: Vec<char> = masked.chars().collect();
                let (a, b) = (
                    s["start"].as_u64().unwrap() as usize,
                    s["end"].as_u64().unwrap() as usize,
                );
                (
                    s["kind"].as_str().unwrap().to_string(),
                    chars[a..b].iter().collect(),
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                ("personnummer".to_string(), "811218-****".to_string()),
                ("email".to_string(), "a***@exempel.se".to_string()),
                ("phone".to_string(), "070-*** ** 67".to_string()),
            ]
        );
        assert_eq!(view["preview"], masked);
        let queue = app.conversations(&agent, "queue=dm").await;
        assert_eq!(queue[0]["preview"], masked);

        // Search: message and snippet masked; the highlight still marks the searched word.
        let found = search(&app, &agent, "färdtjänsten", 1).await;
        let item = &found["items"][0];
        let snippet = item["snippet"]["text"].as_str().unwrap();
        assert!(!snippet.contains(PNR) && !snippet.contains("anna.lund"));
        let chars: Vec<char> = snippet.chars().collect();
        let h = &item["snippet"]["highlights"][0];
        let marked: String = chars
            [h[0].as_u64().unwrap() as usize..h[1].as_u64().unwrap() as usize]
            .iter()
            .collect();
        assert_eq!(marked, "färdtjänsten");
        assert!(item["snippet"]["html"]
            .as_str()
            .unwrap()
            .contains("<mark>färdtjänsten</mark>"));

        // Moderation: the case preview and the evidence are masked too.
        let report = app
            .post(
                &communicator,
                &format!("/api/v1/messages/{c1}/report"),
                json!({"reason": "uppgifter om annan", "level": "S2"}),
            )
            .await;
        assert!(report.status().is_success());
        let cases = app.get_json(&moderator, "/api/v1/moderation/cases").await;
        let case = cases["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["message_id"] == c1)
            .unwrap()
            .clone();
        assert_eq!(
            case["preview"],
            "Ring Kalle på 070-*** ** 21, han är en idiot"
        );
        let shown = app
            .get_json(
                &moderator,
                &format!("/api/v1/moderation/cases/{}", case["id"]),
            )
            .await;
        assert!(!shown.to_string().contains("070-765 43 21"), "{shown}");
        assert_eq!(
            shown["message"]["text"],
            "Ring Kalle på 070-*** ** 21, han är en idiot"
        );

        // Reveal: one value, for those who may, audited without the value.
        let r = app
            .post(
                &agent,
                &format!("/api/v1/messages/{dm}/reveal"),
                json!({"index": 1}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r: Value = r.json().await.unwrap();
        assert_eq!(
            (r["kind"].as_str(), r["value"].as_str()),
            (Some("email"), Some("anna.lund@exempel.se"))
        );
        let none = app
            .post(
                &agent,
                &format!("/api/v1/messages/{dm}/reveal"),
                json!({"index": 3}),
            )
            .await;
        assert_eq!(none.status(), 404);
        for (token, status) in [(&communicator, 403), (&moderator, 403)] {
            let r = app
                .post(
                    token,
                    &format!("/api/v1/messages/{dm}/reveal"),
                    json!({"index": 0}),
                )
                .await;
            assert_eq!(r.status(), status);
        }
        let r = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{c1}/reveal"),
                json!({"index": 0}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["value"], "070-765 43 21");
        let trail = audit(&app, &auditor, "personal_data.revealed").await;
        assert_eq!(trail.len(), 2);
        let dm_reveal = trail
            .iter()
            .find(|e| e["target"] == format!("message:{dm}"))
            .unwrap();
        assert_eq!(dm_reveal["detail"], json!({"index": 1, "kind": "email"}));
        let doc = app.get_json(&agent, "/api/v1/openapi.json").await;
        for path in [
            "/api/v1/privacy/authors",
            "/api/v1/privacy/authors/{platform_id}",
            "/api/v1/privacy/authors/{platform_id}/erase",
            "/api/v1/legal-holds",
            "/api/v1/legal-holds/{id}",
            "/api/v1/retention/runs",
            "/api/v1/messages/{id}/reveal",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} is documented");
        }
        let whole = app
            .get_json(&auditor, "/api/v1/audit?limit=500")
            .await
            .to_string();
        assert!(!whole.contains("anna.lund") && !whole.contains(PNR) && !whole.contains("765 43"));
    }
);

/// One Messenger event, timed now, for `page` from `sender`.
fn messenger(page: &str, sender: &str, event: (&str, Value)) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let mut item = json!({"sender": {"id": sender}, "recipient": {"id": page}, "timestamp": now});
    item[event.0] = event.1;
    json!({"id": page, "time": now, "messaging": [item]})
}

on_both_backends!(
    retention_forgets_the_records_beside_the_messages,
    |app: TestApp| async move {
        const WAITING: &str = "880000000000002";
        const RELEASED: &str = "880000000000003";
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let auditor = app.token("dpo", "auditor").await;
        // A DM that stays open, two reactions to it, a delivery tavla cannot read, and DMs for
        // two pages nobody approved (one approved later, which releases it).
        let now = chrono::Utc::now().timestamp_millis();
        let delivery = json!({"object": "page", "entry": [
            messenger(PAGE, "p1", ("message", json!({"mid": "b-m1", "text": "Hej, när öppnar simhallen?"}))),
            messenger(PAGE, "p2", ("reaction", json!({"mid": "b-m1", "action": "react", "emoji": "👍"}))),
            messenger(PAGE, "p3", ("reaction", json!({"mid": "b-m1", "action": "react", "emoji": "❤"}))),
            {"id": PAGE, "time": now, "changes": [{"field": "ratings", "value": {"reviewer_id": "p5", "review_text": "Bra service"}}]},
            messenger(WAITING, "p6", ("message", json!({"mid": "b-q1", "text": "Finns ni kvar?"}))),
            messenger(RELEASED, "p7", ("message", json!({"mid": "b-q2", "text": "Hallå?"}))),
        ]});
        let r = app.webhook(&serde_json::to_vec(&delivery).unwrap()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(app.count("reactions").await, 2);
        assert_eq!(app.count("unrecognised").await, 1);
        assert_eq!(app.count("quarantine").await, 2);
        let r = app
            .post(&admin, "/api/v1/channels", json!({"platform": "facebook", "platform_id": RELEASED,
                "name": "Biblioteket", "unit": "Kultur", "purpose": "Frågor om lån", "responsible": "Bibliotekschefen"}))
            .await;
        assert_eq!(r.status(), 201);
        let channel = r.json::<Value>().await.unwrap()["channel"]["id"]
            .as_i64()
            .unwrap();
        let approved = app
            .post(
                &admin,
                &format!("/api/v1/channels/{channel}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(
            approved.json::<Value>().await.unwrap()["released_from_quarantine"],
            1
        );
        // A comment whose thread is resolved: its author is forgotten when it goes.
        ingest(
            &app,
            &admin,
            vec![message(
                "b-c1",
                "comment",
                "p4",
                "Per Kommentar",
                "Stängt i jul?",
            )],
        )
        .await;
        let (_, comment_conv) = id_of(&app, "b-c1").await;
        let resolved = resolve(&app, &communicator, comment_conv).await;
        // A person under a legal hold keeps their reaction, and so their name.
        let hold = app
            .post(
                &auditor,
                "/api/v1/legal-holds",
                json!({"scope": "author", "platform_id": "p3", "reason": "JO-anmälan 55-26"}),
            )
            .await;
        assert_eq!(hold.status(), 201);
        // A staff member signs in, and someone guesses at a name that does not exist (a
        // successful sign-in clears the failures of its own name).
        let hash = tavla::access::hash_password("ett långt lösenord här").unwrap();
        app.store
            .add_staff("sara", "agent", Some(&hash), &actor())
            .await
            .unwrap();
        for (username, status) in [("okand", 401), ("sara", 200)] {
            let r = app
                .client
                .post(app.url("/api/v1/session"))
                .json(&json!({"username": username, "password": "ett långt lösenord här"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), status);
        }
        let sessions = app.count("sessions").await;
        assert!(sessions >= 1);
        let people = app.count("authors").await;

        let rules = RetentionRules::built_in();
        let at = |days: i64| resolved + days * DAY_MS;
        // 200 days on: the unreadable delivery (180 days) and the released copy (30) are gone;
        // reactions, the waiting delivery, sessions and failed sign-ins (365) stay.
        let r = run(&app.store, &rules, at(200), false, &actor())
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(r.other).unwrap(),
            json!({"reactions": 0, "quarantine": 1, "unrecognised": 1, "sessions": 0, "signin_failures": 0, "people": 0,
                "post_figures": 0, "campaign_analytics": 0, "post_goals": 0, "campaigns": 0, "post_notes": 0})
        );
        assert_eq!(app.count("unrecognised").await, 0);
        let left: Vec<String> = sqlx::query_scalar("select channel_platform_id from quarantine")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(left, vec![WAITING.to_string()]);

        // 400 days on, first as a dry run: counted, nothing changed. People are counted as they
        // stand, before the run would dispose of the comment and the reaction naming them.
        let dry = run(&app.store, &rules, at(400), true, &actor())
            .await
            .unwrap();
        let expected = json!({"reactions": 1, "quarantine": 1, "unrecognised": 0, "sessions": sessions, "signin_failures": 1, "people": 0,
            "post_figures": 0, "campaign_analytics": 0, "post_goals": 0, "campaigns": 0, "post_notes": 0});
        assert_eq!(serde_json::to_value(dry.other).unwrap(), expected);
        assert_eq!(app.count("reactions").await, 2);
        assert_eq!(app.count("authors").await, people);

        let r = run(&app.store, &rules, at(400), false, &actor())
            .await
            .unwrap();
        assert_eq!(r.deleted, 1, "the comment");
        let mut expected = expected;
        expected["people"] = json!(2);
        assert_eq!(
            serde_json::to_value(r.other).unwrap(),
            expected,
            "p2 and p4 forgotten"
        );
        let names: Vec<String> =
            sqlx::query_scalar("select platform_id from authors order by platform_id")
                .fetch_all(&app.store.pool)
                .await
                .unwrap();
        assert!(
            !names.contains(&"p2".to_string()) && !names.contains(&"p4".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"p1".to_string()),
            "the open DM's person stays: {names:?}"
        );
        assert!(
            names.contains(&"p3".to_string()),
            "the held person stays: {names:?}"
        );
        let reactions: Vec<String> = sqlx::query_scalar("select reaction from reactions")
            .fetch_all(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(reactions, vec!["❤".to_string()]);
        for table in ["quarantine", "unrecognised", "sessions", "signin_failures"] {
            assert_eq!(app.count(table).await, 0, "{table}");
        }
        // The run's audit row says what went beside the messages.
        let runs = audit(&app, &auditor, "retention.run").await;
        assert_eq!(runs[0]["detail"]["other"], expected, "{runs:?}");

        // A second run at the same moment finds nothing more.
        let again = run(&app.store, &rules, at(400), false, &actor())
            .await
            .unwrap();
        assert_eq!(again.other, Default::default());

        // A forgotten person who writes again is a new person to tavla (the ingestion's
        // remembered ids of people that are gone must not be used).
        let back = json!({"object": "page", "entry": [
            messenger(PAGE, "p2", ("message", json!({"mid": "b-m2", "text": "Hej igen!"}))),
        ]});
        let r = app.webhook(&serde_json::to_vec(&back).unwrap()).await;
        assert_eq!(r.status(), 200);
        let author: Option<String> = sqlx::query_scalar(
            "select a.platform_id from messages m join authors a on a.id = m.author_id where m.platform_id = 'b-m2'",
        )
        .fetch_optional(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(author.as_deref(), Some("p2"));
    }
);

// Forgetting people reads which ones nobody refers to, then deletes them. On SQLite a
// transaction that begins by reading and then writes is refused at once (not waited for) when
// another connection committed in between; the sweep must hold the write lock from its start.
// (CI, stop 25: "database is locked" from a retention run while the service wrote beside it.)
// The rows are written as the service writes them, in transactions from `Store::begin`.
on_both_backends!(
    forgetting_people_is_not_refused_by_writers_beside_it,
    |app: TestApp| async move {
        let people = 2_500i64;
        let mut tx = app.store.begin().await.unwrap();
        for i in 0..people {
            add_author(&mut tx, &format!("gone-{i}"), 0).await;
        }
        app.store.commit(tx).await.unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let cutoffs = tavla::store::sweep::OtherCutoffs {
            reactions: 0,
            quarantine_waiting: 0,
            quarantine_released: 0,
            unrecognised: 0,
            sessions: 0,
            signin_failures: 0,
            people: 1,
            post_figures: 0,
            campaign_analytics_day: 0,
            post_plans: 0,
            post_notes: 0,
        };
        // Forty writers commit one small row after another while the sweep runs; the people
        // they add were seen now, after the cut-off, so the sweep leaves them.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..40)
            .map(|w| {
                let store = app.store.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let mut tx = store.begin().await.unwrap();
                        add_author(&mut tx, &format!("beside-{w}-{n}"), now).await;
                        store.commit(tx).await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let swept = app.store.sweep_other_records(&cutoffs, false).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut written = 0;
        for w in writers {
            written += w.await.unwrap();
        }
        assert!(written > 0, "the writers wrote nothing beside the sweep");
        assert_eq!(swept.unwrap().people, people);
        let left: i64 = sqlx::query_scalar("select count(*) from authors where first_seen_at = 0")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
);

async fn add_author(tx: &mut tavla::store::Tx<'_>, platform_id: &str, first_seen_at: i64) {
    sqlx::query(
        "insert into authors (platform, platform_id, first_seen_at) values ('facebook', $1, $2)",
    )
    .bind(platform_id)
    .bind(first_seen_at)
    .execute(&mut **tx)
    .await
    .unwrap();
}
