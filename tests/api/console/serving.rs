//! The console is served by the binary itself with strict headers, and CSP reports are counted.

use serde_json::json;

use super::browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_with_strict_headers() {
    let app = browser::app().await;
    let index = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
        "require-trusted-types-for 'script'",
        "report-uri /api/v1/csp-reports",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert!(headers["permissions-policy"]
        .to_str()
        .unwrap()
        .contains("camera=()"));
    assert_eq!(headers["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    // The page asks for this release's files, which may then be cached for good.
    let script = html
        .split(r#"<script type="module" src=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page loads its module")
        .to_string();
    let release = script
        .strip_prefix("/static/v/")
        .and_then(|rest| rest.strip_suffix("/js/app.js"))
        .unwrap_or_else(|| panic!("a release in the module's address: {script}"));
    assert!(
        release.len() == 16 && release.bytes().all(|b| b.is_ascii_hexdigit()),
        "{release}"
    );
    let released = app.client.get(app.url(&script)).send().await.unwrap();
    assert_eq!(released.status(), 200);
    assert_eq!(
        released.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // An address naming another release (a page from before an upgrade) still works, but is
    // revalidated rather than cached for good.
    let other = app
        .client
        .get(app.url("/static/v/0000000000000000/js/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.headers()["cache-control"], "no-cache");
    assert_eq!(
        other.bytes().await.unwrap(),
        released.bytes().await.unwrap()
    );
    let notes = app
        .client
        .get(app.url(&format!("/static/v/{release}/README.md")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        notes.status(),
        404,
        "only the site's kinds, under a release too"
    );
    assert!(!html.contains("style="), "no inline styles");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing third-party"
    );

    let js = app
        .client
        .get(app.url("/static/js/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(app.url("/static/js/app.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let css = app
        .client
        .get(app.url("/static/css/console.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    for missing in [
        "/static/nothing.js",
        "/static/README.md",
        "/static/../Cargo.toml",
        "/inbox",
    ] {
        let r = app.client.get(app.url(missing)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{missing}"
        );
    }

    // No file of the console uses innerHTML or friends, or an inline handler or style.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/static");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(p) = stack.pop() {
        for entry in std::fs::read_dir(&p).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "js" || e == "html") {
                let text = std::fs::read_to_string(&path).unwrap();
                for banned in [
                    "innerHTML",
                    "outerHTML",
                    "insertAdjacentHTML",
                    "document.write",
                    "eval(",
                    "new Function",
                    " style=",
                    ".style.",
                ] {
                    assert!(!text.contains(banned), "{} uses {banned}", path.display());
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_reports_are_counted_bounded_and_typed() {
    let app = browser::app().await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/csp-reports"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let old =
        json!({"csp-report": {"violated-directive": "script-src-elem", "blocked-uri": "inline"}});
    assert_eq!(
        post("application/csp-report", old.to_string().into_bytes())
            .await
            .unwrap()
            .status(),
        204
    );
    let new = json!([{"type": "csp-violation", "body": {"effectiveDirective": "style-src-attr"}},
                     {"type": "csp-violation", "body": {"effectiveDirective": "img-src"}}]);
    assert_eq!(
        post("application/reports+json", new.to_string().into_bytes())
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(browser::csp_violations(&app).await, 3);
    assert_eq!(
        post("application/json", old.to_string().into_bytes())
            .await
            .unwrap()
            .status(),
        415
    );
    assert_eq!(
        post("application/csp-report", vec![b' '; 20_000])
            .await
            .unwrap()
            .status(),
        413
    );
    assert_eq!(
        post("application/csp-report", b"not json".to_vec())
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        browser::csp_violations(&app).await,
        3,
        "refused reports are not counted"
    );
}
