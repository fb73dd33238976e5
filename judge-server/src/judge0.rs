//! A Judge0-compatible API (the CE 1.13.1 shape) on the same port, so clients written for
//! Judge0 (its official Python SDK among them) work unchanged: submissions one by one or in
//! batches, with `wait`, `base64_encoded` and `fields`; languages, statuses, config_info,
//! system_info, about, version. Judge0's output comparison and status ids.

use crate::error::ApiError;
use crate::store::Row;
use crate::work::{Job, Refused, Work};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const MAX_BATCH: usize = 20;
const DEFAULT_FIELDS: &[&str] = &["token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status"];
const ALL_FIELDS: &[&str] = &[
    "source_code",
    "language_id",
    "stdin",
    "expected_output",
    "stdout",
    "status_id",
    "created_at",
    "finished_at",
    "time",
    "wall_time",
    "memory",
    "stderr",
    "token",
    "number_of_runs",
    "cpu_time_limit",
    "cpu_extra_time",
    "wall_time_limit",
    "memory_limit",
    "stack_limit",
    "max_processes_and_or_threads",
    "enable_per_process_and_thread_time_limit",
    "enable_per_process_and_thread_memory_limit",
    "max_file_size",
    "compile_output",
    "exit_code",
    "exit_signal",
    "message",
    "compiler_options",
    "command_line_arguments",
    "redirect_stderr_to_stdout",
    "callback_url",
    "additional_files",
    "enable_network",
    "status",
    "language",
];

/// The routes.
pub fn router() -> Router<Arc<Work>> {
    Router::new()
        .route("/submissions", axum::routing::post(create))
        .route("/submissions/batch", get(show_batch).post(create_batch))
        .route("/submissions/:token", get(show))
        .route("/languages", get(languages))
        .route("/languages/:id", get(language))
        .route("/statuses", get(statuses))
        .route("/config_info", get(config_info))
        .route("/system_info", get(system_info))
        .route("/about", get(about))
        .route("/version", get(|| async { "1.13.1" }))
}

#[derive(Deserialize, Default)]
struct Params {
    #[serde(default)]
    base64_encoded: Option<String>,
    #[serde(default)]
    wait: Option<String>,
    #[serde(default)]
    fields: Option<String>,
    #[serde(default)]
    tokens: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("true") | Some("1"))
}

const STATUSES: &[(u32, &str)] = &[
    (1, "In Queue"),
    (2, "Processing"),
    (3, "Accepted"),
    (4, "Wrong Answer"),
    (5, "Time Limit Exceeded"),
    (6, "Compilation Error"),
    (7, "Runtime Error (SIGSEGV)"),
    (8, "Runtime Error (SIGXFSZ)"),
    (9, "Runtime Error (SIGFPE)"),
    (10, "Runtime Error (SIGABRT)"),
    (11, "Runtime Error (NZEC)"),
    (12, "Runtime Error (Other)"),
    (13, "Internal Error"),
    (14, "Exec Format Error"),
];

fn status(id: u32) -> serde_json::Value {
    let d = STATUSES.iter().find(|(i, _)| *i == id).map_or("", |(_, d)| d);
    serde_json::json!({"id": id, "description": d})
}

fn profile_for(work: &Work, id: u64) -> Option<&judge::Profile> {
    let id = u32::try_from(id).ok()?;
    work.profiles.all().find(|p| p.judge0_ids.contains(&id))
}

/// Decodes a text field: base64 when asked (newlines tolerated), else as is.
fn text(v: &serde_json::Value, field: &str, b64: bool) -> Result<Option<String>, ApiError> {
    match v.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if b64 => {
            let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = B64.decode(clean).map_err(|_| ApiError::field(field, "is not valid base64"))?;
            String::from_utf8(bytes).map(Some).map_err(|_| ApiError::field(field, "is not valid UTF-8"))
        }
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

/// A number field (or a string holding one), greater than 0 and at most `max`; `default`
/// when it is absent or null.
fn number(v: &serde_json::Value, field: &str, default: f64, max: f64) -> Result<f64, ApiError> {
    Ok(given_number(v, field, false, max)?.unwrap_or(default))
}

/// A number field (or a string holding one) when it is given: at most `max`, and greater
/// than 0 (or, with `zero_too`, 0 or more).
fn given_number(v: &serde_json::Value, field: &str, zero_too: bool, max: f64) -> Result<Option<f64>, ApiError> {
    let Some(n) = v.get(field).filter(|n| !n.is_null()) else { return Ok(None) };
    let x = n
        .as_f64()
        .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| ApiError::field(field, "is not a number"))?;
    let low_ok = if zero_too { x >= 0.0 } else { x > 0.0 };
    if !(low_ok && x <= max) {
        let low = if zero_too { "greater than or equal to 0" } else { "greater than 0" };
        return Err(ApiError::field(field, format!("must be {low} and at most {max}")));
    }
    Ok(Some(x))
}

