//! Judging one submission: a fresh box, the sources written, one compile in the sandbox,
//! then each test as a fresh sandbox run against the same box (the compiled program stays;
//! nothing a test writes reaches the next), stopping at the first test not accepted unless
//! asked to run all. The compile and the tests share one warm environment where one can be
//! made: the compile keeps its box writes there, each test starts from them.

use crate::checker::{self, CheckerSpec, Diff};
use crate::problem::{Problem, TestCase};
use crate::profile::{Profile, Profiles, Stage, StageLimits};
use crate::verdict::{self, Verdict};
use crate::workdir;
use crate::JudgeError;
use sandbox::{Command, Report, Stdio};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A submission: its language and its source files (the first is written under the
/// profile's source name, the others under their own names).
#[derive(Clone, Debug)]
pub struct Submission {
    /// A profile id.
    pub language: String,
    /// (file name, content).
    pub sources: Vec<(String, Vec<u8>)>,
}

/// How to judge.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run every test even after one fails.
    pub run_all: bool,
    /// Root filesystem: `host` or a built image's name; `None`: the profile's.
    pub rootfs: Option<String>,
    /// Where built images are (see `rootfs::cache_dir`).
    pub rootfs_cache: Option<PathBuf>,
    /// Keep each test's stdout and stderr in its result (for "run my code" front ends).
    pub keep_output: bool,
    /// Triggering it kills the current run and ends the judging with
    /// `JudgeError::Cancelled` (a server's "cancel this submission").
    pub cancel: Option<std::sync::Arc<sandbox::Cancel>>,
    /// Run the compile and every test in its own one-off sandbox. By default they share one
    /// warm environment (made around the sources; the compile's box writes are kept in it,
    /// everything else is reset between runs; see `sandbox::Environment`) wherever one can
    /// be made (as root, with cgroups), and run cold elsewhere.
    pub cold: bool,
    /// Keep up to this many environments per thread after their submission, emptied, for
    /// the next submissions that fit them (see `pool`); 0 drops each with its submission.
    /// A server sets it; one-off judging has no next submission to serve.
    pub pool: usize,
}

/// The compile step's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct CompileResult {
    /// The sandbox's status of the compiler run (`ok`, `nonzero_exit`, `time_limit`, ...).
    pub status: String,
    /// What the compiler printed (stdout then stderr, capped).
    pub output: String,
    /// CPU time of the compiler, µs.
    pub time_us: u64,
    /// Wall time, µs.
    pub wall_time_us: u64,
    /// Peak memory, bytes.
    pub peak_memory_bytes: u64,
    /// The compile ran in the submission's warm environment (its products kept there for
    /// the tests), not in a one-off sandbox.
    pub warm: bool,
}

/// One test's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// CPU time of the run, µs.
    pub cpu_time_us: u64,
    /// Wall time, µs.
    pub wall_time_us: u64,
    /// Peak memory, bytes.
    pub peak_memory_bytes: u64,
    /// The sandbox's setup time for this run (namespaces, mounts, cgroup, up to the
    /// program's execve), µs.
    pub setup_time_us: u64,
    /// Exit code, if the program exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Why, in a line (no test content).
    pub message: Option<String>,
    /// Where the output first differs (only shown when asked: it quotes the tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    /// The program's stdout, with `Options::keep_output` (not serialized).
    #[serde(skip)]
    pub stdout: Vec<u8>,
    /// The program's stderr, with `Options::keep_output` (not serialized).
    #[serde(skip)]
    pub stderr: Vec<u8>,
}

/// The whole outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Judgement {
    /// The submission's verdict: the first failing test's, or accepted.
    pub verdict: Verdict,
    /// The compile step, for compiled languages.
    pub compile: Option<CompileResult>,
    /// The tests that ran, in order.
    pub tests: Vec<TestResult>,
    /// The first test not accepted.
    pub first_failed: Option<String>,
    /// A note for internal errors.
    pub message: Option<String>,
}

