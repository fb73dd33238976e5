//! cgroup v1 backend: one directory per controller hierarchy (memory, cpuacct, pids).
//!
//! Works on legacy and hybrid hosts. Memory: `memory.limit_in_bytes`, with swap off through
//! `memory.memsw.limit_in_bytes` where the kernel has swap accounting; peak from
//! `memory.max_usage_in_bytes`; OOM kills from `memory.oom_control`'s `oom_kill`. CPU from
//! `cpuacct.usage` (nanoseconds, exact) and `cpuacct.usage_user`/`usage_sys`.

use super::{
    keyed_value, mounts_of, open_for_entry, read_file, read_u64, remove_dir, write_file, CgroupLimits, CgroupStats,
};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const CONTROLLERS: [&str; 3] = ["memory", "cpuacct", "pids"];

/// Where the runs' groups go in each v1 hierarchy.
#[derive(Clone, Debug)]
pub struct Hierarchies {
    pub memory: PathBuf,
    pub cpuacct: PathBuf,
    pub pids: PathBuf,
    /// Swap accounting present: swap can be switched off per run.
    pub memsw: bool,
}

impl Hierarchies {
    /// Finds the v1 hierarchies of memory, cpuacct and pids and the runner's place in each.
    pub fn find(mountinfo: &str, own_cgroups: &str, parent: Option<&Path>) -> Result<Hierarchies, String> {
        let mounts = mounts_of(mountinfo, "cgroup");
        let mut found: Vec<PathBuf> = Vec::new();
        for ctrl in CONTROLLERS {
            let Some((mount, _)) = mounts.iter().find(|(_, opts)| opts.split(',').any(|o| o == ctrl)) else {
                return Err(format!("cgroup v1: no {ctrl} hierarchy mounted"));
            };
            let rel = match parent {
                Some(p) => p.to_string_lossy().trim_start_matches('/').to_string(),
                None => own_path(own_cgroups, ctrl).unwrap_or_default(),
            };
            let dir = mount.join(rel);
            if !dir.is_dir() {
                return Err(format!("cgroup v1: {} is not a directory", dir.display()));
            }
            found.push(dir);
        }
        let memsw = found[0].join("memory.memsw.limit_in_bytes").exists();
        let h = Hierarchies { memory: found.remove(0), cpuacct: found.remove(0), pids: found.remove(0), memsw };
        // Rootless runners usually may not create groups here: say so now, not at each run.
        if let Err(e) = nix::unistd::access(&h.memory, nix::unistd::AccessFlags::W_OK) {
            return Err(format!("cgroup v1: cannot create groups under {}: {}", h.memory.display(), e.desc()));
        }
        Ok(h)
    }

    pub fn describe(&self) -> String {
        format!(
            "cgroup v1: memory at {}, cpuacct at {}, pids at {}; swap accounting {}",
            self.memory.display(),
            self.cpuacct.display(),
            self.pids.display(),
            if self.memsw { "present (swap off per run)" } else { "absent (swap cannot be switched off per run)" }
        )
    }
}

/// The runner's own path in the hierarchy of `ctrl`, from /proc/self/cgroup.
fn own_path(own_cgroups: &str, ctrl: &str) -> Option<String> {
    own_cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        ctrls.split(',').any(|c| c == ctrl).then(|| path.trim_start_matches('/').to_string())
    })
}

/// One run's groups, one per hierarchy. Removed by `destroy`, or on drop (but for the
/// cpuacct and pids groups of a warm environment, which are its `Kept`'s).
pub struct Group {
    memory: PathBuf,
    cpuacct: PathBuf,
    pids: PathBuf,
    removed: bool,
    /// When the cpuacct and pids groups are a warm environment's, kept for its next run:
    /// its files there, from the `Kept`'s own (dup'd: no open per run): cpuacct.usage,
    /// cpuacct.usage_user, cpuacct.usage_sys, and the two groups' `tasks`.
    kept_files: Option<[fs::File; 5]>,
    /// The files `stats` reads, opened at its first call and read again with pread: an
    /// open of a cgroup file costs more than reading it, and a run reads them up to twice.
    stat_files: std::cell::OnceCell<Option<StatFiles>>,
}