/// Judge0's defaults and bounds that this server applies (as `/config_info` says).
const CPU_TIME_LIMIT: f64 = 5.0;
const MEMORY_LIMIT_KB: f64 = 128_000.0;
const WALL_TIME_LIMIT: f64 = 10.0;
const MAX_WALL_TIME_LIMIT: f64 = 20.0;
const MAX_FILE_SIZE_KB: f64 = 1024.0;
const MAX_MAX_FILE_SIZE_KB: f64 = 4096.0;
const MIN_MEMORY_LIMIT_KB: f64 = 2048.0;
const MAX_MAX_PROCESSES: f64 = 120.0;
/// Judge0's default, which `/config_info` shows; not given, a run has its language's own.
const MAX_PROCESSES: f64 = 60.0;
/// Checked as Judge0 checks them, not applied (see `job_from`).
const STACK_LIMIT_KB: f64 = 64_000.0;
const MAX_STACK_LIMIT_KB: f64 = 128_000.0;
const CPU_EXTRA_TIME: f64 = 1.0;
const MAX_CPU_EXTRA_TIME: f64 = 5.0;

/// Refuses, naming the field as Judge0 does (422), what `/config_info` says is off here or
/// what this server does not do, instead of accepting it and judging without it.
fn refuse_unsupported(v: &serde_json::Value) -> Result<(), ApiError> {
    let set = |f: &str| match v.get(f) {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    for (field, why) in [
        ("compiler_options", "setting compiler options is not allowed"),
        ("command_line_arguments", "setting command line arguments is not allowed"),
        ("additional_files", "setting additional files is not allowed"),
        ("enable_network", "enabling network is not allowed"),
        ("redirect_stderr_to_stdout", "redirecting stderr to stdout is not supported here"),
        ("enable_per_process_and_thread_time_limit", "per-process time limits are not allowed"),
        ("enable_per_process_and_thread_memory_limit", "per-process memory limits are not allowed"),
    ] {
        if set(field) {
            return Err(ApiError::field(field, why));
        }
    }
    match v.get("number_of_runs") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(n) if n.as_f64() == Some(1.0) => Ok(()),
        Some(_) => Err(ApiError::field("number_of_runs", "must be less than or equal to 1")),
    }
}

