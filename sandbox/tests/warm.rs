//! Warm environments: each carry-over test plants something in a first run and looks for
//! it from inside a second run in the same environment. (The status, isolation, hardening
//! and accuracy cases also run warm: `make test` runs them again with SANDBOX_TEST_WARM=1.)

mod common;
use common::*;
use sandbox::{Command, Environment, Report, Status};
use std::time::Duration;

/// An environment whose box holds one kept file, `kept.txt`.
struct Bed {
    env: Environment,
    dir: tempfile::TempDir,
}

impl Bed {
    fn new() -> Bed {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kept.txt"), "kept\n").unwrap();
        let env = Environment::new(sh(&dir, "true").config()).expect("a warm environment");
        Bed { env, dir }
    }

    fn sh(&mut self, script: &str) -> Report {
        self.run(Command::new("/bin/sh").args(["-c", script]))
    }

    fn py(&mut self, code: &str) -> Report {
        self.run(Command::new("/usr/bin/python3").args(["-c", code]))
    }

    /// Runs `c` on the bed's box, its output captured.
    fn run(&mut self, c: &mut Command) -> Report {
        c.box_dir(self.dir.path()).write_back(false);
        c.stdout(sandbox::Stdio::Capture).stderr(sandbox::Stdio::Capture);
        c.run_in(&mut self.env).expect("the warm run could not be prepared")
    }
}

fn sh(dir: &tempfile::TempDir, script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]).box_dir(dir.path()).write_back(false);
    c
}

/// Kills the environment's holder and waits until it is dead (a zombie until the
/// environment reaps it).
fn kill_holder(env: &Environment) {
    let pid = env.holder_pid().unwrap();
    // SAFETY: kill with a pid and a signal number.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let start = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(start.elapsed() < Duration::from_secs(10), "the holder did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn out(r: &Report) -> String {
    assert!(matches!(r.status, Status::Ok | Status::NonzeroExit), "{r:?}");
    stdout_text(r).trim().to_string()
}

#[test]
fn files_in_tmp_shm_and_the_box_do_not_carry_over_and_the_kept_box_does() {
    let mut bed = Bed::new();
    let r = bed.sh("echo a > /tmp/planted && echo b > /dev/shm/planted && echo c > /box/planted && cat /box/kept.txt");
    assert_eq!(out(&r), "kept", "{r:?}");
    let r = bed.sh("ls -a /tmp /dev/shm /box; cat /box/kept.txt");
    let seen = out(&r);
    assert!(!seen.contains("planted"), "{seen}");
    assert!(seen.ends_with("kept"), "the kept box is there for every run: {seen}");
    // The run's writes never reach the host's box either.
    assert!(!bed.dir.path().join("planted").exists());
}

#[test]
fn no_process_of_a_run_survives_into_the_next() {
    let mut bed = Bed::new();
    // A daemon (double fork, own session), a stopped process and an ordinary orphan.
    let r = bed.sh("setsid sleep 1000 & (sleep 1000 &) ; sleep 1000 & kill -STOP $!; echo planted");
    assert_eq!(out(&r), "planted");
    let r = bed.sh("for p in /proc/[0-9]*; do cat $p/comm; done | sort | tr '\\n' ' '");
    let seen = out(&r);
    assert!(!seen.contains("sleep"), "{seen}");
    // What is left: the holder (as sandbox-init), the shell and its pipeline.
    assert!(seen.split_whitespace().count() <= 8, "{seen}");
}

