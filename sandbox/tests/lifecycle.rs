//! Nothing is left behind, runs from many threads at once are all correct, and a run can be
//! cancelled from outside. One test function so the before/after counts see only its runs.

mod common;
use common::*;
use sandbox::{Cancel, Command, Status};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn runs_leave_nothing_behind_run_concurrently_and_can_be_cancelled() {
    let before = Leftovers::before();

    // Every way a run can end, including kills by each limit.
    let cases: Vec<(Command, Status)> = vec![
        (c_probe(&["exit", "0"]), Status::Ok),
        (c_probe(&["segv"]), Status::Signaled),
        (
            {
                let mut c = c_probe(&["spin"]);
                c.cpu_time(Duration::from_millis(100));
                c
            },
            Status::TimeLimit,
        ),
        (
            {
                let mut c = c_probe(&["sleep"]);
                c.wall_time(Duration::from_millis(100));
                c
            },
            Status::WallTimeLimit,
        ),
        (
            {
                let mut c = c_probe(&["touch", "100"]);
                c.memory(32 << 20);
                c
            },
            Status::MemoryLimit,
        ),
        (
            {
                let mut c = c_probe(&["forkbomb"]);
                c.pids(8).wall_time(Duration::from_millis(300));
                c
            },
            Status::WallTimeLimit,
        ),
        (c_probe(&["ptrace"]), Status::SyscallBlocked),
        (c_probe(&["orphan"]), Status::Ok),
        (Command::new("/no/such/program"), Status::SetupError),
    ];
    for (mut c, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let r = run(c.box_dir(dir.path()));
        assert_eq!(r.status, want, "{r:?}");
    }
    let after = Leftovers::settled(&before);
    assert!(after.within(&before), "after runs ending in every status: {after:?} against {before:?}");

    // 8 threads × 50 runs at once, each checking its own output.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    let code = (t * 50 + i) % 200;
                    let r = run(&mut c_probe(&["exit", &code.to_string()]));
                    let want = if code == 0 { Status::Ok } else { Status::NonzeroExit };
                    assert_eq!((r.status, r.exit_code), (want, Some(code)), "thread {t} run {i}: {r:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a concurrent run failed");
    }
    // Each run removed its cgroups before it returned (only its init's exit may still be
    // under way: see `Leftovers::settled`).
    assert_eq!(run_cgroups(), before.cgroups, "cgroups right after 400 concurrent runs");
    let after = Leftovers::settled(&before);
    assert!(after.within(&before), "after 400 concurrent runs: {after:?} against {before:?}");

    // Cancelled from another thread mid-run: ends at once, and still leaves nothing.
    let cancel = Arc::new(Cancel::new().unwrap());
    let trigger = Arc::clone(&cancel);
    let start = Instant::now();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.trigger();
    });
    let r = c_probe(&["sleep"]).wall_time(Duration::from_secs(30)).run_cancellable(&cancel).unwrap();
    killer.join().unwrap();
    assert_eq!(r.status, Status::Cancelled, "{r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("cancelled"), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    let after = Leftovers::settled(&before);
    assert!(after.within(&before), "after a cancelled run: {after:?} against {before:?}");

    // A warm environment: once it is dropped, none of its runs' cgroups, no process and no
    // mount is left.
    let mut env = sandbox::Environment::new(c_probe(&["exit", "0"]).config()).unwrap();
    // (Only the fork bomb needs a short wall limit to end: a quiet run under one can miss it
    // in the emulated VM test bed on a loaded host, where its start alone took 0.34 s.)
    for (args, wall, want) in [
        (&["exit", "0"][..], Duration::from_secs(30), Status::Ok),
        (&["forkbomb"][..], Duration::from_millis(300), Status::WallTimeLimit),
    ] {
        let mut c = c_probe(args);
        c.pids(8).wall_time(wall);
        let r = c.run_in(&mut env).unwrap();
        assert_eq!(r.status, want, "{r:?}");
    }
    let r = c_probe(&["exit", "3"]).run_in(&mut env).unwrap();
    assert_eq!(r.status, Status::NonzeroExit, "{r:?}");
    drop(env);
    let after = Leftovers::settled(&before);
    assert!(after.within(&before), "after a warm environment was dropped: {after:?} against {before:?}");
}
