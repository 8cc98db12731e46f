//! FAQ signals: recurring questions clustered, counted per period and per person, curated.

use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};
use crate::on_both_backends;

const PAGE: &str = "920000000000001";

/// Public questions written in the last minutes: `{prefix}{i}` by person `p{i}` under `post(i)`.
fn comments_now(prefix: &str, texts: &[&str], post: impl Fn(usize) -> String) -> Vec<Value> {
    let now = chrono::Utc::now().timestamp_millis();
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": format!("{prefix}{i}"),
            "author": {"id": format!("p{i}")}, "text": text, "time": now - (i as i64) * 60_000, "post_id": post(i)}))
        .collect()
}

async fn wait_for_clusters(app: &TestApp, token: &str, min: usize) -> Vec<Value> {
    eventually(&format!("a FAQ cluster with {min} questions"), || async {
        let v = app
            .get_json(token, "/api/v1/faq/clusters?period=week")
            .await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .any(|c| c["count"].as_u64().unwrap_or(0) as usize >= min)
            .then_some(items)
    })
    .await
}

on_both_backends!(
    recurring_questions_become_a_signal_that_curation_names,
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let now = chrono::Utc::now().timestamp_millis();
        let questions = [
            ("a", "Hur länge är Storgatan avstängd?"),
            ("b", "Hur länge blir Storgatan avstängd för bilar?"),
            ("c", "Hur länge kommer Storgatan vara avstängd?"),
            ("c", "Hur länge är Storgatan avstängd nu då?"),
            ("d", "När öppnar simhallen igen?"),
            ("e", "Tack för informationen!"),
        ];
        let messages: Vec<Value> = questions
        .iter()
        .enumerate()
        .map(|(i, (who, text))| json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": format!("q{i}"),
            "author": {"id": who}, "text": text, "time": now - (i as i64) * 60_000, "post_id": "storgatan"}))
        .collect();
        assert_eq!(
            app.post(&admin, "/api/v1/messages", json!({"messages": messages}))
                .await
                .status(),
            200
        );
        let items = wait_for_clusters(&app, &communicator, 4).await;
        let storgatan = items
            .iter()
            .find(|c| c["count"] == 4)
            .expect("the Storgatan cluster");
        assert_eq!(
            storgatan["people"], 3,
            "one person asking twice is one person"
        );
        assert_eq!(storgatan["previous"], 0);
        assert!(storgatan["posts"]
            .as_array()
            .unwrap()
            .contains(&json!("storgatan")));
        assert!(storgatan["label"].as_str().unwrap().contains("Storgatan"));
        assert!(
            !items
                .iter()
                .any(|c| c["label"].as_str().unwrap_or("").contains("Tack")),
            "thanks is no question"
        );
        // Agents do not see FAQ signals; communicators curate.
        let agent = app.token("agent", "agent").await;
        assert_eq!(app.get(&agent, "/api/v1/faq/clusters").await.status(), 403);
        let id = storgatan["id"].as_i64().unwrap();
        let r = app
        .client
        .patch(app.url(&format!("/api/v1/faq/clusters/{id}")))
        .bearer_auth(&communicator)
        .json(&json!({"name": "Avstängningen av Storgatan", "pinned": true, "answered_url": "https://exempelby.se/storgatan"}))
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let bad = app
            .client
            .patch(app.url(&format!("/api/v1/faq/clusters/{id}")))
            .bearer_auth(&communicator)
            .json(&json!({"answered_url": "javascript:alert(1)"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        // Curation survives a restart (the clusters are rebuilt from the store).
        app.restart().await;
        let items = wait_for_clusters(&app, &communicator, 4).await;
        let first = &items[0];
        assert_eq!(first["name"], "Avstängningen av Storgatan");
        assert_eq!(first["pinned"], true);
        assert_eq!(first["answered_url"], "https://exempelby.se/storgatan");
        // What is kept of each question (when, who, which channel and post) is rebuilt too.
        for field in [
            "id",
            "count",
            "people",
            "previous",
            "channels",
            "posts",
            "total_members",
        ] {
            assert_eq!(first[field], storgatan[field], "{field} after a restart");
        }
    }
);

#[test]
fn faq_eval_prints_nmi_and_ari() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("questions.tsv");
    std::fs::write(
        &file,
        "text\tlabel\nHur länge är Storgatan avstängd?\tstorgatan\nNär öppnar Storgatan igen?\tstorgatan\n\
         Hur länge blir Storgatan avstängd?\tstorgatan\nNär öppnar simhallen?\tsimhall\nVilka tider har simhallen öppet?\tsimhall\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(["faq", "eval", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for key in ["nmi", "ari", "clusters", "seconds"] {
        assert!(last.get(key).is_some(), "{key} in {last}");
    }
    assert!(last["nmi"].as_f64().unwrap() <= 1.0);
}

