//! The runner's own places on the host and what a dead runner leaves there.
//!
//! Root keeps its state in /run/sandbox (a tmpfs, emptied at boot), an ordinary user in
//! `$XDG_RUNTIME_DIR/sandbox` or a private directory under the temporary directory. The
//! state is: an empty directory every run mounts its new root on (inside the run's own mount
//! namespace, so runs never see each other's), and the host-id lock files. Nothing of a run
//! is lent on the host by path (see `lend`), so what a killed runner can leave is its run
//! cgroups (and a v2 runner leaf), which `cleanup` removes.

use crate::cgroup;
use crate::Error;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The runner's state directory, created once per process (mode 0700, owned by us, not a
/// symlink: another user must not be able to plant it).
pub(crate) fn dir() -> Result<&'static Path, Error> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let uid = nix::unistd::geteuid().as_raw();
        let path = if uid == 0 {
            PathBuf::from("/run/sandbox")
        } else if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            PathBuf::from(xdg).join("sandbox")
        } else {
            std::env::temp_dir().join(format!("sandbox-{uid}"))
        };
        // The run's init, already under the run's host id, mounts on `root`: the state
        // directory must be traversable (0711) and `root` an ordinary empty directory.
        // Lock files stay private.
        private_dir(&path, uid, 0o711)?;
        private_dir(&path.join("root"), uid, 0o755)?;
        private_dir(&path.join("scratch"), uid, 0o755)?;
        private_dir(&path.join("ids"), uid, 0o700)?;
        Ok(path)
    })
    .as_deref()
    .map_err(|e| Error::config(e.clone()))
}

fn private_dir(path: &Path, uid: u32, mode: u32) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            // The umask may have cut bits that must be there.
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(|e| format!("state directory {}: {e}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("state directory {}: {e}", path.display())),
    }
    let meta = path.symlink_metadata().map_err(|e| format!("state directory {}: {e}", path.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "state directory {} is not a private directory of uid {uid} (a symlink, another owner, or writable by others)",
            path.display()
        ));
    }
    Ok(())
}

/// The empty directory runs mount their new root on.
pub(crate) fn mount_point() -> Result<PathBuf, Error> {
    Ok(dir()?.join("root"))
}

/// The empty directory each run's init mounts its scratch tmpfs on for a moment.
pub(crate) fn scratch_point() -> Result<PathBuf, Error> {
    Ok(dir()?.join("scratch"))
}

/// What `cleanup` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cleanup {
    /// Cgroups of runs whose runner is gone.
    pub cgroups: Vec<PathBuf>,
    /// Per-run root directories left by older versions of the runner.
    pub root_dirs: Vec<PathBuf>,
}

/// Removes what runners that died without cleaning up left behind: their run cgroups (and
/// v2 runner leaves) under this process's cgroup parent, and the empty per-run root
/// directories older versions made in the temporary directory. Anything that belongs to a
/// live runner, or that is not ours by name, is left alone. `runner run` calls this at start;
/// `runner cleanup` on request.
pub fn cleanup() -> Cleanup {
    let swept = cgroup::sweep(cgroup::layout());
    Cleanup { cgroups: swept.cgroups, root_dirs: old_root_dirs() }
}

/// Removes the cgroups dead runners left: cheap enough for every run's start (a listing of
/// the run groups' parent directories).
pub fn sweep_cgroups() -> Vec<PathBuf> {
    cgroup::sweep(cgroup::layout()).cgroups
}

/// Empty per-run root directories older versions made in the temporary directory.
fn old_root_dirs() -> Vec<PathBuf> {
    let mut root_dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(".sandbox-root-") else { continue };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else { continue };
            let alive = crate::sys::process_running(pid);
            // remove_dir only removes an empty directory: never anything inside.
            if !alive && std::fs::remove_dir(e.path()).is_ok() {
                root_dirs.push(e.path());
            }
        }
    }
    root_dirs
}
