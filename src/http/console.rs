//! The web console: `static/` embedded in the binary, so one binary is enough and no build step
//! is needed. `GET /` is the console's page; `GET /static/...` its modules, styles and images.
//! Files are revalidated on every load (`no-cache` + ETag): names carry no content hash, and a
//! staff member must never run yesterday's script against today's API.

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

fn serve(path: &str, headers: &HeaderMap) -> Result<Response, AppError> {
    let missing = || AppError::not_found("there is no such page in the console; open / to start");
    // The embedded tree has no `..` or absolute entries, but a request must not even ask.
    if path.split('/').any(|part| part.is_empty() || part == "..") {
        return Err(missing());
    }
    let kind = content_type(path).ok_or_else(missing)?;
    let file = STATIC.get_file(path).ok_or_else(missing)?;
    let etag = etags().get(path).cloned().unwrap_or_default();
    let cache = [
        (header::CACHE_CONTROL, "no-cache".to_string()),
        (header::ETAG, etag.clone()),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|t| t.trim() == etag));
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let mut response = (cache, file.contents()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    Ok(response)
}

pub async fn index(headers: HeaderMap) -> Result<Response, AppError> {
    serve("index.html", &headers)
}

pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_embedded_and_only_known_kinds_are_served() {
        let none = HeaderMap::new();
        assert!(serve("index.html", &none).is_ok());
        assert!(serve("js/app.js", &none).is_ok());
        assert!(serve("README.md", &none).is_err(), "notes are not served");
        assert!(serve("../Cargo.toml", &none).is_err());
        assert!(serve("js//app.js", &none).is_err());
        let tag = etags()["js/app.js"].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        let r = serve("js/app.js", &again).unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }
}
