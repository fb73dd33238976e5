//! Copying a host directory into the run's scratch tmpfs before the run ("copy-in") and
//! mirroring the tmpfs back onto the host directory after it ("copy-out").
//!
//! At copy-out time the tmpfs is entirely the hostile program's work, and the host side may
//! hold whatever a previous run or the user left there. So nothing here ever resolves a path:
//! every step is one `*at` call on a directory fd with a single-component name, symlinks are
//! never followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `O_DIRECTORY|O_NOFOLLOW` for
//! directories), and existing destination files are never written through: a differing entry
//! is unlinked and created anew with `O_CREAT|O_EXCL`. (The one exception is `mirror_file_out`,
//! whose destination is the lent host file itself, held by fd.)
//!
//! What is copied: directories, regular files (sparse-aware: only data ranges are written, so
//! holes cost nothing and stay holes), symlinks (recreated with the same target) and hardlinks
//! within one walk. Fifos, sockets and devices are skipped and counted, and so is anything on
//! another filesystem than the walk's root (a mount inside the tree is never crossed).
//!
//! Copy-out changes the host only where the program changed something. Copy-in returns a
//! [`Manifest`]: every entry it lent, with the host inode it came from and its copy as the
//! run found it. Copy-out then leaves alone every copy the program did not touch (its inode
//! and change time are as copy-in left them, and no unprivileged program can set a change
//! time back), and replaces or removes a host entry only if it is the very inode that was
//! lent. Entries copy-in skipped (fifos, sockets, devices, mounts) and whatever appeared or
//! changed on the host during the run are never removed or overwritten; a new entry of the
//! program whose name is taken on the host by such an entry is not copied back (counted in
//! `skipped`).
//!
//! Every created entry is owned by `CopyRules::uid/gid`, keeps the source's atime and mtime to
//! the nanosecond, and gets the source's mode masked with 0o777 on copy-in and 0o755 on
//! copy-out: never a setuid, setgid or sticky bit, and on the host no group or other write.
//!
//! Limits: `max_bytes` counts data bytes written, `max_files` counts created entries (files,
//! hardlinks, directories and symlinks; entries left alone on copy-out cost nothing), and
//! `max_depth` is how many directory levels below the root may exist (a directory directly in
//! the root is level 1). A limit stops the walk with `CopyError::Budget` before it is exceeded;
//! the partial result still obeys every rule above. Each directory level holds two fds open
//! and a 16 KiB buffer, so `max_depth` must stay well below RLIMIT_NOFILE / 2.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, Whence};
use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Who owns what the copy creates, and how much it may write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CopyRules {
    /// Owner of every created entry.
    pub uid: u32,
    /// Group of every created entry.
    pub gid: u32,
    /// Data bytes the walk may write (holes are free).
    pub max_bytes: u64,
    /// Entries the walk may create (files, hardlinks, directories, symlinks).
    pub max_files: u64,
    /// Directory levels below the root.
    pub max_depth: u32,
}

/// What one walk did. `files`, `dirs` and `symlinks` count created entries (a hardlink is a
/// file); entries left alone on copy-out are not counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CopyStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Data bytes written.
    pub bytes: u64,
    /// Source entries not copied: fifos, sockets, devices, other filesystems, vanished ones.
    pub skipped: u64,
    /// Destination entries unlinked (copy-out only), subtree contents included.
    pub removed: u64,
    /// Entries whose source mode had a setuid or setgid bit, dropped in the copy.
    pub stripped_setid: u64,
}

/// What copy-in lent, by path from the walk's root (components joined with `/`).
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    entries: HashMap<Vec<u8>, Copied>,
}

/// One lent entry.
#[derive(Debug, Clone, Copy, Default)]
struct Copied {
    /// (st_dev, st_ino) of the host entry it was copied from, and its birth time where the
    /// filesystem keeps one: a file the host makes during the run may get a freed inode
    /// number again, never the same birth time.
    host: (u64, u64),
    host_birth: Option<(i64, u32)>,
    /// The copy's inode and change time (seconds, nanoseconds) once copy-in was done. Any
    /// change to the copy (data, mode, owner, times, links) moves its change time.
    copy: (u64, i64, i64),
    /// The copy's permission bits then.
    mode: u32,
}

impl Manifest {
    /// How many entries were lent.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The newest change time of a copy, if anything was lent.
    pub(crate) fn newest_change(&self) -> Option<(i64, i64)> {
        self.entries.values().map(|c| (c.copy.1, c.copy.2)).max()
    }

