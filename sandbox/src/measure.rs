//! Deciding how a run ended and what it used, from what the parent observed and the
//! cgroup's accounting.

use crate::cgroup::{CgroupStats, Layout};
use crate::config::RunConfig;
use crate::landlock;
use crate::report::{PeakMemorySource, Report, Status};
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
    /// The streams' byte count or the box's disk budget was exceeded.
    pub output_over: bool,
    /// A file in the box or /tmp reached the file-size limit.
    pub file_size_hit: bool,
    /// Why the disk budget ran out, for the report's message.
    pub disk_note: Option<String>,
    /// Without a cgroup: the CPU of the run's processes read from /proc when it was killed.
    pub cpu_at_kill_us: Option<u64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub(crate) fn report(
    cfg: &RunConfig,
    layout: &Layout,
    e: &Ending,
    stats: Option<CgroupStats>,
    peak_source: Option<PeakMemorySource>,
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
                s.cpu_us = at_exit.cpu_us;
                // A warm run's figure at the program's end is its total alone (see
                // supervise::on_message): the split is then the one read after the run.
                if at_exit.user_us + at_exit.sys_us > 0 {
                    (s.user_us, s.sys_us) = (at_exit.user_us, at_exit.sys_us);
                }
            }
            // cpuacct's user/sys split is tick-based on many kernels; keep the exact total
            // and split it in rusage's proportion when the two disagree.
            let (u, sy) = if s.user_us + s.sys_us > 0 { (s.user_us, s.sys_us) } else { (ru_user, ru_sys) };
            let (u, sy) = rescale(s.cpu_us, u, sy);
            (s.cpu_us, u, sy, s.peak_memory, s.oom_kills)
        }
        None => match (e.exit, e.cpu_at_kill_us) {
            // Killed before init could count its reaped children: /proc's figure.
            (None, Some(cpu)) => (cpu, cpu, 0, maxrss, 0),
            _ => (ru_user + ru_sys, ru_user, ru_sys, maxrss, 0),
        },
    };

    let l = &cfg.limits;
    let status = decide(&Outcome {
        blocked: e.blocked.is_some(),
        oom_kills: oom,
        kill: e.kill,
        cpu_over: l.cpu_time_us.is_some_and(|lim| cpu_us > lim),
        output_over: e.output_over,
        file_size_hit: signal == Some(libc::SIGXFSZ) && e.file_size_hit,
        signal,
        exit_code,
    });
    let blocked = e.blocked.clone();
    let message = match (e.kill, status, exit_code) {
        (_, Status::Cancelled, _) => Some("the run was cancelled".into()),
        (_, Status::OutputLimit, _) if e.disk_note.is_some() => e.disk_note.clone(),
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
        peak_memory_source: peak_source.unwrap_or(PeakMemorySource::RuMaxrss),
        oom_killed: oom > 0,
        setup_time_us: (e.setup_ns / 1000) as u64,
        cgroup: layout.version(),
        enforced: enforced(cfg, layout, seccomp_on, ll_abi),
        landlock_abi: ll_abi,
        blocked_syscall: blocked,
        message,
        stdout: e.stdout.clone(),
        stderr: e.stderr.clone(),
    }
}

/// What the parent knows of how a run ended: the inputs of the status decision.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// Our seccomp listener received a notification (a `block` rule or a non-native ABI).
    pub blocked: bool,
    /// The run's cgroup counted OOM kills.
    pub oom_kills: u64,
    /// Why the runner killed the run, if it did.
    pub kill: Option<Kill>,
    /// The run's CPU accounting is over the limit.
    pub cpu_over: bool,
    /// Our byte count of the streams, or the box's disk budget, was exceeded.
    pub output_over: bool,
    /// SIGXFSZ ended the program and a file it wrote reached RLIMIT_FSIZE.
    pub file_size_hit: bool,
    pub signal: Option<i32>,
    pub exit_code: Option<i32>,
}

