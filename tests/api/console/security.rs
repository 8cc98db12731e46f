//! Hostile text stays text: XSS payloads in message text, author names and attachment names
//! are shown literally and never run; and a CSP violation is detected (the counter rises), so
//! the zero checks of the other tests mean something.

use fantoccini::Locator;
use serde_json::json;

use super::browser::{self, Browser};
use super::{channel, ingest, PAGE};

const PAYLOADS: [&str; 6] = [
    r#"<img src=x onerror="window.__xss=1">"#,
    "<script>window.__xss=2</script>",
    r#""><svg onload="window.__xss=3">"#,
    "javascript:window.__xss=4",
    "\u{202E}gpj.exe\u{202C} <iframe srcdoc=\"<script>parent.__xss=5</script>\">",
    "<a href=\"javascript:window.__xss=6\">klicka</a>",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_shown_as_text_and_never_runs() {
    let app = browser::app().await;
    channel(&app).await;
    let long_word = "Ä".repeat(3000);
    let now = chrono::Utc::now().timestamp_millis();
    let messages: Vec<_> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "platform": "facebook", "channel": PAGE, "kind": "dm", "id": format!("x{i}"),
                "author": {"id": format!("p{i}"), "name": format!("{p} namn")},
                "text": format!("{p} {long_word}"),
                "time": now - (60 - i as i64) * 60_000,
                "attachments": [
                    {"kind": "file", "name": format!("{p}.pdf"), "url": p},
                    {"kind": "image", "name": "bild.jpg", "url": "javascript:window.__xss=7"}
                ],
            })
        })
        .collect();
    ingest(&app, messages).await;
    browser::staff(&app, "agda", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("agda").await;
    let queue = b.wait_text("#queue", "namn").await;
    for p in PAYLOADS {
        assert!(
            queue.contains(&format!("{p} namn").replace(['\u{202E}', '\u{202C}'], ""))
                || queue.contains("gpj.exe"),
            "{p} in {queue}"
        );
    }
    // Each conversation, opened one after the other by keyboard, shows its payload literally.
    for (i, p) in PAYLOADS.iter().enumerate() {
        b.find("#inbox-heading").await;
        b.press("j").await;
        let shown = b
            .wait_for(&format!("payload {i} shown"), || async {
                let text = b.text("#conversation .messages").await?;
                text.contains("namn").then_some(text)
            })
            .await;
        let visible = p.replace(['\u{202E}', '\u{202C}'], "");
        assert!(
            shown
                .replace(['\u{202E}', '\u{202C}'], "")
                .contains(&visible),
            "payload {i} not shown literally: {shown}"
        );
        assert!(
            shown.contains(&format!("{p}.pdf").replace(['\u{202E}', '\u{202C}'], "")) || i == 4
        );
    }
    let flags = b.js("return [window.__xss, parent.__xss]", vec![]).await;
    assert_eq!(flags, json!([null, null]), "a payload ran");
    for css in [
        "main img",
        "main script",
        "main svg",
        "main iframe",
        "a[href^='javascript']",
        "main b",
    ] {
        assert!(
            b.client.find(Locator::Css(css)).await.is_err(),
            "`{css}` was created from text"
        );
    }
    // The long word wraps instead of widening the page.
    let wide = b
        .js(
            "const w = document.documentElement.clientWidth;
             return [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1)
               .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
            vec![],
        )
        .await;
    assert_eq!(
        wide,
        json!([]),
        "a long word makes the page scroll sideways"
    );
    b.audit("a conversation with hostile text").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csp_violation_is_detected() {
    let app = browser::app().await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.goto("/").await;
    b.find("#signin-username").await;
    assert_eq!(browser::csp_violations(&app).await, 0);
    // What an injection would do: an inline script and an inline style. Both are refused by the
    // policy (the script's text already by Trusted Types), and the browser reports them.
    let ran = b
        .js(
            "try {
               const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
               document.body.appendChild(s);
             } catch (e) { /* Trusted Types refuses the script text itself */ }
             const d = document.createElement('div'); d.setAttribute('style', 'color: red');
             document.body.appendChild(d);
             return window.__inline === 1;",
            vec![],
        )
        .await;
    assert_eq!(ran, json!(false), "the inline script must not run");
    let deadline = std::time::Instant::now() + browser::WAIT;
    while browser::csp_violations(&app).await < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no CSP report reached the service"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.close().await;
}
