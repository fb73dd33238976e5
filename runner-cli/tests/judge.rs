//! `runner judge`, `runner languages` and `runner rootfs` as users and CI pipelines call
//! them, over the corpus in tests/judge: every shipped language's accepted solution, each
//! failing verdict, fail-fast and test order, checkers, an ICPC package, a built image.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runner"))
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/judge").canonicalize().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: stdout {} stderr {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn judge(args: &[&str]) -> Output {
    runner().arg("judge").args(args).output().unwrap()
}

/// `runner judge --lang LANG SOL --tests TESTS EXTRA...`.
fn judge_sol(lang: &str, sol: &Path, tests: &Path, extra: &[&str]) -> Output {
    runner().args(["judge", "--lang", lang]).arg(sol).arg("--tests").arg(tests).args(extra).output().unwrap()
}

const LANGUAGES: [&str; 9] = ["c", "cpp", "cpp20", "python3", "java", "javascript", "rust", "go", "bash"];

#[test]
fn the_nine_languages_are_available() {
    let out = runner().args(["languages", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    for id in LANGUAGES {
        let p = v.as_array().unwrap().iter().find(|p| p["id"] == id).unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(p["available"], true, "{id}: {p} (run `make languages`)");
        assert!(p["version"].as_str().is_some_and(|s| !s.is_empty()), "{p}");
    }
    let text = String::from_utf8_lossy(&runner().arg("languages").output().unwrap().stdout).into_owned();
    assert!(text.lines().count() >= 9, "{text}");
}

/// (language, solution file, expected verdict) for every solution of a problem.
fn solutions(problem: &str) -> Vec<(String, PathBuf, String)> {
    let mut out = Vec::new();
    let dir = corpus().join(problem).join("solutions");
    for lang in std::fs::read_dir(&dir).unwrap().flatten() {
        for f in std::fs::read_dir(lang.path()).unwrap().flatten() {
            let stem = f.path().file_stem().unwrap().to_string_lossy().into_owned();
            let verdict = stem.split('-').next().unwrap().to_string();
            out.push((lang.file_name().to_string_lossy().into_owned(), f.path(), verdict));
        }
    }
    out.sort();
    out
}

/// Judges every (language, file, expected) on `tests`, two at a time, and collects the
/// mismatches.
fn judge_all(cases: Vec<(String, PathBuf, String)>, tests: &Path, extra: &[&str]) -> Vec<String> {
    let tests = tests.to_path_buf();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let chunks: Vec<Vec<(String, PathBuf, String)>> = {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (i, c) in cases.into_iter().enumerate() {
            if i % 2 == 0 {
                a.push(c)
            } else {
                b.push(c)
            }
        }
        vec![a, b]
    };
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let tests = tests.clone();
            let extra = extra.clone();
            std::thread::spawn(move || {
                let mut bad = Vec::new();
                for (lang, file, want) in chunk {
                    let out = runner()
                        .args(["judge", "--json", "--lang", &lang])
                        .arg(&file)
                        .arg("--tests")
                        .arg(&tests)
                        .args(&extra)
                        .output()
                        .unwrap();
                    let got = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                        .map(|v| v["verdict"].as_str().unwrap_or("?").to_string())
                        .unwrap_or_else(|_| format!("no JSON: {}", String::from_utf8_lossy(&out.stderr).trim()));
                    if got != want {
                        bad.push(format!("{lang} {}: {got}, expected {want}", file.display()));
                    }
                }
                bad
            })
        })
        .collect();
    handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

#[test]
fn every_solution_of_the_corpus_gets_its_verdict() {
    let mut bad = Vec::new();
    for problem in ["aplusb", "float", "anysum"] {
        let cases = solutions(problem);
        assert!(!cases.is_empty());
        bad.extend(judge_all(cases, &corpus().join(problem).join("tests"), &[]));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_language_is_accepted_on_a_plus_b() {
    let accepted: Vec<_> =
        solutions("aplusb").into_iter().filter(|(_, f, _)| f.file_stem().unwrap() == "accepted").collect();
    for id in LANGUAGES {
        assert!(accepted.iter().any(|(l, _, _)| l == id), "no accepted solution for {id}");
    }
}

#[test]
fn judging_stops_at_the_first_failure_and_runs_tests_in_natural_order() {
    let sol = corpus().join("aplusb/solutions/c/wrong_answer-off-by-one.c");
    let tests = corpus().join("aplusb/tests");
    let out = judge_sol("c", &sol, &tests, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["verdict"], "wrong_answer");
    assert_eq!(v["first_failed"], "2");
    assert_eq!(v["tests"].as_array().unwrap().len(), 2, "exactly two tests ran: {v}");
    assert!(v["tests"][1].get("diff").is_none(), "tests' contents are not shown unless asked");
    // As root with cgroups the compile ran in the submission's warm environment, and with
    // --cold it did not.
    assert_eq!(v["compile"]["warm"], true, "{v}");
    let out = judge_sol("c", &sol, &tests, &["--json", "--cold"]);
    assert_eq!(
        (json(&out)["verdict"].as_str(), json(&out)["compile"]["warm"].as_bool()),
        (Some("wrong_answer"), Some(false))
    );
    let out = judge_sol("c", &sol, &tests, &["--json", "--all"]);
    let v = json(&out);
    let names: Vec<&str> = v["tests"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]);
    let out = judge_sol("c", &sol, &tests, &["--json", "--show-diff"]);
    assert!(json(&out)["tests"][1]["diff"]["line"].is_number());
}

#[test]
fn checkers_tell_spacing_from_wrong_answers() {
    let dir = corpus().join("whitespace");
    let tests = dir.join("tests");
    let cases = [
        ("accepted-exact.py", "tokens", "accepted"),
        ("accepted-exact.py", "lines", "accepted"),
        ("accepted-exact.py", "exact", "accepted"),
        ("spaces.py", "tokens", "accepted"),
        ("spaces.py", "lines", "presentation_error"),
        ("spaces.py", "exact", "presentation_error"),
        ("trailing.py", "tokens", "accepted"),
        ("trailing.py", "lines", "accepted"),
        ("trailing.py", "exact", "presentation_error"),
    ];
    for (file, checker, want) in cases {
        let sol = dir.join("solutions/python3").join(file);
        let out = judge_sol("python3", &sol, &tests, &["--json", "--checker", checker]);
        assert_eq!(json(&out)["verdict"], want, "{file} under {checker}");
    }
}

#[test]
fn an_icpc_package_with_its_output_validator_is_judged_as_it_is() {
    let pkg = corpus().join("aplusb-icpc");
    let good = corpus().join("aplusb/solutions/c/accepted.c");
    let out = judge_sol("c", &good, &pkg, &["--json"]);
    let v = json(&out);
    assert_eq!(v["verdict"], "accepted", "{v}");
    assert!(v["tests"][0]["name"].as_str().unwrap().starts_with("sample/"), "samples first: {v}");
    let bad = corpus().join("aplusb/solutions/c/wrong_answer-off-by-one.c");
    let out = judge_sol("c", &bad, &pkg, &["--json"]);
    let v = json(&out);
    assert_eq!(v["verdict"], "wrong_answer", "{v}");
    assert!(v["tests"].as_array().unwrap().last().unwrap()["message"].as_str().unwrap().contains("expected"), "{v}");
}

#[test]
fn a_testlib_checker_decides_and_its_message_is_kept() {
    let checker = corpus().join("aplusb-checker/checker.c");
    let tests = corpus().join("aplusb/tests");
    let good = corpus().join("aplusb/solutions/python3/accepted.py");
    let out = judge_sol("python3", &good, &tests, &["--json", "--checker", checker.to_str().unwrap()]);
    assert_eq!(json(&out)["verdict"], "accepted", "{}", String::from_utf8_lossy(&out.stderr));
    let bad = corpus().join("aplusb/solutions/python3/wrong_answer-off-by-one.py");
    let out = judge_sol("python3", &bad, &tests, &["--json", "--checker", checker.to_str().unwrap()]);
    let v = json(&out);
    assert_eq!(v["verdict"], "wrong_answer");
    assert!(v["tests"][1]["message"].as_str().unwrap().contains("sum"), "{v}");
}

#[test]
fn a_checkers_view_of_hidden_tests_is_closed_to_other_users_and_gone_after() {
    use std::os::unix::fs::PermissionsExt;
    // Hidden tests, readable by their owner only; a checker that reads all three files,
    // then takes a second so its files can be looked at from here.
    let problem = tempfile::tempdir().unwrap();
    for (name, text) in [("1.in", "1 2\n"), ("1.out", "3\n")] {
        let f = problem.path().join(name);
        std::fs::write(&f, text).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let checker = problem.path().join("look.sh");
    std::fs::write(&checker, "cat \"$1\" \"$2\" \"$3\" >/dev/null || exit 3\nsleep 1\nexit 0\n").unwrap();
    // A box a killed judge left (its pid is gone): swept when judging starts.
    let gone_pid = judge::workdir::unused_pid();
    let left = std::env::temp_dir().join(format!("judge-box-{gone_pid}-left"));
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("main.c"), "someone's source").unwrap();

    let sol = corpus().join("aplusb/solutions/python3/accepted.py");
    let mut child = runner()
        .args(["judge", "--json", "--lang", "python3"])
        .arg(&sol)
        .arg("--tests")
        .arg(problem.path())
        .arg("--checker")
        .arg(&checker)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let ours = format!("judge-check-{pid}-");
    let mut seen = Vec::new();
    while child.try_wait().unwrap().is_none() {
        for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with(&ours) {
                let outer = e.metadata().map(|m| m.permissions().mode() & 0o777);
                let inner = std::fs::metadata(e.path().join("files")).map(|m| m.permissions().mode() & 0o777);
                if let (Ok(outer), Ok(inner)) = (outer, inner) {
                    seen.push((outer, inner));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(json(&out)["verdict"], "accepted", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!seen.is_empty(), "the checker's files were never seen");
    let modes: Vec<String> = seen.iter().map(|(outer, inner)| format!("{outer:o} {inner:o}")).collect();
    assert!(seen.iter().all(|&(outer, inner)| outer == 0o700 && inner == 0o755), "{modes:?}");
    assert!(!left.exists(), "a gone judge's box stayed");
    let stays: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&ours) || n.starts_with(&format!("judge-box-{pid}-")))
        .collect();
    assert!(stays.is_empty(), "left behind: {stays:?}");
}

#[test]
fn junit_has_one_testcase_per_test_and_a_failure_for_the_failed_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    let sol = corpus().join("aplusb/solutions/c/wrong_answer-off-by-one.c");
    let tests = corpus().join("aplusb/tests");
    let out = judge_sol("c", &sol, &tests, &["--all", "--junit", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&file).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 12, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 11, "{xml}");
    assert!(xml.contains("tests=\"12\"") && xml.contains("failures=\"11\""), "{xml}");
}

#[test]
fn bad_input_gets_one_line_and_exit_125() {
    let empty = tempfile::tempdir().unwrap();
    let orphan = tempfile::tempdir().unwrap();
    std::fs::write(orphan.path().join("1.in"), "1 2\n").unwrap();
    let malformed = tempfile::tempdir().unwrap();
    std::fs::write(malformed.path().join("1.in"), "1 2\n").unwrap();
    std::fs::write(malformed.path().join("1.out"), "3\n").unwrap();
    std::fs::write(
        malformed.path().join("problem.toml"),
        "time = 1\nmemory = \"12M\"\nchecker = \"tokens\"\nbogus = 2\n",
    )
    .unwrap();
    let sol = corpus().join("aplusb/solutions/c/accepted.c");
    let tests = corpus().join("aplusb/tests");
    let (s, t) = (sol.to_str().unwrap(), tests.to_str().unwrap());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--lang", "cobol", s, "--tests", t], "unknown language"),
        (vec!["--lang", "c", s, "--tests", "/no/such/dir"], "/no/such/dir"),
        (vec!["--lang", "c", s, "--tests", empty.path().to_str().unwrap()], "no NAME.in"),
        (vec!["--lang", "c", s, "--tests", orphan.path().to_str().unwrap()], "no answer file"),
        (vec!["--lang", "c", "/no/such/source.c", "--tests", t], "/no/such/source.c"),
        (vec!["--lang", "c", s, "--tests", malformed.path().to_str().unwrap()], "bogus"),
        (vec!["--lang", "c", s, "--tests", t, "--checker", "float:x"], "EPS"),
    ];
    for (args, needle) in cases {
        let out = judge(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// CI builds the Python image (once; kept under target/ between runs) and judges with it.
#[test]
fn a_built_python_image_judges_with_only_its_own_toolchain() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootfs-cache");
    let cache_s = cache.to_str().unwrap();
    let listed = runner().args(["rootfs", "list", "--json", "--cache", cache_s]).output().unwrap();
    if !String::from_utf8_lossy(&listed.stdout).contains("\"python3\"") {
        let out = runner().args(["rootfs", "build", "python3", "--cache", cache_s]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let listed = runner().args(["rootfs", "list", "--json", "--cache", cache_s]).output().unwrap();
    let v = json(&listed);
    let img = v.as_array().unwrap().iter().find(|b| b["recipe"]["name"] == "python3").unwrap();
    assert!(img["bytes"].as_u64().unwrap() > 50 << 20, "{img}");
    let sol = corpus().join("aplusb/solutions/python3/accepted.py");
    let tests = corpus().join("aplusb/tests");
    let out = judge_sol("python3", &sol, &tests, &["--json", "--rootfs", "python3", "--rootfs-cache", cache_s]);
    assert_eq!(json(&out)["verdict"], "accepted", "{}", String::from_utf8_lossy(&out.stderr));
    // Inside, the host's other toolchains are gone: no gcc in the image.
    let probe = tempfile::tempdir().unwrap();
    let p = probe.path().join("probe.py");
    std::fs::write(&p, "import os\nprint(3 if not os.path.exists('/usr/bin/gcc') else 0)\n").unwrap();
    let one = tempfile::tempdir().unwrap();
    std::fs::write(one.path().join("1.in"), "").unwrap();
    std::fs::write(one.path().join("1.out"), "3\n").unwrap();
    let out = judge_sol("python3", &p, one.path(), &["--json", "--rootfs", "python3", "--rootfs-cache", cache_s]);
    assert_eq!(json(&out)["verdict"], "accepted", "gcc is visible inside the python3 image");
}

/// The C toolchain's own image: compile and run on it.
#[test]
fn a_built_c_image_compiles_and_judges() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rootfs-cache");
    let cache_s = cache.to_str().unwrap();
    let listed = runner().args(["rootfs", "list", "--json", "--cache", cache_s]).output().unwrap();
    if !String::from_utf8_lossy(&listed.stdout).contains("\"name\":\"c\"") {
        let out = runner().args(["rootfs", "build", "c", "--cache", cache_s]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let tests = corpus().join("aplusb/tests");
    for (file, want) in [
        ("accepted.c", "accepted"),
        ("wrong_answer-off-by-one.c", "wrong_answer"),
        ("compilation_error.c", "compilation_error"),
    ] {
        let sol = corpus().join("aplusb/solutions/c").join(file);
        let out = judge_sol("c", &sol, &tests, &["--json", "--rootfs", "c", "--rootfs-cache", cache_s]);
        assert_eq!(json(&out)["verdict"], want, "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
