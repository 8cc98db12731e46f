//! The contact centre's daily work (issue 19): handover to a colleague or a unit with the
//! "handed to me / my unit" queue and the live notice, the service level in the queue, and
//! the staff's units set by administrators.

use chrono::Datelike;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{conversation_of, ingest, TestApp};
use crate::{on_both_backends, on_both_backends_with};

const PAGE: &str = "350000000000001";

fn dm(id: &str, author: &str, text: &str, minutes_ago: i64) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({"platform": "facebook", "channel": PAGE, "kind": "dm", "id": id,
        "author": {"id": author, "name": "Per Persson"}, "text": text,
        "time": now - minutes_ago * 60_000})
}

async fn staff_id(app: &TestApp, username: &str) -> i64 {
    sqlx::query_scalar("select id from staff where username = $1")
        .bind(username)
        .fetch_one(&app.store.pool)
        .await
        .expect("staff member")
}

async fn patch(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn hand_over(app: &TestApp, token: &str, id: i64, body: Value) -> reqwest::Response {
    app.post(token, &format!("/api/v1/conversations/{id}/handover"), body)
        .await
}

/// Reads the stream's events until one matches, and returns that one's data.
async fn event_where(response: reqwest::Response, wanted: impl Fn(&str, &Value) -> bool) -> Value {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("the awaited event arrives in time")
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let kind = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(kind), Some(data)) = (kind, data) {
                let data: Value = serde_json::from_str(data).unwrap();
                if wanted(kind, &data) {
                    return data;
                }
            }
        }
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