    /// Reads back, once the walk is over, each copy's inode, change time and mode: a copy's
    /// change time moves after it was made (its times are set last; a later hardlink to it
    /// moves it again). `root` is the copy's root; before the run nothing in it is hostile.
    fn seal(&mut self, root: BorrowedFd) -> io::Result<()> {
        for (path, c) in self.entries.iter_mut() {
            let name = CString::new(path.as_slice()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            let st = lstat_at(root, &name)?;
            c.copy = (st.st_ino, st.st_ctime, st.st_ctime_nsec);
            c.mode = st.st_mode & 0o7777;
        }
        Ok(())
    }
}

/// Whether a change made right after a stat of a tmpfs inode gets a change time of its own,
/// as with the kernel's multigrain timestamps (tmpfs since Linux 6.13). Without them a change
/// time is the clock's last tick (4–10 ms): a copy changed in the tick copy-in ended would
/// look untouched, so the caller lets that tick pass before the run (`settle_change_times`).
/// Probed once per process on a memfd (tmpfs): three stat-write-stat rounds must all move it.
pub(crate) fn change_times_are_fine() -> bool {
    static FINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FINE.get_or_init(|| {
        let Ok(fd) =
            nix::sys::memfd::memfd_create(c"sandbox-ctime-probe", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
        else {
            return false;
        };
        (0..3).all(|_| {
            let before = fstat(fd.as_fd());
            let wrote = nix::unistd::write(&fd, b"x");
            let after = fstat(fd.as_fd());
            match (before, wrote, after) {
                (Ok(b), Ok(1), Ok(a)) => (a.st_ctime, a.st_ctime_nsec) != (b.st_ctime, b.st_ctime_nsec),
                _ => false,
            }
        })
    })
}

/// Waits until the coarse clock has moved past `newest` (a copy's change time), so that a
/// change to any copy gets a later change time even without multigrain timestamps. At most
/// one clock tick.
pub(crate) fn settle_change_times(newest: (i64, i64)) {
    loop {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE);
        if now.map_or(true, |t| (t.tv_sec(), t.tv_nsec()) > newest) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
}

/// Why a walk stopped. Paths are relative to the walked roots ("." for a root itself).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    /// A system call failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Going on would exceed `max_bytes` ("bytes"), `max_files` ("files") or `max_depth`
    /// ("depth").
    #[error("copy limit reached: more than {limit} {what}")]
    Budget { what: &'static str, limit: u64 },
}

/// Copies the tree under `src` into `dst` (an empty directory). Used for copy-in.
///
/// Both fds must be directories opened for reading (not `O_PATH`). `dst` itself also gets the
/// owner, the masked mode and the times of `src`, since the program works in it.
pub(crate) fn copy_in(
    src: BorrowedFd,
    dst: BorrowedFd,
    rules: &CopyRules,
    lent: &mut Manifest,
) -> Result<CopyStats, CopyError> {
    let mut walk = Walk::tree(rules, false, src, dst)?;
    let st = fstat(src).map_err(|e| walk.fail("fstat", e))?;
    walk.fill(src, dst, 0)?;
    nix::unistd::fchown(dst.as_raw_fd(), Some(Uid::from_raw(rules.uid)), Some(Gid::from_raw(rules.gid)))
        .map_err(|e| walk.fail("fchown", e))?;
    walk.finish(dst, &st)?;
    lent.entries.extend(walk.made.drain());
    lent.seal(dst).map_err(|e| walk.fail("fstatat copy", e))?;
    Ok(walk.stats)
}

/// Brings the program's changes in `src` (the tmpfs after the run) to `dst` (the host
/// directory), `lent` being what copy-in lent: copies the program did not touch are left
/// alone; lent entries it removed are removed from dst (recursively, safely, and only what
/// was lent); lent entries it changed are replaced (never written through); entries it
/// created are created. Used for copy-out.
///
/// A host directory that stays keeps its owner, mode and times, unless the program changed
/// the mode of its copy. `dst`'s own owner, mode and times are left as they are: it is the
/// user's directory.
pub(crate) fn mirror_out(
    src: BorrowedFd,
    dst: BorrowedFd,
    rules: &CopyRules,
    lent: &Manifest,
) -> Result<CopyStats, CopyError> {
    let mut walk = Walk::tree(rules, true, src, dst)?;
    walk.lent = Some(lent);
    walk.fill(src, dst, 0)?;
    Ok(walk.stats)
}

/// Copies one regular file (for rw file binds): src file fd → dst dir + name.
///
/// `name` must be a single component. The offset of `src` is moved (data is read at explicit
/// offsets).
pub(crate) fn copy_file_in(
    src: BorrowedFd,
    dst_dir: BorrowedFd,
    name: &OsStr,
    rules: &CopyRules,
    lent: &mut Manifest,
) -> Result<CopyStats, CopyError> {
    let mut walk = Walk::new(rules, false, 0, 0, None);
    let name = walk.component(name)?;
    let st = fstat(src).map_err(|e| walk.fail("fstat", e))?;
    if !is(&st, libc::S_IFREG) {
        return Err(walk.fail("copy", io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    walk.need_entry()?;
    let dst = open_at(dst_dir, &name, new_file_flags(), 0o600).map_err(|e| walk.fail("create", e))?;
    walk.stats.files += 1;
    walk.write_file(src, dst.as_fd(), &st)?;
    let made = fstat(dst.as_fd()).map_err(|e| walk.fail("fstat", e))?;
    let copy = (made.st_ino, made.st_ctime, made.st_ctime_nsec);
    lent.entries.insert(
        name.to_bytes().to_vec(),
        Copied { host: (st.st_dev, st.st_ino), host_birth: statx_at(src, c"").1, copy, mode: made.st_mode & 0o7777 },
    );
    Ok(walk.stats)
}

/// Mirrors one regular file of the tmpfs (`src_dir` + `name`) onto the host file `dst`, which
/// was opened for writing (not `O_APPEND`) before the run.
///
/// `dst` is the lent host file itself, so it is rewritten in place (the only way: it is held
/// by fd) and keeps its owner and mode, except that a setuid/setgid bit is dropped when its
/// content is rewritten (as the kernel does when an unprivileged writer writes). Unchanged
/// content (same size and mtime), or a copy the program did not touch (see `lent`, filled by
/// `copy_file_in`), is not touched at all. If the program removed the file or put
/// something else than a regular file there, `dst` is left as it was and `skipped` is 1. The
/// byte budget is checked before `dst` is touched.
pub(crate) fn mirror_file_out(
    src_dir: BorrowedFd,
    name: &OsStr,
    dst: BorrowedFd,
    rules: &CopyRules,
    lent: &Manifest,
) -> Result<CopyStats, CopyError> {
    let mut walk = Walk::new(rules, true, 0, 0, None);
    let name = walk.component(name)?;
    let src = match open_at(src_dir, &name, src_file_flags(), 0) {
        Ok(fd) => fd,
        Err(e) if vanished_file(e) => {
            walk.stats.skipped += 1;
            return Ok(walk.stats);
        }
        Err(e) => return Err(walk.fail("open", e)),
    };
    let st = fstat(src.as_fd()).map_err(|e| walk.fail("fstat", e))?;
    if !is(&st, libc::S_IFREG) {
        walk.stats.skipped += 1;
        return Ok(walk.stats);
    }
    let untouched =
        lent.entries.get(name.to_bytes()).is_some_and(|c| c.copy == (st.st_ino, st.st_ctime, st.st_ctime_nsec));
    if untouched {
        return Ok(walk.stats);
    }
    let old = fstat(dst).map_err(|e| walk.fail("fstat host file", e))?;
    if !is(&old, libc::S_IFREG) {
        return Err(walk.fail("mirror", io::Error::new(io::ErrorKind::InvalidInput, "host side is not a regular file")));
    }
    // Without a record of the copy, unchanged content (same size and mtime) is left alone.
    if !lent.entries.contains_key(name.to_bytes()) && same_content(&st, &old) {
        return Ok(walk.stats);
    }
    let mut data = 0u64;
    for range in DataRanges::new(src.as_fd(), st.st_size) {
        let (start, end) = range.map_err(|e| walk.fail("lseek", e))?;
        data += (end - start) as u64;
    }
    walk.need_bytes(data)?;
    walk.need_entry()?;
    nix::unistd::ftruncate(dst, 0).map_err(|e| walk.fail("ftruncate", e))?;
    walk.stats.files += 1;
    walk.copy_data(src.as_fd(), dst, &st)?;
    if old.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0 {
        walk.stats.stripped_setid += 1;
        let mode = old.st_mode & 0o1777;
        nix::sys::stat::fchmod(dst.as_raw_fd(), Mode::from_bits_truncate(mode)).map_err(|e| walk.fail("fchmod", e))?;
    }
    let (atime, mtime) = times(&st);
    nix::sys::stat::futimens(dst.as_raw_fd(), &atime, &mtime).map_err(|e| walk.fail("futimens", e))?;
    Ok(walk.stats)
}

/// How deep `largest_file` looks.
const LARGEST_DEPTH: u32 = 256;

/// The size of the largest regular file under the directory `d` (opened for reading), or None
/// when there is none or `d` cannot be read. Best effort, for reporting: symlinks are not
/// followed, other filesystems not entered, unreadable entries passed over, and nothing deeper
/// than 256 directory levels is looked at.
pub(crate) fn largest_file(d: BorrowedFd) -> Option<u64> {
    let dev = fstat(d).ok()?.st_dev;
    let mut largest = None;
    largest_under(d, dev, 0, &mut largest);
    largest
}

/// `largest_file` of the directory at `d` (its last component is not followed).
pub(crate) fn largest_file_in(d: &Path) -> Option<u64> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(d)
        .ok()?;
    largest_file(dir.as_fd())
}

fn largest_under(dir: BorrowedFd, dev: u64, depth: u32, largest: &mut Option<u64>) {
    let Ok(mut names) = Names::start(dir) else { return };
    while let Ok(Some(name)) = names.next(dir) {
        let Ok(st) = lstat_at(dir, &name) else { continue };
        if st.st_dev != dev {
            continue;
        }
        if is(&st, libc::S_IFREG) {
            *largest = (*largest).max(Some(st.st_size as u64));
        } else if is(&st, libc::S_IFDIR) && depth < LARGEST_DEPTH {
            if let Ok(sub) = open_at(dir, &name, dir_flags(), 0) {
                largest_under(sub.as_fd(), dev, depth + 1, largest);
            }
        }
    }
}

/// The first copy of a source inode with several links, for the next names to link to.
#[derive(Clone)]
struct Linked {
    /// Path of the first copy from the destination root, one component each.
    at: Vec<CString>,
    /// (st_dev, st_ino) of the first copy.
    inode: (u64, u64),
}

struct Walk<'a> {
    rules: &'a CopyRules,
    /// mirror_out: reconcile with an existing destination, mask modes with 0o755.
    out: bool,
    mask: u32,
    stats: CopyStats,
    src_dev: u64,
    dst_dev: u64,
    dst_root: Option<BorrowedFd<'a>>,
    links: HashMap<(u64, u64), Linked>,
    /// Path of the entry being worked on, for errors and hardlinks.
    comps: Vec<CString>,
    /// copy_file_range still worth trying.
    cfr: bool,
    buf: Vec<u8>,
    /// Copy-in: what it lent so far, host identities only (`Manifest::seal` adds the rest).
    made: HashMap<Vec<u8>, Copied>,
    /// Copy-out: what copy-in lent.
    lent: Option<&'a Manifest>,
    /// The mounts of the two roots: a directory or file on another mount (a bind mount
    /// inside the tree, even of the same filesystem) is never entered, copied or removed.
    src_mnt: Option<u64>,
    dst_mnt: Option<u64>,
}

const BUF_LEN: usize = 256 << 10;
const CFR_CHUNK: i64 = 1 << 30;

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn src_file_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC
}

fn new_file_flags() -> OFlag {
    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn open_at(dir: BorrowedFd, name: &CStr, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir.as_raw_fd()), name, flags, Mode::from_bits_truncate(mode))?;
    // SAFETY: openat just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn lstat_at(dir: BorrowedFd, name: &CStr) -> nix::Result<FileStat> {
    nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// The mount id and birth time of `name` in `dir` (the directory itself for an empty name),
/// symlinks not followed; each None where the kernel does not give it.
fn statx_at(dir: BorrowedFd, name: &CStr) -> (Option<u64>, Option<(i64, u32)>) {
    // SAFETY: statx is plain data; zeroed is a valid value.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    let flags = libc::AT_SYMLINK_NOFOLLOW | if name.is_empty() { libc::AT_EMPTY_PATH } else { 0 };
    // SAFETY: statx reads the NUL-terminated name and fills `sx`, valid for writes; the
    // result is checked.
    let r =
        unsafe { libc::statx(dir.as_raw_fd(), name.as_ptr(), flags, libc::STATX_MNT_ID | libc::STATX_BTIME, &mut sx) };
    if r != 0 {
        return (None, None);
    }
    let mnt = (sx.stx_mask & libc::STATX_MNT_ID != 0).then_some(sx.stx_mnt_id);
    let birth = (sx.stx_mask & libc::STATX_BTIME != 0).then_some((sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec));
    (mnt, birth)
}

/// The mount id of an open file or directory.
fn mount_of(fd: BorrowedFd) -> Option<u64> {
    statx_at(fd, c"").0
}

fn fstat(fd: BorrowedFd) -> nix::Result<FileStat> {
    nix::sys::stat::fstat(fd.as_raw_fd())
}

fn is(st: &FileStat, kind: libc::mode_t) -> bool {
    st.st_mode & libc::S_IFMT == kind
}

fn is_dot(name: &CStr) -> bool {
    matches!(name.to_bytes(), b"." | b"..")
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (TimeSpec::new(st.st_atime, st.st_atime_nsec), TimeSpec::new(st.st_mtime, st.st_mtime_nsec))
}

fn same_content(src: &FileStat, dst: &FileStat) -> bool {
    src.st_size == dst.st_size && src.st_mtime == dst.st_mtime && src.st_mtime_nsec == dst.st_mtime_nsec
}

/// open() errors meaning "not a regular file any more" (or gone): skip, not fail.
fn vanished_file(e: Errno) -> bool {
    matches!(e, Errno::ENOENT | Errno::ELOOP | Errno::ENXIO | Errno::ENODEV | Errno::EAGAIN)
}

/// The names in a directory, read with getdents64 from the directory fd passed to each
/// `next` (always the same one), "." and ".." left out.
struct Names {
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    end: bool,
}

/// Offsets in a `struct linux_dirent64`: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
const DIRENT_RECLEN: usize = 16;
const DIRENT_NAME: usize = 19;

impl Names {
    /// Rewinds `dir` (a directory opened for reading) to its first entry.
    fn start(dir: BorrowedFd) -> io::Result<Names> {
        nix::unistd::lseek(dir.as_raw_fd(), 0, Whence::SeekSet)?;
        Ok(Names { buf: vec![0; 16 << 10], pos: 0, len: 0, end: false })
    }

    fn next(&mut self, dir: BorrowedFd) -> io::Result<Option<CString>> {
        loop {
            if self.pos < self.len {
                let rest = &self.buf[self.pos..self.len];
                let reclen = match rest.get(DIRENT_RECLEN..DIRENT_RECLEN + 2) {
                    Some(b) => usize::from(u16::from_ne_bytes([b[0], b[1]])),
                    None => return Err(Errno::EIO.into()),
                };
                let name = match rest.get(DIRENT_NAME..reclen).map(CStr::from_bytes_until_nul) {
                    Some(Ok(name)) if !name.is_empty() => name,
                    _ => return Err(Errno::EIO.into()),
                };
                self.pos += reclen;
                if is_dot(name) {
                    continue;
                }
                return Ok(Some(name.to_owned()));
            }
            if self.end {
                return Ok(None);
            }
            // SAFETY: getdents64 writes at most `buf.len()` bytes into `buf`, which we own.
            let n =
                unsafe { libc::syscall(libc::SYS_getdents64, dir.as_raw_fd(), self.buf.as_mut_ptr(), self.buf.len()) };
            match n {
                0 => self.end = true,
                n if n > 0 => (self.pos, self.len) = (0, n as usize),
                _ if Errno::last() == Errno::EINTR => {}
                _ => return Err(io::Error::last_os_error()),
            }
        }
    }
}

/// The data ranges [start, end) of a file up to `size`, by SEEK_DATA / SEEK_HOLE (the whole
/// file when the filesystem cannot tell).
struct DataRanges<'f> {
    fd: BorrowedFd<'f>,
    size: i64,
    off: i64,
    seek: bool,
}

impl<'f> DataRanges<'f> {
    fn new(fd: BorrowedFd<'f>, size: i64) -> Self {
        DataRanges { fd, size, off: 0, seek: true }
    }
}

impl Iterator for DataRanges<'_> {
    type Item = io::Result<(i64, i64)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.size {
            return None;
        }
        let fd = self.fd.as_raw_fd();
        let mut start = self.off;
        if self.seek {
            match nix::unistd::lseek(fd, self.off, Whence::SeekData) {
                Ok(s) => start = s,
                Err(Errno::ENXIO) => {
                    self.off = self.size;
                    return None;
                }
                Err(Errno::EINVAL | Errno::EOPNOTSUPP) => self.seek = false,
                Err(e) => return Some(Err(e.into())),
            }
        }
        if start >= self.size {
            self.off = self.size;
            return None;
        }
        let mut end = self.size;
        if self.seek {
            match nix::unistd::lseek(fd, start, Whence::SeekHole) {
                Ok(h) if h > start => end = h.min(self.size),
                Ok(_) | Err(Errno::ENXIO | Errno::EINVAL | Errno::EOPNOTSUPP) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
        self.off = end;
        Some(Ok((start, end)))
    }
}

impl<'a> Walk<'a> {
    fn new(rules: &'a CopyRules, out: bool, src_dev: u64, dst_dev: u64, dst_root: Option<BorrowedFd<'a>>) -> Self {
        Walk {
            rules,
            out,
            mask: if out { 0o755 } else { 0o777 },
            stats: CopyStats::default(),
            src_dev,
            dst_dev,
            dst_root,
            links: HashMap::new(),
            comps: Vec::new(),
            cfr: true,
            buf: Vec::new(),
            made: HashMap::new(),
            lent: None,
            src_mnt: None,
            dst_mnt: None,
        }
    }

