//! Follow-up reports:
//! `GET /api/v1/reports?period=2026-10|2026Q3&format=json|csv|html&lang=sv|en&post_metric=reach`.
//! The figures are limited to the caller's channels; the HTML page carries its own strict policy.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tracing::instrument;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::Caller;
use super::description::refusals::BadRequest;
use super::error::{AppError, Result};
use super::extract::Query;
use super::AppState;
use crate::access::Capability;
use crate::reports::render::{self, Lang};
use crate::reports::{ReportOptions, ReportPeriod};

#[derive(OpenApi)]
// The schemas the report names only through `schema_with` functions.
#[openapi(
    paths(report),
    components(schemas(crate::reports::HeatMap, crate::reports::post_section::PostSection))
)]
pub struct Doc;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// A month (`2026-10`) or a quarter (`2026Q3`), in Swedish time.
    #[param(
        pattern = r"^{blank}*2[0-9]{3}(-(0[1-9]|1[0-2])|-?[Qq][1-4]){blank}*$",
        example = "2026-10"
    )]
    period: String,
    /// json, csv or html; without it the Accept header decides (JSON when it names none of
    /// them).
    #[param(inline, value_type = Option<FormatName>)]
    format: Option<String>,
    /// Labels of the HTML page.
    #[param(inline, value_type = Option<LangName>, default = "sv")]
    lang: Option<String>,
    /// The figure the post follow-up section (`posts`) ranks each channel's top posts by.
    #[param(inline, value_type = Option<crate::posts::Metric>, default = "reach")]
    post_metric: Option<String>,
}

// The handler reads the words (another is 400); this enum only describes them.
/// The report's format.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum FormatName {
    Json,
    Csv,
    Html,
}

/// A language of the HTML page.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum LangName {
    Sv,
    En,
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

/// Follow-up report for a month or a quarter
///
/// Every figure of the period beside the previous period's: per channel and kind, inbound
/// messages, replies, first-response time (median, 90th percentile), resolution time, the share
/// answered within the service level (config: service_level_hours, comment_service_level_hours),
/// conversations waiting on the person; the week's busy hours as a heat map (Swedish time); the
/// most frequent questions (FAQ clusters) with counts, change and whether they are answered;
/// moderation cases per level and category, time to action, police reports, comments hidden
/// outside staffed hours; heated threads and their posts; post follow-up (`posts`, for callers who
/// follow up posts: communicators and administrators; null for others): per channel the top posts
/// of the period by `post_metric` (published or measured in it), each figure at the period's end
/// beside its start, the period before's list, goals judged met or not met, campaigns' web
/// sessions and goal completions. Periods are calendar months or quarters in Swedish local time (a
/// message at 23:30 on the month's last evening is that month's). Staff limited to some channels
/// get those channels' figures only. Aggregates only: no figure per staff member. Each reading is
/// recorded in the audit trail (`report.read`).
///
/// Formats: `json` (the Report schema), `csv` (one row per figure: section, channel, kind, metric,
/// value, previous; RFC 4180; cells starting with =, +, -, @, tab or carriage return are prefixed
/// with a single quote; sent as an attachment) and `html` (a standalone printable page with inline
/// SVG charts, no scripts, fonts or other resources, served with its own Content-Security-Policy
/// `default-src 'none'; style-src 'sha256-…'`). Without `format` the Accept header decides
/// (text/csv, text/html, else JSON).
#[utoipa::path(
    get,
    path = "/api/v1/reports",
    operation_id = "getReport",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, description = "The report.", content(
            (crate::reports::Report = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
        )),
        (status = 400, response = BadRequest),
    )
)]
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
