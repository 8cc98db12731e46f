//! Search in the console: filters, and snippets whose highlights are <mark> elements built from
//! the server's ranges.

use fantoccini::Locator;

use super::browser::{self, Browser};
use super::{channel, dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_shows_highlighted_snippets_and_opens_the_conversation() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![
            dm(
                "s1",
                "p1",
                "Anna Lindqvist",
                "Hur ansöker jag om bygglov för ett attefallshus?",
                50,
            ),
            dm(
                "s2",
                "p2",
                "Lars Ek",
                "Gatlampan på Björkvägen är trasig <b>igen</b>",
                40,
            ),
        ],
    )
    .await;
    browser::staff(&app, "sanna", "agent").await;
    // The index follows the store within a second; wait until it has the messages.
    let token = app.token("kontroll", "agent").await;
    let deadline = std::time::Instant::now() + browser::WAIT;
    while app.get_json(&token, "/api/v1/search?q=bygglov").await["total"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the index never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("sanna").await;
    b.goto("/#/search").await;
    b.find("#search-q")
        .await
        .send_keys("bygglov")
        .await
        .unwrap();
    b.find("#search-status")
        .await
        .select_by_value("open")
        .await
        .unwrap();
    b.find("#search-submit").await.click().await.unwrap();
    let count = b.wait_text("#search-count", "1 träff").await;
    assert_eq!(count.trim(), "1 träff", "one hit is singular");
    let mark = b.find("#search-results mark").await.text().await.unwrap();
    assert_eq!(mark, "bygglov");
    let snippet = b.text("#search-results .snippet").await.unwrap();
    assert!(snippet.contains("Hur ansöker jag om bygglov"), "{snippet}");
    b.audit("search with results").await;

    // Markup in a message is text in the snippet too.
    b.goto("/#/search/q%3Dtrasig").await;
    let text = b.wait_text("#search-results", "<b>igen</b>").await;
    assert!(text.contains("Gatlampan"), "{text}");
    assert!(
        b.client
            .find(Locator::Css("#search-results b"))
            .await
            .is_err(),
        "no <b> was made"
    );
    assert_eq!(
        b.find("#search-q")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("trasig")
    );

    b.find("#search-results a").await.click().await.unwrap();
    b.wait_text("#conversation", "Gatlampan på Björkvägen")
        .await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
