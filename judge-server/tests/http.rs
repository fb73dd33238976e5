//! The server as clients use it: a real `judge-server` process on a loopback port, the
//! native API, the Judge0-compatible API, and bad input.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::{decode, get, poll, post, start, start_with, venv, Server};

const APLUSB: &str = "a, b = map(int, input().split())\nprint(a + b)\n";

fn aplusb_tests() -> serde_json::Value {
    serde_json::json!([
        {"stdin": "1 2\n", "expected_output": "3\n"},
        {"stdin": "10 20\n", "expected_output": "30\n"},
        {"stdin": "-5 5\n", "expected_output": "0\n"}
    ])
}

#[test]
fn native_submissions_are_judged_waited_for_polled_and_streamed() {
    let s = start();
    let (code, v) = post(
        &s,
        "/v1/submissions?wait=true",
        serde_json::json!({"language": "python3", "source": APLUSB, "tests": aplusb_tests()}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["verdict"], "accepted", "{v}");
    assert_eq!(v["tests"].as_array().unwrap().len(), 3);

    // Queued, then polled.
    let wrong = "a, b = map(int, input().split())\nprint(a + b + (0 if a == 1 else 1))\n";
    let (code, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "python3", "source": wrong, "tests": aplusb_tests()}),
    );
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["status"], "queued");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let done = poll(Duration::from_secs(60), "never finished", || {
        let (_, v) = get(&s, &format!("/v1/submissions/{id}"));
        if v["status"] == "done" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    });
    assert_eq!(done["verdict"], "wrong_answer", "{done}");
    assert_eq!(done["first_failed"], "2");
    assert_eq!(done["tests"].as_array().unwrap().len(), 2, "fail-fast: {done}");
    assert_eq!(done["first_failure"]["expected_output"], "30\n");

    // Events of a finished submission: what happened, in order, ending with done.
    let resp = ureq::get(&format!("{}/v1/submissions/{id}/events", s.base)).call().unwrap();
    let mut text = String::new();
    resp.into_reader().take(1 << 20).read_to_string(&mut text).unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"queued"), "{text}");
    assert_eq!(events.last(), Some(&"done"), "{text}");

    // Live events of a new one: compiling, each test as it finishes, done.
    let (_, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "python3", "source": APLUSB, "tests": aplusb_tests()}),
    );
    let id = v["id"].as_str().unwrap();
    let resp = ureq::get(&format!("{}/v1/submissions/{id}/events", s.base)).call().unwrap();
    let mut text = String::new();
    resp.into_reader().take(1 << 20).read_to_string(&mut text).unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"queued"), "{text}");
    assert_eq!(events.last(), Some(&"done"), "{text}");
    // Either it was over before the connection (the stored result: queued, done), or the
    // whole story came, in order: compiling, compiled, then each test started and finished.
    if events.len() > 2 {
        let mut want = vec!["queued", "compiling", "compiled"];
        for _ in 0..3 {
            want.extend(["test_started", "test_finished"]);
        }
        want.push("done");
        assert_eq!(events, want, "{text}");
    } else {
        assert_eq!(events, ["queued", "done"], "{text}");
    }
}

#[test]
fn run_returns_one_runs_output_and_figures() {
    let s = start();
    let (code, v) = post(
        &s,
        "/v1/run",
        serde_json::json!({"language": "python3", "source": "import sys\nprint(sys.stdin.read().upper())\nprint('e', file=sys.stderr)", "stdin": "hi"}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["stdout"], "HI\n", "{v}");
    assert_eq!(v["stderr"], "e\n");
    assert_eq!(v["verdict"], "accepted");
    assert!(v["cpu_time_us"].as_u64().unwrap() > 0);
    let (_, v) = post(&s, "/v1/run", serde_json::json!({"language": "c", "source": "int main(void) { return 3; }"}));
    assert_eq!((v["verdict"].as_str(), v["exit_code"].as_i64()), (Some("runtime_error"), Some(3)), "{v}");
}

#[test]
fn bad_input_gets_a_4xx_naming_the_field_and_the_server_keeps_serving() {
    let s = start();
    let cases = [
        (serde_json::json!({"language": "cobol", "source": "x", "tests": aplusb_tests()}), 422, "language"),
        (serde_json::json!({"language": "python3", "tests": aplusb_tests()}), 422, "source"),
        (serde_json::json!({"language": "python3", "source": "x", "tests": []}), 422, "tests"),
        (
            serde_json::json!({"language": "python3", "source": "x", "tests": aplusb_tests(), "limits": {"time": 100}}),
            422,
            "limits.time",
        ),
        (
            serde_json::json!({"language": "python3", "source": "x", "tests": aplusb_tests(), "limits": {"memory": "64Q"}}),
            422,
            "limits.memory",
        ),
        (serde_json::json!({"language": 7, "source": "x", "tests": aplusb_tests()}), 422, "language"),
    ];
    for (body, want, field) in cases {
        let (code, v) = post(&s, "/v1/submissions", body.clone());
        assert_eq!(code, want, "{body}: {v}");
        assert!(v.to_string().contains(field), "{body}: {v}");
    }
    let r = ureq::post(&format!("{}/v1/submissions", s.base))
        .set("Content-Type", "application/json")
        .send_string("{not json");
    assert_eq!(decode(r).0, 400);
    assert_eq!(get(&s, "/v1/submissions/00000000-0000-4000-8000-000000000000").0, 404);
    let r = ureq::post(&format!("{}/submissions?base64_encoded=true", s.base))
        .send_json(serde_json::json!({"source_code": "!!!notbase64", "language_id": 71}));
    let (code, v) = decode(r);
    assert_eq!(code, 422, "{v}");
    assert!(v.to_string().contains("source_code"), "{v}");
    let (code, v) = get(&s, "/submissions/00000000-0000-4000-8000-000000000000?fields=bogus");
    assert_eq!(code, 400, "{v}");
    // A bad `fields` with wait=true is refused before anything is queued.
    let r = ureq::post(&format!("{}/submissions?wait=true&fields=bogus", s.base))
        .send_json(serde_json::json!({"source_code": "echo 1", "language_id": 46}));
    assert_eq!(decode(r).0, 400);
    // A body of the wrong shape names the field, as validation does; a query string that
    // does not parse is a JSON 400 too.
    let (code, v) =
        post(&s, "/v1/submissions", serde_json::json!({"language": 7, "source": "x", "tests": aplusb_tests()}));
    assert!(code == 422 && v["language"][0].as_str().is_some_and(|m| m.contains("invalid type")), "{v}");
    let (code, v) = post(&s, "/v1/submissions", serde_json::json!({"source": "x", "tests": aplusb_tests()}));
    assert_eq!((code, &v), (422, &serde_json::json!({"language": ["can't be blank"]})));
    for path in ["/v1/submissions?limit=lots", "/submissions/00000000-0000-4000-8000-000000000000?fields=a&fields=b"] {
        let (code, v) = get(&s, path);
        assert!(code == 400 && v["error"].as_str().is_some_and(|e| e.starts_with("bad query string")), "{path}: {v}");
    }
    let (_, recent) = get(&s, "/v1/submissions?limit=50");
    assert_eq!(recent.as_array().map(|a| a.len()), Some(0), "nothing was queued: {recent}");
    // Every extractor failure is JSON too.
    let (code, v) = post(
        &s,
        "/v1/submissions?wait=maybe",
        serde_json::json!({"language": "bash", "source": "x", "tests": [{"stdin": ""}]}),
    );
    assert_eq!((code, v["wait"].is_array()), (422, true), "{v}");
    let (code, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "bash", "files": [{"name": "../x", "content": "echo"}], "tests": [{"stdin": ""}]}),
    );
    assert_eq!((code, v["files[0].name"].is_array()), (422, true), "{v}");
    let (code, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "bash", "files": [{"name": "a.sh", "content": "echo 1"}, {"name": "a.sh", "content": "echo 2"}], "tests": [{"stdin": ""}]}),
    );
    assert_eq!((code, v["files[1].name"].is_array()), (422, true), "{v}");
    // Unknown paths and methods answer JSON too.
    let (code, v) = get(&s, "/no/such/path");
    assert_eq!((code, v["error"].is_string()), (404, true), "{v}");
    let (code, v) = decode(ureq::delete(&format!("{}/languages", s.base)).call());
    assert_eq!((code, v["error"].is_string()), (405, true), "{v}");
    let big = "x".repeat(9 << 20);
    let r = ureq::post(&format!("{}/submissions", s.base)).set("Content-Type", "application/json").send_string(&big);
    let (code, v) = decode(r);
    assert_eq!((code, v["error"].is_string()), (413, true), "{v}");
    let (code, v) = get(&s, "/languages/abc");
    assert_eq!((code, v["error"].is_string()), (404, true), "{v}");
    assert_eq!(get(&s, "/healthz").0, 200, "still serving");
}

