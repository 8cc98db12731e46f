//! Search: fresh, Swedish-aware, filtered and permission-aware, derived from the store.

use serde_json::{json, Value};

use crate::helpers::{eventually, Backend, TestApp};
use crate::on_both_backends;

const KOMMUN: &str = "800000000000001";
const SKOLAN: &str = "800000000000002";

fn msg(id: &str, kind: &str, channel: &str, author: &str, text: &str, time: &str) -> Value {
    let mut m = json!({"platform": "facebook", "channel": channel, "kind": kind, "id": id,
        "author": {"id": author, "name": author}, "text": text, "time": time});
    if kind == "comment" {
        m["post_id"] = json!(format!("{channel}_post1"));
    }
    m
}

async fn seed(app: &TestApp) -> String {
    app.register_channel("facebook", KOMMUN, "Kommunen").await;
    app.register_channel("facebook", SKOLAN, "Skolan").await;
    let admin = app.token("admin", "admin").await;
    let messages = vec![
        msg(
            "d1",
            "dm",
            KOMMUN,
            "anna",
            "Hur ansöker jag om parkeringstillstånd för rörelsehindrade?",
            "2026-10-02T10:00:00+02:00",
        ),
        msg(
            "d2",
            "dm",
            KOMMUN,
            "bo",
            "När töms soporna i Norrby?",
            "2026-10-15T10:00:00+02:00",
        ),
        msg(
            "d3",
            "dm",
            SKOLAN,
            "cia",
            "Vilka är öppettiderna på fritids?",
            "2026-11-03T09:00:00+01:00",
        ),
        msg(
            "d4",
            "dm",
            KOMMUN,
            "dan",
            "When is the library open on Sundays?",
            "2026-11-04T09:00:00+01:00",
        ),
        msg(
            "c1",
            "comment",
            KOMMUN,
            "eva",
            "Var kan man parkera vid simhallen? Se https://exempel.se/parkering 🙂",
            "2026-11-05T12:00:00+01:00",
        ),
        msg(
            "c2",
            "comment",
            KOMMUN,
            "fia",
            "Hushållssopor hämtas på fredag, inte parkering",
            "2026-11-06T12:00:00+01:00",
        ),
        msg(
            "c3",
            "comment",
            KOMMUN,
            "gun",
            "Boende parkering gäller hela året",
            "2026-11-07T12:00:00+01:00",
        ),
    ];
    let r = app
        .post(&admin, "/api/v1/messages", json!({"messages": messages}))
        .await;
    assert_eq!(r.status(), 200);
    admin
}

/// Searches until `expected` hits are there (the index follows the log within moments), or fails.
async fn search(app: &TestApp, token: &str, query: &str, expected: usize) -> Value {
    eventually(
        &format!("search {query} giving {expected} hits"),
        || async {
            let r = app.get(token, &format!("/api/v1/search?{query}")).await;
            assert_eq!(r.status(), 200, "search {query}");
            let found: Value = r.json().await.unwrap();
            (found["items"].as_array().unwrap().len() == expected).then_some(found)
        },
    )
    .await
}

