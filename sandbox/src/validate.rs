//! Checks of a configuration before anything is prepared: what may be lent, limits below
//! what a run can meaningfully have, and where the runner may write. Each refusal is one
//! line naming what was wrong.

use crate::config::{RunConfig, Stdio, MIN_MEMORY_BYTES, MIN_TIME_US};
use crate::{sys, Error};
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Host trees no run may have lent read-write, neither the directory itself nor anything
/// under it: the host's programs, libraries and configuration, boot files, kernel
/// interfaces, runtime and system state, third-party software. What a program leaves there
/// (never root-owned, never set-id, but possibly executable) the host could run or load as
/// its own: a unit file, a program on PATH, a library, a cron table. Checked on canonical
/// paths, so `/bin` is `/usr/bin` and refused with it.
const SYSTEM_TREES: &[&str] = &[
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run",
    "/var", "/opt", "/snap",
];

/// The one place under a system tree where a run's directory may live (strictly below it).
const LENDABLE_UNDER_SYSTEM: &str = "/var/tmp";

/// Directories that are never lent themselves, though a directory of its own under them
/// may be: the root, the shared temporary directories and where homes and mounts live.
const SHARED_DIRS: &[&str] = &["/", "/tmp", "/var/tmp", "/home", "/root", "/srv", "/mnt", "/media"];

/// Why the canonical path `p` may not be lent read-write, if it may not.
pub(crate) fn refusal(p: &Path) -> Option<&'static str> {
    let below_tmp = p.starts_with(LENDABLE_UNDER_SYSTEM) && p != Path::new(LENDABLE_UNDER_SYSTEM);
    if SHARED_DIRS.iter().any(|s| p == Path::new(s)) {
        Some("is a system directory shared by the host's users; lend a directory of its own")
    } else if SYSTEM_TREES.iter().any(|t| p.starts_with(t)) && !below_tmp {
        Some("is a system directory of the host or lies in one; lend a directory of its own")
    } else if p.parent() == Some(Path::new("/home")) {
        // The program could plant the user's shell start-up files (.bashrc, .profile).
        Some("is a home directory; lend a directory of its own inside it")
    } else {
        None
    }
}

/// The most processes a pids limit can name: the kernel's PID_MAX_LIMIT on 64-bit.
const MAX_PIDS: u64 = 4 << 20;

/// The host paths a run lends read-write, canonical: the box first, then rw binds.
pub(crate) fn lent_paths(cfg: &RunConfig) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut add = |p: &Path, what: &str| -> Result<(), Error> {
        let c = p.canonicalize().map_err(|e| Error::config(format!("{what} {}: {e}", p.display())))?;
        out.push(c);
        Ok(())
    };
    if let Some(b) = &cfg.box_dir {
        add(b, "box directory")?;
    }
    for b in cfg.binds.iter().filter(|b| b.writable) {
        add(&b.src, "rw bind source")?;
    }
    Ok(out)
}

/// Refuses what must never run.
pub(crate) fn check(cfg: &RunConfig) -> Result<(), Error> {
    let l = &cfg.limits;
    if let Some(us) = l.cpu_time_us.filter(|us| *us < MIN_TIME_US) {
        return Err(Error::config(format!("CPU time limit {us} µs is below the minimum of 1 ms")));
    }
    if let Some(us) = l.wall_time_us.filter(|us| *us < MIN_TIME_US) {
        return Err(Error::config(format!("wall time limit {us} µs is below the minimum of 1 ms")));
    }
    if let Some(b) = l.memory_bytes.filter(|b| *b < MIN_MEMORY_BYTES) {
        return Err(Error::config(format!(
            "memory limit {b} bytes is below the minimum of {} MiB the sandbox needs to start a program",
            MIN_MEMORY_BYTES >> 20
        )));
    }
    if l.pids == Some(0) {
        return Err(Error::config("the pids limit must be at least 1"));
    }
    if let Some(n) = l.pids.filter(|n| *n > MAX_PIDS) {
        return Err(Error::config(format!("the pids limit {n} is above the kernel's most, {MAX_PIDS}")));
    }
    if let Some(image) = &cfg.rootfs {
        if !image.join("usr").is_dir() {
            return Err(Error::config(format!("root filesystem {} has no usr directory", image.display())));
        }
    }
    if let Some(dir) = &cfg.box_dir {
        if !dir.is_dir() {
            return Err(Error::config(format!("box directory {} does not exist or is not a directory", dir.display())));
        }
    }
    let lent = lent_paths(cfg)?;
    for (i, p) in lent.iter().enumerate() {
        let what = if i == 0 && cfg.box_dir.is_some() { "box directory" } else { "rw bind source" };
        if let Some(why) = refusal(p) {
            return Err(Error::config(format!("{what} {} {why}", p.display())));
        }
        for (j, q) in lent.iter().enumerate() {
            if i != j && p.starts_with(q) {
                return Err(Error::config(format!(
                    "{what} {} lies inside {} which is also lent read-write; lend each directory once",
                    p.display(),
                    q.display()
                )));
            }
        }
    }
    for (s, name) in [(&cfg.stdout, "stdout"), (&cfg.stderr, "stderr")] {
        if let Stdio::File(p) = s {
            check_output_in(&lent, p).map_err(|e| Error::config(format!("{name} file: {e}")))?;
        }
    }
    Ok(())
}

