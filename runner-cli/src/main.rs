//! `runner`: one-off sandboxed runs and host diagnostics. Parses arguments, calls the
//! `sandbox` library, prints results; nothing else.

mod args;
mod interrupt;
mod judging;

use anyhow::Context;
use clap::Parser;
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
            eprintln!("runner: {}", args::one_line(&e.to_string()));
            return ExitCode::from(RUNNER_FAILED);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("runner: {e:#}");
            ExitCode::from(RUNNER_FAILED)
        }
    }
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
                println!("removed {}", p.display());
            }
            println!("cleanup: {} cgroups, {} directories removed", c.cgroups.len(), c.root_dirs.len());
            if shared_network {
                match sandbox::remove_shared_network() {
                    Some(p) => println!("removed the shared network namespace {}", p.display()),
                    None => println!("no shared network namespace to remove"),
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
    // program can write: written after the run through this fd, not by path.
    let mut report_file = match &report_path {
        Some(path) => {
            sandbox::check_output_path(&config, path).map_err(|e| anyhow::anyhow!("--report: {e}"))?;
            Some(sandbox::open_output_file(path).with_context(|| format!("--report {}", path.display()))?)
        }
        None => None,
    };
    let cancel = sandbox::Cancel::new().context("creating the cancel eventfd")?;
    interrupt::install(&cancel);
    let report = sandbox::Command::from_config(config).run_cancellable(&cancel)?;
    let text = report.to_json();
    if let (Some(f), Some(path)) = (report_file.as_mut(), &report_path) {
        use std::io::Write;
        f.write_all(format!("{text}\n").as_bytes()).with_context(|| format!("--report {}", path.display()))?;
    }
    if !json {
        if let Some(weak) = report.enforced.get("memory").filter(|m| m.starts_with("WEAK")) {
            eprintln!("runner: warning: memory is not really limited here: {weak}; see `runner doctor`");
        }
    }
    if json {
        println!("{text}");
    } else if report.status != sandbox::Status::Ok && report.status != sandbox::Status::NonzeroExit {
        eprintln!("runner: {}", summary(&report));
    }
    if let Some(sig) = interrupt::received() {
        return Ok(ExitCode::from(128 + sig as u8));
    }
    Ok(ExitCode::from(exit_status(&report)))
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
        println!("{}", serde_json::to_string(&h).unwrap_or_default());
    } else {
        println!("kernel           {}", h.kernel);
        println!("mode             {}", h.mode);
        println!("cgroup           {} — {}", h.cgroup, h.cgroup_detail);
        println!("user namespaces  {}", h.user_namespaces);
        println!("seccomp          {}", h.seccomp);
        println!(
            "landlock         {}",
            if h.landlock_abi > 0 { format!("ABI {}", h.landlock_abi) } else { "unavailable".into() }
        );
        println!("trial run        {}", h.trial_run);
        for a in &h.advice {
            println!("advice           {a}");
        }
        if !h.enforced.is_empty() {
            println!("a run here enforces:");
            for (k, v) in &h.enforced {
                println!("  {k:<12} {v}");
            }
        }
    }
    if h.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
