//! Comparing a program's output with the expected answer. Built-in checkers are pure
//! functions over bytes; a custom checker is a program judged in the sandbox (see `custom`).

use crate::verdict::Verdict;
use serde::Serialize;
use std::str::FromStr;

/// Which comparison a problem uses.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckerSpec {
    /// Whitespace-separated tokens equal (the default).
    Tokens,
    /// Each line right-trimmed, trailing blank lines dropped (Judge0's rule).
    Lines,
    /// Byte for byte.
    Exact,
    /// Tokens; numbers equal within an absolute or relative error of EPS; NaN never equal.
    Float(f64),
    /// A checker program (source or executable) with testlib's exit codes.
    Custom(std::path::PathBuf),
    /// The ICPC package format's default output validator, with its flags.
    Icpc(IcpcFlags),
    /// Any output is right: only the run's own status counts ("run my code", or a Judge0
    /// submission without expected output).
    Any,
    /// An ICPC package's custom output validator (a source, a directory of sources, or an
    /// executable): `validator input answer feedback_dir < output`, exit 42/43.
    OutputValidator(std::path::PathBuf),
}

/// The default output validator's flags (all off: case- and space-insensitive tokens,
/// numbers compared as text).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IcpcFlags {
    /// Letters' case matters.
    pub case_sensitive: bool,
    /// Whitespace must match exactly.
    pub space_sensitive: bool,
    /// Numbers within this absolute error are equal.
    pub absolute: Option<f64>,
    /// Numbers within this relative error are equal.
    pub relative: Option<f64>,
}

impl FromStr for CheckerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "tokens" => CheckerSpec::Tokens,
            "lines" => CheckerSpec::Lines,
            "exact" => CheckerSpec::Exact,
            _ if s.starts_with("float:") => {
                let eps: f64 =
                    s["float:".len()..].parse().map_err(|_| format!("checker {s:?}: EPS is not a number"))?;
                if !(eps.is_finite() && eps >= 0.0) {
                    return Err(format!("checker {s:?}: EPS must be a non-negative number"));
                }
                CheckerSpec::Float(eps)
            }
            "float" => CheckerSpec::Float(1e-6),
            _ if s.contains('/') || s.contains('.') => CheckerSpec::Custom(s.into()),
            _ => return Err(format!("unknown checker {s:?} (tokens, lines, exact, float:EPS, or a checker file)")),
        })
    }
}

/// Where output and answer first differ; shown only when asked (tests' contents are the
/// problem setter's).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    /// 1-based line of the answer where the difference starts.
    pub line: usize,
    /// The expected text there (bounded).
    pub expected: String,
    /// The program's text there (bounded).
    pub actual: String,
}

/// A built-in checker's finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// accepted, wrong_answer or presentation_error.
    pub verdict: Verdict,
    /// Says where, without the tests' contents.
    pub message: Option<String>,
    /// The first difference, for `--show-diff`.
    pub diff: Option<Diff>,
}

const EXCERPT: usize = 80;

fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT {
        return s.to_string();
    }
    let mut end = EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn accepted() -> Checked {
    Checked { verdict: Verdict::Accepted, message: None, diff: None }
}

/// Tokens with the line each starts on.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().flat_map(|(i, l)| l.split_ascii_whitespace().map(move |t| (i + 1, t))).collect()
}