/// `cpuacct.usage`, `cpuacct.usage_user`, `cpuacct.usage_sys`,
/// `memory.max_usage_in_bytes`, `memory.oom_control`.
struct StatFiles([fs::File; 5]);

const STAT_FILES: [(usize, &str); 5] = [
    (1, "cpuacct.usage"),
    (1, "cpuacct.usage_user"),
    (1, "cpuacct.usage_sys"),
    (0, "memory.max_usage_in_bytes"),
    (0, "memory.oom_control"),
];

/// The figures from the files' values (ns, bytes, `memory.oom_control`'s text).
fn stats_of(cpu_ns: u64, user_ns: u64, sys_ns: u64, peak: u64, oom: &str) -> CgroupStats {
    CgroupStats {
        cpu_us: cpu_ns / 1000,
        user_us: user_ns / 1000,
        sys_us: sys_ns / 1000,
        peak_memory: peak,
        oom_kills: keyed_value(oom, "oom_kill").unwrap_or(0),
    }
}

/// Reads a small control file from its start (cgroup files give their current value at
/// every read from offset 0).
fn pread_text(f: &fs::File, what: &str) -> io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 1024];
    let n = f.read_at(&mut buf, 0).map_err(|e| io::Error::new(e.kind(), format!("read {what}: {e}")))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn parse_u64(text: &str, what: &str) -> io::Result<u64> {
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{what}: not a number: {text:?}")))
}

impl Group {
    pub fn create(h: &Hierarchies, name: &str, limits: CgroupLimits) -> io::Result<Group> {
        let mut g = Group {
            memory: h.memory.join(name),
            cpuacct: h.cpuacct.join(name),
            pids: h.pids.join(name),
            removed: true,
            kept_files: None,
            stat_files: std::cell::OnceCell::new(),
        };
        g.make(h, limits)?;
        Ok(g)
    }

    /// A run's groups in a warm environment: a memory group of its own (a reused one would
    /// still be charged with the page cache of earlier runs, and count it in the next
    /// run's peak), and the environment's kept cpuacct and pids groups, which `Kept::reset`
    /// has just proven empty and zeroed.
    pub fn create_in(h: &Hierarchies, name: &str, limits: CgroupLimits, kept: &Kept) -> io::Result<Group> {
        let mut g = Group {
            memory: h.memory.join(name),
            cpuacct: kept.cpuacct.clone(),
            pids: kept.pids.clone(),
            removed: true,
            kept_files: Some(kept.dup_files()?),
            stat_files: std::cell::OnceCell::new(),
        };
        g.make(h, limits)?;
        Ok(g)
    }

    /// Makes the groups this run owns and writes the limits.
    /// The groups this run made and removes: all three, or the memory group alone when the
    /// other two are a warm environment's.
    fn owned_dirs(&self) -> Vec<&PathBuf> {
        match self.kept_files {
            Some(_) => vec![&self.memory],
            None => vec![&self.memory, &self.cpuacct, &self.pids],
        }
    }

