//! Optional authentication and tenancy. With client tokens configured, every request but
//! the health checks carries one (`X-Auth-Token` header, or the same name as a query
//! parameter, as Judge0 accepts); a client sees only its own submissions (another's id is
//! 404, as if it did not exist: ids are also unguessable UUIDs). Problem writes need an
//! admin token. Tokens never reach the store: submissions keep a hash of their owner's.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The configured tokens.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    /// Client tokens.
    pub clients: Vec<String>,
    /// Admin tokens (also clients, seeing every submission).
    pub admins: Vec<String>,
}

impl Tokens {
    /// Whether authentication is on.
    pub fn enabled(&self) -> bool {
        !self.clients.is_empty() || !self.admins.is_empty()
    }
}

/// Who is calling, put into each request's extensions.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Hash of the token (`anonymous` with authentication off).
    pub owner: String,
    /// Sees and writes everything.
    pub admin: bool,
}

fn owner_of(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..12])
}

fn token_of(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get("x-auth-token").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.eq_ignore_ascii_case("x-auth-token")).then(|| v.to_string())
    })
}

fn deny(status: StatusCode, text: &str) -> Response {
    (status, Json(serde_json::json!({"error": text}))).into_response()
}

/// The middleware: identifies the caller, refuses unknown tokens and non-admin problem
/// writes, hides other clients' submissions.
pub async fn check(State(work): State<Arc<crate::work::Work>>, mut req: Request, next: Next) -> Response {
    let tokens = &work.tokens;
    let path = req.uri().path().to_string();
    let open = matches!(path.as_str(), "/healthz" | "/readyz" | "/version");
    let caller = if !tokens.enabled() {
        Caller { owner: "anonymous".into(), admin: true }
    } else {
        match token_of(&req) {
            Some(t) if tokens.admins.contains(&t) => Caller { owner: owner_of(&t), admin: true },
            Some(t) if tokens.clients.contains(&t) => Caller { owner: owner_of(&t), admin: false },
            _ if open => Caller { owner: "anonymous".into(), admin: false },
            _ => return deny(StatusCode::UNAUTHORIZED, "a valid X-Auth-Token is needed"),
        }
    };
    let method = req.method().clone();
    if path.starts_with("/v1/problems/") && method != axum::http::Method::GET && !caller.admin {
        return deny(StatusCode::FORBIDDEN, "problem writes need an admin token");
    }
    if path.starts_with("/v1/callbacks/") && !caller.admin {
        return deny(StatusCode::FORBIDDEN, "dead letters need an admin token");
    }
    // Someone else's submission is not found, whichever API asks.
    if !caller.admin {
        let ids: Vec<String> = if let Some(rest) = path.strip_prefix("/v1/submissions/") {
            vec![rest.trim_end_matches("/events").to_string()]
        } else if path == "/submissions/batch" && method == axum::http::Method::GET {
            req.uri()
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("tokens="))
                .map(|t| t.split(',').map(str::to_string).collect())
                .unwrap_or_default()
        } else if let Some(rest) = path.strip_prefix("/submissions/") {
            vec![rest.to_string()]
        } else {
            Vec::new()
        };
        for id in ids.iter().filter(|i| !i.is_empty()) {
            if let Ok(Some(row)) = work.store.get(id) {
                if row.request["owner"].as_str().unwrap_or("anonymous") != caller.owner {
                    return deny(StatusCode::NOT_FOUND, "submission not found");
                }
            }
        }
    }
    // Rate limit on what creates work.
    let creates = method == axum::http::Method::POST
        && matches!(path.as_str(), "/v1/submissions" | "/v1/run" | "/submissions" | "/submissions/batch");
    // A client is its token; without tokens every caller is "anonymous", so the bucket is
    // its IP address instead.
    let bucket = if tokens.enabled() {
        caller.owner.clone()
    } else {
        req.extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| format!("ip:{}", c.0.ip()))
    };
    if creates && !work.take_token(&bucket) {
        let mut r = deny(StatusCode::TOO_MANY_REQUESTS, "rate limit: too many submissions, try again later");
        r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return r;
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}