/// The comparison of `output` with `answer` under a built-in checker.
pub fn check(spec: &CheckerSpec, output: &[u8], answer: &[u8]) -> Checked {
    let out = String::from_utf8_lossy(output);
    let ans = String::from_utf8_lossy(answer);
    match spec {
        CheckerSpec::Tokens => compare_tokens(&out, &ans, |a, b| a == b),
        CheckerSpec::Float(eps) => compare_tokens(&out, &ans, |a, b| float_equal(a, b, *eps)),
        CheckerSpec::Lines => {
            let norm = |t: &str| -> Vec<String> {
                let mut v: Vec<String> = t.lines().map(|l| l.trim_end().to_string()).collect();
                while v.last().is_some_and(|l| l.is_empty()) {
                    v.pop();
                }
                v
            };
            let (o, a) = (norm(&out), norm(&ans));
            if o == a {
                return accepted();
            }
            let line = o.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(o.len().min(a.len()));
            differs(&out, &ans, line + 1, a.get(line).map_or("", |s| s), o.get(line).map_or("", |s| s))
        }
        CheckerSpec::Exact => {
            if output == answer {
                return accepted();
            }
            let (o, a): (Vec<&str>, Vec<&str>) = (out.split('\n').collect(), ans.split('\n').collect());
            let line = o.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(o.len().min(a.len()));
            differs(&out, &ans, line + 1, a.get(line).copied().unwrap_or(""), o.get(line).copied().unwrap_or(""))
        }
        CheckerSpec::Icpc(f) => {
            if f.space_sensitive {
                let norm = |t: &str| if f.case_sensitive { t.to_string() } else { t.to_lowercase() };
                if norm(&out) != norm(&ans) && !(f.absolute.is_some() || f.relative.is_some()) {
                    let c = check(&CheckerSpec::Exact, output, answer);
                    return Checked { verdict: Verdict::WrongAnswer, ..c };
                }
            }
            compare_tokens(&out, &ans, |a, b| icpc_equal(a, b, f))
        }
        CheckerSpec::Any => accepted(),
        CheckerSpec::Custom(_) | CheckerSpec::OutputValidator(_) => Checked {
            verdict: Verdict::InternalError,
            message: Some("a checker program runs in the sandbox, not here".into()),
            diff: None,
        },
    }
}

/// The default validator's token rule: numbers (when a tolerance is given and the answer's
/// token is a float) within the absolute or relative tolerance, else text, case-folded
/// unless case_sensitive.
fn icpc_equal(out: &str, ans: &str, f: &IcpcFlags) -> bool {
    if f.absolute.is_some() || f.relative.is_some() {
        if let (Ok(x), Ok(y)) = (out.parse::<f64>(), ans.parse::<f64>()) {
            if x.is_nan() || y.is_nan() {
                return false;
            }
            let d = (x - y).abs();
            return f.absolute.is_some_and(|a| d <= a) || f.relative.is_some_and(|r| d <= r * y.abs()) || x == y;
        }
    }
    if f.case_sensitive {
        out == ans
    } else {
        out.eq_ignore_ascii_case(ans)
    }
}

/// A line-based checker found a difference: a presentation error when the tokens agree.
fn differs(out: &str, ans: &str, line: usize, expected: &str, actual: &str) -> Checked {
    let same_tokens = out.split_ascii_whitespace().eq(ans.split_ascii_whitespace());
    let diff = Some(Diff { line, expected: excerpt(expected), actual: excerpt(actual) });
    if same_tokens {
        Checked {
            verdict: Verdict::PresentationError,
            message: Some(format!("same tokens, different spacing from line {line}")),
            diff,
        }
    } else {
        Checked { verdict: Verdict::WrongAnswer, message: Some(format!("differs from line {line}")), diff }
    }
}

fn compare_tokens(out: &str, ans: &str, eq: impl Fn(&str, &str) -> bool) -> Checked {
    let (o, a) = (tokens(out), tokens(ans));
    for (i, (ot, at)) in o.iter().zip(&a).enumerate() {
        if !eq(ot.1, at.1) {
            return Checked {
                verdict: Verdict::WrongAnswer,
                message: Some(format!("token {} differs (line {} of the answer)", i + 1, at.0)),
                diff: Some(Diff { line: at.0, expected: excerpt(at.1), actual: excerpt(ot.1) }),
            };
        }
    }
    if o.len() != a.len() {
        let (what, line) = if o.len() < a.len() {
            ("output ends early", a[o.len()].0)
        } else {
            ("output has extra tokens", a.last().map_or(1, |t| t.0))
        };
        let expected = a.get(o.len()).map_or(String::new(), |t| excerpt(t.1));
        let actual = o.get(a.len()).map_or(String::new(), |t| excerpt(t.1));
        return Checked {
            verdict: Verdict::WrongAnswer,
            message: Some(format!("{what}: {} tokens expected, {} given", a.len(), o.len())),
            diff: Some(Diff { line, expected, actual }),
        };
    }
    accepted()
}

