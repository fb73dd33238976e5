//! `judge-server`: a small HTTP judge. Configuration → store (SQLite) → queue and workers →
//! HTTP (a native API and a Judge0-compatible one on the same port). `main` only parses the
//! configuration and serves.

mod auth;
mod callbacks;
mod error;
mod judge0;
mod native;
mod serve;
mod store;
mod work;

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A small, Kafka-free HTTP judge over the sandbox.
#[derive(Parser, Debug)]
#[command(name = "judge-server", version)]
struct Config {
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, env = "JUDGE_SERVER_LISTEN", default_value = "127.0.0.1:2358")]
    listen: SocketAddr,
    /// The SQLite database (created if missing).
    #[arg(long, env = "JUDGE_SERVER_DB", default_value = "./judge.db")]
    db: PathBuf,
    /// Submissions judged at once (default: the number of CPUs).
    #[arg(long, env = "JUDGE_SERVER_WORKERS")]
    workers: Option<usize>,
    /// Warm sandbox environments each worker thread keeps between submissions, emptied,
    /// for the next submission of a language they fit (0: a new one per submission).
    #[arg(long, env = "JUDGE_SERVER_WARM_POOL", default_value_t = 2)]
    warm_pool: usize,
    /// Submissions waiting at most; beyond it, 503 "queue is full".
    #[arg(long, env = "JUDGE_SERVER_MAX_QUEUE", default_value_t = 1000)]
    max_queue: usize,
    /// Also load the language profiles (*.toml) of this directory.
    #[arg(long, env = "JUDGE_SERVER_PROFILES")]
    profiles: Option<PathBuf>,
    /// Client token (repeatable; or comma-separated in the variable). With any token set,
    /// every request needs one and clients see only their own submissions.
    #[arg(long = "token", env = "JUDGE_SERVER_TOKENS", value_delimiter = ',')]
    tokens: Vec<String>,
    /// Admin token (repeatable): sees every submission and may write problems.
    #[arg(long = "admin-token", env = "JUDGE_SERVER_ADMIN_TOKENS", value_delimiter = ',')]
    admin_tokens: Vec<String>,
    /// Submissions per minute per client (0: unlimited); beyond it, 429. A client is its
    /// token, or its IP address when no token is configured.
    #[arg(long, env = "JUDGE_SERVER_RATE_LIMIT", default_value_t = 0)]
    rate_limit: u32,
    /// Log format: text or json (structured, with the submission id).
    #[arg(long, env = "JUDGE_SERVER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Listen on a non-loopback address although no authentication is configured.
    #[arg(long, env = "JUDGE_SERVER_INSECURE_PUBLIC")]
    insecure_public: bool,
    /// Key to sign callbacks with (HMAC-SHA256 in X-Signature-256, see the README).
    #[arg(long, env = "JUDGE_SERVER_CALLBACK_SECRET")]
    callback_secret: Option<String>,
    /// Attempts per callback before it becomes a dead letter.
    #[arg(long, env = "JUDGE_SERVER_CALLBACK_MAX_TRIES", default_value_t = 5)]
    callback_max_tries: u32,
    /// Allow callbacks to loopback, private and link-local addresses.
    #[arg(long, env = "JUDGE_SERVER_CALLBACK_ALLOW_PRIVATE")]
    callback_allow_private: bool,
    /// Largest request body, bytes.
    #[arg(long, env = "JUDGE_SERVER_MAX_BODY", default_value_t = 8 << 20)]
    max_body: usize,
    /// Largest CPU time limit a submission may ask for, seconds per test.
    #[arg(long, env = "JUDGE_SERVER_MAX_TIME", default_value_t = 15.0)]
    max_time: f64,
    /// Largest memory limit a submission may ask for (bytes, or 512M, 1G).
    #[arg(long, env = "JUDGE_SERVER_MAX_MEMORY", default_value = "1G", value_parser = judge::parse_size)]
    max_memory: u64,
    /// Most tests in one submission or problem.
    #[arg(long, env = "JUDGE_SERVER_MAX_TESTS", default_value_t = 1000)]
    max_tests: usize,
    /// Largest source, bytes (all files of a submission together).
    #[arg(long, env = "JUDGE_SERVER_MAX_SOURCE", default_value = "1M", value_parser = judge::parse_size)]
    max_source: u64,
    /// How long finished submissions (and their delivered callbacks) are kept, e.g. 7d,
    /// 12h; older ones are purged hourly. 0 keeps them forever.
    #[arg(long, env = "JUDGE_SERVER_KEEP_RESULTS", default_value = "7d", value_parser = humantime::parse_duration)]
    keep_results: std::time::Duration,
    /// On SIGTERM/SIGINT, how long running submissions may take to finish before the server
    /// exits anyway (they are judged again at the next start).
    #[arg(long, env = "JUDGE_SERVER_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    shutdown_grace: std::time::Duration,
}

