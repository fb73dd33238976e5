//! Problem packages in the ICPC/Kattis problem package format (the subset DOMjudge, Kattis
//! and PC^2 share): `problem.yaml`, tests in `data/sample/` then `data/secret/` (`.in` +
//! `.ans`), the default output validator with its flags, or a custom one from
//! `output_validators/`. Problem setters judge their packages as they are.

use crate::checker::{CheckerSpec, IcpcFlags};
use crate::problem::{natural_cmp, Problem, TestCase, DEFAULT_MEMORY, DEFAULT_OUTPUT, DEFAULT_TIME_US};
use crate::JudgeError;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// Whether `dir` is a problem package (it has a problem.yaml).
pub fn is_package(dir: &Path) -> bool {
    dir.join("problem.yaml").is_file()
}

/// Reads a package.
pub fn load(dir: &Path) -> Result<Problem, JudgeError> {
    let file = dir.join("problem.yaml");
    let bad = |m: String| JudgeError::Problem { file: file.display().to_string(), message: m };
    let text = std::fs::read_to_string(&file).map_err(|e| bad(e.to_string()))?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| bad(e.to_string()))?;
    let y = docs.into_iter().next().unwrap_or(Yaml::Null);
    if !matches!(y, Yaml::Hash(_) | Yaml::Null) {
        return Err(bad("not a mapping".into()));
    }
    let validation = match &y["validation"] {
        Yaml::BadValue => "default".to_string(),
        Yaml::String(s) => s.clone(),
        other => return Err(bad(format!("validation: expected a string, found {other:?}"))),
    };
    let flags = match &y["validator_flags"] {
        Yaml::BadValue => String::new(),
        Yaml::String(s) => s.clone(),
        other => return Err(bad(format!("validator_flags: expected a string, found {other:?}"))),
    };
    let limits = &y["limits"];
    let number = |v: &Yaml, what: &str| -> Result<Option<f64>, JudgeError> {
        match v {
            Yaml::BadValue => Ok(None),
            Yaml::Integer(i) => Ok(Some(*i as f64)),
            Yaml::Real(_) => v.as_f64().map(Some).ok_or_else(|| bad(format!("{what}: not a number"))),
            other => Err(bad(format!("{what}: expected a number, found {other:?}"))),
        }
    };
    // The time limit: limits.time_limit (newer versions of the format), else DOMjudge's
    // .timelimit file at the package's root, else 1 s.
    let time = match number(&limits["time_limit"], "limits.time_limit")? {
        Some(t) => Some(t),
        None => match std::fs::read_to_string(dir.join(".timelimit")) {
            Ok(t) => {
                Some(t.trim().parse::<f64>().map_err(|_| bad(format!(".timelimit: {:?} is not a number", t.trim())))?)
            }
            Err(_) => None,
        },
    };
    let time_us = match time {
        Some(t) => crate::problem::time_limit_us(t).map_err(|e| bad(format!("time limit {e}")))?,
        None => DEFAULT_TIME_US,
    };
    let memory_bytes =
        number(&limits["memory"], "limits.memory")?.map_or(DEFAULT_MEMORY, |mib| (mib * 1048576.0) as u64);
    let output_bytes =
        number(&limits["output"], "limits.output")?.map_or(DEFAULT_OUTPUT, |mib| (mib * 1048576.0) as u64);
    let checker = match validation.split_whitespace().next().unwrap_or("default") {
        "default" => CheckerSpec::Icpc(parse_flags(&flags).map_err(bad)?),
        "custom" => {
            if validation.contains("interactive") {
                return Err(bad("interactive problems are not supported".into()));
            }
            CheckerSpec::OutputValidator(find_validator(dir).map_err(bad)?)
        }
        other => return Err(bad(format!("validation: unknown value {other:?} (default or custom)"))),
    };
    let mut tests = Vec::new();
    for group in ["sample", "secret"] {
        collect(&dir.join("data").join(group), group, &mut tests)?;
    }
    if tests.is_empty() {
        return Err(JudgeError::Input(format!(
            "problem package {}: no tests in data/sample or data/secret",
            dir.display()
        )));
    }
    Ok(Problem { tests, time_us, wall_time_us: None, memory_bytes, output_bytes, pids: None, checker })
}

/// `.in` + `.ans` pairs under `dir` (and its subdirectories), in natural order.
fn collect(dir: &Path, prefix: &str, out: &mut Vec<TestCase>) -> Result<(), JudgeError> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() {
            collect(&path, &format!("{prefix}/{name}"), out)?;
            continue;
        }
        if path.extension().and_then(|x| x.to_str()) != Some("in") {
            continue;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let answer = dir.join(format!("{stem}.ans"));
        if !answer.is_file() {
            return Err(JudgeError::Input(format!("test {}: no {stem}.ans beside it", path.display())));
        }
        out.push(TestCase { name: format!("{prefix}/{stem}"), input: path, answer });
    }
    Ok(())
}

/// The default output validator's flags.
fn parse_flags(flags: &str) -> Result<IcpcFlags, String> {
    let mut f = IcpcFlags::default();
    let mut words = flags.split_whitespace();
    while let Some(w) = words.next() {
        let mut value = |name: &str| -> Result<f64, String> {
            let v = words.next().ok_or_else(|| format!("validator_flags: {name} needs a value"))?;
            v.parse::<f64>().map_err(|_| format!("validator_flags: {name} {v:?} is not a number"))
        };
        match w {
            "case_sensitive" => f.case_sensitive = true,
            "space_change_sensitive" => f.space_sensitive = true,
            "float_tolerance" => {
                let v = value(w)?;
                (f.absolute, f.relative) = (Some(v), Some(v));
            }
            "float_relative_tolerance" => f.relative = Some(value(w)?),
            "float_absolute_tolerance" => f.absolute = Some(value(w)?),
            other => return Err(format!("validator_flags: unknown flag {other:?}")),
        }
    }
    Ok(f)
}

/// The custom output validator: `output_validators/<one dir or file>`.
fn find_validator(dir: &Path) -> Result<PathBuf, String> {
    let base = dir.join("output_validators");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&base)
        .map_err(|e| format!("validation is custom but {}: {e}", base.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| format!("{} is empty", base.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_and_unknown_ones_are_named() {
        let f = parse_flags("case_sensitive float_tolerance 1e-6").unwrap();
        assert!(f.case_sensitive && !f.space_sensitive);
        assert_eq!((f.absolute, f.relative), (Some(1e-6), Some(1e-6)));
        assert!(parse_flags("bogus").unwrap_err().contains("bogus"));
        assert!(parse_flags("float_tolerance").unwrap_err().contains("needs a value"));
    }

    #[test]
    fn a_package_reads_samples_then_secret_with_its_limits() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("problem.yaml"),
            "name: x\nlimits:\n  memory: 128\n  time_limit: 2\nvalidator_flags: float_tolerance 1e-4\n",
        )
        .unwrap();
        for (g, n) in [("sample", "1"), ("secret", "10"), ("secret", "2")] {
            let p = d.path().join("data").join(g);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join(format!("{n}.in")), "1").unwrap();
            std::fs::write(p.join(format!("{n}.ans")), "1").unwrap();
        }
        let p = load(d.path()).unwrap();
        let names: Vec<&str> = p.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["sample/1", "secret/2", "secret/10"]);
        assert_eq!((p.time_us, p.memory_bytes), (2_000_000, 128 << 20));
        assert!(matches!(p.checker, CheckerSpec::Icpc(f) if f.absolute == Some(1e-4)));
    }
}
