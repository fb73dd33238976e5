//! One error type for the HTTP handlers: a status and a JSON body naming what was wrong
//! (422 with a field → messages map for validation, as Judge0 does). Internal details are
//! logged, not sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    /// `{"error": text}` with `status`.
    pub fn new(status: StatusCode, text: impl Into<String>) -> ApiError {
        ApiError { status, body: serde_json::json!({"error": text.into()}) }
    }

    /// 422 `{field: [message]}`.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, body: serde_json::json!({field: [message.into()]}) }
    }

    /// 503 "queue is full", with `Retry-After` (see `IntoResponse`).
    pub fn queue_full() -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "queue is full")
    }

    /// 404 naming what was not found.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// 500, logged with its cause; the client sees no detail.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e:#}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The JSON body (for per-entry errors of a batch).
    pub fn body(&self) -> serde_json::Value {
        self.body.clone()
    }

    /// A body that is not the JSON expected: 400 for syntax, 422 for types and fields.
    pub fn from_json(e: axum::extract::rejection::JsonRejection) -> ApiError {
        use axum::extract::rejection::JsonRejection as J;
        match e {
            J::JsonDataError(d) => {
                ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, body: serde_json::json!({"error": d.body_text()}) }
            }
            J::JsonSyntaxError(s) => ApiError::new(StatusCode::BAD_REQUEST, s.body_text()),
            J::MissingJsonContentType(m) => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, m.body_text()),
            J::BytesRejection(b) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, b.body_text()),
            other => ApiError::new(StatusCode::BAD_REQUEST, other.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // A full queue drains in seconds: come back soon.
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("2"));
        }
        r
    }
}