#[test]
fn sysv_ipc_and_posix_queues_do_not_carry_over() {
    let mut bed = Bed::new();
    let plant = "import ctypes, os\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        q = libc.msgget(4242, 0o1666); s = libc.shmget(4343, 4096, 0o1666); m = libc.semget(4444, 1, 0o1666)\n\
        rt = ctypes.CDLL('librt.so.1', use_errno=True)\n\
        mq = rt.mq_open(b'/planted', os.O_CREAT | os.O_RDWR, 0o666, None)\n\
        print(q >= 0, s >= 0, m >= 0, mq >= 0)";
    // (POSIX queues cannot even be created here: the ipc namespace's mqueue root is not the
    // program's; a queue made anyway would be looked for all the same.)
    assert!(out(&bed.py(plant)).starts_with("True True True"));
    let look = "import ctypes, os\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        q = libc.msgget(4242, 0); s = libc.shmget(4343, 0, 0); m = libc.semget(4444, 0, 0)\n\
        rt = ctypes.CDLL('librt.so.1', use_errno=True)\n\
        mq = rt.mq_open(b'/planted', os.O_RDWR)\n\
        print(q, s, m, mq)";
    assert_eq!(out(&bed.py(look)), "-1 -1 -1 -1", "nothing of the first run's IPC is there");
}

#[test]
fn a_fork_bomb_and_a_memory_hog_leave_the_next_run_a_fresh_cgroup() {
    let dir = tempfile::tempdir().unwrap();
    let mut bomb = c_probe(&["fork-count"]);
    bomb.pids(16).box_dir(dir.path()).write_back(false).stdout(sandbox::Stdio::Capture);
    let mut env = Environment::new(bomb.config()).unwrap();
    let r = bomb.run_in(&mut env).unwrap();
    assert!(
        stdout_text(&r).split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n < 16),
        "{r:?}"
    );
    let mut hog = c_probe(&["touch", "200"]);
    hog.memory(64 << 20).box_dir(dir.path()).write_back(false);
    assert_eq!(hog.run_in(&mut env).unwrap().status, Status::MemoryLimit);
    let mut spin = c_probe(&["spin"]);
    spin.cpu_time(Duration::from_secs(1)).box_dir(dir.path()).write_back(false);
    assert_eq!(spin.run_in(&mut env).unwrap().status, Status::TimeLimit);
    // The next run starts from zero: it forks exactly as many as a cold run may, its peak
    // and CPU are its own, and nothing says OOM.
    let count = |r: &Report| -> u64 { stdout_text(r).split_whitespace().next().and_then(|n| n.parse().ok()).unwrap() };
    let warm = count(&bomb.run_in(&mut env).unwrap());
    // (The environment holds its box's lock: the cold run has none.)
    let mut cold_bomb = c_probe(&["fork-count"]);
    cold_bomb.pids(16).stdout(sandbox::Stdio::Capture);
    let cold = count(&cold_bomb.run().unwrap());
    assert_eq!(warm, cold, "the same allowance as a cold run");
    let mut quiet = c_probe(&["exit", "0"]);
    quiet.box_dir(dir.path()).write_back(false);
    let r = quiet.run_in(&mut env).unwrap();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    // (Half the spin's second: far above a quiet run's CPU even under emulation in the VM
    // test bed, where it is ~120 ms, and far below what a carried-over count would show.)
    assert!(!r.oom_killed && r.peak_memory_bytes < 16 << 20 && r.cpu_time_us < 500_000, "{r:?}");
}

#[test]
fn fds_environment_and_signal_state_are_each_runs_own() {
    let mut bed = Bed::new();
    let r = bed.sh("trap '' TERM; export PLANTED=1; exec 7>/tmp/x; echo ok");
    assert_eq!(out(&r), "ok");
    let r = bed.sh("ls /proc/self/fd | tr '\\n' ' '; echo; env | grep -c PLANTED; grep SigIgn /proc/self/status");
    let seen = out(&r);
    assert!(seen.starts_with("0 1 2 3 \n"), "only stdio and ls's own directory: {seen}");
    assert!(seen.contains("\n0\n"), "no PLANTED in the environment: {seen}");
    assert!(seen.contains("SigIgn:\t0000000000000000"), "no ignored signal: {seen}");
}

