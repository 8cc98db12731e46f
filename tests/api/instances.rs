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
