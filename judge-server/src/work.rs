//! The queue and the workers: submissions are judged by a bounded number of workers (the
//! `judge` crate, on blocking threads), their events broadcast to listeners (SSE, `wait`),
//! their results written to the store.

use crate::store::Store;
use base64::Engine;
use judge::{CheckerSpec, Problem, Profiles, TestCase};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

/// The largest requests a client may make (each above → 422 naming the field).
#[derive(Clone, Debug)]
pub struct Maxima {
    /// CPU seconds per test.
    pub time_s: f64,
    /// Memory per test, bytes.
    pub memory: u64,
    /// Tests per submission.
    pub tests: usize,
    /// Bytes of source (all files together).
    pub source_bytes: usize,
}

/// How the queue and the workers are set up (from the command line).
pub struct Settings {
    /// Submissions judged at once.
    pub workers: usize,
    /// Submissions waiting at most.
    pub max_queue: usize,
    /// How callbacks are checked and sent.
    pub callbacks: crate::callbacks::Settings,
    /// Client and admin tokens.
    pub tokens: crate::auth::Tokens,
    /// Submissions per minute per client (0: no limit).
    pub rate_per_minute: u32,
    /// The largest requests accepted.
    pub maxima: Maxima,
    /// Warm environments kept per worker thread between submissions (0: none).
    pub warm_pool: usize,
}

/// A job as the workers see it, whichever API it came from (stored as the request JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    /// Profile id.
    pub language: String,
    /// Source files; the first is the main one.
    pub files: Vec<(String, String)>,
    /// (stdin, expected output) per test.
    pub tests: Vec<(String, Option<String>)>,
    /// Checker name (`tokens`, `lines`, `exact`, `float:EPS`, `any`, `custom`).
    pub checker: String,
    /// A custom checker: (language id, source).
    #[serde(default)]
    pub checker_source: Option<(String, String)>,
    /// CPU time per test, µs.
    pub time_us: u64,
    /// Wall time per test, µs (else 3 × CPU + 1 s).
    #[serde(default)]
    pub wall_time_us: Option<u64>,
    /// Memory per test, bytes.
    pub memory_bytes: u64,
    /// Output kept per test, bytes (else 16 MiB).
    #[serde(default)]
    pub output_bytes: Option<u64>,
    /// Processes + threads per test (else the language profile's).
    #[serde(default)]
    pub pids: Option<u64>,
    /// Stop at the first failure.
    pub fail_fast: bool,
    /// Keep stdout/stderr of each test in the result.
    pub keep_output: bool,
}

/// Live events of submissions, by id.
pub struct Hub {
    /// Events a channel holds: every event of the largest submission (two per test and a
    /// few more), so that a listener that is slow to read never loses one.
    capacity: usize,
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
    /// Events so far, replayed to late listeners.
    history: Mutex<HashMap<String, Vec<String>>>,
}

impl Hub {
    /// A hub for submissions of at most `max_tests` tests.
    pub fn new(max_tests: usize) -> Hub {
        Hub { capacity: 2 * max_tests + 8, channels: Mutex::default(), history: Mutex::default() }
    }

    /// Drops the channel of `id` if nothing listens to it and the submission is not live
    /// (a listener that came for an unknown or finished submission).
    pub fn unsubscribe(&self, id: &str) {
        let mut ch = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let live = self.history.lock().unwrap_or_else(|p| p.into_inner()).contains_key(id);
        if !live && ch.get(id).is_some_and(|tx| tx.receiver_count() == 0) {
            ch.remove(id);
        }
    }

    /// A receiver of `id`'s future events, and the events so far.
    pub fn subscribe(&self, id: &str) -> (Vec<String>, broadcast::Receiver<String>) {
        let mut ch = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let rx = ch.entry(id.to_string()).or_insert_with(|| broadcast::channel(self.capacity).0).subscribe();
        let past = self.history.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned().unwrap_or_default();
        (past, rx)
    }

