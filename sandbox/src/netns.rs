//! The shared empty network namespace that root runs join instead of making their own.
//!
//! Making a network namespace and tearing it down is the largest single cost of a cold run
//! here (~0.5 ms of a ~3.5 ms `runner run`, and the kernel's teardown runs on a worker
//! after it). A run has no use for a network of its own: it gets no interface but a
//! loopback that is down. So, where it is safe, every run joins one such namespace, made
//! once and kept on `/run/sandbox/net` (a bind mount of the namespace, as `ip netns` keeps
//! its own), instead of making one.
//!
//! Safe means: the runner is root (the namespace is owned by the host's user namespace, in
//! which no run has any capability, so none can bring the loopback up, add an interface or
//! change a sysctl); the run is under the built-in seccomp policy, which lets a program make
//! only unix and IP sockets (see `may_share`); and Landlock is at ABI 6 or later, so that
//! every run's program is in a Landlock domain of its own that denies TCP bind and connect
//! and scopes abstract unix sockets to the run: concurrent runs cannot reach each other
//! through the namespace they share. What they do share, and the README says so: UDP port numbers (a port bound by
//! one run is busy for another running at the same moment; no datagram can travel, the
//! loopback being down), the socket tables under /proc/net and the namespace's counters.
//! A run that must not share even that sets `RunConfig::own_network`.
//!
//! The namespace is checked when a process first opens it: a network namespace, owned by
//! our own user namespace, holding no interface but a loopback that is down. Anything else
//! there and runs make their own, with a warning. `runner cleanup` removes it.

use crate::config::{RunConfig, SeccompChoice};
use crate::{landlock, state, sys};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const NSFS_MAGIC: i64 = 0x6e73_6673;
/// `_IO(0xb7, 0x1)` and `_IO(0xb7, 0x3)` of linux/nsfs.h.
const NS_GET_USERNS: libc::c_ulong = 0xb701;
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Where root keeps the namespace.
fn path() -> Result<PathBuf, String> {
    state::dir().map(|d| d.join("net")).map_err(|e| e.to_string())
}

/// Whether `cfg` allows its run to share: not asked for its own, and under the built-in
/// seccomp policy, which lets a program make only unix and IP sockets. Another policy may
/// allow netlink (NETLINK_USERSOCK lets one unprivileged socket send to another by port
/// id), TIPC or other families through which runs sharing a namespace could talk.
pub(crate) fn may_share(cfg: &RunConfig) -> bool {
    !cfg.own_network && matches!(&cfg.seccomp, SeccompChoice::Named(n) if n == "default")
}

/// The shared namespace a run of `cfg` joins, or `None` when it makes its own (see the
/// module docs for when).
pub(crate) fn for_run(cfg: &RunConfig, root_mode: bool) -> Option<&'static OwnedFd> {
    if !may_share(cfg) || !root_mode || landlock::abi_version() < 6 {
        return None;
    }
    shared()
}

/// What the report says of a run's network namespace.
pub(crate) fn describe(shared: bool, warm: bool) -> String {
    match (shared, warm) {
        (true, _) => "an empty network namespace shared with other runs (a loopback that is down, nothing \
                      else; Landlock denies TCP and scopes abstract unix sockets to the run)"
            .into(),
        (false, false) => "a network namespace of its own (a loopback that is down, nothing else)".into(),
        (false, true) => "the warm environment's own network namespace, kept from run to run (a loopback that \
                          is down, nothing else)"
            .into(),
    }
}

fn shared() -> Option<&'static OwnedFd> {
    static NS: OnceLock<Option<OwnedFd>> = OnceLock::new();
    NS.get_or_init(|| match open_or_make() {
        Ok(fd) => Some(fd),
        Err(e) => {
            tracing::warn!("the shared network namespace is not usable ({e}); each run makes its own");
            None
        }
    })
    .as_ref()
}

fn open_or_make() -> Result<OwnedFd, String> {
    let path = path()?;
    if let Some(ns) = open_ns(&path)? {
        return checked(ns, &path);
    }
    // Not made yet: one process makes it, under an exclusive lock on the file the namespace
    // is then mounted on; a process that waited for the lock finds it made.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!("{} is not a file of ours", path.display()));
    }
    // SAFETY: flock takes an fd we own and a flag.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } < 0 {
        return Err(format!("flock {}: {}", path.display(), sys::errno_name_last()));
    }
    if let Some(ns) = open_ns(&path)? {
        return checked(ns, &path);
    }
    make_on(&path)?;
    let ns = open_ns(&path)?.ok_or_else(|| format!("{}: the namespace's bind mount is not there", path.display()))?;
    checked(ns, &path)
}

/// Opens `path` if a namespace is mounted there: `None` for no file or a plain file.
fn open_ns(path: &Path) -> Result<Option<OwnedFd>, String> {
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path)
    {
        Ok(f) => OwnedFd::from(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let fs = nix::sys::statfs::fstatfs(&file).map_err(|e| format!("statfs {}: {e}", path.display()))?;
    if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
        return Ok(None);
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the namespace's CLONE_NEW* flag.
    let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE) };
    if kind != libc::CLONE_NEWNET {
        return Err(format!("{} is a namespace but not a network namespace", path.display()));
    }
    Ok(Some(file))
}