on_both_backends!(
    a_conversation_handed_to_a_colleague_then_to_a_unit_reaches_each_receiver,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let anna = app.token("anna", "agent").await;
        let bo = app.token("bo", "agent").await;
        let cecilia = app.token("cecilia", "agent").await;
        let bo_id = staff_id(&app, "bo").await;
        let cecilia_id = staff_id(&app, "cecilia").await;
        ingest(
            &app,
            &admin,
            vec![dm("w-1", "p1", "Hej, när kommer beslutet om bygglov?", 30)],
        )
        .await;
        let id = conversation_of(&app, "w-1").await;
        let before = app
            .get_json(&anna, &format!("/api/v1/conversations/{id}"))
            .await;
        let waiting_since = before["oldest_unanswered_at"].as_i64().unwrap();
        let names: Vec<&str> = before["handover_colleagues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["username"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["bo", "cecilia"],
            "agents who may take it, not anna herself"
        );

        // An administrator puts Cecilia in Bygglov; an unknown field or bad unit is refused.
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{cecilia_id}"),
            json!({"unit": " Bygglov "}),
        )
        .await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let account: Value = r.json().await.unwrap();
        assert_eq!(account["account"]["unit"], "Bygglov");
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/staff/{cecilia_id}"),
            json!({"unit": "x".repeat(101)}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let r = patch(
            &app,
            &anna,
            &format!("/api/v1/staff/{cecilia_id}"),
            json!({"unit": "Skola"}),
        )
        .await;
        assert_eq!(r.status(), 403, "only administrators set units");

        // Bo listens; Anna hands the conversation to him with a note.
        let stream = app.get(&bo, "/api/v1/events").await;
        assert_eq!(stream.status(), 200);
        let r = hand_over(
            &app,
            &anna,
            id,
            json!({"to": "bo", "note": "Du har ärendet sedan i går"}),
        )
        .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let told = event_where(stream, |kind, _| kind == "conversation.handed_over").await;
        assert_eq!(told["conversation_id"], id);
        assert_eq!(
            told["payload"]["to_staff"], bo_id,
            "the console knows it is for Bo"
        );

        let mine = app
            .get_json(&bo, "/api/v1/conversations?queue=dm&handed=me")
            .await;
        assert_eq!(ids(&mine), [id]);
        assert_eq!(mine["items"][0]["handed"]["to_staff"], "bo");
        assert_eq!(
            mine["items"][0]["oldest_unanswered_at"], waiting_since,
            "the person's waiting time keeps counting"
        );
        let none = app.get_json(&anna, "/api/v1/conversations?handed=me").await;
        assert!(ids(&none).is_empty(), "handed to Bo, not to Anna");
        let view = app
            .get_json(&bo, &format!("/api/v1/conversations/{id}"))
            .await;
        assert_eq!(view["handovers"][0]["to_staff"], "bo");
        assert_eq!(view["handovers"][0]["note"], "Du har ärendet sedan i går");

        // Bo passes it on to Bygglov: it leaves his list and reaches Cecilia's unit's.
        let r = hand_over(&app, &bo, id, json!({"unit": "Bygglov"})).await;
        assert_eq!(r.status(), 201);
        assert!(ids(&app.get_json(&bo, "/api/v1/conversations?handed=me").await).is_empty());
        let unit = app
            .get_json(&cecilia, "/api/v1/conversations?handed=unit")
            .await;
        assert_eq!(ids(&unit), [id]);
        assert_eq!(unit["items"][0]["handed"]["unit"], "Bygglov");
        // Without a unit, "my unit" is a question for an administrator.
        let r = app.get(&anna, "/api/v1/conversations?handed=unit").await;
        assert_eq!(r.status(), 422);
        let r = app
            .get(&anna, "/api/v1/conversations?handed=everyone")
            .await;
        assert_eq!(r.status(), 400);

        // Nobody takes over what they may not answer, and one names either a unit or a person.
        let _communicator = app.token("comm", "communicator").await;
        let (_, _untrained) = app.untrained_token("nyanställd", "agent").await;
        for (body, why) in [
            (json!({"to": "comm"}), "a communicator does not read DMs"),
            (json!({"to": "nyanställd"}), "untrained"),
            (json!({"to": "ingen-alls"}), "no such colleague"),
            (json!({"to": "anna"}), "oneself"),
            (json!({"to": "bo", "unit": "Bygglov"}), "both"),
            (json!({}), "neither"),
        ] {
            let r = hand_over(&app, &anna, id, body).await;
            assert_eq!(r.status(), 422, "{why}");
        }
        assert_eq!(app.count("handovers").await, 2);
        let audit = app
            .get_json(
                &admin,
                "/api/v1/audit?action=conversation.handed_over&limit=10",
            )
            .await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 2);

        // The month's report counts them per unit (Bo has none), beside the month before: the
        // handover to Bo is moved back a month to be counted there.
        let month = |t: chrono::DateTime<chrono::Utc>| {
            tavla::reports::period::local_time(t.timestamp_millis())
                .format("%Y-%m")
                .to_string()
        };
        let now = chrono::Utc::now();
        let report = app
            .get_json(&admin, &format!("/api/v1/reports?period={}", month(now)))
            .await;
        let counted = |report: &Value| -> Vec<(Value, Value, Value)> {
            report["handovers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["name"].clone(),
                        r["count"]["value"].clone(),
                        r["count"]["previous"].clone(),
                    )
                })
                .collect()
        };
        let mut rows = counted(&report);
        rows.sort_by_key(|r| r.0.to_string());
        assert_eq!(
            rows,
            [
                (json!("Bygglov"), json!(1), json!(0)),
                (Value::Null, json!(1), json!(0))
            ]
        );
        // Into the middle of the month before, whatever today's date.
        let back = chrono::Duration::days(now.day0() as i64 + 16);
        sqlx::query("update handovers set handed_at = handed_at - $1 where to_staff is not null")
            .bind(back.num_milliseconds())
            .execute(&app.store.pool)
            .await
            .unwrap();
        let report = app
            .get_json(&admin, &format!("/api/v1/reports?period={}", month(now)))
            .await;
        let mut rows = counted(&report);
        rows.sort_by_key(|r| r.0.to_string());
        assert_eq!(
            rows,
            [
                (json!("Bygglov"), json!(1), json!(0)),
                (Value::Null, json!(0), json!(1))
            ]
        );
        let page = app
            .get(
                &admin,
                &format!("/api/v1/reports?period={}&format=html", month(now)),
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Överlämningar per enhet"), "{page}");
        let _ = cecilia_id;
    }
);

