//! Thin wrappers over the raw syscalls the parent uses, each returning errors that name the
//! call. (The child's syscalls live in `child`, where nothing may allocate.)

use crate::child::Msg;
use crate::Error;
use libc::c_int;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub(crate) fn now_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// "EPERM" for 1: the name a reader can search for.
pub(crate) fn errno_name(e: i32) -> String {
    format!("{:?}", nix::errno::Errno::from_raw(e))
}

pub(crate) fn errno_name_last() -> String {
    errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn owned(fd: c_int) -> OwnedFd {
    // SAFETY: callers pass an fd the kernel just returned, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// (read end, write end), both close-on-exec.
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 writes two fds into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(Error::io("pipe2(O_CLOEXEC)", std::io::Error::last_os_error()));
    }
    Ok((owned(fds[0]), owned(fds[1])))
}

/// A SOCK_SEQPACKET pair: message boundaries are kept and fds can travel with a message.
pub(crate) fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: socketpair writes two fds into `fds`.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } < 0 {
        return Err(Error::io("socketpair(AF_UNIX, SOCK_SEQPACKET)", std::io::Error::last_os_error()));
    }
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Sends one byte with `fd` attached (SCM_RIGHTS) over a seqpacket socket.
pub(crate) fn send_fd(sock: &OwnedFd, b: u8, fd: RawFd) -> std::io::Result<()> {
    if send_with_fd(sock.as_raw_fd(), &[b], fd) == 1 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// sendmsg(2) of `data` on `sock`, with `fd` attached (SCM_RIGHTS) unless it is negative;
/// returns what sendmsg returned. No allocation: the child uses it after clone.
pub(crate) fn send_with_fd(sock: c_int, data: &[u8], fd: c_int) -> isize {
    if fd >= 0 {
        send_with_fds(sock, data, &[fd])
    } else {
        send_with_fds(sock, data, &[])
    }
}

/// At most this many fds go with one message.
pub(crate) const MAX_PASSED_FDS: usize = 8;

/// sendmsg(2) of `data` on `sock` with `fds` attached (SCM_RIGHTS; at most
/// MAX_PASSED_FDS, else EINVAL). No allocation.
pub(crate) fn send_with_fds(sock: c_int, data: &[u8], fds: &[c_int]) -> isize {
    if fds.len() > MAX_PASSED_FDS {
        return -(libc::EINVAL as isize);
    }
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    // Room for one cmsghdr (16 bytes) carrying up to 8 ints, 8-byte aligned.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = std::mem::size_of_val(fds) as u32;
        hdr.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        // SAFETY: CMSG_SPACE only computes a size (at most 48 of cbuf's 64 bytes).
        hdr.msg_controllen = unsafe { libc::CMSG_SPACE(bytes) } as usize;
        // SAFETY: msg_control points at `cbuf`, large enough for one cmsghdr with these
        // ints; CMSG_FIRSTHDR and CMSG_DATA return pointers into it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&hdr);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes) as usize;
            for (i, fd) in fds.iter().enumerate() {
                std::ptr::write_unaligned((libc::CMSG_DATA(cmsg) as *mut c_int).add(i), *fd);
            }
        }
    }
    // SAFETY: hdr points at `iov` (over `data`, which sendmsg only reads) and `cbuf`, both
    // valid for the call.
    unsafe { libc::sendmsg(sock, &hdr, libc::MSG_NOSIGNAL) }
}

/// recvmsg(2) of one message of at most `data.len()` bytes on `sock` without waiting, and
/// the fds that came with it (CLOEXEC) into `fds`. Returns (bytes, fds received), or the
/// errno. No allocation: the holder uses it.
pub(crate) fn recv_with_fds(
    sock: c_int,
    data: &mut [u8],
    fds: &mut [c_int; MAX_PASSED_FDS],
) -> Result<(usize, usize), i32> {
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    hdr.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: hdr points at `iov` (over `data`) and `cbuf`, both live for the call.
    let n = unsafe { libc::recvmsg(sock, &mut hdr, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
    }
    let mut got = 0;
    // SAFETY: the kernel filled msg_control with well-formed cmsgs within msg_controllen;
    // CMSG_FIRSTHDR returns null or a pointer inside it, CMSG_DATA a pointer into that, and
    // cmsg_len bounds the ints it carries.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&hdr);
        if !cmsg.is_null() && (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
            let count = ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<c_int>();
            for i in 0..count {
                let fd = std::ptr::read_unaligned((libc::CMSG_DATA(cmsg) as *const c_int).add(i));
                match fds.get_mut(i) {
                    Some(slot) => {
                        *slot = fd;
                        got += 1;
                    }
                    // More than asked for: not ours to keep.
                    None => {
                        libc::close(fd);
                    }
                }
            }
        }
    }
    if hdr.msg_flags & libc::MSG_CTRUNC != 0 {
        for fd in &fds[..got] {
            // SAFETY: close takes an integer; these fds just arrived and are ours.
            unsafe { libc::close(*fd) };
        }
        return Err(libc::EMSGSIZE);
    }
    Ok((n as usize, got))
}

