//! Signing in as an attacker would try it: many guesses at once (the limit must be reserved before
//! the password is checked), many sign-ins at once (password hashes must not exhaust memory),
//! over-long names and passwords, floods of unknown names (the audit trail must not grow without
//! bound), and one address's failures (which must not lock out everyone behind a NAT or proxy).

use futures::future::join_all;
use serde_json::{json, Value};
use tavla::settings::Settings;

use crate::access::{sign_in, staff_with_password};
use crate::helpers::TestApp;
use crate::{on_both_backends, on_both_backends_with};

const RIGHT: &str = "ett långt och rätt lösenord";
const WRONG: &str = "fel lösenord";

/// Signs in as if through a trusted proxy that saw the client at `from`.
async fn sign_in_from(app: &TestApp, username: &str, password: &str, from: &str) -> u16 {
    app.client
        .post(app.url("/api/v1/session"))
        .header("x-forwarded-for", from)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn token_for(app: &TestApp, staff_id: i64) -> String {
    let token = tavla::access::new_token();
    app.store
        .add_api_token(staff_id, &token, &crate::helpers::actor())
        .await
        .unwrap();
    token
}

async fn change_password(
    app: &TestApp,
    token: &str,
    current: &str,
    new: &str,
) -> reqwest::Response {
    app.post(
        token,
        "/api/v1/me/password",
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

/// Signs in at once as `n` different names that do not exist, so no limit stops them.
async fn unknown_names_at_once(app: &TestApp, prefix: &str, n: usize) -> Vec<reqwest::Response> {
    join_all((0..n).map(|i| {
        let name = format!("{prefix}-{i}");
        async move { sign_in(app, &name, "en gissning").await }
    }))
    .await
}

/// A refusal that tells when to come back: Retry-After of at least a second.
fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{} without Retry-After", response.status()))
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap()
}

/// Splits answers into (checked, refused as locked): every answer must be one of the two.
async fn checked_or_locked(answers: Vec<reqwest::Response>, checked_status: u16) -> (usize, usize) {
    let (mut checked, mut locked) = (0, 0);
    for r in answers {
        match r.status().as_u16() {
            s if s == checked_status => checked += 1,
            429 => {
                assert!(retry_after(&r) >= 1);
                assert!(r.text().await.unwrap().contains("try again in"));
                locked += 1;
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }
    (checked, locked)
}

async fn count_where(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
}

/// One sample of a metric, by its exact name (no labels).
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("/metrics has no {name}:\n{text}"))
        .parse()
        .unwrap()
}

// Finding 5: the limit was checked before the hash and counted after, so guesses sent at once
// were all checked. Here they arrive at two instances on one database.
on_both_backends_with!(
    concurrent_wrong_passwords_are_counted_before_they_are_checked,
    |s: &mut Settings| s.password_hash_wait_ms = 600_000,
    |app: TestApp| async move {
        let id = staff_with_password(&app, "bertil", "agent", RIGHT).await;
        let second = app.second_instance().await;
        let answers = join_all((0..40).map(|i| {
            let instance = if i % 2 == 0 { &app } else { &second };
            sign_in(instance, "bertil", WRONG)
        }))
        .await;
        let limit = app.settings.signin_max_failures_per_account_and_address;
        let (checked, locked) = checked_or_locked(answers, 401).await;
        assert_eq!(
            (checked, locked),
            (limit, 40 - limit),
            "only the limit's worth of guesses is checked; the rest are refused unchecked"
        );
        assert_eq!(
            count_where(
                &app,
                "select count(*) from signin_failures where username = 'bertil'"
            )
            .await,
            limit as i64
        );
        let audited = count_where(
            &app,
            &format!("select count(*) from audit where action = 'signin.failure' and target = 'staff:{id}'"),
        )
        .await;
        assert_eq!(audited, limit as i64);
        // While the limit holds, the right password is refused too, on either instance.
        for instance in [&app, &second] {
            let r = sign_in(instance, "bertil", RIGHT).await;
            assert_eq!(r.status(), 429);
            assert!(retry_after(&r) >= 1);
        }
    }
);

// Finding 5, for a password change: the current password is guessed under the same limits and
// the same reservation, and a change's failures count against signing in.
on_both_backends_with!(
    a_password_change_is_limited_like_signing_in,
    |s: &mut Settings| s.password_hash_wait_ms = 600_000,
    |app: TestApp| async move {
        let id = staff_with_password(&app, "dora", "agent", RIGHT).await;
        let token = token_for(&app, id).await;
        let answers = join_all(
            (0..20).map(|_| change_password(&app, &token, WRONG, "ett nytt långt lösenord")),
        )
        .await;
        let limit = app.settings.signin_max_failures_per_account_and_address;
        assert_eq!(checked_or_locked(answers, 403).await, (limit, 20 - limit));
        let r = change_password(&app, &token, RIGHT, "ett nytt långt lösenord").await;
        assert_eq!(r.status(), 429);
        assert_eq!(sign_in(&app, "dora", RIGHT).await.status(), 429);
    }
);

// Memory: every sign-in hashes (argon2, ~19 MiB), so hashes run a few at a time and the rest are
// told to come back, never answered 500 and never queued without bound.
on_both_backends_with!(
    password_hashes_run_a_few_at_a_time,
    |s: &mut Settings| {
        s.password_hash_concurrency = 1;
        s.password_hash_wait_ms = 0;
    },
    |app: TestApp| async move {
        let mut busy = 0;
        // Different unknown names, so no limit stops them before their hash.
        for round in 0..10 {
            let answers = unknown_names_at_once(&app, &format!("okänd-{round}"), 50).await;
            for r in answers {
                match r.status().as_u16() {
                    401 | 429 => {}
                    503 => {
                        assert!(retry_after(&r) >= 1);
                        let problem: Value = r.json().await.unwrap();
                        assert!(
                            problem["detail"].as_str().unwrap().contains("try again"),
                            "{problem}"
                        );
                        busy += 1;
                    }
                    other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
                }
            }
            if busy > 0 {
                break;
            }
        }
        assert!(busy > 0, "fifty sign-ins at once find the only hash busy");
        assert_eq!(metric(&app, "tavla_password_hash_limit").await, 1.0);
        assert_eq!(
            metric(&app, "tavla_password_hashes_in_progress_max").await,
            1.0,
            "never more hashes at once than the setting"
        );
        assert_eq!(
            metric(&app, "tavla_password_hashes_refused_total").await,
            busy as f64
        );
        assert_eq!(metric(&app, "tavla_password_hashes_in_progress").await, 0.0);
    }
);

// Finding 6: a 900,000-character username was written to the audit trail and the failure table.
on_both_backends!(
    over_long_names_and_passwords_are_refused_before_anything_is_stored,
    |app: TestApp| async move {
        let id = staff_with_password(&app, "cecilia", "agent", RIGHT).await;
        let token = token_for(&app, id).await;
        let admin = app.token("admin", "admin").await;
        let stored = || async { (app.count("audit").await, app.count("signin_failures").await) };
        let before = stored().await;
        let refusals = [
            (
                sign_in(&app, &"a".repeat(200_000), "x").await,
                "64 characters",
            ),
            (sign_in(&app, &"å".repeat(65), "x").await, "64 characters"),
            (sign_in(&app, "", "x").await, "username"),
            (
                sign_in(&app, "cecilia", &"x".repeat(1025)).await,
                "1024 bytes",
            ),
            (
                sign_in(&app, "cecilia", &"ä".repeat(513)).await,
                "1024 bytes",
            ),
            (
                change_password(
                    &app,
                    &token,
                    &"x".repeat(100_000),
                    "ett nytt långt lösenord",
                )
                .await,
                "1024 bytes",
            ),
            (
                change_password(&app, &token, RIGHT, &"x".repeat(100_000)).await,
                "1024 bytes",
            ),
            // An administrator's new account is held to the same bound (and the same slots).
            (
                app.post(
                    &admin,
                    "/api/v1/staff",
                    json!({"username": "dora", "role": "agent", "password": "x".repeat(100_000)}),
                )
                .await,
                "1024 bytes",
            ),
        ];
        for (r, says) in refusals {
            assert_eq!(r.status(), 422);
            let problem: Value = r.json().await.unwrap();
            assert!(
                problem["detail"].as_str().unwrap().contains(says),
                "{problem}"
            );
        }
        assert_eq!(stored().await, before, "nothing was written");
        // The longest name allowed is checked and recorded like any other.
        assert_eq!(sign_in(&app, &"å".repeat(64), "x").await.status(), 401);
        assert_eq!(sign_in(&app, "cecilia", RIGHT).await.status(), 200);
    }
);

// Anonymous growth: failures for names that do not exist are recorded one by one only up to a
// cap per window, then counted; a failure against a real account is still audited.
on_both_backends_with!(
    unknown_names_grow_the_audit_trail_by_a_bounded_amount,
    |s: &mut Settings| s.password_hash_wait_ms = 600_000,
    |app: TestApp| async move {
        let id = staff_with_password(&app, "erik", "agent", RIGHT).await;
        let before = (app.count("audit").await, app.count("signin_failures").await);
        for batch in 0..50 {
            let answers = unknown_names_at_once(&app, &format!("gissning-{batch}"), 10).await;
            for r in answers {
                assert_eq!(r.status(), 401);
            }
        }
        let audit_added = app.count("audit").await - before.0;
        let rows_added = app.count("signin_failures").await - before.1;
        let cap = app.settings.signin_unknown_recorded_per_window as i64;
        // One entry each up to the cap, then one at the 1st, 10th, 100th... beyond it; a window
        // may end during the flood, so allow two windows' worth.
        assert!(
            audit_added <= 2 * (cap + 4),
            "{audit_added} audit entries for 500 guesses"
        );
        assert!(
            rows_added <= 2 * (cap + 1),
            "{rows_added} failure rows for 500 guesses"
        );
        // Nothing is lost: the rows count every failure.
        assert_eq!(
            count_where(
                &app,
                "select cast(coalesce(sum(attempts), 0) as bigint) from signin_failures"
            )
            .await,
            500
        );
        assert!(
            count_where(
                &app,
                "select count(*) from audit where action = 'signin.failure.flood'"
            )
            .await
                >= 1,
            "the trail says failures were counted, not recorded"
        );
        // A guess at a real account is audited whatever the flood.
        assert_eq!(sign_in(&app, "erik", WRONG).await.status(), 401);
        let audited = count_where(
            &app,
            &format!("select count(*) from audit where action = 'signin.failure' and target = 'staff:{id}'"),
        )
        .await;
        assert_eq!(audited, 1);
    }
);

// Finding 14: failures counted per address locked out everyone behind one NAT or proxy.
on_both_backends_with!(
    one_address_failing_does_not_lock_out_its_other_accounts,
    |s: &mut Settings| s.trusted_proxies = vec!["127.0.0.1".into()],
    |app: TestApp| async move {
        const OFFICE: &str = "198.51.100.20";
        for name in ["x1", "x2", "x3", "x4", "x5", "ylva"] {
            staff_with_password(&app, name, "agent", RIGHT).await;
        }
        // Someone in the office guesses at four colleagues' accounts, five times each.
        for name in ["x1", "x2", "x3", "x4"] {
            for _ in 0..5 {
                assert_eq!(sign_in_from(&app, name, WRONG, OFFICE).await, 401);
            }
        }
        // Ylva, in the same office, still signs in.
        assert_eq!(sign_in_from(&app, "ylva", RIGHT, OFFICE).await, 200);
        assert_eq!(sign_in_from(&app, "x5", WRONG, OFFICE).await, 401);
        // A guessed-at account is held from the guesser's address, not from its owner's.
        assert_eq!(sign_in_from(&app, "x1", RIGHT, OFFICE).await, 429);
        assert_eq!(sign_in_from(&app, "x1", RIGHT, "203.0.113.7").await, 200);
        // A guesser spread over many addresses is held by the limit for the account as a whole.
        let per_account = app.settings.signin_max_failures_per_account;
        for i in 0..per_account {
            assert_eq!(
                sign_in_from(&app, "ylva", WRONG, &format!("192.0.2.{i}")).await,
                401
            );
        }
        assert_eq!(sign_in_from(&app, "ylva", RIGHT, "192.0.2.250").await, 429);
    }
);

// Behind a reverse proxy: the client is the nearest address that is not a trusted proxy, read
// from the right of X-Forwarded-For across all its header lines; a hop that is no address is
// not skipped over (what lies left of it may be forged).
on_both_backends_with!(
    forwarded_addresses_are_read_from_the_right,
    |s: &mut Settings| s.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()],
    |app: TestApp| async move {
        staff_with_password(&app, "frida", "agent", RIGHT).await;
        let sign_in_with = |lines: &'static [&'static str]| {
            let mut request = app.client.post(app.url("/api/v1/session"));
            for line in lines {
                request = request.header("x-forwarded-for", *line);
            }
            request
                .json(&json!({"username": "frida", "password": RIGHT}))
                .send()
        };
        for (lines, client) in [
            (&["203.0.113.66, 198.51.100.5"][..], "198.51.100.5"),
            (
                &["203.0.113.66", "198.51.100.6, 10.1.2.3"][..],
                "198.51.100.6",
            ),
            (&["198.51.100.7, not-an-address"][..], "127.0.0.1"),
        ] {
            assert_eq!(sign_in_with(lines).await.unwrap().status(), 200);
            let address: String = sqlx::query_scalar(
                "select address from audit where action = 'signin.success' order by id desc limit 1",
            )
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
            assert_eq!(address, client, "{lines:?}");
        }
    }
);
