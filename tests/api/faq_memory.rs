//! FAQ memory bounded by a window of questions: an instance that keeps only the newest questions in memory (here
//! eight) shows the same figures as one that holds every question, for every period and reader,
//! through a communicator's move and merge, an answer, an erasure and a restart.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{eventually, limited_token, TestApp};
use crate::on_both_backends_with;

const PAGE: &str = "930000000000001";
const LIBRARY: &str = "930000000000002";
const DAY: i64 = 86_400_000;
const QUESTIONS: usize = 40;

/// Forty questions over sixty days, sent oldest first (so message ids grow with time): four
/// recurring ones, nine people, three posts, every fourth on the library's page.
fn questions(now: i64) -> Vec<Value> {
    let texts = [
        "När öppnar simhallen igen efter renoveringen?",
        "Hur länge är Storgatan avstängd för biltrafik?",
        "Var hämtar jag ut mitt bygglov för altanen?",
        "Varför töms inte soptunnorna på Åbyvägen?",
    ];
    (0..QUESTIONS)
        .rev()
        .map(|i| {
            json!({"platform": "facebook", "channel": if i % 4 == 0 { LIBRARY } else { PAGE },
                "kind": "comment", "id": format!("q{i}"), "author": {"id": format!("p{}", i % 9)},
                "text": texts[i % 4], "time": now - (i as i64) * DAY * 3 / 2,
                "post_id": format!("post{}", i % 3)})
        })
        .collect()
}

/// Waits until every question is placed and at most nine are held (kept eight, and an eighth
/// more before forgetting): the rest forgotten.
async fn all_but_the_newest_forgotten(app: &TestApp) {
    eventually("the oldest questions forgotten", || async {
        let m = app.metrics().await;
        (gauge(&m, "held") + gauge(&m, "forgotten") == QUESTIONS as u64 && gauge(&m, "held") <= 9)
            .then_some(())
    })
    .await;
}

/// The figures of every cluster a reader sees for a period, by cluster id. Names, labels,
/// examples, terms and topics are left out: each instance draws them from its own clustering.
async fn figures(app: &TestApp, token: &str, period: &str) -> BTreeMap<u64, Value> {
    let v = app
        .get_json(token, &format!("/api/v1/faq/clusters?period={period}"))
        .await;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|c| {
            let keep = [
                "count",
                "previous",
                "people",
                "change",
                "z",
                "significant",
                "new_and_fast",
                "channels",
                "posts",
                "total_members",
                "growing_after_answer",
                "answered_url",
            ];
            let figures: serde_json::Map<String, Value> = keep
                .iter()
                .map(|k| (k.to_string(), c[*k].clone()))
                .collect();
            (c["id"].as_u64().unwrap(), Value::Object(figures))
        })
        .collect()
}