#[test]
fn a_dead_holder_is_replaced_and_a_dropped_environment_leaves_nothing() {
    let mut bed = Bed::new();
    assert_eq!(out(&bed.sh("echo one")), "one");
    kill_holder(&bed.env);
    assert_eq!(out(&bed.sh("echo two")), "two", "made anew");
    assert_eq!(bed.env.generation(), 2);
    let pid = bed.env.holder_pid().unwrap();
    drop(bed);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the holder is gone with its environment");
}

#[test]
fn the_program_can_neither_stop_nor_kill_the_holder_nor_leave_it_signals_for_later() {
    let mut bed = Bed::new();
    let holder = bed.env.holder_pid();
    // The program's parent is the holder, pid 1 of the namespace: from inside, SIGKILL and
    // SIGSTOP never reach a pid 1, and other signals reach it only to be dropped (where
    // Landlock scopes signals, ABI 6, none leaves the run at all).
    let r = bed.sh("echo $PPID; kill -9 1; kill -STOP 1; kill -USR1 1; kill -USR2 1; kill -TERM 1; echo sent");
    assert_eq!(out(&r).lines().next(), Some("1"), "{r:?}");
    assert!(out(&r).ends_with("sent"), "{r:?}");
    // Signals sent to the holder were dropped, not left queued for the next run to see,
    // and it is the same holder, neither stopped nor replaced.
    let seen = out(&bed.sh("grep -E '^(State|SigQ|ShdPnd|SigPnd)' /proc/1/status"));
    assert!(seen.contains("SigQ:\t0/") && seen.contains("ShdPnd:\t0000000000000000"), "{seen}");
    assert!(!seen.contains("stopped"), "{seen}");
    assert_eq!(bed.env.holder_pid(), holder);
    assert_eq!(bed.env.generation(), 1);
}

#[test]
fn the_program_sees_nothing_of_the_holders_memory_or_the_order_area() {
    let mut bed = Bed::new();
    // The holder started this program from an order in memory it shares with the runner:
    // the program's own memory has none of it (execve), and the holder's is closed to it.
    let r = bed.sh("grep -c sandbox-order /proc/self/maps; \
         cat /proc/1/maps >/dev/null 2>&1 && echo maps-readable; \
         head -c1 /proc/1/mem >/dev/null 2>&1 && echo mem-readable; \
         tr '\\0' ' ' < /proc/1/cmdline");
    let text = out(&r);
    assert_eq!(text.lines().next(), Some("0"), "{text}");
    assert!(!text.contains("readable"), "{text}");
    assert_eq!(text.lines().last().map(str::trim), Some("sandbox-init"), "{text}");
}

#[test]
fn a_warm_program_has_no_capability_and_the_holder_no_bounding_set() {
    let mut bed = Bed::new();
    for _ in 0..2 {
        let r = bed.sh("id -u; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | awk '{print $2}' | sort -u; \
             grep NoNewPrivs /proc/self/status; grep CapBnd /proc/1/status");
        assert_eq!(
            out(&r),
            format!("{}\n0000000000000000\nNoNewPrivs:\t1\nCapBnd:\t0000000000000000", sandbox::SANDBOX_ID),
            "{r:?}"
        );
    }
}

#[test]
fn failed_starts_leave_the_holder_no_fd() {
    let mut bed = Bed::new();
    let fds = |env: &Environment| std::fs::read_dir(format!("/proc/{}/fd", env.holder_pid().unwrap())).unwrap().count();
    assert_eq!(out(&bed.sh("true")), "");
    let before = fds(&bed.env);
    // Programs that fail at execve, after the Landlock ruleset and the seccomp listener
    // were made: a missing one, a file that is not executable.
    for _ in 0..10 {
        let r = bed.run(&mut Command::new("/no/such/program"));
        assert_eq!(r.status, Status::SetupError, "{r:?}");
        let r = bed.run(&mut Command::new("/etc/passwd"));
        assert_eq!(r.status, Status::SetupError, "{r:?}");
    }
    assert_eq!(out(&bed.sh("true")), "");
    assert_eq!(fds(&bed.env), before, "the holder's fds before and after 20 failed starts");
    assert_eq!(bed.env.generation(), 1, "and it is still the same holder");
}