#[test]
fn the_remaining_endpoints_answer() {
    let s = start();
    let (code, v) = get(&s, "/languages/71");
    assert_eq!((code, v["name"].as_str().map(|n| n.contains("Python"))), (200, Some(true)), "{v}");
    let (code, v) = get(&s, "/system_info");
    assert_eq!(code, 200, "{v}");
    let text = ureq::get(&format!("{}/version", s.base)).call().unwrap().into_string().unwrap();
    assert_eq!(text, "1.13.1");
    let (code, v) = get(&s, "/about");
    assert_eq!(code, 200, "{v}");
    let (code, v) = get(&s, "/readyz");
    assert_eq!((code, v["sandbox"].as_bool(), v["store"].as_bool()), (200, Some(true), Some(true)), "{v}");
    let (code, v) = get(&s, "/v1/languages");
    assert!(code == 200 && v.as_array().unwrap().iter().any(|l| l["id"] == "c" && l["available"] == true), "{v}");
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_judge0_api_judges_with_judge0s_statuses() {
    let s = start();
    let (code, langs) = get(&s, "/languages");
    assert_eq!(code, 200);
    for id in [50, 54, 62, 63, 71, 73, 60, 46] {
        assert!(langs.as_array().unwrap().iter().any(|l| l["id"] == id), "language {id} missing: {langs}");
    }
    let (_, about) = get(&s, "/about");
    assert_eq!(about["version"], "1.13.1");
    let (_, statuses) = get(&s, "/statuses");
    assert_eq!(statuses.as_array().unwrap().len(), 14);
    let (_, cfg) = get(&s, "/config_info");
    for key in ["max_submission_batch_size", "enable_wait_result", "cpu_time_limit", "max_memory_limit"] {
        assert!(cfg.get(key).is_some(), "{key}");
    }
    let cases = [
        (71, APLUSB, "1 2\n", Some("3\n"), 3),
        (71, APLUSB, "1 2\n", Some("4\n"), 4),
        (71, "while True: pass\n", "", None, 5),
        (50, "int main(void) { return x }", "", None, 6),
        (50, "int main(void) { volatile int *p = 0; *p = 1; return 0; }", "", None, 7),
        (71, "raise SystemExit(3)\n", "", None, 11),
        (
            54,
            "#include <iostream>\nint main(){long long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}",
            "20 22",
            Some("42"),
            3,
        ),
    ];
    for (lang, src, stdin, expected, want) in cases {
        let mut body =
            serde_json::json!({"source_code": b64(src), "language_id": lang, "stdin": b64(stdin), "cpu_time_limit": 1});
        if let Some(e) = expected {
            body["expected_output"] = serde_json::Value::String(b64(e));
        }
        let (code, v) = post(&s, "/submissions?base64_encoded=true&wait=true&fields=*", body);
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"]["id"], want, "{lang} {src}: {v}");
        assert!(v["token"].as_str().is_some() && v["created_at"].as_str().unwrap().ends_with('Z'), "{v}");
        if want == 3 {
            assert!(v["time"].as_str().unwrap().parse::<f64>().is_ok(), "{v}");
        }
    }
    // Queued, then fetched in a batch.
    let (code, v) = post(
        &s,
        "/submissions/batch",
        serde_json::json!({"submissions": [
            {"source_code": "print(input())", "language_id": 71, "stdin": "x"},
            {"source_code": "print(2)", "language_id": 999}
        ]}),
    );
    assert_eq!(code, 201, "{v}");
    let token = v[0]["token"].as_str().unwrap().to_string();
    assert!(v[1].get("language_id").is_some(), "per-entry error: {v}");
    let b = poll(Duration::from_secs(60), "the batch never finished", || {
        let (_, b) = get(&s, &format!("/submissions/batch?tokens={token},nope&fields=status,stdout"));
        assert!(b["submissions"][1].is_null());
        if b["submissions"][0]["status"]["id"].as_u64().unwrap() > 2 {
            Ok(b)
        } else {
            Err(b.to_string())
        }
    });
    let st = b["submissions"][0]["status"]["id"].as_u64();
    assert_eq!((st, b["submissions"][0]["stdout"].as_str()), (Some(3), Some("x\n")), "{b}");
}

/// The official Judge0 Python client (from PyPI, in a virtual environment) drives the
/// server unmodified.
#[test]
fn the_official_judge0_python_client_works_unmodified() {
    let python = venv("judge0-venv", "judge0", "judge0==0.0.8");
    let s = start();
    let script = r#"
import sys, judge0
client = judge0.Client(sys.argv[1])
r = judge0.run(client=client, source_code="print(input()[::-1])", language=judge0.PYTHON, stdin="abc")
print("single", r.status.value if hasattr(r.status, "value") else r.status, repr(r.stdout))
subs = judge0.run(client=client, source_code="a, b = map(int, input().split())\nprint(a + b)", language=judge0.PYTHON,
                  test_cases=[("1 2", "3"), ("2 2", "5")])
print("cases", [s.status.value if hasattr(s.status, "value") else s.status for s in subs])
bad = judge0.run(client=client, source_code="int main(void) { return x }", language=judge0.C)
print("compile", bad.status.value if hasattr(bad.status, "value") else bad.status)
tle = judge0.run(client=client, source_code="while True: pass", language=judge0.PYTHON, cpu_time_limit=1)
print("tle", tle.status.value if hasattr(tle.status, "value") else tle.status)
rte = judge0.run(client=client, source_code="raise SystemExit(4)", language=judge0.PYTHON)
print("rte", rte.status.value if hasattr(rte.status, "value") else rte.status)
"#;
    let out = Command::new(&python).args(["-c", script, &s.base]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("single 3 'cba\\n'"), "{text}");
    assert!(text.contains("cases [3, 4]"), "{text}");
    assert!(text.contains("compile 6"), "{text}");
    assert!(text.contains("tle 5"), "{text}");
    assert!(text.contains("rte 11"), "{text}");
}

#[test]
fn problems_keep_their_tests_on_the_server() {
    let s = start();
    let put = |body: serde_json::Value| decode(ureq::put(&format!("{}/v1/problems/aplusb", s.base)).send_json(body));
    let (code, v) = put(serde_json::json!({"tests": aplusb_tests(), "limits": {"time": 1, "memory": "128M"}}));
    assert_eq!(code, 200, "{v}");
    let (code, v) = get(&s, "/v1/problems/aplusb");
    assert_eq!(code, 200);
    assert_eq!(v["tests"], 3, "only the count is shown: {v}");
    assert!(!v.to_string().contains("10 20"), "{v}");
    let wrong = "a, b = map(int, input().split())\nprint(a + b + (0 if a == 1 else 1))\n";
    let (code, v) = post(
        &s,
        "/v1/submissions?wait=true",
        serde_json::json!({"language": "python3", "source": wrong, "problem_id": "aplusb"}),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!((v["verdict"].as_str(), v["first_failed"].as_str()), (Some("wrong_answer"), Some("2")), "{v}");
    assert!(v.get("first_failure").is_none() && !v.to_string().contains("\"diff\""), "hidden tests leak: {v}");
    let id = v["id"].as_str().unwrap();
    let events = ureq::get(&format!("{}/v1/submissions/{id}/events", s.base)).call().unwrap().into_string().unwrap();
    assert!(
        events.contains("wrong_answer") && !events.contains("\"diff\"") && !events.contains("\"expected\""),
        "events leak: {events}"
    );
    // Live, too: the events of a running submission carry no expected output either.
    let (_, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "python3", "source": wrong, "problem_id": "aplusb"}),
    );
    let id = v["id"].as_str().unwrap();
    let live = ureq::get(&format!("{}/v1/submissions/{id}/events", s.base)).call().unwrap().into_string().unwrap();
    assert!(live.contains("test_finished") && !live.contains("\"diff\""), "live events leak: {live}");
    // A problem that allows it shows the first failure.
    let (code, _) = put(serde_json::json!({"tests": aplusb_tests(), "show_failure": true}));
    assert_eq!(code, 200);
    let (_, v) = post(
        &s,
        "/v1/submissions?wait=true",
        serde_json::json!({"language": "python3", "source": wrong, "problem_id": "aplusb"}),
    );
    assert_eq!(v["first_failure"]["expected_output"], "30\n", "{v}");
    let (code, v) = put(serde_json::json!({"tests": []}));
    assert_eq!(code, 422, "{v}");
    let (code, v) =
        put(serde_json::json!({"tests": aplusb_tests(), "checker": {"language": "klingon", "source": "x"}}));
    assert_eq!((code, v["checker.language"].is_array()), (422, true), "{v}");

    // A custom checker (testlib's interface: input, output, answer; exit 0 or 1): any two
    // numbers that add up to the input are right.
    let checker = "import sys\nn = int(open(sys.argv[1]).read())\ntry:\n    a, b = map(int, open(sys.argv[2]).read().split())\nexcept ValueError:\n    sys.exit(2)\nsys.exit(0 if a + b == n else 1)\n";
    let (code, v) = decode(ureq::put(&format!("{}/v1/problems/split", s.base)).send_json(serde_json::json!({
        "tests": [{"stdin": "7\n", "expected_output": ""}, {"stdin": "100\n", "expected_output": ""}],
        "checker": {"language": "python3", "source": checker},
    })));
    assert_eq!(code, 200, "{v}");
    let (_, v) = get(&s, "/v1/problems/split");
    assert_eq!(
        v["checker"],
        serde_json::json!({"language": "python3", "custom": true}),
        "the source stays hidden: {v}"
    );
    for (source, verdict) in
        [("n = int(input())\nprint(1, n - 1)\n", "accepted"), ("n = int(input())\nprint(n, n)\n", "wrong_answer")]
    {
        let (code, v) = post(
            &s,
            "/v1/submissions?wait=true",
            serde_json::json!({"language": "python3", "source": source, "problem_id": "split"}),
        );
        assert_eq!((code, v["verdict"].as_str()), (200, Some(verdict)), "{v}");
    }
    let (code, _) = decode(ureq::delete(&format!("{}/v1/problems/aplusb", s.base)).call());
    assert_eq!(code, 204);
    assert_eq!(get(&s, "/v1/problems/aplusb").0, 404);
    let (code, v) =
        post(&s, "/v1/submissions", serde_json::json!({"language": "python3", "source": "x", "problem_id": "aplusb"}));
    assert_eq!(code, 422, "{v}");
    let text = ureq::get(&format!("{}/metrics", s.base)).call().unwrap().into_string().unwrap();
    assert!(
        text.contains("judge_queue_depth ") && text.contains("judge_verdicts_total{verdict=\"wrong_answer\"} 4"),
        "{text}"
    );
    // Latency, judging time and the sandbox's setup time, as histograms with every run in.
    let count = |name: &str| -> u64 {
        let line =
            text.lines().find(|l| l.starts_with(&format!("{name}_count "))).unwrap_or_else(|| panic!("{name}: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(count("judge_latency_seconds"), 5, "{text}");
    assert_eq!(count("judge_judging_seconds"), 5);
    assert!(count("judge_sandbox_setup_seconds") >= 5 + 2, "a run per test: {text}");
    assert!(text.contains("judge_sandbox_setup_seconds_bucket{le=\"+Inf\"}"), "{text}");
}

/// Starts a server with one worker on the database `db`; its logs go to `log` when given.
fn launch_on(db: &std::path::Path, extra: &[&str], log: Option<&std::path::Path>) -> (Child, String) {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap()),
        None => Stdio::null(),
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_judge-server"))
        .args(["--listen", "127.0.0.1:0", "--workers", "1"])
        .args(extra)
        .arg("--db")
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (child, line.trim().rsplit(' ').next().unwrap().to_string())
}

/// Polls a submission until it is finished; returns it.
fn wait_done(base: &str, id: &str) -> serde_json::Value {
    poll(Duration::from_secs(120), &format!("{id} never finished"), || {
        let (code, v) = decode(ureq::get(&format!("{base}/v1/submissions/{id}")).call());
        assert_eq!(code, 200, "{id} lost: {v}");
        if v["status"] == "done" || v["status"] == "error" {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
}

/// SIGTERM with one submission running and one queued: the running one finishes within the
/// grace period, the server exits 0, the queued one is judged at the next start. Logs are
/// JSON lines carrying the submission id. Finished submissions older than `--keep-results`
/// are purged.
#[test]
fn sigterm_finishes_running_work_keeps_the_queue_and_old_results_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("judge.db");
    let log = dir.path().join("server.log");
    let (mut first, base) = launch_on(&db, &["--log-format", "json"], Some(&log));
    let slow = serde_json::json!({"language": "bash", "source": "sleep 1.5; echo 1", "tests": [{"stdin": "", "expected_output": "1"}], "limits": {"time": 5}});
    let (_, v) = decode(ureq::post(&format!("{base}/v1/submissions")).send_json(slow));
    let running = v["id"].as_str().unwrap().to_string();
    let quick =
        serde_json::json!({"language": "bash", "source": "echo 2", "tests": [{"stdin": "", "expected_output": "2"}]});
    let (_, v) = decode(ureq::post(&format!("{base}/v1/submissions")).send_json(quick));
    let queued = v["id"].as_str().unwrap().to_string();
    poll(Duration::from_secs(20), "never started", || {
        let (_, v) = decode(ureq::get(&format!("{base}/v1/submissions/{running}")).call());
        if v["status"] == "queued" {
            Err(v.to_string())
        } else {
            Ok(())
        }
    });
    // SAFETY: kill with our own child's pid and a signal number.
    unsafe { libc_kill(first.id() as i32, 15) };
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = logs.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert!(
        lines.iter().any(|l| l["span"]["submission"] == running.as_str() && l["fields"]["message"] == "judged"),
        "{logs}"
    );

    let (mut second, base) = launch_on(&db, &[], None);
    let v = wait_done(&base, &running);
    assert_eq!(v["verdict"], "accepted", "finished before the exit: {v}");
    let v = wait_done(&base, &queued);
    assert_eq!(v["verdict"], "accepted", "judged at the next start: {v}");
    second.kill().unwrap();
    second.wait().unwrap();

    std::thread::sleep(Duration::from_millis(1100));
    let (mut third, base) = launch_on(&db, &["--keep-results", "1s"], None);
    poll(Duration::from_secs(10), "never purged", || {
        let (code, v) = decode(ureq::get(&format!("{base}/v1/submissions/{running}")).call());
        if code == 404 {
            Ok(())
        } else {
            Err(v.to_string())
        }
    });
    third.kill().unwrap();
    third.wait().unwrap();
}

/// `kill -9` with submissions pending: after a restart on the same database, every one is
/// judged, none is lost.
#[test]
fn a_killed_server_loses_no_submission() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("judge.db");
    let log = dir.path().join("server.log");
    let launch = || launch_on(&db, &["--log-format", "json"], Some(&log));
    let (mut first, base) = launch();
    let mut ids = Vec::new();
    for i in 0..40 {
        let body = serde_json::json!({"language": "bash", "source": format!("echo {i}"), "tests": [{"stdin": "", "expected_output": format!("{i}")}]});
        let (code, v) = decode(ureq::post(&format!("{base}/v1/submissions")).send_json(body));
        assert_eq!(code, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, base) = launch();
    for id in &ids {
        let v = wait_done(&base, id);
        assert_eq!(v["verdict"], "accepted", "{v}");
    }
    // Both lives' logs: no submission was judged to the end twice.
    let logs = std::fs::read_to_string(&log).unwrap();
    for id in &ids {
        let judged = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|l| l["span"]["submission"] == id.as_str() && l["fields"]["message"] == "judged")
            .count();
        assert!(judged <= 1, "{id} judged {judged} times");
    }
    second.kill().unwrap();
    second.wait().unwrap();
}

/// What a receiver saw: (method, headers with lowercase names, body) per request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, std::collections::HashMap<String, String>, String)>>>;

/// A local HTTP receiver: answers 500 to the first `failures` requests, then 200; records
/// each request.
fn receiver(failures: usize) -> (String, Seen) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let (mut length, mut headers) = (0usize, std::collections::HashMap::new());
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap_or((h, ""));
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let method = request_line.split(' ').next().unwrap_or("").to_string();
            log.lock().unwrap().push((method, headers, String::from_utf8_lossy(&body).into_owned()));
            let status = if n < failures { "500 Internal Server Error" } else { "200 OK" };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

/// The submission once its callback is in `state`.
fn callback_in(s: &Server, id: &str, state: &str) -> Result<serde_json::Value, String> {
    let (_, v) = get(s, &format!("/v1/submissions/{id}"));
    if v["callback"]["state"] == state {
        Ok(v)
    } else {
        Err(v.to_string())
    }
}

/// Whether the submission has `status` (its state otherwise).
fn status_is(s: &Server, id: &str, status: &str) -> Result<(), String> {
    let (_, v) = get(s, &format!("/v1/submissions/{id}"));
    if v["status"] == status {
        Ok(())
    } else {
        Err(v.to_string())
    }
}

/// Whether a receiver has seen `n` requests.
fn requests_at_least(seen: &Seen, n: usize) -> Result<(), String> {
    let got = seen.lock().unwrap().len();
    if got >= n {
        Ok(())
    } else {
        Err(format!("{got} requests"))
    }
}

fn hmac_hex(key: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn callbacks_are_signed_retried_and_end_as_dead_letters() {
    // Refused to loopback without the flag.
    let plain = start();
    let (url, _) = receiver(0);
    let (code, v) = post(
        &plain,
        "/v1/submissions",
        serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": ""}], "callback_url": url}),
    );
    assert_eq!(code, 422, "{v}");
    assert!(v["callback_url"][0].as_str().unwrap().contains("refused"), "{v}");
    drop(plain);

    let s = start_with(&["--callback-allow-private", "--callback-secret", "s3cret", "--callback-max-tries", "4"]);
    let (url, seen) = receiver(2);
    let (code, v) = post(
        &s,
        "/v1/submissions",
        serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": "", "expected_output": "1"}], "callback_url": url}),
    );
    assert_eq!(code, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let v = poll(Duration::from_secs(30), "not delivered", || callback_in(&s, &id, "delivered"));
    assert_eq!(v["callback"]["attempts"], 3, "{v}");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "two failures, then delivered");
    let (method, headers, body) = &got[2];
    assert_eq!(method, "POST");
    assert_eq!(headers["x-signature-256"], hmac_hex("s3cret", body), "the signature covers the exact body");
    let ts = &headers["x-signature-timestamp"];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(ts.parse::<u64>().unwrap()) < 60, "{ts}");
    assert_eq!(headers["x-signature-256-timestamped"], hmac_hex("s3cret", &format!("{ts}.{body}")));
    assert_eq!((headers["x-callback-id"].as_str(), headers["x-callback-attempt"].as_str()), (id.as_str(), "3"));
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!((sent["id"].as_str(), sent["verdict"].as_str()), (Some(id.as_str()), Some("accepted")));

    // A receiver that always fails: a dead letter after the maximum.
    let (url, seen) = receiver(usize::MAX);
    let body = serde_json::json!({"source_code": "echo hi", "language_id": 46, "callback_url": url});
    let (code, v) = decode(ureq::post(&format!("{}/submissions", s.base)).send_json(body));
    assert_eq!(code, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let v = poll(Duration::from_secs(30), "never dead", || callback_in(&s, &token, "dead"));
    assert_eq!(v["callback"]["attempts"], 4, "{v}");
    assert!(v["callback"]["last_error"].as_str().unwrap().contains("500"), "{v}");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].0, "PUT", "Judge0 callbacks are PUT");
    let sent: serde_json::Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(sent["status"]["id"], 3, "{sent}");

    // The dead letter is listed, and sent again on request (four more attempts).
    let (code, dead) = get(&s, "/v1/callbacks/failed");
    assert_eq!(code, 200, "{dead}");
    let listed = dead.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{dead}");
    assert_eq!((listed[0]["id"].as_str(), listed[0]["method"].as_str()), (Some(token.as_str()), Some("PUT")));
    let (code, v) = post(&s, &format!("/v1/callbacks/{token}/retry"), serde_json::json!({}));
    assert_eq!(code, 202, "{v}");
    poll(Duration::from_secs(30), "not re-sent", || requests_at_least(&seen, 8));
    let (code, _) = post(&s, &format!("/v1/callbacks/{id}/retry"), serde_json::json!({}));
    assert_eq!(code, 404, "a delivered callback is no dead letter");

    // A batch's submissions call back too.
    let (url, seen) = receiver(0);
    let batch = serde_json::json!({"submissions": [{"source_code": "echo b", "language_id": 46, "callback_url": url}]});
    let (code, v) = decode(ureq::post(&format!("{}/submissions/batch", s.base)).send_json(batch));
    assert_eq!(code, 201, "{v}");
    poll(Duration::from_secs(30), "the batch's callback never came", || requests_at_least(&seen, 1));
    let got = seen.lock().unwrap().clone();
    assert_eq!((got[0].0.as_str(), Some(got[0].1["x-callback-id"].as_str())), ("PUT", v[0]["token"].as_str()));
}

#[test]
fn with_tokens_one_client_cannot_see_anothers_submission() {
    let s = start_with(&["--token", "alice-token", "--token", "bob-token", "--admin-token", "root-token"]);
    // A client without a token is refused before its body is read: a 401, not a 413.
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
        c.write_all(b"POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n{").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut answer = [0u8; 12];
        c.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"HTTP/1.1 401");
    }
    let call = |method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>| {
        let mut r = ureq::request(method, &format!("{}{path}", s.base));
        if let Some(t) = token {
            r = r.set("X-Auth-Token", t);
        }
        decode(match body {
            Some(b) => r.send_json(b),
            None => r.call(),
        })
    };
    let sub = serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": ""}]});
    assert_eq!(call("POST", "/v1/submissions", None, Some(sub.clone())).0, 401);
    assert_eq!(call("POST", "/v1/submissions", Some("wrong"), Some(sub.clone())).0, 401);
    let (code, v) = call("POST", "/v1/submissions?wait=true", Some("alice-token"), Some(sub.clone()));
    assert_eq!(code, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(call("GET", &format!("/v1/submissions/{id}"), Some("alice-token"), None).0, 200);
    assert_eq!(call("GET", &format!("/v1/submissions/{id}"), Some("bob-token"), None).0, 404, "bob sees alice's");
    assert_eq!(call("GET", &format!("/v1/submissions/{id}/events"), Some("bob-token"), None).0, 404);
    assert_eq!(call("GET", &format!("/submissions/{id}"), Some("bob-token"), None).0, 404);
    // In a batch, alice's token is to bob what an unknown one is: null.
    let (code, v) = call("GET", &format!("/submissions/batch?tokens={id}"), Some("bob-token"), None);
    assert_eq!((code, &v["submissions"]), (200, &serde_json::json!([null])), "{v}");
    assert_eq!(call("DELETE", &format!("/v1/submissions/{id}"), Some("bob-token"), None).0, 404, "bob cancels alice's");
    // The same ids percent-encoded, with spaces or with an extra comma: still not bob's.
    let encoded: String = id.chars().map(|c| format!("%{:02X}", c as u32)).collect();
    for path in [
        format!("/v1/submissions/{encoded}"),
        format!("/v1/submissions/{encoded}/events"),
        format!("/submissions/{encoded}"),
    ] {
        assert_eq!(call("GET", &path, Some("bob-token"), None).0, 404, "{path}");
    }
    for path in [format!("/submissions/batch?tokens=%20{id}"), format!("/submissions/batch?tokens=x%2C{id}")] {
        let (code, v) = call("GET", &path, Some("bob-token"), None);
        assert_eq!(code, 200, "{path}");
        assert!(v["submissions"].as_array().unwrap().iter().all(|e| e.is_null()), "{path}: {v}");
    }
    assert_eq!(call("DELETE", &format!("/v1/submissions/{encoded}"), Some("bob-token"), None).0, 404);
    // Judge0's X-Auth-User with an admin token makes a client an admin.
    let (code, _) = decode(
        ureq::get(&format!("{}/v1/submissions/{id}", s.base))
            .set("X-Auth-Token", "bob-token")
            .set("X-Auth-User", "root-token")
            .call(),
    );
    assert_eq!(code, 200, "X-Auth-User root sees all");
    assert_eq!(call("GET", "/v1/callbacks/failed", Some("alice-token"), None).0, 403, "dead letters are admin's");
    assert_eq!(call("GET", &format!("/v1/submissions/{id}"), Some("root-token"), None).0, 200, "admin sees all");
    // The token may come as a query parameter, as Judge0 accepts.
    assert_eq!(call("GET", &format!("/submissions/{id}?X-Auth-Token=alice-token"), None, None).0, 200);
    let problem = serde_json::json!({"tests": [{"stdin": "", "expected_output": "1"}]});
    assert_eq!(call("PUT", "/v1/problems/p1", Some("alice-token"), Some(problem.clone())).0, 403);
    assert_eq!(call("PUT", "/v1/problems/p1", Some("root-token"), Some(problem)).0, 200);
    assert_eq!(call("GET", "/healthz", None, None).0, 200, "health needs no token");
}

#[test]
fn a_full_queue_answers_503_and_the_server_stops_cleanly_on_sigterm() {
    let mut s = start_with(&["--max-queue", "1", "--workers", "1"]);
    let slow =
        serde_json::json!({"language": "bash", "source": "sleep 2", "tests": [{"stdin": ""}], "limits": {"time": 5}});
    let (code, v) = post(&s, "/v1/submissions", slow.clone());
    assert_eq!(code, 202, "{v}");
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(post(&s, "/v1/submissions", slow.clone()).0);
    }
    assert!(codes.contains(&503), "{codes:?}");
    let r = ureq::post(&format!("{}/submissions", s.base))
        .send_json(serde_json::json!({"source_code": "echo 1", "language_id": 46}));
    let Err(ureq::Error::Status(503, resp)) = r else { panic!("not a 503: {r:?}") };
    assert_eq!(resp.header("retry-after"), Some("2"), "a 503 says when to come back");
    let v: serde_json::Value = resp.into_json().unwrap();
    assert_eq!(v["error"], "queue is full", "{v}");
    // SIGTERM: stop accepting, exit 0; what was queued stays for the next start.
    // SAFETY: kill with our own child's pid and a signal number.
    unsafe { libc_kill(s.child.id() as i32, 15) };
    let status = poll(Duration::from_secs(15), "did not stop", || s.child.try_wait().unwrap().ok_or("running".into()));
    assert_eq!(status.code(), Some(0));
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn an_idempotency_key_gives_one_submission_and_the_rate_limit_answers_429() {
    let s = start_with(&["--rate-limit", "4"]);
    let sub =
        serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": "", "expected_output": "1"}]});
    let send = |key: &str| {
        decode(ureq::post(&format!("{}/v1/submissions", s.base)).set("Idempotency-Key", key).send_json(sub.clone()))
    };
    let (c1, v1) = send("k-1");
    let (c2, v2) = send("k-1");
    assert_eq!((c1, c2), (202, 200), "{v1} {v2}");
    assert_eq!(v1["id"], v2["id"], "the same key, the same submission");
    let other = serde_json::json!({"language": "bash", "source": "echo 2", "tests": [{"stdin": ""}]});
    let (code, v) =
        decode(ureq::post(&format!("{}/v1/submissions", s.base)).set("Idempotency-Key", "k-1").send_json(other));
    assert_eq!(code, 422, "the same key with another body: {v}");
    assert!(v["Idempotency-Key"][0].as_str().unwrap().contains("different"), "{v}");
    let (c3, _) = send("k-2");
    assert_eq!(c3, 202);
    let (c4, v4) = send("k-3");
    assert_eq!(c4, 429, "the fifth within a minute: {v4}");
}

#[test]
fn the_playground_and_queue_pages_are_served_and_recent_submissions_listed() {
    let s = start();
    let page = ureq::get(&format!("{}/", s.base)).call().unwrap();
    assert_eq!(page.content_type(), "text/html");
    let html = page.into_string().unwrap();
    for needle in ["/v1/run", "/v1/languages", "EventSource", "test_finished"] {
        assert!(html.contains(needle), "{needle}");
    }
    let queue = ureq::get(&format!("{}/queue", s.base)).call().unwrap().into_string().unwrap();
    assert!(queue.contains("/metrics") && queue.contains("/v1/submissions?limit="));
    let (_, v) = post(
        &s,
        "/v1/submissions?wait=true",
        serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": ""}]}),
    );
    let (code, list) = get(&s, "/v1/submissions?limit=5");
    assert_eq!(code, 200);
    assert_eq!(list[0]["id"], v["id"], "{list}");
    assert_eq!(list[0]["verdict"], "accepted");
}

#[test]
fn a_submission_is_cancelled_while_queued_or_while_it_runs() {
    let s = start_with(&["--workers", "1"]);
    let slow = |secs: u32| serde_json::json!({"language": "bash", "source": format!("sleep {secs}; echo 1"), "tests": [{"stdin": "", "expected_output": "1"}], "limits": {"time": 10}});
    let (_, v) = post(&s, "/v1/submissions", slow(8));
    let running = v["id"].as_str().unwrap().to_string();
    let (_, v) = post(&s, "/v1/submissions", slow(1));
    let queued = v["id"].as_str().unwrap().to_string();
    poll(Duration::from_secs(20), "never ran", || status_is(&s, &running, "running"));
    let delete = |id: &str| decode(ureq::delete(&format!("{}/v1/submissions/{id}", s.base)).call());
    // Queued: cancelled at once, never run.
    let (code, v) = delete(&queued);
    assert_eq!((code, v["status"].as_str()), (200, Some("cancelled")), "{v}");
    // Running: its sandbox run is killed; it ends long before its 8 s sleep would.
    let (code, v) = delete(&running);
    assert_eq!((code, v["status"].as_str()), (202, Some("cancelling")), "{v}");
    poll(Duration::from_secs(4), "not cancelled in time", || status_is(&s, &running, "cancelled"));
    // The worker is free again and the cancelled one was never judged.
    let (code, v) = post(&s, "/v1/submissions?wait=true", slow(0));
    assert_eq!((code, v["verdict"].as_str()), (200, Some("accepted")), "{v}");
    assert_eq!(get(&s, &format!("/v1/submissions/{queued}")).1["status"], "cancelled");
    let (code, v) = delete(&queued);
    assert_eq!(code, 409, "already cancelled: {v}");
    assert_eq!(delete("no-such-id").0, 404);
    // Its event stream ends with the cancellation.
    let text = ureq::get(&format!("{}/v1/submissions/{running}/events", s.base)).call().unwrap().into_string().unwrap();
    assert!(text.contains("\"status\":\"cancelled\""), "{text}");
}

#[test]
fn configured_maxima_are_enforced_with_a_422_naming_the_field() {
    let s = start_with(&["--max-time", "2", "--max-memory", "64M", "--max-tests", "2", "--max-source", "100"]);
    let one = serde_json::json!([{"stdin": "", "expected_output": "1"}]);
    let cases = [
        (
            serde_json::json!({"language": "bash", "source": "echo 1", "tests": one, "limits": {"time": 3}}),
            "limits.time",
        ),
        (
            serde_json::json!({"language": "bash", "source": "echo 1", "tests": one, "limits": {"memory": "65M"}}),
            "limits.memory",
        ),
        (
            serde_json::json!({"language": "bash", "source": "echo 1", "tests": [{"stdin": ""}, {"stdin": ""}, {"stdin": ""}]}),
            "tests",
        ),
        (serde_json::json!({"language": "bash", "source": "#".repeat(101), "tests": one}), "source"),
    ];
    for (body, field) in cases {
        let (code, v) = post(&s, "/v1/submissions", body);
        assert_eq!(code, 422, "{field}: {v}");
        assert!(v[field].is_array(), "{field}: {v}");
    }
    let (code, v) =
        post(&s, "/submissions", serde_json::json!({"source_code": "echo 1", "language_id": 46, "cpu_time_limit": 3}));
    assert_eq!((code, v["cpu_time_limit"].is_array()), (422, true), "{v}");
    let (_, cfg) = get(&s, "/config_info");
    assert_eq!(
        (cfg["max_cpu_time_limit"].as_f64(), cfg["max_memory_limit"].as_u64()),
        (Some(2.0), Some(65536)),
        "{cfg}"
    );
    // Within the maxima it is judged; the defaults shrink to fit them.
    let (code, v) = post(
        &s,
        "/v1/submissions?wait=true",
        serde_json::json!({"language": "bash", "source": "echo 1", "tests": one}),
    );
    assert_eq!((code, v["verdict"].as_str()), (200, Some("accepted")), "{v}");
    // A bad maximum is refused at start, in one line.
    let out = Command::new(env!("CARGO_BIN_EXE_judge-server"))
        .args(["--max-memory", "1K", "--db", "/nonexistent/x.db"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--max-memory") && err.trim().lines().count() == 1, "{err}");
}

#[test]
fn the_judge0_api_applies_or_refuses_every_limit_and_option_it_is_given() {
    let s = start();
    let judged = |extra: serde_json::Value, src: &str| {
        let mut body = serde_json::json!({"source_code": src, "language_id": 71});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        post(&s, "/submissions?wait=true&fields=*", body)
    };
    // wall_time_limit ends a sleeping program (Time Limit Exceeded), and is shown back.
    let (code, v) = judged(serde_json::json!({"wall_time_limit": 1}), "import time\ntime.sleep(3)\n");
    assert_eq!(
        (code, &v["status"]["id"], &v["wall_time_limit"]),
        (201, &serde_json::json!(5), &serde_json::json!(1.0)),
        "{v}"
    );
    // max_file_size (KB) bounds the output: past it, SIGXFSZ (8) as in Judge0.
    let (code, v) = judged(serde_json::json!({"max_file_size": 1}), "print('x' * 5000)\n");
    assert_eq!((code, &v["status"]["id"]), (201, &serde_json::json!(8)), "{v}");
    // max_processes_and_or_threads bounds processes: one process cannot fork (a runtime
    // error, 11), and the allowance is shown back; not given, the language's own holds.
    let fork = "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)\nprint('forked')\n";
    let (code, v) = judged(serde_json::json!({"max_processes_and_or_threads": 1}), fork);
    assert_eq!(
        (code, &v["status"]["id"], &v["max_processes_and_or_threads"]),
        (201, &serde_json::json!(11), &serde_json::json!(1)),
        "{v}"
    );
    let (code, v) = judged(serde_json::json!({}), fork);
    assert_eq!(
        (code, &v["stdout"], &v["max_processes_and_or_threads"]),
        (201, &serde_json::json!("forked\n"), &serde_json::Value::Null),
        "{v}"
    );
    // stack_limit and cpu_extra_time are checked as Judge0 checks them and shown back.
    let (code, v) = judged(serde_json::json!({"stack_limit": 64000, "cpu_extra_time": 0}), "print(1)\n");
    assert_eq!(
        (code, &v["stack_limit"], &v["cpu_extra_time"]),
        (201, &serde_json::json!(64000), &serde_json::json!(0.0)),
        "{v}"
    );
    // A language id given as a string is taken, as Judge0's API takes it.
    let (code, v) = judged(serde_json::json!({"language_id": "71"}), "print(1)\n");
    assert_eq!((code, &v["stdout"]), (201, &serde_json::json!("1\n")), "{v}");
    // What this server does not do is refused, naming the field, and nothing is judged.
    for (field, value) in [
        ("command_line_arguments", serde_json::json!("a b")),
        ("compiler_options", serde_json::json!("-O3")),
        ("enable_network", serde_json::json!(true)),
        ("redirect_stderr_to_stdout", serde_json::json!(true)),
        ("number_of_runs", serde_json::json!(3)),
        ("memory_limit", serde_json::json!(100)),
        ("wall_time_limit", serde_json::json!(1000)),
        ("max_processes_and_or_threads", serde_json::json!(0)),
        ("max_processes_and_or_threads", serde_json::json!(1.5)),
        ("max_processes_and_or_threads", serde_json::json!(121)),
        ("stack_limit", serde_json::json!(200000)),
        ("stack_limit", serde_json::json!("deep")),
        ("cpu_extra_time", serde_json::json!(-1)),
        ("cpu_extra_time", serde_json::json!(6)),
    ] {
        let (code, v) = judged(serde_json::json!({ field: value }), "print(1)\n");
        assert_eq!(code, 422, "{field}: {v}");
        assert!(v.get(field).is_some(), "{field}: {v}");
    }
    // Output that is not UTF-8, waited for without base64: the token comes back with why.
    let (code, v) = post(
        &s,
        "/submissions?wait=true",
        serde_json::json!({"source_code": "import sys\nsys.stdout.buffer.write(b'\\xfe')\n", "language_id": 71}),
    );
    assert_eq!(code, 201, "{v}");
    let token = v["token"].as_str().expect("a token");
    assert!(v["error"].as_str().unwrap().contains("base64"), "{v}");
    let (code, v) = get(&s, &format!("/submissions/{token}?base64_encoded=true"));
    assert_eq!((code, &v["stdout"]), (200, &serde_json::json!("/g==")), "{v}");
}

#[test]
fn a_body_announced_too_large_is_refused_at_once_and_a_silent_client_is_let_go() {
    use std::io::{Read, Write};
    let s = start();
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.write_all(b"POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = [0u8; 12];
    c.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 413");
    // A header that never ends: the connection stays open a while, then the server closes
    // it (after 20 s).
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = std::time::Instant::now();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut rest = Vec::new();
    let early = c.read_to_end(&mut rest);
    assert!(early.is_err() && rest.is_empty(), "closed at once: {early:?} {rest:?}");
    c.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let _ = c.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(35), "still open after {:?}", started.elapsed());
}

#[test]
fn a_body_over_the_limit_is_413_however_it_comes_and_one_broken_off_is_400() {
    use std::io::{Read, Write};
    let s = start_with(&["--max-body", "1000"]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let answer = |request: &[u8], then_close: bool| -> String {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(request).unwrap();
        if then_close {
            c.shutdown(std::net::Shutdown::Write).unwrap();
        }
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut text = Vec::new();
        let _ = c.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    };
    let head = "POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n";
    // Chunked, with no length announced: found too large while read.
    let chunk = "x".repeat(1500);
    let chunked = format!("{head}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len());
    let a = answer(chunked.as_bytes(), false);
    assert!(a.starts_with("HTTP/1.1 413") && a.contains("larger than 1000 bytes"), "{a}");
    // Announced somewhat over the limit: read and dropped, then 413.
    let over = format!("{head}Content-Length: 2500\r\n\r\n{}", "y".repeat(2500));
    let a = answer(over.as_bytes(), false);
    assert!(a.starts_with("HTTP/1.1 413"), "{a}");
    // A body that breaks off before its announced length: the client's fault, a JSON 400.
    let cut = format!("{head}Content-Length: 500\r\n\r\n{{\"source_code\"");
    let a = answer(cut.as_bytes(), true);
    assert!(a.starts_with("HTTP/1.1 400") && a.contains("\"error\""), "{a}");
}