/// The status of a run, in order of precedence. A limit status needs the mechanism that
/// enforces it: the listener, the OOM counter, the CPU accounting, the timer, the byte count.
/// A signal the program sends itself (SIGSYS, SIGXCPU, SIGXFSZ, SIGKILL) is only `signaled`.
pub(crate) fn decide(o: &Outcome) -> Status {
    if o.blocked {
        Status::SyscallBlocked
    } else if o.oom_kills > 0 {
        Status::MemoryLimit
    } else if o.kill == Some(Kill::Cpu) || o.cpu_over {
        Status::TimeLimit
    } else if o.kill == Some(Kill::Wall) {
        Status::WallTimeLimit
    } else if o.kill == Some(Kill::Output) || o.output_over || o.file_size_hit {
        Status::OutputLimit
    } else if o.kill == Some(Kill::Cancelled) {
        Status::Cancelled
    } else if o.signal.is_some() {
        Status::Signaled
    } else if o.exit_code != Some(0) {
        Status::NonzeroExit
    } else {
        Status::Ok
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
    let root = nix::unistd::geteuid().is_root();
    if l.cpu_time_us.is_some() {
        put(
            "cpu_time",
            if have_cg {
                format!("cgroup {cg} CPU accounting, timer re-armed from usage (kill within 0.5 ms × CPUs)")
            } else {
                "runner's timer on the CPU of every process of the run read from /proc, and init's \
                 RUSAGE_CHILDREN after it (no cgroup)"
                    .into()
            },
        );
    }
    put("wall_time", format!("timerfd, {} µs from execve", l.effective_wall_us()));
    let default_mem = if l.memory_bytes.is_none() { " (default 512 MiB)" } else { "" };
    put(
        "memory",
        match layout {
            Layout::V1(h) if h.memsw => {
                format!("cgroup v1 memory.limit_in_bytes, swap off (memory.memsw.limit_in_bytes){default_mem}")
            }
            Layout::V1(_) => format!("cgroup v1 memory.limit_in_bytes, swappiness 0 (no swap accounting){default_mem}"),
            Layout::V2(_) => format!("cgroup v2 memory.max, memory.swap.max = 0{default_mem}"),
            Layout::None(_) => format!(
                "WEAK: RLIMIT_AS only (virtual address space per process, not resident memory; no cgroup){default_mem}"
            ),
        },
    );
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
    put(
        "output",
        format!("runner counts stdout + stderr (captured, files, terminal), {} bytes", l.effective_output_bytes()),
    );
    put(
        "disk",
        if root {
            format!(
                "box and rw binds in a tmpfs of {} bytes and {} files charged to the run, copied back after",
                l.effective_disk_bytes(),
                l.effective_disk_files()
            )
        } else if cfg.box_dir.is_some() || cfg.binds.iter().any(|b| b.writable) {
            "not bounded: rootless runs bind the user's own directories directly".into()
        } else {
            format!("box tmpfs of {} bytes and {} files", l.effective_disk_bytes(), l.effective_disk_files())
        },
    );
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
    put("seccomp", if seccomp_on { format!("policy {}", cfg.seccomp.describe()) } else { "off (policy none)".into() });
    put("landlock", if ll_abi > 0 { format!("ABI {ll_abi}") } else { "not available in this kernel".into() });
    if let Layout::None(why) = layout {
        put("cgroup", format!("none: {why}"));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(code: i32) -> Outcome {
        Outcome { exit_code: Some(code), ..Default::default() }
    }

    fn killed_by(sig: i32) -> Outcome {
        Outcome { signal: Some(sig), ..Default::default() }
    }

    #[test]
    fn statuses_come_only_from_the_mechanism_that_enforced_them() {
        let k = |kill: Kill| Outcome { kill: Some(kill), signal: Some(libc::SIGKILL), ..Default::default() };
        let table: Vec<(&str, Outcome, Status)> = vec![
            ("exit 0", exited(0), Status::Ok),
            ("exit 3", exited(3), Status::NonzeroExit),
            ("segfault", killed_by(libc::SIGSEGV), Status::Signaled),
            ("self-raised SIGSYS", killed_by(libc::SIGSYS), Status::Signaled),
            ("self-raised SIGXCPU", killed_by(libc::SIGXCPU), Status::Signaled),
            ("self-raised SIGXFSZ", killed_by(libc::SIGXFSZ), Status::Signaled),
            ("self-raised SIGKILL", killed_by(libc::SIGKILL), Status::Signaled),
            ("our listener", Outcome { blocked: true, ..k(Kill::Syscall) }, Status::SyscallBlocked),
            ("cpu timer", k(Kill::Cpu), Status::TimeLimit),
            ("cpu over after exit", Outcome { cpu_over: true, ..exited(0) }, Status::TimeLimit),
            ("wall timer", k(Kill::Wall), Status::WallTimeLimit),
            ("oom in a child, parent exits 0", Outcome { oom_kills: 1, ..exited(0) }, Status::MemoryLimit),
            ("oom then wall", Outcome { oom_kills: 1, ..k(Kill::Wall) }, Status::MemoryLimit),
            ("byte count", k(Kill::Output), Status::OutputLimit),
            ("disk budget, program exits 1", Outcome { output_over: true, ..exited(1) }, Status::OutputLimit),
            ("file size limit", Outcome { file_size_hit: true, ..killed_by(libc::SIGXFSZ) }, Status::OutputLimit),
            ("cancelled", k(Kill::Cancelled), Status::Cancelled),
            ("cpu limit before a cancel", Outcome { cpu_over: true, ..k(Kill::Cancelled) }, Status::TimeLimit),
            ("blocked beats oom", Outcome { blocked: true, oom_kills: 1, ..k(Kill::Syscall) }, Status::SyscallBlocked),
        ];
        for (what, outcome, want) in table {
            assert_eq!(decide(&outcome), want, "{what}: {outcome:?}");
        }
    }
}