/// Progress, for a progress line or a stream of server events.
#[derive(Debug)]
pub enum Event<'a> {
    /// The compiler is starting.
    Compiling,
    /// The compiler finished.
    Compiled(&'a CompileResult),
    /// Test `index` (0-based) of `total` is starting.
    TestStarted {
        /// 0-based.
        index: usize,
        /// Tests in the problem.
        total: usize,
        /// Its name.
        name: &'a str,
    },
    /// Test `index` finished.
    TestFinished {
        /// 0-based.
        index: usize,
        /// Tests in the problem.
        total: usize,
        /// Its result.
        result: &'a TestResult,
    },
    /// Everything is decided.
    Done(&'a Judgement),
}

/// A compiled program's box, ready for runs.
struct Prepared {
    box_dir: tempfile::TempDir,
}

/// Where boxes are made: a directory only the runner can enter (it holds the submitter's
/// source). As root every run gets a copy of it; rootless, the runner's own user is the
/// sandbox's, and the directory is bound.
fn new_box() -> Result<tempfile::TempDir, JudgeError> {
    workdir::private_dir(workdir::BOX_PREFIX).map_err(|e| JudgeError::Io(format!("creating a box directory: {e}")))
}

fn base_command(
    profile: &Profile,
    stage: &Stage,
    limits: &StageLimits,
    box_dir: &Path,
    image: Option<&Path>,
) -> Command {
    let (argv, env) = stage.expand(limits.memory_bytes);
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    for (k, v) in env {
        c.env(k, v);
    }
    if let Some(image) = image {
        c.rootfs(image);
    }
    for m in &profile.mounts {
        // On an image, the profile's extra paths are the image's own.
        let src = match image {
            Some(root) => root.join(m.strip_prefix("/").unwrap_or(m)),
            None => m.clone(),
        };
        if src.exists() {
            c.bind_ro(src, m);
        }
    }
    c.box_dir(box_dir)
        .seccomp(profile.seccomp.clone())
        .cpu_time(Duration::from_micros(limits.cpu_time_us))
        .wall_time(Duration::from_micros(limits.wall_time_us))
        .memory(limits.memory_bytes)
        .pids(limits.pids)
        .output_limit(limits.output_bytes)
        .stdout(Stdio::Capture)
        .stderr(Stdio::Capture);
    c
}

fn run(c: &Command, cancel: Option<&sandbox::Cancel>) -> Result<Report, JudgeError> {
    run_maybe_warm(c, None, cancel)
}

/// Runs `c` in `env` when there is one, else cold.
fn run_maybe_warm(
    c: &Command,
    env: Option<&mut sandbox::Environment>,
    cancel: Option<&sandbox::Cancel>,
) -> Result<Report, JudgeError> {
    let r = match (env, cancel) {
        (Some(env), Some(cancel)) => c.run_in_cancellable(env, cancel),
        (Some(env), None) => c.run_in(env),
        (None, Some(cancel)) => c.run_cancellable(cancel),
        (None, None) => c.run(),
    }
    .map_err(|e| JudgeError::Io(format!("sandbox: {e}")))?;
    if r.status == sandbox::Status::Cancelled {
        return Err(JudgeError::Cancelled);
    }
    Ok(r)
}

/// A fresh box with the submission's sources in it.
fn write_sources(profile: &Profile, sub: &Submission) -> Result<Prepared, JudgeError> {
    let box_dir = new_box()?;
    for (i, (name, content)) in sub.sources.iter().enumerate() {
        let name = if i == 0 { profile.source.clone() } else { plain_name(name)? };
        std::fs::write(box_dir.path().join(&name), content)
            .map_err(|e| JudgeError::Io(format!("writing {name} into the box: {e}")))?;
    }
    Ok(Prepared { box_dir })
}

/// Compiles the box's sources: in `env` when there is one (the compiler's products are kept
/// there for the tests), else cold with its products written back to the box. A warm
/// compile that cannot start drops `env` and compiles cold instead.
fn compile(
    profile: &Profile,
    stage: &Stage,
    prepared: &Prepared,
    image: Option<&Path>,
    env: &mut Option<sandbox::Environment>,
    cancel: Option<&sandbox::Cancel>,
    on_event: &mut dyn FnMut(&Event),
) -> Result<CompileResult, JudgeError> {
    on_event(&Event::Compiling);
    let limits = stage.compile_limits();
    let mut c = base_command(profile, stage, &limits, prepared.box_dir.path(), image);
    let mut warm = None;
    if let Some(e) = env.as_mut() {
        c.write_back(false);
        e.keep_box_of_next_run();
        match run_maybe_warm(&c, Some(e), cancel) {
            Ok(r) if r.status != sandbox::Status::SetupError => warm = Some(r),
            Err(JudgeError::Cancelled) => return Err(JudgeError::Cancelled),
            Ok(r) => tracing::warn!("a warm compile could not start ({:?}); compiling cold", r.message),
            Err(e) => tracing::warn!("a warm compile could not start ({e}); compiling cold"),
        }
    }
    let was_warm = warm.is_some();
    let r = match warm {
        Some(r) => r,
        None => {
            *env = None;
            // The compiler's products stay in the box for the runs.
            c.write_back(true);
            run(&c, cancel)?
        }
    };
    let mut output = String::from_utf8_lossy(&r.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&r.stderr));
    let result = CompileResult {
        status: r.status.as_str().to_string(),
        output,
        time_us: r.cpu_time_us,
        wall_time_us: r.wall_time_us,
        peak_memory_bytes: r.peak_memory_bytes,
        warm: was_warm,
    };
    on_event(&Event::Compiled(&result));
    if r.status == sandbox::Status::SetupError {
        return Err(JudgeError::Internal(format!(
            "the compiler could not be started: {}",
            r.message.unwrap_or_default()
        )));
    }
    Ok(result)
}

