//! cgroup v2 backend: one directory in the unified hierarchy.
//!
//! Memory: `memory.max` with `memory.swap.max = 0`; peak from `memory.peak` (Linux ≥ 5.19);
//! OOM kills from `memory.events`' `oom_kill`; CPU from `cpu.stat` (`usage_usec`,
//! `user_usec`, `system_usec`); processes from `pids.max`; the whole tree dies by `cgroup.kill`.

use super::{keyed_value, mounts_of, read_file, read_u64, remove_dir, write_file, CgroupLimits, CgroupStats};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const NEEDED: [&str; 3] = ["memory", "pids", "cpu"];

/// Where the runs' groups go in the unified hierarchy.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    /// The group whose children are the runs' groups.
    pub parent: PathBuf,
    /// The parent is the runner's own group, so `prepare` may have to move the runner into
    /// a leaf child first (the kernel's no-internal-processes rule).
    own_group: bool,
    /// The parent is the hierarchy's root, which the no-internal-processes rule exempts:
    /// controllers are enabled there without moving anybody.
    root: bool,
}

impl Hierarchy {
    /// Finds the unified hierarchy and a parent group whose children get memory, pids and cpu.
    pub fn find(mountinfo: &str, own_cgroups: &str, parent: Option<&Path>) -> Result<Hierarchy, String> {
        let mounts = mounts_of(mountinfo, "cgroup2");
        let Some((mount, _)) = mounts.first() else {
            return Err("cgroup v2: no unified hierarchy mounted".into());
        };
        let rel = match parent {
            Some(p) => p.to_string_lossy().trim_start_matches('/').to_string(),
            None => own_cgroups
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string(),
        };
        let dir = mount.join(&rel);
        let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        let missing: Vec<&str> = NEEDED.iter().copied().filter(|c| !has_word(&available, c)).collect();
        if !missing.is_empty() {
            return Err(format!("cgroup v2: controllers {} not available in {}", missing.join(", "), dir.display()));
        }
        // Detection only looks: enabling the controllers (and, if need be, moving this
        // process into a leaf) waits for the first run, in `prepare`.
        let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
        if !NEEDED.iter().all(|c| has_word(&enabled, c)) {
            if let Err(e) = nix::unistd::access(&dir.join("cgroup.subtree_control"), nix::unistd::AccessFlags::W_OK) {
                return Err(format!("cgroup v2: cannot enable controllers in {}: {}", dir.display(), e.desc()));
            }
        }
        Ok(Hierarchy { parent: dir, own_group: parent.is_none(), root: rel.is_empty() })
    }

    /// Makes the parent's children get memory, pids and cpu. Done once per process, at the
    /// first run. When the parent is the runner's own group and holds processes, the kernel
    /// refuses controllers for its children, so the whole runner process moves into a leaf
    /// `sandbox-runner-<pid>` first; the sweep removes that leaf once the runner is gone.
    /// Embedders who do not want their process moved give `RunConfig::cgroup_parent` a
    /// delegated group with the controllers already enabled.
    pub fn prepare(&self) -> io::Result<()> {
        enable_controllers(&self.parent, self.own_group, self.root)
    }

    pub fn describe(&self) -> String {
        format!("cgroup v2: run groups under {} with memory, pids, cpu", self.parent.display())
    }
}

fn has_word(text: &str, word: &str) -> bool {
    text.split_whitespace().any(|w| w == word)
}

/// Makes `dir`'s children get the needed controllers. The kernel refuses that while `dir`
/// itself holds processes ("no internal processes"), so when `dir` is the runner's own group
/// the runner first moves itself into a leaf child `dir/sandbox-runner-<pid>`. The root
/// group is exempt from that rule, so there nobody moves.
fn enable_controllers(dir: &Path, own_group: bool, root: bool) -> io::Result<()> {
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if NEEDED.iter().all(|c| has_word(&enabled, c)) {
        return Ok(());
    }
    let procs = read_file(&dir.join("cgroup.procs"))?;
    if !procs.trim().is_empty() && !root {
        if !own_group {
            return Err(io::Error::other(format!(
                "{} holds processes and has no controllers for its children",
                dir.display()
            )));
        }
        let leaf = dir.join(format!("{}{}", super::RUNNER_LEAF_PREFIX, std::process::id()));
        match fs::create_dir(&leaf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("mkdir {}: {e}", leaf.display()))),
        }
        write_file(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
    }
    let wanted: Vec<String> = NEEDED.iter().map(|c| format!("+{c}")).collect();
    write_file(&dir.join("cgroup.subtree_control"), &wanted.join(" "))
}

