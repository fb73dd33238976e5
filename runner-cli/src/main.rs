//! `runner`: one-off sandboxed runs and host diagnostics. Parses arguments, calls the
//! `sandbox` library, prints results; nothing else.

mod args;
mod interrupt;
mod judging;
mod out;

use anyhow::Context;
use clap::Parser;
use out::{errln, outln};
use std::process::ExitCode;

/// Exit status when the runner itself failed (bad arguments, setup failure).
const RUNNER_FAILED: u8 = 125;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            errln!("runner: {}", args::one_line(&e.to_string()));
            return ExitCode::from(RUNNER_FAILED);
        }
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            errln!("runner: {}", chain_text(&e));
            ExitCode::from(RUNNER_FAILED)
        }
    };
    if out::stdout_failed() {
        return ExitCode::from(RUNNER_FAILED);
    }
    code
}

fn run(cli: args::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Cmd::Run(run) => run_one(*run),
        args::Cmd::Doctor { json } => Ok(doctor(json)),
        args::Cmd::Judge(a) => judging::judge_cmd(*a),
        args::Cmd::Rootfs { action, cache } => judging::rootfs_cmd(action, cache.as_deref()),
        args::Cmd::Languages { json, packages, profiles } => judging::languages(json, packages, profiles.as_deref()),
        args::Cmd::Cleanup { shared_network } => {
            let c = sandbox::cleanup();
            for p in c.cgroups.iter().chain(&c.root_dirs) {
                outln!("removed {}", p.display());
            }
            outln!("cleanup: {} cgroups, {} directories removed", c.cgroups.len(), c.root_dirs.len());
            if shared_network {
                match sandbox::remove_shared_network() {
                    Some(p) => outln!("removed the shared network namespace {}", p.display()),
                    None => outln!("no shared network namespace to remove"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_one(a: args::RunArgs) -> anyhow::Result<ExitCode> {
    let json = a.json;
    let report_path = a.report.clone();
    let config = a.into_config()?;
    // What killed runners left behind goes first (their cgroups); never anything of a
    // live runner.
    sandbox::sweep_cgroups();
    // The report file is opened now, before the program exists, and never where the
    // program can write: written after the run through this fd, not by path. It is emptied
    // only when the report is written: a run that fails before leaves a file that was there
    // as it was, and removes one it made.
    let mut report_file = match &report_path {
        Some(path) => {
            sandbox::check_output_path(&config, path).map_err(|e| anyhow::anyhow!("--report: {e}"))?;
            for (stream, name) in [(&config.stdout, "--stdout"), (&config.stderr, "--stderr")] {
                if matches!(stream, sandbox::Stdio::File(f) if sandbox::same_file(f, path)) {
                    anyhow::bail!(
                        "--report {} is also the {name} file: give the report a file of its own",
                        path.display()
                    );
                }
            }
            Some(ReportFile::open(path).with_context(|| format!("--report {}", path.display()))?)
        }
        None => None,
    };
    let cancel = sandbox::Cancel::new().context("creating the cancel eventfd")?;
    interrupt::install(&cancel);
    let (report, failure) = match sandbox::Command::from_config(config).run_cancellable(&cancel) {
        Ok(report) => (report, None),
        // The run happened; its report is written as usual, and the runner then fails.
        Err(sandbox::Error::WriteBack { message, report }) => (*report, Some(message)),
        Err(e) => {
            if let Some(f) = report_file.take() {
                f.discard();
            }
            return Err(e.into());
        }
    };
    let text = report.to_json();
    if let (Some(f), Some(path)) = (report_file.as_mut(), &report_path) {
        f.write(&text).with_context(|| format!("--report {}", path.display()))?;
    }
    if !json {
        if let Some(weak) = report.enforced.get("memory").filter(|m| m.starts_with("WEAK")) {
            errln!("runner: warning: memory is not really limited here: {weak}; see `runner doctor`");
        }
    }
    if json {
        outln!("{text}");
    } else if report.status != sandbox::Status::Ok && report.status != sandbox::Status::NonzeroExit {
        errln!("runner: {}", summary(&report));
    }
    if let Some(message) = failure {
        errln!("runner: {message}");
        return Ok(ExitCode::from(RUNNER_FAILED));
    }
    if let Some(sig) = interrupt::received() {
        return Ok(ExitCode::from(128 + sig as u8));
    }
    Ok(ExitCode::from(exit_status(&report)))
}

/// The error and its causes on one line, a cause left out when the text before already ends
/// with it (an error that shows its source and also gives it as its cause).
fn chain_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// The `--report` file, opened before the run without emptying it.
struct ReportFile {
    file: std::fs::File,
    /// The path, when this run created the file (removed again if no report comes).
    created: Option<std::path::PathBuf>,
}

impl ReportFile {
    fn open(path: &std::path::Path) -> std::io::Result<ReportFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let options = |new: bool| {
            let mut o = std::fs::File::options();
            o.write(true).mode(0o644).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
            if new {
                o.create_new(true);
            }
            o
        };
        match options(true).open(path) {
            Ok(file) => Ok(ReportFile { file, created: Some(path.to_path_buf()) }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(ReportFile { file: options(false).open(path)?, created: None })
            }
            Err(e) => Err(e),
        }
    }

    fn write(&mut self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        self.file.set_len(0)?;
        self.file.write_all(format!("{text}\n").as_bytes())
    }

    /// No report will come: a file this run made goes again.
    fn discard(self) {
        if let Some(path) = self.created {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The program's own status when it exited by itself, 128+N when signal N ended it, 125 when
/// the sandbox could not run it.
fn exit_status(r: &sandbox::Report) -> u8 {
    if r.status == sandbox::Status::SetupError {
        return RUNNER_FAILED;
    }
    match (r.exit_code, r.signal) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128 + sig as u8,
        (None, None) => RUNNER_FAILED,
    }
}

fn summary(r: &sandbox::Report) -> String {
    let mut s = format!(
        "{} (cpu {:.3} s, wall {:.3} s, peak memory {:.1} MiB)",
        r.status.as_str(),
        r.cpu_time_us as f64 / 1e6,
        r.wall_time_us as f64 / 1e6,
        r.peak_memory_bytes as f64 / (1 << 20) as f64
    );
    if let Some(name) = &r.blocked_syscall {
        s.push_str(&format!(", blocked syscall {name}"));
    }
    if let Some(m) = &r.message {
        s.push_str(&format!(": {m}"));
    }
    s
}

fn doctor(json: bool) -> ExitCode {
    let h = sandbox::doctor();
    if json {
        outln!("{}", serde_json::to_string(&h).unwrap_or_default());
    } else {
        outln!("kernel           {}", h.kernel);
        outln!("mode             {}", h.mode);
        outln!("cgroup           {} — {}", h.cgroup, h.cgroup_detail);
        outln!("user namespaces  {}", h.user_namespaces);
        outln!("seccomp          {}", h.seccomp);
        outln!(
            "landlock         {}",
            if h.landlock_abi > 0 { format!("ABI {}", h.landlock_abi) } else { "unavailable".into() }
        );
        outln!("trial run        {}", h.trial_run);
        for a in &h.advice {
            outln!("advice           {a}");
        }
        if !h.enforced.is_empty() {
            outln!("a run here enforces:");
            for (k, v) in &h.enforced {
                outln!("  {k:<12} {v}");
            }
        }
    }
    if h.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
