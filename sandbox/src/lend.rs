//! Lending the box and rw binds to a run without ever giving the program a host path.
//!
//! As root, a run gets one size-limited tmpfs (`fsopen`/`fsmount`, a detached mount only the
//! runner holds by fd): the host directories' contents are copied into it before the run,
//! clones of its subtrees are moved onto /box and the rw bind targets inside the sandbox,
//! and after every process of the run is gone its content is mirrored back into the host
//! directories through fds opened before the run. So:
//! - no host path's owner or mode ever changes, and nothing is resolved by name under a
//!   lent directory after the program ran (a planted symlink leads nowhere);
//! - the program's files are created in the tmpfs, owned by its unprivileged per-run host
//!   id, never reachable by other host users while the run lasts; they reach the host
//!   without setuid/setgid bits or group/other write, owned by the directory's owner (or by
//!   the sandbox's base host id when the owner is root: never a root-owned file);
//! - bytes and files are bounded by the tmpfs (`Limits::disk_bytes`, `disk_files`): past
//!   them a write fails with ENOSPC and the run is `output_limit`; the pages are memory of
//!   the run, charged to its cgroup;
//! - each lent directory is locked (flock) for the run: two runs never share one.
//!
//! Rootless, the user's own directories are bound directly (the program runs as that user,
//! so it gains nothing), and the disk budget is not enforced; `enforced` says so.

use crate::config::RunConfig;
use crate::scratch::{self, CopyError, CopyRules};
use crate::sys;
use crate::Error;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One host directory or file lent for the run.
struct Item {
    host_path: PathBuf,
    /// Opened before the run: a directory (O_DIRECTORY|O_NOFOLLOW, flocked) or a file.
    host: OwnedFd,
    is_dir: bool,
    /// Its name in the scratch tmpfs: `box`, `bind0`, ...
    name: CString,
    /// Owner of what the copy-back creates.
    owner: (u32, u32),
    /// What copy-in lent: copy-back changes only these, and only where the program did.
    lent: scratch::Manifest,
}

/// The run's scratch tmpfs and what is lent through it.
pub(crate) struct Lent {
    scratch: OwnedFd,
    items: Vec<Item>,

    disk_bytes: u64,
    disk_files: u64,
}

/// Whether the filesystem of `fd` (a box's tmpfs) has no byte or no file left: the note
/// that makes the run `output_limit`.
pub(crate) fn budget_used_up(fd: RawFd, disk_bytes: u64, disk_files: u64) -> Option<String> {
    // SAFETY: statvfs is plain data; zeroed is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs fills `st`, valid for writes, from an fd the caller holds.
    if unsafe { libc::fstatvfs(fd, &mut st) } != 0 {
        return None;
    }
    if st.f_bavail == 0 {
        Some(format!("the box reached its disk budget of {disk_bytes} bytes"))
    } else if st.f_favail == 0 {
        Some(format!("the box reached its budget of {disk_files} files"))
    } else {
        None
    }
}

/// Opens and locks a lent host path. Directories are locked with flock so that a second
/// run on the same directory is refused instead of interleaved.
pub(crate) fn open_locked(path: &Path) -> Result<(OwnedFd, std::fs::Metadata), Error> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::config("path with a NUL byte"))?;
    // SAFETY: open reads the NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
    };
    if fd < 0 {
        return Err(Error::io(format!("open {}", path.display()), std::io::Error::last_os_error()));
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // The configuration was checked by path; what was opened is checked again, by what the
    // kernel says the fd is, so that a path changed in between (a parent swapped for a
    // symlink) cannot lend a system directory.
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::io(format!("where {} is", path.display()), e))?;
    if let Some(why) = crate::validate::refusal(&real) {
        return Err(Error::config(format!("{} ({}) {why}", path.display(), real.display())));
    }
    let meta =
        File::from(fd.try_clone().map_err(|e| Error::io("dup", e))?).metadata().map_err(|e| Error::io("fstat", e))?;
    // A sandbox cloned by another thread of this process shares our open files until its
    // init closes them (microseconds): a lock seen held that briefly is not another run's.
    // So a few tries over 200 ms before calling the directory busy.
    let mut tries = 0;
    // SAFETY: flock on an fd we own; no memory is involved.
    while unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        tries += 1;
        if tries > 40 {
            return Err(Error::Busy(format!("{} is in use by another run", path.display())));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok((fd, meta))
}

