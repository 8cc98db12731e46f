//! Outgoing webhooks to the organisation's case-management system: a case closed with a police
//! report and a conversation handed to a unit reach the receivers that asked for them, signed
//! with HMAC, retried until taken, and without a direct message's words unless the receiver is
//! entitled to them.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::delivery::{dm, eventually, now};
use crate::helpers::{Backend, TestApp};
use crate::moderation::{comment_at, step, PAGE};

const SECRET: &str = "0123456789abcdef0123456789abcdef-arende";
const SOCIAL_SECRET: &str = "fedcba9876543210fedcba9876543210-social";

/// A receiver on 127.0.0.1:0: answers from its script (200 when it runs out) and keeps what came.
#[derive(Clone, Default)]
struct Receiver {
    script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let me = me.clone();
                async move {
                    me.got.lock().unwrap().push((headers, body));
                    let status = me.script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}/hook")
    }

    fn got(&self) -> Vec<(HeaderMap, Bytes)> {
        self.got.lock().unwrap().clone()
    }

    /// The bodies received for an event, each after its signature was checked.
    fn events(&self, secret: &str, event: &str) -> Vec<Value> {
        self.got()
            .iter()
            .filter(|(h, _)| h["x-tavla-event"] == event)
            .map(|(h, body)| {
                verify(secret, h["x-tavla-signature"].to_str().unwrap(), body);
                serde_json::from_slice(body).unwrap()
            })
            .collect()
    }
}

/// Checks `t=…,v1=…` as a receiver would: HMAC-SHA256 of "<t>.<body>" with the shared secret.
fn verify(secret: &str, header: &str, body: &[u8]) {
    let (t, v1) = header.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    assert_eq!(
        v1,
        hex::encode(mac.finalize().into_bytes()),
        "the signature holds"
    );
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..600).contains(&age), "signed at sending time");
}

