//! The `runner` binary as users and scripts call it: exit statuses, JSON, files, bad input,
//! interruption, rootless mode and doctor.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn runner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_runner"))
}

fn run(args: &[&str]) -> Output {
    runner().args(args).stdin(Stdio::null()).output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn exit_status_is_the_programs_own_or_128_plus_the_signal() {
    assert_eq!(run(&["run", "--", "/bin/sh", "-c", "exit 7"]).status.code(), Some(7));
    assert_eq!(run(&["run", "--", "/bin/true"]).status.code(), Some(0));
    assert_eq!(run(&["run", "--", "/bin/sh", "-c", "kill -SEGV $$"]).status.code(), Some(128 + 11));
    let out = run(&["run", "--time", "0.2", "--", "/bin/sh", "-c", "while :; do :; done"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time_limit"));
}

#[test]
fn json_report_has_every_field_and_the_programs_stdout_goes_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.txt");
    let report_file = dir.path().join("report.json");
    let out = run(&[
        "run",
        "--json",
        "--time",
        "1",
        "--mem",
        "64M",
        "--pids",
        "8",
        "--stdout",
        out_file.to_str().unwrap(),
        "--report",
        report_file.to_str().unwrap(),
        "--",
        "/bin/echo",
        "hello",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r = json(&out);
    for field in [
        "status",
        "exit_code",
        "signal",
        "cpu_time_us",
        "user_time_us",
        "sys_time_us",
        "wall_time_us",
        "peak_memory_bytes",
        "oom_killed",
        "setup_time_us",
        "cgroup",
        "enforced",
        "blocked_syscall",
        "message",
    ] {
        assert!(r.get(field).is_some(), "missing {field} in {r}");
    }
    assert_eq!(r["status"], "ok");
    assert_eq!(r["exit_code"], 0);
    for limit in ["cpu_time", "wall_time", "memory", "pids"] {
        assert!(r["enforced"][limit].is_string(), "{limit} not in enforced: {r}");
    }
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "hello\n");
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(saved, r);
}

#[test]
fn stdin_and_dir_are_the_programs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "3 4\n").unwrap();
    let out = run(&[
        "run",
        "--dir",
        dir.path().to_str().unwrap(),
        "--stdin",
        dir.path().join("in.txt").to_str().unwrap(),
        "--env",
        "GREETING=hi",
        "--",
        "/bin/sh",
        "-c",
        "read a b; echo $((a*b)) $GREETING $(pwd) > result",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("result")).unwrap(), "12 hi /box\n");
}

#[test]
fn extra_binds_are_read_only_unless_rw() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("f"), "data\n").unwrap();
    let src = data.path().to_str().unwrap();
    let out = run(&["run", "--bind", &format!("{src}:/data"), "--", "/bin/sh", "-c", "cat /data/f; echo x > /data/g"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "data\n");
    assert_ne!(out.status.code(), Some(0), "writing to a read-only bind fails");
    let out = run(&["run", "--bind", &format!("{src}:/data:rw"), "--", "/bin/sh", "-c", "echo x > /data/g"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(data.path().join("g")).unwrap(), "x\n");
}

/// Bad input: one line naming what was wrong, exit 125, never a panic or a backtrace.
#[test]
fn bad_arguments_get_one_line_errors_and_exit_125() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--mem", "64Q", "--", "/bin/true"], "unknown size unit 'Q'"),
        (&["run", "--time", "-1", "--", "/bin/true"], "--time"),
        (&["run", "--time", "abc", "--", "/bin/true"], "--time"),
        (&["run", "--wall", "0", "--", "/bin/true"], "--wall"),
        (&["run", "--pids", "0", "--", "/bin/true"], "--pids"),
        (&["run"], "PROGRAM"),
        (&["run", "--"], "PROGRAM"),
        (&["run", "--dir", "/no/such/dir", "--", "/bin/true"], "/no/such/dir"),
        (&["run", "--stdin", "/no/such/file", "--", "/bin/true"], "/no/such/file"),
        (&["run", "--bind", "relative:/x", "--", "/bin/true"], "absolute"),
        (&["run", "--env", "NOEQUALS", "--", "/bin/true"], "KEY=VALUE"),
        (&["run", "--seccomp", "/no/such/policy.json", "--", "/bin/true"], "/no/such/policy.json"),
        (&["run", "--host-id", "0", "--", "/bin/true"], "--host-id"),
        (&["run", "--time", "1e-7", "--", "/bin/true"], "minimum"),
        (&["run", "--mem", "4K", "--", "/bin/true"], "minimum"),
        (&["run", "--dir", "/", "--", "/bin/true"], "system directory"),
        (&["run", "--dir", "/etc", "--", "/bin/true"], "system directory"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, needle) in cases {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.contains(needle), "{args:?}: {err} should mention {needle}");
        assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{args:?}: {err}");
    }
}

