//! The web console: `static/` embedded in the binary, so one binary is enough and no build step
//! is needed. `GET /` is the console's page; `GET /static/...` its modules, styles and images.
//! The page itself is revalidated on every load (`no-cache` + ETag): a staff member must never
//! run yesterday's script against today's API. It asks for its files under
//! `/static/v/{release}/…`, where the release is a digest of every embedded file, so those may be
//! cached for good (`immutable`): a new binary is a new address. A reload then costs one small
//! request for the page instead of one revalidation per module, import by import.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};

use super::error::AppError;
use super::extract::Path;

static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// Only these kinds are served; anything else in the folder (its README) is not part of the site.
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Strong ETags of every file, computed once.
fn etags() -> &'static HashMap<String, String> {
    static ETAGS: OnceLock<HashMap<String, String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        let mut map = HashMap::new();
        let mut stack = vec![&STATIC];
        while let Some(dir) = stack.pop() {
            for file in dir.files() {
                let digest = Sha256::digest(file.contents());
                let tag = format!("\"{}\"", hex::encode(&digest[..12]));
                map.insert(file.path().to_string_lossy().into_owned(), tag);
            }
            stack.extend(dir.dirs());
        }
        map
    })
}

/// A digest of every embedded file: the console's release, part of its files' addresses.
pub fn release() -> &'static str {
    static RELEASE: OnceLock<String> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let mut tags: Vec<(&String, &String)> = etags().iter().collect();
        tags.sort();
        let mut digest = Sha256::new();
        for (path, tag) in tags {
            digest.update(path.as_bytes());
            digest.update(tag.as_bytes());
        }
        hex::encode(&digest.finalize()[..8])
    })
}

/// The page, asking for this release's files, and its ETag.
fn page() -> &'static (String, String) {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    PAGE.get_or_init(|| {
        let html = STATIC
            .get_file("index.html")
            .and_then(|f| f.contents_utf8())
            .unwrap_or_default()
            .replace("\"/static/", &format!("\"/static/v/{}/", release()));
        let digest = Sha256::digest(html.as_bytes());
        let tag = format!("\"{}\"", hex::encode(&digest[..12]));
        (html, tag)
    })
}

const REVALIDATE: &str = "no-cache";
const FOREVER: &str = "public, max-age=31536000, immutable";

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|t| t.trim() == etag))
}

/// The files are embedded (and the page built once), so bodies are served without a copy.
fn respond(
    body: &'static [u8],
    kind: &'static str,
    etag: String,
    cache: &'static str,
    headers: &HeaderMap,
) -> Response {
    let cache = [
        (header::CACHE_CONTROL, cache.to_string()),
        (header::ETAG, etag.clone()),
    ];
    if not_modified(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mut response = (cache, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

fn serve(path: &str, headers: &HeaderMap, cache: &'static str) -> Result<Response, AppError> {
    let missing = || AppError::not_found("there is no such page in the console; open / to start");
    // The embedded tree has no `..` or absolute entries, but a request must not even ask.
    if path.split('/').any(|part| part.is_empty() || part == "..") {
        return Err(missing());
    }
    let kind = content_type(path).ok_or_else(missing)?;
    let file = STATIC.get_file(path).ok_or_else(missing)?;
    let etag = etags().get(path).cloned().unwrap_or_default();
    Ok(respond(file.contents(), kind, etag, cache, headers))
}

pub async fn index(headers: HeaderMap) -> Result<Response, AppError> {
    let (html, etag) = page();
    Ok(respond(
        html.as_bytes(),
        "text/html; charset=utf-8",
        etag.clone(),
        REVALIDATE,
        &headers,
    ))
}

pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    match path.strip_prefix("v/").and_then(|p| p.split_once('/')) {
        // This release's file: its address changes with its content, so it never goes stale.
        Some((r, file)) if r == release() => serve(file, &headers, FOREVER),
        // A page from before an upgrade still gets working files, but not cached for good
        // under an address that names another release.
        Some((_, file)) => serve(file, &headers, REVALIDATE),
        None => serve(&path, &headers, REVALIDATE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_embedded_and_only_known_kinds_are_served() {
        let none = HeaderMap::new();
        assert!(serve("index.html", &none, REVALIDATE).is_ok());
        assert!(serve("js/app.js", &none, REVALIDATE).is_ok());
        assert!(
            serve("README.md", &none, REVALIDATE).is_err(),
            "notes are not served"
        );
        assert!(serve("../Cargo.toml", &none, REVALIDATE).is_err());
        assert!(serve("js//app.js", &none, REVALIDATE).is_err());
        let tag = etags()["js/app.js"].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        let r = serve("js/app.js", &again, REVALIDATE).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn the_page_names_this_release_and_its_files_are_cached_for_good() {
        let (html, _) = page();
        let prefix = format!("/static/v/{}/js/app.js", release());
        assert!(html.contains(&prefix), "{html}");
        assert!(
            !html.contains("\"/static/js/"),
            "every file asked by release: {html}"
        );
        assert_eq!(release().len(), 16);
    }
}
