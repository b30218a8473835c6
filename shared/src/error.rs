//! One error type for the whole application, mapped once to HTTP responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that fails validation: a message per field (zh-TW).
    #[error("輸入資料有誤")]
    Validation(FieldErrors),
    /// Malformed request (not a form, wrong encoding...).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (already applied, already decided).
    #[error("{0}")]
    Conflict(String),
    /// The thing existed but is no longer usable (an expired link).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A file of a type the system does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A backend that may work again on retry (throttling, a lock, a network error).
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    /// A bug or a broken backend: details are logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable machine-readable code for JSON clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation",
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// What the user is told (zh-TW). Internal details stay in the logs.
    pub fn user_message(&self) -> String {
        match self {
            Self::Validation(_) => "輸入資料有誤，請依欄位提示修正後再送出。".into(),
            Self::Unavailable(_) => "系統忙碌中，請稍後再試。".into(),
            Self::Internal(_) => "系統發生錯誤，請稍後再試；若持續發生請聯絡客服。".into(),
            other => other.to_string(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code(),
            message: self.user_message(),
            fields: match self {
                Self::Validation(f) => Some(f.clone()),
                _ => None,
            },
        }
    }
}

/// The JSON error body; also attached to the response as an extension so the
/// HTML layer can render the same error as a page.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(error.detail = %detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(error.detail = %detail, "backend unavailable"),
            other => tracing::info!(status = status.as_u16(), error.code = other.code(), "request refused"),
        }
        let body = self.body();
        let mut resp = (status, Json(body.clone())).into_response();
        resp.extensions_mut().insert(body);
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;
