//! Cgroups: one run's group, with a v1 and a v2 backend chosen by looking at the mounts.
//!
//! The group is created under the runner's own cgroup (or a configured parent), limits are
//! written before the program starts, accounting is read during and after the run, and the
//! group is removed afterwards.

mod v1;
mod v2;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Limits the cgroup enforces.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CgroupLimits {
    pub memory_bytes: Option<u64>,
    /// Includes the sandbox's init.
    pub pids: Option<u64>,
}

/// Accounting read from a run's cgroup.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CgroupStats {
    pub cpu_us: u64,
    pub user_us: u64,
    pub sys_us: u64,
    pub peak_memory: u64,
    pub oom_kills: u64,
}

/// Which cgroup hierarchy this host gives us, found once per process.
#[derive(Clone, Debug)]
pub enum Layout {
    V1(v1::Hierarchies),
    V2(v2::Hierarchy),
    /// No usable cgroup; the reason says why.
    None(String),
}

impl Layout {
    pub fn name(&self) -> &'static str {
        match self {
            Layout::V1(_) => "v1",
            Layout::V2(_) => "v2",
            Layout::None(_) => "none",
        }
    }

    /// One line describing the layout, for `runner doctor`.
    pub fn describe(&self) -> String {
        match self {
            Layout::V1(h) => h.describe(),
            Layout::V2(h) => h.describe(),
            Layout::None(why) => format!("no usable cgroup: {why}"),
        }
    }
}

static DETECTED: OnceLock<Layout> = OnceLock::new();

/// The layout for runs with the default parent, detected once.
pub fn layout() -> &'static Layout {
    DETECTED.get_or_init(|| detect(None))
}

/// Looks at the mounts and the runner's own cgroup to decide what a run can use.
pub fn detect(parent: Option<&Path>) -> Layout {
    let mounts = match fs::read_to_string("/proc/self/mountinfo") {
        Ok(m) => m,
        Err(e) => return Layout::None(format!("cannot read /proc/self/mountinfo: {e}")),
    };
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v1_result = v1::Hierarchies::find(&mounts, &own, parent);
    if let Ok(h) = v1_result {
        return Layout::V1(h);
    }
    match v2::Hierarchy::find(&mounts, &own, parent) {
        Ok(h) => Layout::V2(h),
        Err(v2_why) => {
            let v1_why = v1_result.err().unwrap_or_default();
            Layout::None(format!("{v1_why}; {v2_why}"))
        }
    }
}

/// One run's cgroup.
pub(crate) enum RunCgroup {
    V1(v1::Group),
    V2(v2::Group),
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this host: the runner's pid and a per-process counter.
fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("sandbox-{}-{}", std::process::id(), n)
}

impl RunCgroup {
    pub fn create(layout: &Layout, limits: CgroupLimits) -> io::Result<Option<RunCgroup>> {
        let name = unique_name();
        Ok(match layout {
            Layout::V1(h) => Some(RunCgroup::V1(v1::Group::create(h, &name, limits)?)),
            Layout::V2(h) => Some(RunCgroup::V2(v2::Group::create(h, &name, limits)?)),
            Layout::None(_) => None,
        })
    }

    /// Moves a process (by host pid) into the group.
    pub fn attach(&self, pid: i32) -> io::Result<()> {
        match self {
            RunCgroup::V1(g) => g.attach(pid),
            RunCgroup::V2(g) => g.attach(pid),
        }
    }

    /// Files init writes "0" to, to move itself in (v1); empty when the parent attaches it.
    pub fn self_attach_files(&self) -> Vec<std::ffi::CString> {
        match self {
            RunCgroup::V1(g) => g.tasks_files(),
            RunCgroup::V2(_) => Vec::new(),
        }
    }

