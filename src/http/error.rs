//! One error type for every route, rendered as `application/problem+json` with a `detail` that
//! says what to do. Server faults are logged here, once, with their cause; the caller sees no
//! internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    /// Extra members of the problem document (for example who holds a claim).
    pub extra: Option<serde_json::Value>,
    /// Seconds for a Retry-After header (429).
    pub retry_after: Option<u64>,
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> AppError {
        AppError {
            status,
            title,
            detail: detail.into(),
            extra: None,
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> AppError {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The request could not be applied",
            detail,
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "Not signed in", detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>, extra: serde_json::Value) -> AppError {
        AppError {
            extra: Some(extra),
            ..AppError::new(StatusCode::CONFLICT, "Conflict", detail)
        }
    }

    pub fn unavailable(detail: impl Into<String>) -> AppError {
        AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            detail,
        )
    }

    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %cause, "request failed");
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "something went wrong on our side; try again, and tell the administrator if it persists",
        )
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Invalid(detail) => AppError::unprocessable(detail),
            StoreError::Conflict(detail) => AppError::conflict(detail, serde_json::json!({})),
            other => AppError::internal(other),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some(serde_json::Value::Object(extra)), Some(map)) =
            (self.extra, body.as_object_mut())
        {
            map.extend(extra);
        }
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}