    fn make(&mut self, h: &Hierarchies, limits: CgroupLimits) -> io::Result<()> {
        let g = self;
        let mut made: Vec<&Path> = Vec::new();
        let result = (|| {
            for dir in g.owned_dirs() {
                fs::create_dir(dir).map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", dir.display())))?;
                made.push(dir);
            }
            if let Some(bytes) = limits.memory_bytes {
                write_file(&g.memory.join("memory.limit_in_bytes"), &bytes.to_string())?;
                if h.memsw {
                    // memsw is memory + swap: equal to the memory limit means no swap at all.
                    write_file(&g.memory.join("memory.memsw.limit_in_bytes"), &bytes.to_string())?;
                }
            }
            if !h.memsw {
                write_file(&g.memory.join("memory.swappiness"), "0")?;
            }
            if let Some(n) = limits.pids {
                write_file(&g.pids.join("pids.max"), &n.to_string())?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for dir in made {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
        g.removed = false;
        Ok(())
    }

    /// The files a warm run's program writes "0" to (memory, cpuacct and pids `tasks`),
    /// open for writing.
    pub fn entry_files(&self) -> io::Result<Vec<fs::File>> {
        let [memory, cpuacct, pids] = self.tasks_paths();
        match &self.kept_files {
            Some([.., cpuacct, pids]) => Ok(vec![open_for_entry(&memory)?, cpuacct.try_clone()?, pids.try_clone()?]),
            None => [memory, cpuacct, pids].iter().map(|p| open_for_entry(p)).collect(),
        }
    }

    /// cpuacct.usage, open for reading.
    pub fn usage_file(&self) -> io::Result<fs::File> {
        match &self.kept_files {
            Some([usage, ..]) => usage.try_clone(),
            None => fs::File::open(self.cpuacct.join("cpuacct.usage")),
        }
    }

    pub fn cpuacct_dir(&self) -> &Path {
        &self.cpuacct
    }

    /// The memory, cpuacct and pids groups' `tasks` files.
    pub fn tasks_paths(&self) -> [PathBuf; 3] {
        [&self.memory, &self.cpuacct, &self.pids].map(|d| d.join("tasks"))
    }

    pub fn cpu_usage_us(&self) -> io::Result<u64> {
        match self.stat_files() {
            Some(StatFiles(f)) => Ok(parse_u64(&pread_text(&f[0], "cpuacct.usage")?, "cpuacct.usage")? / 1000),
            None => Ok(read_u64(&self.cpuacct.join("cpuacct.usage"))? / 1000),
        }
    }

    fn stat_files(&self) -> Option<&StatFiles> {
        self.stat_files
            .get_or_init(|| {
                if let Some(k) = &self.kept_files {
                    let [usage, user, sys, ..] = k;
                    let mem = |name: &str| fs::File::open(self.memory.join(name)).ok();
                    return Some(StatFiles([
                        usage.try_clone().ok()?,
                        user.try_clone().ok()?,
                        sys.try_clone().ok()?,
                        mem("memory.max_usage_in_bytes")?,
                        mem("memory.oom_control")?,
                    ]));
                }
                let dirs = [&self.memory, &self.cpuacct];
                let open = |(d, name): &(usize, &str)| fs::File::open(dirs[*d].join(name)).ok();
                let files: Vec<fs::File> = STAT_FILES.iter().map(open).collect::<Option<_>>()?;
                files.try_into().ok().map(StatFiles)
            })
            .as_ref()
    }

    pub fn stats(&self) -> io::Result<CgroupStats> {
        let Some(StatFiles(f)) = self.stat_files() else { return self.stats_by_path() };
        let cpu_ns = parse_u64(&pread_text(&f[0], "cpuacct.usage")?, "cpuacct.usage")?;
        let user_ns = pread_text(&f[1], "cpuacct.usage_user").and_then(|t| parse_u64(&t, "usage_user")).unwrap_or(0);
        let sys_ns = pread_text(&f[2], "cpuacct.usage_sys").and_then(|t| parse_u64(&t, "usage_sys")).unwrap_or(0);
        let peak = parse_u64(&pread_text(&f[3], "memory.max_usage_in_bytes")?, "memory.max_usage_in_bytes")?;
        let oom = pread_text(&f[4], "memory.oom_control")?;
        Ok(stats_of(cpu_ns, user_ns, sys_ns, peak, &oom))
    }

    /// `stats` by opening each file (when they could not be kept open).
    fn stats_by_path(&self) -> io::Result<CgroupStats> {
        let cpu_ns = read_u64(&self.cpuacct.join("cpuacct.usage"))?;
        let user_ns = read_u64(&self.cpuacct.join("cpuacct.usage_user")).unwrap_or(0);
        let sys_ns = read_u64(&self.cpuacct.join("cpuacct.usage_sys")).unwrap_or(0);
        let peak = read_u64(&self.memory.join("memory.max_usage_in_bytes"))?;
        let oom = read_file(&self.memory.join("memory.oom_control"))?;
        Ok(stats_of(cpu_ns, user_ns, sys_ns, peak, &oom))
    }

    pub fn destroy(&mut self) -> io::Result<()> {
        self.stat_files.take();
        let mut first_err = None;
        for dir in self.owned_dirs() {
            if let Err(e) = remove_dir(dir) {
                first_err.get_or_insert(e);
            }
        }
        self.removed = true;
        first_err.map_or(Ok(()), Err)
    }

    /// The directories where this host's run groups are made (for the sweep).
    pub fn parents(h: &Hierarchies) -> Vec<PathBuf> {
        vec![h.memory.clone(), h.cpuacct.clone(), h.pids.clone()]
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.destroy();
        }
    }
}

/// A warm environment's cpuacct and pids groups (v1), kept from run to run: making and
/// removing a cgroup costs mostly its control files (~20 for cpu,cpuacct, ~8 for pids), and
/// both can be proven back to new between runs, which a memory group cannot (see
/// `Group::create_in`). Removed on drop.
pub struct Kept {
    cpuacct: PathBuf,
    pids: PathBuf,
    /// Opened once: cpuacct.usage (read-write, to zero it; and read-only, for the runs),
    /// cpuacct.usage_user, cpuacct.usage_sys, pids.current, and both groups' `tasks`.
    files: [fs::File; 7],
}

impl Kept {
    pub fn create(h: &Hierarchies, name: &str) -> io::Result<Kept> {
        let cpuacct = h.cpuacct.join(name);
        let pids = h.pids.join(name);
        fs::create_dir(&cpuacct).map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", cpuacct.display())))?;
        if let Err(e) = fs::create_dir(&pids) {
            let _ = fs::remove_dir(&cpuacct);
            return Err(io::Error::new(e.kind(), format!("mkdir {}: {e}", pids.display())));
        }
        let open = |p: PathBuf, write: bool| {
            fs::OpenOptions::new()
                .read(true)
                .write(write)
                .open(&p)
                .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", p.display())))
        };
        let files = (|| {
            Ok::<_, io::Error>([
                open(cpuacct.join("cpuacct.usage"), true)?,
                open(cpuacct.join("cpuacct.usage"), false)?,
                open(cpuacct.join("cpuacct.usage_user"), false)?,
                open(cpuacct.join("cpuacct.usage_sys"), false)?,
                open(pids.join("pids.current"), false)?,
                open(cpuacct.join("tasks"), true)?,
                open(pids.join("tasks"), true)?,
            ])
        })();
        match files {
            Ok(files) => Ok(Kept { cpuacct, pids, files }),
            Err(e) => {
                let _ = fs::remove_dir(&cpuacct);
                let _ = fs::remove_dir(&pids);
                Err(e)
            }
        }
    }

    /// Copies of its files for a run's `Group`: cpuacct.usage (read-only), usage_user, usage_sys, and
    /// the two `tasks`.
    fn dup_files(&self) -> io::Result<[fs::File; 5]> {
        let f = &self.files;
        Ok([f[1].try_clone()?, f[2].try_clone()?, f[3].try_clone()?, f[5].try_clone()?, f[6].try_clone()?])
    }

    /// Before a run: zeroes the CPU counters, then proves the groups as new: no task in
    /// either, CPU usage (total, user, system) and pids.current all zero. Err if anything
    /// is not (the caller then makes new groups).
    pub fn reset(&self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        self.files[0].write_at(b"0", 0).map_err(|e| io::Error::new(e.kind(), format!("zeroing cpuacct.usage: {e}")))?;
        let names = ["cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys", "pids.current"];
        for (f, name) in self.files[1..5].iter().zip(names) {
            let v = parse_u64(&pread_text(f, name)?, name)?;
            if v != 0 {
                return Err(io::Error::other(format!("{name} is {v} after a reset")));
            }
        }
        for f in &self.files[5..] {
            if !pread_text(f, "tasks")?.trim().is_empty() {
                return Err(io::Error::other("a kept group still holds tasks"));
            }
        }
        Ok(())
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        // (Its open control files do not keep a group from going: they read ENODEV after.)
        let _ = remove_dir(&self.cpuacct);
        let _ = remove_dir(&self.pids);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_path_reads_the_line_of_the_controller() {
        let own = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu,cpuacct:/x\n";
        assert_eq!(own_path(own, "memory").as_deref(), Some("process_api/abc"));
        assert_eq!(own_path(own, "cpuacct").as_deref(), Some(""));
        assert_eq!(own_path(own, "pids"), None);
    }
}
