//! Several instances on one store agree: FAQ cluster ids and their curation are the same on every
//! instance and after restarts, background work (retention) runs once, and live updates reach a
//! listener of any instance, whichever instance took the write.

use serde_json::{json, Value};

use crate::delivery::eventually;
use crate::helpers::{Backend, TestApp};

const PAGE: &str = "930000000000001";

/// Public questions `{prefix}{i}` by person `{prefix}p{i}`, `age_ms` old.
fn questions(prefix: &str, texts: &[&str], age_ms: i64) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let messages: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({"platform": "facebook", "channel": PAGE, "kind": "comment",
                "id": format!("{prefix}{i}"), "author": {"id": format!("{prefix}p{i}")},
                "text": text, "time": now - age_ms - i as i64 * 1000, "post_id": prefix})
        })
        .collect();
    json!({ "messages": messages })
}

/// The week's clusters as a communicator sees them on `app`.
async fn clusters(app: &TestApp, token: &str) -> Vec<Value> {
    let v = app
        .get_json(token, "/api/v1/faq/clusters?period=week")
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

/// The cluster whose label mentions `word`, once it has `count` questions.
async fn cluster_about(app: &TestApp, token: &str, word: &str, count: u64) -> Value {
    eventually(&format!("a cluster about {word} with {count}"), || async {
        clusters(app, token)
            .await
            .into_iter()
            .find(|c| c["label"].as_str().unwrap_or("").contains(word) && c["count"] == count)
    })
    .await
}

async fn two_instances_show_one_faq(backend: Backend) {
    let Some(mut first) = TestApp::spawn(backend).await else {
        return;
    };
    first.register_channel("facebook", PAGE, "Kommunen").await;
    let admin = first.token("admin", "admin").await;
    let communicator = first.token("comm", "communicator").await;
    // Storgatan is asked about first but was written most recently; the swimming pool's
    // questions arrive later but were written days ago. A rebuild that numbers clusters in the
    // order questions were written would number them the other way round.
    let storgatan = [
        "Hur länge är Storgatan avstängd?",
        "Hur länge blir Storgatan avstängd för bilar?",
        "Hur länge kommer Storgatan vara avstängd?",
    ];
    let simhallen = [
        "När öppnar simhallen igen?",
        "När öppnar simhallen efter renoveringen?",
        "När öppnar simhallen i höst?",
    ];
    let posted = first
        .post(
            &admin,
            "/api/v1/messages",
            questions("st", &storgatan, 60_000),
        )
        .await;
    assert_eq!(posted.status(), 200);
    cluster_about(&first, &communicator, "Storgatan", 3).await;
    let posted = first
        .post(
            &admin,
            "/api/v1/messages",
            questions("sim", &simhallen, 3 * 86_400_000),
        )
        .await;
    assert_eq!(posted.status(), 200);
    let st_first = cluster_about(&first, &communicator, "Storgatan", 3).await["id"].clone();
    let sim_first = cluster_about(&first, &communicator, "simhallen", 3).await["id"].clone();

    // An instance that starts later shows the same ids for the same questions.
    let second = first.second_instance().await;
    let st_second = cluster_about(&second, &communicator, "Storgatan", 3).await["id"].clone();
    let sim_second = cluster_about(&second, &communicator, "simhallen", 3).await["id"].clone();
    assert_eq!((&st_second, &sim_second), (&st_first, &sim_first));

    // A name given through the second instance names the same questions on the first.
    let renamed = second
        .client
        .patch(second.url(&format!("/api/v1/faq/clusters/{st_second}")))
        .bearer_auth(&communicator)
        .json(&json!({"name": "Avstängningen av Storgatan", "pinned": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let named = cluster_about(&first, &communicator, "Storgatan", 3).await;
    assert_eq!(named["name"], "Avstängningen av Storgatan", "{named}");
    let pool = cluster_about(&first, &communicator, "simhallen", 3).await;
    assert_ne!(pool["name"], "Avstängningen av Storgatan", "{pool}");

    // A question that arrives through the second instance joins the same cluster on both: the
    // first learns of it from the shared log.
    let more = second
        .post(
            &admin,
            "/api/v1/messages",
            questions("sim2", &["När öppnar simhallen på lördag?"], 0),
        )
        .await;
    assert_eq!(more.status(), 200);
    for app in [&first, &second] {
        let pool = cluster_about(app, &communicator, "simhallen", 4).await;
        assert_eq!(pool["id"], sim_first, "{pool}");
    }

    // A restart rebuilds the same clusters under the same ids, curation still on Storgatan.
    first.restart().await;
    let named = cluster_about(&first, &communicator, "Storgatan", 3).await;
    assert_eq!(
        (&named["id"], &named["name"]),
        (&st_first, &json!("Avstängningen av Storgatan"))
    );
    assert_eq!(
        cluster_about(&first, &communicator, "simhallen", 4).await["id"],
        sim_first
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_show_one_faq_postgres() {
    two_instances_show_one_faq(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_show_one_faq_sqlite() {
    two_instances_show_one_faq(Backend::Sqlite).await;
}

/// This process's count of a background job's turns with `outcome` on the named instance.
async fn job_turns(app: &TestApp, job: &str, outcome: &str, instance: &str) -> u64 {
    let wanted = format!(
        "tavla_background_jobs_total{{job=\"{job}\",outcome=\"{outcome}\",instance_id=\"{instance}\"}} "
    );
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&wanted)?.trim().parse().ok())
        .unwrap_or(0)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

async fn the_daily_retention_runs_once_for_two_instances(backend: Backend) {
    let name = unique("retention");
    let Some(first) = TestApp::spawn_with(backend, |s| {
        s.retention_every_hours = 24;
        s.retention_first_run_seconds = 0;
        s.instance_name = name.clone();
    })
    .await
    else {
        return;
    };
    let second = first.second_instance().await;
    let names = [name.clone(), format!("{name}-second")];
    // Each instance looks as it starts: one applies the rules, the other finds them applied (or
    // being applied) and leaves them.
    let turns = eventually("both instances to take their turn", || async {
        let mut turns = Vec::new();
        for n in &names {
            let ran = job_turns(&first, "retention", "ran", n).await;
            let skipped = job_turns(&first, "retention", "skipped", n).await;
            if ran + skipped == 0 {
                return None;
            }
            turns.push((ran, skipped));
        }
        Some(turns)
    })
    .await;
    let ran: u64 = turns.iter().map(|t| t.0).sum();
    assert_eq!((ran, turns.len()), (1, 2), "{turns:?}");
    assert_eq!(first.count("retention_runs").await, 1);
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_retention_runs_once_for_two_instances_postgres() {
    the_daily_retention_runs_once_for_two_instances(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_retention_runs_once_for_two_instances_sqlite() {
    the_daily_retention_runs_once_for_two_instances(Backend::Sqlite).await;
}

async fn a_dry_run_never_waits_for_the_lease_and_a_stopped_holder_lets_go(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.token("admin", "admin").await;
    // Another instance is applying retention: it holds the lease, for half a second unless it
    // renews it, as an instance that stops (or whose request was dropped) no longer does.
    let held = app
        .store
        .take_lease("retention", 500, None)
        .await
        .unwrap()
        .expect("the lease is free");
    let dry = app
        .post(&admin, "/api/v1/retention/runs", json!({"dry_run": true}))
        .await;
    assert_eq!(dry.status(), 200, "a dry run does not wait for the lease");
    let busy = app
        .post(&admin, "/api/v1/retention/runs", json!({"dry_run": false}))
        .await;
    assert_eq!(busy.status(), 409, "a real run waits for the holder");
    let report = eventually("the lease to run out", || async {
        let r = app
            .post(&admin, "/api/v1/retention/runs", json!({"dry_run": false}))
            .await;
        (r.status() == 200).then_some(r)
    })
    .await;
    let report: Value = report.json().await.unwrap();
    assert!(report["run_id"].as_i64().is_some(), "{report}");
    assert!(
        !app.store.renew_lease(&held).await.unwrap(),
        "the lapsed holder no longer holds it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_never_waits_for_the_lease_and_a_stopped_holder_lets_go_postgres() {
    a_dry_run_never_waits_for_the_lease_and_a_stopped_holder_lets_go(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_never_waits_for_the_lease_and_a_stopped_holder_lets_go_sqlite() {
    a_dry_run_never_waits_for_the_lease_and_a_stopped_holder_lets_go(Backend::Sqlite).await;
}

async fn live_updates_reach_a_listener_of_either_instance(backend: Backend) {
    let Some(first) = TestApp::spawn(backend).await else {
        return;
    };
    let second = first.second_instance().await;
    first.register_channel("facebook", PAGE, "Kommunen").await;
    let agent = first.token("agent", "agent").await;
    let on_second = second.get(&agent, "/api/v1/events").await;
    assert_eq!(on_second.status(), 200);
    let on_first = first.get(&agent, "/api/v1/events").await;
    assert_eq!(on_first.status(), 200);
    // A message through the first instance, a claim through the second.
    let dm = crate::webhooks::dm_batch(&[(PAGE, "u1", "m1", "Hej")]);
    assert_eq!(first.webhook(&dm).await.status(), 200);
    let id = eventually("the conversation", || async {
        second.conversations(&agent, "").await.first()?["id"].as_i64()
    })
    .await;
    let claim = second
        .post(
            &agent,
            &format!("/api/v1/conversations/{id}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claim.status(), 200);
    for stream in [on_second, on_first] {
        let events = crate::events::read_events(stream, 2).await;
        let kinds: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(kinds, ["message.received", "conversation.claimed"]);
        assert!(events.iter().all(|e| e.2["conversation_id"] == id));
        assert!(events[0].0 < events[1].0, "{events:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_reach_a_listener_of_either_instance_postgres() {
    live_updates_reach_a_listener_of_either_instance(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_updates_reach_a_listener_of_either_instance_sqlite() {
    live_updates_reach_a_listener_of_either_instance(Backend::Sqlite).await;
}

/// An event appended in a transaction of its own, committed by the caller.
async fn open_write(store: &tavla::store::Store, n: i64) -> tavla::store::Tx<'static> {
    let mut tx = store.begin().await.expect("begin");
    tavla::store::events::append(
        &mut tx,
        tavla::store::NewEvent {
            kind: tavla::store::EventKind::ChannelChanged,
            channel_id: None,
            conversation_id: None,
            message_id: None,
            payload: json!({ "n": n }),
        },
    )
    .await
    .expect("append");
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_never_skips_a_late_commit() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let store = &app.store;
    let start = store.last_event_seq().await.unwrap();
    // Writers take no lock for the log (README: several instances), so these two overlap.
    let early = open_write(store, 1).await;
    let late = tokio::time::timeout(std::time::Duration::from_secs(5), open_write(store, 2))
        .await
        .expect("the second writer takes no lock the first holds");
    late.commit().await.unwrap();
    // The later sequence value committed first: a reader must not pass the earlier one by.
    assert!(store.events_after(start, 100).await.unwrap().is_empty());
    assert_eq!(store.last_event_seq().await.unwrap(), start);
    early.commit().await.unwrap();
    let read = store.events_after(start, 100).await.unwrap();
    let numbers: Vec<&Value> = read.iter().map(|e| &e.payload["n"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(2)]);
    assert!(read[0].seq < read[1].seq);
}

/// Two instances take webhooks for the same new people at the same moment: each thread must be
/// created once (the instance that loses the race finds the other's), and no webhook may fail.
async fn new_threads_arriving_at_two_instances_at_once_are_created_once(backend: Backend) {
    let Some(first) = TestApp::spawn(backend).await else {
        return;
    };
    let second = first.second_instance().await;
    first.register_channel("facebook", PAGE, "Kommunen").await;
    const ROUNDS: usize = 16;
    const PEOPLE: usize = 12;
    for round in 0..ROUNDS {
        // The same people in both batches, in opposite orders, with messages of their own.
        let batch = |instance: usize| {
            let mut people: Vec<usize> = (0..PEOPLE).collect();
            if instance == 1 {
                people.reverse();
            }
            let items: Vec<(String, String)> = people
                .iter()
                .map(|p| (format!("r{round}p{p}"), format!("r{round}p{p}i{instance}")))
                .collect();
            let refs: Vec<(&str, &str, &str, &str)> = items
                .iter()
                .map(|(person, mid)| (PAGE, person.as_str(), mid.as_str(), "Hej"))
                .collect();
            crate::webhooks::dm_batch(&refs)
        };
        let (a, b) = (batch(0), batch(1));
        let (to_first, to_second) = tokio::join!(first.webhook(&a), second.webhook(&b));
        assert_eq!(to_first.status(), 200, "round {round}, first instance");
        assert_eq!(to_second.status(), 200, "round {round}, second instance");
    }
    let agent = first.token("agent", "agent").await;
    let threads = first.conversations(&agent, "limit=200").await;
    assert_eq!(threads.len(), ROUNDS * PEOPLE, "one thread per person");
    assert!(
        threads.iter().all(|c| c["message_count"] == json!(2)),
        "both messages of each person in the person's one thread"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_threads_arriving_at_two_instances_at_once_are_created_once_postgres() {
    new_threads_arriving_at_two_instances_at_once_are_created_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_threads_arriving_at_two_instances_at_once_are_created_once_sqlite() {
    new_threads_arriving_at_two_instances_at_once_are_created_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_transaction_in_another_database_holds_no_live_update_back() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    // Another database on the same server (the tests' admin database), with a transaction that
    // has taken its id and stays open for the whole test, as a long job elsewhere would.
    let admin = crate::helpers::postgres_admin_url()
        .await
        .expect("the server");
    let elsewhere = sqlx::AnyPool::connect(&admin)
        .await
        .expect("another database");
    let mut long = elsewhere.begin().await.expect("begin elsewhere");
    sqlx::query("select pg_current_xact_id()::text")
        .execute(&mut *long)
        .await
        .expect("an id elsewhere");
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let agent = app.token("agent", "agent").await;
    let stream = app.get(&agent, "/api/v1/events").await;
    assert_eq!(stream.status(), 200);
    let dm = crate::webhooks::dm_batch(&[(PAGE, "u1", "m1", "Hej")]);
    assert_eq!(app.webhook(&dm).await.status(), 200);
    let events = crate::events::read_events(stream, 1).await;
    assert_eq!(events[0].1, "message.received");
    long.rollback().await.expect("rollback elsewhere");
    elsewhere.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_concurrent_writers_sees_every_event_once_in_order() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let store = app.store.clone();
    let start = store.last_event_seq().await.unwrap();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let tx = open_write(&store, w * 100 + i).await;
                    // Held open a varying while, so commits come out of sequence order.
                    let hold = (w * 7 + i * 13) % 15;
                    tokio::time::sleep(std::time::Duration::from_millis(hold as u64)).await;
                    store.commit(tx).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen: Vec<i64> = Vec::new();
    let mut after = start;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while seen.len() < 150 && tokio::time::Instant::now() < deadline {
        for e in store.events_after(after, 50).await.unwrap() {
            assert!(e.seq > after, "in order: {} after {after}", e.seq);
            after = e.seq;
            seen.push(e.seq);
        }
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let stored: Vec<i64> = sqlx::query_scalar("select seq from events where seq > $1 order by seq")
        .bind(start)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 150);
    assert_eq!(seen, stored, "the reader skipped or repeated an event");
}

/// What a restart must not change: the queue, the FAQ clusters and a search.
async fn what_staff_see(app: &TestApp, agent: &str, communicator: &str) -> Value {
    let queue: Vec<Value> = app
        .conversations(agent, "limit=200")
        .await
        .iter()
        .map(|c| json!([c["id"], c["message_count"], c["status"]]))
        .collect();
    let faq: Vec<Value> = clusters(app, communicator)
        .await
        .iter()
        .map(|c| json!([c["id"], c["name"], c["count"], c["people"]]))
        .collect();
    let found = app
        .get_json(agent, "/api/v1/search?q=sophämtning&limit=100")
        .await;
    let hits: Vec<Value> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"]["id"].clone())
        .collect();
    json!({ "queue": queue, "faq": faq, "search": hits })
}

async fn a_restart_with_a_populated_store_shows_the_same(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let admin = app.token("admin", "admin").await;
    let agent = app.token("agent", "agent").await;
    let communicator = app.token("comm", "communicator").await;
    // 120 people writing in, and public questions on three subjects among other comments.
    for batch in 0..4 {
        let dms: Vec<(String, String, String)> = (0..30)
            .map(|i| {
                let n = batch * 30 + i;
                (
                    format!("u{n}"),
                    format!("m{n}"),
                    format!("Hej! Fråga {n} om sophämtning i kvarteret."),
                )
            })
            .collect();
        let dms: Vec<(&str, &str, &str, &str)> = dms
            .iter()
            .map(|(u, m, t)| (PAGE, u.as_str(), m.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            app.webhook(&crate::webhooks::dm_batch(&dms)).await.status(),
            200
        );
    }
    let subjects = [
        "Varför har soporna inte hämtats på Storgatan?",
        "Vilka öppettider har simhallen i sommar?",
        "Hur lång handläggningstid har bygglovet för ett garage?",
        "Tack för svaret!",
    ];
    let texts: Vec<&str> = (0..60).map(|i| subjects[i % 4]).collect();
    let posted = app
        .post(
            &admin,
            "/api/v1/messages",
            questions("pop", &texts, 3_600_000),
        )
        .await;
    assert_eq!(posted.status(), 200);
    // Some work done on it: a conversation claimed, a cluster named.
    let first = app.conversations(&agent, "").await[0]["id"]
        .as_i64()
        .unwrap();
    let claim = app
        .post(
            &agent,
            &format!("/api/v1/conversations/{first}/claim"),
            json!({}),
        )
        .await;
    assert_eq!(claim.status(), 200);
    let pool = cluster_about(&app, &communicator, "simhallen", 15).await;
    let named = app
        .client
        .patch(app.url(&format!("/api/v1/faq/clusters/{}", pool["id"])))
        .bearer_auth(&communicator)
        .json(&json!({"name": "Simhallens öppettider"}))
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), 200);
    let before = eventually("the search index to hold every message", || async {
        let seen = what_staff_see(&app, &agent, &communicator).await;
        (seen["search"].as_array()?.len() == 100).then_some(seen)
    })
    .await;
    let seq = app.store.last_event_seq().await.unwrap();

    app.restart().await;
    let after = eventually("the clusters to be rebuilt", || async {
        let seen = what_staff_see(&app, &agent, &communicator).await;
        (seen["faq"] == before["faq"]).then_some(seen)
    })
    .await;
    assert_eq!(after, before);
    // A listener that resumes from before the restart gets what came after it, and only that.
    let resumed = app
        .get(&agent, &format!("/api/v1/events?after={seq}"))
        .await;
    assert_eq!(resumed.status(), 200);
    let dm = crate::webhooks::dm_batch(&[(PAGE, "late", "m-late", "Hej igen")]);
    assert_eq!(app.webhook(&dm).await.status(), 200);
    let events = crate::events::read_events(resumed, 1).await;
    assert_eq!(events[0].1, "message.received");
    assert!(events[0].0 > seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_populated_store_shows_the_same_postgres() {
    a_restart_with_a_populated_store_shows_the_same(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_populated_store_shows_the_same_sqlite() {
    a_restart_with_a_populated_store_shows_the_same(Backend::Sqlite).await;
}