/// Who owns what the copy-back creates in a lent path with metadata `meta`.
fn owner_of(meta: &std::fs::Metadata, base_id: u32) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    if meta.uid() == 0 {
        (base_id, base_id)
    } else {
        (meta.uid(), meta.gid())
    }
}

fn copy_error(what: &Path, e: CopyError) -> Error {
    Error::config(format!("lending {}: {e}", what.display()))
}

impl Lent {
    /// Makes the scratch tmpfs, fills it from the host, and clones the mounts to move in.
    /// `run_id` owns everything inside (the program's host id for this run).
    pub(crate) fn prepare(cfg: &RunConfig, run_id: u32) -> Result<Lent, Error> {
        let disk_bytes = cfg.limits.effective_disk_bytes();
        let disk_files = cfg.limits.effective_disk_files();
        let n_items = 1 + cfg.binds.iter().filter(|b| b.writable).count() as u64;
        let scratch = sys::detached_tmpfs(
            &[
                ("size", disk_bytes.to_string()),
                // The root and each item's own entry come on top of the program's files.
                ("nr_inodes", (disk_files + 1 + n_items).to_string()),
                ("mode", "0700".into()),
                ("uid", run_id.to_string()),
                ("gid", run_id.to_string()),
            ],
            sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        )?;
        let rules =
            CopyRules { uid: run_id, gid: run_id, max_bytes: disk_bytes, max_files: disk_files, max_depth: 256 };
        let mut items = Vec::new();
        let box_name = CString::from(c"box");
        match &cfg.box_dir {
            Some(dir) => {
                let (host, meta) = open_locked(dir)?;
                let owner = owner_of(&meta, cfg.host_id);
                items.push(Item {
                    host_path: dir.clone(),
                    host,
                    is_dir: true,
                    name: box_name,
                    owner,
                    lent: scratch::Manifest::default(),
                });
            }
            None => make_dir(&scratch, &box_name, run_id)?,
        }
        for (i, b) in cfg.binds.iter().filter(|b| b.writable).enumerate() {
            let (host, meta) = open_locked(&b.src)?;
            let is_dir = meta.is_dir();
            // A lent file is written back in place: through another name (a hard link from
            // a system directory, say) that would change a file nobody lent.
            let links = std::os::unix::fs::MetadataExt::nlink(&meta);
            if !is_dir && links > 1 {
                return Err(Error::config(format!(
                    "rw bind source {} has {links} names (hard links); lend a file of its own",
                    b.src.display()
                )));
            }
            let owner = owner_of(&meta, cfg.host_id);
            let name = CString::new(format!("bind{i}")).expect("no NUL in a number");
            items.push(Item {
                host_path: b.src.clone(),
                host,
                is_dir,
                name,
                owner,
                lent: scratch::Manifest::default(),
            });
        }
        let mut copied_bytes = 0;
        let mut copied_files = 0;
        for item in &mut items {
            let left = CopyRules {
                max_bytes: rules.max_bytes.saturating_sub(copied_bytes),
                max_files: rules.max_files.saturating_sub(copied_files),
                ..rules
            };
            let stats = if item.is_dir {
                make_dir(&scratch, &item.name, run_id)?;
                let dst = open_dir_at(&scratch, &item.name)?;
                scratch::copy_in(item.host.as_fd(), dst.as_fd(), &left, &mut item.lent)
            } else {
                scratch::copy_file_in(
                    item.host.as_fd(),
                    scratch.as_fd(),
                    OsStr::from_bytes(item.name.as_bytes()),
                    &left,
                    &mut item.lent,
                )
            }
            .map_err(|e| copy_error(&item.host_path, e))?;
            copied_bytes += stats.bytes;
            copied_files += stats.files + stats.dirs + stats.symlinks;
            if item.is_dir {
                // The box's root keeps the mode the program can write in.
                fchmodat(&scratch, &item.name, 0o755)?;
            }
        }
        // A copy the program changes must get a change time other than the one it was lent
        // with (see `scratch::change_times_are_fine`), for the copy-back to see the change:
        // a run that copies nothing back (a judge's test runs) needs no wait.
        if cfg.write_back {
            if let Some(newest) = items.iter().filter_map(|i| i.lent.newest_change()).max() {
                if !scratch::change_times_are_fine() {
                    scratch::settle_change_times(newest);
                }
            }
        }
        // The root is only traversed by init (as the run's id) on its way to the parts.
        // SAFETY: fchmod on the fd of the tmpfs's root, which we own.
        unsafe { libc::fchmod(scratch.as_raw_fd(), 0o711) };
        Ok(Lent { scratch, items, disk_bytes, disk_files })
    }