pub(crate) fn write_byte(fd: &OwnedFd, b: u8) -> std::io::Result<()> {
    // SAFETY: writes one byte from `b`.
    let n = unsafe { libc::write(fd.as_raw_fd(), &b as *const u8 as *const libc::c_void, 1) };
    if n == 1 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub(crate) fn pollfd(fd: c_int) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

/// poll(2), retried on EINTR; returns the number of ready fds (0 on timeout).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> c_int {
    loop {
        // SAFETY: `fds` is a valid slice of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return n.max(0);
        }
    }
}

fn recv_with(sock: &OwnedFd, flags: c_int) -> Option<(Msg, Option<OwnedFd>)> {
    let mut msg = Msg::default();
    let mut iov =
        libc::iovec { iov_base: &mut msg as *mut Msg as *mut libc::c_void, iov_len: std::mem::size_of::<Msg>() };
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    hdr.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: hdr points at `iov` (over `msg`) and `cbuf`, both live for the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut hdr, flags | libc::MSG_CMSG_CLOEXEC) };
    if n != std::mem::size_of::<Msg>() as isize {
        return None;
    }
    let mut fd = None;
    // SAFETY: the kernel filled msg_control with well-formed cmsgs within msg_controllen;
    // the CMSG_* helpers walk only inside it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const c_int);
                fd = Some(owned(raw));
            }
            cmsg = libc::CMSG_NXTHDR(&hdr, cmsg);
        }
    }
    Some((msg, fd))
}

pub(crate) fn recv_msg(sock: &OwnedFd) -> Option<(Msg, Option<OwnedFd>)> {
    recv_with(sock, 0)
}

pub(crate) fn recv_msg_nonblocking(sock: &OwnedFd) -> Option<(Msg, Option<OwnedFd>)> {
    recv_with(sock, libc::MSG_DONTWAIT)
}

pub(crate) fn pidfd_kill(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal takes an fd, a signal number and a null siginfo.
    unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0u32)
    };
}

/// Whether the process behind `pidfd` has exited (a pidfd polls readable then).
pub(crate) fn pidfd_exited(pidfd: &OwnedFd) -> bool {
    let mut p = [pollfd(pidfd.as_raw_fd())];
    poll(&mut p, 0) > 0 && p[0].revents != 0
}

/// Reaps the process behind `pidfd`, waiting for it to exit.
pub(crate) fn pidfd_wait(pidfd: &OwnedFd) {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: P_PIDFD waits on the process of this fd; `info` is valid for writes.
        let r = unsafe {
            libc::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED | libc::__WALL)
        };
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// A CLOCK_MONOTONIC timerfd.
pub(crate) struct Timer(OwnedFd);

impl Timer {
    pub fn new() -> std::io::Result<Timer> {
        // SAFETY: timerfd_create takes no pointers; the result is checked.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Timer(owned(fd)))
    }

