//! The contact centre's daily work, told live and safe at once (issue 19, leftovers): every
//! member of a unit who may read a conversation hears of its handover to the unit; category
//! changes are live events for those who may read the conversation, and for no one else; forty
//! category lists or forty handovers at once end in one of them, whole, one event per change.

use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{actor, conversation_of, ingest, TestApp};
use crate::on_both_backends;

const KOMMUNEN: &str = "391000000000001";
const SKOLAN: &str = "391000000000002";

fn dm(channel: &str, id: &str, author: &str) -> Value {
    json!({"platform": "facebook", "channel": channel, "kind": "dm", "id": id,
        "author": {"id": author, "name": "Per Persson"}, "text": "Hej, när kommer beslutet?",
        "time": chrono::Utc::now().timestamp_millis() - 60_000})
}

async fn scalar(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&app.store.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn channel(app: &TestApp, platform_id: &str) -> i64 {
    scalar(
        app,
        "select id from channels where platform_id = $1",
        platform_id,
    )
    .await
}

/// A trained agent limited to `channels` (empty: every channel), in `unit`; their token.
async fn agent(app: &TestApp, name: &str, channels: &[i64], unit: Option<&str>) -> String {
    let staff = app
        .store
        .add_account(
            &tavla::store::staff::NewAccount {
                username: name,
                role: "agent",
                channels,
                ..Default::default()
            },
            &actor(),
        )
        .await
        .unwrap();
    if let Some(unit) = unit {
        app.store
            .change_staff(staff.id, None, None, None, Some(Some(unit)), &actor())
            .await
            .unwrap();
    }
    app.train(staff.id, "all").await;
    let token = tavla::access::new_token();
    app.store
        .add_api_token(staff.id, &token, &actor())
        .await
        .unwrap();
    token
}

async fn stream(app: &TestApp, token: &str) -> reqwest::Response {
    let r = app.get(token, "/api/v1/events").await;
    assert_eq!(r.status(), 200);
    r
}

/// Every event the stream carries up to and including the first that `last` matches, as
/// (kind, data). What came before the marker is all the listener was sent before it: the stream
/// is in log order, so nothing left out can still arrive ahead of it.
async fn events_until(
    response: reqwest::Response,
    last: impl Fn(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("the awaited event arrives in time; saw {seen:?}"))
            .expect("the stream stays open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let kind = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            if let (Some(kind), Some(data)) = (kind, data) {
                let data: Value = serde_json::from_str(data).unwrap();
                let done = last(kind, &data);
                seen.push((kind.to_string(), data));
                if done {
                    return seen;
                }
            }
        }
    }
}

fn about(seen: &[(String, Value)], kind: &str, conversation: i64) -> usize {
    seen.iter()
        .filter(|(k, d)| k == kind && d["conversation_id"] == conversation)
        .count()
}

async fn hand_over(app: &TestApp, token: &str, id: i64, body: Value) -> reqwest::Response {
    app.post(token, &format!("/api/v1/conversations/{id}/handover"), body)
        .await
}

async fn categorise(app: &TestApp, token: &str, id: i64, ids: &[i64]) -> reqwest::Response {
    app.post(
        token,
        &format!("/api/v1/conversations/{id}/categories"),
        json!({"categories": ids}),
    )
    .await
}

