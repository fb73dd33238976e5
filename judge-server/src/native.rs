//! The native API (`/v1/...`): submissions with their tests, results with the same verdict
//! names and fields as `runner judge --json`, live events as Server-Sent Events, "run my
//! code", languages, health.

use crate::error::ApiError;
use crate::work::{Job, Maxima, Refused, Submitted, Work};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    name: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestIn {
    #[serde(default)]
    stdin: String,
    #[serde(default)]
    expected_output: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct LimitsIn {
    /// CPU seconds per test.
    time: Option<f64>,
    /// Memory per test: bytes, or a size such as "256M".
    memory: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProblemIn {
    tests: Vec<TestIn>,
    /// A checker name, or a custom checker `{language, source}`.
    #[serde(default)]
    checker: Option<serde_json::Value>,
    #[serde(default)]
    limits: Option<LimitsIn>,
    /// Whether results may show the first failing test's input and expected output.
    #[serde(default)]
    show_failure: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionIn {
    language: String,
    #[serde(default)]
    problem_id: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    files: Option<Vec<FileIn>>,
    #[serde(default)]
    tests: Vec<TestIn>,
    #[serde(default)]
    checker: Option<serde_json::Value>,
    #[serde(default)]
    limits: Option<LimitsIn>,
    #[serde(default)]
    fail_fast: Option<bool>,
    #[serde(default)]
    callback_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunIn {
    language: String,
    source: String,
    #[serde(default)]
    stdin: String,
    #[serde(default)]
    limits: Option<LimitsIn>,
}

#[derive(Deserialize, Default)]
struct WaitQuery {
    #[serde(default)]
    wait: Option<bool>,
}

/// The routes.
pub fn router() -> Router<Arc<Work>> {
    Router::new()
        .route("/v1/submissions", post(create).get(recent))
        .route("/", get(|| async { axum::response::Html(include_str!("../static/index.html")) }))
        .route("/queue", get(|| async { axum::response::Html(include_str!("../static/queue.html")) }))
        .route("/v1/submissions/:id", get(show).delete(cancel))
        .route("/v1/submissions/:id/events", get(events))
        .route("/v1/run", post(run))
        .route("/v1/problems/:id", get(problem_show).put(problem_put).delete(problem_delete))
        .route("/metrics", get(metrics))
        .route("/v1/callbacks/failed", get(dead_letters))
        .route("/v1/callbacks/:id/retry", post(retry_callback))
        .route("/v1/languages", get(languages))
        .route("/healthz", get(|| async { Json(serde_json::json!({"ok": true})) }))
        .route("/readyz", get(readyz))
}

fn limits(max: &Maxima, l: Option<LimitsIn>) -> Result<(u64, u64), ApiError> {
    let l = l.unwrap_or_default();
    let time = l.time.unwrap_or(1.0_f64.min(max.time_s));
    if !(time.is_finite() && (0.001..=max.time_s).contains(&time)) {
        return Err(ApiError::field("limits.time", format!("must be between 0.001 and {} seconds", max.time_s)));
    }
    let memory = match l.memory {
        None => (256 << 20).min(max.memory),
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().ok_or_else(|| ApiError::field("limits.memory", "must be a positive number of bytes"))?
        }
        Some(serde_json::Value::String(s)) => judge::parse_size(&s).map_err(|e| ApiError::field("limits.memory", e))?,
        Some(_) => return Err(ApiError::field("limits.memory", "must be bytes or a size such as \"256M\"")),
    };
    if !((8 << 20)..=max.memory).contains(&memory) {
        return Err(ApiError::field("limits.memory", format!("must be between 8M and {}M", max.memory >> 20)));
    }
    Ok(((time * 1e6) as u64, memory))
}

/// A checker as a client gives it: a name (`tokens`, `lines`, `exact`, `float:EPS`, `any`)
/// or a custom checker program `{"language": id, "source": text}` with testlib's interface
/// (`checker input output answer`; exit 0 accepted, 1 wrong answer, 2 presentation error).
/// Returns the name and the custom source.
fn parse_checker(work: &Work, c: Option<&serde_json::Value>) -> Result<(String, Option<(String, String)>), ApiError> {
    const NAMES: &str = "tokens, lines, exact, float:EPS, any, or {\"language\": ..., \"source\": ...}";
    match c {
        None | Some(serde_json::Value::Null) => Ok(("tokens".into(), None)),
        Some(serde_json::Value::String(name)) => {
            let ok = name == "any"
                || matches!(name.parse::<judge::CheckerSpec>(), Ok(spec) if !matches!(spec, judge::CheckerSpec::Custom(_)));
            if ok {
                Ok((name.clone(), None))
            } else {
                Err(ApiError::field("checker", NAMES))
            }
        }
        Some(serde_json::Value::Object(o)) => {
            if let Some(k) = o.keys().find(|k| !matches!(k.as_str(), "language" | "source")) {
                return Err(ApiError::field(&format!("checker.{k}"), "unknown field (language and source)"));
            }
            let lang = o
                .get("language")
                .and_then(|l| l.as_str())
                .ok_or_else(|| ApiError::field("checker.language", "must be a language id"))?;
            let source = o
                .get("source")
                .and_then(|l| l.as_str())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ApiError::field("checker.source", "must be the checker's source text"))?;
            check_language(work, lang).map_err(|_| {
                ApiError::field("checker.language", format!("{lang:?} is not a language available here"))
            })?;
            Ok(("custom".into(), Some((lang.to_string(), source.to_string()))))
        }
        Some(_) => Err(ApiError::field("checker", NAMES)),
    }
}

/// Source above the configured maximum: 422 naming the field.
pub(crate) fn check_source_size(max: &Maxima, field: &str, bytes: usize) -> Result<(), ApiError> {
    if bytes > max.source_bytes {
        return Err(ApiError::field(field, format!("is {bytes} bytes; at most {} are accepted", max.source_bytes)));
    }
    Ok(())
}

fn check_language(work: &Work, id: &str) -> Result<(), ApiError> {
    work.profiles.get(id).map_err(|e| ApiError::field("language", e.to_string()))?;
    work.availability(id)
        .map_err(|why| ApiError::field("language", format!("{id} is not available on this server: {why}")))?;
    Ok(())
}

async fn create(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    headers: axum::http::HeaderMap,
    q: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Json<SubmissionIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|_| ApiError::field("wait", "must be true or false"))?;
    let Json(s) = body.map_err(ApiError::from_json)?;
    check_language(&work, &s.language)?;
    if let Some(url) = &s.callback_url {
        crate::callbacks::check_url(url, &work.callbacks).map_err(|e| ApiError::field("callback_url", e))?;
    }
    let callback = s.callback_url.as_ref().map(|u| serde_json::json!({"url": u}));
    let files: Vec<(String, String)> = match (s.source, s.files) {
        (Some(src), None) => vec![("main".into(), src)],
        (None, Some(f)) if !f.is_empty() => {
            for (i, file) in f.iter().enumerate() {
                let n = &file.name;
                if n.is_empty() || n.len() > 255 || n == "." || n == ".." || n.contains(['/', '\0']) {
                    return Err(ApiError::field(&format!("files[{i}].name"), "must be a plain file name"));
                }
                if f[..i].iter().any(|earlier| earlier.name == *n) {
                    return Err(ApiError::field(&format!("files[{i}].name"), "is the name of an earlier file"));
                }
            }
            f.into_iter().map(|f| (f.name, f.content)).collect()
        }
        (Some(_), Some(_)) => return Err(ApiError::field("source", "give source or files, not both")),
        _ => return Err(ApiError::field("source", "can't be blank")),
    };
    // A stored problem brings its hidden tests, limits and checker.
    let mut problem_view = None;
    let (tests, checker_in, limits_in) = match &s.problem_id {
        Some(pid) => {
            if !s.tests.is_empty() {
                return Err(ApiError::field("tests", "give tests or problem_id, not both"));
            }
            let p = work
                .store
                .get_problem(pid)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::field("problem_id", format!("no problem {pid:?}")))?;
            problem_view = Some(serde_json::json!({"id": pid, "show_failure": p["show_failure"]}));
            let tests: Vec<TestIn> = serde_json::from_value(p["tests"].clone()).map_err(ApiError::internal)?;
            let limits: Option<LimitsIn> = serde_json::from_value(p["limits"].clone()).ok();
            (tests, Some(p["checker"].clone()), limits.or(s.limits))
        }
        None => (s.tests, s.checker, s.limits),
    };
    if tests.is_empty() {
        return Err(ApiError::field("tests", "at least one test is needed"));
    }
    if tests.len() > work.maxima.tests {
        return Err(ApiError::field("tests", format!("at most {} tests", work.maxima.tests)));
    }
    check_source_size(&work.maxima, "source", files.iter().map(|(_, c)| c.len()).sum())?;
    let (checker, checker_source) = parse_checker(&work, checker_in.as_ref())?;
    let (time_us, memory_bytes) = limits(&work.maxima, limits_in)?;
    let job = Job {
        language: s.language,
        files,
        tests: tests.into_iter().map(|t| (t.stdin, t.expected_output)).collect(),
        checker,
        checker_source,
        time_us,
        wall_time_us: None,
        memory_bytes,
        output_bytes: None,
        pids: None,
        fail_fast: s.fail_fast.unwrap_or(true),
        keep_output: false,
    };
    // The same Idempotency-Key from the same client gives the same submission, judged once;
    // the same key with another body is a client bug: 422, nothing queued.
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let id = uuid::Uuid::new_v4().to_string();
    enqueue_as(work, &id, &caller.owner, job, problem_view, callback, q.wait.unwrap_or(false), key.as_deref()).await
}