/// Refuses an output file (the runner writes it) that lies under the box or an rw bind:
/// the program controls every name there. Use before writing a report next to a run.
pub fn check_output_path(cfg: &RunConfig, path: &Path) -> Result<(), Error> {
    check_output_in(&lent_paths(cfg)?, path).map_err(Error::config)
}

fn check_output_in(lent: &[PathBuf], path: &Path) -> Result<(), String> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = parent.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(l) = lent.iter().find(|l| parent.starts_with(l)) {
        return Err(format!(
            "{} lies under {}, which the program can write: put it outside the box and rw binds",
            path.display(),
            l.display()
        ));
    }
    Ok(())
}

/// Opens the stdin file. Under a lent directory every name may have been planted by an
/// earlier run, so there no component may be a symlink (openat2 RESOLVE_NO_SYMLINKS);
/// elsewhere it is the caller's own path, opened as given (/dev/stdin, a pipe from `<(…)`).
pub(crate) fn open_stdin(cfg: &RunConfig) -> Result<Option<OwnedFd>, Error> {
    let Stdio::File(path) = &cfg.stdin else { return Ok(None) };
    let what = || format!("stdin file {}", path.display());
    let abs = std::path::absolute(path).map_err(|e| Error::io(what(), e))?;
    let lent = lent_paths(cfg)?;
    let parent_canon = abs.parent().and_then(|p| p.canonicalize().ok());
    let under = parent_canon.as_ref().and_then(|pc| lent.iter().find(|l| pc.starts_with(l)));
    let c =
        CString::new(abs.as_os_str().as_bytes()).map_err(|_| Error::config(format!("{} has a NUL byte", what())))?;
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
    let fd = if under.is_some() {
        sys::openat2(libc::AT_FDCWD, &c, flags, sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS)
    } else {
        sys::openat2(libc::AT_FDCWD, &c, flags, 0)
    }
    .map_err(|e| Error::io(what(), e))?;
    let meta = std::fs::File::from(fd.try_clone().map_err(|e| Error::io(what(), e))?)
        .metadata()
        .map_err(|e| Error::io(what(), e))?;
    if meta.is_dir() {
        return Err(Error::config(format!("{} is a directory", what())));
    }
    Ok(Some(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_directories_and_nested_lends_are_refused() {
        // The trees and everything under them, through symlinks too (/bin is /usr/bin here).
        for dir in [
            "/",
            "/etc",
            "/usr",
            "/home",
            "/var",
            "/bin",
            "/usr/bin",
            "/etc/systemd",
            "/var/lib",
            "/run/sandbox",
            "/tmp",
            "/root",
            "/proc/self",
        ] {
            if !Path::new(dir).is_dir() {
                continue;
            }
            let mut c = RunConfig::new("/bin/true");
            c.box_dir = Some(dir.into());
            let err = check(&c).unwrap_err().to_string();
            assert!(err.contains("system directory"), "{dir}: {err}");
        }
        assert!(refusal(Path::new("/home/alice")).unwrap().contains("home directory"));
        for ok in ["/home/alice/work", "/root/work", "/tmp/box", "/var/tmp/box", "/srv/judge/box"] {
            assert_eq!(refusal(Path::new(ok)), None, "{ok}");
        }
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir(outer.path().join("inner")).unwrap();
        let mut c = RunConfig::new("/bin/true");
        c.box_dir = Some(outer.path().into());
        c.binds.push(crate::Bind { src: outer.path().join("inner"), dst: Some("/in".into()), writable: true });
        let err = check(&c).unwrap_err().to_string();
        assert!(err.contains("inside"), "{err}");
        // Read-only binds from inside the box are fine.
        c.binds[0].writable = false;
        check(&c).unwrap();
    }

    #[test]
    fn limits_below_their_minimum_name_it() {
        let mut c = RunConfig::new("/bin/true");
        c.limits.cpu_time_us = Some(0);
        assert!(check(&c).unwrap_err().to_string().contains("1 ms"));
        c.limits.cpu_time_us = None;
        c.limits.memory_bytes = Some(4096);
        assert!(check(&c).unwrap_err().to_string().contains("8 MiB"));
        c.limits.memory_bytes = None;
        c.limits.pids = Some(99_999_999_999);
        assert!(check(&c).unwrap_err().to_string().contains("4194304"));
    }

    #[test]
    fn output_files_under_the_box_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = RunConfig::new("/bin/true");
        c.box_dir = Some(dir.path().into());
        let err = check_output_path(&c, &dir.path().join("report.json")).unwrap_err().to_string();
        assert!(err.contains("under"), "{err}");
        let elsewhere = tempfile::tempdir().unwrap();
        check_output_path(&c, &elsewhere.path().join("report.json")).unwrap();
    }

    #[test]
    fn stdin_under_the_box_may_not_pass_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("in.txt")).unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/real"), "x").unwrap();
        std::os::unix::fs::symlink("d", dir.path().join("link")).unwrap();
        let mut c = RunConfig::new("/bin/true");
        c.box_dir = Some(dir.path().into());
        c.stdin = Stdio::File(dir.path().join("in.txt"));
        assert!(open_stdin(&c).is_err());
        c.stdin = Stdio::File(dir.path().join("link/real"));
        assert!(open_stdin(&c).is_err());
        c.stdin = Stdio::File(dir.path().join("d/real"));
        assert!(open_stdin(&c).unwrap().is_some());
    }
}