fn integrations_file(dir: &Path, arende: &str, social: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("arende.secret"), SECRET).unwrap();
    std::fs::write(dir.join("social.secret"), SOCIAL_SECRET).unwrap();
    let text = format!(
        "units = [\"Bygglov\", \"Socialtjänsten\"]\n\n\
         [[receiver]]\nname = \"arendesystem\"\nurl = \"{arende}\"\nsecret_file = \"{}\"\n\
         events = [\"case.closed_with_police_report\", \"conversation.handed_over\"]\n\n\
         [[receiver]]\nname = \"socialtjansten\"\nurl = \"{social}\"\nsecret_file = \"{}\"\n\
         events = [\"conversation.handed_over\"]\ninclude_dm_text = true\n",
        dir.join("arende.secret").display(),
        dir.join("social.secret").display()
    );
    let path = dir.join("integrations.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Reports a comment at S3 and walks the routine to closing, with a police report or without.
async fn close_s3_case(app: &TestApp, moderator: &str, id: &str, text: &str, police: bool) -> i64 {
    let message = comment_at(app, id, text, json!(now())).await;
    let reporter = app.token(&format!("reporter-{id}"), "communicator").await;
    let r = app
        .post(
            &reporter,
            &format!("/api/v1/messages/{message}/report"),
            json!({"reason": "Hot mot personal", "level": "S3"}),
        )
        .await;
    assert!(r.status().is_success(), "report: {}", r.status());
    let case = r.json::<Value>().await.unwrap()["case_id"]
        .as_i64()
        .unwrap();
    let mut steps = vec![
        json!({"step": "remove"}),
        json!({"step": "register", "reference": "KS 2026/77"}),
        json!({"step": "block"}),
    ];
    if police {
        steps.push(json!({"step": "police_report", "reference": "5000-K777777-26"}));
    }
    for body in steps {
        let r = step(app, moderator, case, body.clone()).await;
        assert_eq!(r.status(), 201, "{body}");
    }
    let closed = app
        .post(
            moderator,
            &format!("/api/v1/moderation/cases/{case}/close"),
            json!({"decision": "Borttaget och anmält"}),
        )
        .await;
    assert_eq!(closed.status(), 200);
    case
}

async fn scenario(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (arende, social) = (Receiver::default(), Receiver::default());
    // The case-management system is down for the first attempt.
    arende.script.lock().unwrap().push_back(503);
    let file = integrations_file(dir.path(), &arende.start().await, &social.start().await);
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.integrations_file = file;
        s.delivery_workers = 1;
        s.delivery_retry_base_ms = 50;
        s.delivery_retry_max_seconds = 1;
    })
    .await
    else {
        return;
    };
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let moderator = app.token("moderator", "moderator").await;

    // Closed without a police report: nobody hears of it. Then one with a report.
    close_s3_case(
        &app,
        &moderator,
        "c-no-report",
        "Handläggaren på bygglov är helt värdelös",
        false,
    )
    .await;
    let case = close_s3_case(
        &app,
        &moderator,
        "c-report",
        "Handläggaren borde få sparken, skandal",
        true,
    )
    .await;
    let delivered = eventually("the case-management system to take the case", || async {
        let events = arende.events(SECRET, "case.closed_with_police_report");
        (arende.got().len() >= 2 && !events.is_empty()).then_some(events)
    })
    .await;
    let got = arende.got();
    assert_eq!(got.len(), 2, "the 503, then the delivery taken");
    assert_eq!(
        got[0].0["x-tavla-delivery"], got[1].0["x-tavla-delivery"],
        "a retry is the same delivery"
    );
    assert!(
        delivered.iter().all(|d| d["case"]["id"] == case),
        "only the case with a police report"
    );
    let body = &delivered[0];
    assert_eq!(body["event"], "case.closed_with_police_report");
    assert_eq!(
        body["case"]["police_report"]["reference"],
        "5000-K777777-26"
    );
    assert_eq!(body["case"]["level"], "S3");
    assert_eq!(
        body["message"]["text"], "Handläggaren borde få sparken, skandal",
        "a public comment's words go along"
    );
    assert_eq!(body["channel"]["platform_id"], PAGE);

    // A DM conversation handed to a unit: its words only to the receiver entitled to them.
    assert_eq!(
        app.webhook(&dm(
            "person-7",
            "mid-7",
            "Jag behöver hjälp med min ansökan om bistånd",
            now()
        ))
        .await
        .status(),
        200
    );
    let agent = app.token("agent", "agent").await;
    let conversation = app.conversations(&agent, "queue=dm").await[0]["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/conversations/{conversation}/handover");
    let nowhere = app
        .post(&agent, &path, json!({"unit": "Månlandning"}))
        .await;
    assert_eq!(nowhere.status(), 422);
    assert!(nowhere
        .text()
        .await
        .unwrap()
        .contains("Bygglov, Socialtjänsten"));
    let communicator = app.token("comm", "communicator").await;
    assert_eq!(
        app.post(&communicator, &path, json!({"unit": "Socialtjänsten"}))
            .await
            .status(),
        403
    );
    let handed = app
        .post(
            &agent,
            &path,
            json!({"unit": "Socialtjänsten", "note": "Vill söka bistånd"}),
        )
        .await;
    assert_eq!(handed.status(), 201);
    let (to_arende, to_social) = eventually("both receivers to hear of the handover", || async {
        let a = arende.events(SECRET, "conversation.handed_over");
        let s = social.events(SOCIAL_SECRET, "conversation.handed_over");
        (!a.is_empty() && !s.is_empty()).then_some((a, s))
    })
    .await;
    for body in [&to_arende[0], &to_social[0]] {
        assert_eq!(body["handover"]["unit"], "Socialtjänsten");
        assert_eq!(body["handover"]["note"], "Vill söka bistånd");
        assert_eq!(body["handover"]["handed_by"], "agent");
        assert_eq!(body["conversation"]["id"], conversation);
    }
    assert_eq!(
        to_arende[0]["latest_message"]["text"],
        Value::Null,
        "{}",
        to_arende[0]
    );
    assert!(to_arende[0]["latest_message"]["text_withheld"]
        .as_str()
        .unwrap()
        .contains("include_dm_text"));
    let everything = String::from_utf8_lossy(
        &arende
            .got()
            .iter()
            .flat_map(|(_, b)| b.to_vec())
            .collect::<Vec<u8>>(),
    )
    .to_string();
    assert!(
        !everything.contains("bistånd om") && !everything.contains("min ansökan"),
        "no DM words reach it"
    );
    assert_eq!(
        to_social[0]["latest_message"]["text"],
        "Jag behöver hjälp med min ansökan om bistånd"
    );

    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit where action = 'conversation.handed_over'")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
    eventually("the three deliveries to be recorded as taken", || async {
        let sent: i64 =
            sqlx::query_scalar("select count(*) from webhook_outbox where status = 'sent'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        (sent == 3).then_some(())
    })
    .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("tavla_delivery_failures_total{action=\"webhook\",reason=\"receiver_fault\",outcome=\"retry\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tavla_webhook_deliveries{status=\"sent\"} 3"),
        "{metrics}"
    );
}

mod a_police_report_and_a_handover_reach_the_receivers {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::scenario(super::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::scenario(super::Backend::Postgres).await;
    }
}