async fn problem_put(
    State(work): State<Arc<Work>>,
    Path(id): Path<String>,
    body: Result<Json<ProblemIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(p) = body.map_err(ApiError::from_json)?;
    if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ApiError::field("id", "use 1 to 100 letters, digits, - and _"));
    }
    if p.tests.is_empty() {
        return Err(ApiError::field("tests", "a problem needs at least one test"));
    }
    if p.tests.len() > work.maxima.tests {
        return Err(ApiError::field("tests", format!("at most {} tests", work.maxima.tests)));
    }
    parse_checker(&work, p.checker.as_ref())?;
    let limits_json = match &p.limits {
        Some(l) => {
            let (t, m) = limits(&work.maxima, Some(LimitsIn { time: l.time, memory: l.memory.clone() }))?;
            serde_json::json!({"time": t as f64 / 1e6, "memory": m})
        }
        None => serde_json::Value::Null,
    };
    let tests: Vec<serde_json::Value> =
        p.tests.iter().map(|t| serde_json::json!({"stdin": t.stdin, "expected_output": t.expected_output})).collect();
    let body = serde_json::json!({"tests": tests, "checker": p.checker, "limits": limits_json, "show_failure": p.show_failure});
    work.store.put_problem(&id, &body).map_err(ApiError::internal)?;
    Ok((StatusCode::OK, Json(serde_json::json!({"id": id, "tests": tests.len()}))).into_response())
}

