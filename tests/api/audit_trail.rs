//! The audit trail detects truncation: its head is anchored beside the table (updated in the
//! same transaction as each entry) and can be kept outside the database (`tavla audit head`,
//! `tavla audit verify --expect ID:HASH`). Deleting the newest entries, all of them, or editing
//! one in the middle is found, by the library check and by the command line.

use crate::helpers::TestApp;
use crate::on_both_backends;

/// `tavla audit …` against the test's database: exit status, standard output and error.
fn tavla_audit(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tavla"))
        .arg("audit")
        .args(args)
        .env("TAVLA_DATABASE_URL", app.settings.database_url.expose())
        .env("TAVLA_DATA_DIR", &app.settings.data_dir)
        .env("TAVLA_LOG_LEVEL", "warn")
        .output()
        .expect("tavla runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Staff who read, several at once: every read is an entry, and entries written concurrently
/// still form one chain.
async fn many_entries(app: &TestApp, reads: usize) -> i64 {
    let agent = app.token("agent", "agent").await;
    let reads = (0..reads).map(|_| app.get_json(&agent, "/api/v1/conversations?status=open"));
    futures::future::join_all(reads).await;
    app.count("audit").await
}

async fn last_ids(app: &TestApp, n: i64) -> Vec<i64> {
    sqlx::query_scalar("select id from audit order by id desc limit $1")
        .bind(n)
        .fetch_all(&app.store.pool)
        .await
        .unwrap()
}

async fn delete_from(app: &TestApp, first: i64) {
    sqlx::query("delete from audit where id >= $1")
        .bind(first)
        .execute(&app.store.pool)
        .await
        .unwrap();
}

on_both_backends!(
    an_intact_trail_with_many_entries_passes,
    |app: TestApp| async move {
        let entries = many_entries(&app, 40).await;
        assert!(entries > 40, "{entries}");
        assert_eq!(app.store.verify_audit().await.unwrap(), Ok(entries));
        let (ok, out, err) = tavla_audit(&app, &["verify"]);
        assert!(ok, "{err}");
        assert!(out.contains(&format!("{entries} entries checked")), "{out}");
        // The head an operator keeps elsewhere, checked later while the trail has grown.
        let (ok, head, err) = tavla_audit(&app, &["head"]);
        assert!(ok, "{err}");
        let head = head.trim().to_string();
        many_entries_more(&app).await;
        let (ok, out, err) = tavla_audit(&app, &["verify", "--expect", &head]);
        assert!(ok, "{out}{err}");
    }
);

async fn many_entries_more(app: &TestApp) {
    let agent = app.token("agent2", "agent").await;
    for _ in 0..5 {
        app.get_json(&agent, "/api/v1/conversations").await;
    }
}

on_both_backends!(
    deleting_the_newest_entries_is_found,
    |app: TestApp| async move {
        many_entries(&app, 20).await;
        let newest = last_ids(&app, 3).await;
        let first_gone = *newest.last().unwrap();
        delete_from(&app, first_gone).await;
        let left = last_ids(&app, 1).await[0];
        let broken = app
            .store
            .verify_audit()
            .await
            .unwrap()
            .expect_err("a truncated trail does not verify");
        assert_eq!(broken.id, newest[0], "the anchored head is named");
        assert!(broken.reason.contains("missing"), "{}", broken.reason);
        let (ok, _, err) = tavla_audit(&app, &["verify"]);
        assert!(!ok, "the command fails");
        assert!(
            err.contains(&format!("broken at entry {}", newest[0])),
            "{err}"
        );
        assert!(
            err.contains(&format!("ends at entry {left}")),
            "the first broken point is stated: {err}"
        );

        // New entries after the cut do not hide it.
        many_entries_more(&app).await;
        assert!(app.store.verify_audit().await.unwrap().is_err());
        let (ok, _, err) = tavla_audit(&app, &["verify"]);
        assert!(!ok, "{err}");
    }
);

on_both_backends!(deleting_every_entry_is_found, |app: TestApp| async move {
    many_entries(&app, 5).await;
    let head = last_ids(&app, 1).await[0];
    sqlx::query("delete from audit")
        .execute(&app.store.pool)
        .await
        .unwrap();
    let broken = app.store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, head);
    let (ok, _, err) = tavla_audit(&app, &["verify"]);
    assert!(!ok);
    assert!(err.contains("the trail is empty"), "{err}");
});

on_both_backends!(
    an_edit_in_the_middle_is_still_found,
    |app: TestApp| async move {
        many_entries(&app, 10).await;
        let middle = last_ids(&app, 6).await[5];
        sqlx::query("update audit set actor = 'någon annan' where id = $1")
            .bind(middle)
            .execute(&app.store.pool)
            .await
            .unwrap();
        let broken = app.store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, middle);
        let (ok, _, err) = tavla_audit(&app, &["verify"]);
        assert!(!ok);
        assert!(err.contains(&format!("broken at entry {middle}")), "{err}");
    }
);