#[test]
fn a_policy_that_leaves_the_keyrings_open_is_refused_warm() {
    let mut bed = Bed::new();
    let mut c = sh(&bed.dir, "true");
    c.seccomp("none");
    let err = c.run_in(&mut bed.env).unwrap_err();
    assert!(err.to_string().contains("keyrings"), "{err}");
}

#[test]
fn a_run_with_another_environment_part_is_refused() {
    let mut bed = Bed::new();
    let other = tempfile::tempdir().unwrap();
    let err = sh(&other, "true").run_in(&mut bed.env).unwrap_err();
    assert!(err.to_string().contains("not the environment's"), "{err}");
    let mut c = Command::new("/bin/true");
    c.bind_rw(other.path(), "/out");
    let err = Environment::new(c.config()).err().expect("writable binds are refused");
    assert!(err.to_string().contains("writable binds"), "{err}");
}

#[test]
fn environments_run_side_by_side_from_threads() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let mut bed = Bed::new();
                for n in 0..10 {
                    let r = bed.sh(&format!("test ! -e /tmp/t && echo {i}-{n} > /tmp/t && cat /tmp/t"));
                    assert_eq!(out(&r), format!("{i}-{n}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn file_size_and_disk_verdicts_come_from_the_runs_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    // One environment part for all three: the probe's bind, the box, a 4 MiB box budget
    // (no builder method: the configuration's field).
    let small_disk = |mut c: Command| {
        c.box_dir(dir.path()).write_back(false).bind_ro(probe_dir(), "/probe");
        let mut cfg = c.config().clone();
        cfg.limits.disk_bytes = Some(4 << 20);
        Command::from_config(cfg)
    };
    let mut big = Command::new("/probe/probe");
    big.args(["big-file"]).file_size(1 << 20);
    let big = small_disk(big);
    let mut env = Environment::new(big.config()).unwrap();
    let r = big.run_in(&mut env).unwrap();
    assert_eq!((r.status, r.signal), (Status::OutputLimit, Some(libc::SIGXFSZ)), "{r:?}");
    // Past the box's disk budget (no file-size limit this time): ENOSPC, output_limit.
    let mut fill = Command::new("/bin/sh");
    fill.args(["-c", "head -c 8000000 /dev/zero > /box/fill"]).stderr(sandbox::Stdio::Capture);
    let r = small_disk(fill).run_in(&mut env).unwrap();
    assert_eq!(r.status, Status::OutputLimit, "{r:?}");
    // And the next run has its whole budget again.
    let mut again = Command::new("/bin/sh");
    again.args(["-c", "head -c 3000000 /dev/zero > /box/again && echo written"]).stdout(sandbox::Stdio::Capture);
    let r = small_disk(again).run_in(&mut env).unwrap();
    assert_eq!((r.status, stdout_text(&r).trim()), (Status::Ok, "written"), "{r:?}");
}

#[test]
fn a_keeping_run_leaves_its_box_writes_to_later_runs_and_only_it_does() {
    let mut bed = Bed::new();
    // The compile step: what it writes to /box stays; its /tmp does not.
    bed.env.keep_box_of_next_run();
    let r = bed.sh("echo built > /box/a.out && mkdir /box/obj && echo o > /box/obj/x.o && echo t > /tmp/t");
    out(&r);
    assert!(r.enforced["environment"].contains("box writes kept"), "{r:?}");
    // Later runs see it (over the box the environment was made with) and write their own
    // box as usual, but nothing of theirs carries over.
    let r = bed.sh("cat /box/a.out /box/obj/x.o /box/kept.txt; ls /tmp; echo x > /box/scratch; rm /box/a.out");
    assert_eq!(out(&r), "built\no\nkept", "{r:?}");
    let r = bed.sh("ls /box | tr '\\n' ' '");
    assert_eq!(out(&r), "a.out kept.txt obj", "{r:?}");
    // The host's box directory is never written.
    assert!(!bed.dir.path().join("a.out").exists());
    // A keeping run's file-size verdict comes from what it wrote to the kept box.
    bed.env.keep_box_of_next_run();
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "exec head -c 200000 /dev/zero > /box/big"]).file_size(100_000);
    let r = bed.run(&mut c);
    assert_eq!(r.status, Status::OutputLimit, "{r:?}");
}