fn plain_name(name: &str) -> Result<String, JudgeError> {
    let n = Path::new(name).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    if n.is_empty() || n == "." || n == ".." {
        return Err(JudgeError::Input(format!("source file name {name:?} is not a file name")));
    }
    Ok(n)
}

/// Which interface a checker program has.
#[derive(Clone, Copy, PartialEq)]
enum CheckerKind {
    /// testlib: `checker input output answer`; 0 accepted, 1 WA, 2 PE, 3 fail, 7 points.
    Testlib,
    /// ICPC output validator: `validator input answer feedback_dir < output`; 42 / 43.
    Icpc,
}

/// A custom checker, compiled once, ready to judge outputs.
struct CustomChecker {
    profile: Profile,
    prepared: Prepared,
    kind: CheckerKind,
}

impl CustomChecker {
    /// Finds the language of a checker source by its extension (the first profile whose
    /// source name has it), or takes an executable as it is.
    fn build(path: &Path, kind: CheckerKind, profiles: &Profiles) -> Result<CustomChecker, JudgeError> {
        // A directory (an ICPC validator's sources): its file in a known language is the
        // main one, the others (headers) come along.
        let mut extra: Vec<(String, Vec<u8>)> = Vec::new();
        let path = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| JudgeError::Input(format!("checker {}: {e}", path.display())))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let main = files
                .iter()
                .find(|f| {
                    let ext = f.extension().and_then(|x| x.to_str());
                    ext.is_some()
                        && profiles.all().any(|p| Path::new(&p.source).extension().and_then(|x| x.to_str()) == ext)
                })
                .cloned()
                .ok_or_else(|| {
                    JudgeError::Input(format!("checker {}: no source in a known language", path.display()))
                })?;
            for f in files.iter().filter(|f| **f != main) {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                extra.push((
                    name,
                    std::fs::read(f).map_err(|e| JudgeError::Input(format!("checker {}: {e}", f.display())))?,
                ));
            }
            main
        } else {
            path.to_path_buf()
        };
        let path = path.as_path();
        let content = std::fs::read(path).map_err(|e| JudgeError::Input(format!("checker {}: {e}", path.display())))?;
        let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
        let by_ext = profiles.all().find(|p| Path::new(&p.source).extension().and_then(|x| x.to_str()) == Some(ext));
        let (profile, source) = match by_ext {
            Some(p) if !ext.is_empty() => (p.clone(), content),
            _ => {
                // An executable: run it as the program of a minimal profile.
                let p: Profile = Profile::parse(
                    "id = \"checker\"\nname = \"checker\"\nsource = \"checker\"\nversion = [\"/bin/true\"]\n[run]\nargv = [\"./checker\"]\n",
                    "the built-in checker profile",
                    "checker",
                )?;
                (p, content)
            }
        };
        let mut sources = vec![(profile.source.clone(), source)];
        sources.extend(extra);
        let sub = Submission { language: profile.id.clone(), sources };
        let mut ignore = |_: &Event| {};
        let prepared = write_sources(&profile, &sub)?;
        let compiled = match &profile.compile {
            Some(stage) => Some(compile(&profile, stage, &prepared, None, &mut None, None, &mut ignore)?),
            None => None,
        };
        if profile.source == "checker" {
            use std::os::unix::fs::PermissionsExt;
            let exe = prepared.box_dir.path().join("checker");
            std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| JudgeError::Io(format!("checker: {e}")))?;
        }
        if let Some(c) = compiled.filter(|c| c.status != "ok") {
            // Named by its file name: where it was written (a server's temporary directory)
            // is nobody's business.
            let name =
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
            return Err(JudgeError::Internal(format!("the checker {name} does not compile: {}", c.output.trim())));
        }
        Ok(CustomChecker { profile, prepared, kind })
    }

    /// Runs the checker on one test's output (see `CheckerKind` for the two interfaces).
    fn check(&self, test: &TestCase, output: &[u8]) -> Result<checker::Checked, JudgeError> {
        let io = |e: std::io::Error| JudgeError::Io(format!("checker files: {e}"));
        // The test's files sit one level down in a directory only the runner can enter: a
        // hidden test's input and answer are nobody else's business on this host. The
        // sandbox gets the inner directory by a bind its init opens as the runner.
        let private = workdir::private_dir(workdir::CHECK_PREFIX).map_err(io)?;
        let files = private.path().join("files");
        // Readable by the checker's uid whatever the umask and the tests' own modes.
        let readable = |path: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
        };
        std::fs::create_dir(&files).map_err(io)?;
        readable(&files, 0o755)?;
        std::fs::copy(&test.input, files.join("input")).map_err(io)?;
        std::fs::copy(&test.answer, files.join("answer")).map_err(io)?;
        std::fs::write(files.join("output"), output).map_err(io)?;
        for name in ["input", "answer", "output"] {
            readable(&files.join(name), 0o644)?;
        }
        let limits = self.profile.run.run_limits(10_000_000, 512 << 20, 1 << 20);
        let mut c = base_command(&self.profile, &self.profile.run, &limits, self.prepared.box_dir.path(), None);
        c.write_back(false).bind_ro(&files, "/check");
        if self.kind == CheckerKind::Icpc {
            let feedback = private.path().join("feedback");
            std::fs::create_dir(&feedback).map_err(io)?;
            // The feedback directory must come back (write-back also applies to the
            // validator's own box, which only it uses).
            c.write_back(true)
                .bind_rw(&feedback, "/feedback")
                .args(["/check/input", "/check/answer", "/feedback/"])
                .stdin(Stdio::File(files.join("output")));
            let r = run(&c, None)?;
            // The validator wrote this directory: its names are not to be followed.
            let message = read_no_follow(&feedback.join("judgemessage.txt"))
                .and_then(|m| m.lines().next().map(|l| l.chars().take(200).collect::<String>()));
            let verdict = match (r.status, r.exit_code) {
                (sandbox::Status::NonzeroExit, Some(42)) => Verdict::Accepted,
                (sandbox::Status::NonzeroExit, Some(43)) => Verdict::WrongAnswer,
                _ => Verdict::InternalError,
            };
            let message = match verdict {
                Verdict::InternalError => Some(format!("output validator failed ({})", ending(&r))),
                _ => message,
            };
            return Ok(checker::Checked { verdict, message, diff: None });
        }
        c.args(["/check/input", "/check/output", "/check/answer"]);
        let r = run(&c, None)?;
        let message =
            String::from_utf8_lossy(&r.stderr).lines().next().map(|l| l.chars().take(200).collect::<String>());
        let verdict = match (r.status, r.exit_code) {
            (sandbox::Status::Ok, _) => Verdict::Accepted,
            (sandbox::Status::NonzeroExit, Some(1)) => Verdict::WrongAnswer,
            (sandbox::Status::NonzeroExit, Some(2)) => Verdict::PresentationError,
            (sandbox::Status::NonzeroExit, Some(7)) => Verdict::Accepted,
            _ => Verdict::InternalError,
        };
        let message = match (verdict, r.exit_code) {
            (Verdict::InternalError, _) => {
                // What the checker said, else why its run failed (a setup error's message).
                let why = message.filter(|m| !m.trim().is_empty()).or_else(|| r.message.clone());
                let how = ending(&r);
                Some(match why {
                    Some(why) => format!("checker failed ({how}): {why}"),
                    None => format!("checker failed ({how})"),
                })
            }
            (_, Some(7)) => Some(format!("points: {}", message.unwrap_or_default())),
            _ => message,
        };
        Ok(checker::Checked { verdict, message, diff: None })
    }
}