/// A problem without its tests (they stay on the server).
async fn problem_show(
    State(work): State<Arc<Work>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = work.store.get_problem(&id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("problem"))?;
    // A custom checker's source stays on the server as the tests do; its language shows.
    let checker = match &p["checker"] {
        serde_json::Value::Object(o) => serde_json::json!({"language": o.get("language"), "custom": true}),
        other => other.clone(),
    };
    Ok(Json(serde_json::json!({
        "id": id,
        "tests": p["tests"].as_array().map_or(0, |t| t.len()),
        "checker": checker,
        "limits": p["limits"],
        "show_failure": p["show_failure"],
    })))
}

async fn problem_delete(State(work): State<Arc<Work>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if work.store.delete_problem(&id).map_err(ApiError::internal)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("problem"))
    }
}

/// Prometheus text: queue depth, running, submissions by status, verdict counts.
async fn metrics(State(work): State<Arc<Work>>) -> Response {
    use std::fmt::Write;
    use std::sync::atomic::Ordering;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP judge_queue_depth Submissions queued or running.\n# TYPE judge_queue_depth gauge");
    let _ = writeln!(out, "judge_queue_depth {}", work.depth.load(Ordering::SeqCst));
    let _ = writeln!(out, "# HELP judge_running Submissions being judged now.\n# TYPE judge_running gauge");
    let _ = writeln!(out, "judge_running {}", work.running.load(Ordering::SeqCst));
    let _ = writeln!(out, "# HELP judge_workers Workers (submissions judged at once).\n# TYPE judge_workers gauge");
    let _ = writeln!(out, "judge_workers {}", work.workers);
    let _ = writeln!(
        out,
        "# HELP judge_verdicts_total Submissions judged since start, by verdict.\n# TYPE judge_verdicts_total counter"
    );
    for (v, n) in work.verdicts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(out, "judge_verdicts_total{{verdict=\"{v}\"}} {n}");
    }
    let _ =
        writeln!(out, "# HELP judge_submissions Submissions in the store, by status.\n# TYPE judge_submissions gauge");
    for (st, n) in work.store.counts().unwrap_or_default() {
        let _ = writeln!(out, "judge_submissions{{status=\"{st}\"}} {n}");
    }
    let histograms = [
        ("judge_latency_seconds", "From a submission's arrival to its result.", &work.latency),
        ("judge_judging_seconds", "Judging one submission (compile and every test run).", &work.judging),
        (
            "judge_sandbox_setup_seconds",
            "The sandbox's setup of one test run, up to the program's execve.",
            &work.setup,
        ),
    ];
    for (name, help, h) in histograms {
        let h = h.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (le, n) in crate::work::LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// Dead letters: callbacks that failed every attempt (admin only; see `auth`).
async fn dead_letters(State(work): State<Arc<Work>>) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = work.store.dead_callbacks(500).map_err(ApiError::internal)?;
    Ok(Json(serde_json::Value::Array(rows.into_iter().map(|(v, _)| v).collect())))
}

