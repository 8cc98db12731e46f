//! The reports view: a month's figures beside the month before, charts, and the printable and
//! CSV versions linked.

use serde_json::json;

use super::browser::{self, Browser};
use super::{channel, ingest, PAGE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_communicator_reads_the_month_beside_the_one_before() {
    let app = browser::app().await;
    channel(&app).await;
    let comment = |id: &str, time: &str| {
        json!({"platform": "facebook", "channel": PAGE, "kind": "comment", "id": id,
            "author": {"id": format!("person-{id}"), "name": "Boende"},
            "text": "När öppnar badhuset igen?", "time": time, "post_id": format!("{PAGE}_1")})
    };
    ingest(
        &app,
        vec![
            comment("o1", "2026-10-05T10:00:00+02:00"),
            comment("o2", "2026-10-20T10:00:00+02:00"),
            // 23:30 on the last evening of October, Swedish winter time: still October.
            comment("o3", "2026-10-31T23:30:00+01:00"),
            comment("s1", "2026-09-10T10:00:00+02:00"),
        ],
    )
    .await;
    browser::staff(&app, "kim", "communicator").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("kim").await;
    b.goto("/#/reports/2026-10").await;
    let text = b.wait_text("#rep-body", "Totalt").await;
    assert!(text.contains("Exempelby kommun"), "{text}");
    // The comments' table: 3 inbound in October beside 1 in September.
    let inbound = b
        .js(
            "const rows = [...document.querySelectorAll('#rep-body table tr')];\
             const row = rows.find((r) => r.querySelector('th')?.textContent.startsWith('Inkommande'));\
             return row ? [...row.querySelectorAll('td')].slice(0, 2).map((c) => c.textContent) : null;",
            vec![],
        )
        .await;
    assert_eq!(inbound, json!(["3", "1"]), "{text}");
    let links = b.text("#rep-links").await.unwrap_or_default();
    assert!(links.contains("CSV"), "{links}");
    b.audit("the reports view").await;
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
