//! What this host supports and what a run here will enforce, for `runner doctor`.

use crate::cgroup;
use crate::landlock;
use crate::{Command, Status};
use serde::Serialize;
use std::time::Duration;

/// What `runner doctor` prints.
#[derive(Debug, Serialize)]
pub struct HostReport {
    /// `Linux <release>`.
    pub kernel: String,
    /// `root` (program runs as a dedicated unprivileged host id) or `rootless`.
    pub mode: String,
    /// `v1`, `v2` or `none`.
    pub cgroup: String,
    /// Where run groups go, or why no cgroup can be used.
    pub cgroup_detail: String,
    /// Whether user namespaces can be created.
    pub user_namespaces: String,
    /// Whether seccomp filters can be installed.
    pub seccomp: String,
    /// The Landlock ABI of the kernel (0: unavailable).
    pub landlock_abi: u32,
    /// A real trial run of /bin/true with a CPU, memory and pids limit.
    pub trial_run: String,
    /// What the trial run enforced, limit by limit.
    pub enforced: Vec<(String, String)>,
    /// What to do about weaknesses found (e.g. how to get a delegated cgroup).
    pub advice: Vec<String>,
    /// The trial run worked.
    pub ok: bool,
}

/// Looks at the host and makes one trial run.
pub fn doctor() -> HostReport {
    let kernel = nix::sys::utsname::uname()
        .map(|u| format!("{} {}", u.sysname().to_string_lossy(), u.release().to_string_lossy()))
        .unwrap_or_else(|_| "unknown".into());
    let mode = if nix::unistd::geteuid().is_root() { "root" } else { "rootless" };
    let layout = cgroup::layout();
    let userns = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .map(|s| match s.trim() {
            "0" => "disabled (user.max_user_namespaces = 0)".to_string(),
            n => format!("enabled (max {n})"),
        })
        .unwrap_or_else(|_| "unknown".into());
    // SAFETY: PR_GET_SECCOMP takes no pointers and only returns the calling thread's mode.
    let seccomp_mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let seccomp = match seccomp_mode {
        0 => "available (this process is unfiltered)".to_string(),
        2 => "available (this process already runs under a filter; ours stack on top)".to_string(),
        _ => "unavailable".to_string(),
    };
    let trial = Command::new("/bin/true").cpu_time(Duration::from_secs(1)).memory(64 << 20).pids(8).run();
    let (trial_run, enforced, ok) = match trial {
        Ok(r) if r.status == Status::Ok => (
            format!("ok: setup {} µs, wall {} µs", r.setup_time_us, r.wall_time_us),
            r.enforced.into_iter().collect(),
            true,
        ),
        Ok(r) => (format!("{}: {}", r.status.as_str(), r.message.unwrap_or_default()), Vec::new(), false),
        Err(e) => (format!("error: {e}"), Vec::new(), false),
    };
    let mut advice = Vec::new();
    if matches!(layout, cgroup::Layout::None(_)) {
        advice.push(
            "no usable cgroup: memory is bounded only by RLIMIT_AS (address space) and CPU is counted from /proc. \
             To get real limits as an ordinary user, run the runner in a delegated cgroup: \
             systemd-run --user --scope -p Delegate=yes runner run ..."
                .to_string(),
        );
    }
    HostReport {
        advice,
        kernel,
        mode: mode.into(),
        cgroup: layout.name().into(),
        cgroup_detail: layout.describe(),
        user_namespaces: userns,
        seccomp,
        landlock_abi: landlock::abi_version(),
        trial_run,
        enforced,
        ok,
    }
}
