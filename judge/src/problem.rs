//! A problem: its testcases (pairs `NAME.in` + `NAME.out` or `NAME.ans` in a directory, in
//! natural order) and its settings (an optional `problem.toml` beside them).

use crate::checker::CheckerSpec;
use crate::size::parse_size;
use crate::JudgeError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One testcase: input and expected answer, as files.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    /// The name shared by the two files (`1`, `sample-2`).
    pub name: String,
    /// The input, given to the program on stdin.
    pub input: PathBuf,
    /// The expected answer.
    pub answer: PathBuf,
}

/// What a problem asks of each run.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Testcases in the order they run.
    pub tests: Vec<TestCase>,
    /// CPU time per test, µs.
    pub time_us: u64,
    /// Wall time per test, µs; None: 3 × the CPU time + 1 s.
    pub wall_time_us: Option<u64>,
    /// Memory per test, bytes.
    pub memory_bytes: u64,
    /// Output kept per test, bytes.
    pub output_bytes: u64,
    /// Processes + threads per test; None: the language profile's.
    pub pids: Option<u64>,
    /// How outputs are compared.
    pub checker: CheckerSpec,
}

/// Default CPU time per test.
pub const DEFAULT_TIME_US: u64 = 1_000_000;
/// Default memory per test.
pub const DEFAULT_MEMORY: u64 = 256 << 20;
/// Default output per test.
pub const DEFAULT_OUTPUT: u64 = 16 << 20;

/// A problem's time limit in seconds as µs, within the bounds `runner run --time` has.
pub(crate) fn time_limit_us(seconds: f64) -> Result<u64, String> {
    if seconds.is_finite() && (0.001..=1e6).contains(&seconds) {
        Ok((seconds * 1e6).round() as u64)
    } else {
        Err(format!("{seconds}: must be 0.001 to 1000000 seconds"))
    }
}

/// `problem.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    time: Option<f64>,
    memory: Option<String>,
    output: Option<String>,
    checker: Option<String>,
}

impl Problem {
    /// Reads the testcases of `dir` and its `problem.toml`, if any. Relative checker files in
    /// problem.toml are relative to `dir`.
    pub fn load(dir: &Path) -> Result<Problem, JudgeError> {
        let bad = |m: String| JudgeError::Input(m);
        if !dir.is_dir() {
            return Err(bad(format!("tests directory {}: no such directory", dir.display())));
        }
        if crate::icpc::is_package(dir) {
            return crate::icpc::load(dir);
        }
        let settings_path = dir.join("problem.toml");
        let settings: Settings = match std::fs::read_to_string(&settings_path) {
            Ok(text) => toml::from_str(&text).map_err(|e| JudgeError::Problem {
                file: settings_path.display().to_string(),
                message: crate::profile_error_line(&e.to_string()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(e) => return Err(bad(format!("{}: {e}", settings_path.display()))),
        };
        let in_file = |m: String| JudgeError::Problem { file: settings_path.display().to_string(), message: m };
        let time_us = match settings.time {
            Some(t) => time_limit_us(t).map_err(|e| in_file(format!("time = {e}")))?,
            None => DEFAULT_TIME_US,
        };
        let memory_bytes =
            settings.memory.as_deref().map(parse_size).transpose().map_err(|e| in_file(format!("memory: {e}")))?;
        let output_bytes =
            settings.output.as_deref().map(parse_size).transpose().map_err(|e| in_file(format!("output: {e}")))?;
        let checker = match settings.checker.as_deref() {
            None => CheckerSpec::Tokens,
            Some(s) => match s.parse().map_err(in_file)? {
                CheckerSpec::Custom(p) if p.is_relative() => CheckerSpec::Custom(dir.join(p)),
                other => other,
            },
        };
        Ok(Problem {
            tests: find_tests(dir)?,
            time_us,
            wall_time_us: None,
            memory_bytes: memory_bytes.unwrap_or(DEFAULT_MEMORY),
            output_bytes: output_bytes.unwrap_or(DEFAULT_OUTPUT),
            pids: None,
            checker,
        })
    }
}

/// `NAME.in` with `NAME.out` or `NAME.ans`, in natural order.
fn find_tests(dir: &Path) -> Result<Vec<TestCase>, JudgeError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| JudgeError::Input(format!("tests directory {}: {e}", dir.display())))?;
    let mut tests = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("in") || !path.is_file() {
            continue;
        }
        // The answer is looked for by the input's own bytes (with_extension), the name shown
        // is lossy only where the file name is not UTF-8.
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let answer = ["out", "ans"].iter().map(|x| path.with_extension(x)).find(|p| p.is_file());
        let Some(answer) = answer else {
            return Err(JudgeError::Input(format!(
                "test {}: no answer file {name}.out or {name}.ans beside it",
                path.display()
            )));
        };
        tests.push(TestCase { name, input: path, answer });
    }
    if tests.is_empty() {
        return Err(JudgeError::Input(format!("tests directory {}: no NAME.in files", dir.display())));
    }
    tests.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    Ok(tests)
}

/// Compares names with runs of digits by their value: `2` before `10`, `a9` before `a10`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let strip = |d: &[u8]| -> usize { d.iter().take_while(|c| **c == b'0').count() };
                let (vx, vy) = (&dx[strip(dx)..], &dy[strip(dy)..]);
                let ord = vx.len().cmp(&vy.len()).then_with(|| vx.cmp(vy));
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally() {
        let mut v = vec!["10", "2", "1", "a10", "a9", "b", "02"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["1", "02", "2", "10", "a9", "a10", "b"]);
    }

    #[test]
    fn a_test_without_an_answer_and_an_empty_directory_are_errors() {
        let d = tempfile::tempdir().unwrap();
        assert!(Problem::load(d.path()).unwrap_err().to_string().contains("no NAME.in"));
        std::fs::write(d.path().join("1.in"), "1").unwrap();
        assert!(Problem::load(d.path()).unwrap_err().to_string().contains("no answer file"));
        std::fs::write(d.path().join("1.ans"), "1").unwrap();
        assert_eq!(Problem::load(d.path()).unwrap().tests.len(), 1);
    }

    #[test]
    fn a_malformed_problem_file_names_line_and_field() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("1.in"), "1").unwrap();
        std::fs::write(d.path().join("1.out"), "1").unwrap();
        std::fs::write(d.path().join("problem.toml"), "time = 1.0\nmemroy = \"64M\"\n").unwrap();
        let err = Problem::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("problem.toml") && err.contains("line 2") && err.contains("memroy"), "{err}");
        std::fs::write(d.path().join("problem.toml"), "checker = \"float:x\"\n").unwrap();
        assert!(Problem::load(d.path()).unwrap_err().to_string().contains("EPS"));
        for bad in ["0", "0.0001", "1e9", "nan", "-1"] {
            std::fs::write(d.path().join("problem.toml"), format!("time = {bad}\n")).unwrap();
            let err = Problem::load(d.path()).unwrap_err().to_string();
            assert!(err.contains("time = ") && err.contains("0.001 to 1000000"), "{bad}: {err}");
        }
        std::fs::write(d.path().join("problem.toml"), "time = 2.5\n").unwrap();
        assert_eq!(Problem::load(d.path()).unwrap().time_us, 2_500_000);
    }
}