/// A Judge0 submission request turned into a job (and the request kept for `fields=*`).
fn job_from(work: &Work, v: &serde_json::Value, b64: bool) -> Result<(Job, serde_json::Value), ApiError> {
    if !v.is_object() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "a submission must be a JSON object"));
    }
    let source = text(v, "source_code", b64)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("source_code", "can't be blank"))?;
    // A number, or a string holding one (as Judge0's Rails API takes it).
    let lang = match v.get("language_id") {
        None | Some(serde_json::Value::Null) => return Err(ApiError::field("language_id", "can't be blank")),
        Some(x) => x
            .as_u64()
            .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| ApiError::field("language_id", "is not a number"))?,
    };
    refuse_unsupported(v)?;
    let profile = profile_for(work, lang)
        .ok_or_else(|| ApiError::field("language_id", format!("language with id {lang} doesn't exist")))?;
    if let Err(why) = work.availability(&profile.id) {
        return Err(ApiError::field("language_id", format!("language with id {lang} is not available here: {why}")));
    }
    let stdin = text(v, "stdin", b64)?.unwrap_or_default();
    let expected = text(v, "expected_output", b64)?;
    crate::native::check_source_size(&work.maxima, "source_code", source.len())?;
    let cpu = number(v, "cpu_time_limit", CPU_TIME_LIMIT.min(work.maxima.time_s), work.maxima.time_s)?;
    let wall = number(v, "wall_time_limit", WALL_TIME_LIMIT, MAX_WALL_TIME_LIMIT)?;
    let max_kb = (work.maxima.memory / 1024) as f64;
    let memory_kb = number(v, "memory_limit", MEMORY_LIMIT_KB.min(max_kb), max_kb)?;
    if memory_kb < MIN_MEMORY_LIMIT_KB {
        return Err(ApiError::field("memory_limit", format!("must be greater than or equal to {MIN_MEMORY_LIMIT_KB}")));
    }
    let file_kb = number(v, "max_file_size", MAX_FILE_SIZE_KB, MAX_MAX_FILE_SIZE_KB)?;
    // Processes and threads: applied when given. Not given, the language's own allowance
    // holds (a JVM or Go runtime needs more threads than some programs do processes).
    let processes = given_number(v, "max_processes_and_or_threads", false, MAX_MAX_PROCESSES)?;
    if processes.is_some_and(|n| n.fract() != 0.0) {
        return Err(ApiError::field("max_processes_and_or_threads", "must be an integer"));
    }
    let processes = processes.map(|n| n as u64);
    // Checked as Judge0 checks them, and kept, but not applied: the stack may grow as far
    // as the memory limit, and a run is stopped at its CPU limit, without extra time.
    let stack_kb = given_number(v, "stack_limit", false, MAX_STACK_LIMIT_KB)?;
    let extra = given_number(v, "cpu_extra_time", true, MAX_CPU_EXTRA_TIME)?;
    let job = Job {
        language: profile.id.clone(),
        files: vec![("main".into(), source.clone())],
        checker: if expected.is_some() { "lines".into() } else { "any".into() },
        checker_source: None,
        tests: vec![(stdin.clone(), expected.clone())],
        time_us: (cpu * 1e6) as u64,
        wall_time_us: Some((wall * 1e6) as u64),
        memory_bytes: ((memory_kb * 1024.0) as u64).max(16 << 20),
        // Judge0 writes the program's output to files of at most max_file_size: past it
        // the run is SIGXFSZ (status 8), here output_limit, shown as 8.
        output_bytes: Some((file_kb * 1024.0) as u64),
        pids: processes,
        fail_fast: true,
        keep_output: true,
    };
    let kept = serde_json::json!({
        "source_code": source, "language_id": lang, "stdin": stdin, "expected_output": expected,
        "cpu_time_limit": cpu, "wall_time_limit": wall, "memory_limit": kilobytes(memory_kb),
        "max_file_size": kilobytes(file_kb), "max_processes_and_or_threads": processes,
        "stack_limit": stack_kb.map(kilobytes), "cpu_extra_time": extra,
        "callback_url": v.get("callback_url"),
    });
    Ok((job, kept))
}

/// A size in KB as Judge0 shows it: an integer when it is whole (a client may read it
/// into an integer type), else the number as given.
fn kilobytes(kb: f64) -> serde_json::Value {
    if kb.fract() == 0.0 && kb.abs() < 9.0e15 {
        serde_json::json!(kb as i64)
    } else {
        serde_json::json!(kb)
    }
}

/// Judge0's status for a finished submission.
fn status_id(row: &Row) -> u32 {
    match row.status.as_str() {
        "queued" => return 1,
        "compiling" | "running" => return 2,
        "error" => return 13,
        _ => {}
    }
    let r = row.result.clone().unwrap_or_default();
    let t = &r["tests"][0];
    match r["verdict"].as_str().unwrap_or("") {
        "accepted" => 3,
        "wrong_answer" | "presentation_error" => 4,
        "time_limit" => 5,
        "compilation_error" => 6,
        "output_limit" => 8,
        "runtime_error" => match t["signal"].as_i64() {
            Some(11) => 7,
            Some(25) => 8,
            Some(8) => 9,
            Some(6) => 10,
            Some(_) => 12,
            None => 11,
        },
        "memory_limit" => 12,
        _ => 13,
    }
}