/// Numbers within `eps` absolutely or relatively; other tokens exactly; NaN never.
fn float_equal(out: &str, ans: &str, eps: f64) -> bool {
    match (out.parse::<f64>(), ans.parse::<f64>()) {
        (Ok(x), Ok(y)) => {
            if x.is_nan() || y.is_nan() {
                return false;
            }
            if x.is_infinite() || y.is_infinite() {
                return x == y;
            }
            let d = (x - y).abs();
            d <= eps || d <= eps * y.abs()
        }
        _ => out == ans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(spec: &str, out: &str, ans: &str) -> Verdict {
        check(&spec.parse().unwrap(), out.as_bytes(), ans.as_bytes()).verdict
    }

    #[test]
    fn each_checker_accepts_and_refuses_what_it_should() {
        use Verdict::*;
        let cases = [
            ("tokens", "1 2\n3", "1\n2 3\n", Accepted),
            ("tokens", "1 2 4", "1 2 3", WrongAnswer),
            ("tokens", "1 2", "1 2 3", WrongAnswer),
            ("tokens", "1 2 3 4", "1 2 3", WrongAnswer),
            ("lines", "1  \n2\n\n\n", "1\n2\n", Accepted),
            ("lines", "1 2\n", "1\n2\n", PresentationError),
            ("lines", "1\n3\n", "1\n2\n", WrongAnswer),
            ("lines", " 1\n", "1\n", PresentationError),
            ("exact", "1\n2\n", "1\n2\n", Accepted),
            ("exact", "1\n2", "1\n2\n", PresentationError),
            ("exact", "1\n3\n", "1\n2\n", WrongAnswer),
            ("float:1e-6", "0.3333333", "0.3333333333", Accepted),
            ("float:1e-6", "0.33", "0.3333333333", WrongAnswer),
            ("float:1e-6", "1000000.5", "1000000.0", Accepted),
            ("float:1e-6", "nan", "nan", WrongAnswer),
            ("float:1e-6", "yes 1.0", "yes 1.0000001", Accepted),
            ("float:1e-6", "no 1.0", "yes 1.0", WrongAnswer),
        ];
        let icpc =
            |f: IcpcFlags, out: &str, ans: &str| check(&CheckerSpec::Icpc(f), out.as_bytes(), ans.as_bytes()).verdict;
        let d = IcpcFlags::default();
        assert_eq!(icpc(d, "YES\n", "yes"), Accepted);
        assert_eq!(icpc(IcpcFlags { case_sensitive: true, ..d }, "YES", "yes"), WrongAnswer);
        assert_eq!(icpc(d, "1   2", "1 2"), Accepted);
        assert_eq!(icpc(IcpcFlags { space_sensitive: true, ..d }, "1   2", "1 2"), WrongAnswer);
        assert_eq!(icpc(IcpcFlags { absolute: Some(1e-3), relative: Some(1e-3), ..d }, "1.0005", "1.0"), Accepted);
        assert_eq!(icpc(d, "1.0005", "1.0"), WrongAnswer);
        for (spec, out, ans, want) in cases {
            assert_eq!(v(spec, out, ans), want, "{spec}: {out:?} against {ans:?}");
        }
    }

    #[test]
    fn a_wrong_answer_says_where_and_keeps_excerpts_bounded() {
        let long = "x".repeat(500);
        let c = check(&CheckerSpec::Tokens, format!("1\n{long}").as_bytes(), b"1\n2\n");
        assert_eq!(c.verdict, Verdict::WrongAnswer);
        let d = c.diff.unwrap();
        assert_eq!((d.line, d.expected.as_str()), (2, "2"));
        assert!(d.actual.chars().count() <= EXCERPT + 1);
        assert!(!c.message.unwrap().contains("xxx"), "messages do not quote the output");
    }

    #[test]
    fn checker_names_parse_and_bad_ones_say_why() {
        assert_eq!("float:1e-9".parse::<CheckerSpec>().unwrap(), CheckerSpec::Float(1e-9));
        assert!("float:abc".parse::<CheckerSpec>().unwrap_err().contains("EPS"));
        assert!("nonsense".parse::<CheckerSpec>().unwrap_err().contains("unknown checker"));
    }
}
