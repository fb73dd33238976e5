//! Each status of a run, produced by a small real program in C and in Python.

mod common;
use common::*;
use sandbox::{Command, Status};
use std::time::Duration;

fn both(args: &[&str]) -> [(&'static str, Command); 2] {
    [("C", c_probe(args)), ("Python", py_probe(args))]
}

#[test]
fn exit_codes_are_reported_as_ok_or_nonzero_exit() {
    for (lang, mut c) in both(&["exit", "0"]) {
        let r = run(&mut c);
        assert_eq!((r.status, r.exit_code, r.signal), (Status::Ok, Some(0), None), "{lang}: {r:?}");
    }
    for (lang, mut c) in both(&["exit", "3"]) {
        let r = run(&mut c);
        assert_eq!((r.status, r.exit_code), (Status::NonzeroExit, Some(3)), "{lang}: {r:?}");
    }
}

#[test]
fn crashes_are_signaled_with_their_signal() {
    for (mode, sig) in [("segv", libc::SIGSEGV), ("fpe", libc::SIGFPE), ("abort", libc::SIGABRT)] {
        for (lang, mut c) in both(&[mode]) {
            let r = run(&mut c);
            assert_eq!((r.status, r.signal, r.exit_code), (Status::Signaled, Some(sig), None), "{lang} {mode}: {r:?}");
        }
    }
}

#[test]
fn a_cpu_loop_is_time_limit() {
    for (lang, mut c) in both(&["spin"]) {
        let r = run(c.cpu_time(Duration::from_millis(300)));
        assert_eq!(r.status, Status::TimeLimit, "{lang}: {r:?}");
        assert!(r.cpu_time_us >= 300_000, "{lang}: {r:?}");
    }
}

#[test]
fn a_sleeper_is_wall_time_limit() {
    for (lang, mut c) in both(&["sleep"]) {
        let r = run(c.cpu_time(Duration::from_secs(5)).wall_time(Duration::from_millis(1000)));
        assert_eq!(r.status, Status::WallTimeLimit, "{lang}: {r:?}");
        assert!(r.cpu_time_us < r.wall_time_us, "{lang}: asleep, not burning CPU: {r:?}");
    }
}

#[test]
fn allocation_beyond_the_limit_is_memory_limit_alone_in_threads_and_in_a_child() {
    for mode in ["touch", "touch-threads", "touch-fork"] {
        for (lang, mut c) in both(&[mode, "200"]) {
            let r = run(c.memory(64 << 20).wall_time(Duration::from_secs(10)));
            assert_eq!(r.status, Status::MemoryLimit, "{lang} {mode}: {r:?}");
            assert!(r.oom_killed, "{lang} {mode}: {r:?}");
            assert!(r.peak_memory_bytes <= 64 << 20, "{lang} {mode}: {r:?}");
        }
    }
}

#[test]
fn a_parent_left_waiting_after_its_child_was_oom_killed_is_memory_limit() {
    let r = run(c_probe(&["touch-fork-wait", "200"]).memory(64 << 20).wall_time(Duration::from_secs(3)));
    assert_eq!(r.status, Status::MemoryLimit, "{r:?}");
}

#[test]
fn an_output_flood_is_output_limit() {
    for (lang, mut c) in both(&["flood"]) {
        let r = run_captured(c.output_limit(1 << 20).wall_time(Duration::from_secs(10)));
        assert_eq!(r.status, Status::OutputLimit, "{lang}: {r:?}");
        assert_eq!(r.stdout.len() + r.stderr.len(), 1 << 20, "{lang}: kept exactly the limit");
    }
}

#[test]
fn writing_past_the_file_size_limit_is_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(c_probe(&["big-file"]).box_dir(dir.path()).file_size(1 << 20));
    assert_eq!(r.status, Status::OutputLimit, "{r:?}");
    assert_eq!(r.signal, Some(libc::SIGXFSZ));
    assert_eq!(std::fs::metadata(dir.path().join("big")).unwrap().len(), 1 << 20);
}

#[test]
fn a_fork_bomb_is_contained_by_the_pids_limit() {
    // The limit holds: forking stops with EAGAIN below it.
    let r = run_captured(c_probe(&["fork-count"]).pids(16));
    let made: u64 = stdout_text(&r).split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    assert!(made < 16, "{r:?}: {}", stdout_text(&r));
    for (lang, mut c) in both(&["forkbomb"]) {
        let r = run(c.pids(16).cpu_time(Duration::from_millis(500)).wall_time(Duration::from_secs(2)));
        assert!(matches!(r.status, Status::TimeLimit | Status::WallTimeLimit), "{lang}: {r:?}");
        assert!(r.enforced["pids"].contains("pids.max") || r.enforced["pids"].contains("RLIMIT_NPROC"));
    }
    assert_eq!(processes_matching(sandbox::DEFAULT_HOST_ID, "forkbomb"), 0, "no process of the bomb survives");
}

#[test]
fn a_blocked_syscall_is_syscall_blocked_with_its_name() {
    for (mode, name) in [("ptrace", "ptrace"), ("unshare", "unshare")] {
        for (lang, mut c) in both(&[mode]) {
            let r = run(&mut c);
            assert_eq!(r.status, Status::SyscallBlocked, "{lang} {mode}: {r:?}");
            assert_eq!(r.blocked_syscall.as_deref(), Some(name), "{lang} {mode}");
        }
    }
    let r = run(&mut c_probe(&["clone-ns"]));
    assert_eq!((r.status, r.blocked_syscall.as_deref()), (Status::SyscallBlocked, Some("clone")));
    let r = run(&mut c_probe(&["x32"]));
    assert_eq!(r.status, Status::SyscallBlocked, "{r:?}");
}

#[test]
fn with_seccomp_off_the_same_calls_fail_for_lack_of_privilege() {
    let r = run_captured(c_probe(&["mount"]).seccomp("none"));
    assert_eq!(r.status, Status::NonzeroExit, "{r:?}");
    assert_eq!(stdout_text(&r).trim(), "Operation not permitted");
}

#[test]
fn a_missing_program_is_setup_error_naming_it() {
    let r = run(&mut Command::new("/no/such/program"));
    assert_eq!(r.status, Status::SetupError);
    assert!(r.message.as_deref().unwrap().contains("/no/such/program"), "{r:?}");
}

#[test]
fn a_program_found_through_path_runs() {
    let r = run_captured(Command::new("echo").arg("hello"));
    assert_eq!((r.status, stdout_text(&r).as_str()), (Status::Ok, "hello\n"));
}

#[test]
fn a_custom_seccomp_policy_file_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.json");
    std::fs::write(&path, r#"{"rules":[{"syscalls":["getppid"],"action":"block","comment":"test"}]}"#).unwrap();
    let r =
        run(Command::new("/usr/bin/python3").args(["-c", "import os; os.getppid()"]).seccomp(path.to_str().unwrap()));
    assert_eq!((r.status, r.blocked_syscall.as_deref()), (Status::SyscallBlocked, Some("getppid")), "{r:?}");
}

#[test]
fn a_bad_seccomp_policy_is_a_config_error() {
    let err = Command::new("/bin/true").seccomp("/no/such/policy.json").run().unwrap_err();
    assert!(err.to_string().contains("/no/such/policy.json"), "{err}");
}