    /// The scratch tmpfs (a detached mount) for init to move into place.
    pub(crate) fn mount_fd(&self) -> RawFd {
        self.scratch.as_raw_fd()
    }

    /// Whether the run used up the tmpfs's bytes or files.
    pub(crate) fn exhausted(&self) -> Option<String> {
        budget_used_up(self.scratch.as_raw_fd(), self.disk_bytes, self.disk_files)
    }

    /// Whether a regular file in the scratch reached `limit` bytes (RLIMIT_FSIZE).
    pub(crate) fn has_file_of(&self, limit: u64) -> bool {
        // The mount fd is O_PATH: the walk needs a readable directory fd of the same root.
        let Ok(root) = open_dir_at(&self.scratch, &CString::from(c".")) else { return false };
        scratch::largest_file(root.as_fd()).is_some_and(|s| s >= limit)
    }

    /// Mirrors what the program left back to the host. Runs only once every process of the
    /// run is gone; goes through the fds opened before the run.
    pub(crate) fn write_back(&self) -> Result<(), String> {
        for item in &self.items {
            let rules = CopyRules {
                uid: item.owner.0,
                gid: item.owner.1,
                max_bytes: self.disk_bytes,
                max_files: self.disk_files,
                max_depth: 256,
            };
            let result = if item.is_dir {
                let src = open_dir_at(&self.scratch, &item.name).map_err(|e| e.to_string())?;
                scratch::mirror_out(src.as_fd(), item.host.as_fd(), &rules, &item.lent)
            } else {
                let host_rw = reopen_rw(&item.host).map_err(|e| e.to_string())?;
                scratch::mirror_file_out(
                    self.scratch.as_fd(),
                    OsStr::from_bytes(item.name.as_bytes()),
                    host_rw.as_fd(),
                    &rules,
                    &item.lent,
                )
            };
            result.map_err(|e| format!("copying {} back: {e}", item.host_path.display()))?;
        }
        Ok(())
    }
}

fn make_dir(dir: &OwnedFd, name: &CString, id: u32) -> Result<(), Error> {
    // SAFETY: mkdirat/fchownat read the NUL-terminated name relative to `dir`; checked.
    unsafe {
        if libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) != 0 {
            return Err(Error::io(format!("mkdir {name:?} in the scratch tmpfs"), std::io::Error::last_os_error()));
        }
        if libc::fchownat(dir.as_raw_fd(), name.as_ptr(), id, id, libc::AT_SYMLINK_NOFOLLOW) != 0 {
            return Err(Error::io(format!("chown {name:?} in the scratch tmpfs"), std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn fchmodat(dir: &OwnedFd, name: &CString, mode: u32) -> Result<(), Error> {
    // SAFETY: fchmodat reads the NUL-terminated name relative to `dir`; the entry is a
    // directory the runner just made in its own tmpfs, before the program exists.
    if unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) } != 0 {
        return Err(Error::io(format!("chmod {name:?} in the scratch tmpfs"), std::io::Error::last_os_error()));
    }
    Ok(())
}

fn open_dir_at(dir: &OwnedFd, name: &CString) -> Result<OwnedFd, Error> {
    // SAFETY: openat reads the NUL-terminated name relative to `dir`; checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::io(format!("open {name:?} in the scratch tmpfs"), std::io::Error::last_os_error()));
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A writable fd of the same host file, through /proc/self/fd (no path lookup of the file's
/// name: the magic link leads to the very inode opened before the run).
fn reopen_rw(fd: &OwnedFd) -> Result<OwnedFd, Error> {
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number");
    // SAFETY: open reads the NUL-terminated path; checked.
    let n = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOCTTY) };
    if n < 0 {
        return Err(Error::io("reopen a lent file for writing", std::io::Error::last_os_error()));
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}
