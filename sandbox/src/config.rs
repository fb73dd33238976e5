//! The configuration of one run as plain serde data. No syscalls here: the CLI, the judge and
//! the server build, store and send this, and `spawn` turns it into a prepared child plan.

use crate::seccomp::Policy;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::path::PathBuf;

/// Everything that describes one sandboxed run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The program: an absolute path inside the sandbox, or a bare name looked up in `PATH`.
    #[serde(with = "os_string")]
    pub program: OsString,
    /// Arguments after the program name (argv[1..]).
    #[serde(default, with = "os_strings")]
    pub args: Vec<OsString>,
    /// Environment of the program. It starts empty; `PATH` is added when absent.
    #[serde(default, with = "os_pairs")]
    pub env: Vec<(OsString, OsString)>,
    /// Host directory the program sees read-write at `/box`; `None` gives an empty one.
    /// As root, its content is copied into a size-limited tmpfs before the run and the
    /// tmpfs is mirrored back after it (see `write_back`); the program never touches the
    /// host directory itself. Rootless, the directory (the user's own) is bound directly.
    #[serde(default)]
    pub box_dir: Option<PathBuf>,
    /// Copy what the program left in the box (and rw binds) back to the host after the
    /// run. `false` leaves the host directories exactly as they were (a test run whose
    /// output is captured needs nothing back). Default true.
    #[serde(default = "yes")]
    pub write_back: bool,
    /// Extra bind mounts.
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
    /// The program's stdin (default /dev/null).
    #[serde(default)]
    pub stdin: Stdio,
    /// The program's stdout (default: the runner's, relayed).
    #[serde(default = "Stdio::inherit")]
    pub stdout: Stdio,
    /// The program's stderr (default: the runner's, relayed).
    #[serde(default = "Stdio::inherit")]
    pub stderr: Stdio,
    /// Seccomp policy: `"default"`, `"none"`, a path to a JSON policy file, or a policy
    /// object given in place.
    #[serde(default)]
    pub seccomp: SeccompChoice,
    /// First host uid/gid of the range the program's id is taken from when the runner is
    /// root: each concurrent run gets its own id, so runs cannot reach each other through
    /// the host. Never 0.
    #[serde(default = "default_host_id")]
    pub host_id: u32,
    /// How many ids the range holds (default 1024). 1 means exactly `host_id`; runs that
    /// find every id of the range busy wait for the first one.
    #[serde(default = "default_host_id_count")]
    pub host_id_count: u32,
    /// A built root filesystem image (a directory holding a minimal Debian tree) whose /usr,
    /// /bin, /lib... the program sees instead of the host's; `None`: the host's, read-only.
    #[serde(default)]
    pub rootfs: Option<PathBuf>,
    /// Where run cgroups are created; default: under the runner's own cgroup.
    #[serde(default)]
    pub cgroup_parent: Option<PathBuf>,
    /// Give the run a network namespace of its own even where it could join the empty one
    /// runs share (root, Landlock ABI 6 or later; see the README's "Network"). Either way
    /// the program has no interface but a loopback that is down. Default false.
    #[serde(default)]
    pub own_network: bool,
}

fn default_host_id() -> u32 {
    DEFAULT_HOST_ID
}

fn default_host_id_count() -> u32 {
    DEFAULT_HOST_ID_COUNT
}

fn yes() -> bool {
    true
}

/// Which seccomp policy a run gets.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SeccompChoice {
    /// `"default"` (the built-in policy), `"none"` (no filter), or a path to a JSON file.
    Named(String),
    /// A policy given in memory.
    Inline(Policy),
}

impl Default for SeccompChoice {
    fn default() -> Self {
        SeccompChoice::Named("default".into())
    }
}

impl SeccompChoice {
    /// A short name for reports: `default`, `none`, the file's path, or `inline`.
    pub fn describe(&self) -> &str {
        match self {
            SeccompChoice::Named(n) => n,
            SeccompChoice::Inline(_) => "inline",
        }
    }
}

/// The first unprivileged host id used for sandboxed programs when the runner runs as root.
pub const DEFAULT_HOST_ID: u32 = 60000;
/// How many host ids concurrent runs share by default (60000..61023).
pub const DEFAULT_HOST_ID_COUNT: u32 = 1024;
/// The uid and gid the program sees inside the sandbox.
pub const SANDBOX_ID: u32 = 1000;

impl RunConfig {
    /// A run of `program` with the safe defaults.
    pub fn new(program: impl Into<OsString>) -> Self {
        RunConfig {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            box_dir: None,
            write_back: true,
            binds: Vec::new(),
            limits: Limits::default(),
            stdin: Stdio::Null,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            seccomp: SeccompChoice::default(),
            host_id: DEFAULT_HOST_ID,
            host_id_count: DEFAULT_HOST_ID_COUNT,
            rootfs: None,
            cgroup_parent: None,
            own_network: false,
        }
    }
}

