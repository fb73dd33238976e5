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
            J::JsonDataError(d) => ApiError::from_data_error(&d.body_text()),
            J::JsonSyntaxError(s) => ApiError::new(StatusCode::BAD_REQUEST, s.body_text()),
            J::MissingJsonContentType(m) => ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, m.body_text()),
            J::BytesRejection(b) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, b.body_text()),
            other => ApiError::new(StatusCode::BAD_REQUEST, other.body_text()),
        }
    }
}

impl ApiError {
    /// A body of the wrong shape (a field missing or of the wrong type): 422 naming the
    /// field, as validation errors do, from the text axum gives ("<prefix>: <path>: <what>
    /// at line L column C"). What names no field stays `{"error": what}`.
    fn from_data_error(text: &str) -> ApiError {
        let what = text.split_once(": ").map_or(text, |(_, rest)| rest);
        let what = match what.rfind(" at line ") {
            Some(i) if what[i..].contains(" column ") => &what[..i],
            _ => what,
        };
        // A path names the field when the error is below the body's top level.
        let (path, what) = match what.split_once(": ") {
            Some((path, rest)) if !path.is_empty() && !path.contains(' ') => (Some(path), rest),
            _ => (None, what),
        };
        let missing = what.strip_prefix("missing field `").and_then(|m| m.split('`').next());
        let field = match (path, missing) {
            (Some(p), Some(m)) => Some(format!("{p}.{m}")),
            (None, Some(m)) => Some(m.to_string()),
            (Some(p), None) => Some(p.to_string()),
            (None, None) => None,
        };
        match (field, missing) {
            (Some(f), Some(_)) => ApiError::field(&f, "can't be blank"),
            (Some(f), None) => ApiError::field(&f, what),
            (None, _) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, what),
        }
    }

    /// A query string that does not parse: 400 saying what is wrong with it.
    pub fn from_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
        let text = e.body_text();
        let what = text.split_once(": ").map_or(text.as_str(), |(_, rest)| rest);
        ApiError::new(StatusCode::BAD_REQUEST, format!("bad query string: {what}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_the_wrong_shape_names_its_field() {
        let prefix = "Failed to deserialize the JSON body into the target type: ";
        let cases = [
            (
                "limits.time: invalid type: string \"x\", expected f64 at line 1 column 30",
                serde_json::json!({"limits.time": ["invalid type: string \"x\", expected f64"]}),
            ),
            ("missing field `language` at line 1 column 2", serde_json::json!({"language": ["can't be blank"]})),
            (
                "tests[0]: missing field `stdin` at line 1 column 40",
                serde_json::json!({"tests[0].stdin": ["can't be blank"]}),
            ),
            (
                "invalid type: integer `3`, expected a map at line 1 column 1",
                serde_json::json!({"error": "invalid type: integer `3`, expected a map"}),
            ),
        ];
        for (text, want) in cases {
            let e = ApiError::from_data_error(&format!("{prefix}{text}"));
            assert_eq!((e.status, e.body), (StatusCode::UNPROCESSABLE_ENTITY, want), "{text}");
        }
    }
}