    fn tree(rules: &'a CopyRules, out: bool, src: BorrowedFd<'a>, dst: BorrowedFd<'a>) -> Result<Self, CopyError> {
        let mut walk = Walk::new(rules, out, 0, 0, Some(dst));
        walk.src_dev = fstat(src).map_err(|e| walk.fail("fstat", e))?.st_dev;
        walk.dst_dev = fstat(dst).map_err(|e| walk.fail("fstat", e))?.st_dev;
        walk.src_mnt = mount_of(src);
        walk.dst_mnt = mount_of(dst);
        Ok(walk)
    }

    fn rel(&self) -> PathBuf {
        if self.comps.is_empty() {
            return PathBuf::from(".");
        }
        self.comps.iter().map(|c| OsStr::from_bytes(c.to_bytes())).collect()
    }

    /// The current path as a manifest key.
    fn key(&self) -> Vec<u8> {
        self.comps.iter().map(|c| c.to_bytes()).collect::<Vec<_>>().join(&b'/')
    }

    /// Copy-in: notes the current path as lent from the host entry `host`, `name` in `dir`.
    fn note(&mut self, dir: BorrowedFd, name: &CStr, host: &FileStat) {
        if !self.out {
            let key = self.key();
            let host_birth = statx_at(dir, name).1;
            self.made.insert(key, Copied { host: (host.st_dev, host.st_ino), host_birth, ..Copied::default() });
        }
    }

    /// Copy-out: the copy `st` at the current path is as copy-in left it.
    fn untouched(&self, st: &FileStat) -> bool {
        let copy = (st.st_ino, st.st_ctime, st.st_ctime_nsec);
        self.lent.and_then(|m| m.entries.get(&self.key())).is_some_and(|c| c.copy == copy)
    }

    /// Copy-out: the host entry `old`, `name` in `dir`, at the current path is the one that
    /// was lent (same inode, same birth), which the program's changes may replace or remove.
    /// Anything else there is the host's.
    fn is_lent(&self, dir: BorrowedFd, name: &CStr, old: &FileStat) -> bool {
        let Some(c) = self.lent.and_then(|m| m.entries.get(&self.key())) else { return false };
        c.host == (old.st_dev, old.st_ino) && (c.host_birth.is_none() || statx_at(dir, name).1 == c.host_birth)
    }

    /// Copy-out: the mode copy-in gave the copy at the current path.
    fn lent_mode(&self) -> Option<u32> {
        self.lent.and_then(|m| m.entries.get(&self.key())).map(|c| c.mode)
    }

    fn fail(&self, op: &'static str, e: impl Into<io::Error>) -> CopyError {
        CopyError::Io { op, path: self.rel(), source: e.into() }
    }

    /// `name` as one path component, pushed as the current path.
    fn component(&mut self, name: &OsStr) -> Result<CString, CopyError> {
        let bytes = name.as_bytes();
        let bad = bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/');
        let c = CString::new(bytes).ok().filter(|_| !bad).ok_or_else(|| {
            self.fail("name", io::Error::new(io::ErrorKind::InvalidInput, "not a single path component"))
        })?;
        self.comps.push(c.clone());
        Ok(c)
    }

    fn need_entry(&self) -> Result<(), CopyError> {
        let created = self.stats.files + self.stats.dirs + self.stats.symlinks;
        if created >= self.rules.max_files {
            return Err(CopyError::Budget { what: "files", limit: self.rules.max_files });
        }
        Ok(())
    }

    fn need_bytes(&self, n: u64) -> Result<(), CopyError> {
        if self.stats.bytes.saturating_add(n) > self.rules.max_bytes {
            return Err(CopyError::Budget { what: "bytes", limit: self.rules.max_bytes });
        }
        Ok(())
    }

    fn need_depth(&self, depth: u32) -> Result<(), CopyError> {
        if depth > self.rules.max_depth {
            return Err(CopyError::Budget { what: "depth", limit: self.rules.max_depth.into() });
        }
        Ok(())
    }

    /// The mode a copy of `st` gets, counting a dropped setuid/setgid bit.
    fn mode_of(&mut self, st: &FileStat) -> u32 {
        if st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0 {
            self.stats.stripped_setid += 1;
        }
        st.st_mode & self.mask
    }

    /// Worth copying: a directory, regular file or symlink on the source's filesystem.
    fn copyable(&self, st: &FileStat) -> bool {
        st.st_dev == self.src_dev && (is(st, libc::S_IFDIR) || is(st, libc::S_IFREG) || is(st, libc::S_IFLNK))
    }

    fn chown(&self, fd: BorrowedFd) -> Result<(), CopyError> {
        nix::unistd::fchown(fd.as_raw_fd(), Some(Uid::from_raw(self.rules.uid)), Some(Gid::from_raw(self.rules.gid)))
            .map_err(|e| self.fail("fchown", e))
    }