fn gauge(metrics: &str, state: &str) -> u64 {
    let line = format!("tavla_faq_questions{{state=\"{state}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Every period, for a reader of every channel and one limited to the library's page: the
/// instance that forgets answers as the one holding everything does.
async fn same_figures(forgetting: &TestApp, holding: &TestApp, readers: &[(&str, &str)]) {
    for (who, token) in readers {
        for period in ["day", "week", "month", "quarter"] {
            // Both follow the same log, each at its own pace: asked again until they agree.
            let tries = std::cell::Cell::new(0);
            let got = eventually(&format!("{who}'s {period} figures"), || {
                tries.set(tries.get() + 1);
                let tell = tries.get() % 100 == 0;
                async move {
                    let got = figures(forgetting, token, period).await;
                    let expected = figures(holding, token, period).await;
                    if got == expected {
                        return Some(got);
                    }
                    if tell {
                        eprintln!("{who} {period}: {got:?}\n  against {expected:?}");
                    }
                    None
                }
            })
            .await;
            assert!(
                period == "day" || !got.is_empty(),
                "{who} {period}: {got:?}"
            );
        }
    }
}

on_both_backends_with!(
    figures_are_the_same_whether_questions_are_held_or_forgotten,
    |s| s.faq_kept_questions = 8,
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", LIBRARY, "Biblioteket")
            .await;
        let library: i64 = sqlx::query_scalar("select id from channels where platform_id = $1")
            .bind(LIBRARY)
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let limited = limited_token(&app, "comm-lib", "communicator", library).await;
        let auditor = app.token("dpo", "auditor").await;
        let readers = [
            ("a communicator", communicator.as_str()),
            ("a communicator of the library", limited.as_str()),
        ];
        let now = chrono::Utc::now().timestamp_millis();
        let sent = app
            .post(
                &admin,
                "/api/v1/messages",
                json!({"messages": questions(now)}),
            )
            .await;
        assert_eq!(sent.status(), 200);
        all_but_the_newest_forgotten(&app).await;
        let holding = app
            .second_instance_with(|s| s.faq_kept_questions = 1_000_000)
            .await;
        eventually("every question held by the second instance", || async {
            let m = holding.metrics().await;
            (gauge(&m, "held") == QUESTIONS as u64).then_some(())
        })
        .await;
        same_figures(&app, &holding, &readers).await;

        // A forgotten question moved, a cluster merged into another, one answered.
        let id_of = |platform_id: &str| {
            let pool = app.store.pool.clone();
            let platform_id = platform_id.to_string();
            async move {
                sqlx::query_scalar::<_, i64>("select id from messages where platform_id = $1")
                    .bind(platform_id)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        let cluster_of = |text: &'static str| {
            let holding = &holding;
            let communicator = communicator.clone();
            async move {
                let v = holding
                    .get_json(&communicator, "/api/v1/faq/clusters?period=quarter")
                    .await;
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["label"].as_str().unwrap_or("").contains(text))
                    .and_then(|c| c["id"].as_u64())
                    .unwrap_or_else(|| panic!("a cluster about {text}: {v}"))
            }
        };
        let (pool_hall, street, permit) = (
            cluster_of("simhallen").await,
            cluster_of("Storgatan").await,
            cluster_of("bygglov").await,
        );
        let oldest = id_of("q39").await;
        let moved = app
            .post(
                &communicator,
                &format!("/api/v1/faq/clusters/{street}/questions"),
                json!({"messages": [oldest]}),
            )
            .await;
        assert_eq!(moved.status(), 200, "{}", moved.text().await.unwrap());
        for (cluster, body) in [
            (permit, json!({"merged_into": pool_hall})),
            (
                street,
                json!({"answered_url": "https://kommunen.se/storgatan"}),
            ),
        ] {
            let curated = app
                .client
                .patch(app.url(&format!("/api/v1/faq/clusters/{cluster}")))
                .bearer_auth(&communicator)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(curated.status(), 200, "{}", curated.text().await.unwrap());
        }
        same_figures(&app, &holding, &readers).await;
        let street_now = figures(&app, &communicator, "quarter").await;
        assert_eq!(
            street_now[&street]["total_members"],
            json!(QUESTIONS / 4 + 1),
            "{street_now:?}"
        );
        assert!(!street_now.contains_key(&permit), "{street_now:?}");

        // One person's questions erased: old and forgotten ones among them.
        let erased = app
            .post(
                &auditor,
                "/api/v1/privacy/authors/p3/erase",
                json!({"dry_run": false}),
            )
            .await;
        assert_eq!(erased.status(), 200, "{}", erased.text().await.unwrap());
        same_figures(&app, &holding, &readers).await;

        // Two forgotten comments removed on Facebook: they leave their clusters.
        for (page, comment) in [(LIBRARY, "q16"), (PAGE, "q17")] {
            let removal = json!({"object": "page", "entry": [{"id": page, "time": now, "changes": [{
                "field": "feed", "value": {"item": "comment", "verb": "remove", "comment_id": comment,
                "post_id": format!("{page}_1"), "parent_id": format!("{page}_1"),
                "created_time": now / 1000, "from": {"id": "p7"}}}]}]});
            let sent = app.webhook(&serde_json::to_vec(&removal).unwrap()).await;
            assert_eq!(sent.status(), 200);
        }
        eventually("the removed comments out of every cluster", || async {
            let quarter = figures(&holding, &communicator, "quarter").await;
            let total: u64 = quarter
                .values()
                .map(|f| f["total_members"].as_u64().unwrap())
                .sum();
            (total < QUESTIONS as u64 - 2).then_some(())
        })
        .await;
        same_figures(&app, &holding, &readers).await;

        let q4 = id_of("q4").await;
        // After a restart the forgetting instance rebuilds from the store and agrees again.
        app.restart().await;
        same_figures(&app, &holding, &readers).await;
        let m = app.metrics().await;
        assert!(gauge(&m, "held") <= 9 && gauge(&m, "forgotten") > 20, "{m}");
        let placed = app.count("faq_members").await as u64;
        assert_eq!(gauge(&m, "held") + gauge(&m, "forgotten"), placed, "{m}");

        // Restarted with some of the newest questions unplaced (as after a restore): they are
        // placed in the background, the forgotten ones left forgotten, nothing counted twice.
        app.stop().await;
        sqlx::query("delete from faq_members where message_id > $1")
            .bind(q4)
            .execute(&app.store.pool)
            .await
            .unwrap();
        app.start().await;
        eventually("the unplaced questions placed again", || async {
            let m = app.metrics().await;
            (app.count("faq_members").await as u64 == placed
                && gauge(&m, "held") + gauge(&m, "forgotten") == placed)
                .then_some(())
        })
        .await;
        same_figures(&app, &holding, &readers).await;

        // Searching by cluster finds its forgotten questions too (the merged cluster's as well).
        let path = format!("/api/v1/search?faq_cluster={pool_hall}&limit=100");
        eventually("the same questions found by cluster on both", || async {
            let (got, expected) = (
                app.get_json(&communicator, &path).await["total"].clone(),
                holding.get_json(&communicator, &path).await["total"].clone(),
            );
            (got == expected && got.as_u64() > Some(9)).then_some(())
        })
        .await;
    }
);

on_both_backends_with!(
    placements_an_older_release_stored_are_filled_in_and_counted,
    |s| s.faq_kept_questions = 8,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        app.register_channel("facebook", LIBRARY, "Biblioteket")
            .await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let now = chrono::Utc::now().timestamp_millis();
        crate::helpers::ingest(&app, &admin, questions(now)).await;
        all_but_the_newest_forgotten(&app).await;
        // A quarter reaches back past the questions held: counted in the store.
        let before = figures(&app, &communicator, "quarter").await;
        assert!(!before.is_empty());
        // What an instance of a release before 0041 stores during a rolling upgrade: placements
        // without their question's time, channel, author and post.
        sqlx::query(
            "update faq_members set asked_at = null, channel_id = null, author_id = null, \
             post_id = null",
        )
        .execute(&app.store.pool)
        .await
        .unwrap();
        eventually("the older placements filled in", || async {
            let n: i64 = sqlx::query_scalar(
                "select count(*) from faq_members f \
                 join messages m on m.id = f.message_id \
                 join conversations c on c.id = m.conversation_id \
                 where f.asked_at = m.platform_time and f.channel_id = m.channel_id \
                 and f.author_id = m.author_id and f.post_id = c.post_id",
            )
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
            (n == QUESTIONS as i64).then_some(())
        })
        .await;
        // And they count as before, all-time figures included (counted again once filled).
        eventually("the quarter's figures as before", || async {
            let after = figures(&app, &communicator, "quarter").await;
            (after == before).then_some(())
        })
        .await;
    }
);
