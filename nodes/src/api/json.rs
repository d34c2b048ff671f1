//! `ApiJson<T>`: the JSON body extractor. Every way a body can be wrong gets its own stable
//! code and names the field: malformed JSON, an unknown field, a wrong type, a value the
//! domain refuses, a body over the limit, a missing content type.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().to_ascii_lowercase().starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(body_error)?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parse a JSON body, classifying serde's error into a stable code with the field path.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        classify(&inner, path)
    })?;
    deserializer.end().map_err(|error| classify(&error, String::new()))?;
    Ok(value)
}

fn classify(error: &serde_json::Error, path: String) -> ApiError {
    use serde_json::error::Category;
    let message = error.to_string();
    let field = (!path.is_empty() && path != ".").then_some(path);
    let api_error = match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            return ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {message}"))
        }
        Category::Data if message.starts_with("unknown field") => ApiError::unprocessable("unknown_field", message),
        Category::Data if message.starts_with("missing field") => ApiError::unprocessable("missing_field", message),
        Category::Data if message.starts_with("invalid type") || message.starts_with("unknown variant") => {
            ApiError::unprocessable("wrong_type", message)
        }
        Category::Data if message.contains("must not be negative") => {
            ApiError::unprocessable("negative_money", message)
        }
        Category::Data => ApiError::unprocessable("validation_failed", message),
    };
    match field {
        Some(field) => api_error.at(field),
        None => api_error,
    }
}

fn body_error(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is larger than the limit")
    } else {
        ApiError::bad_request("malformed_json", rejection.body_text())
    }
}

/// A JSON response with a status.
pub fn reply<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A path id. One that does not parse is an id that does not exist: 404, the same body.
pub struct IdPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for IdPath<T>
where
    T: std::str::FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found("resource"))?;
        raw.parse().map(IdPath).map_err(|_| ApiError::not_found("resource"))
    }
}

/// The JSON body of a response built by this module (for composing replies).
pub async fn body_json(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}
