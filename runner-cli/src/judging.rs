//! `runner judge` and `runner languages`: argument handling and output (human lines, a
//! progress line on a terminal, JSON, JUnit XML). The judging itself is the `judge` crate's.

use crate::args::JudgeArgs;
use crate::out::{err, errln, outln};
use anyhow::{bail, Context};
use judge::rootfs;
use judge::{Event, Judgement, Verdict};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Exit status for a judged submission that was not accepted.
const NOT_ACCEPTED: u8 = 1;
/// Usage errors and internal errors.
const JUDGE_FAILED: u8 = 125;

pub fn judge_cmd(a: JudgeArgs) -> anyhow::Result<ExitCode> {
    let profiles = judge::Profiles::load(a.profiles.as_deref())?;
    let profile = profiles.get(&a.lang)?;
    if let Err(why) = profile.availability() {
        bail!("language {} is not available here: {why}", a.lang);
    }
    let mut problem = judge::Problem::load(&a.tests)?;
    if let Some(c) = &a.checker {
        problem.checker = c.parse().map_err(|e: String| anyhow::anyhow!("--checker: {e}"))?;
    }
    if let Some(t) = a.time {
        problem.time_us = t;
    }
    if let Some(m) = a.mem {
        problem.memory_bytes = m;
    }
    let sources = judge::read_sources(&a.sources)?;
    // The JUnit file is opened before judging: a bad path fails now, not after the work.
    let mut junit = match &a.junit {
        Some(p) => Some(sandbox::open_output_file(p).with_context(|| format!("--junit {}", p.display()))?),
        None => None,
    };
    // What killed judges left behind goes first: cgroups, boxes and checker files (never a
    // live judge's).
    sandbox::sweep_cgroups();
    judge::workdir::sweep_judge_dirs();
    let sub = judge::Submission { language: a.lang.clone(), sources };
    let progress = !a.json && std::io::stderr().is_terminal();
    let human = !a.json;
    let show_diff = a.show_diff;
    let mut on_event = |e: &Event| match e {
        Event::Compiling if progress => err!("\rcompiling…"),
        Event::Compiled(c) if human => {
            if progress {
                err!("\r\x1b[K");
            }
            errln!("compile: {} ({:.3} s)", c.status, c.time_us as f64 / 1e6);
        }
        Event::TestStarted { index, total, name } if progress => {
            err!("\r\x1b[K[{}/{total}] test {}…", index + 1, printable(name))
        }
        Event::TestFinished { result: t, .. } if human => {
            if progress {
                err!("\r\x1b[K");
            }
            let mut line = format!(
                "test {:<12} {:<18} {:>7.3} s {:>8.1} MiB",
                t.name,
                t.verdict.as_str(),
                t.cpu_time_us as f64 / 1e6,
                t.peak_memory_bytes as f64 / (1u64 << 20) as f64
            );
            if let Some(m) = &t.message {
                line.push_str(&format!("  {m}"));
            }
            outln!("{}", printable(&line));
            if let (true, Some(d)) = (show_diff, &t.diff) {
                outln!("  line {}: expected {:?}, got {:?}", d.line, d.expected, d.actual);
            }
        }
        _ => {}
    };
    let opts = judge::Options {
        run_all: a.all,
        rootfs: a.rootfs.clone(),
        rootfs_cache: a.rootfs_cache.clone(),
        keep_output: false,
        cancel: None,
        cold: a.cold,
        // One submission per `runner judge`: no later one for a kept environment to serve.
        pool: 0,
    };
    let j = judge::judge(&profiles, &sub, &problem, &opts, &mut on_event)?;
    if let (Some(f), Some(path)) = (junit.as_mut(), &a.junit) {
        f.write_all(junit_xml(&a.lang, &j).as_bytes()).with_context(|| format!("--junit {}", path.display()))?;
    }
    if a.json {
        let mut value = serde_json::to_value(&j)?;
        if !a.show_diff {
            strip_diffs(&mut value);
        }
        outln!("{value}");
    } else {
        if j.verdict == Verdict::CompilationError {
            if let Some(c) = &j.compile {
                err!("{}", printable(&c.output));
            }
        }
        let passed = j.tests.iter().filter(|t| t.verdict == Verdict::Accepted).count();
        let mut line = format!("verdict: {} ({passed}/{} tests passed", j.verdict, problem.tests.len());
        if let Some(f) = &j.first_failed {
            line.push_str(&format!(", first failed: {f}"));
        }
        outln!("{line})");
    }
    Ok(ExitCode::from(match j.verdict {
        Verdict::Accepted => 0,
        Verdict::InternalError => JUDGE_FAILED,
        _ => NOT_ACCEPTED,
    }))
}

fn strip_diffs(v: &mut serde_json::Value) {
    if let Some(tests) = v.get_mut("tests").and_then(|t| t.as_array_mut()) {
        for t in tests {
            if let Some(o) = t.as_object_mut() {
                o.remove("diff");
            }
        }
    }
}

/// `s` with the control characters a submission could use to drive the operator's terminal
/// (escape sequences, carriage returns, C1 controls) written out as `\u{..}`; newlines and
/// tabs stay.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c.to_string(),
            c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// `s` with every character XML 1.0 cannot carry, even escaped (control characters but tab,