    /// Final mode, then times (last, since every change before moves them).
    fn finish(&mut self, fd: BorrowedFd, st: &FileStat) -> Result<(), CopyError> {
        let mode = self.mode_of(st);
        nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode)).map_err(|e| self.fail("fchmod", e))?;
        let (atime, mtime) = times(st);
        nix::sys::stat::futimens(fd.as_raw_fd(), &atime, &mtime).map_err(|e| self.fail("futimens", e))
    }

    /// Copies every entry of the source directory `src` into `dst`, a directory at `depth`.
    fn fill(&mut self, src: BorrowedFd, dst: BorrowedFd, depth: u32) -> Result<(), CopyError> {
        if self.out {
            self.remove_absent(src, dst, depth)?;
        }
        let mut names = Names::start(src).map_err(|e| self.fail("read directory", e))?;
        while let Some(name) = names.next(src).map_err(|e| self.fail("read directory", e))? {
            self.comps.push(name.clone());
            let done = self.entry(src, dst, &name, depth + 1);
            self.comps.pop();
            done?;
        }
        Ok(())
    }

    /// One source entry at `depth` (its directory's depth + 1).
    fn entry(&mut self, src: BorrowedFd, dst: BorrowedFd, name: &CStr, depth: u32) -> Result<(), CopyError> {
        let st = match lstat_at(src, name) {
            Ok(st) => st,
            Err(Errno::ENOENT) => {
                self.stats.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(self.fail("fstatat", e)),
        };
        if !self.copyable(&st) {
            self.stats.skipped += 1;
            Ok(())
        } else if self.out && !is(&st, libc::S_IFDIR) && self.untouched(&st) {
            // The program left it as lent: the host keeps what it has there now.
            Ok(())
        } else if is(&st, libc::S_IFDIR) {
            self.dir(src, dst, name, depth)
        } else if is(&st, libc::S_IFREG) {
            self.file(src, dst, name, depth)
        } else {
            self.symlink(src, dst, name, &st, depth)
        }
    }

    /// What `dst` holds under `name` now (copy-out only; copy-in's destination is empty).
    fn existing(&self, dst: BorrowedFd, name: &CStr) -> Result<Option<FileStat>, CopyError> {
        if !self.out {
            return Ok(None);
        }
        match lstat_at(dst, name) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(self.fail("fstatat destination", e)),
        }
    }

    fn dir(&mut self, src: BorrowedFd, dst: BorrowedFd, name: &CStr, depth: u32) -> Result<(), CopyError> {
        self.need_depth(depth)?;
        let from = match open_at(src, name, dir_flags(), 0) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => {
                self.stats.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(self.fail("open directory", e)),
        };
        let st = fstat(from.as_fd()).map_err(|e| self.fail("fstat", e))?;
        if st.st_dev != self.src_dev || mount_of(from.as_fd()) != self.src_mnt {
            self.stats.skipped += 1;
            return Ok(());
        }
        let Some((to, reused)) = self.dst_dir(dst, name, depth)? else {
            // Something the host has there that was not lent: the program's tree stays out.
            self.stats.skipped += 1;
            return Ok(());
        };
        self.fill(from.as_fd(), to.as_fd(), depth)?;
        if !reused {
            self.finish(to.as_fd(), &st)?;
        } else if self.lent_mode() != Some(st.st_mode & 0o7777) {
            // A lent directory whose mode the program changed gets the new mode, masked.
            let mode = self.mode_of(&st);
            nix::sys::stat::fchmod(to.as_raw_fd(), Mode::from_bits_truncate(mode))
                .map_err(|e| self.fail("fchmod", e))?;
        }
        self.note(src, name, &st);
        Ok(())
    }

    /// The destination directory `name` and whether it was there already: on copy-out, the
    /// lent host directory is reused as it is (owner, mode and times kept); else one is
    /// created, mode 0o700 until `finish`, owned by the rules' ids. None when the host has
    /// something there that was not lent (or cannot be removed): it is left alone.
    fn dst_dir(&mut self, dst: BorrowedFd, name: &CStr, depth: u32) -> Result<Option<(OwnedFd, bool)>, CopyError> {
        match self.existing(dst, name)? {
            Some(old) if is(&old, libc::S_IFDIR) => {
                if !self.is_lent(dst, name, &old) {
                    return Ok(None);
                }
                let fd = open_at(dst, name, dir_flags(), 0).map_err(|e| self.fail("open destination directory", e))?;
                let st = fstat(fd.as_fd()).map_err(|e| self.fail("fstat destination", e))?;
                let same = (st.st_dev, st.st_ino) == (old.st_dev, old.st_ino);
                if !same || st.st_dev != self.dst_dev || mount_of(fd.as_fd()) != self.dst_mnt {
                    return Ok(None);
                }
                return Ok(Some((fd, true)));
            }
            Some(old) if !self.remove_lent(dst, name, &old, depth)? => return Ok(None),
            Some(_) | None => {}
        }
        self.need_entry()?;
        nix::sys::stat::mkdirat(Some(dst.as_raw_fd()), name, Mode::S_IRWXU).map_err(|e| self.fail("mkdirat", e))?;
        self.stats.dirs += 1;
        let fd = open_at(dst, name, dir_flags(), 0).map_err(|e| self.fail("open new directory", e))?;
        self.chown(fd.as_fd())?;
        // The umask may have taken bits off 0o700.
        nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::S_IRWXU).map_err(|e| self.fail("fchmod", e))?;
        Ok(Some((fd, false)))
    }

    fn file(&mut self, src: BorrowedFd, dst: BorrowedFd, name: &CStr, depth: u32) -> Result<(), CopyError> {
        let from = match open_at(src, name, src_file_flags(), 0) {
            Ok(fd) => fd,
            Err(e) if vanished_file(e) => {
                self.stats.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(self.fail("open", e)),
        };
        let st = fstat(from.as_fd()).map_err(|e| self.fail("fstat", e))?;
        if !is(&st, libc::S_IFREG) || st.st_dev != self.src_dev || mount_of(from.as_fd()) != self.src_mnt {
            self.stats.skipped += 1;
            return Ok(());
        }
        let key = (st.st_dev, st.st_ino);
        let mut old = self.existing(dst, name)?;
        if st.st_nlink > 1 {
            if let Some(first) = self.links.get(&key).cloned() {
                if old.as_ref().is_some_and(|o| (o.st_dev, o.st_ino) == first.inode) {
                    return Ok(());
                }
                if let Some(o) = old.take() {
                    if !self.remove_lent(dst, name, &o, depth)? {
                        self.stats.skipped += 1;
                        return Ok(());
                    }
                }
                if self.link(&first, dst, name)? {
                    self.note(src, name, &st);
                    return Ok(());
                }
            }
        }
        if let Some(o) = old {
            // On copy-in nothing is there; on copy-out the program touched this copy (an
            // untouched one never gets here): the lent host file is replaced, whatever its
            // size and mtime say (a rename or `touch -r` leaves those equal).
            if !self.remove_lent(dst, name, &o, depth)? {
                self.stats.skipped += 1;
                return Ok(());
            }
        }
        self.need_entry()?;
        let to = open_at(dst, name, new_file_flags(), 0o600).map_err(|e| self.fail("create", e))?;
        self.stats.files += 1;
        self.write_file(from.as_fd(), to.as_fd(), &st)?;
        let made = fstat(to.as_fd()).map_err(|e| self.fail("fstat", e))?;
        self.remember(key, &st, &made);
        self.note(src, name, &st);
        Ok(())
    }

    /// Notes `copy` as the first copy of the source inode `key`, if it has other names.
    fn remember(&mut self, key: (u64, u64), src: &FileStat, copy: &FileStat) {
        if src.st_nlink > 1 {
            let first = Linked { at: self.comps.clone(), inode: (copy.st_dev, copy.st_ino) };
            self.links.entry(key).or_insert(first);
        }
    }

    /// Links `name` in `dst` to the first copy. False when that copy is not there any more or
    /// cannot take another link: the caller copies instead.
    fn link(&mut self, first: &Linked, dst: BorrowedFd, name: &CStr) -> Result<bool, CopyError> {
        let (Some(root), Some((last, dirs))) = (self.dst_root, first.at.split_last()) else {
            return Ok(false);
        };
        let mut parent: Option<OwnedFd> = None;
        for dir in dirs {
            let at = parent.as_ref().map_or(root, |fd| fd.as_fd());
            match open_at(at, dir, dir_flags(), 0) {
                Ok(fd) => parent = Some(fd),
                Err(_) => return Ok(false),
            }
        }
        let at = parent.as_ref().map_or(root, |fd| fd.as_fd());
        match lstat_at(at, last) {
            Ok(st) if is(&st, libc::S_IFREG) && (st.st_dev, st.st_ino) == first.inode => {}
            _ => return Ok(false),
        }
        self.need_entry()?;
        match nix::unistd::linkat(Some(at.as_raw_fd()), last.as_ref(), Some(dst.as_raw_fd()), name, AtFlags::empty()) {
            Ok(()) => {
                self.stats.files += 1;
                Ok(true)
            }
            Err(Errno::EMLINK) => Ok(false),
            Err(e) => Err(self.fail("linkat", e)),
        }
    }

    /// Owner, data, size, mode, times: `dst` is a new regular file.
    fn write_file(&mut self, src: BorrowedFd, dst: BorrowedFd, st: &FileStat) -> Result<(), CopyError> {
        self.chown(dst)?;
        self.copy_data(src, dst, st)?;
        self.finish(dst, st)
    }

    /// The data ranges of `src` into the empty `dst`, then its size: holes stay holes.
    fn copy_data(&mut self, src: BorrowedFd, dst: BorrowedFd, st: &FileStat) -> Result<(), CopyError> {
        for range in DataRanges::new(src, st.st_size) {
            let (start, end) = range.map_err(|e| self.fail("lseek", e))?;
            self.need_bytes((end - start) as u64)?;
            self.copy_range(src, dst, start, end)?;
        }
        nix::unistd::ftruncate(dst, st.st_size).map_err(|e| self.fail("ftruncate", e))
    }

    /// Copies bytes [start, end) to the same offsets, stopping early at the source's end.
    fn copy_range(&mut self, src: BorrowedFd, dst: BorrowedFd, start: i64, end: i64) -> Result<(), CopyError> {
        let mut off = start;
        let mut cfr = self.cfr;
        while off < end {
            let len = (end - off).min(CFR_CHUNK) as usize;
            if cfr {
                let (mut off_in, mut off_out) = (off, off);
                // SAFETY: both offsets point at locals that live across the call; the fds are
                // borrowed for its duration.
                let n = unsafe {
                    libc::copy_file_range(src.as_raw_fd(), &mut off_in, dst.as_raw_fd(), &mut off_out, len, 0)
                };
                match Errno::result(n) {
                    // Some filesystems say 0 instead of failing: let read() tell.
                    Ok(0) => cfr = false,
                    Ok(n) => {
                        off += n as i64;
                        self.stats.bytes += n as u64;
                    }
                    Err(Errno::EINTR) => {}
                    Err(Errno::EXDEV | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::EBADF) => {
                        cfr = false;
                        self.cfr = false;
                    }
                    Err(e) => return Err(self.fail("copy_file_range", e)),
                }
                continue;
            }
            if self.buf.is_empty() {
                self.buf = vec![0; BUF_LEN];
            }
            let len = len.min(BUF_LEN);
            let n = match nix::sys::uio::pread(src, &mut self.buf[..len], off) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(self.fail("pread", e)),
            };
            let mut done = 0;
            while done < n {
                match nix::sys::uio::pwrite(dst, &self.buf[done..n], off + done as i64) {
                    Ok(0) => return Err(self.fail("pwrite", io::Error::from(io::ErrorKind::WriteZero))),
                    Ok(k) => done += k,
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(self.fail("pwrite", e)),
                }
            }
            off += n as i64;
            self.stats.bytes += n as u64;
        }
        Ok(())
    }

    fn symlink(
        &mut self,
        src: BorrowedFd,
        dst: BorrowedFd,
        name: &CStr,
        st: &FileStat,
        depth: u32,
    ) -> Result<(), CopyError> {
        let target = match nix::fcntl::readlinkat(Some(src.as_raw_fd()), name) {
            Ok(t) => t,
            Err(Errno::ENOENT | Errno::EINVAL) => {
                self.stats.skipped += 1;
                return Ok(());
            }
            Err(e) => return Err(self.fail("readlinkat", e)),
        };
        if let Some(old) = self.existing(dst, name)? {
            let same = is(&old, libc::S_IFLNK)
                && nix::fcntl::readlinkat(Some(dst.as_raw_fd()), name).is_ok_and(|t| t == target);
            if same && self.is_lent(dst, name, &old) {
                return Ok(());
            }
            if !self.remove_lent(dst, name, &old, depth)? {
                self.stats.skipped += 1;
                return Ok(());
            }
        }
        self.need_entry()?;
        nix::unistd::symlinkat(target.as_os_str(), Some(dst.as_raw_fd()), name)
            .map_err(|e| self.fail("symlinkat", e))?;
        self.stats.symlinks += 1;
        self.note(src, name, st);
        let (uid, gid) = (Uid::from_raw(self.rules.uid), Gid::from_raw(self.rules.gid));
        nix::unistd::fchownat(Some(dst.as_raw_fd()), name, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| self.fail("fchownat", e))?;
        let (atime, mtime) = times(st);
        nix::sys::stat::utimensat(Some(dst.as_raw_fd()), name, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
            .map_err(|e| self.fail("utimensat", e))
    }

    /// Removes from `dst` every lent entry whose name `src` lacks or holds something not
    /// copied (see `remove_lent`).
    fn remove_absent(&mut self, src: BorrowedFd, dst: BorrowedFd, depth: u32) -> Result<(), CopyError> {
        // Unlinking while reading a directory may hide entries from that read: go again until
        // a pass finds nothing to remove.
        loop {
            let mut names = Names::start(dst).map_err(|e| self.fail("read destination directory", e))?;
            let mut removed_any = false;
            while let Some(name) = names.next(dst).map_err(|e| self.fail("read destination directory", e))? {
                self.comps.push(name.clone());
                let done = self.remove_if_absent(src, dst, &name, depth + 1);
                self.comps.pop();
                removed_any |= done?;
            }
            if !removed_any {
                return Ok(());
            }
        }
    }

    fn remove_if_absent(
        &mut self,
        src: BorrowedFd,
        dst: BorrowedFd,
        name: &CStr,
        depth: u32,
    ) -> Result<bool, CopyError> {
        let keep = match lstat_at(src, name) {
            Ok(st) => self.copyable(&st),
            Err(Errno::ENOENT) => false,
            Err(e) => return Err(self.fail("fstatat", e)),
        };
        if keep {
            return Ok(false);
        }
        match lstat_at(dst, name) {
            Ok(old) => self.remove_lent(dst, name, &old, depth),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(self.fail("fstatat destination", e)),
        }
    }

    /// Unlinks `name` (at the current path) from `dst` if it is the host entry that was lent;
    /// a lent directory goes with every lent entry under it, and stays if anything else is
    /// left in it (a symlink is removed as a link, never followed). Whether it went.
    fn remove_lent(&mut self, dst: BorrowedFd, name: &CStr, old: &FileStat, depth: u32) -> Result<bool, CopyError> {
        if !self.is_lent(dst, name, old) {
            return Ok(false);
        }
        if !is(old, libc::S_IFDIR) {
            nix::unistd::unlinkat(Some(dst.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| self.fail("unlinkat", e))?;
            self.stats.removed += 1;
            return Ok(true);
        }
        self.need_depth(depth)?;
        let dir = open_at(dst, name, dir_flags(), 0).map_err(|e| self.fail("open directory to remove", e))?;
        let st = fstat(dir.as_fd()).map_err(|e| self.fail("fstat", e))?;
        if (st.st_dev, st.st_ino) != (old.st_dev, old.st_ino) || mount_of(dir.as_fd()) != self.dst_mnt {
            // Something was mounted on it or it was swapped since: not the lent directory.
            return Ok(false);
        }
        loop {
            let removed = self.clear_lent(dir.as_fd(), depth)?;
            match nix::unistd::unlinkat(Some(dst.as_raw_fd()), name, UnlinkatFlags::RemoveDir) {
                Ok(()) => {
                    self.stats.removed += 1;
                    return Ok(true);
                }
                Err(Errno::ENOTEMPTY) if removed > 0 => {}
                // What is left in it was not lent: it stays, and the directory with it.
                Err(Errno::ENOTEMPTY) => return Ok(false),
                Err(e) => return Err(self.fail("unlinkat directory", e)),
            }
        }
    }

    /// One pass removing every lent entry of `dir` (at `depth`); how many went.
    fn clear_lent(&mut self, dir: BorrowedFd, depth: u32) -> Result<u64, CopyError> {
        let mut names = Names::start(dir).map_err(|e| self.fail("read directory", e))?;
        let mut count = 0;
        while let Some(name) = names.next(dir).map_err(|e| self.fail("read directory", e))? {
            self.comps.push(name.clone());
            let done = match lstat_at(dir, &name) {
                Ok(old) => self.remove_lent(dir, &name, &old, depth + 1).map(u64::from),
                Err(Errno::ENOENT) => Ok(0),
                Err(e) => Err(self.fail("fstatat", e)),
            };
            self.comps.pop();
            count += done?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, File};
    use std::os::unix::fs::{symlink, FileExt, FileTypeExt, MetadataExt, PermissionsExt};

    fn rules() -> CopyRules {
        CopyRules {
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            max_bytes: 1 << 40,
            max_files: 1_000_000,
            max_depth: 64,
        }
    }

    fn dirfd(p: &Path) -> File {
        File::open(p).unwrap()
    }

    /// Copy-in of `src` into `dst`, with what it lent.
    fn lend(src: &Path, dst: &Path, r: &CopyRules) -> Result<(CopyStats, Manifest), CopyError> {
        let mut lent = Manifest::default();
        copy_in(dirfd(src).as_fd(), dirfd(dst).as_fd(), r, &mut lent).map(|s| (s, lent))
    }

    /// Copy-out of `src` (program-made: nothing of it was lent) into `dst`.
    fn give(src: &Path, dst: &Path, r: &CopyRules) -> Result<CopyStats, CopyError> {
        mirror_out(dirfd(src).as_fd(), dirfd(dst).as_fd(), r, &Manifest::default())
    }

    /// A run's round trip on the host directory `host`: copy-in to a fresh directory, the
    /// program's work there (`program` gets the copy's path), copy-out.
    fn round(host: &Path, r: &CopyRules, program: impl FnOnce(&Path)) -> Result<CopyStats, CopyError> {
        let copy = tempfile::tempdir().unwrap();
        let (_, lent) = lend(host, copy.path(), r).unwrap();
        program(copy.path());
        mirror_out(dirfd(copy.path()).as_fd(), dirfd(host).as_fd(), r, &lent)
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    const SPARSE_OFF: u64 = 512 << 20;

    /// The tree of the brief: nested dirs, content, an empty file, two symlinks, a fifo, a
    /// sparse file, a hardlinked pair (across directories), a setuid file and a 0o777 file.
    fn build_tree(root: &Path) {
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::write(root.join("top.txt"), b"top").unwrap();
        fs::write(root.join("a/b/c/deep.txt"), b"deep content").unwrap();
        fs::write(root.join("empty"), b"").unwrap();
        symlink("/etc/passwd", root.join("passwd_link")).unwrap();
        symlink("top.txt", root.join("a/rel_link")).unwrap();
        nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let sparse = File::create(root.join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        sparse.write_all_at(&[0xab; 4096], SPARSE_OFF).unwrap();
        drop(sparse);
        fs::write(root.join("hard1"), b"linked").unwrap();
        fs::hard_link(root.join("hard1"), root.join("a/hard2")).unwrap();
        fs::write(root.join("suid"), b"#!/bin/sh\n").unwrap();
        chmod(&root.join("suid"), 0o4755);
        fs::write(root.join("open"), b"x").unwrap();
        chmod(&root.join("open"), 0o777);
        chmod(&root.join("a/b"), 0o750);
    }

    fn check_common(src: &Path, dst: &Path) {
        assert_eq!(fs::read(dst.join("top.txt")).unwrap(), b"top");
        assert_eq!(fs::read(dst.join("a/b/c/deep.txt")).unwrap(), b"deep content");
        assert_eq!(fs::metadata(dst.join("empty")).unwrap().len(), 0);
        for (link, target) in [("passwd_link", "/etc/passwd"), ("a/rel_link", "top.txt")] {
            assert!(fs::symlink_metadata(dst.join(link)).unwrap().file_type().is_symlink());
            assert_eq!(fs::read_link(dst.join(link)).unwrap(), Path::new(target));
        }
        assert!(fs::symlink_metadata(dst.join("fifo")).is_err());
        let sparse = fs::metadata(dst.join("sparse")).unwrap();
        assert_eq!(sparse.len(), 1 << 30);
        assert!(sparse.blocks() <= 64, "sparse copy uses {} blocks", sparse.blocks());
        let mut buf = [0u8; 8192];
        File::open(dst.join("sparse")).unwrap().read_exact_at(&mut buf, SPARSE_OFF - 4096).unwrap();
        assert!(buf[..4096].iter().all(|&b| b == 0) && buf[4096..].iter().all(|&b| b == 0xab));
        let (h1, h2) = (fs::metadata(dst.join("hard1")).unwrap(), fs::metadata(dst.join("a/hard2")).unwrap());
        assert_eq!((h1.ino(), h1.nlink()), (h2.ino(), 2));
        let (s, d) =
            (fs::metadata(src.join("a/b/c/deep.txt")).unwrap(), fs::metadata(dst.join("a/b/c/deep.txt")).unwrap());
        assert_eq!((s.mtime(), s.mtime_nsec()), (d.mtime(), d.mtime_nsec()));
        let (s, d) = (fs::metadata(src.join("a/b")).unwrap(), fs::metadata(dst.join("a/b")).unwrap());
        assert_eq!((s.mtime(), s.mtime_nsec()), (d.mtime(), d.mtime_nsec()));
        let r = rules();
        for p in ["top.txt", "a", "a/b", "sparse", "a/rel_link"] {
            let m = fs::symlink_metadata(dst.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (r.uid, r.gid), "{p}");
        }
        assert_eq!(mode(&dst.join("suid")), 0o755);
        assert_eq!(mode(&dst.join("a/b")), 0o750);
    }

    #[test]
    fn copy_in_tree() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        build_tree(src.path());
        let (stats, lent) = lend(src.path(), dst.path(), &rules()).unwrap();
        // Every copy made: 8 files (a hardlink counted), 3 directories, 2 symlinks.
        assert_eq!(lent.len(), 13);
        check_common(src.path(), dst.path());
        assert_eq!(mode(&dst.path().join("open")), 0o777);
        assert_eq!(mode(dst.path()), fs::metadata(src.path()).unwrap().mode() & 0o777);
        assert_eq!(
            stats,
            CopyStats {
                files: 8,
                dirs: 3,
                symlinks: 2,
                bytes: 3 + 12 + 4096 + 6 + 10 + 1,
                skipped: 1,
                removed: 0,
                stripped_setid: 1
            }
        );
    }

    #[test]
    fn mirror_out_tree_then_unchanged() {
        let host = tempfile::tempdir().unwrap();
        // The program makes the whole tree in an empty box.
        let mut made = None;
        let stats = round(host.path(), &rules(), |copy| {
            build_tree(copy);
            chmod(&copy.join("a"), 0o777);
            made = Some(fs::metadata(copy.join("a/b/c/deep.txt")).unwrap());
        })
        .unwrap();
        let (s, d) = (made.unwrap(), fs::metadata(host.path().join("a/b/c/deep.txt")).unwrap());
        assert_eq!((s.mtime(), s.mtime_nsec()), (d.mtime(), d.mtime_nsec()));
        assert_eq!(fs::read(host.path().join("a/b/c/deep.txt")).unwrap(), b"deep content");
        assert_eq!(mode(&host.path().join("open")), 0o755);
        assert_eq!(mode(&host.path().join("a")), 0o755);
        assert_eq!(mode(&host.path().join("suid")), 0o755);
        assert_eq!(mode(&host.path().join("a/b")), 0o750);
        assert!(fs::symlink_metadata(host.path().join("fifo")).is_err());
        let (h1, h2) =
            (fs::metadata(host.path().join("hard1")).unwrap(), fs::metadata(host.path().join("a/hard2")).unwrap());
        assert_eq!((h1.ino(), h1.nlink()), (h2.ino(), 2));
        assert_eq!((stats.files, stats.dirs, stats.symlinks, stats.skipped), (8, 3, 2, 1));
        assert_eq!((stats.removed, stats.stripped_setid), (0, 1));

        // A run that changes nothing: nothing is rewritten, no inode changes.
        let inodes = |d: &Path| -> Vec<u64> {
            ["top.txt", "sparse", "a/hard2", "hard1", "a/b/c/deep.txt", "passwd_link", "a"]
                .iter()
                .map(|p| fs::symlink_metadata(d.join(p)).unwrap().ino())
                .collect()
        };
        let before = inodes(host.path());
        let stats = round(host.path(), &rules(), |_| {}).unwrap();
        assert_eq!(inodes(host.path()), before);
        assert_eq!(stats, CopyStats::default());

        // A changed file is replaced; the rest stays.
        let stats = round(host.path(), &rules(), |copy| fs::write(copy.join("top.txt"), b"changed!").unwrap()).unwrap();
        assert_eq!(fs::read(host.path().join("top.txt")).unwrap(), b"changed!");
        assert_eq!((stats.files, stats.bytes, stats.removed), (1, 8, 1));
        assert_eq!(inodes(host.path())[1..], before[1..]);
        // A change of mode alone, or of times alone, is a change too.
        round(host.path(), &rules(), |copy| chmod(&copy.join("a/b/c/deep.txt"), 0o600)).unwrap();
        assert_eq!(mode(&host.path().join("a/b/c/deep.txt")), 0o600);
        round(host.path(), &rules(), |copy| chmod(&copy.join("a/b"), 0o700)).unwrap();
        assert_eq!(mode(&host.path().join("a/b")), 0o700);
    }

    #[test]
    fn what_was_not_lent_or_not_touched_stays_as_the_host_has_it() {
        let (host, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let h = host.path();
        fs::write(h.join("linked"), b"mine").unwrap();
        fs::hard_link(h.join("linked"), outside.path().join("other-name")).unwrap();
        nix::unistd::mkfifo(&h.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(h.join("sock")).unwrap();
        fs::create_dir(h.join("shared")).unwrap();
        chmod(&h.join("shared"), 0o2775);
        fs::write(h.join("shared/kept"), b"k").unwrap();
        fs::write(h.join("edited"), b"before").unwrap();
        fs::create_dir(h.join("dir")).unwrap();
        fs::write(h.join("dir/lent"), b"l").unwrap();
        let linked_ino = fs::metadata(h.join("linked")).unwrap().ino();

        // While the program does nothing, the host changes a lent file and adds one.
        round(h, &rules(), |_| {
            fs::write(h.join("edited"), b"after").unwrap();
            fs::write(h.join("appeared"), b"new").unwrap();
        })
        .unwrap();
        assert_eq!(fs::read(h.join("edited")).unwrap(), b"after");
        assert_eq!(fs::read(h.join("appeared")).unwrap(), b"new");
        let m = fs::metadata(h.join("linked")).unwrap();
        assert_eq!((m.ino(), m.nlink()), (linked_ino, 2));
        assert_eq!(mode(&h.join("shared")), 0o2775);
        assert!(fs::symlink_metadata(h.join("fifo")).unwrap().file_type().is_fifo());

        // The program removes everything it can see; the host adds a file to a lent
        // directory meanwhile. Only lent entries go; the directory holding the host's new
        // file stays with it.
        let stats = round(h, &rules(), |copy| {
            for e in fs::read_dir(copy).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    fs::remove_dir_all(&p).unwrap();
                } else {
                    fs::remove_file(&p).unwrap();
                }
            }
            fs::write(h.join("dir/late"), b"host's").unwrap();
        })
        .unwrap();
        let mut left: Vec<_> = fs::read_dir(h).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["dir", "fifo", "sock"]);
        let mut in_dir: Vec<_> = fs::read_dir(h.join("dir")).unwrap().map(|e| e.unwrap().file_name()).collect();
        in_dir.sort();
        assert_eq!(in_dir, ["late"]);
        assert_eq!(fs::read(outside.path().join("other-name")).unwrap(), b"mine");
        // linked, shared/kept, shared, edited, appeared, dir/lent
        assert_eq!(stats.removed, 6);

        // A new file of the program whose name the host took during the run stays out.
        let stats = round(h, &rules(), |copy| {
            fs::write(copy.join("clash"), b"program").unwrap();
            fs::write(h.join("clash"), b"host").unwrap();
        })
        .unwrap();
        assert_eq!(fs::read(h.join("clash")).unwrap(), b"host");
        assert_eq!(stats.skipped, 1);
    }

    #[test]
    fn a_rename_or_a_copied_mtime_is_a_change_and_new_links_never_reach_a_lent_inode() {
        let host = tempfile::tempdir().unwrap();
        let h = host.path();
        // Same size, same mtime: the shortcut that compared them dropped the rename.
        fs::write(h.join("a"), b"version-A\n").unwrap();
        fs::write(h.join("b"), b"version-B\n").unwrap();
        let t = nix::sys::time::TimeSpec::new(1_600_000_000, 0);
        for n in ["a", "b"] {
            nix::sys::stat::utimensat(None, &h.join(n), &t, &t, UtimensatFlags::NoFollowSymlink).unwrap();
        }
        round(h, &rules(), |copy| fs::rename(copy.join("a"), copy.join("b")).unwrap()).unwrap();
        assert!(!h.join("a").exists());
        assert_eq!(fs::read(h.join("b")).unwrap(), b"version-A\n");
        // New names the program links to a lent set-id file are copies, not links to it.
        fs::write(h.join("suid"), b"#!/bin/sh\n").unwrap();
        chmod(&h.join("suid"), 0o4755);
        let lent_inode = fs::metadata(h.join("suid")).unwrap().ino();
        round(h, &rules(), |copy| {
            fs::hard_link(copy.join("suid"), copy.join("another")).unwrap();
            fs::rename(copy.join("suid"), copy.join("t")).unwrap();
            fs::rename(copy.join("t"), copy.join("suid")).unwrap();
        })
        .unwrap();
        // The program linked the two names: on the host they are linked too, to a new copy
        // without the set-id bit, never to the lent inode.
        for n in ["suid", "another"] {
            let m = fs::metadata(h.join(n)).unwrap();
            assert_ne!(m.ino(), lent_inode, "{n} links to the lent set-id file");
            assert_eq!(m.mode() & 0o7000, 0, "{n} is set-id");
        }
    }

    #[test]
    fn a_host_file_made_anew_during_the_run_is_not_the_lent_one() {
        let host = tempfile::tempdir().unwrap();
        let h = host.path();
        fs::write(h.join("a"), b"old-a").unwrap();
        fs::create_dir(h.join("d")).unwrap();
        fs::write(h.join("d/x"), b"old-x").unwrap();
        // The host replaces both during the run (a freed inode number may come back); the
        // program removes its copies.
        round(h, &rules(), |copy| {
            fs::remove_file(h.join("a")).unwrap();
            fs::write(h.join("a"), b"host wrote this").unwrap();
            fs::remove_dir_all(h.join("d")).unwrap();
            fs::create_dir(h.join("d")).unwrap();
            fs::write(h.join("d/x"), b"host x").unwrap();
            fs::remove_file(copy.join("a")).unwrap();
            fs::remove_dir_all(copy.join("d")).unwrap();
        })
        .unwrap();
        assert_eq!(fs::read(h.join("a")).unwrap(), b"host wrote this");
        assert_eq!(fs::read(h.join("d/x")).unwrap(), b"host x");
    }

    #[test]
    fn a_bind_mount_inside_the_tree_is_never_crossed_even_of_the_same_filesystem() {
        let (host, victim) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let h = host.path();
        fs::write(victim.path().join("precious"), b"victim data").unwrap();
        fs::create_dir(h.join("mnt")).unwrap();
        if nix::mount::mount(
            Some(victim.path()),
            &h.join("mnt"),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .is_err()
        {
            // Not root: nothing to mount, nothing to test here (the kernel tests run as root).
            assert!(!nix::unistd::geteuid().is_root(), "root could not bind-mount");
            return;
        }
        let copy = tempfile::tempdir().unwrap();
        let result = (|| {
            let (_, lent) = lend(h, copy.path(), &rules())?;
            let seen_inside = copy.path().join("mnt/precious").exists();
            fs::create_dir_all(copy.path().join("mnt")).unwrap();
            fs::write(copy.path().join("mnt/precious"), b"PWNED").unwrap();
            fs::write(copy.path().join("mnt/new"), b"planted").unwrap();
            mirror_out(dirfd(copy.path()).as_fd(), dirfd(h).as_fd(), &rules(), &lent).map(|_| seen_inside)
        })();
        nix::mount::umount(&h.join("mnt")).unwrap();
        assert!(!result.unwrap(), "the copy-in entered the bind mount");
        assert_eq!(fs::read(victim.path().join("precious")).unwrap(), b"victim data");
        assert!(!victim.path().join("new").exists());
    }

    #[test]
    fn mirror_out_removes_absent_without_following() {
        let (host, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(outside.path().join("precious"), b"keep me").unwrap();
        fs::create_dir_all(host.path().join("gone/sub")).unwrap();
        fs::write(host.path().join("gone/sub/f"), b"f").unwrap();
        symlink(outside.path(), host.path().join("gone/sub/escape")).unwrap();
        symlink(outside.path(), host.path().join("escape_top")).unwrap();
        fs::write(host.path().join("stale"), b"s").unwrap();
        fs::write(host.path().join("pipe"), b"p").unwrap();

        let stats = round(host.path(), &rules(), |copy| {
            for name in ["gone", "escape_top", "stale", "pipe"] {
                let p = copy.join(name);
                if fs::symlink_metadata(&p).unwrap().is_dir() {
                    fs::remove_dir_all(&p).unwrap();
                } else {
                    fs::remove_file(&p).unwrap();
                }
            }
            fs::write(copy.join("kept"), b"k").unwrap();
            // A fifo is not copied back, so the host's file of that name goes.
            nix::unistd::mkfifo(&copy.join("pipe"), Mode::from_bits_truncate(0o644)).unwrap();
        })
        .unwrap();
        let mut left: Vec<_> = fs::read_dir(host.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["kept"]);
        assert_eq!(fs::read(outside.path().join("precious")).unwrap(), b"keep me");
        // gone, gone/sub, gone/sub/f, gone/sub/escape, escape_top, stale, pipe
        assert_eq!((stats.removed, stats.files, stats.skipped), (7, 1, 1));
    }

    #[test]
    fn mirror_out_replaces_symlink_with_directory() {
        let (host, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(outside.path().join("inner"), b"outside").unwrap();
        symlink(outside.path(), host.path().join("d")).unwrap();
        // And the other way round: a host directory where the program leaves a file.
        fs::create_dir(host.path().join("f")).unwrap();
        symlink(outside.path(), host.path().join("f/link")).unwrap();

        let stats = round(host.path(), &rules(), |copy| {
            fs::remove_file(copy.join("d")).unwrap();
            fs::create_dir(copy.join("d")).unwrap();
            fs::write(copy.join("d/inner"), b"new").unwrap();
            fs::remove_dir_all(copy.join("f")).unwrap();
            fs::write(copy.join("f"), b"file").unwrap();
        })
        .unwrap();
        let d = fs::symlink_metadata(host.path().join("d")).unwrap();
        assert!(d.file_type().is_dir());
        assert_eq!(fs::read(host.path().join("d/inner")).unwrap(), b"new");
        assert_eq!(fs::read(host.path().join("f")).unwrap(), b"file");
        let mut left: Vec<_> = fs::read_dir(outside.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["inner"]);
        assert_eq!(fs::read(outside.path().join("inner")).unwrap(), b"outside");
        assert_eq!((stats.removed, stats.files, stats.dirs), (3, 2, 1));
    }

    #[test]
    fn copy_does_not_follow_symlinked_directories() {
        let (src, dst, outside) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::write(outside.path().join("secret"), b"s").unwrap();
        symlink(outside.path(), src.path().join("out")).unwrap();
        let (stats, _) = lend(src.path(), dst.path(), &rules()).unwrap();
        assert!(fs::symlink_metadata(dst.path().join("out")).unwrap().file_type().is_symlink());
        assert_eq!((stats.symlinks, stats.files, stats.bytes), (1, 0, 0));
    }

    fn three_mib(root: &Path) {
        for i in 0..3 {
            fs::write(root.join(format!("f{i}")), vec![7u8; 1 << 20]).unwrap();
        }
    }

    #[test]
    fn byte_budget() {
        let r = CopyRules { max_bytes: 2 << 20, ..rules() };
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        three_mib(src.path());
        let err = lend(src.path(), dst.path(), &r).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "bytes", limit } if limit == 2 << 20), "{err}");
        let written: u64 =
            fs::read_dir(dst.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().blocks() * 512).sum();
        assert!(written <= 2 << 20);

        let out = tempfile::tempdir().unwrap();
        let err = give(src.path(), out.path(), &r).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "bytes", .. }), "{err}");
        // Exactly at the limit is fine.
        let r = CopyRules { max_bytes: 3 << 20, ..r };
        let out = tempfile::tempdir().unwrap();
        assert_eq!(give(src.path(), out.path(), &r).unwrap().bytes, 3 << 20);
    }

    #[test]
    fn file_budget() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::create_dir(src.path().join("d")).unwrap();
        for i in 0..10 {
            fs::write(src.path().join(format!("d/f{i}")), b"x").unwrap();
        }
        let r = CopyRules { max_files: 5, ..rules() };
        let err = lend(src.path(), dst.path(), &r).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "files", limit: 5 }), "{err}");
        assert_eq!(fs::read_dir(dst.path().join("d")).unwrap().count(), 4);
        let r = CopyRules { max_files: 11, ..rules() };
        let out = tempfile::tempdir().unwrap();
        let stats = give(src.path(), out.path(), &r).unwrap();
        assert_eq!((stats.files, stats.dirs), (10, 1));
    }

    #[test]
    fn depth_budget() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut p = src.path().to_path_buf();
        for _ in 0..50 {
            p.push("d");
        }
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("bottom"), b"b").unwrap();
        let r = CopyRules { max_depth: 10, ..rules() };
        let err = lend(src.path(), dst.path(), &r).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "depth", limit: 10 }), "{err}");
        let err = give(src.path(), tempfile::tempdir().unwrap().path(), &r);
        assert!(matches!(err, Err(CopyError::Budget { what: "depth", .. })));
        let r = CopyRules { max_depth: 50, ..rules() };
        let out = tempfile::tempdir().unwrap();
        let stats = give(src.path(), out.path(), &r).unwrap();
        assert_eq!((stats.dirs, stats.files), (50, 1));
        // And a program removing it again goes as deep.
        let stats = round(out.path(), &r, |copy| fs::remove_dir_all(copy.join("d")).unwrap()).unwrap();
        assert_eq!(stats.removed, 51);
        assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
    }

    #[test]
    fn single_file_in_and_out() {
        let (tmp, host) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let host_file = host.path().join("data");
        let f = File::create(&host_file).unwrap();
        f.set_len(1 << 30).unwrap();
        f.write_all_at(b"hello", SPARSE_OFF).unwrap();
        drop(f);
        chmod(&host_file, 0o2775);

        let src = File::open(&host_file).unwrap();
        let mut lent = Manifest::default();
        let stats =
            copy_file_in(src.as_fd(), dirfd(tmp.path()).as_fd(), OsStr::new("data"), &rules(), &mut lent).unwrap();
        // Data is found per filesystem block: the block holding "hello" is copied whole.
        assert_eq!((stats.files, stats.bytes, stats.stripped_setid), (1, 4096, 1));
        let m = fs::metadata(tmp.path().join("data")).unwrap();
        assert_eq!((m.len(), m.mode() & 0o7777), (1 << 30, 0o775));
        assert!(m.blocks() <= 64);

        let open_host =
            || fs::OpenOptions::new().read(true).write(true).custom_flags(libc::O_NOFOLLOW).open(&host_file).unwrap();
        // Unchanged content: not touched at all.
        let ino = fs::metadata(&host_file).unwrap().ino();
        let stats =
            mirror_file_out(dirfd(tmp.path()).as_fd(), OsStr::new("data"), open_host().as_fd(), &rules(), &lent)
                .unwrap();
        assert_eq!(stats, CopyStats::default());
        assert_eq!((mode(&host_file), fs::metadata(&host_file).unwrap().ino()), (0o2775, ino));

        // Untouched by the program while the host changed it: the host's version stays.
        fs::OpenOptions::new().write(true).open(&host_file).unwrap().write_all_at(b"h", 0).unwrap();
        let stats =
            mirror_file_out(dirfd(tmp.path()).as_fd(), OsStr::new("data"), open_host().as_fd(), &rules(), &lent)
                .unwrap();
        assert_eq!(stats, CopyStats::default());
        let mut first = [0u8; 1];
        File::open(&host_file).unwrap().read_exact_at(&mut first, 0).unwrap();
        assert_eq!(&first, b"h");

        // Changed: rewritten in place (same inode), still sparse.
        let f = fs::OpenOptions::new().write(true).open(tmp.path().join("data")).unwrap();
        f.write_all_at(b"HELLO, world", SPARSE_OFF).unwrap();
        drop(f);
        let stats =
            mirror_file_out(dirfd(tmp.path()).as_fd(), OsStr::new("data"), open_host().as_fd(), &rules(), &lent)
                .unwrap();
        assert_eq!((stats.files, stats.bytes, stats.stripped_setid), (1, 4096, 1));
        let m = fs::metadata(&host_file).unwrap();
        // Same inode, same mode but for the setgid bit.
        assert_eq!((m.ino(), m.len(), m.mode() & 0o7777), (ino, 1 << 30, 0o775));
        assert!(m.blocks() <= 64);
        let mut buf = [0u8; 12];
        File::open(&host_file).unwrap().read_exact_at(&mut buf, SPARSE_OFF).unwrap();
        assert_eq!(&buf, b"HELLO, world");
        let (s, d) = (fs::metadata(tmp.path().join("data")).unwrap(), m);
        assert_eq!((s.mtime(), s.mtime_nsec()), (d.mtime(), d.mtime_nsec()));

        // Over budget: the host file is not touched.
        fs::write(tmp.path().join("data"), b"much longer content").unwrap();
        let r = CopyRules { max_bytes: 4, ..rules() };
        let err =
            mirror_file_out(dirfd(tmp.path()).as_fd(), OsStr::new("data"), open_host().as_fd(), &r, &lent).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "bytes", .. }));
        assert_eq!(fs::metadata(&host_file).unwrap().len(), 1 << 30);

        // Replaced by a symlink in the tmpfs: skipped, host file left alone.
        fs::remove_file(tmp.path().join("data")).unwrap();
        symlink("/etc/passwd", tmp.path().join("data")).unwrap();
        let stats =
            mirror_file_out(dirfd(tmp.path()).as_fd(), OsStr::new("data"), open_host().as_fd(), &rules(), &lent)
                .unwrap();
        assert_eq!(stats, CopyStats { skipped: 1, ..CopyStats::default() });
        assert_eq!(fs::metadata(&host_file).unwrap().len(), 1 << 30);

        // Names must be single components.
        for bad in ["", ".", "..", "a/b"] {
            let mut lent = Manifest::default();
            assert!(copy_file_in(src.as_fd(), dirfd(tmp.path()).as_fd(), OsStr::new(bad), &rules(), &mut lent).is_err());
        }
    }

    #[test]
    fn deep_tree_at_the_runners_limit() {
        // The runner uses max_depth 256; this also checks the recursion fits a 2 MiB test
        // thread stack in a debug build.
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut p = src.path().to_path_buf();
        for _ in 0..256 {
            p.push("d");
        }
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("f"), b"bottom").unwrap();
        let r = CopyRules { max_depth: 256, ..rules() };
        let (stats, _) = lend(src.path(), dst.path(), &r).unwrap();
        assert_eq!((stats.dirs, stats.files), (256, 1));
        let out = tempfile::tempdir().unwrap();
        give(dst.path(), out.path(), &r).unwrap();
        assert_eq!(largest_file(dirfd(out.path()).as_fd()), Some(6));
        fs::create_dir(p.join("d")).unwrap();
        let err = give(src.path(), tempfile::tempdir().unwrap().path(), &r).unwrap_err();
        assert!(matches!(err, CopyError::Budget { what: "depth", limit: 256 }), "{err}");
    }

    #[test]
    fn across_filesystems_read_write_is_used() {
        let Ok(src) = tempfile::tempdir_in("/dev/shm") else { return };
        let dst = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        let f = File::create(src.path().join("sub/sparse")).unwrap();
        f.set_len(1 << 30).unwrap();
        f.write_all_at(&[1; 10000], SPARSE_OFF).unwrap();
        drop(f);
        fs::hard_link(src.path().join("sub/sparse"), src.path().join("link")).unwrap();
        let stats = give(src.path(), dst.path(), &rules()).unwrap();
        assert_eq!((stats.files, stats.dirs, stats.bytes), (2, 1, 12288));
        let (a, b) =
            (fs::metadata(dst.path().join("sub/sparse")).unwrap(), fs::metadata(dst.path().join("link")).unwrap());
        assert_eq!((a.ino(), a.nlink(), a.len()), (b.ino(), 2, 1 << 30));
        assert!(a.blocks() <= 64);
        let mut buf = vec![0u8; 12288];
        File::open(dst.path().join("link")).unwrap().read_exact_at(&mut buf, SPARSE_OFF).unwrap();
        assert!(buf[..10000].iter().all(|&b| b == 1) && buf[10000..].iter().all(|&b| b == 0));
    }

    #[test]
    fn mirror_out_relinks_what_src_links() {
        let host = tempfile::tempdir().unwrap();
        round(host.path(), &rules(), |copy| {
            fs::write(copy.join("a"), b"same").unwrap();
            fs::hard_link(copy.join("a"), copy.join("b")).unwrap();
        })
        .unwrap();
        let (a, b) = (fs::metadata(host.path().join("a")).unwrap(), fs::metadata(host.path().join("b")).unwrap());
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
        // A program that gives "b" content of its own splits it off, never writes through.
        round(host.path(), &rules(), |copy| {
            fs::remove_file(copy.join("b")).unwrap();
            fs::write(copy.join("b"), b"other").unwrap();
        })
        .unwrap();
        assert_eq!(fs::read(host.path().join("a")).unwrap(), b"same");
        assert_eq!(fs::read(host.path().join("b")).unwrap(), b"other");
        assert_eq!(fs::metadata(host.path().join("a")).unwrap().nlink(), 1);
    }

    #[test]
    fn largest_file_does_not_follow_links() {
        let (root, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        assert_eq!(largest_file_in(root.path()), None);
        fs::create_dir_all(root.path().join("a/b")).unwrap();
        fs::write(root.path().join("small"), b"12").unwrap();
        File::create(root.path().join("a/b/big")).unwrap().set_len(5 << 30).unwrap();
        File::create(outside.path().join("huge")).unwrap().set_len(9 << 30).unwrap();
        symlink(outside.path(), root.path().join("a/out")).unwrap();
        symlink(outside.path().join("huge"), root.path().join("huge")).unwrap();
        assert_eq!(largest_file_in(root.path()), Some(5 << 30));
        assert_eq!(largest_file(dirfd(root.path()).as_fd()), Some(5 << 30));
        assert_eq!(largest_file_in(&root.path().join("huge")), None);
    }
}
