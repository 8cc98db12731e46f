//! The inbox with the Swedish demo data, as the README shows it. Saved under target/tmp/ on every
//! run; `TAVLA_UPDATE_SCREENSHOT=1 cargo test --test api console::screenshot` also writes
//! docs/console-inbox.png.

use super::browser::{self, Browser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_with_demo_data() {
    let app = browser::app().await;
    tavla::demo::fill(&app.store, &app.settings)
        .await
        .expect("demo data");
    browser::staff(&app, "agneta", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agneta").await;
    b.wait_text("#queue", "Anna Lindqvist").await;
    b.find("#inbox-heading").await;
    b.press("j").await;
    b.find("#conversation .messages li").await;
    b.find("#reply-window").await;
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    // Cargo's scratch directory for integration tests (under the target directory, wherever
    // CARGO_TARGET_DIR puts it).
    let target = concat!(env!("CARGO_TARGET_TMPDIR"), "/console-inbox.png");
    std::fs::write(target, &png).expect("write the screenshot");
    if std::env::var("TAVLA_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");
        std::fs::create_dir_all(docs).expect("docs/");
        std::fs::write(format!("{docs}/console-inbox.png"), &png).expect("write docs/");
    }
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