on_both_backends_with!(
    the_queue_marks_counts_and_sorts_by_the_service_level,
    |s: &mut tavla::settings::Settings| s.service_level_hours = 1,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        ingest(
            &app,
            &admin,
            vec![
                dm("s-late", "p1", "Hej, jag väntar fortfarande", 120),
                dm("s-close", "p2", "Hej, en fråga om skolskjuts", 50),
                dm("s-new", "p3", "Hej, när töms soporna?", 5),
            ],
        )
        .await;
        let late = conversation_of(&app, "s-late").await;
        let close = conversation_of(&app, "s-close").await;
        let new = conversation_of(&app, "s-new").await;

        let queue = app.get_json(&agent, "/api/v1/conversations?queue=dm").await;
        assert_eq!(ids(&queue), [late, close, new], "oldest unanswered first");
        assert_eq!(queue["service_level"]["dm_hours"], 1);
        assert_eq!(queue["service_level"]["past"], 1);
        let past: Vec<bool> = queue["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["past_service_level"].as_bool().unwrap())
            .collect();
        assert_eq!(past, [true, false, false]);

        let by_breach = app
            .get_json(&agent, "/api/v1/conversations?queue=dm&sort=breach")
            .await;
        assert_eq!(
            ids(&by_breach),
            [close, new, late],
            "the closest to breaching first, those already past after"
        );
        let r = app.get(&agent, "/api/v1/conversations?sort=newest").await;
        assert_eq!(r.status(), 400);

        // Answered, it is no longer counted: the count follows the queue.
        let r = app
            .post(
                &agent,
                &format!("/api/v1/conversations/{late}/status"),
                json!({"status": "waiting"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let queue = app.get_json(&agent, "/api/v1/conversations?queue=dm").await;
        assert_eq!(queue["service_level"]["past"], 0);
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{close}"))
            .await;
        assert_eq!(view["past_service_level"], false);
        assert!(view["service_level_due_at"].as_i64().is_some());
    }
);

fn comment(id: &str, author: &str, text: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": id,
        "post_id": format!("post-{id}"),
        "author": {"id": author, "name": "Per Persson"}, "text": text, "time": now - 60_000})
}

on_both_backends!(
    categories_are_kept_by_administrators_given_by_staff_and_counted_in_reports,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let agent = app.token("agent", "agent").await;
        let communicator = app.token("comm", "communicator").await;
        ingest(
            &app,
            &admin,
            vec![
                dm("c-1", "p1", "När töms soporna i Tallbacken?", 30),
                comment("c-2", "p2", "När töms soporna på Ekvägen?"),
            ],
        )
        .await;
        let (dm_id, thread) = (
            conversation_of(&app, "c-1").await,
            conversation_of(&app, "c-2").await,
        );

        // Administrators keep the list; nobody else adds to it.
        let mut ids = Vec::new();
        for name in ["avfall", "bygglov", "skola"] {
            let r = app
                .post(&admin, "/api/v1/categories", json!({"name": name}))
                .await;
            assert_eq!(r.status(), 201, "{:?}", r.text().await);
            ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
        }
        let (avfall, bygglov, skola) = (ids[0], ids[1], ids[2]);
        let r = app
            .post(&admin, "/api/v1/categories", json!({"name": " avfall "}))
            .await;
        assert_eq!(r.status(), 409, "the same name twice");
        let r = app
            .post(&admin, "/api/v1/categories", json!({"name": "a\nb"}))
            .await;
        assert_eq!(r.status(), 422);
        let r = app
            .post(&agent, "/api/v1/categories", json!({"name": "trafik"}))
            .await;
        assert_eq!(r.status(), 403);
        let r = patch(
            &app,
            &admin,
            &format!("/api/v1/categories/{skola}"),
            json!({"archived": true}),
        )
        .await;
        assert_eq!(r.status(), 200);
        let list = app.get_json(&agent, "/api/v1/categories").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 3);

        // The agent tags the DM, the communicator the comment thread; not each other's.
        let tag = |token: &str, id: i64, categories: Vec<i64>| {
            let (app, token) = (&app, token.to_string());
            async move {
                app.post(
                    &token,
                    &format!("/api/v1/conversations/{id}/categories"),
                    json!({"categories": categories}),
                )
                .await
            }
        };
        let r = tag(&agent, dm_id, vec![avfall, bygglov]).await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let r = tag(&agent, dm_id, vec![avfall]).await;
        let given: Value = r.json().await.unwrap();
        assert_eq!(given["categories"][0]["name"], "avfall");
        assert_eq!(
            given["categories"].as_array().unwrap().len(),
            1,
            "bygglov taken away"
        );
        assert_eq!(tag(&communicator, dm_id, vec![avfall]).await.status(), 403);
        assert_eq!(tag(&agent, thread, vec![avfall]).await.status(), 403);
        assert_eq!(
            tag(&communicator, thread, vec![skola]).await.status(),
            422,
            "archived"
        );
        assert_eq!(
            tag(&communicator, thread, vec![9999]).await.status(),
            404,
            "unknown"
        );
        assert_eq!(tag(&communicator, thread, vec![avfall]).await.status(), 200);
        let view = app
            .get_json(&agent, &format!("/api/v1/conversations/{dm_id}"))
            .await;
        assert_eq!(view["categories"][0]["name"], "avfall");
        let audit = app
            .get_json(
                &admin,
                "/api/v1/audit?action=conversation.categorised&limit=10",
            )
            .await;
        assert_eq!(audit["items"].as_array().unwrap().len(), 3);

        // The month's report counts conversations per category, beside the month before.
        let month = tavla::reports::period::local_time(chrono::Utc::now().timestamp_millis())
            .format("%Y-%m")
            .to_string();
        let report = app
            .get_json(&admin, &format!("/api/v1/reports?period={month}"))
            .await;
        assert_eq!(report["categories"][0]["name"], "avfall");
        assert_eq!(report["categories"][0]["count"]["value"], 2);
        assert_eq!(report["categories"][0]["count"]["previous"], 0);
        let csv = app
            .get(
                &admin,
                &format!("/api/v1/reports?period={month}&format=csv"),
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(csv.contains("categories,,,category avfall,2,0"), "{csv}");
    }
);

