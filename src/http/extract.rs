//! Extractors whose rejections speak our error format.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::AppError;

/// A typed JSON body: unknown fields are refused by the types (mass assignment), and a wrong body
/// says what was wrong.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let RawBody(body) = RawBody::from_request(req, state).await?;
        parse_json(&body).map(Json)
    }
}

/// `application/json`, or another JSON type (`application/problem+json`), as axum's own
/// extractor decides.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let kind = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    kind == "application/json" || (kind.starts_with("application/") && kind.ends_with("+json"))
}

/// The raw body, within the configured size limit.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(bytes_rejection)
    }
}

fn bytes_rejection(r: BytesRejection) -> AppError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Body too large",
            "the body is larger than this service accepts (max_body_bytes); send fewer items per request",
        )
    } else {
        AppError::bad_request(format!("the body could not be read: {}", r.body_text()))
    }
}

/// Query parameters with our error format.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| {
                AppError::bad_request(format!(
                    "the query parameters are not valid: {}",
                    e.body_text()
                ))
            })
    }
}

/// Path parameters with our error format (a non-numeric id is a 400 problem, not plain text).
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| AppError::bad_request(format!("the path is not valid: {}", e.body_text())))
    }
}

/// The client's address as `auth::client_address` decides it.
pub struct ClientAddress(pub Option<String>);

impl FromRequestParts<super::AppState> for ClientAddress {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0);
        Ok(ClientAddress(super::auth::client_address(
            state,
            &parts.headers,
            peer,
        )))
    }
}

/// Parses a body read as `RawBody`, for handlers that must check access before they judge the
/// body (so a caller who may not act learns nothing from validation errors).
///
/// JSON has one kind of number: `1.0` is the integer 1 to a client (and to JSON Schema, which
/// the API description is written in), so an integral number is read as an integer wherever a
/// field is one.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    // The typed parse first: a batch of 5,000 messages is read once. Only a body whose fields do
    // not fit (perhaps `1.0` where a count is asked) is read again through a `Value`.
    let typed_error = match serde_json::from_slice::<T>(body) {
        Ok(parsed) => return Ok(parsed),
        Err(e) if e.is_data() => e,
        Err(e) => {
            return Err(AppError::bad_request(format!(
                "the body is not valid JSON: {e}"
            )))
        }
    };
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AppError::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !integral_numbers_as_integers(&mut value) {
        return Err(fields_error(typed_error));
    }
    T::deserialize(value).map_err(fields_error)
}

fn fields_error(e: serde_json::Error) -> AppError {
    AppError::unprocessable(format!("the JSON does not have the expected fields: {e}"))
}

/// Rewrites every whole number written as a float (`1.0`) as an integer; says whether it changed
/// anything (if not, the typed parse's own error stands).
pub(crate) fn integral_numbers_as_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Within i64's range, where every whole f64 is exactly an i64.
            if f.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&f) {
                *value = Value::from(f as i64);
                return true;
            }
            false
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
            integral_numbers_as_integers(item) | changed
        }),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, item| {
            integral_numbers_as_integers(item) | changed
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_json;
    use axum::http::StatusCode;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Page {
        limit: i64,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        count: u32,
        share: f64,
    }

    #[test]
    fn a_whole_number_written_as_a_float_is_read_as_an_integer_at_any_depth() {
        let page: Page =
            parse_json(br#"{"limit": 20.0, "items": [{"count": 3.0, "share": 0.5}]}"#).unwrap();
        assert_eq!(page.limit, 20);
        assert_eq!(
            page.items[0],
            Item {
                count: 3,
                share: 0.5
            }
        );
    }

    #[test]
    fn a_fraction_where_an_integer_is_asked_is_refused_as_a_field_error() {
        let err = parse_json::<Page>(br#"{"limit": 2.5, "items": []}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.detail.contains("expected fields"), "{}", err.detail);
    }

    #[test]
    fn a_missing_field_keeps_the_typed_parse_s_own_words() {
        let err = parse_json::<Page>(br#"{"items": []}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            err.detail.contains("missing field `limit`"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_a_bad_request() {
        for body in [&b"{\"limit\": "[..], b"not json", b""] {
            let err = parse_json::<Page>(body).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body:?}");
        }
    }
}
