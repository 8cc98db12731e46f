//! FAQ signals in the browser: a communicator opens a cluster of a repeated question, sees its
//! examples and chart, names it, marks it answered and moves a question out (a split); a
//! cluster label carrying an XSS payload shows as text; axe and the CSP counter stay clean.

use serde_json::{json, Value};

use super::actions::{self, click, fill, XSS};
use super::browser::{self, Browser};
use super::{channel, ingest, PAGE};
use crate::helpers::TestApp;

/// Public questions written in the last minutes under one post, each by another person.
fn questions(prefix: &str, texts: &[String]) -> Vec<Value> {
    let now = chrono::Utc::now().timestamp_millis();
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": format!("{prefix}{i}"),
                "author": {"id": format!("{prefix}-p{i}"), "name": format!("Person {i}")}, "text": text,
                "time": now - (i as i64 + 1) * 60_000, "post_id": format!("{PAGE}_{prefix}")})
        })
        .collect()
}

/// The clusters a communicator sees, once `want` of them have at least `min` questions.
async fn clusters(app: &TestApp, token: &str, want: usize, min: u64) -> Vec<Value> {
    for _ in 0..300 {
        let v = app
            .get_json(token, "/api/v1/faq/clusters?period=week")
            .await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items
            .iter()
            .filter(|c| c["count"].as_u64().unwrap_or(0) >= min)
            .count()
            >= want
        {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the FAQ clusters did not appear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_communicator_opens_names_answers_and_splits_a_faq_cluster() {
    let app = browser::app().await;
    channel(&app).await;
    let storgatan: Vec<String> = [
        "Hur länge är Storgatan avstängd?",
        "Hur länge blir Storgatan avstängd för bilar?",
        "Hur länge kommer Storgatan vara avstängd?",
        "Hur länge är Storgatan avstängd egentligen?",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let hostile: Vec<String> = [
        "När öppnar simhallen igen",
        "När öppnar simhallen igen efter renoveringen",
        "När öppnar simhallen igen i vår",
    ]
    .iter()
    .map(|s| format!("{XSS} {s}?"))
    .collect();
    ingest(&app, questions("s", &storgatan)).await;
    ingest(&app, questions("h", &hostile)).await;
    let token = app.token("kontroll", "communicator").await;
    clusters(&app, &token, 2, 3).await;
    browser::staff(&app, "kerstin", "communicator").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("kerstin").await;
    b.goto("/#/faq").await;
    b.catch_errors().await;
    let list = b.wait_text("#faq-list", "Storgatan").await;
    // The payload in a question is a label shown literally, never markup.
    assert!(list.contains("<img src=x"), "{list}");
    // The chart names its bars in text, so it is not colour alone.
    let chart = b.text("#faq-chart").await.unwrap_or_default();
    assert!(chart.contains("Perioden före"), "{chart}");
    b.wait_js(
        "the chart is drawn",
        "return document.querySelectorAll('#faq-chart svg rect').length > 2",
    )
    .await;
    b.audit("the FAQ signals").await;

    // Open the Storgatan cluster: examples, posts, the per-day chart and its questions.
    let id = b
        .wait_js(
            "the Storgatan row",
            "const a = [...document.querySelectorAll('#faq-list a')].find(a => a.textContent.includes('Storgatan'));
             return a ? a.getAttribute('href').split('/').pop() : null;",
        )
        .await;
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    click(&b, &format!("#faq-list a[href='#/faq/{id}']")).await;
    b.wait_text("#faq-cluster", "Storgatan").await;
    b.wait_text("#faq-examples", "Storgatan").await;
    b.wait_text("#faq-posts", "_s").await;
    b.wait_js(
        "the questions with boxes",
        "return document.querySelectorAll('#faq-questions input[type=checkbox]').length === 4",
    )
    .await;
    b.find("#faq-trend svg").await;
    b.audit("an open FAQ cluster").await;

    // Name it (the name can carry markup too and stays text).
    let name = format!("Storgatan {XSS}");
    fill(&b, "#faq-name", &name).await;
    click(&b, "#faq-rename").await;
    b.wait_text("#faq-status", "Sparat").await;
    b.wait_text("#faq-cluster-heading", "<img src=x").await;
    // An address that is not a web page is refused in plain words before anything is sent.
    fill(&b, "#faq-url", "javascript:alert(1)").await;
    click(&b, "#faq-answer").await;
    b.wait_text("#faq-status", "https://").await;
    fill(&b, "#faq-url", "https://exempelby.se/storgatan").await;
    click(&b, "#faq-answer").await;
    b.wait_text("#faq-answered", "https://exempelby.se/storgatan")
        .await;
    let stored = app
        .get_json(&token, "/api/v1/faq/clusters?period=week")
        .await;
    let cluster = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .expect("the cluster")
        .clone();
    assert_eq!(cluster["name"], name.as_str());
    assert_eq!(cluster["answered_url"], "https://exempelby.se/storgatan");

    // A saved reply written here can answer the cluster instead of the web page.
    click(&b, "#saved-add-open").await;
    fill(&b, "#saved-title", "Storgatan").await;
    fill(&b, "#saved-body", "Storgatan är avstängd till mars.").await;
    click(&b, "#saved-save").await;
    b.wait_text("#saved-list", "Storgatan är avstängd till mars.")
        .await;
    let replies = app.get_json(&token, "/api/v1/saved-replies").await;
    let reply = replies["items"][0]["id"].as_i64().expect("the saved reply");
    b.wait_js(
        "the saved reply to choose",
        &format!("return !!document.querySelector('#faq-reply option[value=\"{reply}\"]')"),
    )
    .await;
    actions::choose(&b, "#faq-reply", &reply.to_string()).await;
    click(&b, "#faq-answer").await;
    b.wait_text("#faq-answered", "sparat svar Storgatan").await;
    let stored = app
        .get_json(&token, "/api/v1/faq/clusters?period=week")
        .await;
    let answered = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["answered_url"].clone());
    assert_eq!(answered, Some(json!(format!("saved-reply:{reply}"))));

    // Split: move one question into the other cluster; the counts follow.
    let other = stored["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] != id && c["count"].as_u64() >= Some(3))
        .expect("the other cluster")["id"]
        .as_i64()
        .unwrap();
    b.wait_js(
        "the questions again after saving",
        "return document.querySelectorAll('#faq-questions input[type=checkbox]').length === 4",
    )
    .await;
    click(&b, "#faq-questions input[type=checkbox]").await;
    actions::choose(&b, "#faq-move-to", &other.to_string()).await;
    click(&b, "#faq-move").await;
    b.wait_text("#faq-status", "1 fråga flyttad").await;
    let after = app
        .get_json(&token, "/api/v1/faq/clusters?period=week")
        .await;
    let count = |cid: i64| {
        after["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cid)
            .map(|c| c["count"].as_i64().unwrap())
    };
    assert_eq!(count(id), Some(3), "{after}");
    assert_eq!(count(other), Some(4), "{after}");

    // English works too.
    b.find("#top-tools button[lang=en]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#faq-heading", "FAQ signals").await;
    b.wait_text("#faq-cluster", "Curate").await;
    actions::assert_inert(&b).await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