    /// CPU time used so far by the whole group, microseconds. Called on the timer path.
    pub fn cpu_usage_us(&self) -> io::Result<u64> {
        match self {
            RunCgroup::V1(g) => g.cpu_usage_us(),
            RunCgroup::V2(g) => g.cpu_usage_us(),
        }
    }

    pub fn stats(&self) -> io::Result<CgroupStats> {
        match self {
            RunCgroup::V1(g) => g.stats(),
            RunCgroup::V2(g) => g.stats(),
        }
    }

    /// Kills every process in the group where the kernel offers it (v2 `cgroup.kill`). On v1
    /// the pid namespace does this job: killing its init kills every process in it.
    pub fn kill(&self) {
        if let RunCgroup::V2(g) = self {
            g.kill();
        }
    }

    /// Removes the group. Waits briefly for the kernel to finish tearing down dead tasks.
    pub fn destroy(self) -> io::Result<()> {
        match self {
            RunCgroup::V1(g) => g.destroy(),
            RunCgroup::V2(g) => g.destroy(),
        }
    }

    pub fn peak_source(&self) -> &'static str {
        match self {
            RunCgroup::V1(_) => "memory.max_usage_in_bytes",
            RunCgroup::V2(g) => g.peak_source(),
        }
    }

    pub fn version(&self) -> &'static str {
        match self {
            RunCgroup::V1(_) => "v1",
            RunCgroup::V2(_) => "v2",
        }
    }
}

/// Writes a control file, naming it in the error.
pub(crate) fn write_file(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|e| io::Error::new(e.kind(), format!("write {value:?} to {}: {e}", path.display())))
}

pub(crate) fn read_file(path: &Path) -> io::Result<String> {
    fs::read_to_string(path).map_err(|e| io::Error::new(e.kind(), format!("read {}: {e}", path.display())))
}

pub(crate) fn read_u64(path: &Path) -> io::Result<u64> {
    let text = read_file(path)?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{}: not a number: {text:?}", path.display())))
}

/// The value of `key` in a flat-keyed file such as `cpu.stat` or `memory.events`.
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        (parts.next()? == key).then(|| parts.next()?.parse().ok())?
    })
}

/// Removes a cgroup directory; retries while the kernel still lists exiting tasks.
pub(crate) fn remove_dir(path: &Path) -> io::Result<()> {
    let mut delay = std::time::Duration::from_micros(100);
    for _ in 0..40 {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("rmdir {}: {e}", path.display()))),
        }
    }
    Err(io::Error::other(format!("rmdir {}: still busy", path.display())))
}

/// Mount points of a filesystem type in mountinfo, with the super options (field after
/// the fstype's source), e.g. `("cgroup", "/sys/fs/cgroup/memory", "rw,memory")`.
pub(crate) fn mounts_of<'a>(mountinfo: &'a str, fstype: &str) -> Vec<(PathBuf, &'a str)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut r = right.split_whitespace();
            if r.next()? != fstype {
                return None;
            }
            let _source = r.next()?;
            let super_opts = r.next().unwrap_or("");
            let mount_point = left.split_whitespace().nth(4)?;
            Some((PathBuf::from(unescape_mount_path(mount_point)), super_opts))
        })
        .collect()
}

fn unescape_mount_path(p: &str) -> String {
    p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values_are_found_by_exact_key() {
        let text = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
        assert_eq!(keyed_value(text, "usage_usec"), Some(1500));
        assert_eq!(keyed_value(text, "system_usec"), Some(500));
        assert_eq!(keyed_value(text, "usage"), None);
    }

    #[test]
    fn mountinfo_lists_cgroup_mounts_with_their_options() {
        let info = "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n\
                    31 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let v1 = mounts_of(info, "cgroup");
        assert_eq!(v1, vec![(PathBuf::from("/sys/fs/cgroup/memory"), "rw,memory")]);
        let v2 = mounts_of(info, "cgroup2");
        assert_eq!(v2[0].0, PathBuf::from("/sys/fs/cgroup/unified"));
    }
}
