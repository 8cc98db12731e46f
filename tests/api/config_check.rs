//! What an operator sees of a mistake in the configuration: `tavla config check` names each
//! problem's file and line (or environment variable) and what to do, and `serve` refuses to start
//! with the same words before it touches the store. And `/readyz`, which says whether to send an
//! instance traffic, apart from `/healthz`, which says whether it lives.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::TestApp;
use crate::on_both_backends;

/// Runs `tavla` in the project folder with only the given environment.
fn tavla(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tavla"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tavla runs")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A routines file like the shipped one with one step kind misspelt; returns it and the line.
fn misspelt_routines(dir: &Path) -> (String, usize) {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/routines.toml"))
            .unwrap();
    let line = shipped
        .lines()
        .position(|l| l.contains("kind = \"capture_evidence\""))
        .expect("the shipped routines capture evidence")
        + 1;
    let text = shipped.replacen(
        "kind = \"capture_evidence\"",
        "kind = \"capture_evidense\"",
        1,
    );
    (write(dir, "routines.toml", &text), line)
}

#[test]
fn each_problem_is_named_with_its_file_line_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (routines, routine_line) = misspelt_routines(dir.path());
    let settings = write(
        dir.path(),
        "tavla.toml",
        &format!(
            "# the municipality's settings\nsecure_cookie = true\nstaffed_from = \"8\"\n\
             trusted_proxies = [\"10.0.0.300\"]\nroutines_file = \"{routines}\"\n"
        ),
    );
    let out = tavla(
        &["config", "check", "--config", &settings],
        &[
            ("TAVLA_META_APP_SECRET", "app-secret"),
            ("TAVLA_META_VERIFY_TOKEN", "verify-token"),
            ("TAVLA_LISTEN", "nowhere"),
            ("TAVLA_DELIVERY_WORKRS", "3"),
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for expected in [
        format!("{settings}:2: warning: secure_cookie is not a setting, so tavla ignores it; did you mean secure_cookies?"),
        format!("{settings}:3: error: staffed_from: times are HH:MM, not \"8\""),
        format!("{settings}:4: error: trusted_proxies: \"10.0.0.300\" is neither an address"),
        "environment variable TAVLA_LISTEN: error: listen: \"nowhere\" is not an address to listen on; write host:port".into(),
        "environment variable TAVLA_DELIVERY_WORKRS: warning: delivery_workrs is not a setting, so tavla ignores it; did you mean delivery_workers?".into(),
        format!("{routines}:{routine_line}: error: routine S0: unknown step kind \"capture_evidense\""),
        "4 error(s), 2 warning(s)".into(),
    ] {
        assert!(report.contains(&expected), "expected {expected:?} in:\n{report}");
    }
    // The secret never appears, whatever was wrong.
    assert!(!report.contains("app-secret"), "{report}");
}

#[test]
fn a_wrong_type_and_a_syntax_error_are_placed_on_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TAVLA_META_APP_SECRET", "s"),
        ("TAVLA_META_VERIFY_TOKEN", "v"),
    ];
    let typed = write(
        dir.path(),
        "typed.toml",
        "listen = \"127.0.0.1:8080\"\n\ndelivery_workers = \"two\"\n",
    );
    let out = tavla(&["config", "check", "--config", &typed], &env);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!("{typed}:3: error: delivery_workers: invalid type: string \"two\", expected usize; write it like the default (delivery_workers = 2)")),
        "{report}"
    );
    let broken = write(
        dir.path(),
        "broken.toml",
        "listen = \"127.0.0.1:8080\"\nsecure_cookies = tru e\n",
    );
    let out = tavla(&["config", "check", "--config", &broken], &env);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!("{broken}:2: error: not valid TOML")),
        "{report}"
    );
    let env_typed = tavla(
        &["config", "check"],
        &[
            ("TAVLA_META_APP_SECRET", "s"),
            ("TAVLA_META_VERIFY_TOKEN", "v"),
            ("TAVLA_API_MAX_CONCURRENT", "many"),
        ],
    );
    let report = String::from_utf8_lossy(&env_typed.stdout);
    assert_eq!(env_typed.status.code(), Some(1), "{report}");
    assert!(
        report
            .contains("environment variable TAVLA_API_MAX_CONCURRENT: error: api_max_concurrent:")
            && report.contains("(api_max_concurrent = 64)"),
        "{report}"
    );
}