/// One run's group. Removed by `destroy`, or on drop.
pub struct Group {
    dir: PathBuf,
    has_peak: bool,
    removed: bool,
}

impl Group {
    pub fn create(h: &Hierarchy, name: &str, limits: CgroupLimits) -> io::Result<Group> {
        let dir = h.parent.join(name);
        fs::create_dir(&dir).map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", dir.display())))?;
        let mut g = Group { has_peak: dir.join("memory.peak").exists(), dir, removed: true };
        let result = (|| {
            if let Some(bytes) = limits.memory_bytes {
                write_file(&g.dir.join("memory.max"), &bytes.to_string())?;
            }
            if g.dir.join("memory.swap.max").exists() {
                write_file(&g.dir.join("memory.swap.max"), "0")?;
            }
            if let Some(n) = limits.pids {
                write_file(&g.dir.join("pids.max"), &n.to_string())?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_dir(&g.dir);
            return Err(e);
        }
        g.removed = false;
        Ok(g)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn cpu_usage_us(&self) -> io::Result<u64> {
        let stat = read_file(&self.dir.join("cpu.stat"))?;
        keyed_value(&stat, "usage_usec")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "cpu.stat: no usage_usec"))
    }

    pub fn stats(&self) -> io::Result<CgroupStats> {
        let stat = read_file(&self.dir.join("cpu.stat"))?;
        let events = read_file(&self.dir.join("memory.events"))?;
        let peak = if self.has_peak {
            read_u64(&self.dir.join("memory.peak"))?
        } else {
            read_u64(&self.dir.join("memory.current"))?
        };
        Ok(CgroupStats {
            cpu_us: keyed_value(&stat, "usage_usec").unwrap_or(0),
            user_us: keyed_value(&stat, "user_usec").unwrap_or(0),
            sys_us: keyed_value(&stat, "system_usec").unwrap_or(0),
            peak_memory: peak,
            oom_kills: keyed_value(&events, "oom_kill").unwrap_or(0),
        })
    }

    pub fn kill(&self) {
        let _ = write_file(&self.dir.join("cgroup.kill"), "1");
    }

    pub fn peak_source(&self) -> crate::report::PeakMemorySource {
        if self.has_peak {
            crate::report::PeakMemorySource::MemoryPeak
        } else {
            crate::report::PeakMemorySource::MemoryCurrent
        }
    }

    pub fn destroy(&mut self) -> io::Result<()> {
        self.removed = true;
        remove_dir(&self.dir)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.removed {
            self.kill();
            let _ = self.destroy();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_without_controllers_is_refused_with_the_missing_ones_named() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("cgroup.controllers"), "cpuset cpu io\n").unwrap();
        let info = format!("31 25 0:27 / {} rw - cgroup2 cgroup2 rw\n", tmp.path().display());
        let err = Hierarchy::find(&info, "0::/\n", None).unwrap_err();
        assert!(err.contains("memory, pids"), "{err}");
    }

    #[test]
    fn at_the_root_controllers_are_enabled_without_moving_the_runner() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
        fs::write(tmp.path().join("cgroup.procs"), "1\n2\n").unwrap();
        let info = format!("31 25 0:27 / {} rw - cgroup2 cgroup2 rw\n", tmp.path().display());
        let h = Hierarchy::find(&info, "0::/\n", None).unwrap();
        h.prepare().unwrap();
        let leaves: Vec<_> =
            fs::read_dir(tmp.path()).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).collect();
        assert!(leaves.is_empty(), "the runner moved into a leaf at the root: {leaves:?}");
        let enabled = fs::read_to_string(tmp.path().join("cgroup.subtree_control")).unwrap();
        assert_eq!(enabled, "+memory +pids +cpu");
    }

    #[test]
    fn a_delegated_parent_with_controllers_enabled_is_used_as_is() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("svc")).unwrap();
        fs::write(tmp.path().join("svc/cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::write(tmp.path().join("svc/cgroup.subtree_control"), "cpu memory pids\n").unwrap();
        let info = format!("31 25 0:27 / {} rw - cgroup2 cgroup2 rw\n", tmp.path().display());
        let h = Hierarchy::find(&info, "0::/svc\n", None).unwrap();
        h.prepare().unwrap();
        assert_eq!(h.parent, tmp.path().join("svc"));
    }
}
