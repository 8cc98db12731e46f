//! `POST /api/v1/csp-reports`: browsers report Content-Security-Policy violations here, so a
//! console page that tries to run or load something it should not is seen in the logs and in
//! `tavla_csp_violations_total`, in production as in the browser tests. Public (a browser sends
//! reports without credentials), small and rate-limited: the body is hostile and only a few of its
//! fields, cut short, reach the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::description::refusals::{BadRequest, PayloadTooLarge, UnsupportedMediaType};
use super::error::{AppError, Problem, Result};
use super::extract::RawBody;

/// A report is a few hundred bytes; a batch of them a few KiB.
pub const MAX_REPORT_BYTES: usize = 16 * 1024;
/// Reports logged per minute and instance; beyond it they are refused (429) and not counted, so a
/// flood cannot fill the logs.
const PER_MINUTE: u64 = 120;

/// Violations seen by this instance (kept per router, so parallel test services do not share it).
#[derive(Clone, Default)]
pub struct CspReports {
    pub violations: Arc<AtomicU64>,
    window: Arc<Mutex<(Option<Instant>, u64)>>,
}

impl CspReports {
    fn admit(&self) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return false;
        };
        let now = Instant::now();
        if w.0
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(60))
        {
            *w = (Some(now), 0);
        }
        w.1 += 1;
        w.1 <= PER_MINUTE
    }
}

/// The fields worth logging, cut to a length a log line can hold.
fn field(v: &Value, names: &[&str]) -> String {
    let text = names
        .iter()
        .find_map(|n| v.get(*n))
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The violation bodies of either format: `application/csp-report` (one `{"csp-report": {..}}`)
/// or `application/reports+json` (a list of `{"type": "csp-violation", "body": {..}}`).
fn violations(kind: &str, body: &[u8]) -> Result<Vec<Value>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AppError::bad_request("the report is not valid JSON"))?;
    let found = match kind {
        "application/csp-report" => value.get("csp-report").cloned().into_iter().collect(),
        _ => value
            .as_array()
            .map(|reports| {
                reports
                    .iter()
                    .filter(|r| r.get("type").and_then(Value::as_str) == Some("csp-violation"))
                    .filter_map(|r| r.get("body").cloned())
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok(found)
}

#[derive(OpenApi)]
#[openapi(paths(receive))]
pub struct Doc;

/// Any JSON, described.
fn any_json(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some(description))
        .into()
}

/// A report in the `application/csp-report` format.
pub struct CspReport;

impl PartialSchema for CspReport {
    fn schema() -> RefOr<Schema> {
        any_json(
            "A report as browsers send it (any JSON); the object under `csp-report` is counted \
             as one violation, anything else is ignored.",
        )
    }
}

impl ToSchema for CspReport {}

/// Reports in the `application/reports+json` format.
pub struct Reports;

impl PartialSchema for Reports {
    fn schema() -> RefOr<Schema> {
        any_json(
            "Reports as browsers send them (any JSON); entries of `type` csp-violation with an \
             object `body` are counted, anything else is ignored.",
        )
    }
}

impl ToSchema for Reports {}

/// Report Content-Security-Policy violations
///
/// Browsers send the console's CSP violations here (the policy names it with `report-uri`).
/// Each violation is logged at warn with its directive, blocked URL, document and source (fields
/// cut to 200 characters) and counted in `tavla_csp_violations_total` on /metrics, so a page
/// that tries to run or load something it should not is seen. Bodies over 16 KiB are refused;
/// after 120 reports a minute on one instance further reports get 429 until the next minute.
///
/// **Access:** Browsers send reports without credentials.
#[utoipa::path(
    post,
    path = "/api/v1/csp-reports",
    operation_id = "reportCspViolation",
    tag = "system",
    request_body(content(
        (inline(CspReport) = "application/csp-report", example = json!({"csp-report": {
            "document-uri": "https://tavla.example/", "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem", "blocked-uri": "inline"}})),
        (inline(Reports) = "application/reports+json", example = json!([{"type": "csp-violation",
            "body": {"documentURL": "https://tavla.example/",
            "effectiveDirective": "script-src-elem", "blockedURL": "inline"}}])),
    )),
    responses(
        (status = 204, description = "Received (and counted)."),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 429, description = "Too many reports this minute; dropped.", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = i64))),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn receive(
    Extension(reports): Extension<CspReports>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<impl IntoResponse> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if kind != "application/csp-report" && kind != "application/reports+json" {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "send a report as application/csp-report or application/reports+json",
        ));
    }
    if body.len() > MAX_REPORT_BYTES {
        return Err(AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Body too large",
            format!("a report may have at most {MAX_REPORT_BYTES} bytes"),
        ));
    }
    if !reports.admit() {
        return Err(AppError {
            retry_after: Some(60),
            ..AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many reports",
                "too many reports this minute; they are dropped until the next",
            )
        });
    }
    let found = violations(&kind, &body)?;
    for v in &found {
        tracing::warn!(
            directive = %field(v, &["effective-directive", "effectiveDirective", "violated-directive"]),
            blocked = %field(v, &["blocked-uri", "blockedURL"]),
            document = %field(v, &["document-uri", "documentURL"]),
            source = %field(v, &["source-file", "sourceFile"]),
            line = %field(v, &["line-number", "lineNumber"]),
            sample = %field(v, &["script-sample", "sample"]),
            "content security policy violation"
        );
    }
    reports
        .violations
        .fetch_add(found.len() as u64, Ordering::Relaxed);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_report_formats_are_read() {
        let old = br#"{"csp-report": {"violated-directive": "script-src-elem", "blocked-uri": "inline"}}"#;
        assert_eq!(violations("application/csp-report", old).unwrap().len(), 1);
        let new =
            br#"[{"type": "csp-violation", "body": {"effectiveDirective": "script-src-elem"}},
                      {"type": "deprecation", "body": {}}]"#;
        let found = violations("application/reports+json", new).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(field(&found[0], &["effectiveDirective"]), "script-src-elem");
        assert!(violations("application/csp-report", b"<html>").is_err());
    }

    #[test]
    fn a_flood_is_cut_off() {
        let r = CspReports::default();
        assert!((0..PER_MINUTE).all(|_| r.admit()));
        assert!(!r.admit());
    }
}
