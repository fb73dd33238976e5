//! Judging submissions on the sandbox: languages as data (`profiles/`), compile once, run
//! the testcases one by one (stopping at the first failure unless asked), compare with a
//! checker, decide a verdict. No front-end concern lives here: progress goes out as
//! [`Event`]s, results as plain serde data.
//!
//! ```no_run
//! let profiles = judge::Profiles::load(None)?;
//! let problem = judge::Problem::load(std::path::Path::new("tests/judge/aplusb/tests"))?;
//! let sub = judge::Submission { language: "python3".into(), sources: vec![("a.py".into(), b"print(sum(map(int, input().split())))".to_vec())] };
//! let j = judge::judge(&profiles, &sub, &problem, &judge::Options::default(), &mut |_| {})?;
//! println!("{}", j.verdict);
//! # Ok::<(), judge::JudgeError>(())
//! ```
#![warn(missing_docs)]

pub mod checker;
mod flow;
mod icpc;
pub mod pool;
pub mod problem;
pub mod profile;
pub mod rootfs;
mod size;
pub mod verdict;
pub mod workdir;

pub use checker::CheckerSpec;
pub use flow::{judge, read_sources, CompileResult, Event, Judgement, Options, Submission, TestResult};
pub use problem::{Problem, TestCase};
pub use profile::{Profile, Profiles};
pub use size::parse_size;
pub use verdict::Verdict;

/// Why a submission could not be judged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeError {
    /// A profile file is malformed; the message names the line and field.
    #[error("{file}: {message}")]
    Profile {
        /// The profile's file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A problem file is malformed; the message names the line and field.
    #[error("{file}: {message}")]
    Problem {
        /// The problem file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Bad input: unknown language, missing tests, unreadable source.
    #[error("{0}")]
    Input(String),
    /// The judge failed (a sandbox that cannot start, a broken checker): `internal_error`.
    #[error("{0}")]
    Internal(String),
    /// A host file or directory operation failed.
    #[error("{0}")]
    Io(String),
    /// `Options::cancel` was triggered: the judging stopped, its run was killed.
    #[error("cancelled")]
    Cancelled,
}

/// toml's multi-line error on one line: "line 3, column 7: unknown field `x`...".
pub(crate) fn profile_error_line(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head = lines.next().unwrap_or("").trim_start_matches("TOML parse error at ").to_string();
    let detail = text.lines().last().unwrap_or("").trim().to_string();
    if detail.is_empty() || head.contains(&detail) {
        head
    } else {
        format!("{head}: {detail}")
    }
}
