//! Verdicts, and how a sandbox run's status becomes one.

use sandbox::{Report, Status};
use serde::{Deserialize, Serialize};

/// The outcome of a test, or of a whole submission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// The output was right.
    Accepted,
    /// The output was wrong.
    WrongAnswer,
    /// The right tokens with the wrong spacing (under `lines` or `exact`), or the custom
    /// checker said so.
    PresentationError,
    /// CPU or wall time ran out.
    TimeLimit,
    /// The run's memory limit was hit.
    MemoryLimit,
    /// Too much output, or the box's disk budget.
    OutputLimit,
    /// The program crashed, exited non-zero, or made a blocked syscall.
    RuntimeError,
    /// The compiler refused the source.
    CompilationError,
    /// The judge could not judge (sandbox setup, a failing checker): never the submission's fault.
    InternalError,
}

impl Verdict {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::PresentationError => "presentation_error",
            Verdict::TimeLimit => "time_limit",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::OutputLimit => "output_limit",
            Verdict::RuntimeError => "runtime_error",
            Verdict::CompilationError => "compilation_error",
            Verdict::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run's status says about the submission, before any checker: `None` when the
/// program ended normally and its output must be checked; otherwise the verdict and a
/// message.
pub fn from_run(r: &Report) -> Option<(Verdict, Option<String>)> {
    let limit =
        |what: &str| Some(format!("{what} ({} ms CPU, {} ms wall)", r.cpu_time_us / 1000, r.wall_time_us / 1000));
    Some(match r.status {
        Status::Ok => return None,
        Status::TimeLimit => (Verdict::TimeLimit, limit("CPU time limit")),
        Status::WallTimeLimit => (Verdict::TimeLimit, limit("wall time limit")),
        Status::MemoryLimit => (Verdict::MemoryLimit, None),
        Status::OutputLimit => (Verdict::OutputLimit, r.message.clone()),
        Status::NonzeroExit => (
            Verdict::RuntimeError,
            Some(match &r.message {
                Some(m) => format!("exit code {}: {m}", r.exit_code.unwrap_or(-1)),
                None => format!("exit code {}", r.exit_code.unwrap_or(-1)),
            }),
        ),
        Status::Signaled => {
            (Verdict::RuntimeError, Some(format!("killed by signal {}", signal_name(r.signal.unwrap_or(0)))))
        }
        Status::SyscallBlocked => {
            (Verdict::RuntimeError, Some(format!("blocked syscall {}", r.blocked_syscall.as_deref().unwrap_or("?"))))
        }
        // Setup failures, cancellation and anything a newer sandbox adds are the judge's.
        _ => (
            Verdict::InternalError,
            r.message.clone().or_else(|| Some(format!("sandbox status {}", r.status.as_str()))),
        ),
    })
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc_sig::SIGSEGV => "SIGSEGV",
        libc_sig::SIGABRT => "SIGABRT",
        libc_sig::SIGFPE => "SIGFPE",
        libc_sig::SIGKILL => "SIGKILL",
        libc_sig::SIGBUS => "SIGBUS",
        libc_sig::SIGILL => "SIGILL",
        libc_sig::SIGTERM => "SIGTERM",
        libc_sig::SIGPIPE => "SIGPIPE",
        _ => return sig.to_string(),
    };
    format!("{sig} ({name})")
}

/// Signal numbers on Linux x86_64 (the only target the sandbox builds for).
mod libc_sig {
    pub const SIGILL: i32 = 4;
    pub const SIGABRT: i32 = 6;
    pub const SIGBUS: i32 = 7;
    pub const SIGFPE: i32 = 8;
    pub const SIGKILL: i32 = 9;
    pub const SIGSEGV: i32 = 11;
    pub const SIGPIPE: i32 = 13;
    pub const SIGTERM: i32 = 15;
}
