//! Cgroups: one run's group, with a v1 and a v2 backend chosen by looking at the mounts.
//!
//! The group is created under the runner's own cgroup (or a configured parent), limits are
//! written before the program starts, accounting is read during and after the run, and the
//! group is removed afterwards.

mod v1;
mod v2;

use crate::report::{CgroupVersion, PeakMemorySource};
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
    /// memory, cpuacct and pids on cgroup v1 (legacy or hybrid hosts).
    V1(v1::Hierarchies),
    /// The unified hierarchy with memory, pids and cpu available.
    V2(v2::Hierarchy),
    /// No usable cgroup; the reason says why.
    None(String),
}

impl Layout {
    /// `v1`, `v2` or `none`.
    pub fn name(&self) -> &'static str {
        self.version().as_str()
    }

    /// The version runs on this layout report.
    pub fn version(&self) -> CgroupVersion {
        match self {
            Layout::V1(_) => CgroupVersion::V1,
            Layout::V2(_) => CgroupVersion::V2,
            Layout::None(_) => CgroupVersion::None,
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

/// Run groups are named `sandbox-<runner pid>-<n>`; the sweep reads the pid back.
pub(crate) const RUN_PREFIX: &str = "sandbox-";
/// The v2 leaf a runner may have to move itself into: `sandbox-runner-<pid>`.
pub(crate) const RUNNER_LEAF_PREFIX: &str = "sandbox-runner-";

/// A name unique within this host: the runner's pid and a per-process counter.
fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{RUN_PREFIX}{}-{}", std::process::id(), n)
}

/// Groups a warm environment keeps from run to run (v1: cpuacct and pids; see `v1::Kept`).
pub enum Kept {
    /// The cpuacct and pids groups.
    V1(v1::Kept),
}

impl Kept {
    /// Groups to keep for `layout`, if it has any worth keeping (v1).
    pub fn create(layout: &Layout) -> io::Result<Option<Kept>> {
        match layout {
            Layout::V1(h) => Ok(Some(Kept::V1(v1::Kept::create(h, &unique_name())?))),
            _ => Ok(None),
        }
    }

    /// Proves them as new before a run (see `v1::Kept::reset`).
    pub fn reset(&self) -> io::Result<()> {
        match self {
            Kept::V1(k) => k.reset(),
        }
    }
}

/// v2 parents already prepared by this process.
static PREPARED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn prepare_v2(h: &v2::Hierarchy) -> io::Result<()> {
    let mut done = PREPARED.lock().unwrap_or_else(|p| p.into_inner());
    if !done.contains(&h.parent) {
        h.prepare()?;
        done.push(h.parent.clone());
    }
    Ok(())
}

/// What `sweep` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Run groups (and v2 runner leaves) of runners that are gone.
    pub cgroups: Vec<PathBuf>,
}

/// Removes what runners that died without cleaning up left in `layout`'s hierarchies: run
/// groups `sandbox-<pid>-<n>` and v2 leaves `sandbox-runner-<pid>` whose runner pid is no
/// longer alive. Their processes died with the runner (the parent-death signal kills the
/// sandbox's init, and with it the pid namespace); anything still listed is killed first.
/// Groups of live runners, and anything not named by us, are never touched.
pub fn sweep(layout: &Layout) -> Swept {
    let parents = match layout {
        Layout::V1(h) => v1::Group::parents(h),
        Layout::V2(h) => vec![h.parent.clone()],
        Layout::None(_) => Vec::new(),
    };
    let mut swept = Swept::default();
    for parent in parents {
        let Ok(entries) = fs::read_dir(&parent) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = dead_owner(&name) else { continue };
            let dir = parent.join(&name);
            if crate::sys::process_running(pid) {
                continue;
            }
            kill_members(&dir);
            if remove_dir(&dir).is_ok() {
                swept.cgroups.push(dir);
            }
        }
    }
    swept
}