/// The submission in Judge0's shape, restricted to `fields`.
fn render(row: &Row, b64: bool, fields: &[&str]) -> Result<serde_json::Value, ApiError> {
    let r = row.result.clone().unwrap_or_default();
    let req = &row.request["judge0"];
    let t = &r["tests"][0];
    let decode = |s: &serde_json::Value| -> Vec<u8> { B64.decode(s.as_str().unwrap_or("")).unwrap_or_default() };
    let out = |bytes: Vec<u8>, present: bool| -> Result<serde_json::Value, ApiError> {
        if !present {
            return Ok(serde_json::Value::Null);
        }
        if b64 {
            return Ok(serde_json::Value::String(B64.encode(bytes)));
        }
        String::from_utf8(bytes).map(serde_json::Value::String).map_err(|_| {
            ApiError::new(StatusCode::BAD_REQUEST, "some output is not valid UTF-8: ask with base64_encoded=true")
        })
    };
    let enc_in = |s: &serde_json::Value| -> serde_json::Value {
        match (s.as_str(), b64) {
            (Some(x), true) => serde_json::Value::String(B64.encode(x)),
            _ => s.clone(),
        }
    };
    let finished = row.result.is_some();
    let sid = status_id(row);
    let compile_output = r["compile"]["output"].as_str().filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec());
    let message = t["message"].as_str().or(r["error"].as_str()).map(|s| s.as_bytes().to_vec());
    let secs =
        |us: &serde_json::Value| us.as_u64().map(|u| serde_json::Value::String(format!("{:.3}", u as f64 / 1e6)));
    let mut all = serde_json::json!({
        "token": row.id,
        "source_code": enc_in(&req["source_code"]),
        "language_id": req["language_id"],
        "stdin": enc_in(&req["stdin"]),
        "expected_output": enc_in(&req["expected_output"]),
        "stdout": out(decode(&r["outputs"][0]["stdout"]), finished && r["outputs"][0]["stdout"].is_string())?,
        "stderr": out(decode(&r["outputs"][0]["stderr"]), finished && r["outputs"][0]["stderr"].is_string())?,
        "compile_output": out(compile_output.clone().unwrap_or_default(), compile_output.is_some())?,
        "message": out(message.clone().unwrap_or_default(), message.is_some())?,
        "exit_code": t["exit_code"],
        "exit_signal": t["signal"],
        "status": status(sid),
        "status_id": sid,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "time": secs(&t["cpu_time_us"]),
        "wall_time": secs(&t["wall_time_us"]),
        "memory": t["peak_memory_bytes"].as_u64().map(|b| b / 1024),
        "cpu_time_limit": req["cpu_time_limit"],
        "wall_time_limit": req["wall_time_limit"],
        "memory_limit": req["memory_limit"],
        "max_file_size": req["max_file_size"],
        "max_processes_and_or_threads": req["max_processes_and_or_threads"],
        "stack_limit": req["stack_limit"],
        "cpu_extra_time": req["cpu_extra_time"],
        "callback_url": req["callback_url"],
        "number_of_runs": 1,
        "language": {"id": req["language_id"]},
    });
    let mut v = serde_json::Map::new();
    for f in fields {
        v.insert(f.to_string(), all.get_mut(*f).map(std::mem::take).unwrap_or(serde_json::Value::Null));
    }
    Ok(serde_json::Value::Object(v))
}

/// The default fields, for callbacks (never fails: undecodable output is sent in base64).
pub(crate) fn render_default(row: &Row, b64: bool) -> serde_json::Value {
    render(row, b64, DEFAULT_FIELDS).or_else(|_| render(row, true, DEFAULT_FIELDS)).unwrap_or_default()
}

fn fields_of(p: &Params) -> Result<Vec<&'static str>, ApiError> {
    match p.fields.as_deref() {
        None | Some("") => Ok(DEFAULT_FIELDS.to_vec()),
        Some("*") => Ok(ALL_FIELDS.to_vec()),
        Some(list) => {
            let mut out = Vec::new();
            let mut bad = Vec::new();
            for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                match ALL_FIELDS.iter().find(|a| **a == f) {
                    Some(a) => out.push(*a),
                    None => bad.push(f.to_string()),
                }
            }
            if !bad.is_empty() {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("invalid fields: [{}]", bad.join(", "))));
            }
            Ok(out)
        }
    }
}

/// The body as JSON; a body over the size limit is a JSON 413, malformed JSON a 400.
fn parse_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Value, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))
}