    fn set(&self, ns: i64, flags: c_int) -> std::io::Result<()> {
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 },
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not requested.
        if unsafe { libc::timerfd_settime(self.0.as_raw_fd(), flags, &spec, std::ptr::null_mut()) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Fires at an absolute CLOCK_MONOTONIC time.
    pub fn arm_at_ns(&self, ns: i64) -> std::io::Result<()> {
        self.set(ns.max(1), libc::TFD_TIMER_ABSTIME)
    }

    pub fn arm_in_us(&self, us: u64) -> std::io::Result<()> {
        self.set((us.max(1) * 1000) as i64, 0)
    }

    /// Consumes the expiration count so the fd stops being readable.
    pub fn read(&self) {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into `n`.
        unsafe { libc::read(self.0.as_raw_fd(), &mut n as *mut u64 as *mut libc::c_void, 8) };
    }

    pub fn raw(&self) -> c_int {
        self.0.as_raw_fd()
    }
}

/// `struct seccomp_notif`.
#[repr(C)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

/// _IOWR('!', 0, struct seccomp_notif)
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;

/// Receives one pending seccomp notification and returns its syscall number and audit
/// arch. The blocked thread is left waiting in the kernel: the caller kills the run.
pub(crate) fn seccomp_notif_recv(listener: &OwnedFd) -> Option<(i32, u32)> {
    // SAFETY: SeccompNotif is plain data; the kernel requires it zeroed.
    let mut n: SeccompNotif = unsafe { std::mem::zeroed() };
    // SAFETY: the ioctl writes one seccomp_notif (80 bytes, the size encoded in the
    // request) into `n`.
    let r = unsafe { libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    (r == 0).then_some((n.nr, n.arch))
}

const FSOPEN_CLOEXEC: u32 = 1;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;
const FSMOUNT_CLOEXEC: u32 = 1;
/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2 RESOLVE_* flags.
pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2): `path` from `dirfd` (AT_FDCWD for the cwd) with `flags` and `resolve`.
pub(crate) fn openat2(dirfd: c_int, path: &std::ffi::CStr, flags: c_int, resolve: u64) -> std::io::Result<OwnedFd> {
    let how = OpenHow { flags: flags as u64, mode: 0, resolve };
    // SAFETY: openat2 reads the NUL-terminated path and one open_how of the size given.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, dirfd, path.as_ptr(), &how, std::mem::size_of::<OpenHow>()) as c_int
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) const MOUNT_ATTR_NOSUID: u32 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u32 = 0x4;
/// `move_mount` flag: the source is the fd itself.
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;

/// A new tmpfs as a detached mount (not attached anywhere yet), with the given options:
/// `fsopen` + `fsconfig` + `fsmount`. The fd is the mount's root directory.
pub(crate) fn detached_tmpfs(options: &[(&str, String)], attrs: u32) -> Result<OwnedFd, Error> {
    // SAFETY: fsopen reads the NUL-terminated name; the result is checked.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) } as c_int;
    if fs < 0 {
        return Err(Error::io("fsopen(tmpfs)", std::io::Error::last_os_error()));
    }
    let fs = owned(fs);
    for (key, value) in options {
        let k = std::ffi::CString::new(*key).map_err(|_| Error::config("tmpfs option with a NUL byte"))?;
        let v = std::ffi::CString::new(value.as_str()).map_err(|_| Error::config("tmpfs option with a NUL byte"))?;
        // SAFETY: fsconfig reads the two NUL-terminated strings; the result is checked.
        let r = unsafe {
            libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_SET_STRING, k.as_ptr(), v.as_ptr(), 0)
        };
        if r < 0 {
            return Err(Error::io(format!("fsconfig(tmpfs, {key}={value})"), std::io::Error::last_os_error()));
        }
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r < 0 {
        return Err(Error::io("fsconfig(tmpfs, CMD_CREATE)", std::io::Error::last_os_error()));
    }
    // SAFETY: fsmount takes the fs context fd and flags; the result is checked.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) } as c_int;
    if m < 0 {
        return Err(Error::io("fsmount(tmpfs)", std::io::Error::last_os_error()));
    }
    Ok(owned(m))
}

/// The number of online CPUs: the most that can burn a run's CPU budget at once, whatever
/// affinity the runner itself was given.
pub(crate) fn online_cpus() -> u64 {
    // SAFETY: sysconf takes a constant and returns a number.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n < 1 {
        1
    } else {
        n as u64
    }
}

/// Whether a process with this pid is running: one of another user counts (kill answers
/// EPERM), and so does a pid that cannot be asked about for any other reason; a zombie
/// whose every thread has ended does not (it is dead, its parent just has not reaped it:
/// a supervisor about to restart it, say). For sweeps of what dead processes left.
pub fn process_running(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks that the pid exists.
    let answered = unsafe { libc::kill(pid, 0) };
    if answered != 0 {
        return std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
    }
    // The state follows the command name, which may itself hold ") ".
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    let ended = matches!(state, Some('Z' | 'X'));
    // A group leader that ended before its other threads is a zombie too: those still run.
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(1, |d| d.count());
    !(ended && threads <= 1)
}