/// newline and carriage return; U+FFFE, U+FFFF), written out as `\u{..}`: a submission's
/// output or a checker's message must not make the report unreadable.
fn xml_chars(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c.to_string(),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// One testsuite, one testcase per test that ran; a failure element for each test not
/// accepted (and one for a compilation error).
fn junit_xml(lang: &str, j: &Judgement) -> String {
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event as X};
    let mut w = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let failures = j.tests.iter().filter(|t| t.verdict != Verdict::Accepted).count()
        + usize::from(j.verdict == Verdict::CompilationError);
    // (An empty f64 sum is -0.0, which would print as "-0.000": adding 0.0 makes it 0.0.)
    let total_s: f64 = j.tests.iter().map(|t| t.wall_time_us as f64 / 1e6).sum::<f64>() + 0.0;
    let tests = j.tests.len().max(usize::from(j.verdict == Verdict::CompilationError));
    let _ = w.write_event(X::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("tests", tests.to_string().as_str()));
    suites.push_attribute(("failures", failures.to_string().as_str()));
    let _ = w.write_event(X::Start(suites));
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", format!("judge ({lang})").as_str()));
    suite.push_attribute(("tests", tests.to_string().as_str()));
    suite.push_attribute(("failures", failures.to_string().as_str()));
    suite.push_attribute(("time", format!("{total_s:.3}").as_str()));
    let _ = w.write_event(X::Start(suite));
    if j.verdict == Verdict::CompilationError {
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", "compile"));
        case.push_attribute(("classname", lang));
        let _ = w.write_event(X::Start(case));
        let mut f = BytesStart::new("failure");
        f.push_attribute(("message", "compilation_error"));
        f.push_attribute(("type", "compilation_error"));
        let _ = w.write_event(X::Start(f));
        let output = j.compile.as_ref().map(|c| c.output.clone()).unwrap_or_default();
        let _ = w.write_event(X::Text(BytesText::new(&xml_chars(&output))));
        let _ = w.write_event(X::End(BytesEnd::new("failure")));
        let _ = w.write_event(X::End(BytesEnd::new("testcase")));
    }
    for t in &j.tests {
        let mut case = BytesStart::new("testcase");
        case.push_attribute(("name", xml_chars(&t.name).as_str()));
        case.push_attribute(("classname", lang));
        case.push_attribute(("time", format!("{:.3}", t.wall_time_us as f64 / 1e6).as_str()));
        if t.verdict == Verdict::Accepted {
            let _ = w.write_event(X::Empty(case));
            continue;
        }
        let _ = w.write_event(X::Start(case));
        let mut f = BytesStart::new("failure");
        let message = match &t.message {
            Some(m) => format!("{}: {m}", t.verdict),
            None => t.verdict.to_string(),
        };
        f.push_attribute(("message", xml_chars(&message).as_str()));
        f.push_attribute(("type", t.verdict.as_str()));
        let _ = w.write_event(X::Empty(f));
        let _ = w.write_event(X::End(BytesEnd::new("testcase")));
    }
    let _ = w.write_event(X::End(BytesEnd::new("testsuite")));
    let _ = w.write_event(X::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
    out.push('\n');
    out
}

pub fn languages(json: bool, packages: bool, dir: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let profiles = judge::Profiles::load(dir)?;
    let rows: Vec<(&judge::Profile, Result<String, String>)> = profiles.all().map(|p| (p, p.availability())).collect();
    if packages {
        let mut pkgs: Vec<&str> =
            rows.iter().filter(|(_, a)| a.is_err()).flat_map(|(p, _)| p.packages.iter().map(String::as_str)).collect();
        pkgs.sort();
        pkgs.dedup();
        outln!("{}", pkgs.join(" "));
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(p, a)| {
                serde_json::json!({
                    "id": p.id, "name": p.name, "source": p.source, "rootfs": p.rootfs,
                    "available": a.is_ok(),
                    "version": a.as_ref().ok(), "unavailable_because": a.as_ref().err(),
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
    } else {
        for (p, a) in &rows {
            match a {
                Ok(v) => outln!("{:<12} {:<28} {v}", p.id, p.name),
                Err(why) => outln!("{:<12} {:<28} unavailable: {why}", p.id, p.name),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rootfs_cmd(action: crate::args::RootfsAction, cache: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use crate::args::RootfsAction;
    let cache = rootfs::cache_dir(cache);
    match action {
        RootfsAction::Build { name, recipes } => {
            let recipe = rootfs::recipe(&name, recipes.as_deref())?;
            errln!(
                "building rootfs {name} ({} + {}) in {}…",
                recipe.variant,
                recipe.packages.join(", "),
                cache.display()
            );
            let b = rootfs::build(&recipe, &cache)?;
            outln!("built {name}: {:.1} MiB in {:.1} s", b.bytes as f64 / (1u64 << 20) as f64, b.build_seconds);
        }
        RootfsAction::List { json } => {
            let built = rootfs::list(&cache);
            if json {
                outln!("{}", serde_json::to_string(&built)?);
            } else if built.is_empty() {
                outln!("no rootfs built in {} (shipped recipes: {})", cache.display(), rootfs::shipped().join(", "));
            } else {
                for b in built {
                    outln!(
                        "{:<12} {:>8.1} MiB  built {} ({:.1} s)  {}",
                        b.recipe.name,
                        b.bytes as f64 / (1u64 << 20) as f64,
                        format_time(b.built_at),
                        b.build_seconds,
                        b.recipe.packages.join(", ")
                    );
                }
            }
        }
        RootfsAction::Remove { name } => {
            rootfs::remove(&cache, &name)?;
            outln!("removed {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The build time, RFC 3339 in UTC.
fn format_time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_written_out_for_terminals_and_xml() {
        assert_eq!(printable("a\u{1b}[2Jb\r\n\tc\u{85}"), "a\\u{1b}[2Jb\\u{d}\n\tc\\u{85}");
        assert_eq!(xml_chars("a\u{1}\r\n\u{fffe}é"), "a\\u{1}\r\n\\u{fffe}é");
    }
}
