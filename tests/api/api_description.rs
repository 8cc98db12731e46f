//! The API description checked from outside: schemathesis (an API tester from PyPI, `st`)
//! generates requests from the description the service serves, valid and invalid, and checks
//! each answer against it (status codes, bodies, server-sent events, no server error), as an
//! administrator and as an agent, over the demo data. A finding is a place where the service and
//! its description disagree; the settings for the few rules only words can state are in
//! tests/api_description/schemathesis.toml. Skipped with a printed reason where `st` is not
//! installed; with CI=true it must be (.ci/run installs it).

use crate::helpers::{Backend, TestApp};

/// The operations left out, each because it ends the run's own sign-in: signing out, revoking
/// one's own tokens, changing one's password, an administrator's changes to an account (which
/// could disable the caller). Their answers are tested in tests/api/signin.rs and access.rs.
/// The CSP report receiver takes only browsers' report media types, which `st` cannot write.
const LEFT_OUT: &[&str] = &[
    "/api/v1/session",
    "/api/v1/me/tokens",
    "/api/v1/me/password",
    "/api/v1/staff/{id}/tokens",
    "/api/v1/staff/{id}",
    "/api/v1/csp-reports",
];

fn schemathesis() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("st"))
        .find(|st| st.is_file())
}

// Runs with every `cargo test`: the served description must hold for every request st makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_as_its_description_says() {
    let Some(st) = schemathesis() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but schemathesis (`st`) is not installed: pip install schemathesis (.ci/run does)"
        );
        eprintln!(
            "skipped: schemathesis (`st`) is not installed; pip install schemathesis to run it"
        );
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("a service on SQLite");
    tavla::demo::fill(&app.store, &app.settings)
        .await
        .expect("demo data");
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api_description/schemathesis.toml"
    );
    for role in ["admin", "agent"] {
        let token = app.token(&format!("schemathesis-{role}"), role).await;
        let mut command = tokio::process::Command::new(&st);
        command
            .args(["--no-color", "--config-file", config, "run"])
            .arg(app.url("/api/v1/openapi.json"))
            .args(["--header", &format!("Authorization: Bearer {token}")])
            // One worker: the generator's parsing is not safe across threads on every Python.
            .args([
                "--checks",
                "all",
                "--max-examples",
                "25",
                "--workers",
                "1",
                "--seed",
                "1",
            ]);
        // ST_INCLUDE=REGEX narrows a run to the paths one is working on.
        if let Ok(only) = std::env::var("ST_INCLUDE") {
            command.args(["--include-path-regex", &only]);
        }
        for path in LEFT_OUT {
            command.args(["--exclude-path", path]);
        }
        let out = command.output().await.expect("st runs");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis found answers off the description as {role}:\n{}",
            findings(&report)
        );
    }
}

/// The report's findings and summary, without the tool's own tracebacks.
fn findings(report: &str) -> String {
    let start = report
        .find("= FAILURES =")
        .or_else(|| report.find("= ERRORS ="))
        .unwrap_or(0);
    report[start..]
        .lines()
        .filter(|l| !l.trim_start().starts_with('\''))
        .map(|l| l.chars().take(400).collect::<String>())
        .take(200)
        .collect::<Vec<_>>()
        .join("\n")
}