fn ids(result: &Value) -> Vec<String> {
    result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["message"]["author_platform_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

on_both_backends!(
    swedish_words_compounds_and_diacritics,
    |app: TestApp| async move {
        seed(&app).await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        // Compounds: parkering finds parkeringstillstånd.
        assert_eq!(ids(&search(&app, &agent, "q=parkering", 1).await), ["anna"]);
        // Stemming: sopor finds soporna.
        assert_eq!(ids(&search(&app, &agent, "q=sopor", 1).await), ["bo"]);
        // Without å/ä/ö: oppettider finds öppettiderna.
        assert_eq!(
            ids(&search(&app, &agent, "q=oppettiderna", 1).await),
            ["cia"]
        );
        // Without diacritics and in another inflection: the folded stem finds it too.
        assert_eq!(ids(&search(&app, &agent, "q=oppettid", 1).await), ["cia"]);
        assert_eq!(
            ids(&search(&app, &agent, "q=sopornas%20norrby", 1).await),
            ["bo"]
        );
        // English stemming for English text.
        assert_eq!(ids(&search(&app, &agent, "q=libraries", 1).await), ["dan"]);
        // Comments: a compound tail (hushållssopor ← sopor), and a URL or emoji breaks nothing.
        assert_eq!(
            ids(&search(&app, &communicator, "q=sopor", 1).await),
            ["fia"]
        );
        let parking = search(&app, &communicator, "q=parkering&sort=oldest", 3).await;
        assert_eq!(ids(&parking), ["eva", "fia", "gun"]);
        // The exact word ranks above the same word without its diacritics.
        let r = search(&app, &communicator, "q=simhallen", 1).await;
        let html = r["items"][0]["snippet"]["html"].as_str().unwrap();
        assert!(html.contains("<mark>simhallen</mark>"), "{html}");
        // The search is on the trail, with the page as the index found it.
        let auditor = app.token("auditor", "auditor").await;
        let trail = app
            .get_json(&auditor, "/api/v1/audit?action=search.read&limit=1")
            .await;
        let detail = &trail["items"][0]["detail"];
        assert_eq!(detail["q"], "simhallen", "{trail}");
        assert_eq!(detail["kinds"], json!(["comments"]), "{trail}");
        assert_eq!(detail["total"], r["total"], "{trail}");
        assert_eq!(detail["found"], json!(r["items"].as_array().unwrap().len()));
    }
);

on_both_backends!(
    phrases_exclusions_prefixes_and_filters,
    |app: TestApp| async move {
        seed(&app).await;
        let communicator = app.token("comm", "communicator").await;
        let agent = app.token("agent", "agent").await;
        assert_eq!(
            ids(&search(&app, &communicator, "q=%22boende%20parkering%22", 1).await),
            ["gun"]
        );
        assert_eq!(
            ids(&search(&app, &communicator, "q=parkering%20-sopor&sort=oldest", 2).await),
            ["eva", "gun"]
        );
        assert_eq!(
            ids(&search(&app, &agent, "q=ans%C3%B6&typing=true", 1).await),
            ["anna"]
        );
        search(&app, &agent, "q=ans%C3%B6", 0).await;
        // Filters: channel, date range (Swedish days), author, kind, direction, sort.
        let skolan: i64 = sqlx::query_scalar("select id from channels where name = 'Skolan'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(
            ids(&search(&app, &agent, &format!("channel={skolan}"), 1).await),
            ["cia"]
        );
        assert_eq!(
            ids(&search(&app, &agent, "from=2026-10-01&to=2026-10-31&sort=oldest", 2).await),
            ["anna", "bo"]
        );
        assert_eq!(
            ids(&search(&app, &agent, "to=2026-10-02", 1).await),
            ["anna"]
        );
        let bo: i64 = sqlx::query_scalar("select id from authors where platform_id = 'bo'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        assert_eq!(
            ids(&search(&app, &agent, &format!("author={bo}"), 1).await),
            ["bo"]
        );
        assert_eq!(
            ids(&search(&app, &agent, "sort=newest&limit=2", 2).await),
            ["dan", "cia"]
        );
        let page = search(&app, &agent, "sort=newest&limit=2&offset=2", 2).await;
        assert_eq!(page["total"], 4);
        assert_eq!(ids(&page), ["bo", "anna"]);
        search(&app, &agent, "direction=outbound", 0).await;
        search(&app, &agent, "attachments=true", 0).await;
        search(&app, &agent, "platform=instagram", 0).await;
        assert_eq!(
            app.get(&agent, "/api/v1/search?kind=comments")
                .await
                .status(),
            403
        );
        assert_eq!(
            app.get(&agent, "/api/v1/search?sort=id;drop")
                .await
                .status(),
            400
        );
        // Status follows the conversation.
        let id = app
            .conversations(&agent, "")
            .await
            .iter()
            .find(|c| c["person"]["platform_id"] == "bo")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        assert_eq!(
            app.post(
                &agent,
                &format!("/api/v1/conversations/{id}/status"),
                json!({"status": "resolved"})
            )
            .await
            .status(),
            200
        );
        assert_eq!(
            ids(&search(&app, &agent, "status=resolved", 1).await),
            ["bo"]
        );
    }
);

on_both_backends!(
    results_only_from_what_the_caller_may_read,
    |app: TestApp| async move {
        let admin = seed(&app).await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        let moderator = app.token("mod", "moderator").await;
        // An agent sees DMs, a communicator comments: each finds only their own kind.
        assert_eq!(ids(&search(&app, &agent, "q=parkering", 1).await), ["anna"]);
        assert_eq!(
            search(&app, &communicator, "q=parkering", 3).await["total"],
            3
        );
        // A hidden comment: gone for the communicator, still there for the moderator.
        let hide = json!({"object": "page", "entry": [{"id": KOMMUN, "time": 1, "changes": [{"field": "feed",
        "value": {"item": "comment", "verb": "hide", "comment_id": "c3", "post_id": format!("{KOMMUN}_post1"),
                  "created_time": 1_762_600_000, "from": {"id": "gun", "name": "gun"}}}]}]});
        assert_eq!(
            app.webhook(serde_json::to_vec(&hide).unwrap().as_slice())
                .await
                .status(),
            200
        );
        search(&app, &communicator, "q=parkering", 2).await;
        assert_eq!(search(&app, &moderator, "q=parkering", 3).await["total"], 3);
        // Channel scope.
        let teacher_id = app
            .store
            .add_staff("teacher", "agent", None, &crate::helpers::actor())
            .await
            .unwrap()
            .id;
        app.train(teacher_id, "all").await;
        let teacher = tavla::access::new_token();
        app.store
            .add_api_token(teacher_id, &teacher, &crate::helpers::actor())
            .await
            .unwrap();
        let skolan: i64 = sqlx::query_scalar("select id from channels where name = 'Skolan'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/staff/{teacher_id}")))
            .bearer_auth(&admin)
            .json(&json!({"channels": [skolan]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(ids(&search(&app, &teacher, "", 1).await), ["cia"]);
        let kommun: i64 = sqlx::query_scalar("select id from channels where name = 'Kommunen'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        search(&app, &teacher, &format!("channel={kommun}"), 0).await;
        // Hostile text comes back escaped in the snippet.
        let hostile = json!({"messages": [msg("x1", "dm", SKOLAN, "mallory", "<img src=x onerror=alert(1)> parkering", "2026-11-08T10:00:00+01:00")]});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", hostile).await.status(),
            200
        );
        let r = search(&app, &teacher, "q=parkering", 1).await;
        let html = r["items"][0]["snippet"]["html"].as_str().unwrap();
        assert!(
            html.starts_with("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
    }
);

/// The same queries give the same results from the incremental index and from a rebuild, and
/// a restart catches up on what was written while the index was closed.
async fn rebuild_and_catch_up(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    seed(&app).await;
    let agent = app.token("agent", "agent").await;
    search(&app, &agent, "", 4).await;
    app.stop().await;
    // Written while the service (and its index) is down.
    let file = app.settings.data_dir.join("late.jsonl");
    std::fs::write(
        &file,
        msg(
            "late1",
            "dm",
            KOMMUN,
            "hugo",
            "Parkeringsavgift vid stationen?",
            "2026-11-09T10:00:00+01:00",
        )
        .to_string(),
    )
    .unwrap();
    let (database_url, data_dir) = (
        app.settings.database_url.expose().clone(),
        app.settings.data_dir.clone(),
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
            .args(args)
            .env("TAVLA_DATABASE_URL", &database_url)
            .env("TAVLA_DATA_DIR", &data_dir)
            .env("TAVLA_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    assert!(run(&["import", file.to_str().unwrap()]).status.success());
    app.start().await;
    let hits = ids(&search(&app, &agent, "q=parkering&sort=oldest", 2).await);
    assert_eq!(hits, ["anna", "hugo"], "the restart caught up");
    let queries = [
        ("q=parkering", 2),
        ("q=sopor", 1),
        ("q=oppettiderna", 1),
        ("sort=newest", 5),
        ("q=library", 1),
        ("q=stationen", 1),
    ];
    let mut incremental = Vec::new();
    for (q, n) in queries {
        incremental.push(search(&app, &agent, q, n).await);
    }
    app.stop().await;
    let rebuilt = run(&["reindex"]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    assert!(
        String::from_utf8_lossy(&rebuilt.stderr).contains("8 of 8 messages indexed"),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    app.start().await;
    for ((q, n), before) in queries.iter().zip(&incremental) {
        let after = search(&app, &agent, q, *n).await;
        assert_eq!(ids(&after), ids(before), "{q}");
        assert_eq!(after["total"], before["total"], "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_equals_incremental_and_restart_catches_up_sqlite() {
    rebuild_and_catch_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_equals_incremental_and_restart_catches_up_postgres() {
    rebuild_and_catch_up(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_both_find_new_messages() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = first.second_instance().await;
    first.register_channel("facebook", KOMMUN, "Kommunen").await;
    let admin = first.token("admin", "admin").await;
    let agent = first.token("agent", "agent").await;
    let via_first = json!({"messages": [msg("p1", "dm", KOMMUN, "ida", "Parkering vid biblioteket?", "2026-11-01T10:00:00+01:00")]});
    assert_eq!(
        first
            .post(&admin, "/api/v1/messages", via_first)
            .await
            .status(),
        200
    );
    let via_second = json!({"messages": [msg("p2", "dm", KOMMUN, "jon", "Parkeringstillstånd för besökare?", "2026-11-02T10:00:00+01:00")]});
    assert_eq!(
        second
            .post(&admin, "/api/v1/messages", via_second)
            .await
            .status(),
        200
    );
    for app in [&first, &second] {
        assert_eq!(
            ids(&search(app, &agent, "q=parkering&sort=oldest", 2).await),
            ["ida", "jon"]
        );
    }
}
