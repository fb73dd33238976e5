//! Host ids for runs as root: each concurrent run takes its own unprivileged id from a range,
//! so two runs never share a host uid (one cannot signal, ptrace or write into the other
//! even from outside their namespaces). An id is held by an exclusive flock on a lock file
//! in the state directory; the kernel drops the lock when the holder dies, so a killed
//! runner never leaves an id taken. The lease ends with the run, once every process of the
//! run is gone; the run's init may still be finishing its exit then (see `reaper`), past
//! acting on anything: no signal, ptrace or file access of a next run's can reach it, nor
//! can it do any.

use crate::state;
use crate::Error;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

/// An id held for the length of a run.
pub(crate) struct Lease {
    /// The host uid and gid the program runs as.
    pub id: u32,
    _lock: File,
}

fn lock_file(id: u32) -> Result<File, Error> {
    let path = state::dir()?.join("ids").join(id.to_string());
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Error::io(format!("host id lock {}", path.display()), e))
}

fn flock(f: &File, flags: libc::c_int) -> bool {
    loop {
        // SAFETY: flock takes an fd we own and flags; no memory is involved.
        if unsafe { libc::flock(f.as_raw_fd(), flags) } == 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

/// Takes the first free id of `first .. first + count`; when all are busy, waits for the
/// first one.
pub(crate) fn lease(first: u32, count: u32) -> Result<Lease, Error> {
    if first == 0 {
        return Err(Error::config("host id 0 would run the program as host root"));
    }
    let count = count.max(1);
    if first.checked_add(count - 1).is_none() {
        return Err(Error::config(format!("host id range {first} + {count} overflows")));
    }
    for id in first..first + count {
        let f = lock_file(id)?;
        if flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
            return Ok(Lease { id, _lock: f });
        }
    }
    let f = lock_file(first)?;
    if !flock(&f, libc::LOCK_EX) {
        return Err(Error::io(format!("flock host id {first}"), std::io::Error::last_os_error()));
    }
    Ok(Lease { id: first, _lock: f })
}