/// Makes an empty network namespace and mounts it on `path`, from a thread of its own (the
/// namespace is that thread's for the moment it lives; no other thread of ours changes).
fn make_on(path: &Path) -> Result<(), String> {
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| "state directory path with a NUL byte".to_string())?;
    std::thread::spawn(move || {
        // SAFETY: unshare takes flags; only this thread's network namespace changes.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } < 0 {
            return Err(format!("unshare(CLONE_NEWNET) => {}", sys::errno_name_last()));
        }
        // SAFETY: mount reads two NUL-terminated paths; a bind mount keeps the namespace
        // alive after this thread is gone.
        let r = unsafe {
            libc::mount(
                c"/proc/thread-self/ns/net".as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if r < 0 {
            return Err(format!("bind-mounting the namespace => {}", sys::errno_name_last()));
        }
        Ok(())
    })
    .join()
    .map_err(|_| "the thread making the namespace panicked".to_string())?
}

/// Checks that `ns` is owned by our user namespace and holds nothing but a loopback that is
/// down, from a thread of its own that joins it and ends. The second check is made once per
/// namespace: once it passed, a root-only marker next to it (`net.checked`, its device and
/// inode numbers) spares the next processes the thread (a one-off `runner run` would pay
/// ~0.1 ms for it); only root can change the namespace.
fn checked(ns: OwnedFd, path: &Path) -> Result<OwnedFd, String> {
    // SAFETY: NS_GET_USERNS takes no argument and returns a new fd (or -1).
    let owner = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if owner < 0 {
        return Err(format!("{}: its owner: {}", path.display(), sys::errno_name_last()));
    }
    // SAFETY: the ioctl returned a new fd that nothing else owns.
    let owner = unsafe { OwnedFd::from_raw_fd(owner) };
    let ours = std::fs::metadata("/proc/self/ns/user").map_err(|e| format!("/proc/self/ns/user: {e}"))?;
    let theirs = nix::sys::stat::fstat(owner.as_raw_fd()).map_err(|e| format!("fstat: {e}"))?;
    if theirs.st_ino != ours.ino() || theirs.st_dev != ours.dev() {
        return Err(format!("{} belongs to another user namespace", path.display()));
    }
    let me = nix::sys::stat::fstat(ns.as_raw_fd()).map_err(|e| format!("fstat: {e}"))?;
    let stamp = format!("{}:{}\n", me.st_dev, me.st_ino);
    let marker = path.with_extension("checked");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == stamp) {
        return Ok(ns);
    }
    let raw = ns.as_raw_fd();
    let found = std::thread::scope(|s| {
        s.spawn(move || -> Result<(Vec<String>, bool), String> {
            // SAFETY: setns takes an fd and a flag; only this thread, which ends here, moves.
            if unsafe { libc::setns(raw, libc::CLONE_NEWNET) } < 0 {
                return Err(format!("setns => {}", sys::errno_name_last()));
            }
            let dev = std::fs::read_to_string("/proc/thread-self/net/dev").map_err(|e| format!("net/dev: {e}"))?;
            let names = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect();
            Ok((names, loopback_up()?))
        })
        .join()
        .map_err(|_| "the checking thread panicked".to_string())?
    })?;
    match found {
        (names, false) if names == ["lo"] => {
            // Written whole or not at all (a new file renamed over the old).
            let tmp = path.with_extension("checked.tmp");
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)
                .and_then(|mut f| std::io::Write::write_all(&mut f, stamp.as_bytes()))
                .and_then(|()| std::fs::rename(&tmp, &marker));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            Ok(ns)
        }
        (names, up) => Err(format!(
            "{} is not empty: interfaces {names:?}{}",
            path.display(),
            if up { ", the loopback up" } else { "" }
        )),
    }
}

/// Whether this thread's namespace has its loopback up.
fn loopback_up() -> Result<bool, String> {
    // SAFETY: socket takes integers; the fd is owned right away.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(format!("socket => {}", sys::errno_name_last()));
    }
    // SAFETY: a new fd nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    // SAFETY: an all-zero ifreq is valid; the name is copied in below.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of this ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(format!("SIOCGIFFLAGS lo => {}", sys::errno_name_last()));
    }
    // SAFETY: the kernel filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    Ok(flags as libc::c_int & libc::IFF_UP != 0)
}

/// Unmounts the shared network namespace root runs join and removes its file (`runner
/// cleanup`): processes that hold it keep it until they end; a process that opens it next
/// makes a new one. Returns its path if there was one.
pub fn remove_shared_network() -> Option<PathBuf> {
    let path = path().ok()?;
    let target = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: umount2 reads a NUL-terminated path.
    let unmounted = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) } == 0;
    let removed = std::fs::remove_file(&path).is_ok();
    let _ = std::fs::remove_file(path.with_extension("checked"));
    (unmounted || removed).then_some(path)
}
