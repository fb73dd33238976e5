//! The result of one run as plain serde data.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a run ended. The judge maps these to verdicts.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    NonzeroExit,
    Signaled,
    TimeLimit,
    WallTimeLimit,
    MemoryLimit,
    OutputLimit,
    SyscallBlocked,
    SetupError,
}

impl Status {
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
        }
    }
}

/// The figures and outcome of one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// User + system CPU time of every process of the run (cgroup accounting when available).
    pub cpu_time_us: u64,
    pub user_time_us: u64,
    pub sys_time_us: u64,
    /// Monotonic time from the program's execve to its exit.
    pub wall_time_us: u64,
    /// High-water mark of the run's cgroup (includes page cache and kernel memory charged to
    /// the run); `ru_maxrss` when no cgroup is in use. See `peak_memory_source`.
    pub peak_memory_bytes: u64,
    /// Largest resident set of the program process (and its waited-for children), bytes.
    pub max_rss_bytes: u64,
    /// Where `peak_memory_bytes` came from: `memory.peak`, `memory.max_usage_in_bytes` or `ru_maxrss`.
    pub peak_memory_source: String,
    pub oom_killed: bool,
    /// Time the sandbox took to set itself up, never charged to the program.
    pub setup_time_us: u64,
    /// `v1`, `v2` or `none`.
    pub cgroup: String,
    /// Each limit asked for, and what enforced it (or why nothing could).
    pub enforced: BTreeMap<String, String>,
    /// Landlock ABI version applied, 0 when landlock was unavailable.
    pub landlock_abi: u32,
    pub blocked_syscall: Option<String>,
    /// Human text for setup errors and other notes.
    pub message: Option<String>,
    /// Captured stdout and stderr (only with `Stdio::Capture`); not part of the JSON report.
    #[serde(skip)]
    pub stdout: Vec<u8>,
    #[serde(skip)]
    pub stderr: Vec<u8>,
}

impl Report {
    pub(crate) fn setup_error(message: String) -> Report {
        Report {
            status: Status::SetupError,
            exit_code: None,
            signal: None,
            cpu_time_us: 0,
            user_time_us: 0,
            sys_time_us: 0,
            wall_time_us: 0,
            peak_memory_bytes: 0,
            max_rss_bytes: 0,
            peak_memory_source: String::new(),
            oom_killed: false,
            setup_time_us: 0,
            cgroup: "none".into(),
            enforced: BTreeMap::new(),
            landlock_abi: 0,
            blocked_syscall: None,
            message: Some(message),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"status\":\"setup_error\",\"message\":\"{e}\"}}"))
    }
}