/// Sends a dead letter again, with a fresh series of attempts (admin only).
async fn retry_callback(State(work): State<Arc<Work>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    if work.store.revive_callback(&id).map_err(ApiError::internal)? {
        Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"id": id, "state": "pending"}))).into_response())
    } else {
        Err(ApiError::not_found("dead letter"))
    }
}

/// Stores and queues a job as `id` (with an idempotency key, see `Work::submit_keyed`);
/// with `wait`, answers once it is judged.
#[allow(clippy::too_many_arguments)]
async fn enqueue_as(
    work: Arc<Work>,
    id: &str,
    owner: &str,
    job: Job,
    problem: Option<serde_json::Value>,
    callback: Option<serde_json::Value>,
    wait: bool,
    key: Option<&str>,
) -> Result<Response, ApiError> {
    let id = id.to_string();
    let request = serde_json::json!({ "job": job, "problem": problem, "callback": callback });
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(request.to_string().as_bytes()))
    };
    // Subscribe before queueing, so the end cannot be missed.
    let (_, mut rx) = work.hub.subscribe(&id);
    let submitted = work.submit_keyed(&id, "native", owner, &request, key.map(|k| (k, hash.as_str())));
    let forget = |rx| {
        drop(rx);
        work.hub.unsubscribe(&id);
    };
    match submitted {
        Ok(Submitted::New) => {}
        Ok(Submitted::Existing { id: earlier, hash: earlier_hash }) => {
            forget(rx);
            if earlier_hash.is_some_and(|h| h != hash) {
                return Err(ApiError::field(
                    "Idempotency-Key",
                    "was already used with a different request body; use a new key for a new submission",
                ));
            }
            // With `wait`, a retry waits for the earlier submission's end as the first
            // request did (subscribed before looking, so that the end cannot slip between).
            let (_, mut earlier_rx) = work.hub.subscribe(&earlier);
            let get = || {
                work.store.get(&earlier).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("submission"))
            };
            let mut row = get();
            if wait && row.as_ref().is_ok_and(|r| r.finished_at.is_none()) {
                wait_for_done(&mut earlier_rx).await;
                row = get();
            }
            drop(earlier_rx);
            work.hub.unsubscribe(&earlier);
            return Ok((StatusCode::OK, Json(view(&row?))).into_response());
        }
        Err(Refused::Full) => {
            forget(rx);
            return Err(ApiError::queue_full());
        }
        Err(Refused::Store(e)) => {
            forget(rx);
            return Err(ApiError::internal(e));
        }
    }
    if !wait {
        return Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"id": id, "status": "queued"}))).into_response());
    }
    wait_for_done(&mut rx).await;
    let row = work.store.get(&id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("submission"))?;
    Ok((StatusCode::OK, Json(view(&row))).into_response())
}

