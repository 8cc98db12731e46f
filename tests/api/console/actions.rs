//! Small page actions for the FAQ, moderation and administration tests: click, type into a
//! field, pick an option, sign out, and check that hostile text stayed text.

use fantoccini::Locator;
use serde_json::json;

use super::browser::Browser;

/// An XSS payload that sets a flag if it ever runs; it must show up literally instead.
pub const XSS: &str = r#"<img src=x onerror="window.__xss=1">"#;

/// Clicks the element once it exists. A live update may rebuild it between finding and
/// clicking (the element goes stale): then it is found again, until the usual deadline.
pub async fn click(b: &Browser, css: &str) {
    b.wait_for(&format!("a click on `{css}`"), || async {
        b.find(css).await.click().await.ok()
    })
    .await;
}

/// Replaces a field's text with `text`, typed as a person would (found again if it went stale).
pub async fn fill(b: &Browser, css: &str, text: &str) {
    b.wait_for(&format!("`{css}` to take {text:?}"), || async {
        let field = b.find(css).await;
        field.clear().await.ok()?;
        field.send_keys(text).await.ok()?;
        let value = field.prop("value").await.ok()??;
        (value == text).then_some(())
    })
    .await;
}

/// Picks the option with `value` in a select (and tells the page, as a person's pick would).
pub async fn choose(b: &Browser, css: &str, value: &str) {
    b.find(css).await;
    b.js(
        "const s = document.querySelector(arguments[0]); s.value = arguments[1];
         s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;",
        vec![json!(css), json!(value)],
    )
    .await;
}

/// No payload ran and none became an element in the view.
pub async fn assert_inert(b: &Browser) {
    let flag = b.js("return window.__xss ?? null", vec![]).await;
    assert_eq!(flag, json!(null), "a payload ran");
    for css in ["main img", "main script", "main iframe"] {
        assert!(
            b.client.find(Locator::Css(css)).await.is_err(),
            "a payload became an element: {css}"
        );
    }
}
