//! The web console in a real browser (headless Chromium through WebDriver) against the real
//! service: serving and headers, the inbox flow by keyboard, search, hostile text, accessibility
//! and CSP. Helpers for more views are in `browser.rs`.

mod actions;
mod admin;
pub mod browser;
mod categories;
mod faq;
mod handover;
mod inbox;
mod moderation;
mod notes;
mod posts;
mod privacy;
mod reports;
mod roles;
mod screenshot;
mod search;
mod security;
mod serving;
mod single_sign_on;
mod synonyms;

use serde_json::{json, Value};

use crate::helpers::TestApp;

pub const PAGE: &str = "100000000000001";

/// Registers the page "Exempelby kommun" and ingests normalised messages (as an integration
/// would, through POST /api/v1/messages).
pub async fn ingest(app: &TestApp, messages: Vec<Value>) {
    let token = app
        .token(&format!("ingest-{}", rand_suffix()), "admin")
        .await;
    let response = app
        .post(&token, "/api/v1/messages", json!({ "messages": messages }))
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["errors"].as_array().is_none_or(|e| e.is_empty()),
        "{body}"
    );
}

fn rand_suffix() -> u64 {
    use rand::Rng;
    rand::thread_rng().gen()
}

pub async fn channel(app: &TestApp) {
    app.register_channel("facebook", PAGE, "Exempelby kommun")
        .await;
}

/// A direct message from a person, `minutes_ago`.
pub fn dm(id: &str, person: &str, name: &str, text: &str, minutes_ago: i64) -> Value {
    json!({
        "platform": "facebook", "channel": PAGE, "kind": "dm", "id": id,
        "author": {"id": person, "name": name}, "text": text,
        "time": chrono::Utc::now().timestamp_millis() - minutes_ago * 60_000,
    })
}