/// Waits for a submission's `done` event (or its channel's end).
pub(crate) async fn wait_for_done(rx: &mut tokio::sync::broadcast::Receiver<String>) {
    loop {
        match rx.recv().await {
            Ok(ev) if ev.contains("\"event\":\"done\"") => break,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
}

/// Whether a submission's tests are a problem's hidden ones (then no test content, such as
/// a diff's expected text, is shown).
pub(crate) fn hides_tests(request: &serde_json::Value) -> bool {
    request["problem"].is_object() && request["problem"]["show_failure"] != true
}

/// A result, or one test's result, as a client may see it: without diffs when the tests
/// are hidden.
pub(crate) fn public_result(request: &serde_json::Value, mut result: serde_json::Value) -> serde_json::Value {
    if hides_tests(request) {
        if let Some(o) = result.as_object_mut() {
            o.remove("diff");
        }
        if let Some(tests) = result.get_mut("tests").and_then(|t| t.as_array_mut()) {
            for t in tests {
                if let Some(o) = t.as_object_mut() {
                    o.remove("diff");
                }
            }
        }
    }
    result
}

/// A submission as the API shows it.
pub(crate) fn view(row: &crate::store::Row) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": row.id,
        "api": row.api,
        "status": row.status,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    });
    if let Some(r) = &row.result {
        for key in ["verdict", "compile", "tests", "first_failed", "message", "error"] {
            if let Some(x) = r.get(key) {
                v[key] = x.clone();
            }
        }
        // A problem's hidden tests are shown only if the problem allows it.
        let hidden = hides_tests(&row.request);
        if hidden {
            if let Some(tests) = v["tests"].as_array_mut() {
                for t in tests {
                    if let Some(o) = t.as_object_mut() {
                        o.remove("diff");
                    }
                }
            }
        }
        if let Some(first) = r.get("first_failed").and_then(|f| f.as_str()).filter(|_| !hidden) {
            // The first failing test with its expected output against the actual one (the
            // tests are the client's own here).
            let i: usize = first.parse().unwrap_or(1);
            if let Some(t) = row.request["job"]["tests"].get(i - 1) {
                v["first_failure"] = serde_json::json!({"test": first, "stdin": t[0], "expected_output": t[1]});
            }
        }
    }
    v
}

#[derive(Deserialize, Default)]
struct RecentQuery {
    #[serde(default)]
    limit: Option<usize>,
}

/// The latest submissions (a client sees its own; an admin, or everyone without tokens,
/// sees all).
async fn recent(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    q: Result<Query<RecentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = q.map_err(ApiError::from_query)?;
    let limit = q.limit.unwrap_or(20).min(200);
    let rows = work.store.recent(limit * 4).map_err(ApiError::internal)?;
    let mine: Vec<serde_json::Value> = rows
        .into_iter()
        .filter(|r| caller.admin || r["owner"].as_str() == Some(caller.owner.as_str()))
        .take(limit)
        .map(|mut r| {
            if let Some(o) = r.as_object_mut() {
                o.remove("owner");
            }
            r
        })
        .collect();
    Ok(Json(serde_json::Value::Array(mine)))
}

async fn show(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let row = work.owned(&id, &caller)?;
    let mut v = view(&row);
    if let Some((state, attempts, error)) = work.store.callback_state(&id).map_err(ApiError::internal)? {
        v["callback"] = serde_json::json!({"state": state, "attempts": attempts, "last_error": error});
    }
    Ok(Json(v))
}

/// Cancels a submission (see `Work::cancel`): 200 with the submission once a queued one is
/// cancelled, 202 while a running one is being stopped, 409 when it already finished.
async fn cancel(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    work.owned(&id, &caller)?;
    let w = Arc::clone(&work);
    let id2 = id.clone();
    let was = tokio::task::spawn_blocking(move || w.cancel(&id2))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found("submission"))?;
    match was.as_str() {
        "queued" => {
            let row =
                work.store.get(&id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("submission"))?;
            Ok((StatusCode::OK, Json(view(&row))).into_response())
        }
        "compiling" | "running" => {
            Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"id": id, "status": "cancelling"}))).into_response())
        }
        other => Err(ApiError::new(StatusCode::CONFLICT, format!("the submission is already {other}"))),
    }
}