/// Serde for `OsString`: a JSON string when it is UTF-8, else an array of its bytes.
mod os_string {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Repr {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub(super) fn to_repr(s: &OsString) -> Repr {
        match s.to_str() {
            Some(t) => Repr::Text(t.to_string()),
            None => Repr::Bytes(s.as_bytes().to_vec()),
        }
    }

    pub(super) fn from_repr(r: Repr) -> OsString {
        match r {
            Repr::Text(t) => t.into(),
            Repr::Bytes(b) => OsString::from_vec(b),
        }
    }

    pub fn serialize<S: Serializer>(s: &OsString, ser: S) -> Result<S::Ok, S::Error> {
        to_repr(s).serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<OsString, D::Error> {
        Repr::deserialize(de).map(from_repr)
    }
}

mod os_strings {
    use super::os_string::{from_repr, to_repr, Repr};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;

    pub fn serialize<S: Serializer>(v: &[OsString], ser: S) -> Result<S::Ok, S::Error> {
        v.iter().map(to_repr).collect::<Vec<_>>().serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<OsString>, D::Error> {
        Ok(Vec::<Repr>::deserialize(de)?.into_iter().map(from_repr).collect())
    }
}

mod os_pairs {
    use super::os_string::{from_repr, to_repr, Repr};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::ffi::OsString;

    pub fn serialize<S: Serializer>(v: &[(OsString, OsString)], ser: S) -> Result<S::Ok, S::Error> {
        v.iter().map(|(k, v)| (to_repr(k), to_repr(v))).collect::<Vec<_>>().serialize(ser)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<(OsString, OsString)>, D::Error> {
        Ok(Vec::<(Repr, Repr)>::deserialize(de)?.into_iter().map(|(k, v)| (from_repr(k), from_repr(v))).collect())
    }
}

/// An extra bind mount from the host into the sandbox.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    /// Host file or directory.
    pub src: PathBuf,
    /// Absolute path inside the sandbox; defaults to `src`.
    #[serde(default)]
    pub dst: Option<PathBuf>,
    /// Read-write (lent like the box: copied in and mirrored back as root). Default
    /// read-only.
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
    /// Default 512 MiB, so that a forgotten limit never lets a run take the host's memory.
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
    /// Size of the tmpfs on /tmp and /dev/shm. Default 64 MiB.
    pub tmpfs_bytes: Option<u64>,
    /// Bytes the box and rw binds may hold in all (their size-limited tmpfs). Default 512 MiB.
    #[serde(default)]
    pub disk_bytes: Option<u64>,
    /// Files and directories the box and rw binds may hold in all. Default 10 000.
    #[serde(default)]
    pub disk_files: Option<u64>,
}

/// Processes + threads when no limit is given.
pub const DEFAULT_PIDS: u64 = 256;
/// Captured output kept when no limit is given.
pub const DEFAULT_OUTPUT_BYTES: u64 = 64 << 20;
/// Memory of a run when no limit is given.
pub const DEFAULT_MEMORY_BYTES: u64 = 512 << 20;
/// Bytes the box may hold when no limit is given.
pub const DEFAULT_DISK_BYTES: u64 = 512 << 20;
/// Files the box may hold when no limit is given.
pub const DEFAULT_DISK_FILES: u64 = 10_000;
/// The smallest memory limit a run can start with: the sandbox's init, the dynamic loader
/// and a small program need a few MiB of the run's cgroup.
pub const MIN_MEMORY_BYTES: u64 = 8 << 20;
/// The smallest CPU or wall limit: below a millisecond nothing meaningful runs, and the
/// kernel's accounting is not that fine.
pub const MIN_TIME_US: u64 = 1_000;

impl Limits {
    /// The pids limit applied.
    pub fn effective_pids(&self) -> u64 {
        self.pids.unwrap_or(DEFAULT_PIDS)
    }

    /// The output limit applied.
    pub fn effective_output_bytes(&self) -> u64 {
        self.output_bytes.unwrap_or(DEFAULT_OUTPUT_BYTES)
    }

    /// The memory limit applied.
    pub fn effective_memory_bytes(&self) -> u64 {
        self.memory_bytes.unwrap_or(DEFAULT_MEMORY_BYTES)
    }

    /// The box's byte budget applied.
    pub fn effective_disk_bytes(&self) -> u64 {
        self.disk_bytes.unwrap_or(DEFAULT_DISK_BYTES)
    }

    /// The box's file budget applied.
    pub fn effective_disk_files(&self) -> u64 {
        self.disk_files.unwrap_or(DEFAULT_DISK_FILES)
    }

    /// The wall-clock limit applied.
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
