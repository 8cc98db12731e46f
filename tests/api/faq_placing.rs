//! FAQ placing in the background: a store filled without FAQ placements (a restore, an import,
//! an upgrade) is served at once, its questions are placed in batches that say how far they
//! are, placing resumes after a restart, and two instances placing one store agree on the ids.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{eventually, TestApp};
use crate::on_both_backends_with;

const PAGE: &str = "940000000000001";

/// Public comments written in the last hours, stored the way ingest stores them but while no
/// service follows the log, so none of them is placed.
async fn seed_unplaced(store: &tavla::store::Store, texts: &[String]) {
    let ingest = tavla::ingest::Ingestor::start(store.clone(), 10_000, 100, None);
    let now = chrono::Utc::now().timestamp_millis();
    let items = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            tavla::ingest::normalised::parse(json!({"platform": "facebook", "channel": PAGE,
                "kind": "comment", "id": format!("seeded{i}"), "author": {"id": format!("p{i}")},
                "text": text, "time": now - 3_600_000 - i as i64 * 1000, "post_id": "post"}))
            .expect("a valid comment")
        })
        .collect();
    ingest.submit(items).await.expect("seeded");
}

/// Three recurring questions, six ways each, and remarks that are no questions.
fn texts() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..6 {
        out.push(format!("Hur länge är Storgatan avstängd vecka {i}?"));
        out.push(format!("När öppnar simhallen igen efter sommaren {i}?"));
        out.push(format!("Vad kostar en plats i kulturskolan termin {i}?"));
    }
    out.push("Tack för informationen!".into());
    out.push("Bra jobbat".into());
    out
}

async fn clusters(app: &TestApp, token: &str) -> Value {
    app.get_json(token, "/api/v1/faq/clusters?period=week")
        .await
}

/// Each cluster's id with its number of questions: what must be the same everywhere.
fn ids_and_counts(list: &Value) -> BTreeMap<i64, u64> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["count"].as_u64().unwrap()))
        .collect()
}

/// Waits until placing is done on `app`, and returns the clusters then.
async fn placed(app: &TestApp, token: &str) -> Value {
    eventually("placing to finish", || async {
        let list = clusters(app, token).await;
        list["building"].is_null().then_some(list)
    })
    .await
}

on_both_backends_with!(
    a_store_without_placements_serves_at_once_and_places_its_questions_in_the_background,
    |s: &mut tavla::settings::Settings| {
        // Small batches and a pause, so placing is seen under way.
        s.faq_placing_batch = 2;
        s.faq_placing_pause_ms = 250;
    },
    |mut app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let communicator = app.token("comm", "communicator").await;
        app.stop().await;
        let texts = texts();
        seed_unplaced(&app.store, &texts).await;
        assert_eq!(app.count("faq_members").await, 0);
        let comments = texts.len() as u64;

        app.start().await;
        // Served at once: ready, and the FAQ answers with what is placed so far.
        let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let first = clusters(&app, &communicator).await;
        assert_eq!(first["building"]["total"], comments, "{first}");
        assert!(
            first["building"]["looked_at"].as_u64().unwrap() < comments,
            "{first}"
        );
        // Clusters appear while placing goes on, each batch stored as it goes.
        let partial = eventually("clusters while placing goes on", || async {
            let list = clusters(&app, &communicator).await;
            let shown = !list["items"].as_array()?.is_empty();
            (shown && list["building"].is_object()).then_some(list)
        })
        .await;
        let placed_so_far = partial["building"]["placed"].as_u64().unwrap();
        assert!(placed_so_far > 0, "{partial}");

        // A restart in the middle resumes: what was stored stays, the rest is left to place.
        app.stop().await;
        let stored = app.count("faq_members").await as u64;
        assert!(stored > 0 && stored < 18, "{stored} placements stored");
        app.start().await;
        let resumed = clusters(&app, &communicator).await;
        if resumed["building"].is_object() {
            assert_eq!(resumed["building"]["total"], comments - stored, "{resumed}");
        }
        // A second instance starts while the first still places: both place the same store.
        let second = app.second_instance().await;
        let on_first = placed(&app, &communicator).await;
        let on_second = placed(&second, &communicator).await;
        assert_eq!(app.count("faq_members").await, 18, "every question, once");
        let ids = ids_and_counts(&on_first);
        assert_eq!(ids.values().sum::<u64>(), 18, "{on_first}");
        assert!(
            !on_first["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["label"].as_str().unwrap_or("").contains("Tack")),
            "a remark is no question"
        );
        assert_eq!(ids_and_counts(&on_second), ids, "the second instance");

        // The same ids after a restart, restored from the stored placements before it serves
        // (the remarks, never placed, are looked at again in the background: nothing to place).
        app.restart().await;
        let restarted = clusters(&app, &communicator).await;
        assert_eq!(
            ids_and_counts(&restarted),
            ids,
            "after a restart: {restarted}"
        );
        let restarted = placed(&app, &communicator).await;
        assert_eq!(
            ids_and_counts(&restarted),
            ids,
            "after a restart: {restarted}"
        );
        assert_eq!(app.count("faq_members").await, 18);
    }
);
