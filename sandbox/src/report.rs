//! The result of one run as plain serde data.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a run ended. The judge maps these to verdicts. Each limit status comes only from the
/// mechanism that enforced it, never from a signal the program could raise itself.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// The program exited by itself with status 0.
    Ok,
    /// The program exited by itself with a non-zero status.
    NonzeroExit,
    /// A signal ended the program, and no limit of ours was the cause.
    Signaled,
    /// The run's CPU accounting passed the CPU limit.
    TimeLimit,
    /// The wall-clock timer fired.
    WallTimeLimit,
    /// The cgroup's OOM killer killed a process of the run.
    MemoryLimit,
    /// The runner's byte count of stdout/stderr, the box's disk budget, or the file-size
    /// limit was hit.
    OutputLimit,
    /// Our seccomp filter stopped the run (the syscall is in `blocked_syscall`).
    SyscallBlocked,
    /// The sandbox could not be set up; nothing of the program's ran (or it could not be
    /// started). See `message`.
    SetupError,
    /// The caller cancelled the run (`Command::run_cancellable`, or the runner was interrupted).
    Cancelled,
}

impl Status {
    /// The status as it appears in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NonzeroExit => "nonzero_exit",
            Status::Signaled => "signaled",
            Status::TimeLimit => "time_limit",
            Status::WallTimeLimit => "wall_time_limit",
            Status::MemoryLimit => "memory_limit",
            Status::OutputLimit => "output_limit",
            Status::SyscallBlocked => "syscall_blocked",
            Status::SetupError => "setup_error",
            Status::Cancelled => "cancelled",
        }
    }
}

/// Which cgroup hierarchy measured and limited a run.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CgroupVersion {
    /// Legacy or hybrid hierarchies (memory, cpuacct and pids on cgroup v1).
    V1,
    /// The unified hierarchy.
    V2,
    /// No usable cgroup: rlimits and the runner's own accounting only.
    None,
}

impl CgroupVersion {
    /// `v1`, `v2` or `none`, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
            CgroupVersion::None => "none",
        }
    }
}

impl PartialEq<&str> for CgroupVersion {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for CgroupVersion {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where `Report::peak_memory_bytes` came from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeakMemorySource {
    /// cgroup v2 `memory.peak` (Linux ≥ 5.19).
    #[serde(rename = "memory.peak")]
    MemoryPeak,
    /// cgroup v2 `memory.current` at the end of the run (kernels without `memory.peak`).
    #[serde(rename = "memory.current")]
    MemoryCurrent,
    /// cgroup v1 `memory.max_usage_in_bytes`.
    #[serde(rename = "memory.max_usage_in_bytes")]
    MaxUsageInBytes,
    /// `ru_maxrss` of the program: no cgroup, or the run never started.
    #[serde(rename = "ru_maxrss")]
    RuMaxrss,
}

impl PeakMemorySource {
    /// The name used in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            PeakMemorySource::MemoryPeak => "memory.peak",
            PeakMemorySource::MemoryCurrent => "memory.current",
            PeakMemorySource::MaxUsageInBytes => "memory.max_usage_in_bytes",
            PeakMemorySource::RuMaxrss => "ru_maxrss",
        }
    }
}

impl PartialEq<&str> for PeakMemorySource {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for PeakMemorySource {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Display for PeakMemorySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The figures and outcome of one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// How the run ended.
    pub status: Status,
    /// The program's exit status when it exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended the program, when one did (a limit kill is SIGKILL).
    pub signal: Option<i32>,
    /// User + system CPU time of every process of the run (cgroup accounting when available).
    pub cpu_time_us: u64,
    /// The user part of `cpu_time_us`.
    pub user_time_us: u64,
    /// The system part of `cpu_time_us`.
    pub sys_time_us: u64,
    /// Monotonic time from the program's execve to its exit.
    pub wall_time_us: u64,
    /// High-water mark of the run's cgroup (includes page cache, kernel memory and the
    /// box's tmpfs pages charged to the run); `ru_maxrss` when no cgroup is in use. See
    /// `peak_memory_source`.
    pub peak_memory_bytes: u64,
    /// Largest resident set of the program process (and its waited-for children), bytes.
    pub max_rss_bytes: u64,
    /// Where `peak_memory_bytes` came from.
    pub peak_memory_source: PeakMemorySource,
    /// The cgroup's OOM killer killed a process of the run.
    pub oom_killed: bool,
    /// Time the sandbox took to set itself up, never charged to the program.
    pub setup_time_us: u64,
    /// Which cgroup hierarchy was used.
    pub cgroup: CgroupVersion,
    /// Each limit asked for, and what enforced it (or why nothing could).
    pub enforced: BTreeMap<String, String>,
    /// Landlock ABI version applied, 0 when landlock was unavailable.
    pub landlock_abi: u32,
    /// The syscall our seccomp filter stopped the run on.
    pub blocked_syscall: Option<String>,
    /// Human text for setup errors and other notes.
    pub message: Option<String>,
    /// Captured stdout (only with `Stdio::Capture`); not part of the JSON report.
    #[serde(skip)]
    pub stdout: Vec<u8>,
    /// Captured stderr (only with `Stdio::Capture`); not part of the JSON report.
    #[serde(skip)]
    pub stderr: Vec<u8>,
}

impl Report {
    pub(crate) fn setup_error(message: String) -> Report {
        Report::ended(Status::SetupError, message)
    }

    /// A report for a run that ended before the program's figures existed.
    pub(crate) fn ended(status: Status, message: String) -> Report {
        Report {
            status,
            exit_code: None,
            signal: None,
            cpu_time_us: 0,
            user_time_us: 0,
            sys_time_us: 0,
            wall_time_us: 0,
            peak_memory_bytes: 0,
            max_rss_bytes: 0,
            peak_memory_source: PeakMemorySource::RuMaxrss,
            oom_killed: false,
            setup_time_us: 0,
            cgroup: CgroupVersion::None,
            enforced: BTreeMap::new(),
            landlock_abi: 0,
            blocked_syscall: None,
            message: Some(message),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// The report as one line of JSON (the captured streams are not included).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"status\":\"setup_error\",\"message\":\"{e}\"}}"))
    }
}