fn main() -> std::process::ExitCode {
    let cfg = match Config::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "judge_server=info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        // One JSON object per line, with the span's fields (the submission id) on each.
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("judge-server: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let outcome = rt.block_on(serve(cfg));
    // Runs still going after the grace period are abandoned (their sandboxes die with this
    // process, and the store still holds them as unfinished); don't wait for them.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("judge-server: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    if !(cfg.max_time.is_finite() && cfg.max_time >= 0.001) {
        anyhow::bail!("--max-time {}: must be at least 0.001 seconds", cfg.max_time);
    }
    if cfg.max_memory < 8 << 20 {
        anyhow::bail!("--max-memory {}: must be at least 8M", cfg.max_memory);
    }
    let tokens = auth::Tokens { clients: cfg.tokens.clone(), admins: cfg.admin_tokens.clone() };
    if !cfg.listen.ip().is_loopback() && !cfg.insecure_public && !tokens.enabled() {
        anyhow::bail!(
            "--listen {}: no authentication is configured, so only loopback addresses are allowed (--insecure-public to override)",
            cfg.listen
        );
    }
    // Cgroups, test directories, boxes and checker files that killed servers or judges left
    // behind go first (never a live one's).
    sandbox::sweep_cgroups();
    work::sweep_work_dirs();
    let store = store::Store::open(&cfg.db).map_err(|e| anyhow::anyhow!("--db {}: {e:#}", cfg.db.display()))?;
    let profiles = judge::Profiles::load(cfg.profiles.as_deref())?;
    let workers = cfg.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let callbacks = callbacks::Settings {
        secret: cfg.callback_secret.clone(),
        max_tries: cfg.callback_max_tries.max(1),
        timeout: std::time::Duration::from_secs(5),
        allow_private: cfg.callback_allow_private,
    };
    if !cfg.keep_results.is_zero() {
        let (store, keep) = (store.clone(), cfg.keep_results);
        std::thread::spawn(move || loop {
            match store.purge(keep) {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!("purged {n} finished submissions older than {}", humantime::format_duration(keep))
                }
                Err(e) => tracing::error!("purging old submissions: {e:#}"),
            }
            std::thread::sleep(std::time::Duration::from_secs(3600));
        });
    }
    let maxima = work::Maxima {
        time_s: cfg.max_time,
        memory: cfg.max_memory,
        tests: cfg.max_tests.max(1),
        source_bytes: cfg.max_source as usize,
    };
    let settings = work::Settings {
        workers,
        max_queue: cfg.max_queue,
        callbacks,
        tokens,
        rate_per_minute: cfg.rate_limit,
        maxima,
        warm_pool: cfg.warm_pool,
    };
    let work = work::Work::start(store, profiles, settings)?;
    let app = app(Arc::clone(&work), cfg.max_body);
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| anyhow::anyhow!("--listen {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    // One line on stdout that scripts (and the tests) read to find the port.
    println!("judge-server listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // On a signal: stop accepting connections and taking queued work, let running
    // submissions finish within the grace period. Open requests (a `wait`, an event
    // stream) are not waited for: their submissions stay in the store.
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(serve::serve(listener, app, async move {
        let _ = stopping.await;
    }));
    tokio::select! {
        _ = shutdown() => {}
        ended = &mut server => {
            // The server task ended on its own (it panicked): that is an error exit.
            ended?;
            anyhow::bail!("the HTTP server stopped unexpectedly");
        }
    }
    tracing::info!(
        "stopping: no new submissions; waiting up to {} for running ones",
        humantime::format_duration(cfg.shutdown_grace)
    );
    let _ = stopping_tx.send(());
    let left = work.drain(cfg.shutdown_grace).await;
    server.abort();
    if left > 0 {
        tracing::warn!("{left} submissions were still running; they are judged again at the next start");
    }
    tracing::info!("stopped; unfinished submissions stay queued for the next start");
    Ok(())
}

/// The whole router: native API, Judge0-compatible API, a body limit.
fn app(work: Arc<work::Work>, max_body: usize) -> axum::Router {
    native::router()
        .merge(judge0::router())
        // Every answer is JSON, an unknown path or method too.
        .fallback(|| async { error::ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not take that method")
        })
        // Layers run outside in: a client is checked (token, rate limit) before its body is
        // read, so one refused holds no body in memory.
        .layer(axum::middleware::from_fn_with_state(max_body, serve::read_body))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&work), auth::check))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(work)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