/// The callback of a Judge0 submission: checked like the native API's (422 naming the
/// field), stored with the request.
fn callback_of(work: &Work, v: &serde_json::Value, b64: bool) -> Result<serde_json::Value, ApiError> {
    match v.get("callback_url") {
        None | Some(serde_json::Value::Null) => Ok(serde_json::Value::Null),
        Some(serde_json::Value::String(url)) => {
            crate::callbacks::check_url(url, &work.callbacks).map_err(|e| ApiError::field("callback_url", e))?;
            Ok(serde_json::json!({"url": url, "base64": b64}))
        }
        Some(_) => Err(ApiError::field("callback_url", "must be a URL string")),
    }
}

async fn create(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    p: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p.map_err(ApiError::from_query)?;
    let b64 = truthy(&p.base64_encoded);
    // Every check before anything is stored: a bad `fields` must not leave a job behind.
    let fields = fields_of(&p)?;
    let v = parse_body(body)?;
    let (job, kept) = job_from(&work, &v, b64)?;
    let callback = callback_of(&work, &v, b64)?;
    let id = uuid::Uuid::new_v4().to_string();
    let (_, mut rx) = work.hub.subscribe(&id);
    match work.submit(
        &id,
        "judge0",
        &caller.owner,
        &serde_json::json!({"job": job, "judge0": kept, "callback": callback}),
    ) {
        Ok(()) => {}
        Err(refused) => {
            drop(rx);
            work.hub.unsubscribe(&id);
            return Err(match refused {
                Refused::Full => ApiError::queue_full(),
                Refused::Store(e) => ApiError::internal(e),
            });
        }
    }
    if !truthy(&p.wait) {
        return Ok((StatusCode::CREATED, Json(serde_json::json!({"token": id}))).into_response());
    }
    crate::native::wait_for_done(&mut rx).await;
    let row = work.store.get(&id).map_err(ApiError::internal)?.ok_or_else(|| ApiError::not_found("submission"))?;
    match render(&row, b64, &fields) {
        Ok(v) => Ok((StatusCode::CREATED, Json(v)).into_response()),
        // The submission exists and was judged: its token, and why it cannot be shown as
        // text (as Judge0 answers), so that the client asks again instead of resubmitting.
        Err(e) => {
            let why = e.body()["error"].as_str().unwrap_or("the result cannot be shown").to_string();
            Ok((StatusCode::CREATED, Json(serde_json::json!({"token": id, "error": why}))).into_response())
        }
    }
}

async fn show(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    Path(token): Path<String>,
    p: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = p.map_err(ApiError::from_query)?;
    let fields = fields_of(&p)?;
    let row = work.owned(&token, &caller)?;
    Ok(Json(render(&row, truthy(&p.base64_encoded), &fields)?))
}

async fn create_batch(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    p: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = p.map_err(ApiError::from_query)?;
    let b64 = truthy(&p.base64_encoded);
    let v = parse_body(body)?;
    let list = v
        .get("submissions")
        .and_then(|s| s.as_array())
        .ok_or_else(|| ApiError::field("submissions", "must be an array"))?;
    if list.is_empty() || list.len() > MAX_BATCH {
        return Err(ApiError::field("submissions", format!("must hold 1 to {MAX_BATCH} submissions")));
    }
    let mut out = Vec::new();
    for s in list {
        match job_from(&work, s, b64).and_then(|(job, kept)| Ok((job, kept, callback_of(&work, s, b64)?))) {
            Ok((job, kept, callback)) => {
                let id = uuid::Uuid::new_v4().to_string();
                let request = serde_json::json!({"job": job, "judge0": kept, "callback": callback});
                match work.submit(&id, "judge0", &caller.owner, &request) {
                    Ok(()) => out.push(serde_json::json!({"token": id})),
                    Err(Refused::Full) => out.push(serde_json::json!({"error": "queue is full"})),
                    Err(Refused::Store(e)) => return Err(ApiError::internal(e)),
                }
            }
            Err(e) => out.push(e.body()),
        }
    }
    Ok((StatusCode::CREATED, Json(serde_json::Value::Array(out))).into_response())
}

