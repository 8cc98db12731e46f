//! Extractors whose rejections speak our error format.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
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
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> AppError {
    match r {
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            AppError::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => AppError::unprocessable(format!(
            "the JSON does not have the expected fields: {}",
            e.body_text()
        )),
        JsonRejection::BytesRejection(b) => bytes_rejection(b),
        other => AppError::bad_request(other.body_text()),
    }
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
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    deserialize_whole(&mut deserializer).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            AppError::bad_request(format!("the body is not valid JSON: {e}"))
        } else {
            AppError::unprocessable(format!("the JSON does not have the expected fields: {e}"))
        }
    })
}

fn deserialize_whole<'de, T: DeserializeOwned>(
    d: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, serde_json::Error> {
    let value = T::deserialize(&mut *d)?;
    d.end()?;
    Ok(value)
}
