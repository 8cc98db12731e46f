//! One error type for every route, rendered as `application/problem+json` with a `detail` that
//! says what to do. Every answer it renders is logged here, once, inside the request's span (which
//! names the method and the matched route, see `observe` in `http/mod.rs`): a server fault at
//! error level with its cause and an error id, any other 5xx at error level with its detail (at
//! warn when it is a deliberate "try again later", a 503 with Retry-After, so that shedding load
//! does not flood the log), a 4xx at debug. The caller sees no internals, only the id to quote to
//! the administrator.

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
    /// For a fault on our side: its cause (for the log only) and the id the caller quotes.
    /// Boxed: most answers have none, and every handler's `Result` carries this type.
    pub fault: Option<Box<Fault>>,
}

/// A fault's cause, kept out of the answer and logged with its id when the answer is rendered.
#[derive(Debug)]
pub struct Fault {
    pub id: String,
    pub cause: String,
}

impl Fault {
    fn new(cause: &impl std::fmt::Display) -> Box<Fault> {
        Box::new(Fault {
            id: format!("{:08x}", rand::random::<u32>()),
            cause: cause.to_string(),
        })
    }
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
            fault: None,
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

    /// Service overloaded or a request cut short: try again after `seconds`.
    pub fn busy(detail: impl Into<String>, seconds: u64) -> AppError {
        AppError {
            retry_after: Some(seconds),
            ..AppError::unavailable(detail)
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        let fault = Fault::new(&cause);
        let id = fault.id.clone();
        AppError {
            fault: Some(fault),
            extra: Some(json!({"error_id": id})),
            ..AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
                format!("something went wrong on our side; try again, and if it persists tell the administrator error id {id}"),
            )
        }
    }

    /// A passing fault on our side (503): logged with an id; `what_to_do` tells the caller.
    pub fn fault(cause: impl std::fmt::Display, what_to_do: &str) -> AppError {
        let fault = Fault::new(&cause);
        let id = fault.id.clone();
        AppError {
            fault: Some(fault),
            extra: Some(json!({"error_id": id})),
            ..AppError::unavailable(format!("{what_to_do} (error id {id})"))
        }
    }
}

/// Logs a fault under a short random id that the caller can quote; returns the id.
fn logged_fault(cause: &impl std::fmt::Display, message: &str) -> String {
    let fault = Fault::new(cause);
    tracing::error!(error_id = %fault.id, error = %fault.cause, "{message}");
    fault.id
}

impl AppError {
    /// Logs the answer once, as it is rendered: inside the request's span, so the line carries
    /// the route (see the module's header for the levels).
    fn log(&self) {
        let status = self.status.as_u16();
        let detail = self.detail.as_str();
        if let Some(fault) = &self.fault {
            tracing::error!(status, error_id = %fault.id, error = %fault.cause, detail, "request failed");
        } else if self.status.is_server_error() && self.retry_after.is_some() {
            tracing::warn!(status, detail, "request refused for now");
        } else if self.status.is_server_error() {
            tracing::error!(status, detail, "request failed");
        } else {
            tracing::debug!(status, detail, "request refused");
        }
    }
}

/// What a caller may read of a store failure that does not fail the whole request (a side effect
/// reported in the answer): a validation's or conflict's own words, which say what to do, or, for
/// a fault, a generic line with the id it was logged under. The store's text (SQL, paths,
/// constraint names) stays in the log.
pub fn store_failure_text(e: &StoreError) -> String {
    match e {
        StoreError::Invalid(detail)
        | StoreError::Conflict(detail)
        | StoreError::NotFound(detail) => detail.clone(),
        fault => {
            let id = logged_fault(fault, "a store write beside the request failed");
            format!(
                "it failed on our side; try again, and if it persists tell the administrator error id {id}"
            )
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Invalid(detail) => AppError::unprocessable(detail),
            StoreError::Conflict(detail) => AppError::conflict(detail, serde_json::json!({})),
            StoreError::NotFound(detail) => AppError::not_found(detail),
            other => AppError::internal(other),
        }
    }
}

/// The inbox's refusals: 409 when the state of things refuses (a claim held by someone else),
/// 422 otherwise, with the inbox's words and extra members.
impl From<crate::inbox::Refusal> for AppError {
    fn from(r: crate::inbox::Refusal) -> AppError {
        let answer = if r.is_conflict() {
            AppError::conflict(r.detail(), serde_json::json!({}))
        } else {
            AppError::unprocessable(r.detail())
        };
        AppError {
            extra: r.extra().or(answer.extra.clone()),
            ..answer
        }
    }
}

impl From<crate::inbox::InboxError> for AppError {
    fn from(e: crate::inbox::InboxError) -> AppError {
        match e {
            crate::inbox::InboxError::Refused(r) => r.into(),
            crate::inbox::InboxError::Store(e) => e.into(),
        }
    }
}

/// An error, as RFC 9457 problem details (Content-Type: application/problem+json). `detail` is
/// written for a person and says what to do next; branch on `status`, not on the text.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "about:blank", "title": "Not signed in", "status": 401,
    "detail": "your session has timed out; sign in again"}))]
pub struct Problem<'a> {
    /// Always `about:blank`: the HTTP status is the problem type.
    #[serde(rename = "type")]
    #[schema(pattern = "^about:blank$")]
    pub kind: &'static str,
    /// A short summary fixed per kind of problem, e.g. `Not allowed`, `Conflict` or `Too many
    /// failed sign-ins`.
    pub title: &'a str,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What went wrong in this request and how to fix it.
    pub detail: &'a str,
    /// Members some problems add (`error_id`, `missing_training`, `holder`…), named in the
    /// operation that gives them.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let extra = match self.extra {
            Some(serde_json::Value::Object(extra)) => extra,
            _ => serde_json::Map::new(),
        };
        let body = Problem {
            kind: "about:blank",
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            extra,
        };
        let body = serde_json::to_string(&body).expect("a problem document serialises");
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_keeps_its_words_and_a_fault_shows_only_an_id() {
        let invalid = StoreError::Invalid("only a comment can be hidden".into());
        assert_eq!(store_failure_text(&invalid), "only a comment can be hidden");
        let fault = StoreError::Db(sqlx::Error::Protocol("disk full at /srv/secret".into()));
        let text = store_failure_text(&fault);
        assert!(!text.contains("disk") && !text.contains("secret"), "{text}");
        assert!(text.contains("error id"), "{text}");
        let answer = AppError::internal("disk full at /srv/secret");
        assert!(!answer.detail.contains("disk") && answer.detail.contains("error id"));
        assert!(AppError::from(fault).detail.contains("error id"));
        assert_eq!(
            AppError::from(StoreError::Invalid("say why".into())).detail,
            "say why"
        );
        // A case or message gone between the route's check and the store's write (erased by
        // retention, say) is not the caller's malformed input: 404 with the store's words.
        let gone = AppError::from(StoreError::NotFound("there is no case 5".into()));
        assert_eq!(
            (gone.status.as_u16(), gone.detail.as_str()),
            (404, "there is no case 5")
        );
    }
}
