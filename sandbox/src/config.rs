//! The configuration of one run as plain serde data. No syscalls here: the CLI, the judge and
//! the server build, store and send this, and `spawn` turns it into a prepared child plan.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything that describes one sandboxed run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The program: an absolute path inside the sandbox, or a bare name looked up in `PATH`.
    pub program: String,
    /// Arguments after the program name (argv[1..]).
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment of the program. It starts empty; `PATH` is added when absent.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// Host directory mounted read-write at `/box`; `None` gives an empty tmpfs there.
    #[serde(default)]
    pub box_dir: Option<PathBuf>,
    /// Extra bind mounts.
    #[serde(default)]
    pub binds: Vec<Bind>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub stdin: Stdio,
    #[serde(default = "Stdio::inherit")]
    pub stdout: Stdio,
    #[serde(default = "Stdio::inherit")]
    pub stderr: Stdio,
    /// Seccomp policy: `default`, `none`, or a path to a JSON policy file.
    #[serde(default = "default_policy")]
    pub seccomp: String,
    /// Host uid and gid the program runs as when the runner is root. Never 0.
    #[serde(default = "default_host_id")]
    pub host_id: u32,
    /// Where run cgroups are created; default: under the runner's own cgroup.
    #[serde(default)]
    pub cgroup_parent: Option<PathBuf>,
}

fn default_policy() -> String {
    "default".into()
}

fn default_host_id() -> u32 {
    DEFAULT_HOST_ID
}

/// The unprivileged host id used for the sandboxed program when the runner runs as root.
pub const DEFAULT_HOST_ID: u32 = 60000;
/// The uid and gid the program sees inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;

impl RunConfig {
    pub fn new(program: impl Into<String>) -> Self {
        RunConfig {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            box_dir: None,
            binds: Vec::new(),
            limits: Limits::default(),
            stdin: Stdio::Null,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            seccomp: default_policy(),
            host_id: DEFAULT_HOST_ID,
            cgroup_parent: None,
        }
    }
}

/// An extra bind mount from the host into the sandbox.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    pub src: PathBuf,
    /// Absolute path inside the sandbox; defaults to `src`.
    #[serde(default)]
    pub dst: Option<PathBuf>,
    #[serde(default)]
    pub writable: bool,
}

/// Resource limits. `None` means not limited (wall time always gets a default).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU time of all processes of the run, user + system, in microseconds.
    pub cpu_time_us: Option<u64>,
    /// Wall-clock time from execve, in microseconds. Default: 3 × CPU + 1 s, or 10 s.
    pub wall_time_us: Option<u64>,
    /// Memory of the whole run (cgroup), bytes. Swap is disabled for the run.
    pub memory_bytes: Option<u64>,
    /// Processes + threads of the program (the sandbox's init is not counted).
    /// Default: 256, so that a forgotten limit never lets a fork bomb reach the host.
    pub pids: Option<u64>,
    /// Largest file the program may write (RLIMIT_FSIZE), bytes.
    pub file_size_bytes: Option<u64>,
    /// Bytes of captured stdout + stderr kept; beyond that the run is `output_limit`.
    /// Default: 64 MiB, so capturing never grows the runner without bound.
    pub output_bytes: Option<u64>,
    /// Stack size (RLIMIT_STACK), bytes. Default: the memory limit, or 64 MiB.
    pub stack_bytes: Option<u64>,
    /// Open files (RLIMIT_NOFILE). Default 256.
    pub open_files: Option<u64>,
    /// Size of the tmpfs on /tmp (and on /box when no box dir is given). Default 64 MiB.
    pub tmpfs_bytes: Option<u64>,
}

/// Processes + threads when no limit is given.
pub const DEFAULT_PIDS: u64 = 256;
/// Captured output kept when no limit is given.
pub const DEFAULT_OUTPUT_BYTES: u64 = 64 << 20;

impl Limits {
    pub fn effective_pids(&self) -> u64 {
        self.pids.unwrap_or(DEFAULT_PIDS)
    }

    pub fn effective_output_bytes(&self) -> u64 {
        self.output_bytes.unwrap_or(DEFAULT_OUTPUT_BYTES)
    }

    pub fn effective_wall_us(&self) -> u64 {
        match (self.wall_time_us, self.cpu_time_us) {
            (Some(w), _) => w,
            (None, Some(c)) => c.saturating_mul(3).saturating_add(1_000_000),
            (None, None) => 10_000_000,
        }
    }
}

/// Where one of the program's standard streams goes or comes from.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Stdio {
    /// `/dev/null`.
    #[default]
    Null,
    /// The runner's own stream.
    Inherit,
    /// A host file: read for stdin, created or truncated for stdout/stderr.
    File(PathBuf),
    /// Captured in memory by the runner (stdout/stderr only), bounded by `Limits::output_bytes`.
    Capture,
    /// The same destination as stdout (stderr only).
    Stdout,
}

impl Stdio {
    fn inherit() -> Self {
        Stdio::Inherit
    }
}