#[test]
fn a_loaded_box_replaces_the_kept_one_and_nothing_of_the_earlier_box_remains() {
    let mut bed = Bed::new();
    bed.env.keep_box_of_next_run();
    out(&bed.sh("echo built > /box/a.out && echo t > /tmp/t"));
    // The next submission's box, in the same environment (a pool recycling it).
    let next = tempfile::tempdir().unwrap();
    std::fs::write(next.path().join("new.txt"), "new\n").unwrap();
    bed.env.load_box(Some(next.path())).unwrap();
    let first = std::mem::replace(&mut bed.dir, next);
    let r = bed.sh("ls -a /box /tmp | tr '\\n' ' '; cat /box/new.txt");
    assert_eq!(out(&r), "/box: . .. new.txt  /tmp: . .. new", "{r:?}");
    assert_eq!(bed.env.generation(), 1, "the same holder, not a new one");
    // The earlier box's directory is free again, and can even be loaded once more.
    bed.env.load_box(Some(first.path())).unwrap();
    bed.dir = first;
    assert_eq!(out(&bed.sh("ls /box")), "kept.txt");
    // An empty box.
    bed.env.load_box(None).unwrap();
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "ls -a /box | tr '\\n' ' '"]).write_back(false).stdout(sandbox::Stdio::Capture);
    let r = c.run_in(&mut bed.env).unwrap();
    assert_eq!(stdout_text(&r).trim(), ". ..", "{r:?}");
    assert_eq!(bed.env.generation(), 1);
}

#[test]
fn an_environment_lost_after_a_keeping_run_gives_setup_errors_until_a_box_is_loaded() {
    let mut bed = Bed::new();
    bed.env.keep_box_of_next_run();
    out(&bed.sh("echo built > /box/a.out"));
    // The holder is lost: a new one would have the box without a.out, so no run may
    // give a verdict on that box.
    kill_holder(&bed.env);
    let r = bed.sh("cat /box/a.out");
    assert_eq!(r.status, Status::SetupError, "{r:?}");
    assert!(r.message.as_deref().unwrap_or("").contains("load the box again"), "{r:?}");
    // Loading the box again makes it usable (a new holder around the host's box).
    let dir = bed.dir.path().to_path_buf();
    bed.env.load_box(Some(&dir)).unwrap();
    assert_eq!(out(&bed.sh("ls /box")), "kept.txt");
}

#[test]
fn tmp_shm_and_box_are_made_anew_after_any_change_even_one_that_leaves_no_file() {
    let mut bed = Bed::new();
    // The reset keeps a fresh filesystem only when it can prove it unchanged. Changes that
    // leave no file: the mode, extended attributes, the times, a file made and removed, a
    // directory made and removed. Each must be undone for the next run.
    // (User extended attributes on tmpfs need Linux 6.6; before, there are none to plant.)
    let plant = "import os\n\
        def xattr(p):\n    try: os.setxattr(p, 'user.planted', b'1')\n    except OSError: pass\n\
        os.chmod('/tmp', 0o700); xattr('/dev/shm')\n\
        os.utime('/box', (978307200, 978307200)); xattr('/box')\n\
        os.utime('/tmp', (978307200, 978307200))\n\
        open('/dev/shm/f', 'w').close(); os.unlink('/dev/shm/f'); os.mkdir('/box/d'); os.rmdir('/box/d')\n\
        print('planted')";
    assert_eq!(out(&bed.py(plant)), "planted");
    let look = "import os\n\
        print(oct(os.stat('/tmp').st_mode & 0o7777), os.listxattr('/dev/shm'), os.listxattr('/box'),\n\
              os.stat('/box').st_mtime != 978307200, os.stat('/tmp').st_mtime != 978307200)";
    let seen = bed.py(look);
    assert_eq!(out(&seen), "0o1777 [] [] True True", "{seen:?}");
    // Only the times, set back by the owner to what they were: the change time gives it
    // away, or the final state is the fresh one.
    let again = "import os\n\
        st = os.stat('/tmp'); os.mkdir('/tmp/d'); os.rmdir('/tmp/d')\n\
        os.utime('/tmp', ns=(st.st_atime_ns, st.st_mtime_ns)); print('done')";
    assert_eq!(out(&bed.py(again)), "done");
    assert_eq!(out(&bed.sh("ls -a /tmp | tr '\\n' ' '")), ". ..");
}

