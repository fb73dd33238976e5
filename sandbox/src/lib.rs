//! Runs one untrusted program in fresh user, pid, mount, network, ipc, uts and cgroup
//! namespaces, with cgroup (v1 or v2) limits, seccomp and landlock, all capabilities
//! dropped, and measures its CPU time, wall time and peak memory.
//!
//! ```no_run
//! use std::time::Duration;
//! let report = sandbox::Command::new("/usr/bin/python3")
//!     .args(["-c", "print(6 * 7)"])
//!     .cpu_time(Duration::from_millis(500))
//!     .memory(64 << 20)
//!     .stdout(sandbox::Stdio::Capture)
//!     .run()
//!     .unwrap();
//! assert_eq!(report.stdout, b"42\n");
//! ```
//!
//! Safe to call from many threads at once: everything the child needs is prepared before
//! clone, and the child only makes syscalls until execve.

pub mod cgroup;
mod child;
pub mod config;
mod doctor;
mod landlock;
mod measure;
mod plan;
mod report;
mod rootfs;
pub mod seccomp;
mod spawn;
mod sys;

pub use config::{Bind, Limits, RunConfig, Stdio, DEFAULT_HOST_ID, SANDBOX_ID};
pub use doctor::{doctor, HostReport};
pub use report::{Report, Status};
pub use spawn::Cancel;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be run (missing box directory, bad policy, ...).
    #[error("{0}")]
    Config(String),
    /// The runner could not prepare the run (files, pipes).
    #[error("{0}")]
    Io(String),
}

/// A sandboxed run, built like `std::process::Command`.
#[derive(Clone, Debug)]
pub struct Command {
    config: RunConfig,
}

impl Command {
    /// A run of `program` (absolute path inside the sandbox, or a name looked up in PATH)
    /// with the safe defaults: empty /box, stdin from /dev/null, default seccomp policy.
    pub fn new(program: impl Into<String>) -> Command {
        Command { config: RunConfig::new(program) }
    }

    pub fn from_config(config: RunConfig) -> Command {
        Command { config }
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    pub fn arg(&mut self, a: impl Into<String>) -> &mut Command {
        self.config.args.push(a.into());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Command {
        self.config.env.push((key.into(), value.into()));
        self
    }

    /// Host directory mounted read-write at /box (the working directory).
    pub fn box_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Command {
        self.config.box_dir = Some(dir.into());
        self
    }

    pub fn bind_ro(&mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> &mut Command {
        self.config.binds.push(Bind { src: src.into(), dst: Some(dst.into()), writable: false });
        self
    }

    pub fn bind_rw(&mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> &mut Command {
        self.config.binds.push(Bind { src: src.into(), dst: Some(dst.into()), writable: true });
        self
    }

    pub fn limits(&mut self, limits: Limits) -> &mut Command {
        self.config.limits = limits;
        self
    }

    pub fn cpu_time(&mut self, d: Duration) -> &mut Command {
        self.config.limits.cpu_time_us = Some(d.as_micros() as u64);
        self
    }

    pub fn wall_time(&mut self, d: Duration) -> &mut Command {
        self.config.limits.wall_time_us = Some(d.as_micros() as u64);
        self
    }

    pub fn memory(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.memory_bytes = Some(bytes);
        self
    }

    pub fn pids(&mut self, n: u64) -> &mut Command {
        self.config.limits.pids = Some(n);
        self
    }

    pub fn file_size(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.file_size_bytes = Some(bytes);
        self
    }

    pub fn output_limit(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.output_bytes = Some(bytes);
        self
    }

    pub fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.config.stdin = s;
        self
    }

    pub fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.config.stdout = s;
        self
    }

    pub fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.config.stderr = s;
        self
    }

    /// `default`, `none`, or a path to a JSON policy.
    pub fn seccomp(&mut self, policy: impl Into<String>) -> &mut Command {
        self.config.seccomp = policy.into();
        self
    }

    /// Runs the program to completion.
    pub fn run(&self) -> Result<Report, Error> {
        spawn::run(&self.config, None)
    }

    /// Runs the program; triggering `cancel` kills the run and ends it early.
    pub fn run_cancellable(&self, cancel: &Cancel) -> Result<Report, Error> {
        spawn::run(&self.config, Some(cancel))
    }
}
