//! Follow-up reports: `GET /api/v1/reports?period=2026-10|2026Q3&format=json|csv|html&lang=sv|en`.
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
    let options = ReportOptions::from_settings(&state.settings);
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
            json!({"period": report.period.label, "format": format!("{format:?}").to_lowercase()}),
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