/// The host-side cgroup paths (controller list → path, from /proc/PID/cgroup) of the shell
/// a warm run of `sleep 2` is running, read while it sleeps; and that run's report.
fn cgroups_of_a_sleeping_run(env: &mut Environment, dir: &tempfile::TempDir) -> (Vec<(String, String)>, Report) {
    let holder = env.holder_pid().unwrap();
    let c = sh(dir, "sleep 2");
    std::thread::scope(|s| {
        let run = s.spawn(|| c.run_in(env).unwrap());
        let start = std::time::Instant::now();
        let shell = loop {
            let kids = std::fs::read_to_string(format!("/proc/{holder}/task/{holder}/children")).unwrap_or_default();
            if let Some(pid) = kids.split_whitespace().next() {
                if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sh") {
                    break pid.to_string();
                }
            }
            assert!(start.elapsed() < Duration::from_secs(5), "the run's shell never showed up");
            std::thread::sleep(Duration::from_millis(5));
        };
        let lines = std::fs::read_to_string(format!("/proc/{shell}/cgroup")).unwrap();
        let groups = lines
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                Some((ctrls.to_string(), path.to_string()))
            })
            .collect();
        (groups, run.join().unwrap())
    })
}

#[test]
fn a_run_never_shares_a_cgroup_that_is_not_as_new() {
    let bed = Bed::new();
    let (mut env, dir) = (bed.env, bed.dir);
    let path_of = |groups: &[(String, String)], ctrl: &str| {
        groups.iter().find(|(c, _)| c.split(',').any(|x| x == ctrl)).map(|(_, p)| p.clone())
    };
    let (first, r) = cgroups_of_a_sleeping_run(&mut env, &dir);
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let (second, _) = cgroups_of_a_sleeping_run(&mut env, &dir);
    let sandbox::cgroup::Layout::V1(h) = sandbox::cgroup::layout() else {
        // One group for every controller, new for each run.
        let (a, b) = (path_of(&first, ""), path_of(&second, ""));
        assert!(a.is_some() && a != b, "{first:?} {second:?}");
        return;
    };
    // v1: the memory group is each run's own, the pids group the environment's, kept.
    assert_ne!(path_of(&first, "memory"), path_of(&second, "memory"));
    let kept = path_of(&first, "pids").unwrap();
    assert_eq!(path_of(&second, "pids").as_deref(), Some(kept.as_str()));
    // Something left in the kept group (here a host process put there): the next run gets
    // new groups, and the planted process is left alone.
    // (Run groups are made right under the runner's own.)
    let kept_dir = h.pids.join(std::path::Path::new(&kept).file_name().unwrap());
    let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(kept_dir.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let (third, r) = cgroups_of_a_sleeping_run(&mut env, &dir);
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert!(r.cpu_time_us < 500_000, "{r:?}");
    assert_ne!(path_of(&third, "pids").as_deref(), Some(kept.as_str()), "{third:?}");
    assert_eq!(sleeper.try_wait().unwrap(), None, "the planted process lives on");
    // The planted process back out, and the group it held away.
    let _ = std::fs::write(h.pids.join("cgroup.procs"), sleeper.id().to_string());
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    let _ = std::fs::remove_dir(&kept_dir);
}
