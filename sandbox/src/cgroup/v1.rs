//! cgroup v1 backend: one directory per controller hierarchy (memory, cpuacct, pids).
//!
//! Works on legacy and hybrid hosts. Memory: `memory.limit_in_bytes`, with swap off through
//! `memory.memsw.limit_in_bytes` where the kernel has swap accounting; peak from
//! `memory.max_usage_in_bytes`; OOM kills from `memory.oom_control`'s `oom_kill`. CPU from
//! `cpuacct.usage` (nanoseconds, exact) and `cpuacct.usage_user`/`usage_sys`.

use super::{keyed_value, mounts_of, read_file, read_u64, remove_dir, write_file, CgroupLimits, CgroupStats};
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

/// One run's groups, one per hierarchy. Removed by `destroy`, or on drop.
pub struct Group {
    memory: PathBuf,
    cpuacct: PathBuf,
    pids: PathBuf,
    removed: bool,
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
            stat_files: std::cell::OnceCell::new(),
        };
        let mut made: Vec<&Path> = Vec::new();
        let result = (|| {
            for dir in [&g.memory, &g.cpuacct, &g.pids] {
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
        Ok(g)
    }

    pub fn attach(&self, pid: i32) -> io::Result<()> {
        let pid = pid.to_string();
        for dir in [&self.memory, &self.cpuacct, &self.pids] {
            write_file(&dir.join("cgroup.procs"), &pid)?;
        }
        Ok(())
    }

    pub fn cpuacct_dir(&self) -> &Path {
        &self.cpuacct
    }

    pub fn tasks_files(&self) -> Vec<std::ffi::CString> {
        use std::os::unix::ffi::OsStrExt;
        [&self.memory, &self.cpuacct, &self.pids]
            .iter()
            .filter_map(|d| std::ffi::CString::new(d.join("tasks").as_os_str().as_bytes()).ok())
            .collect()
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
        Ok(CgroupStats {
            cpu_us: cpu_ns / 1000,
            user_us: user_ns / 1000,
            sys_us: sys_ns / 1000,
            peak_memory: peak,
            oom_kills: keyed_value(&oom, "oom_kill").unwrap_or(0),
        })
    }

    /// `stats` by opening each file (when they could not be kept open).
    fn stats_by_path(&self) -> io::Result<CgroupStats> {
        let cpu_ns = read_u64(&self.cpuacct.join("cpuacct.usage"))?;
        let user_ns = read_u64(&self.cpuacct.join("cpuacct.usage_user")).unwrap_or(0);
        let sys_ns = read_u64(&self.cpuacct.join("cpuacct.usage_sys")).unwrap_or(0);
        let peak = read_u64(&self.memory.join("memory.max_usage_in_bytes"))?;
        let oom = read_file(&self.memory.join("memory.oom_control"))?;
        Ok(CgroupStats {
            cpu_us: cpu_ns / 1000,
            user_us: user_ns / 1000,
            sys_us: sys_ns / 1000,
            peak_memory: peak,
            oom_kills: keyed_value(&oom, "oom_kill").unwrap_or(0),
        })
    }

    pub fn destroy(&mut self) -> io::Result<()> {
        self.stat_files.take();
        let mut first_err = None;
        for dir in [&self.memory, &self.cpuacct, &self.pids] {
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