async fn show_batch(
    State(work): State<Arc<Work>>,
    axum::Extension(caller): axum::Extension<crate::auth::Caller>,
    p: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(p) = p.map_err(ApiError::from_query)?;
    let fields = fields_of(&p)?;
    let tokens = p.tokens.clone().unwrap_or_default();
    let mut out = Vec::new();
    for t in tokens.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match work.store.get(t).map_err(ApiError::internal)? {
            // Anyone else's token is unknown to this caller: null, as for a token that does
            // not exist, so that the answer does not tell the two apart.
            Some(row) if !caller.may_see(row.request["owner"].as_str()) => out.push(serde_json::Value::Null),
            Some(row) => out.push(render(&row, truthy(&p.base64_encoded), &fields)?),
            None => out.push(serde_json::Value::Null),
        }
    }
    Ok(Json(serde_json::json!({"submissions": out})))
}

async fn languages(State(work): State<Arc<Work>>) -> Json<serde_json::Value> {
    let mut v = Vec::new();
    for p in work.profiles.all().filter(|p| work.availability(&p.id).is_ok()) {
        for id in &p.judge0_ids {
            v.push(serde_json::json!({"id": id, "name": p.name}));
        }
    }
    v.sort_by_key(|x| x["id"].as_u64());
    Json(serde_json::Value::Array(v))
}

async fn language(State(work): State<Arc<Work>>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let id: u64 = id.parse().map_err(|_| ApiError::not_found("language"))?;
    let p = profile_for(&work, id).ok_or_else(|| ApiError::not_found("language"))?;
    Ok(Json(serde_json::json!({
        "id": id, "name": p.name, "is_archived": false, "source_file": p.source,
        "compile_cmd": p.compile.as_ref().map(|c| c.argv.join(" ")),
        "run_cmd": p.run.argv.join(" "),
    })))
}

async fn statuses() -> Json<serde_json::Value> {
    Json(serde_json::Value::Array(STATUSES.iter().map(|(i, _)| status(*i)).collect()))
}

async fn config_info(State(work): State<Arc<Work>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "maintenance_mode": false, "enable_wait_result": true, "enable_compiler_options": false,
        "allowed_languages_for_compile_options": [], "enable_command_line_arguments": false,
        "enable_submission_delete": false, "enable_callbacks": true, "callbacks_max_tries": work.callbacks.max_tries,
        "callbacks_timeout": 5.0, "enable_additional_files": false, "max_queue_size": work.max_queue,
        "cpu_time_limit": CPU_TIME_LIMIT.min(work.maxima.time_s), "max_cpu_time_limit": work.maxima.time_s,
        "cpu_extra_time": CPU_EXTRA_TIME, "max_cpu_extra_time": MAX_CPU_EXTRA_TIME,
        "wall_time_limit": WALL_TIME_LIMIT, "max_wall_time_limit": MAX_WALL_TIME_LIMIT,
        "memory_limit": kilobytes(MEMORY_LIMIT_KB.min((work.maxima.memory / 1024) as f64)), "max_memory_limit": work.maxima.memory / 1024,
        "stack_limit": kilobytes(STACK_LIMIT_KB), "max_stack_limit": kilobytes(MAX_STACK_LIMIT_KB),
        "max_processes_and_or_threads": MAX_PROCESSES as u64, "max_max_processes_and_or_threads": MAX_MAX_PROCESSES as u64,
        "enable_per_process_and_thread_time_limit": false,
        "allow_enable_per_process_and_thread_time_limit": false, "enable_per_process_and_thread_memory_limit": false,
        "allow_enable_per_process_and_thread_memory_limit": false, "max_file_size": kilobytes(MAX_FILE_SIZE_KB), "max_max_file_size": kilobytes(MAX_MAX_FILE_SIZE_KB),
        "number_of_runs": 1, "max_number_of_runs": 1, "redirect_stderr_to_stdout": false, "max_extract_size": 10240,
        "enable_batched_submissions": true, "max_submission_batch_size": MAX_BATCH, "submission_cache_duration": 1.0,
        "use_docs_as_homepage": false, "allow_enable_network": false, "enable_network": false,
    }))
}

async fn system_info() -> Json<serde_json::Value> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    Json(serde_json::json!({"CPU(s)": cpus.to_string(), "Architecture": std::env::consts::ARCH, "Kernel": kernel}))
}

async fn about() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": "1.13.1",
        "homepage": "",
        "source_code": "",
        "maintainer": "the sandbox project (a Judge0-compatible API over its own judge)",
    }))
}
