//! Optional authentication and tenancy. With client tokens configured, every request but
//! the health checks carries one (`X-Auth-Token` header, or the same name as a query
//! parameter, as Judge0 accepts); a client sees only its own submissions (another's id is
//! 404, as if it did not exist: ids are also unguessable UUIDs), which every handler checks
//! on the id it extracted (`Work::owned`). Problem writes and dead letters need an admin
//! token (as `X-Auth-Token`, or Judge0's `X-Auth-User`). Tokens never reach the store: submissions keep a hash of their owner's.

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

impl Caller {
    /// Whether this caller may see a submission stored with `owner`.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.admin || owner.unwrap_or("anonymous") == self.owner
    }
}

fn owner_of(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..12])
}

/// The value of `name` as a header, or as a query parameter (percent-decoded), as Judge0
/// accepts both.
fn credential(req: &Request, name: &str) -> Option<String> {
    if let Some(v) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
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
        // X-Auth-Token authenticates; X-Auth-User (Judge0's header for privileged calls)
        // carrying an admin token makes the caller an admin.
        let user_is_admin = credential(&req, "x-auth-user").is_some_and(|u| tokens.admins.contains(&u));
        match credential(&req, "x-auth-token") {
            Some(t) if tokens.admins.contains(&t) => Caller { owner: owner_of(&t), admin: true },
            Some(t) if tokens.clients.contains(&t) => Caller { owner: owner_of(&t), admin: user_is_admin },
            None if user_is_admin => {
                let u = credential(&req, "x-auth-user").unwrap_or_default();
                Caller { owner: owner_of(&u), admin: true }
            }
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
