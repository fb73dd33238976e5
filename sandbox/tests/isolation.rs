//! What the program must not see or do, checked from inside the sandbox.

mod common;
use common::*;
use sandbox::{Command, Status};
use std::os::unix::fs::MetadataExt;

fn sh(script: &str) -> sandbox::Report {
    run_captured(Command::new("/bin/sh").args(["-c", script]))
}

#[test]
fn host_processes_are_invisible() {
    let r = sh("ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '");
    assert_eq!(r.status, Status::Ok, "{r:?}");
    // Only our init (1; in a warm run the holder), the shell and its children
    // (ls, grep, sort, tr): a handful, where the host has hundreds.
    let pids: Vec<u32> = stdout_text(&r).split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert!(pids.len() <= 7 && pids.contains(&1), "{pids:?}");
}

#[test]
fn secrets_and_home_directories_are_not_there() {
    for path in ["/root", "/etc/shadow", "/home", "/work", env!("CARGO_MANIFEST_DIR")] {
        let r = sh(&format!("test -e '{path}' && echo visible || echo absent"));
        assert_eq!(stdout_text(&r).trim(), "absent", "{path}");
    }
}

#[test]
fn only_box_and_tmp_are_writable() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_captured(
        Command::new("/bin/sh")
            .args(["-c", "for p in /usr/x /etc/x /x /bin/x /proc/x /dev/x; do (echo 1 > $p) 2>/dev/null && echo \"wrote $p\"; done; echo ok > /box/out && echo ok > /tmp/out && cat /tmp/out"])
            .box_dir(dir.path()),
    );
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(stdout_text(&r), "ok\n", "only /box and /tmp took writes");
    assert_eq!(std::fs::read_to_string(dir.path().join("out")).unwrap(), "ok\n");
}

#[test]
fn the_program_runs_as_an_unprivileged_host_id_with_no_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_captured(
        Command::new("/bin/sh")
            .args(["-c", "id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | awk '{print $2}' | sort -u; grep NoNewPrivs /proc/self/status; touch /box/mine"])
            .box_dir(dir.path()),
    );
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(stdout_text(&r), format!("{}\n0000000000000000\nNoNewPrivs:\t1\n", sandbox::SANDBOX_ID));
    let owner = std::fs::metadata(dir.path().join("mine")).unwrap().uid();
    assert_ne!(owner, 0, "the file the program made is not owned by host root");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(owner, sandbox::DEFAULT_HOST_ID);
    }
}

#[test]
fn no_network_not_even_the_hosts_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let r = run_captured(&mut c_probe(&["connect", &port]));
    assert_eq!(r.status, Status::NonzeroExit, "{r:?}");
    assert!(!stdout_text(&r).contains("connected"), "{}", stdout_text(&r));
    // Also without landlock's TCP rule in the way: the namespace has no route at all.
    let r = run_captured(Command::new("/bin/sh").args(["-c", "cat /proc/net/dev | tail -n +3 | awk '{print $1}'"]));
    assert_eq!(stdout_text(&r).trim(), "lo:", "only a loopback of its own");
}

/// Whether this host lets root runs share the empty network namespace: root, and Landlock
/// at ABI 6 or later (read off a run's report).
fn shares_network(r: &sandbox::Report) -> bool {
    let abi: u32 = r.enforced.get("landlock").and_then(|l| l.strip_prefix("ABI ")?.parse().ok()).unwrap_or(0);
    nix::unistd::geteuid().is_root() && abi >= 6
}

