//! Small promises with large consequences: /metrics is not public, API answers are never cached,
//! and a store fault's text never reaches the caller.

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::webhooks::dm_batch;
use crate::{on_both_backends, on_both_backends_with};

const PAGE: &str = "520000000000001";

async fn scrape(app: &TestApp, token: Option<&str>, forwarded: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    request.send().await.unwrap()
}

on_both_backends!(
    metrics_are_for_the_local_scraper_by_default,
    |app: TestApp| async move {
        // From this machine (loopback): allowed without a token.
        let local = scrape(&app, None, None).await;
        assert_eq!(local.status(), 200);
        assert!(local.text().await.unwrap().contains("tavla_queue_depth"));
        // Forwarded by a proxy that is not trusted: it came from elsewhere, so not admitted.
        let forwarded = scrape(&app, None, Some("203.0.113.9")).await;
        assert_eq!(forwarded.status(), 403);
        assert!(forwarded.text().await.unwrap().contains("metrics_token"));
    }
);

on_both_backends_with!(
    metrics_need_the_scrape_token_when_no_address_is_allowed,
    |s: &mut tavla::settings::Settings| {
        s.metrics_addresses = vec![];
        s.metrics_token = "scrape-secret-4711".into();
    },
    |app: TestApp| async move {
        let staff = app.token("admin", "admin").await;
        for (token, why) in [
            (None, "no token"),
            (Some("wrong"), "a wrong token"),
            (Some(staff.as_str()), "a staff token"),
        ] {
            let r = scrape(&app, token, None).await;
            assert_eq!(r.status(), 401, "{why}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
        let ok = scrape(&app, Some("scrape-secret-4711"), None).await;
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("tavla_queue_depth"));
    }
);

fn cache_control(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

on_both_backends!(
    api_answers_are_never_stored_by_caches,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let agent = app.token("agent", "agent").await;
        let answers = [
            app.get(&agent, "/api/v1/me").await,
            app.get(&agent, "/api/v1/conversations").await,
            app.get(&agent, "/api/v1/openapi.json").await,
            app.get(&agent, "/api/v1/events").await,
            app.get(&agent, "/api/v1/no-such-thing").await,
            app.client.get(app.url("/api/v1/me")).send().await.unwrap(),
            app.webhook(&dm_batch(&[(PAGE, "u1", "m1", "Hej")])).await,
            app.webhook_with_signature(b"{}", None).await,
        ];
        for answer in &answers {
            assert_eq!(
                cache_control(answer),
                "no-store",
                "{} {}",
                answer.url(),
                answer.status()
            );
        }
        // The console's files keep their own rules (ETags, revalidation).
        let page = app.client.get(app.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers().contains_key("etag"));
        assert_ne!(cache_control(&page), "no-store");
    }
);

/// Makes every write to the outbox fail inside the database, with a message that must stay there.
async fn break_the_outbox(app: &TestApp) {
    let statements: &[&str] = if app.settings.database_url.expose().starts_with("sqlite") {
        &[
            "create trigger broken_outbox before insert on outbox begin \
           select raise(abort, 'disk full at /srv/tavla-internal-4711'); end",
        ]
    } else {
        &[
            "create function broken_outbox() returns trigger language plpgsql as \
             $$ begin raise exception 'disk full at /srv/tavla-internal-4711'; end $$",
            "create trigger broken_outbox before insert on outbox \
             for each row execute function broken_outbox()",
        ]
    };
    for statement in statements {
        sqlx::query(statement)
            .execute(&app.store.pool)
            .await
            .unwrap();
    }
}

on_both_backends!(
    a_store_fault_is_logged_not_shown,
    |app: TestApp| async move {
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let moderator = app.token("moderator", "moderator").await;
        let comment = json!({"messages": [{"platform": "facebook", "channel": PAGE, "kind": "comment",
            "id": "c1", "author": {"id": "u2"}, "text": "Dumt", "time": 1, "post_id": "p1"}]});
        assert_eq!(
            app.post(&admin, "/api/v1/messages", comment).await.status(),
            200
        );
        let message: i64 = sqlx::query_scalar("select id from messages")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        let reported = app
            .post(
                &moderator,
                &format!("/api/v1/messages/{message}/report"),
                json!({"reason": "Förolämpning", "level": "S2"}),
            )
            .await;
        assert_eq!(reported.status(), 201);
        let case = reported.json::<Value>().await.unwrap()["case_id"]
            .as_i64()
            .unwrap();

        break_the_outbox(&app).await;
        let step = app
            .post(
                &moderator,
                &format!("/api/v1/moderation/cases/{case}/steps"),
                json!({"step": "hide"}),
            )
            .await;
        // The step and what it sends to the platform are written together (src/store/
        // moderation.rs take_step), so the fault refuses the whole step: and says so without
        // the store's own words.
        assert_eq!(step.status(), 500);
        let problem: Value = step.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            !problem.to_string().contains("4711") && !detail.contains("database"),
            "the store's words stay in the log: {problem}"
        );
        assert!(problem["error_id"].is_string(), "{problem}");
    }
);
