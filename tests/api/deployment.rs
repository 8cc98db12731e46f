//! The deployment in deploy/, exercised: Debian's nginx runs deploy/nginx/tavla.conf (its
//! addresses and certificate swapped for the test's, a self-signed one made here) in front of the
//! service, and a person signs in, works the inbox and follows the event stream through it over
//! TLS. The systemd units pass `systemd-analyze verify` and rate "OK" or better for exposure, and
//! the example settings and the Containerfile's environment pass `tavla config check`.
//!
//! nginx and openssl are Debian packages (.ci/run installs nginx): with CI=true a missing one
//! fails the test; elsewhere it is skipped with the reason printed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::delivery::{dm, now, PAGE};
use crate::events::read_events;
use crate::helpers::{actor, Backend, TestApp, SECRET};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const HOST: &str = "tavla.kommun.example";
const PASSWORD: &str = "en lång lösenfras för proxytestet";

/// nginx is in /usr/sbin, which a non-root PATH may lack.
fn program(name: &str) -> String {
    let sbin = format!("/usr/sbin/{name}");
    if Path::new(&sbin).exists() {
        sbin
    } else {
        name.to_string()
    }
}

/// Whether a program is installed; when not, CI fails and elsewhere the caller skips.
fn installed(program: &str, why: &str) -> bool {
    let found = Command::new(self::program(program))
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{program} is required in CI ({why}); install the Debian package"
        );
        eprintln!("skipping: {program} is not installed ({why})");
    }
    found
}

/// nginx, stopped when dropped (one process: master_process off).
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A self-signed certificate for HOST; returns (certificate, key).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            &format!("/CN={HOST}"),
            "-addext",
            &format!("subjectAltName=DNS:{HOST}"),
        ])
        // A server's certificate, not an authority's (TLS clients refuse a CA used as a server).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "keyUsage=critical,digitalSignature"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The shipped site file with the test's upstream, ports and certificate in place of its own.
fn site(upstream: &str, http: u16, https: u16, cert: &Path, key: &Path) -> String {
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("deploy/nginx/tavla.conf")).unwrap();
    let swaps = [
        ("server 127.0.0.1:8080;", format!("server {upstream};")),
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{https} ssl http2;"),
        ),
        ("/etc/ssl/tavla/fullchain.pem", cert.display().to_string()),
        ("/etc/ssl/tavla/privkey.pem", key.display().to_string()),
    ];
    swaps.iter().fold(shipped, |text, (from, to)| {
        assert!(
            text.contains(from),
            "deploy/nginx/tavla.conf no longer has `{from}`; update this test with it"
        );
        text.replace(from, to)
    })
}