/// How a checker's run ended, for a message: its status, and its exit code or signal.
fn ending(r: &Report) -> String {
    match (r.exit_code, r.signal) {
        (Some(code), _) => format!("{}, exit code {code}", r.status.as_str()),
        (None, Some(sig)) => format!("{}, signal {sig}", r.status.as_str()),
        (None, None) => r.status.as_str().to_string(),
    }
}

/// Judges `sub` on `problem` with `profile`, reporting progress through `on_event`.
pub fn judge(
    profiles: &Profiles,
    sub: &Submission,
    problem: &Problem,
    opts: &Options,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Judgement, JudgeError> {
    let profile = profiles.get(&sub.language)?;
    if sub.sources.is_empty() {
        return Err(JudgeError::Input("no source file given".into()));
    }
    let rootfs_name = opts.rootfs.as_deref().unwrap_or(&profile.rootfs);
    let image = match rootfs_name {
        "host" => None,
        name => Some(crate::rootfs::image_root(&crate::rootfs::cache_dir(opts.rootfs_cache.as_deref()), name)?),
    };
    let image = image.as_deref();
    let custom = match &problem.checker {
        CheckerSpec::Custom(path) => Some(CustomChecker::build(path, CheckerKind::Testlib, profiles)?),
        CheckerSpec::OutputValidator(path) => Some(CustomChecker::build(path, CheckerKind::Icpc, profiles)?),
        _ => None,
    };
    let prepared = write_sources(profile, sub)?;
    let mut limits = profile.run.run_limits(problem.time_us, problem.memory_bytes, problem.output_bytes);
    if let Some(wall) = problem.wall_time_us {
        limits.wall_time_us = wall;
    }
    if let Some(pids) = problem.pids {
        limits.pids = pids;
    }
    let total = problem.tests.len();
    // One warm environment for the compile and all the tests of this submission (and no
    // other), made around its sources and reset between runs. Where none can be made, or
    // for a single run, they run cold.
    let runs = total + profile.compile.is_some() as usize;
    let make_env = || {
        let mut c = base_command(profile, &profile.run, &limits, prepared.box_dir.path(), image);
        c.write_back(false);
        if opts.pool > 0 {
            crate::pool::take(c.config())
        } else {
            sandbox::Environment::new(c.config()).ok()
        }
    };
    // A pooled environment is cheap enough even for a single run.
    let mut held =
        crate::pool::Held::new(if opts.cold || (runs < 2 && opts.pool == 0) { None } else { make_env() }, opts.pool);
    let env = &mut held.env;
    let compile = match &profile.compile {
        Some(stage) => Some(compile(profile, stage, &prepared, image, env, opts.cancel.as_deref(), on_event)?),
        None => None,
    };
    if let Some(c) = compile.as_ref().filter(|c| c.status != "ok") {
        let _ = c;
        let j = Judgement {
            verdict: Verdict::CompilationError,
            compile,
            tests: Vec::new(),
            first_failed: None,
            message: None,
        };
        on_event(&Event::Done(&j));
        return Ok(j);
    }
    // A compile that ran cold wrote its products back to the box: the environment, if
    // the tests are to have one, is made around them now.
    if env.is_none() && !opts.cold && total >= 2 {
        *env = make_env();
    }
    let mut results: Vec<TestResult> = Vec::new();
    for (index, test) in problem.tests.iter().enumerate() {
        on_event(&Event::TestStarted { index, total, name: &test.name });
        let mut c = base_command(profile, &profile.run, &limits, prepared.box_dir.path(), image);
        // Each test starts from the compiled box; what it writes is thrown away.
        c.write_back(false).stdin(Stdio::File(test.input.clone()));
        let r = run_maybe_warm(&c, env.as_mut(), opts.cancel.as_deref())?;
        let (verdict, message, diff) = match verdict::from_run(&r) {
            Some((v, m)) => (v, m, None),
            None => {
                let checked = match &custom {
                    Some(cc) => cc.check(test, &r.stdout)?,
                    None => {
                        let answer = std::fs::read(&test.answer)
                            .map_err(|e| JudgeError::Input(format!("answer {}: {e}", test.answer.display())))?;
                        checker::check(&problem.checker, &r.stdout, &answer)
                    }
                };
                (checked.verdict, checked.message, checked.diff)
            }
        };
        let result = TestResult {
            name: test.name.clone(),
            verdict,
            cpu_time_us: r.cpu_time_us,
            wall_time_us: r.wall_time_us,
            peak_memory_bytes: r.peak_memory_bytes,
            setup_time_us: r.setup_time_us,
            exit_code: r.exit_code,
            signal: r.signal,
            message,
            diff,
            stdout: if opts.keep_output { r.stdout.clone() } else { Vec::new() },
            stderr: if opts.keep_output { r.stderr.clone() } else { Vec::new() },
        };
        on_event(&Event::TestFinished { index, total, result: &result });
        let failed = result.verdict != Verdict::Accepted;
        results.push(result);
        if failed && !opts.run_all {
            break;
        }
    }
    let first = results.iter().find(|t| t.verdict != Verdict::Accepted);
    let j = Judgement {
        verdict: first.map_or(Verdict::Accepted, |t| t.verdict),
        first_failed: first.map(|t| t.name.clone()),
        compile,
        tests: results,
        message: None,
    };
    on_event(&Event::Done(&j));
    Ok(j)
}

/// The source files of a submission, read from disk.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>, JudgeError> {
    paths
        .iter()
        .map(|p| {
            let content = std::fs::read(p).map_err(|e| JudgeError::Input(format!("source {}: {e}", p.display())))?;
            let name = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            Ok((name, content))
        })
        .collect()
}

/// A file's text, refusing a symlink at the last component (the directory is the runner's
/// own temporary one; only its entries came from a sandboxed program).
fn read_no_follow(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f =
        std::fs::File::options().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.by_ref().take(64 << 10).read_to_string(&mut text).ok()?;
    Some(text)
}