on_both_backends!(
    a_cut_covered_up_in_the_database_is_found_by_the_kept_head,
    |app: TestApp| async move {
        many_entries(&app, 10).await;
        let (ok, kept, err) = tavla_audit(&app, &["head"]);
        assert!(ok, "{err}");
        let kept = kept.trim().to_string();
        let newest = last_ids(&app, 3).await;
        delete_from(&app, newest[2]).await;
        // Someone who knows about the anchor moves it back to what is left.
        sqlx::query(
            "update audit_head set last_id = (select max(id) from audit), \
             entries = (select count(*) from audit), \
             hash = (select hash from audit order by id desc limit 1)",
        )
        .execute(&app.store.pool)
        .await
        .unwrap();
        let (ok, _, err) = tavla_audit(&app, &["verify"]);
        assert!(ok, "the database alone cannot tell: {err}");
        let (ok, _, err) = tavla_audit(&app, &["verify", "--expect", &kept]);
        assert!(!ok, "the copy kept elsewhere can");
        assert!(
            err.contains(&format!("broken at entry {}", newest[0])),
            "{err}"
        );
        let wrong_hash = format!("12:{}", "0".repeat(64));
        let (ok, _, err) = tavla_audit(&app, &["verify", "--expect", &wrong_hash]);
        assert!(!ok);
        assert!(err.contains("entry 12"), "{err}");
        let (ok, _, err) = tavla_audit(&app, &["verify", "--expect", "nonsense"]);
        assert!(!ok);
        assert!(err.contains("ID:HASH"), "{err}");
    }
);

on_both_backends!(
    erasure_and_retention_leave_the_trail_whole,
    |app: TestApp| async move {
        const PAGE: &str = "940000000000001";
        app.register_channel("facebook", PAGE, "Kommunen").await;
        let admin = app.token("admin", "admin").await;
        let messages: Vec<_> = ["p1", "p2"]
            .iter()
            .map(|person| {
                serde_json::json!({"platform": "facebook", "channel": PAGE, "kind": "dm",
                    "id": format!("m-{person}"), "author": {"id": person}, "text": "Hej",
                    "time": 1_700_000_000_000i64})
            })
            .collect();
        let r = app
            .post(
                &admin,
                "/api/v1/messages",
                serde_json::json!({ "messages": messages }),
            )
            .await;
        assert_eq!(r.status(), 200);
        many_entries(&app, 5).await;
        let auditor = app.token("auditor", "auditor").await;
        let erased = app
            .post(
                &auditor,
                "/api/v1/privacy/authors/p1/erase",
                serde_json::json!({"dry_run": false}),
            )
            .await;
        assert_eq!(erased.status(), 200);
        let far_later = chrono::Utc::now().timestamp_millis() + 30 * 365 * 86_400_000;
        tavla::privacy::retention::run(
            &app.store,
            &tavla::privacy::rules::RetentionRules::built_in(),
            far_later,
            false,
            &crate::helpers::actor(),
        )
        .await
        .unwrap();
        let erasures: i64 =
            sqlx::query_scalar("select count(*) from audit where action = 'privacy.erased'")
                .fetch_one(&app.store.pool)
                .await
                .unwrap();
        assert_eq!(erasures, 1);
        let entries = app.count("audit").await;
        assert_eq!(
            app.store.verify_audit().await.unwrap(),
            Ok(entries),
            "no audit entry was removed"
        );
    }
);
