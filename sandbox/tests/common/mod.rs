//! Helpers shared by the sandbox's integration tests: the probe programs, runs, leftovers.
#![allow(dead_code)]

use sandbox::{Command, Report, Stdio};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository's tests/programs directory.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs").canonicalize().unwrap()
}

/// A directory with the compiled C probe and the Python probe, built once per test binary.
/// It is mounted read-only at /probe in the sandbox.
pub fn probe_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = programs_dir();
        let out = std::process::Command::new("gcc")
            .args(["-O1", "-pthread", "-o"])
            .arg(dir.join("probe"))
            .arg(src.join("probe.c"))
            .output()
            .expect("gcc must be installed to build the probe programs");
        assert!(out.status.success(), "gcc failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::copy(src.join("probe.py"), dir.join("probe.py")).unwrap();
        for p in [dir.as_path(), Path::new(env!("CARGO_TARGET_TMPDIR"))] {
            let _ = std::process::Command::new("chmod").arg("755").arg(p).status();
        }
        dir
    })
}

/// A run of the C probe in `mode`, with the probe mounted at /probe.
pub fn c_probe(args: &[&str]) -> Command {
    let mut c = Command::new("/probe/probe");
    c.args(args.iter().copied()).bind_ro(probe_dir(), "/probe");
    c
}

/// A run of the Python probe in `mode`.
pub fn py_probe(args: &[&str]) -> Command {
    let mut c = Command::new("/usr/bin/python3");
    c.arg("/probe/probe.py").args(args.iter().copied()).bind_ro(probe_dir(), "/probe");
    c
}

/// Runs `c`. With SANDBOX_TEST_WARM=1 (`make test` runs the status and isolation tests both
/// ways), the run goes through a warm environment, kept per thread and made anew when a run
/// needs another environment part; what warm environments refuse (writable binds,
/// rootless runs) or do not do (write the box back) runs cold.
pub fn run(c: &mut Command) -> Report {
    if std::env::var_os("SANDBOX_TEST_WARM").is_some_and(|v| v == "1") {
        if let Some(r) = run_warm(c) {
            return r;
        }
    }
    c.run().expect("the run could not be prepared")
}

thread_local! {
    static WARM: std::cell::RefCell<Option<sandbox::Environment>> = const { std::cell::RefCell::new(None) };
}

fn run_warm(c: &mut Command) -> Option<Report> {
    // A warm box is never written back: a case that reads the box afterwards runs cold.
    if c.config().box_dir.is_some() && c.config().write_back {
        return None;
    }
    WARM.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(env) = slot.as_mut() {
            match c.run_in(env) {
                Ok(r) => return Some(r),
                Err(sandbox::Error::Config(_)) => {}
                Err(e) => panic!("the warm run could not be prepared: {e}"),
            }
        }
        match sandbox::Environment::new(c.config()) {
            Ok(env) => {
                let env = slot.insert(env);
                match c.run_in(env) {
                    Ok(r) => Some(r),
                    // E.g. a policy that leaves the keyrings open: a cold case.
                    Err(sandbox::Error::Config(_)) => None,
                    Err(e) => panic!("the warm run could not be prepared: {e}"),
                }
            }
            Err(sandbox::Error::Config(_)) => None,
            Err(e) => panic!("making a warm environment: {e}"),
        }
    })
}

/// Runs with stdout and stderr captured.
pub fn run_captured(c: &mut Command) -> Report {
    c.stdout(Stdio::Capture).stderr(Stdio::Capture);
    run(c)
}

pub fn stdout_text(r: &Report) -> String {
    String::from_utf8_lossy(&r.stdout).into_owned()
}

/// What a run could leave behind on the host.
#[derive(Debug, PartialEq, Eq)]
pub struct Leftovers {
    pub processes_of_sandbox_id: usize,
    pub cgroups: usize,
    pub root_dirs: usize,
    pub mounts: usize,
}

impl Leftovers {
    /// Whether nothing is left beyond `before`: no more processes of the sandbox's id
    /// (fewer is fine: leftovers of earlier test binaries may be reaped meanwhile), and the
    /// same cgroups, root directories and mounts.
    pub fn within(&self, before: &Leftovers) -> bool {
        self.processes_of_sandbox_id <= before.processes_of_sandbox_id
            && (self.cgroups, self.root_dirs, self.mounts) == (before.cgroups, before.root_dirs, before.mounts)
    }

    /// The count once it is `within(before)`, or after 3 s. A run returns once every process
    /// of it is gone and its cgroups are removed; the sandbox's own init may then still be
    /// finishing its exit (tearing down its namespaces) for a moment, and is reaped by the
    /// library's reaper thread without the run waiting for it.
    pub fn settled(before: &Leftovers) -> Leftovers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let now = Leftovers::count();
            if now.within(before) || std::time::Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The count before a test's runs: once the sandbox's id has no process left, or after
    /// 10 s. A `runner run` process exits without waiting for its init's last moments (as
    /// bwrap does), leaving the zombie to the machine's pid 1, which may reap it only
    /// seconds later (this VM's does).
    pub fn before() -> Leftovers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let now = Leftovers::count();
            if now.processes_of_sandbox_id == 0 || std::time::Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn count() -> Leftovers {
        Leftovers {
            processes_of_sandbox_id: processes_of(sandbox::DEFAULT_HOST_ID),
            cgroups: run_cgroups(),
            root_dirs: std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".sandbox-root-"))
                .count(),
            // Not the shared network namespace root runs keep at /run/sandbox/net: made
            // once, on purpose, for every later run (`runner cleanup` removes it).
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .lines()
                .filter(|l| l.split(' ').nth(4) != Some("/run/sandbox/net"))
                .count(),
        }
    }
}

/// Processes on the host whose real uid is `uid`.
pub fn processes_of(uid: u32) -> usize {
    processes_matching(uid, "")
}

/// Processes on the host whose real uid is `uid` and whose command line contains `word`.
pub fn processes_matching(uid: u32, word: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| {
            std::fs::read_to_string(e.path().join("status"))
                .map(|s| {
                    s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(&uid.to_string()))
                })
                .unwrap_or(false)
        })
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(word)
        })
        .count()
}

/// Run cgroups (named sandbox-*) anywhere under /sys/fs/cgroup. Not the v2 leaf a test
/// process may move itself into at its first run (`sandbox-runner-<pid>`): that is the
/// process's own home while it lives, not something a run left.
pub fn run_cgroups() -> usize {
    fn walk(dir: &Path, depth: usize) -> usize {
        if depth > 6 {
            return 0;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
        rd.filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let own = (name.starts_with("sandbox-") && !name.starts_with("sandbox-runner-")) as usize;
                own + walk(&e.path(), depth + 1)
            })
            .sum()
    }
    walk(Path::new("/sys/fs/cgroup"), 0)
}