    fn publish(&self, id: &str, event: String) {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).entry(id.to_string()).or_default().push(event.clone());
        let ch = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = ch.get(id) {
            let _ = tx.send(event);
        }
    }

    fn forget(&self, id: &str) {
        // Late listeners read the stored result instead.
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        self.history.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

/// Upper bounds of the latency histogram's buckets, seconds.
pub const LATENCY_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A Prometheus-style histogram: cumulative counts per bucket, the sum and the count.
#[derive(Default)]
pub struct Histogram {
    /// Observations at or below each of `LATENCY_BUCKETS`.
    pub buckets: [u64; 10],
    /// Sum of the observations, seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.buckets[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// Everything handlers and workers share.
pub struct Work {
    pub store: Store,
    pub profiles: Arc<Profiles>,
    pub hub: Hub,
    tx: mpsc::Sender<String>,
    /// Submissions queued or running.
    pub depth: AtomicUsize,
    /// At most this many queued before 503.
    pub max_queue: usize,
    /// How callbacks are checked and sent.
    pub callbacks: crate::callbacks::Settings,
    /// Submissions finished, by verdict (for /metrics).
    pub verdicts: Mutex<HashMap<String, u64>>,
    /// Workers busy now.
    pub running: AtomicUsize,
    /// Workers in all.
    pub workers: usize,
    /// Time from a submission's arrival to its result, and the judging alone.
    pub latency: Mutex<Histogram>,
    pub judging: Mutex<Histogram>,
    /// The sandbox's setup time of each test's run (clone to the program's execve).
    pub setup: Mutex<Histogram>,
    /// Set on shutdown: workers take no more submissions.
    stop: tokio::sync::watch::Sender<bool>,
    /// The largest requests accepted.
    pub maxima: Maxima,
    /// Warm environments kept per worker thread between submissions.
    warm_pool: usize,
    /// When /readyz last ran a sandbox, and whether it worked.
    pub ready_cache: Mutex<Option<(std::time::Instant, bool)>>,
    /// The cancel switch of each submission being judged.
    cancels: Mutex<HashMap<String, Arc<sandbox::Cancel>>>,
    /// Client and admin tokens (authentication is off without any).
    pub tokens: crate::auth::Tokens,
    /// Submissions per minute per client (0: no limit), and each client's bucket.
    pub rate_per_minute: u32,
    pub buckets: Mutex<HashMap<String, (f64, std::time::Instant)>>,
    /// Each language's toolchain version or why it is unavailable, found once at start
    /// (running every compiler's version command per request would cost more than a run).
    pub available: HashMap<String, Result<String, String>>,
}

/// What a keyed submission found.
pub enum Submitted {
    /// Stored and queued.
    New,
    /// The key was used before: that submission, and the hash of its request.
    Existing {
        /// The earlier submission's id.
        id: String,
        /// Its request's hash (None for keys stored before hashes were kept).
        hash: Option<String>,
    },
}

/// Why a job could not be queued.
pub enum Refused {
    /// The queue is full.
    Full,
    /// The store failed.
    Store(anyhow::Error),
}

impl Work {
    /// Starts the workers; queued submissions of an earlier life are queued again.
    pub fn start(store: Store, profiles: Profiles, settings: Settings) -> anyhow::Result<Arc<Work>> {
        let Settings { workers, max_queue, callbacks, tokens, rate_per_minute, maxima, warm_pool } = settings;
        let (tx, rx) = mpsc::channel::<String>(max_queue.max(1) + 1024);
        let available = profiles.all().map(|p| (p.id.clone(), p.availability())).collect();
        let work = Arc::new(Work {
            store,
            profiles: Arc::new(profiles),
            hub: Hub::new(maxima.tests),
            tx,
            depth: AtomicUsize::new(0),
            max_queue,
            callbacks: callbacks.clone(),
            verdicts: Mutex::new(HashMap::new()),
            running: AtomicUsize::new(0),
            workers: workers.max(1),
            latency: Mutex::new(Histogram::default()),
            judging: Mutex::new(Histogram::default()),
            setup: Mutex::new(Histogram::default()),
            stop: tokio::sync::watch::channel(false).0,
            available,
            tokens,
            rate_per_minute,
            maxima,
            warm_pool,
            cancels: Mutex::new(HashMap::new()),
            ready_cache: Mutex::new(None),
            buckets: Mutex::new(HashMap::new()),
        });
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..workers.max(1) {
            let work = Arc::clone(&work);
            let rx = Arc::clone(&rx);
            let mut stop = work.stop.subscribe();
            tokio::spawn(async move {
                loop {
                    let next = {
                        let mut rx = rx.lock().await;
                        tokio::select! {
                            biased;
                            _ = stop.wait_for(|s| *s) => None,
                            id = rx.recv() => id,
                        }
                    };
                    let Some(id) = next else { return };
                    work.running.fetch_add(1, Ordering::SeqCst);
                    let w = Arc::clone(&work);
                    let id2 = id.clone();
                    let _ = tokio::task::spawn_blocking(move || w.run(&id2)).await;
                    work.running.fetch_sub(1, Ordering::SeqCst);
                    work.depth.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
        // The callback sender: its own thread, reading due rows from the store.
        let store = work.store.clone();
        std::thread::spawn(move || crate::callbacks::run(store, callbacks));
        for id in work.store.unfinished()? {
            work.depth.fetch_add(1, Ordering::SeqCst);
            if work.tx.try_send(id).is_err() {
                // More left over than the queue holds: the rest wait for the next start.
                work.depth.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Ok(work)
    }

    /// A stored submission the caller may see; anyone else's is "not found", exactly as a
    /// missing one (ids are checked here, after the handler decoded them, never on the raw
    /// path).
    pub fn owned(&self, id: &str, caller: &crate::auth::Caller) -> Result<crate::store::Row, crate::error::ApiError> {
        let row = self
            .store
            .get(id)
            .map_err(crate::error::ApiError::internal)?
            .ok_or_else(|| crate::error::ApiError::not_found("submission"))?;
        if !caller.may_see(row.request["owner"].as_str()) {
            return Err(crate::error::ApiError::not_found("submission"));
        }
        Ok(row)
    }

    /// Graceful shutdown: workers take no more submissions; waits up to `grace` for the
    /// running ones to finish. Returns how many are still running (they stay in the store
    /// as unfinished and are judged again at the next start).
    pub async fn drain(&self, grace: std::time::Duration) -> usize {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        while self.running.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.running.load(Ordering::SeqCst)
    }

    /// Cancels a submission: a queued one is finished as `cancelled` at once (its callback,
    /// if any, says so); a running one has its sandbox run killed and is finished as
    /// `cancelled` by its worker. Returns the status it had, or None if it is unknown.
    pub fn cancel(&self, id: &str) -> anyhow::Result<Option<String>> {
        let Some(row) = self.store.get(id)? else { return Ok(None) };
        match row.status.as_str() {
            "queued" => {
                let value = serde_json::json!({"verdict": null, "message": "cancelled before it ran"});
                if self.finish_row(row, "cancelled", value, Some("queued"))? {
                    Ok(Some("queued".into()))
                } else {
                    // A worker took it meanwhile: cancel the run instead.
                    self.cancel(id)
                }
            }
            "compiling" | "running" => {
                if let Some(c) = self.cancels.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
                    c.trigger();
                }
                Ok(Some(row.status))
            }
            other => Ok(Some(other.to_string())),
        }
    }

    /// Takes one submission from `owner`'s bucket (a token bucket refilled at the rate,
    /// holding a minute's worth); false when it is empty.
    pub fn take_token(&self, owner: &str) -> bool {
        if self.rate_per_minute == 0 {
            return true;
        }
        let cap = f64::from(self.rate_per_minute);
        let now = std::time::Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 10_000 {
            // Buckets idle for a minute are full again: forgetting them changes nothing.
            b.retain(|_, (_, last)| now.duration_since(*last).as_secs() < 60);
        }
        let (tokens, last) = b.entry(owner.to_string()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * cap / 60.0).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The toolchain version of a language here, or why it is unavailable.
    pub fn availability(&self, id: &str) -> Result<String, String> {
        self.available.get(id).cloned().unwrap_or_else(|| Err(format!("unknown language {id:?}")))
    }

    /// Stores and queues a job. The row is written before this returns: a crash after the
    /// client's 2xx loses nothing.
    pub fn submit(&self, id: &str, api: &str, owner: &str, request: &serde_json::Value) -> Result<(), Refused> {
        match self.submit_keyed(id, api, owner, request, None)? {
            Submitted::New => Ok(()),
            Submitted::Existing { .. } => Err(Refused::Store(anyhow::anyhow!("an unkeyed submission found a key"))),
        }
    }

    /// `submit` with an idempotency key (key, hash of the request): the key and the row are
    /// stored in one transaction, so a key never names a submission that does not exist;
    /// when the key was used before, nothing is queued and the earlier submission is named.
    pub fn submit_keyed(
        &self,
        id: &str,
        api: &str,
        owner: &str,
        request: &serde_json::Value,
        key: Option<(&str, &str)>,
    ) -> Result<Submitted, Refused> {
        // Reserve a place first, so concurrent submissions cannot overfill the queue.
        if self.depth.fetch_add(1, Ordering::SeqCst) >= self.max_queue {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            return Err(Refused::Full);
        }
        let mut request = request.clone();
        request["owner"] = serde_json::Value::String(owner.to_string());
        let stored = match self.store.insert(id, api, &request, key.map(|(k, h)| (owner, k, h))) {
            Ok(s) => s,
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::SeqCst);
                return Err(Refused::Store(e));
            }
        };
        if let Some((earlier, hash)) = stored {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            return Ok(Submitted::Existing { id: earlier, hash });
        }
        if self.tx.try_send(id.to_string()).is_err() {
            // Only when the workers are gone (shutting down): the row is stored, and the
            // next start judges it.
            self.depth.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(submission = %id, "accepted while stopping; it is judged at the next start");
        }
        Ok(Submitted::New)
    }

    /// Judges one stored submission (on a blocking thread).
    fn run(&self, id: &str) {
        let _span = tracing::info_span!("judge", submission = %id).entered();
        let row = match self.store.get(id) {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                // It stays queued in the store (judged at the next start); waiting clients
                // are told now rather than left hanging.
                tracing::error!("reading the submission: {e:#}");
                let ev =
                    serde_json::json!({"event": "done", "status": "error", "result": {"verdict": "internal_error"}});
                self.hub.publish(id, ev.to_string());
                self.hub.forget(id);
                return;
            }
        };
        if row.status != "queued" {
            // Cancelled while it waited (or finished in an earlier life).
            return;
        }
        let job: Job = match serde_json::from_value(row.request.get("job").cloned().unwrap_or_default()) {
            Ok(j) => j,
            Err(e) => {
                let value =
                    serde_json::json!({"verdict": "internal_error", "error": format!("stored job unreadable: {e}")});
                if let Err(e) = self.finish_row(row, "error", value, Some("queued")) {
                    tracing::error!("storing the result: {e:#}");
                }
                return;
            }
        };
        // The cancel switch is registered before the submission is claimed: a cancel that
        // finds it claimed always finds the switch too.
        let cancel = match sandbox::Cancel::new() {
            Ok(c) => Arc::new(c),
            Err(e) => {
                let value = serde_json::json!({"verdict": "internal_error", "error": format!("eventfd: {e}")});
                if let Err(e) = self.finish_row(row, "error", value, Some("queued")) {
                    tracing::error!("storing the result: {e:#}");
                }
                return;
            }
        };
        self.cancels.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), Arc::clone(&cancel));
        let cancel = Some(cancel);
        if !matches!(self.store.set_status(id, "compiling"), Ok(true)) {
            // Cancelled between the read above and now.
            self.cancels.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
            return;
        }
        let started = std::time::Instant::now();
        let result = self.judge(id, &job, &row.request, cancel);
        self.cancels.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        self.judging.lock().unwrap_or_else(|p| p.into_inner()).observe(started.elapsed().as_secs_f64());
        if let Ok(created) = humantime::parse_rfc3339(&row.created_at) {
            if let Ok(waited) = std::time::SystemTime::now().duration_since(created) {
                self.latency.lock().unwrap_or_else(|p| p.into_inner()).observe(waited.as_secs_f64());
            }
        }
        let (status, value) = match result {
            Ok(v) => ("done", v),
            Err(e) if matches!(e.downcast_ref::<judge::JudgeError>(), Some(judge::JudgeError::Cancelled)) => {
                ("cancelled", serde_json::json!({"verdict": null, "message": "cancelled while it ran"}))
            }
            Err(e) => ("error", serde_json::json!({"verdict": "internal_error", "error": e.to_string()})),
        };
        if let Some(v) = value.get("verdict").and_then(|v| v.as_str()) {
            *self.verdicts.lock().unwrap_or_else(|p| p.into_inner()).entry(v.to_string()).or_default() += 1;
        }
        if let Err(e) = self.finish_row(row, status, value, None) {
            tracing::error!("storing the result: {e:#}");
        }
        tracing::info!(status, "judged");
    }

    /// Stores a submission's end with its callback, and tells its listeners. With
    /// `only_if`, only when the stored status still is that one (false otherwise).
    fn finish_row(
        &self,
        row: crate::store::Row,
        status: &str,
        value: serde_json::Value,
        only_if: Option<&str>,
    ) -> anyhow::Result<bool> {
        let id = row.id.clone();
        let finished = crate::store::Row {
            status: status.to_string(),
            result: Some(value.clone()),
            finished_at: Some(crate::store::now()),
            ..row
        };
        let callback = Self::callback_for(&finished);
        let at = finished.finished_at.as_deref().unwrap_or_default();
        if !self.store.finish(&id, status, at, &value, callback.as_ref(), only_if)? {
            return Ok(false);
        }
        let shown = crate::native::public_result(&finished.request, value);
        self.hub.publish(&id, serde_json::json!({"event": "done", "status": status, "result": shown}).to_string());
        self.hub.forget(&id);
        Ok(true)
    }

    /// The callback a finished submission asked for, rendered as its API shows results.
    fn callback_for(row: &crate::store::Row) -> Option<crate::store::NewCallback> {
        let url = row.request["callback"]["url"].as_str()?.to_string();
        let (method, body) = if row.api == "judge0" {
            let b64 = row.request["callback"]["base64"] == true;
            ("PUT", crate::judge0::render_default(row, b64))
        } else {
            ("POST", crate::native::view(row))
        };
        Some(crate::store::NewCallback { method, url, body: body.to_string() })
    }

    fn judge(
        &self,
        id: &str,
        job: &Job,
        request: &serde_json::Value,
        cancel: Option<Arc<sandbox::Cancel>>,
    ) -> anyhow::Result<serde_json::Value> {
        // Hidden tests: only the server (root or the user running it) may read them, and a
        // server killed mid-judging leaves them to the next start's sweep (`sweep_work_dirs`).
        let dir = judge::workdir::private_dir(TEST_DIR_PREFIX)?;
        let mut tests = Vec::new();
        let mut any_expected = false;
        for (i, (stdin, expected)) in job.tests.iter().enumerate() {
            let name = (i + 1).to_string();
            let input = dir.path().join(format!("{name}.in"));
            let answer = dir.path().join(format!("{name}.out"));
            std::fs::write(&input, stdin)?;
            std::fs::write(&answer, expected.as_deref().unwrap_or(""))?;
            any_expected |= expected.is_some();
            tests.push(TestCase { name, input, answer });
        }
        let checker = match (job.checker.as_str(), &job.checker_source) {
            ("any", _) => CheckerSpec::Any,
            (_, Some((language, source))) => {
                // Named with the language's own extension: that is how the judge finds its
                // profile (see judge::CheckerSpec::Custom).
                let profile = self.profiles.get(language)?;
                let ext = std::path::Path::new(&profile.source).extension().and_then(|e| e.to_str()).unwrap_or("");
                let path = dir.path().join(format!("checker.{ext}"));
                std::fs::write(&path, source)?;
                CheckerSpec::Custom(path)
            }
            _ if !any_expected => CheckerSpec::Any,
            (c, None) => c.parse().map_err(|e: String| anyhow::anyhow!(e))?,
        };
        let problem = Problem {
            tests,
            time_us: job.time_us,
            wall_time_us: job.wall_time_us,
            memory_bytes: job.memory_bytes,
            output_bytes: job.output_bytes.unwrap_or(judge::problem::DEFAULT_OUTPUT),
            pids: job.pids,
            checker,
        };
        let sub = judge::Submission {
            language: job.language.clone(),
            sources: job.files.iter().map(|(n, c)| (n.clone(), c.as_bytes().to_vec())).collect(),
        };
        let opts = judge::Options {
            run_all: !job.fail_fast,
            keep_output: job.keep_output,
            cancel,
            pool: self.warm_pool,
            ..Default::default()
        };
        let store = self.store.clone();
        let mut on_event = |e: &judge::Event| {
            let v = match e {
                judge::Event::Compiling => serde_json::json!({"event": "compiling"}),
                judge::Event::Compiled(c) => serde_json::json!({"event": "compiled", "compile": c}),
                judge::Event::TestStarted { index, total, name } => {
                    if *index == 0 {
                        let _ = store.set_status(id, "running");
                    }
                    serde_json::json!({"event": "test_started", "index": index, "total": total, "name": name})
                }
                judge::Event::TestFinished { index, total, result } => {
                    self.setup.lock().unwrap_or_else(|p| p.into_inner()).observe(result.setup_time_us as f64 / 1e6);
                    let result =
                        crate::native::public_result(request, serde_json::to_value(result).unwrap_or_default());
                    serde_json::json!({"event": "test_finished", "index": index, "total": total, "result": result})
                }
                judge::Event::Done(_) => return,
            };
            self.hub.publish(id, v.to_string());
        };
        let j = judge::judge(&self.profiles, &sub, &problem, &opts, &mut on_event)?;
        let mut v = serde_json::to_value(&j)?;
        if job.keep_output {
            let b64 = base64::engine::general_purpose::STANDARD;
            let outputs: Vec<serde_json::Value> = j
                .tests
                .iter()
                .map(|t| serde_json::json!({"stdout": b64.encode(&t.stdout), "stderr": b64.encode(&t.stderr)}))
                .collect();
            v["outputs"] = serde_json::Value::Array(outputs);
        }
        Ok(v)
    }
}

/// Where a submission's tests are written while it is judged: `<prefix><server pid>-<random>`
/// in the temporary directory.
const TEST_DIR_PREFIX: &str = "judge-server-tests-";

/// Removes what servers and judges no longer running left behind (killed mid-judging):
/// test directories, boxes and checker files whose name carries the pid of a process that
/// is gone. Returns how many went.
pub fn sweep_work_dirs() -> usize {
    judge::workdir::sweep(TEST_DIR_PREFIX) + judge::workdir::sweep_judge_dirs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_directories_of_gone_servers_are_swept_and_a_live_ones_kept() {
        let gone_pid = judge::workdir::unused_pid();
        let tmp = std::env::temp_dir();
        let dead = tmp.join(format!("{TEST_DIR_PREFIX}{gone_pid}-sweeptest"));
        let live = tmp.join(format!("{TEST_DIR_PREFIX}{}-sweeptest", std::process::id()));
        for d in [&dead, &live] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("1.in"), "secret").unwrap();
        }
        sweep_work_dirs();
        let (dead_left, live_left) = (dead.exists(), live.exists());
        let _ = std::fs::remove_dir_all(&live);
        let _ = std::fs::remove_dir_all(&dead);
        assert!(!dead_left, "a gone server's tests stayed");
        assert!(live_left, "a live server's tests went");
    }
}
