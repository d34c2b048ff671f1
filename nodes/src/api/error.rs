//! The API's one error shape, `{"error":{"code":"…","message":"…","field":…}}`, and the one
//! place typed errors (`Rejection`, `ValidationError`, token and service errors) become a
//! stable code and an HTTP status. Codes never change meaning once published.

use super::service::{CommandError, ServiceError};
use crate::auth::token::TokenError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use practice_protocol::claim::Rejection;
use practice_protocol::{ValidationError, ValidationKind};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Absent, or present in another organization: the same answer (G8).
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        let code = match error.kind {
            ValidationKind::Negative { .. } => "negative_money",
            ValidationKind::Missing => "missing_field",
            _ => "validation_failed",
        };
        ApiError::unprocessable(code, error.to_string()).at(error.field)
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.to_string();
        match rejection {
            Rejection::Forbidden { .. } => ApiError::forbidden(message),
            Rejection::NeedsApproval { .. } => ApiError::new(StatusCode::FORBIDDEN, "needs_approval", message),
            // The protocol tells them apart; the API must not (G8).
            Rejection::NotFound | Rejection::WrongOrganization => ApiError::not_found("claim"),
            Rejection::AlreadyExists => ApiError::new(StatusCode::CONFLICT, "already_exists", message),
            Rejection::InvalidTransition { .. } => ApiError::new(StatusCode::CONFLICT, "invalid_transition", message),
            Rejection::NotSignedOff => ApiError::new(StatusCode::CONFLICT, "not_signed_off", message),
            Rejection::NothingToWriteOff { .. } => ApiError::new(StatusCode::CONFLICT, "nothing_to_write_off", message),
            Rejection::Invalid(errors) => match errors.into_iter().next() {
                Some(first) => {
                    let mut error = ApiError::from(first);
                    error.message = message;
                    error
                }
                None => ApiError::unprocessable("validation_failed", message),
            },
            Rejection::Posting(_) => ApiError::unprocessable("posting_refused", message),
            Rejection::MissingReason { field } => ApiError::unprocessable("missing_field", message).at(field),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", error.to_string())
            }
            ServiceError::Timeout => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", error.to_string()),
            // Internal detail stays in the logs.
            ServiceError::Internal(_) => {
                tracing::error!(%error, "claim service failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected(rejection) => rejection.into(),
            CommandError::Service(service) => service.into(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        let code = match error {
            TokenError::Missing => "unauthenticated",
            TokenError::Malformed => "token_malformed",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::Expired(_) => "token_expired",
            TokenError::UnknownRole(_) => "token_unknown_role",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, error.to_string())
    }
}

/// Every code this API answers with, for the OpenAPI document and its test.
pub const CODES: &[&str] = &[
    "unauthenticated",
    "token_malformed",
    "token_bad_signature",
    "token_expired",
    "token_unknown_role",
    "connector_signature_invalid",
    "forbidden",
    "needs_approval",
    "not_found",
    "already_exists",
    "invalid_transition",
    "not_signed_off",
    "nothing_to_write_off",
    "already_resolved",
    "nothing_to_post",
    "malformed_json",
    "unknown_field",
    "wrong_type",
    "missing_field",
    "negative_money",
    "validation_failed",
    "posting_refused",
    "nothing_due",
    "card_data_refused",
    "payment_declined",
    "unsupported_media_type",
    "payload_too_large",
    "unavailable",
    "timeout",
    "internal",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_map_to_statuses_without_leaking_detail() {
        let cases = [
            (ServiceError::Unavailable("draining".into()), StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            (ServiceError::Timeout, StatusCode::GATEWAY_TIMEOUT, "timeout"),
            (ServiceError::Internal("sled: corrupt page 7".into()), StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status, api.code), (status, code));
            assert!(!api.message.contains("sled"));
        }
    }

    #[test]
    fn other_organizations_and_absence_look_the_same() {
        assert_eq!(ApiError::from(Rejection::WrongOrganization), ApiError::from(Rejection::NotFound));
    }

    #[test]
    fn every_code_used_is_listed() {
        let sources = [
            include_str!("error.rs"),
            include_str!("json.rs"),
            include_str!("claims.rs"),
            include_str!("billing.rs"),
            include_str!("statements.rs"),
            include_str!("upload.rs"),
            include_str!("suspense.rs"),
            include_str!("../auth/connector.rs"),
        ];
        let mut seen = 0;
        for source in sources {
            for marker in ["ApiError::new(", "unprocessable(", "bad_request("] {
                for (index, _) in source.match_indices(marker) {
                    let rest = &source[index + marker.len()..];
                    let Some(start) = rest.find('"') else { continue };
                    let Some(length) = rest[start + 1..].find('"') else { continue };
                    let code = &rest[start + 1..start + 1 + length];
                    if code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !code.is_empty() {
                        assert!(CODES.contains(&code), "{code} is not in CODES");
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 20, "found only {seen} codes");
    }
}
