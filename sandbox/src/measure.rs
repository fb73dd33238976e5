//! Deciding how a run ended and what it used, from what the parent observed and the
//! cgroup's accounting.

use crate::cgroup::{CgroupStats, Layout};
use crate::config::RunConfig;
use crate::landlock;
use crate::report::{Report, Status};
use std::collections::BTreeMap;

/// Why the parent killed the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kill {
    Cpu,
    Wall,
    Output,
    Syscall,
    Cancelled,
}

/// What the parent saw of one run.
#[derive(Debug, Default)]
pub(crate) struct Ending {
    /// CLOCK_MONOTONIC ns at the program's execve.
    pub t0: i64,
    /// When the parent killed the run, if it did.
    pub t_kill: i64,
    /// When init was seen dead.
    pub t_end: i64,
    pub setup_ns: i64,
    /// From init: [wait status, utime µs, stime µs, maxrss KiB, exit time ns].
    pub exit: Option<[i64; 5]>,
    pub kill: Option<Kill>,
    pub blocked: Option<String>,
    /// The cgroup's accounting read when init reported the program's exit.
    pub exit_stats: Option<CgroupStats>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub(crate) fn report(
    cfg: &RunConfig,
    layout: &Layout,
    e: &Ending,
    stats: Option<CgroupStats>,
    peak_source: Option<&str>,
    seccomp_on: bool,
) -> Report {
    let (exit_code, signal) = match e.exit {
        Some(v) => {
            let status = v[0] as i32;
            if libc::WIFEXITED(status) {
                (Some(libc::WEXITSTATUS(status)), None)
            } else if libc::WIFSIGNALED(status) {
                (None, Some(libc::WTERMSIG(status)))
            } else {
                (None, None)
            }
        }
        None => (None, Some(libc::SIGKILL)),
    };
    let (ru_user, ru_sys, maxrss) = e.exit.map_or((0, 0, 0), |v| (v[1] as u64, v[2] as u64, v[3] as u64 * 1024));
    let end = match (e.exit, e.kill) {
        (Some(v), _) => v[4],
        (None, Some(_)) => e.t_kill,
        (None, None) => e.t_end,
    };
    let wall_us = ((end - e.t0).max(0) / 1000) as u64;

    let (cpu_us, user_us, sys_us, peak, oom) = match stats {
        Some(mut s) => {
            if let Some(at_exit) = e.exit_stats {
                (s.cpu_us, s.user_us, s.sys_us) = (at_exit.cpu_us, at_exit.user_us, at_exit.sys_us);
            }
            // cpuacct's user/sys split is tick-based on many kernels; keep the exact total
            // and split it in rusage's proportion when the two disagree.
            let (u, sy) = if s.user_us + s.sys_us > 0 { (s.user_us, s.sys_us) } else { (ru_user, ru_sys) };
            let (u, sy) = rescale(s.cpu_us, u, sy);
            (s.cpu_us, u, sy, s.peak_memory, s.oom_kills)
        }
        None => (ru_user + ru_sys, ru_user, ru_sys, maxrss, 0),
    };

    let l = &cfg.limits;
    let cpu_over = l.cpu_time_us.is_some_and(|lim| cpu_us > lim);
    let status = if e.blocked.is_some() || (e.kill.is_none() && signal == Some(libc::SIGSYS)) {
        Status::SyscallBlocked
    } else if oom > 0 {
        Status::MemoryLimit
    } else if e.kill == Some(Kill::Cpu) || cpu_over || signal == Some(libc::SIGXCPU) {
        Status::TimeLimit
    } else if e.kill == Some(Kill::Wall) {
        Status::WallTimeLimit
    } else if e.kill == Some(Kill::Output) || signal == Some(libc::SIGXFSZ) {
        Status::OutputLimit
    } else if e.kill == Some(Kill::Cancelled) {
        Status::SetupError
    } else if signal.is_some() {
        Status::Signaled
    } else if exit_code != Some(0) {
        Status::NonzeroExit
    } else {
        Status::Ok
    };
    let blocked = match (&e.blocked, status) {
        (Some(name), _) => Some(name.clone()),
        (None, Status::SyscallBlocked) => Some("syscall of a non-native ABI (i386 or x32)".into()),
        _ => None,
    };
    let message = match (e.kill, status, exit_code) {
        (Some(Kill::Cancelled), _, _) => Some("the run was cancelled (the runner was interrupted)".into()),
        (_, Status::NonzeroExit, Some(127)) if wall_us < 100_000 && maxrss > 0 && maxrss < (4 << 20) => {
            Some("exit 127 right after start: the dynamic loader may have failed (a library missing in the sandbox, or limits too small for it)".into())
        }
        _ => None,
    };

    let ll_abi = landlock::Plan::for_running_kernel().map_or(0, |p| p.abi);
    Report {
        status,
        exit_code,
        signal,
        cpu_time_us: cpu_us,
        user_time_us: user_us,
        sys_time_us: sys_us,
        wall_time_us: wall_us,
        peak_memory_bytes: peak,
        max_rss_bytes: maxrss,
        peak_memory_source: peak_source.unwrap_or("ru_maxrss").to_string(),
        oom_killed: oom > 0,
        setup_time_us: (e.setup_ns / 1000) as u64,
        cgroup: layout.name().to_string(),
        enforced: enforced(cfg, layout, seccomp_on, ll_abi),
        landlock_abi: ll_abi,
        blocked_syscall: blocked,
        message,
        stdout: e.stdout.clone(),
        stderr: e.stderr.clone(),
    }
}

/// Splits `total` between user and system in the proportion `u : s`.
fn rescale(total: u64, u: u64, s: u64) -> (u64, u64) {
    let sum = u + s;
    if sum == 0 {
        return (total, 0);
    }
    let user = (total as u128 * u as u128 / sum as u128) as u64;
    (user, total - user)
}

/// Each limit asked for and what enforces it on this host; also the isolation applied.
pub(crate) fn enforced(cfg: &RunConfig, layout: &Layout, seccomp_on: bool, ll_abi: u32) -> BTreeMap<String, String> {
    let l = &cfg.limits;
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    let cg = layout.name();
    let have_cg = !matches!(layout, Layout::None(_));
    if l.cpu_time_us.is_some() {
        put(
            "cpu_time",
            if have_cg {
                format!("cgroup {cg} CPU accounting, timer re-armed from usage (kill within 0.5 ms × CPUs)")
            } else {
                "RLIMIT_CPU (whole seconds, per process); checked against rusage after exit".into()
            },
        );
    }
    put("wall_time", format!("timerfd, {} µs from execve", l.effective_wall_us()));
    if l.memory_bytes.is_some() {
        put(
            "memory",
            match layout {
                Layout::V1(h) if h.memsw => {
                    "cgroup v1 memory.limit_in_bytes, swap off (memory.memsw.limit_in_bytes)".into()
                }
                Layout::V1(_) => "cgroup v1 memory.limit_in_bytes, swappiness 0 (no swap accounting)".into(),
                Layout::V2(_) => "cgroup v2 memory.max, memory.swap.max = 0".into(),
                Layout::None(_) => "RLIMIT_AS only (virtual address space, not resident memory; no cgroup)".into(),
            },
        );
    }
    let default_note = if l.pids.is_none() { format!(" (default {})", l.effective_pids()) } else { String::new() };
    put(
        "pids",
        if have_cg {
            format!("cgroup {cg} pids.max and RLIMIT_NPROC{default_note}")
        } else {
            format!("RLIMIT_NPROC only (no cgroup){default_note}")
        },
    );
    if l.file_size_bytes.is_some() {
        put("file_size", "RLIMIT_FSIZE".into());
    }
    if matches!(cfg.stdout, crate::Stdio::Capture) || matches!(cfg.stderr, crate::Stdio::Capture) {
        put("output", format!("runner counts captured stdout + stderr, {} bytes", l.effective_output_bytes()));
    }
    put(
        "kill",
        match layout {
            Layout::V2(_) => "cgroup.kill, and SIGKILL to the pid namespace's init".into(),
            _ => "SIGKILL to the pid namespace's init, which takes every process in it".into(),
        },
    );
    put("stack", "RLIMIT_STACK".into());
    put("open_files", "RLIMIT_NOFILE".into());
    put("namespaces", "user, pid, mount, network, ipc, uts, cgroup".into());
    put("seccomp", if seccomp_on { format!("policy {}", cfg.seccomp) } else { "off (policy none)".into() });
    put("landlock", if ll_abi > 0 { format!("ABI {ll_abi}") } else { "not available in this kernel".into() });
    if let Layout::None(why) = layout {
        put("cgroup", format!("none: {why}"));
    }
    m
}
