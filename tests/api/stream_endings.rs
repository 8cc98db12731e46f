//! Sessions end everywhere at once: a live event stream closes soon after the session or token it
//! was opened with stops being valid, whatever ended it: idle or absolute expiry, sign-out, a
//! password change elsewhere, a role change (or a change of the set of roles), disabling, or
//! revocation of the API token.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{actor, TestApp};
use crate::on_both_backends;

const PASSWORD: &str = "ett långt lösenord";

/// How long a stream may outlive the event that ends it (it rechecks every few seconds).
const DEADLINE: Duration = Duration::from_secs(10);

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

/// A trained staff member with a password and an API token; returns (id, token).
async fn person(app: &TestApp, username: &str, role: &str) -> (i64, String) {
    let hash = tavla::access::hash_password(PASSWORD).unwrap();
    let staff = app
        .store
        .add_staff(username, role, Some(&hash), &actor())
        .await
        .unwrap();
    app.train(staff.id, "all").await;
    let token = tavla::access::new_token();
    app.store
        .add_api_token(staff.id, &token, &actor())
        .await
        .unwrap();
    (staff.id, token)
}

async fn sign_in(app: &TestApp, username: &str) -> Browser {
    let r = app
        .client
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "sign-in");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = r.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    Browser { cookie, csrf }
}

async fn stream_of(app: &TestApp, browser: &Browser) -> reqwest::Response {
    let r = app
        .client
        .get(app.url("/api/v1/events"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the stream opens");
    r
}

async fn token_stream(app: &TestApp, token: &str) -> reqwest::Response {
    let r = app.get(token, "/api/v1/events").await;
    assert_eq!(r.status(), 200, "the stream opens");
    r
}

/// True when the response body finishes (or the connection closes) within the deadline.
pub async fn ends(response: reqwest::Response) -> bool {
    let mut body = response.bytes_stream();
    tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await
    .is_ok()
}

/// Moves the person's sessions back in time, as if `column` had been set that long ago.
async fn age_sessions(app: &TestApp, staff_id: i64, column: &str, by_ms: i64) {
    let at = chrono::Utc::now().timestamp_millis() - by_ms;
    sqlx::query(&format!(
        "update sessions set {column} = $1 where staff_id = $2"
    ))
    .bind(at)
    .bind(staff_id)
    .execute(&app.store.pool)
    .await
    .unwrap();
}

async fn me_status(app: &TestApp, browser: &Browser) -> u16 {
    app.client
        .get(app.url("/api/v1/me"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

on_both_backends!(a_stream_ends_at_idle_expiry, |app: TestApp| async move {
    let (id, _) = person(&app, "ida", "agent").await;
    let browser = sign_in(&app, "ida").await;
    let stream = stream_of(&app, &browser).await;
    // Nothing but the stream since then: the session has been idle past its limit.
    let idle_ms = (app.settings.session_idle_minutes + 1) * 60_000;
    age_sessions(&app, id, "last_seen_at", idle_ms).await;
    assert!(ends(stream).await, "the stream closes at idle expiry");
    assert_eq!(me_status(&app, &browser).await, 401);
});

on_both_backends!(
    a_stream_ends_at_absolute_expiry,
    |app: TestApp| async move {
        let (id, _) = person(&app, "axel", "agent").await;
        let browser = sign_in(&app, "axel").await;
        let stream = stream_of(&app, &browser).await;
        // In use all along (last seen now), but signed in longer ago than the absolute limit.
        let absolute_ms = app.settings.session_absolute_hours * 3_600_000 + 60_000;
        age_sessions(&app, id, "created_at", absolute_ms).await;
        assert!(ends(stream).await, "the stream closes at absolute expiry");
        assert_eq!(me_status(&app, &browser).await, 401);
    }
);

on_both_backends!(a_stream_ends_at_sign_out, |app: TestApp| async move {
    person(&app, "siv", "agent").await;
    let browser = sign_in(&app, "siv").await;
    let stream = stream_of(&app, &browser).await;
    let out = app
        .client
        .delete(app.url("/api/v1/session"))
        .header("cookie", &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(ends(stream).await, "the stream closes at sign-out");
});

on_both_backends!(
    a_stream_ends_when_the_password_changes_elsewhere,
    |app: TestApp| async move {
        person(&app, "per", "agent").await;
        let laptop = sign_in(&app, "per").await;
        let phone = sign_in(&app, "per").await;
        let stream = stream_of(&app, &laptop).await;
        let changed = app
            .client
            .post(app.url("/api/v1/me/password"))
            .header("cookie", &phone.cookie)
            .header("x-csrf-token", &phone.csrf)
            .json(&json!({"current_password": PASSWORD, "new_password": "ett nytt långt lösenord"}))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 204);
        assert!(ends(stream).await, "the other session's stream closes");
    }
);

/// An administrator changes the person; both their streams (session and token) close.
async fn change_ends_both_streams(app: TestApp, change: Value) {
    let (id, token) = person(&app, "rut", "agent").await;
    let admin = app.token("admin", "admin").await;
    let browser = sign_in(&app, "rut").await;
    let by_session = stream_of(&app, &browser).await;
    let by_token = token_stream(&app, &token).await;
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/staff/{id}")))
        .bearer_auth(&admin)
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{change}");
    let (a, b) = tokio::join!(ends(by_session), ends(by_token));
    assert!(a, "the session's stream closes after {change}");
    assert!(b, "the token's stream closes after {change}");
}

on_both_backends!(a_stream_ends_at_a_role_change, |app: TestApp| async move {
    change_ends_both_streams(app, json!({"role": "communicator"})).await;
});

on_both_backends!(
    a_stream_ends_when_the_set_of_roles_changes,
    |app: TestApp| async move {
        change_ends_both_streams(app, json!({"roles": ["agent", "moderator"]})).await;
    }
);

on_both_backends!(
    a_stream_ends_when_the_account_is_disabled,
    |app: TestApp| async move {
        change_ends_both_streams(app, json!({"disabled": true})).await;
    }
);

on_both_backends!(
    a_stream_ends_when_its_token_is_revoked,
    |app: TestApp| async move {
        let (id, token) = person(&app, "tor", "agent").await;
        let admin = app.token("admin", "admin").await;
        let stream = token_stream(&app, &token).await;
        let r = app
            .client
            .delete(app.url(&format!("/api/v1/staff/{id}/tokens")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(ends(stream).await, "the token's stream closes");
    }
);