async fn add_categories(app: &TestApp, admin: &str, names: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for name in names {
        let r = app
            .post(admin, "/api/v1/categories", json!({"name": name}))
            .await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        ids.push(r.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    ids
}

on_both_backends!(
    every_unit_member_who_may_read_it_is_told_of_a_handover_to_the_unit,
    |app: TestApp| async move {
        app.register_channel("facebook", KOMMUNEN, "Kommunen").await;
        app.register_channel("facebook", SKOLAN, "Skolan").await;
        let skolan = channel(&app, SKOLAN).await;
        let admin = app.token("admin", "admin").await;
        let anna = agent(&app, "anna", &[], None).await;
        let cecilia = agent(&app, "cecilia", &[], Some("Bygglov")).await;
        let cornelia = agent(&app, "cornelia", &[], Some("Bygglov")).await;
        // In the unit, but limited to Skolan: the conversation on Kommunen is not hers to read.
        let david = agent(&app, "david", &[skolan], Some("Bygglov")).await;
        ingest(
            &app,
            &admin,
            vec![dm(KOMMUNEN, "u-1", "p1"), dm(SKOLAN, "u-2", "p2")],
        )
        .await;
        let (kommunen_case, skolan_case) = (
            conversation_of(&app, "u-1").await,
            conversation_of(&app, "u-2").await,
        );
        let me = app.get_json(&cecilia, "/api/v1/me").await;
        assert_eq!(me["unit"], "Bygglov", "the console knows her unit");

        let listening = [
            stream(&app, &cecilia).await,
            stream(&app, &cornelia).await,
            stream(&app, &david).await,
        ];
        let r = hand_over(&app, &anna, kommunen_case, json!({"unit": "Bygglov"})).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        // Then a handover David may see, the marker that ends each listener's reading.
        let r = hand_over(&app, &anna, skolan_case, json!({"unit": "Skola"})).await;
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let [c, co, d] = listening;
        let marker = |kind: &str, data: &Value| {
            kind == "conversation.handed_over" && data["conversation_id"] == skolan_case
        };
        for (who, response) in [("cecilia", c), ("cornelia", co)] {
            let seen = events_until(response, marker).await;
            let told: Vec<&Value> = seen
                .iter()
                .filter(|(k, d)| {
                    k == "conversation.handed_over" && d["conversation_id"] == kommunen_case
                })
                .map(|(_, d)| d)
                .collect();
            assert_eq!(told.len(), 1, "{who} is told once: {seen:?}");
            assert_eq!(told[0]["payload"]["unit"], "Bygglov", "{who}: for her unit");
            assert_eq!(told[0]["payload"]["to_staff"], Value::Null);
        }
        let seen = events_until(d, marker).await;
        assert_eq!(
            about(&seen, "conversation.handed_over", kommunen_case),
            0,
            "a unit member who may not read the conversation is not told: {seen:?}"
        );
    }
);

on_both_backends!(
    a_category_change_is_told_live_only_to_those_who_may_read_the_conversation,
    |app: TestApp| async move {
        app.register_channel("facebook", KOMMUNEN, "Kommunen").await;
        app.register_channel("facebook", SKOLAN, "Skolan").await;
        let skolan = channel(&app, SKOLAN).await;
        let admin = app.token("admin", "admin").await;
        let anna = agent(&app, "anna", &[], None).await;
        let lisa = agent(&app, "lisa", &[skolan], None).await;
        let communicator = app.token("kom", "communicator").await;
        let ids = add_categories(&app, &admin, &["avfall", "bygglov"]).await;
        ingest(
            &app,
            &admin,
            vec![dm(KOMMUNEN, "k-1", "p1"), dm(SKOLAN, "k-2", "p2")],
        )
        .await;
        let (kommunen_case, skolan_case) = (
            conversation_of(&app, "k-1").await,
            conversation_of(&app, "k-2").await,
        );
        let (by_anna, by_lisa, by_communicator) = (
            stream(&app, &anna).await,
            stream(&app, &lisa).await,
            stream(&app, &communicator).await,
        );
        let r = categorise(&app, &anna, kommunen_case, &[ids[1], ids[0]]).await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        // The same list again changes nothing, and is not told again.
        let r = categorise(&app, &anna, kommunen_case, &[ids[0], ids[1]]).await;
        assert_eq!(r.status(), 200);
        let r = categorise(&app, &anna, kommunen_case, &[ids[1]]).await;
        assert_eq!(r.status(), 200);
        // The marker: a change on Skolan, which Lisa may read.
        let r = categorise(&app, &lisa, skolan_case, &[ids[0]]).await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let marker = |kind: &str, data: &Value| {
            kind == "conversation.categorised" && data["conversation_id"] == skolan_case
        };

        let seen = events_until(by_anna, marker).await;
        let told: Vec<&Value> = seen
            .iter()
            .filter(|(k, d)| {
                k == "conversation.categorised" && d["conversation_id"] == kommunen_case
            })
            .map(|(_, d)| &d["payload"])
            .collect();
        assert_eq!(
            told,
            [
                &json!({"categories": [ids[0], ids[1]], "removed": []}),
                &json!({"categories": [ids[1]], "removed": [ids[0]]}),
            ],
            "one event per change, ids only"
        );
        let seen = events_until(by_lisa, marker).await;
        assert_eq!(
            about(&seen, "conversation.categorised", kommunen_case),
            0,
            "a reader limited to another channel is not told: {seen:?}"
        );
        // A communicator reads comments, not DMs: told of neither (the DM channel's marker
        // is not theirs either, so a comment-side change ends their reading).
        let r = app
            .post(
                &admin,
                "/api/v1/messages",
                json!({"messages": [{"platform": "facebook", "channel": KOMMUNEN,
                    "kind": "comment", "id": "k-3", "author": {"id": "p3"}, "text": "Fråga",
                    "time": chrono::Utc::now().timestamp_millis(), "post_id": format!("{KOMMUNEN}_1")}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let comment_case = conversation_of(&app, "k-3").await;
        let r = categorise(&app, &communicator, comment_case, &[ids[1]]).await;
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
        let seen = events_until(by_communicator, |kind, data| {
            kind == "conversation.categorised" && data["conversation_id"] == comment_case
        })
        .await;
        assert_eq!(about(&seen, "conversation.categorised", kommunen_case), 0);
        assert_eq!(about(&seen, "conversation.categorised", skolan_case), 0);
    }
);

on_both_backends!(
    forty_category_lists_at_once_end_in_one_of_them_whole,
    |app: TestApp| async move {
        app.register_channel("facebook", KOMMUNEN, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let anna = agent(&app, "anna", &[], None).await;
        let ids = add_categories(
            &app,
            &admin,
            &["avfall", "bygglov", "skola", "trafik", "vatten", "parker"],
        )
        .await;
        ingest(&app, &admin, vec![dm(KOMMUNEN, "f-1", "p1")]).await;
        let id = conversation_of(&app, "f-1").await;
        // Forty different non-empty lists of the six (so each one changes what the last left).
        let lists: Vec<Vec<i64>> = (1..=40u32)
            .map(|bits| {
                ids.iter()
                    .enumerate()
                    .filter(|(n, _)| bits & (1 << n) != 0)
                    .map(|(_, c)| *c)
                    .collect()
            })
            .collect();
        let sent = lists.iter().map(|list| {
            let (app, anna) = (&app, &anna);
            async move { categorise(app, anna, id, list).await.status().as_u16() }
        });
        let statuses = futures::future::join_all(sent).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let view = app
            .get_json(&anna, &format!("/api/v1/conversations/{id}"))
            .await;
        let mut now: Vec<i64> = view["categories"]
            .as_array()
            .unwrap_or_else(|| panic!("categories in {view}"))
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        now.sort_unstable();
        assert!(
            lists.contains(&now),
            "{now:?} is one of the lists sent, whole"
        );
        let events: i64 = sqlx::query_scalar(
            "select count(*) from events where kind = 'conversation.categorised' and conversation_id = $1",
        )
        .bind(id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(events, 40, "one event per change");
    }
);

on_both_backends!(
    forty_handovers_at_once_end_with_one_holder_and_one_event_each,
    |app: TestApp| async move {
        app.register_channel("facebook", KOMMUNEN, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let anna = agent(&app, "anna", &[], None).await;
        let mut colleagues = Vec::new();
        for n in 0..40 {
            let name = format!("kollega-{n:02}");
            colleagues.push((name.clone(), agent(&app, &name, &[], None).await));
        }
        ingest(&app, &admin, vec![dm(KOMMUNEN, "h-1", "p1")]).await;
        let id = conversation_of(&app, "h-1").await;
        let sent = colleagues.iter().map(|(name, _)| {
            let (app, anna) = (&app, &anna);
            async move {
                hand_over(app, anna, id, json!({"to": name}))
                    .await
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures::future::join_all(sent).await;
        let handed = statuses.iter().filter(|s| **s == 201).count() as i64;
        assert_eq!(handed, 40, "{statuses:?}");

        let mut holders = Vec::new();
        for (name, token) in &colleagues {
            let mine = app.get_json(token, "/api/v1/conversations?handed=me").await;
            if mine["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == id)
            {
                holders.push(name.clone());
            }
        }
        assert_eq!(holders.len(), 1, "one holder: {holders:?}");
        let view = app
            .get_json(&anna, &format!("/api/v1/conversations/{id}"))
            .await;
        assert_eq!(
            view["handovers"].as_array().unwrap().len() as i64,
            handed,
            "every handover recorded"
        );
        let events: i64 = sqlx::query_scalar(
            "select count(*) from events where kind = 'conversation.handed_over' and conversation_id = $1",
        )
        .bind(id)
        .fetch_one(&app.store.pool)
        .await
        .unwrap();
        assert_eq!(events, handed, "one event per successful handover");
    }
);
