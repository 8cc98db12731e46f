//! Follow-up reports:
//! `GET /api/v1/reports?period=2026-10|2026Q3&format=json|csv|html&lang=sv|en&post_metric=reach`.
//! The figures are limited to the caller's channels; the HTML page carries its own strict policy.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;

use super::auth::Caller;
use super::error::{AppError, Result};
use super::extract::Query;
use super::AppState;
use crate::access::Capability;
use crate::reports::render::{self, Lang};
use crate::reports::{ReportOptions, ReportPeriod};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// A month (`2026-10`) or a quarter (`2026Q3`), in Swedish time.
    period: String,
    /// json (default), csv or html; without it the Accept header decides.
    format: Option<String>,
    /// sv (default) or en, for the HTML page's labels.
    lang: Option<String>,
    /// The figure the post follow-up section ranks posts by (reach by default).
    post_metric: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Html,
}

fn format_of(asked: Option<&str>, headers: &HeaderMap) -> Result<Format> {
    match asked {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("html") => Ok(Format::Html),
        Some(_) => Err(AppError::bad_request("format must be json, csv or html")),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            // The first of our types the client names wins; anything else gets JSON.
            let first = accept
                .split(',')
                .map(|t| t.split(';').next().unwrap_or("").trim())
                .find_map(|t| match t {
                    "text/csv" => Some(Format::Csv),
                    "text/html" => Some(Format::Html),
                    "application/json" => Some(Format::Json),
                    _ => None,
                });
            Ok(first.unwrap_or(Format::Json))
        }
    }
}

#[instrument(skip_all)]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response> {
    let period = ReportPeriod::parse(&q.period).ok_or_else(|| {
        AppError::bad_request("period must be a month (2026-10) or a quarter (2026Q3)")
    })?;
    let format = format_of(q.format.as_deref(), &headers)?;
    let lang = match q.lang.as_deref() {
        None | Some("sv") | Some("en") => Lang::parse(q.lang.as_deref()),
        Some(_) => return Err(AppError::bad_request("lang must be sv or en")),
    };
    let mut options = ReportOptions::from_settings(&state.settings);
    // Post follow-up is for communicators and administrators (the posts routes' rule); the
    // auditor's report goes without it. The section keeps to the caller's channel limit.
    let follows_posts = caller.can(Capability::SeeFaq) || caller.can(Capability::ManageChannels);
    options.post_metric = match q.post_metric.as_deref() {
        Some(m) if !crate::posts::METRICS.contains(&m) => {
            return Err(AppError::bad_request(format!(
                "post_metric must be one of {}",
                crate::posts::METRICS.join(", ")
            )))
        }
        asked => follows_posts.then(|| asked.unwrap_or("reach").to_string()),
    };
    let report = crate::reports::build(
        &state.store,
        state.faq.clone(),
        period,
        &caller.read_scope(),
        &options,
    )
    .await
    .map_err(AppError::internal)?;
    state
        .store
        .audit(
            &caller.actor(),
            "report.read",
            None,
            json!({"period": report.period.label, "format": format!("{format:?}").to_lowercase(),
                "post_metric": options.post_metric}),
        )
        .await?;
    let label = report.period.label.clone();
    let response = match format {
        Format::Json => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            render::json(&report),
        )
            .into_response(),
        Format::Csv => {
            let disposition = format!("attachment; filename=\"tavla-report-{label}.csv\"");
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/csv; charset=utf-8"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition).map_err(AppError::internal)?,
                    ),
                ],
                render::csv(&report),
            )
                .into_response()
        }
        Format::Html => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(render::html_csp()),
                ),
            ],
            render::html(&report, lang),
        )
            .into_response(),
    };
    Ok(response)
}