#[test]
fn a_program_missing_inside_is_a_setup_error_with_exit_125() {
    let out = run(&["run", "--json", "--", "/usr/bin/definitely-not-here"]);
    assert_eq!(out.status.code(), Some(125));
    let r = json(&out);
    assert_eq!(r["status"], "setup_error");
    assert!(r["message"].as_str().unwrap().contains("definitely-not-here"));
}

/// SIGINT or SIGTERM to the runner mid-run: the run is killed, everything is cleaned up.
#[test]
fn an_interrupted_runner_leaves_no_process_cgroup_or_directory_behind() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let marker = format!("sleeper-{sig}");
        let mut child = runner()
            .args(["run", "--dir", dir.path().to_str().unwrap(), "--wall", "60", "--", "/bin/sh", "-c"])
            .arg(format!("cp /bin/sleep /box/{marker} && /box/{marker} 60"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the program is really running inside.
        let start = std::time::Instant::now();
        while count_processes(&marker) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "the sleeper never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill with a valid pid of our own child and a signal number.
        unsafe { libc::kill(child.id() as i32, sig) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + sig), "signal {sig}");
        assert_eq!(count_processes(&marker), 0, "the sleeper died with the run");
        let leftover_roots = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&format!(".sandbox-root-{}-", child.id()))
            })
            .count();
        assert_eq!(leftover_roots, 0);
        assert_eq!(count_cgroups(&format!("sandbox-{}-", child.id())), 0);
    }
}

fn count_processes(word: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmd).contains(word) && !String::from_utf8_lossy(&cmd).contains("/bin/sh")
        })
        .count()
}

fn count_cgroups(prefix: &str) -> usize {
    ["memory", "cpuacct", "pids", "unified"]
        .iter()
        .flat_map(|c| walk(&Path::new("/sys/fs/cgroup").join(c), 0))
        .filter(|name| name.starts_with(prefix))
        .count()
}

fn walk(dir: &Path, depth: usize) -> Vec<String> {
    if depth > 5 {
        return Vec::new();
    }
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .flat_map(|e| {
            let mut v = vec![e.file_name().to_string_lossy().into_owned()];
            v.extend(walk(&e.path(), depth + 1));
            v
        })
        .collect()
}

