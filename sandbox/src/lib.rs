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

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cgroup;
mod child;
pub mod config;
mod doctor;
mod hostids;
mod landlock;
mod lend;
mod measure;
mod netns;
mod order;
mod plan;
mod proctree;
mod reaper;
mod report;
mod rootfs;
mod scratch;
pub mod seccomp;
mod spawn;
mod state;
mod streams;
mod supervise;
mod sys;
mod validate;
mod warm;

pub use config::{Bind, Limits, RunConfig, SeccompChoice, Stdio, DEFAULT_HOST_ID, SANDBOX_ID};
pub use doctor::{doctor, HostReport};
pub use netns::remove_shared_network;
pub use report::{CgroupVersion, PeakMemorySource, Report, Status};
pub use seccomp::Policy;
pub use spawn::Cancel;
pub use state::{cleanup, sweep_cgroups, Cleanup};
pub use streams::{open_output_file, same_file};
pub use sys::process_running;
pub use validate::check_output_path;
pub use warm::Environment;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Why a run could not be started. Everything that goes wrong once the sandbox is being
/// built is a `Report` with status `setup_error` instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot be run (missing box directory, a system directory as the
    /// box, a limit below its minimum, a bad policy, ...). The text names what was wrong.
    #[error("{0}")]
    Config(String),
    /// A host resource the run needs is in use by another run (its box directory).
    #[error("{0}")]
    Busy(String),
    /// The runner could not prepare the run (files, pipes, mounts); `what` names the step.
    #[error("{what}: {source}")]
    Io {
        /// The step that failed, with its arguments.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The run ended, but what it left in its box or rw binds could not all be copied back
    /// to the host (`message` names the entry and the error; what was copied before it
    /// stays). `report` is the run's report, as it would have been.
    #[error("{message}")]
    WriteBack {
        /// What failed.
        message: String,
        /// The run's report.
        report: Box<Report>,
    },
}

impl Error {
    pub(crate) fn config(text: impl Into<String>) -> Error {
        Error::Config(text.into())
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { what: what.into(), source }
    }
}

/// A sandboxed run, built like `std::process::Command`.
#[derive(Clone, Debug)]
pub struct Command {
    config: RunConfig,
}

impl Command {
    /// A run of `program` (absolute path inside the sandbox, or a name looked up in PATH)
    /// with the safe defaults: empty /box, stdin from /dev/null, default seccomp policy,
    /// 512 MiB of memory, 256 processes, 64 MiB of output, 10 s of wall time.
    pub fn new(program: impl Into<OsString>) -> Command {
        Command { config: RunConfig::new(program) }
    }

    /// A run described by a stored configuration.
    pub fn from_config(config: RunConfig) -> Command {
        Command { config }
    }

    /// The configuration built so far.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The configuration, to change what no builder method covers.
    pub fn config_mut(&mut self) -> &mut RunConfig {
        &mut self.config
    }

    /// Adds one argument.
    pub fn arg(&mut self, a: impl Into<OsString>) -> &mut Command {
        self.config.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.config.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable (the environment otherwise holds only PATH).
    pub fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Command {
        self.config.env.push((key.into(), value.into()));
        self
    }

    /// Host directory mounted read-write at /box (the working directory).
    pub fn box_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Command {
        self.config.box_dir = Some(dir.into());
        self
    }

    /// Whether to copy the box's changes back to the host directory after the run.
    pub fn write_back(&mut self, yes: bool) -> &mut Command {
        self.config.write_back = yes;
        self
    }

    /// Binds a host file or directory read-only at `dst`.
    pub fn bind_ro(&mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> &mut Command {
        self.config.binds.push(Bind { src: src.into(), dst: Some(dst.into()), writable: false });
        self
    }

    /// Runs on a built root filesystem image instead of the host's system directories.
    pub fn rootfs(&mut self, image: impl Into<PathBuf>) -> &mut Command {
        self.config.rootfs = Some(image.into());
        self
    }

    /// Lends a host file or directory read-write at `dst` (copied in and back as root).
    pub fn bind_rw(&mut self, src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> &mut Command {
        self.config.binds.push(Bind { src: src.into(), dst: Some(dst.into()), writable: true });
        self
    }

    /// Replaces all limits.
    pub fn limits(&mut self, limits: Limits) -> &mut Command {
        self.config.limits = limits;
        self
    }

    /// CPU time of the whole run (user + system of every process).
    pub fn cpu_time(&mut self, d: Duration) -> &mut Command {
        self.config.limits.cpu_time_us = Some(d.as_micros() as u64);
        self
    }

    /// Wall-clock time from execve.
    pub fn wall_time(&mut self, d: Duration) -> &mut Command {
        self.config.limits.wall_time_us = Some(d.as_micros() as u64);
        self
    }

    /// Memory of the whole run, bytes.
    pub fn memory(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.memory_bytes = Some(bytes);
        self
    }

    /// Processes + threads of the program.
    pub fn pids(&mut self, n: u64) -> &mut Command {
        self.config.limits.pids = Some(n);
        self
    }

    /// Largest file the program may write, bytes.
    pub fn file_size(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.file_size_bytes = Some(bytes);
        self
    }

    /// Bytes of stdout + stderr the runner takes.
    pub fn output_limit(&mut self, bytes: u64) -> &mut Command {
        self.config.limits.output_bytes = Some(bytes);
        self
    }

    /// Where stdin comes from.
    pub fn stdin(&mut self, s: Stdio) -> &mut Command {
        self.config.stdin = s;
        self
    }

    /// Where stdout goes.
    pub fn stdout(&mut self, s: Stdio) -> &mut Command {
        self.config.stdout = s;
        self
    }

    /// Where stderr goes.
    pub fn stderr(&mut self, s: Stdio) -> &mut Command {
        self.config.stderr = s;
        self
    }

    /// `default`, `none`, or a path to a JSON policy.
    pub fn seccomp(&mut self, policy: impl Into<String>) -> &mut Command {
        self.config.seccomp = SeccompChoice::Named(policy.into());
        self
    }

    /// A seccomp policy given in memory.
    pub fn seccomp_policy(&mut self, policy: Policy) -> &mut Command {
        self.config.seccomp = SeccompChoice::Inline(policy);
        self
    }

    /// A network namespace of the run's own, never the empty one runs share (see
    /// `RunConfig::own_network`).
    pub fn own_network(&mut self, yes: bool) -> &mut Command {
        self.config.own_network = yes;
        self
    }

    /// Runs the program to completion.
    pub fn run(&self) -> Result<Report, Error> {
        spawn::run(&self.config, None)
    }

    /// Runs the program in a warm environment (see `Environment`): same report, less setup.
    /// The command's environment part (root filesystem, box, binds, sizes) must be the
    /// environment's.
    pub fn run_in(&self, env: &mut Environment) -> Result<Report, Error> {
        env.run(&self.config, None)
    }

    /// `run_in` that triggering `cancel` kills and ends early.
    pub fn run_in_cancellable(&self, env: &mut Environment, cancel: &Cancel) -> Result<Report, Error> {
        env.run(&self.config, Some(cancel))
    }

    /// Runs the program; triggering `cancel` kills the run and ends it early.
    pub fn run_cancellable(&self, cancel: &Cancel) -> Result<Report, Error> {
        spawn::run(&self.config, Some(cancel))
    }
}