/// Starts nginx with the site, in a folder of its own; waits until it answers.
async fn start_nginx(dir: &Path, site: &str, https: u16) -> Nginx {
    std::fs::write(dir.join("tavla.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         include {d}/tavla.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new(program("nginx"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut nginx = Nginx(child);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", https))
            .await
            .is_ok()
        {
            return nginx;
        }
        if let Ok(Some(status)) = nginx.0.try_wait() {
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            panic!("nginx stopped ({status}): {log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not start listening on {https}");
}

/// A browser that trusts the test's certificate and reaches HOST at nginx.
fn browser(cert: &Path, https: u16) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve(HOST, ([127, 0, 0, 1], https).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_the_inbox_and_the_event_stream_pass_through_nginx_over_tls() {
    if !installed("nginx", "the deployment test runs it in front of tavla")
        || !installed("openssl", "it makes the test's certificate")
    {
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.secure_cookies = true;
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    .expect("sqlite");
    app.register_channel("facebook", PAGE, "Kommunen").await;
    let hash = tavla::access::hash_password(PASSWORD).unwrap();
    let anna = app
        .store
        .add_staff("anna", "agent", Some(&hash), &actor())
        .await
        .unwrap();
    app.train(anna.id, "all").await;

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let (http, https) = (free_port(), free_port());
    let upstream = app.address.trim_start_matches("http://").to_string();
    let _nginx = start_nginx(
        dir.path(),
        &site(&upstream, http, https, &cert, &key),
        https,
    )
    .await;
    let client = browser(&cert, https);
    let base = format!("https://{HOST}:{https}");

    // Plain HTTP is sent to HTTPS.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirected = plain
        .get(format!("http://127.0.0.1:{http}/"))
        .header("host", HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(redirected.status(), 301);
    assert!(redirected.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("https://{HOST}/")));

    // Signing in over TLS: the Secure, __Host- cookie and HSTS come through.
    let signed_in = client
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": "anna", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    assert!(signed_in
        .headers()
        .contains_key("strict-transport-security"));
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set_cookie.starts_with("__Host-tavla_session=") && set_cookie.contains("Secure"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let csrf = signed_in.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();

    // The live stream opens through the proxy before anything arrives. (A proxy that buffers
    // holds even its headers back: that is a failure here, not a wait.)
    let opening = client
        .get(format!("{base}/api/v1/events"))
        .header("cookie", &cookie)
        .send();
    let stream = tokio::time::timeout(Duration::from_secs(10), opening)
        .await
        .expect("the event stream opens through nginx (proxy_buffering off for /api/v1/events)")
        .unwrap();
    assert_eq!(stream.status(), 200);

    // Meta's webhook through the proxy; the message reaches the inbox and the stream.
    // Written now, so the reply window is open.
    let body = dm(
        "person-1",
        "mid-proxy-1",
        "Hej! Var lämnar jag grovsopor?",
        now(),
    );
    let delivered = client
        .post(format!("{base}/webhooks/meta"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            tavla::ingest::signature::sign(SECRET.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    let events = read_events(stream, 1).await;
    assert_eq!(events[0].1, "message.received", "{events:?}");

    let inbox: Value = client
        .get(format!("{base}/api/v1/conversations?queue=dm"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = inbox["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox}");
    let id = items[0]["id"].as_i64().unwrap();
    let claimed = client
        .post(format!("{base}/api/v1/conversations/{id}/claim"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 200);
    let replied = client
        .post(format!("{base}/api/v1/conversations/{id}/replies"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"text": "Hej! Grovsopor lämnar du på återvinningscentralen."}))
        .send()
        .await
        .unwrap();
    assert_eq!(replied.status(), 201);

    // The audit trail has the client's address, passed on by the trusted proxy.
    let address: Option<String> = sqlx::query_scalar(
        "select address from audit where action = 'signin.success' order by id desc limit 1",
    )
    .fetch_optional(&app.store.pool)
    .await
    .unwrap()
    .flatten();
    assert_eq!(address.as_deref(), Some("127.0.0.1"));

    // /metrics stays inside.
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 404);
}

/// `systemd-analyze` on a unit whose binary path points at the test's build.
fn analyze(unit: &str, args: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(Path::new(ROOT).join("deploy").join(unit))
        .unwrap()
        .replace("/usr/local/bin/tavla", env!("CARGO_BIN_EXE_tavla"));
    let path = dir.path().join(unit);
    std::fs::write(&path, text).unwrap();
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(&path)
        .output()
        .ok()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze {args:?} {unit}: {said}"
    );
    Some(said)
}

#[test]
fn the_systemd_units_verify_and_the_service_is_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: systemd-analyze is not installed (Debian package systemd)");
        return;
    }
    for unit in [
        "tavla.service",
        "tavla-backup.service",
        "tavla-backup.timer",
    ] {
        let said = analyze(unit, &["verify"]).unwrap();
        assert!(
            !said.contains("Unknown key") && !said.contains("Failed to parse"),
            "{unit}: {said}"
        );
    }
    let rating = analyze("tavla.service", &["security", "--offline=yes"]).unwrap();
    let overall = rating
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .expect("a rating");
    let score: f64 = overall
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        score <= 2.0,
        "tavla.service is rated {overall}; keep it at 2.0 (OK) or below"
    );
}

#[test]
fn the_example_settings_and_the_containers_environment_pass_the_check() {
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tavla"))
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .env("TAVLA_META_APP_SECRET", "app-secret")
            .env("TAVLA_META_VERIFY_TOKEN", "verify-token")
            .current_dir(ROOT)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && said.contains("0 error(s), 0 warning(s)"),
            "{args:?}: {said}"
        );
    };
    check(&["--config", "deploy/tavla.toml", "config", "check"], &[]);
    let containerfile =
        std::fs::read_to_string(Path::new(ROOT).join("deploy/Containerfile")).unwrap();
    let env: Vec<(String, String)> = containerfile
        .split("ENV ")
        .nth(1)
        .expect("the Containerfile sets its settings with ENV")
        .lines()
        .map_while(|l| {
            l.trim()
                .strip_suffix('\\')
                .or(Some(l.trim()))
                .filter(|l| l.starts_with("TAVLA_"))
        })
        .map(|l| {
            let (k, v) = l.trim().split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    assert!(env.len() >= 3, "{env:?}");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    check(&["config", "check"], &env);
}