#[test]
fn a_sound_configuration_passes_and_serve_refuses_an_unsound_one_before_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("tavla.db");
    let url = format!("sqlite://{}", database.display());
    let data_dir = dir.path().display().to_string();
    let mut env = vec![
        ("TAVLA_META_APP_SECRET", "app-secret"),
        ("TAVLA_META_VERIFY_TOKEN", "verify-token"),
        ("TAVLA_DATABASE_URL", url.as_str()),
        ("TAVLA_DATA_DIR", data_dir.as_str()),
        ("TAVLA_LISTEN", "127.0.0.1:0"),
    ];
    let out = tavla(&["config", "check"], &env);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("0 error(s), 0 warning(s)"), "{report}");

    env.push(("TAVLA_CASE_THRESHOLD", "S9"));
    let out = tavla(&["serve"], &env);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("environment variable TAVLA_CASE_THRESHOLD: error: case_threshold: \"S9\" is not a level; write one of S0, S1, S2, S3, S4, S5")
            && said.contains("not starting: the configuration has 1 error(s)"),
        "{said}"
    );
    assert!(
        !database.exists(),
        "serve stopped before it opened the store"
    );
}

on_both_backends!(
    ready_only_with_every_migration_applied,
    |app: TestApp| async move {
        let readyz = || async {
            let response = app.client.get(app.url("/readyz")).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        };
        let (status, body) = readyz().await;
        assert_eq!((status, &body["status"]), (200, &"ready".into()), "{body}");
        assert_eq!(body["newer_migrations"], serde_json::json!([]));

        // The newest migration undone, as on a database that an older tavla migrated.
        let newest: i64 = sqlx::query_scalar("select max(version) from _sqlx_migrations")
            .fetch_one(&app.store.pool)
            .await
            .unwrap();
        sqlx::query("update _sqlx_migrations set version = 99999 where version = $1")
            .bind(newest)
            .execute(&app.store.pool)
            .await
            .unwrap();
        let (status, body) = readyz().await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "migrations not applied");
        assert_eq!(body["missing_migrations"], serde_json::json!([newest]));
        assert!(body["detail"].as_str().unwrap().contains("tavla migrate"));
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "alive, only not ready");

        // Every migration applied, and one more from a newer tavla: ready, and it says so.
        sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
         select $1, description, success, checksum, execution_time from _sqlx_migrations where version = 99999",
    )
    .bind(newest)
    .execute(&app.store.pool)
    .await
    .unwrap();
        let (status, body) = readyz().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["newer_migrations"], serde_json::json!([99999]));
    }
);

/// Single sign-on's settings: each mistake where it was made, the secret never printed, and a
/// role rule with an unknown role at its line in the rules file.
#[test]
fn single_sign_on_settings_are_checked_where_they_are_set() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "oidc.toml",
        "[[rule]]\ngroup = \"tavla-agenter\"\nrole = \"agent\"\n\n[[rule]]\ngroup = \"chefer\"\nrole = \"chef\"\n",
    );
    let settings = write(
        dir.path(),
        "tavla.toml",
        &format!(
            "oidc_issuer = \"http://sso.kommun.example/realms/kommun\"\n\
             oidc_redirect_url = \"https://tavla.kommun.example/\"\noidc_roles_file = \"{rules}\"\n"
        ),
    );
    let out = tavla(
        &["config", "check", "--config", &settings],
        &[
            ("TAVLA_META_APP_SECRET", "app-secret"),
            ("TAVLA_META_VERIFY_TOKEN", "verify-token"),
            ("TAVLA_OIDC_CLIENT_SECRET", "oidc-secret-4711"),
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for expected in [
        format!("{settings}:1: error: oidc_issuer: \"http://sso.kommun.example/realms/kommun\" is not an https:// URL"),
        format!("{settings}:2: error: oidc_redirect_url: must be tavla's own https address ending in /auth/oidc/callback"),
        format!("{rules}:7: error: role \"chef\" (the rule for group \"chefer\") is not a tavla role"),
    ] {
        assert!(report.contains(&expected), "expected {expected:?} in:\n{report}");
    }
    let client_id = report
        .lines()
        .find(|l| l.contains(": error: oidc_client_id: is empty while oidc_issuer is set"))
        .unwrap_or_else(|| panic!("the missing client id in:\n{report}"));
    assert!(client_id.starts_with("config/default.toml:"), "{client_id}");
    assert!(
        !report.contains("4711"),
        "the client secret is never printed:\n{report}"
    );

    // Passwords off without a provider: nobody could sign in.
    let out = tavla(
        &["config", "check"],
        &[
            ("TAVLA_META_APP_SECRET", "app-secret"),
            ("TAVLA_META_VERIFY_TOKEN", "verify-token"),
            ("TAVLA_LOCAL_PASSWORDS", "false"),
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("environment variable TAVLA_LOCAL_PASSWORDS: error: local_passwords: is false but no identity provider is set"),
        "{report}"
    );
}