async fn events(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribe before reading the row: a submission that finishes in between is then
    // either seen finished in the row or its end arrives on the channel.
    let (past, rx) = work.hub.subscribe(&id);
    let row = match work.owned(&id, &caller) {
        Ok(row) => row,
        Err(e) => {
            drop(rx);
            work.hub.unsubscribe(&id);
            return Err(e);
        }
    };
    let finished = matches!(row.status.as_str(), "done" | "error" | "cancelled");
    let mut first = vec![serde_json::json!({"event": "queued"}).to_string()];
    let live: std::pin::Pin<Box<dyn Stream<Item = String> + Send>> = if finished {
        drop(rx);
        work.hub.unsubscribe(&id);
        // A late client gets what happened: the stored result (as the API shows it) as the
        // last event.
        let r = public_result(&row.request, row.result.clone().unwrap_or_default());
        first.push(serde_json::json!({"event": "done", "status": row.status, "result": r}).to_string());
        Box::pin(stream::empty())
    } else {
        first.extend(past);
        let s = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(|m| async move { m.ok() });
        // End the stream after "done".
        let s = s.scan(false, |ended, m| {
            let out = if *ended { None } else { Some(m.clone()) };
            *ended |= m.contains("\"event\":\"done\"");
            async move { out }
        });
        Box::pin(s)
    };
    let all = stream::iter(first).chain(live).map(|data| {
        let name = serde_json::from_str::<serde_json::Value>(&data)
            .ok()
            .and_then(|v| v["event"].as_str().map(str::to_string))
            .unwrap_or_else(|| "message".into());
        Ok(SseEvent::default().event(name).data(data))
    });
    Ok(Sse::new(all).keep_alive(KeepAlive::default()))
}

async fn run(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    body: Result<Json<RunIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(r) = body.map_err(ApiError::from_json)?;
    check_language(&work, &r.language)?;
    check_source_size(&work.maxima, "source", r.source.len())?;
    let (time_us, memory_bytes) = limits(&work.maxima, r.limits)?;
    let job = Job {
        language: r.language,
        files: vec![("main".into(), r.source)],
        tests: vec![(r.stdin, None)],
        checker: "any".into(),
        checker_source: None,
        time_us,
        wall_time_us: None,
        memory_bytes,
        output_bytes: None,
        pids: None,
        fail_fast: true,
        keep_output: true,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let resp = enqueue_as(Arc::clone(&work), &id, &caller.owner, job, None, None, true, None).await?;
    // Reshape: one run's stdout, stderr and measurements.
    let body =
        axum::body::to_bytes(resp.into_body(), 64 << 20).await.map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = v["id"].as_str().unwrap_or_default().to_string();
    let row = work.store.get(&id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("run"))?;
    let result = row.result.unwrap_or_default();
    let b64 = |s: &serde_json::Value| -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let t = &result["tests"][0];
    Ok(Json(serde_json::json!({
        "id": id,
        "verdict": result["verdict"],
        "compile": result["compile"],
        "stdout": b64(&result["outputs"][0]["stdout"]),
        "stderr": b64(&result["outputs"][0]["stderr"]),
        "exit_code": t["exit_code"],
        "signal": t["signal"],
        "cpu_time_us": t["cpu_time_us"],
        "wall_time_us": t["wall_time_us"],
        "peak_memory_bytes": t["peak_memory_bytes"],
        "message": t["message"],
    }))
    .into_response())
}

async fn languages(State(work): State<Arc<Work>>) -> Json<serde_json::Value> {
    let v: Vec<serde_json::Value> = work
        .profiles
        .all()
        .map(|p| {
            let a = work.availability(&p.id);
            serde_json::json!({"id": p.id, "name": p.name, "available": a.is_ok(), "version": a.as_ref().ok()})
        })
        .collect();
    Json(serde_json::Value::Array(v))
}

async fn readyz(State(work): State<Arc<Work>>) -> Response {
    let store = work.store.writable();
    // A sandbox run at most once a second, whoever asks (the route needs no token).
    let cached =
        work.ready_cache.lock().unwrap_or_else(|p| p.into_inner()).filter(|(at, _)| at.elapsed().as_secs() < 1);
    let sandbox = match cached {
        Some((_, ok)) => ok,
        None => {
            let ok = tokio::task::spawn_blocking(|| {
                sandbox::Command::new("/bin/true").run().map(|r| r.status == sandbox::Status::Ok).unwrap_or(false)
            })
            .await
            .unwrap_or(false);
            *work.ready_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), ok));
            ok
        }
    };
    let code = if store && sandbox { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(serde_json::json!({"store": store, "sandbox": sandbox}))).into_response()
}