on_both_backends!(search_filters_by_faq_cluster, |app: TestApp| async move {
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let admin = app.token("admin", "admin").await;
    let communicator = app.token("comm", "communicator").await;
    let texts = [
        "Hur länge är Storgatan avstängd?",
        "Hur länge blir Storgatan avstängd?",
        "När öppnar simhallen igen?",
    ];
    let messages = comments_now("s", &texts, |_| "p".to_string());
    assert_eq!(
        app.post(&admin, "/api/v1/messages", json!({"messages": messages}))
            .await
            .status(),
        200
    );
    let items = wait_for_clusters(&app, &communicator, 2).await;
    let id = items.iter().find(|c| c["count"] == 2).unwrap()["id"]
        .as_i64()
        .unwrap();
    eventually("both questions found by their cluster", || async {
        let total = app
            .get_json(&communicator, &format!("/api/v1/search?faq_cluster={id}"))
            .await["total"]
            .clone();
        (total == 2).then_some(())
    })
    .await;
});

on_both_backends!(
    saved_replies_merges_and_the_suggested_answer,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let agent = app.token("agent", "agent").await;
        // Communicators keep the library; agents read it.
        let r = app
            .post(
                &communicator,
                "/api/v1/saved-replies",
                json!({"title": "Storgatan", "language": "sv",
            "body": "Storgatan är avstängd till mars. Läs mer på exempelby.se/storgatan."}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let reply_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        assert_eq!(
            app.post(
                &agent,
                "/api/v1/saved-replies",
                json!({"title": "x", "language": "sv", "body": "y"})
            )
            .await
            .status(),
            403
        );
        assert_eq!(
            app.post(
                &communicator,
                "/api/v1/saved-replies",
                json!({"title": "x", "language": "fi", "body": "y"})
            )
            .await
            .status(),
            422
        );
        let library = app
            .get_json(&agent, "/api/v1/saved-replies?language=sv")
            .await;
        assert_eq!(library["items"][0]["title"], "Storgatan");

        let texts = [
            "Hur länge är Storgatan avstängd?",
            "Hur länge blir Storgatan avstängd?",
            "Vilka dagar är simhallen öppen?",
            "Vilka tider är simhallen öppen?",
        ];
        let messages = comments_now("m", &texts, |i| format!("post{}", i / 2));
        assert_eq!(
            app.post(&admin, "/api/v1/messages", json!({"messages": messages}))
                .await
                .status(),
            200
        );
        let items = wait_for_clusters(&app, &communicator, 2).await;
        let pairs: Vec<&Value> = items.iter().filter(|c| c["count"] == 2).collect();
        assert_eq!(pairs.len(), 2, "{items:?}");
        let storgatan = pairs
            .iter()
            .find(|c| c["label"].as_str().unwrap().contains("Storgatan"))
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let simhallen = pairs
            .iter()
            .find(|c| c["label"].as_str().unwrap().contains("simhallen"))
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let patch = |id: i64, body: Value| {
            app.client
                .patch(app.url(&format!("/api/v1/faq/clusters/{id}")))
                .bearer_auth(&communicator)
                .json(&body)
                .send()
        };
        assert_eq!(
            patch(
                storgatan,
                json!({"answered_url": format!("saved-reply:{reply_id}")})
            )
            .await
            .unwrap()
            .status(),
            200
        );
        // A comment thread whose newest question is in the answered cluster suggests the reply.
        let thread: i64 =
            sqlx::query_scalar("select conversation_id from messages where platform_id = 'm0'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        let detail = app
            .get_json(&communicator, &format!("/api/v1/conversations/{thread}"))
            .await;
        assert_eq!(
            detail["suggested_reply"]["saved_reply"]["id"], reply_id,
            "{detail}"
        );
        // Merging: the simhallen questions now count in the Storgatan cluster (a deliberate, if odd, merge).
        assert_eq!(
            patch(simhallen, json!({"merged_into": simhallen}))
                .await
                .unwrap()
                .status(),
            422
        );
        assert_eq!(
            patch(simhallen, json!({"merged_into": storgatan}))
                .await
                .unwrap()
                .status(),
            200
        );
        let after = app.get_json(&communicator, "/api/v1/faq/clusters").await;
        let merged = after["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == storgatan)
            .unwrap()
            .clone();
        assert_eq!(merged["count"], 4);
        assert!(!after["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == simhallen));
    }
);

on_both_backends!(
    communicators_split_a_cluster_by_moving_questions,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let texts = [
            "Hur länge är Storgatan avstängd?",
            "Hur länge blir Storgatan avstängd?",
            "Hur länge är Storgatan avstängd för cyklar?",
            "När öppnar simhallen igen?",
        ];
        let messages = comments_now("k", &texts, |_| "p".to_string());
        assert_eq!(
            app.post(&admin, "/api/v1/messages", json!({"messages": messages}))
                .await
                .status(),
            200
        );
        // Both clusters, not only the first to fill: the follower may show the three Storgatan
        // questions a moment before it has placed the fourth.
        let items = eventually("the Storgatan and simhallen clusters", || async {
            let v = app
                .get_json(&communicator, "/api/v1/faq/clusters?period=week")
                .await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let has = |n: u64| items.iter().any(|c| c["count"] == n);
            (has(3) && has(1)).then_some(items)
        })
        .await;
        let storgatan = items.iter().find(|c| c["count"] == 3).unwrap()["id"]
            .as_i64()
            .unwrap();
        let simhallen = items.iter().find(|c| c["count"] == 1).unwrap()["id"]
            .as_i64()
            .unwrap();
        let cyklar: i64 = sqlx::query_scalar("select id from messages where platform_id = 'k2'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let r = app
            .post(
                &communicator,
                &format!("/api/v1/faq/clusters/{simhallen}/questions"),
                json!({"messages": [cyklar]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let after = app.get_json(&communicator, "/api/v1/faq/clusters").await;
        let count = |id: i64| {
            after["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id)
                .unwrap()["count"]
                .clone()
        };
        assert_eq!(count(storgatan), 2);
        assert_eq!(count(simhallen), 2);
        let bad = app
            .post(
                &communicator,
                &format!("/api/v1/faq/clusters/{simhallen}/questions"),
                json!({"messages": [999999]}),
            )
            .await;
        assert_eq!(bad.status(), 422);
        let topics = app.get_json(&communicator, "/api/v1/faq/topics").await;
        assert!(!topics["items"].as_array().unwrap().is_empty());
    }
);

on_both_backends!(
    an_agent_sees_the_saved_reply_for_a_dm_without_the_dm_joining_the_cluster,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let agent = app.token("agent", "agent").await;
        let reply = app
        .post(&communicator, "/api/v1/saved-replies", json!({"title": "Storgatan", "language": "sv", "body": "Storgatan är avstängd till mars."}))
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_i64()
        .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let comments = comments_now(
            "c",
            &[
                "Hur länge är Storgatan avstängd?",
                "Hur länge blir Storgatan avstängd?",
            ],
            |_| "p".to_string(),
        );
        assert_eq!(
            app.post(&admin, "/api/v1/messages", json!({"messages": comments}))
                .await
                .status(),
            200
        );
        let items = wait_for_clusters(&app, &communicator, 2).await;
        let cluster = items[0]["id"].as_i64().unwrap();
        let r = app
            .client
            .patch(app.url(&format!("/api/v1/faq/clusters/{cluster}")))
            .bearer_auth(&communicator)
            .json(&json!({"answered_url": format!("saved-reply:{reply}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let dm = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "dm", "id": "dm1",
        "author": {"id": "citizen"}, "text": "Hej! Hur länge är Storgatan avstängd?", "time": now}]});
        assert_eq!(app.post(&admin, "/api/v1/messages", dm).await.status(), 200);
        let conversation = app.conversations(&agent, "queue=dm").await[0]["id"]
            .as_i64()
            .unwrap();
        let detail = app
            .get_json(&agent, &format!("/api/v1/conversations/{conversation}"))
            .await;
        assert_eq!(
            detail["suggested_reply"]["saved_reply"]["id"], reply,
            "{detail}"
        );
        // The DM did not join the public cluster. The clusterer reads the log in order, so once
        // a public question sent after the DM is counted, the DM has been seen (and left out).
        let marker = json!([{"platform": "facebook", "channel": PAGE, "kind": "comment",
            "id": "after-dm", "author": {"id": "someone-else"}, "post_id": "p",
            "text": "Hur länge är Storgatan avstängd nu?", "time": chrono::Utc::now().timestamp_millis()}]);
        assert_eq!(
            app.post(&admin, "/api/v1/messages", json!({"messages": marker}))
                .await
                .status(),
            200
        );
        let items = wait_for_clusters(&app, &communicator, 3).await;
        let storgatan = items
            .iter()
            .find(|c| c["id"] == cluster)
            .expect("the cluster");
        assert_eq!(
            storgatan["count"], 3,
            "two questions and the marker: {items:?}"
        );
    }
);