on_both_backends!(
    categories_are_suggested_from_the_faq_cluster_of_the_question,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let communicator = app.token("comm", "communicator").await;
        let questions = [
            "När töms soporna på Ekvägen?",
            "När töms soporna i Tallbacken?",
            "När töms soporna vid skolan?",
            "När töms soporna i centrum?",
            "När töms soporna på landet?",
        ];
        let comments: Vec<Value> = questions
            .iter()
            .enumerate()
            .map(|(i, q)| comment(&format!("f-{i}"), &format!("p{i}"), q))
            .collect();
        ingest(&app, &admin, comments).await;
        let avfall = app
            .post(&admin, "/api/v1/categories", json!({"name": "avfall"}))
            .await
            .json::<Value>()
            .await
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let first = conversation_of(&app, "f-0").await;
        let second = conversation_of(&app, "f-1").await;
        // Once the FAQ has clustered the questions, a tag on one is suggested for the other.
        crate::helpers::eventually("the questions to share a FAQ cluster", || async {
            let r = app
                .post(
                    &communicator,
                    &format!("/api/v1/conversations/{first}/categories"),
                    json!({"categories": [avfall]}),
                )
                .await;
            assert_eq!(r.status(), 200);
            let view = app
                .get_json(&communicator, &format!("/api/v1/conversations/{second}"))
                .await;
            (view["category_suggestions"][0]["name"] == "avfall").then_some(())
        })
        .await;
        let view = app
            .get_json(&communicator, &format!("/api/v1/conversations/{first}"))
            .await;
        assert_eq!(
            view["category_suggestions"],
            json!([]),
            "what a conversation has is not suggested again"
        );
    }
);

on_both_backends!(
    the_demo_fills_the_reports_default_period_and_shows_posts_by_their_words,
    |app: TestApp| async move {
        tavla::demo::fill(&app.store, &app.settings).await.unwrap();
        let admin = app.token("admin", "admin").await;
        let moderator = app.token("moderator", "moderator").await;
        // The console opens the reports on the last whole month.
        let now = chrono::Utc::now().timestamp_millis();
        let local = tavla::reports::period::local_time(now);
        let last = tavla::reports::period::ReportPeriod::month(local.year(), local.month())
            .previous()
            .label();
        let report = app
            .get_json(&admin, &format!("/api/v1/reports?period={last}"))
            .await;
        let dm = report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "dm")
            .unwrap_or_else(|| panic!("DM totals: {report}"));
        assert!(
            dm["figures"]["inbound"]["value"].as_i64().unwrap() > 0,
            "{dm}"
        );
        assert!(
            dm["figures"]["inbound"]["previous"].as_i64().unwrap() > 0,
            "{dm}"
        );
        assert!(
            dm["figures"]["first_response_median_seconds"]["value"].is_number(),
            "{dm}"
        );
        // Today's queue is not crowded by last month's: those were answered.
        let agent = app.token("agent", "agent").await;
        let queue = app
            .get_json(&agent, "/api/v1/conversations?queue=dm&status=open&limit=1")
            .await;
        let oldest = queue["items"][0]["oldest_unanswered_at"].as_i64().unwrap();
        assert!(now - oldest < 3 * 24 * 3_600_000, "{queue}");
        let heated = app.get_json(&moderator, "/api/v1/moderation/heated").await;
        let items = heated["items"].as_array().cloned().unwrap_or_default();
        assert!(!items.is_empty(), "the demo has a heated thread: {heated}");
        for t in items {
            assert!(
                t["post_text"].as_str().is_some_and(|s| !s.is_empty()),
                "{t}"
            );
        }
    }
);
