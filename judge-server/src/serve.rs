//! The HTTP connections: accepting them and serving the router on each, with time limits on
//! what a client sends. A client that opens a connection and sends its header or its body
//! slowly, or never, would otherwise hold the connection (and a file descriptor) forever:
//! the header must arrive within `HEADER_TIMEOUT`, the body within `BODY_TIMEOUT`, and a
//! body announced larger than `--max-body` is refused with 413 before it is read.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a client has to send a request's header, from the connection or the last
/// request on it.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a client has to send a request's body once its header came.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `stop` completes, then accepts no more connections,
/// tells the open ones to close once their current request is answered (no further request
/// on a kept-alive connection), and waits for them (the caller aborts this task to end
/// them sooner).
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router, stop: impl std::future::Future<Output = ()>) {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: pass, and try again shortly.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let app = app.clone();
                // The peer's address reaches the handlers: the rate limit keys anonymous
                // clients by it.
                let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                    tower::ServiceExt::oneshot(app.clone(), req)
                });
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    let _ = connection.await;
                });
            }
        }
    }
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
}

/// Reads a request's whole body (at most `max_body` bytes, within `BODY_TIMEOUT`) before
/// the handler runs: 413 for a body announced or found larger (one announced more than four
/// times larger at once, unread), 408 for one that does not come in time.
pub async fn read_body(State(max_body): State<usize>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large =
        || ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {max_body} bytes"));
    if let Some(n) = announced.filter(|n| *n > max_body as u64) {
        // A body somewhat over the limit is read and dropped first, so that a client
        // still sending it reads the 413 instead of a reset connection; a far larger one
        // is answered at once.
        if n <= 4 * max_body as u64 {
            let _ = tokio::time::timeout(BODY_TIMEOUT, drain(req.into_body(), n)).await;
        }
        return too_large().into_response();
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, max_body)).await {
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()),
        )
        .into_response(),
        // Over the limit, or a body that broke off (the client went, a bad chunk).
        Ok(Err(e)) if is_too_large(&e) => too_large().into_response(),
        Ok(Err(e)) => ApiError::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}")).into_response(),
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
    }
}

/// Reads and drops a body, frame by frame, until `at_most` bytes or its end: none of it is
/// kept.
async fn drain(body: axum::body::Body, at_most: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0u64;
    while seen < at_most {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// Whether reading a body failed because it is larger than the limit.
fn is_too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}