/// The same binary started by an ordinary user runs programs isolated and says which limits
/// it could enforce.
#[test]
fn rootless_runs_are_isolated_and_say_what_was_enforced() {
    assert!(nix_is_root(), "this test starts the runner as nobody, so it must itself run as root (CI does)");
    // A copy of the binary where nobody can reach it, wherever the checkout lives.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let binary = dir.path().join("runner");
    copy_runner_to(&binary);
    let out_file = dir.path().join("out");
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&binary)
        .args(["run", "--json", "--time", "1", "--mem", "64M", "--pids", "16", "--stdout", out_file.to_str().unwrap(), "--"])
        .args(["/bin/sh", "-c", "id -u; ls /proc | grep -cE '^[0-9]+$'; test -e /root && echo root-visible; cat /etc/shadow 2>&1 | head -c0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&out);
    assert_eq!(r["status"], "ok");
    let seen = std::fs::read_to_string(&out_file).unwrap();
    assert!(seen.starts_with("1000\n"), "runs as the sandbox id inside: {seen}");
    assert!(!seen.contains("root-visible"));
    let enforced = &r["enforced"];
    assert!(enforced["memory"].is_string() && enforced["pids"].is_string() && enforced["cpu_time"].is_string(), "{r}");
    if r["cgroup"] == "none" {
        assert!(enforced["memory"].as_str().unwrap().contains("RLIMIT_AS"), "{r}");
        assert!(enforced["cgroup"].as_str().unwrap().starts_with("none:"), "{r}");
    }
    // A CPU loop is still stopped (by RLIMIT_CPU) and classified.
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&binary)
        .args(["run", "--json", "--time", "0.5", "--", "/bin/sh", "-c", "while :; do :; done"])
        .output()
        .unwrap();
    assert_eq!(json(&out)["status"], "time_limit");
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn doctor_reports_the_host_and_a_working_trial_run() {
    let out = run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let h = json(&out);
    assert_eq!(h["ok"], true);
    assert!(["v1", "v2", "none"].contains(&h["cgroup"].as_str().unwrap()));
    assert!(h["trial_run"].as_str().unwrap().starts_with("ok"));
    let out = run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["cgroup", "user namespaces", "seccomp", "landlock", "mode"] {
        assert!(text.contains(word), "{text}");
    }
}

/// The report file is opened before the run and never where the program can write.
#[test]
fn the_report_is_never_written_through_the_box_or_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("report.json");
    let out =
        run(&["run", "--dir", dir.path().to_str().unwrap(), "--report", inside.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("under"));
    assert!(!inside.exists());
    // A report path that is a symlink is refused, and its target untouched.
    let other = tempfile::tempdir().unwrap();
    let target = other.path().join("target");
    std::fs::write(&target, "keep\n").unwrap();
    let link = other.path().join("report.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(&["run", "--report", link.to_str().unwrap(), "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
}

#[test]
fn a_program_on_the_host_but_not_lent_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("a.out");
    std::fs::copy("/bin/true", &prog).unwrap();
    let out = run(&["run", "--json", "--", prog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    let message = json(&out)["message"].as_str().unwrap().to_string();
    assert!(message.contains("exists on the host") && message.contains("--dir"), "{message}");
}

/// SIGKILL to the runner mid-run: every process of the run dies with it, at once, and the
/// next start removes the cgroups it left.
#[test]
fn a_killed_runner_takes_its_run_along_and_the_next_start_sweeps_what_it_left() {
    for rootless in [false, true] {
        let marker = format!("sleeper-kill9-{rootless}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let binary = dir.path().join("runner");
        copy_runner_to(&binary);
        let script = format!("cp /bin/sleep /tmp/{marker} && exec /tmp/{marker} 60");
        let mut cmd = if rootless {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let mut child = cmd.args(["run", "--wall", "60", "--", "/bin/sh", "-c", &script]).spawn().unwrap();
        let start = std::time::Instant::now();
        while count_processes(&marker) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "the sleeper never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // runuser forks the runner: kill the runner itself, not runuser.
        let runner_pid = if rootless { find_runner_under(child.id()) } else { child.id() as i32 };
        // SAFETY: kill with a pid of our own descendant and a signal number.
        unsafe { libc::kill(runner_pid, libc::SIGKILL) };
        let killed = std::time::Instant::now();
        while count_processes(&marker) > 0 {
            assert!(
                killed.elapsed() < Duration::from_millis(1000),
                "the run outlived its runner (rootless: {rootless})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let gone_after = killed.elapsed();
        let _ = child.wait();
        assert!(gone_after < Duration::from_millis(100), "the run died {gone_after:?} after its runner");
        let out = run(&["cleanup"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(count_cgroups(&format!("sandbox-{runner_pid}-")), 0, "cgroups of the killed runner were swept");
    }
}

/// The pid of the `runner` process among `parent`'s children.
fn find_runner_under(parent: u32) -> i32 {
    let start = std::time::Instant::now();
    let own = std::fs::read_to_string(format!("/proc/{parent}/comm")).unwrap_or_default();
    if own.trim() == "runner" {
        return parent as i32;
    }
    loop {
        for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
            let Some((name, rest)) = stat.split_once(") ") else { continue };
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && name.ends_with("(runner") {
                return e.file_name().to_string_lossy().parse().unwrap();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no runner under {parent}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Rootless without a cgroup, CPU burnt by a background process still counts, and the
/// limit is kept to the millisecond rather than whole seconds.
#[test]
fn rootless_cpu_of_every_process_is_counted_and_limited() {
    assert!(nix_is_root(), "this test starts the runner as nobody");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let binary = dir.path().join("runner");
    copy_runner_to(&binary);
    let rootless =
        |args: &[&str]| Command::new("runuser").args(["-u", "nobody", "--"]).arg(&binary).args(args).output().unwrap();
    // An orphan burns CPU while the program sleeps, then the program exits.
    let out = rootless(&["run", "--json", "--", "/bin/sh", "-c", "(while :; do :; done) & sleep 1"]);
    let r = json(&out);
    assert!(r["cpu_time_us"].as_u64().unwrap() > 500_000, "the orphan's CPU was not counted: {r}");
    // A 0.3 s limit on a loop is enforced near 0.3 s, not at RLIMIT_CPU's whole seconds.
    let out = rootless(&["run", "--json", "--time", "0.3", "--", "/bin/sh", "-c", "while :; do :; done"]);
    let r = json(&out);
    assert_eq!(r["status"], "time_limit", "{r}");
    let cpu = r["cpu_time_us"].as_u64().unwrap();
    assert!((300_000..700_000).contains(&cpu), "killed at {cpu} µs of CPU: {r}");
}

/// On a terminal, the program gets pipes, never the terminal itself: it cannot change the
/// operator's terminal settings.
#[test]
fn a_terminal_is_relayed_not_handed_to_the_program() {
    let script = format!(
        "import os, pty, sys\n\
         pid, fd = pty.fork()\n\
         if pid == 0:\n\
         \x20   os.execv({bin:?}, [{bin:?}, 'run', '--', '/usr/bin/python3', '-c', \
         'import os; print(\"tty\" if os.isatty(0) or os.isatty(1) else \"pipes\")'])\n\
         out = b''\n\
         while True:\n\
         \x20   try:\n\
         \x20       chunk = os.read(fd, 1024)\n\
         \x20   except OSError:\n\
         \x20       break\n\
         \x20   if not chunk:\n\
         \x20       break\n\
         \x20   out += chunk\n\
         os.waitpid(pid, 0)\n\
         sys.stdout.write(out.decode())\n",
        bin = env!("CARGO_BIN_EXE_runner")
    );
    let out = Command::new("/usr/bin/python3").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pipes"), "{text} {}", String::from_utf8_lossy(&out.stderr));
}

/// A copy of the runner binary at `dest`, made by `cp` in its own process: were this test
/// process to hold the new file open for writing, a child forked meanwhile by another test
/// thread would inherit that fd, and executing the copy would fail with ETXTBSY.
fn copy_runner_to(dest: &Path) {
    let st = Command::new("cp").arg(env!("CARGO_BIN_EXE_runner")).arg(dest).status().unwrap();
    assert!(st.success(), "cp of the runner binary failed");
}

#[test]
fn cleanup_removes_the_shared_network_namespace_only_when_asked_and_the_next_run_makes_it_anew() {
    // Root runs share one empty network namespace where Landlock keeps them apart (ABI 6);
    // elsewhere each run makes its own and there is nothing to remove.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let net_of = || {
        let out = run(&["run", "--report", report.to_str().unwrap(), "--", "/bin/readlink", "/proc/self/ns/net"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let inode = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let shared = r["enforced"]["network"].as_str().unwrap().contains("shared with other runs");
        (inode, shared)
    };
    let mounted = || std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains(" /run/sandbox/net ");
    let (a, shared) = net_of();
    assert_eq!(mounted(), shared);
    let out = run(&["cleanup"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(mounted(), shared, "a plain cleanup leaves it");
    if !shared {
        return;
    }
    assert_eq!(net_of().0, a, "runs join the same namespace");
    let out = run(&["cleanup", "--shared-network"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed the shared network namespace"));
    // (Whether the new namespace has a new number says nothing: a freed namespace's number
    // comes back.)
    let (_, shared_again) = net_of();
    assert!(shared_again);
    assert!(mounted());
}

#[test]
fn a_stdout_that_fails_is_one_line_and_exit_125_never_a_panic() {
    let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
    for args in [&["run", "--json", "--", "/bin/true"][..], &["doctor", "--json"], &["languages", "--json"]] {
        let out = runner().args(args).stdin(Stdio::null()).stdout(full.try_clone().unwrap()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains("writing to stdout failed") && !err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_program_whose_reader_goes_away_gets_sigpipe_not_output_limit() {
    // The runner's stdout is a pipe whose reader closes after the first bytes (`| head -c1`).
    let mut child = runner()
        .args(["run", "--", "/usr/bin/yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 13), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("output_limit"));
}

#[test]
fn stdout_and_stderr_to_one_file_share_it_and_the_report_needs_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("both.txt");
    let f = f.to_str().unwrap();
    let out = run(&["run", "--stdout", f, "--stderr", f, "--", "/bin/sh", "-c", "echo out1; echo err >&2; echo out2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(f).unwrap(), "out1\nerr\nout2\n");
    let out = run(&["run", "--stdout", f, "--report", f, "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("its own"));
    // A run that fails once the report file is open (a system directory lent: refused when
    // the run is prepared) leaves an existing report file as it was and makes none.
    let report = dir.path().join("report.json");
    std::fs::write(&report, "earlier\n").unwrap();
    let fresh = dir.path().join("fresh.json");
    for r in [&report, &fresh] {
        let out = run(&["run", "--report", r.to_str().unwrap(), "--dir", "/usr", "--", "/bin/true"]);
        assert_eq!(out.status.code(), Some(125));
    }
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "earlier\n");
    assert!(!fresh.exists());
}

#[test]
fn system_directories_are_refused_as_the_box_whatever_the_path_to_them() {
    for d in ["/bin", "/usr/bin", "/usr/local", "/etc/cron.d", "/run/sandbox", "/var/lib", "/tmp", "/home"] {
        if !Path::new(d).is_dir() {
            continue;
        }
        let out = run(&["run", "--no-write-back", "--dir", d, "--", "/bin/true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{d}: {err}");
        assert!(err.contains("system directory"), "{d}: {err}");
    }
}

#[test]
fn a_name_set_twice_in_env_keeps_its_last_value_and_stdin_may_be_any_readable_file() {
    let out = run(&["run", "--env", "A=1", "--env", "B=x", "--env", "A=2", "--", "/usr/bin/env"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().filter(|l| l.starts_with("A=")).collect::<Vec<_>>(), ["A=2"], "{text}");
    // /dev/null, and a symlink outside any lent directory, are the caller's own to name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("real"), "through a link\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
    let out = run(&["run", "--stdin", "/dev/null", "--", "/bin/cat"]);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
    let out = run(&["run", "--stdin", dir.path().join("link").to_str().unwrap(), "--", "/bin/cat"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through a link\n");
    let out = run(&["run", "--stdin", dir.path().to_str().unwrap(), "--", "/bin/cat"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
}
