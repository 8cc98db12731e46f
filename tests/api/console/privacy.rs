//! Masked personal data in the conversation view: shown masked, and one value revealed on
//! request by someone who may, with the reveal in the audit trail.

use super::browser::{self, Browser};
use super::{channel, dm, ingest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_a_personnummer_masked_and_reveals_it_once() {
    let app = browser::app().await;
    channel(&app).await;
    ingest(
        &app,
        vec![dm(
            "p1",
            "person-1",
            "Karin Berg",
            "Hej, mitt personnummer är 811218-9876, hur går det med bygglovet?",
            30,
        )],
    )
    .await;
    browser::staff(&app, "sara", "agent").await;
    let Some(b) = Browser::start(&app).await else {
        return;
    };
    b.sign_in("sara").await;
    b.wait_text("#queue", "Karin Berg").await;
    b.find("#inbox-heading").await;
    b.press("j").await;
    let text = b.wait_text("#conversation", "811218-****").await;
    assert!(
        !text.contains("811218-9876"),
        "the number is masked: {text}"
    );
    b.audit("conversation with masked personal data").await;

    b.find("#conversation button.link-button")
        .await
        .click()
        .await
        .unwrap();
    let shown = b.wait_text("#conversation", "811218-9876").await;
    assert!(shown.contains("personnummer 1: 811218-9876"), "{shown}");

    // The reveal is audited: who, which message and which value, never the value itself.
    let auditor = app.token("revisor", "auditor").await;
    let audit = app
        .get_json(&auditor, "/api/v1/audit?action=personal_data.revealed")
        .await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"], "sara");
    assert!(!audit.to_string().contains("9876"), "{audit}");
    browser::assert_no_csp_violations(&app).await;
    b.close().await;
}