/// The runner pid in one of our group names, or None for names that are not ours.
fn dead_owner(name: &str) -> Option<i32> {
    if let Some(rest) = name.strip_prefix(RUNNER_LEAF_PREFIX) {
        return rest.parse().ok();
    }
    let rest = name.strip_prefix(RUN_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Kills what is left in a dead runner's group (its own sandboxed processes).
fn kill_members(dir: &Path) {
    if dir.join("cgroup.kill").exists() {
        let _ = write_file(&dir.join("cgroup.kill"), "1");
        return;
    }
    for pid in fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().lines() {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            // SAFETY: kill takes a pid and a signal number; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl RunCgroup {
    pub fn create(layout: &Layout, limits: CgroupLimits) -> io::Result<Option<RunCgroup>> {
        let name = unique_name();
        Ok(match layout {
            Layout::V1(h) => Some(RunCgroup::V1(v1::Group::create(h, &name, limits)?)),
            Layout::V2(h) => {
                prepare_v2(h)?;
                Some(RunCgroup::V2(v2::Group::create(h, &name, limits)?))
            }
            Layout::None(_) => None,
        })
    }

    /// A run's groups in a warm environment that keeps some of them (`Kept`, v1; on v2 and
    /// without one, as `create`).
    pub fn create_in(layout: &Layout, limits: CgroupLimits, kept: Option<&Kept>) -> io::Result<Option<RunCgroup>> {
        match (layout, kept) {
            (Layout::V1(h), Some(Kept::V1(k))) => {
                Ok(Some(RunCgroup::V1(v1::Group::create_in(h, &unique_name(), limits, k)?)))
            }
            _ => RunCgroup::create(layout, limits),
        }
    }

    /// The file holding the group's CPU usage (v1 `cpuacct.usage` in ns, v2 `cpu.stat` with
    /// `usage_usec`), for init to read at the program's end.
    pub fn cpu_usage_file(&self) -> Option<std::ffi::CString> {
        use std::os::unix::ffi::OsStrExt;
        let path = match self {
            RunCgroup::V1(g) => g.cpuacct_dir().join("cpuacct.usage"),
            RunCgroup::V2(g) => g.dir().join("cpu.stat"),
        };
        std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
    }

    /// The files a run's program writes "0" to, to move itself in before its execve: v1
    /// `tasks` of each group, v2 `cgroup.procs`.
    fn entry_paths(&self) -> Vec<PathBuf> {
        match self {
            RunCgroup::V1(g) => g.tasks_paths().into(),
            RunCgroup::V2(g) => vec![g.dir().join("cgroup.procs")],
        }
    }

    /// `entry_paths` for a cold run's init to open (see `ChildPlan::self_attach`).
    pub fn self_attach_files(&self) -> Vec<std::ffi::CString> {
        use std::os::unix::ffi::OsStrExt;
        self.entry_paths().iter().filter_map(|p| std::ffi::CString::new(p.as_os_str().as_bytes()).ok()).collect()
    }

    /// Files a warm run's program writes "0" to, to move itself in before its execve, open
    /// for writing: v1 `tasks` (moves only the writing task, see `self_attach_files`), v2
    /// `cgroup.procs` (moves the writer's thread group, which is the pre-exec child alone:
    /// it shares the holder's memory but not its thread group). Opened by the runner, as
    /// root, on the host; the kernel checks a v2 move against the credentials the file was
    /// opened with.
    pub fn entry_files(&self) -> io::Result<Vec<fs::File>> {
        match self {
            RunCgroup::V1(g) => g.entry_files(),
            RunCgroup::V2(_) => self.entry_paths().iter().map(|p| open_for_entry(p)).collect(),
        }
    }

    /// The group's CPU usage file (see `cpu_usage_file`), open for reading.
    pub fn usage_file(&self) -> io::Result<fs::File> {
        match self {
            RunCgroup::V1(g) => g.usage_file(),
            RunCgroup::V2(g) => fs::File::open(g.dir().join("cpu.stat")),
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
    /// Dropping a group removes it too (ignoring errors).
    pub fn destroy(&mut self) -> io::Result<()> {
        match self {
            RunCgroup::V1(g) => g.destroy(),
            RunCgroup::V2(g) => g.destroy(),
        }
    }

    pub fn peak_source(&self) -> PeakMemorySource {
        match self {
            RunCgroup::V1(_) => PeakMemorySource::MaxUsageInBytes,
            RunCgroup::V2(g) => g.peak_source(),
        }
    }

    pub fn version(&self) -> CgroupVersion {
        match self {
            RunCgroup::V1(_) => CgroupVersion::V1,
            RunCgroup::V2(_) => CgroupVersion::V2,
        }
    }
}

/// Opens a group's entry file (`tasks`, `cgroup.procs`) for writing, naming it in the error.
pub(crate) fn open_for_entry(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))
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
    fn only_our_group_names_are_swept() {
        assert_eq!(dead_owner("sandbox-123-4"), Some(123));
        assert_eq!(dead_owner("sandbox-runner-77"), Some(77));
        assert_eq!(dead_owner("sandbox-123"), None);
        assert_eq!(dead_owner("sandbox-x-1"), None);
        assert_eq!(dead_owner("user.slice"), None);
        assert_eq!(dead_owner("sandboxed-1-2"), None);
    }

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