#[test]
fn runs_join_one_empty_network_namespace_where_safe_unless_asked_for_their_own() {
    // Cold runs (Command::run): a warm environment keeps its namespace either way.
    let ns = |own: bool| {
        let r = Command::new("/bin/readlink")
            .arg("/proc/self/ns/net")
            .own_network(own)
            .stdout(sandbox::Stdio::Capture)
            .run()
            .unwrap();
        assert_eq!(r.status, Status::Ok, "{r:?}");
        (stdout_text(&r).trim().to_string(), r)
    };
    let host = std::fs::read_link("/proc/self/ns/net").unwrap().to_string_lossy().into_owned();
    let ((a, ra), (b, _), (own, rown)) = (ns(false), ns(false), ns(true));
    assert!(a.starts_with("net:[") && a != host && own != host, "{a} {own} {host}");
    assert!(rown.enforced["network"].contains("of its own"), "{:?}", rown.enforced);
    // Under another seccomp policy (which might allow netlink or TIPC sockets between
    // runs), never the shared one.
    let r = Command::new("/bin/true").seccomp("none").run().unwrap();
    assert!(r.enforced["network"].contains("of its own"), "{:?}", r.enforced);
    if shares_network(&ra) {
        assert_eq!(a, b, "both runs joined the shared namespace");
        // (The shared namespace lives on, so its number cannot have been reused.)
        assert_ne!(own, a, "the run that asked for its own did not get the shared one");
        assert!(ra.enforced["network"].contains("shared"), "{:?}", ra.enforced);
    } else {
        // Each run made its own (the number of one that is gone may come back, so the
        // numbers of runs one after another say nothing).
        assert!(ra.enforced["network"].contains("of its own"), "{:?}", ra.enforced);
    }
}

#[test]
fn concurrent_runs_cannot_reach_each_other_through_an_abstract_unix_socket() {
    // One run listens on an abstract socket; a run at the same time tries to connect. In
    // the shared network namespace the second sees the socket in /proc/net/unix, and
    // Landlock's scope refuses the connection; with namespaces of their own it never sees it.
    let key = std::process::id().to_string();
    let k = key.clone();
    let listener = std::thread::spawn(move || run_captured(&mut c_probe(&["abstract-listen", &k])));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = run_captured(&mut c_probe(&["abstract-connect", &key]));
    let l = listener.join().unwrap();
    assert_eq!(stdout_text(&l), "listening\n", "{l:?}");
    let out = stdout_text(&r);
    assert!(!out.contains("connected"), "{out}");
    if shares_network(&r) {
        assert_eq!(out, "seen: Operation not permitted\n", "{r:?}");
    } else {
        assert!(out.starts_with("not seen: "), "{out}");
    }
}

#[test]
fn mount_ptrace_and_namespaces_are_refused() {
    for mode in ["mount", "ptrace", "unshare", "clone-ns"] {
        let r = run(&mut c_probe(&[mode]));
        assert_eq!(r.status, Status::SyscallBlocked, "{mode}: {r:?}");
    }
}

#[test]
fn no_process_outlives_the_run() {
    let r = run(&mut c_probe(&["orphan"]));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(processes_matching(sandbox::DEFAULT_HOST_ID, "orphan"), 0, "the daemonized sleeper died with the run");
}

#[test]
fn signal_dispositions_are_reset_even_though_the_runner_ignores_sigpipe() {
    // Rust's runtime ignores SIGPIPE in this very process; the program must see the default.
    let r = sh("grep -E '^Sig(Ign|Blk)' /proc/self/status | awk '{print $2}' | sort -u");
    assert_eq!(stdout_text(&r), "0000000000000000\n");
}

#[test]
fn only_the_standard_fds_are_open_and_the_environment_is_clean() {
    let r =
        run_captured(Command::new("/bin/sh").args(["-c", "ls /proc/self/fd | tr '\\n' ' '; env | sort"]).env("A", "b"));
    // 0, 1, 2, and 3 is the directory ls itself opened.
    assert_eq!(stdout_text(&r), "0 1 2 3 A=b\nPATH=/usr/local/bin:/usr/bin:/bin\nPWD=/box\n");
}

#[test]
fn core_dumps_are_off_and_hostname_is_the_sandboxs() {
    let r = sh("ulimit -c; hostname");
    assert_eq!(stdout_text(&r), "0\nsandbox\n");
}
