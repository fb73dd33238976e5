//! The code that runs between clone and execve: the sandbox's init (pid 1 of the new pid
//! namespace) and the program's pre-exec steps.
//!
//! Fork safety: the runner may be multi-threaded (the judge server is), and after clone only
//! the calling thread exists in the child; another thread may have held the allocator's lock.
//! So nothing here allocates, locks, logs or formats: it only replays syscalls on data the
//! parent prepared (`ChildPlan`), and reports failures as fixed-size messages.

use crate::landlock;
use libc::{c_char, c_int, c_ulong, c_void};
use std::ffi::CStr;

/// Declares `Stage` and its decoding from the number sent over the wire, from one list.
macro_rules! stages {
    ($first:ident, $($name:ident),* $(,)?) => {
        /// One step of the setup, reported with its errno when it fails.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Stage {
            $first = 1,
            $($name),*
        }

        impl Stage {
            pub fn from_u32(v: u32) -> Option<Stage> {
                [Stage::$first, $(Stage::$name),*].into_iter().find(|s| *s as u32 == v)
            }
        }
    };
}

stages!(
    WaitParent,
    Renumber,
    OpenSource,
    Setgroups,
    Setresgid,
    Setresuid,
    MakePrivate,
    Mount,
    Hostname,
    PivotRoot,
    DetachOldRoot,
    RemountRoot,
    Chdir,
    UnshareCgroup,
    Cgroup,
    CloneProgram,
    Setsid,
    Stdio,
    Rlimit,
    DropBounding,
    Capset,
    NoNewPrivs,
    Landlock,
    CloseFds,
    Seccomp,
    Execve,
    Setns,
    UnshareIpc,
);

/// Messages from init to the parent over a SOCK_SEQPACKET socket: one message per send.
pub(crate) const MSG_SETUP_DONE: u32 = 1;
pub(crate) const MSG_ERROR: u32 = 2;
pub(crate) const MSG_STARTED: u32 = 3;
pub(crate) const MSG_EXITED: u32 = 4;
/// The program itself was reaped (sent before init kills and reaps the rest, so the parent
/// reads the run's CPU as of the program's end).
pub(crate) const MSG_PROGRAM_REAPED: u32 = 5;
/// A warm environment's holder finished a reset: v[0] 1 if every step worked and the
/// namespace holds no process but the holder, v[1] the processes it had to kill.
pub(crate) const MSG_RESET: u32 = 6;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Msg {
    pub kind: u32,
    pub stage: u32,
    /// Which item of a list failed (mount index, rlimit index, filter index).
    pub index: u32,
    pub errno: i32,
    /// STARTED: [exec time ns, has listener]; EXITED: [wait status, utime µs, stime µs,
    /// maxrss KiB, exit time ns].
    pub v: [i64; 5],
}

/// Bytes from the parent to init.
pub(crate) const GO_MAPS_WRITTEN: u8 = b'm';
/// To a warm environment's holder: kill every process of the namespace now (a run's limit
/// was hit), no answer.
pub(crate) const HOLDER_KILL: u8 = b'K';
/// To a warm environment's holder: kill and reap everything, make /tmp and /dev/shm anew,
/// check, and answer MSG_RESET.
pub(crate) const HOLDER_RESET: u8 = b'R';
/// To a warm environment's holder, between a reset and the next run: put the kept box
/// itself, writable, at /box instead of the overlay, so that what the next run writes
/// there is kept for every later one (a compile step). Answers MSG_RESET.
pub(crate) const HOLDER_KEEP: u8 = b'W';
/// To a warm environment's holder, between a reset and the next run, with a new box's
/// scratch tmpfs (a detached mount) sent on its socket just before: the kept box is
/// replaced by that one's `box`, the overlay made anew over it. Answers MSG_RESET.
pub(crate) const HOLDER_REBOX: u8 = b'B';
/// To a warm environment's holder, once after its setup, with a memfd sent on its socket
/// just before: the area the runner writes each run's order into, which the holder maps at
/// the address the runner has it (`ChildPlan::order_area`). Answers MSG_RESET.
pub(crate) const HOLDER_AREA: u8 = b'A';
/// To a warm environment's holder, after a reset: start a run. Its order (a `ChildPlan` of
/// role `Warm`) is in the area, its fds came on the holder's socket just before (stdin,
/// stdout, stderr, the run cgroup's `tasks` or `cgroup.procs` files, its CPU usage file).
/// The holder reports MSG_STARTED (or MSG_ERROR), MSG_PROGRAM_REAPED and MSG_EXITED, as a
/// cold init does; during the run it takes no order but HOLDER_KILL.
pub(crate) const HOLDER_RUN: u8 = b'G';

/// Fd numbers inside init after renumbering.
pub(crate) const FD_FROM_PARENT: c_int = 3;
pub(crate) const FD_TO_PARENT: c_int = 4;
const FD_STDIN: c_int = 5;
const FD_STDOUT: c_int = 6;
const FD_STDERR: c_int = 7;
/// Fds before the host-side bind sources (which follow at 8, 9, ...).
pub(crate) const N_FIXED_FDS: usize = 5;
/// Where the holder keeps a run's fds that have no fixed number (its cgroup files) while
/// it starts the run: far above anything it holds otherwise.
const FD_RUN_HIGH: c_int = 100;
/// At most this many fds are handed to init.
pub(crate) const MAX_FDS: usize = 64;

/// One filesystem step of building the new root, before pivot_root. Paths are absolute on
/// the host side of the mount namespace (under the new root's mount point).
pub(crate) enum MountOp<'a> {
    /// mkdir (mode).
    Dir {
        dst: &'a CStr,
        mode: u32,
    },
    /// Create an empty file to bind a file onto.
    File {
        dst: &'a CStr,
        content: &'a [u8],
    },
    Symlink {
        target: &'a CStr,
        dst: &'a CStr,
    },
    /// A bind mount, then a remount that applies `flags` (MS_RDONLY, MS_NOSUID, ...).
    Bind {
        src: &'a CStr,
        dst: &'a CStr,
        flags: c_ulong,
    },
    /// Makes the mount at `dst` read-only (with nosuid, nodev-less, noexec as given).
    ReadOnly {
        dst: &'a CStr,
        flags: c_ulong,
    },
    /// A fresh filesystem (tmpfs, proc) with mount flags and data.
    Fresh {
        fstype: &'a CStr,
        dst: &'a CStr,
        flags: c_ulong,
        data: &'a CStr,
    },
    /// Moves a detached mount (an fd in init's table) onto `dst`.
    Move {
        fd: c_int,
        dst: &'a CStr,
    },
}

/// A landlock rule: a path in the final tree and the rights granted beneath it.
#[derive(Clone, Copy)]
pub(crate) struct LandlockRule<'a> {
    pub path: &'a CStr,
    pub access: u64,
}

/// One BPF program; `notify` asks the kernel for a user-notification listener.
#[derive(Clone, Copy)]
pub(crate) struct Filter {
    pub fprog: libc::sock_fprog,
    pub notify: bool,
}

/// What the cloned child is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A one-off run: pid 1 of fresh namespaces; builds the root, runs the program, kills
    /// the rest, exits.
    Cold,
    /// A warm environment's resident pid 1: builds the root like a cold init, then waits
    /// for orders (HOLDER_KILL, HOLDER_RESET) until the parent closes its pipe.
    Holder,
    /// One run in a warm environment, started by the holder (`holder_run`) from an order
    /// the runner wrote into the area they share: the program's pre-exec steps make its
    /// IPC namespace and enter its cgroup, then do what a cold run's program does.
    Warm,
}

/// A filesystem the holder makes anew at each reset (/tmp, /dev/shm): paths in the final
/// tree.
pub(crate) struct FreshMount<'a> {
    pub fstype: &'a CStr,
    pub dst: &'a CStr,
    pub flags: c_ulong,
    pub data: &'a CStr,
}

/// A warm environment's box: the kept box, read-only at `base`, under an overlay at `dst`
/// whose upper layer is a fresh tmpfs at `upper` for every run. Each run starts from the
/// kept box, writes what it likes, and leaves nothing for the next.
pub(crate) struct BoxOverlay<'a> {
    pub dst: &'a CStr,
    /// The kept box (read-only; bound writable at `dst` for a keeping run, HOLDER_KEEP).
    pub base: &'a CStr,
    /// An empty directory where a new box's scratch tmpfs is put for a moment (HOLDER_REBOX).
    pub scratch: &'a CStr,
    /// Its `box` entry, bound at `base`.
    pub scratch_box: &'a CStr,
    pub upper: &'a CStr,
    /// Mount data of the upper tmpfs (size and file budget).
    pub upper_data: &'a CStr,
    pub upper_dir: &'a CStr,
    pub work_dir: &'a CStr,
    /// Mount data of the overlay (lowerdir, upperdir, workdir).
    pub overlay_data: &'a CStr,
}

/// Everything the child needs, prepared by the parent. Only read after clone.
pub(crate) struct ChildPlan<'a> {
    /// Cold init, warm holder, or a warm run's order.
    pub role: Role,
    /// Holder only: what a reset mounts anew.
    pub resets: &'a [FreshMount<'a>],
    /// Holder only: the box as an overlay made anew at each reset (see `box_overlay`).
    pub box_overlay: Option<BoxOverlay<'a>>,
    /// Fds in the parent's numbering: from_parent, to_parent, stdin, stdout, stderr; init
    /// renumbers them to 3, 4, 5, ... in this order.
    pub fds: &'a [c_int],
    /// Host paths of bind sources, opened O_PATH by init in this order; they land on the fds
    /// right after the fixed ones, which the mount steps name as /proc/self/fd/N.
    pub bind_sources: &'a [&'a CStr],
    /// The run's cgroup entry files: v1 `tasks` of each group, v2 `cgroup.procs`. Init opens
    /// them (as the runner's host uid, before its id change) and the program's pre-exec
    /// child moves itself in by writing "0": on v1 that moves only the calling thread, which
    /// the kernel does without the global threadgroup lock whose RCU grace period makes a
    /// move of another process cost ~15 ms here. Empty: no cgroup.
    pub self_attach: &'a [&'a CStr],
    /// The run cgroup's CPU usage file (v1 cpuacct.usage, ns; v2 cpu.stat, usage_usec), read
    /// by init right when the program is reaped, before its own exit adds to it.
    pub cpu_usage_file: Option<&'a CStr>,
    pub clear_groups: bool,
    pub inside_id: u32,
    pub new_root: &'a CStr,
    pub mounts: &'a [MountOp<'a>],
    pub hostname: &'a [u8],
    pub workdir: &'a CStr,
    pub rlimits: &'a [(c_int, libc::rlimit)],
    pub cap_last: c_int,
    pub landlock: Option<landlock::Plan>,
    pub landlock_rules: &'a [LandlockRule<'a>],
    pub filters: &'a [Filter],
    /// Candidate paths of the program (one per PATH entry, or just the given path).
    pub exec_paths: &'a [&'a CStr],
    pub argv: &'a [*const c_char],
    pub envp: &'a [*const c_char],
    pub stack: *mut u8,
    pub stack_size: usize,
    /// The runner's argv and environ strings in this address space ([start, end) each):
    /// init overwrites its copy so /proc/1/cmdline and /proc/1/environ inside show nothing
    /// of the runner (a server's flags or secrets).
    pub wipe: [(usize, usize); 2],
    /// Holder only: the area (`order_area_len` bytes) where the runner writes each run's
    /// order, mapped by the holder at this same address (HOLDER_AREA); null otherwise.
    pub order_area: *mut u8,
    pub order_area_len: usize,
}

/// Where the program child leaves its failure for init (shared memory through CLONE_VM).
#[repr(C)]
struct ProgramError {
    stage: u32,
    index: u32,
    errno: i32,
    listener: c_int,
    /// CLOCK_MONOTONIC ns right before the program's execve (0 if the clock failed).
    t_exec: i64,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn now_ns() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`, which lives on this stack.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Sends one message (and optionally an fd) to the parent. Errors are ignored: if the
/// parent is gone, PDEATHSIG is about to end us anyway.
fn send(msg: &Msg, fd_to_pass: c_int) {
    // SAFETY: `Msg` is plain repr(C) data; this views its bytes for the duration of the call.
    let bytes = unsafe { std::slice::from_raw_parts(msg as *const Msg as *const u8, std::mem::size_of::<Msg>()) };
    crate::sys::send_with_fd(FD_TO_PARENT, bytes, fd_to_pass);
}

fn fail(stage: Stage, index: u32, err: i32) -> ! {
    send(&Msg { kind: MSG_ERROR, stage: stage as u32, index, errno: err, v: [0; 5] }, -1);
    // SAFETY: _exit ends the process without running any Rust or libc teardown.
    unsafe { libc::_exit(126) }
}

/// Before the fds are in place there is no channel to report on; the parent sees init die
/// without a message and says so.
fn fail_early() -> ! {
    // SAFETY: see `fail`.
    unsafe { libc::_exit(123) }
}

/// Checks a libc return value; on failure reports the stage and exits.
fn check(ret: c_int, stage: Stage, index: u32) {
    if ret < 0 {
        fail(stage, index, errno());
    }
}

/// Waits for one byte from the parent; EOF (the parent died) ends init.
fn wait_parent(expected: u8) {
    let mut b = 0u8;
    loop {
        // SAFETY: reads at most one byte into `b`.
        let n = unsafe { libc::read(FD_FROM_PARENT, &mut b as *mut u8 as *mut c_void, 1) };
        if n == 1 && b == expected {
            return;
        }
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        // SAFETY: see `fail`.
        unsafe { libc::_exit(125) }
    }
}

/// pid 1 of the sandbox. Never returns.
///
/// # Safety
/// Must only be called in the child right after clone (the only thread of a fresh process),
/// with `plan` prepared by the parent: every pointer in it stays valid, since the child has
/// its own copy of the parent's memory. Nothing here allocates or takes a lock.
pub(crate) unsafe fn init_main(plan: &ChildPlan) -> ! {
    // SAFETY: we are the child right after clone, as `prologue` requires.
    let n = unsafe { prologue(plan) };

    // The parent writes our uid/gid maps; until then our ids are unmapped here.
    wait_parent(GO_MAPS_WRITTEN);

    // Open the bind sources while we still have the runner's host uid: paths such as a box
    // under /root are reachable by that uid, not by the sandbox's. Opening them here (not in
    // the parent) matters: a bind from a mount of another mount namespace is refused.
    for (i, src) in plan.bind_sources.iter().enumerate() {
        // SAFETY: open reads a NUL-terminated path owned by the plan.
        let fd = unsafe { libc::open(src.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd != 3 + (n + i) as c_int {
            fail(Stage::OpenSource, i as u32, if fd < 0 { errno() } else { libc::EBADF });
        }
    }
    let (usage_fd, cg_fds) = open_run_files(plan);
    become_sandbox_id(plan);
    // SAFETY: we are the child; the plan's mount steps name paths and fds it prepared.
    unsafe { build_root(plan) };
    if plan.role == Role::Holder {
        holder_loop(plan)
    }
    // Init itself stays out of the run's cgroups: the program's pre-exec child moves itself
    // in (see `program_main`), so none of init's work is charged to the run, and the groups
    // are empty (removable) as soon as init has reaped the run, before init's own exit
    // (which tears down the namespaces) is over.
    let cg_fds = &cg_fds[..plan.self_attach.len().min(cg_fds.len())];
    // SAFETY: we are the child, with the plan's program data.
    let pid = unsafe { start_program(plan, cg_fds) };
    close_all(cg_fds);
    reap_and_report(pid, usage_fd)
}

/// The first steps of every cloned child: signal dispositions, death with the runner,
/// the runner's argv wiped, the plan's fds at fixed numbers and no other fd. Returns how
/// many fds were placed.
///
/// # Safety
/// Only in the child right after clone (see `init_main`).
unsafe fn prologue(plan: &ChildPlan) -> usize {
    // The parent cloned us with every signal blocked, so no handler of the embedder can run
    // here before this point. Reset every disposition to the default first thing (raw
    // rt_sigaction: glibc's wrapper refuses its internal signals); the mask stays full in
    // init, which needs no signal but SIGKILL.
    let dfl = [0u64; 4];
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: rt_sigaction reads one kernel sigaction (4 words, all zero: SIG_DFL)
            // from this stack and writes no old action (null).
            unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, dfl.as_ptr(), std::ptr::null::<u64>(), 8usize) };
        }
    }
    // Die with the runner: if it is killed, PID 1 dies and the kernel kills the whole pid
    // namespace, so nothing outlives the runner. (Set again after the id change below,
    // which clears it.) Modes of what we create are exactly those asked for (umask 0).
    // SAFETY: prctl and umask take integers only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong, 0, 0, 0);
        libc::umask(0);
    }
    // The name we inherited is the runner's thread's (an embedder's worker, a test's name),
    // which /proc/1/comm would show the program and `ps` on the host would show for every
    // init and holder: ours is sandbox-init (16 bytes with the NUL, the most comm takes).
    // SAFETY: prctl reads a NUL-terminated name of at most 16 bytes from a static.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"sandbox-init".as_ptr() as c_ulong, 0, 0, 0) };
    // Our copy of the runner's memory holds its argv and environment, which /proc/1/cmdline
    // and /proc/1/environ would show the program: overwrite them in this copy.
    for (i, (start, end)) in plan.wipe.iter().enumerate() {
        let name: &[u8] = if i == 0 { b"sandbox-init" } else { b"" };
        for p in *start..*end {
            let k = p - start;
            let b = if k < name.len() { name[k] } else { 0 };
            // SAFETY: [start, end) is the argv or environ area of this process (read by the
            // parent from /proc/self/stat before clone): mapped, writable stack memory of
            // our private copy that nothing in the child reads.
            unsafe { std::ptr::write_volatile(p as *mut u8, b) };
        }
    }

    // Bring the fds we need to fixed numbers from 3 and close every other inherited fd (the
    // runner's sockets, files, other runs' pipes). Two phases so no source is overwritten:
    // first copies above the final range, then onto it.
    let n = plan.fds.len();
    if n > MAX_FDS {
        fail_early();
    }
    let mut tmp = [0 as c_int; MAX_FDS];
    for (i, fd) in plan.fds.iter().enumerate() {
        // SAFETY: fcntl(F_DUPFD) takes integers only.
        tmp[i] = unsafe { libc::fcntl(*fd, libc::F_DUPFD, 3 + n as c_int) };
        if tmp[i] < 0 {
            fail_early();
        }
    }
    for (i, fd) in tmp[..n].iter().enumerate() {
        // SAFETY: dup2 takes integers only.
        if unsafe { libc::dup2(*fd, 3 + i as c_int) } < 0 {
            fail_early();
        }
    }
    // SAFETY: close_range takes integers only.
    unsafe { libc::syscall(libc::SYS_close_range, 3 + n as u32, u32::MAX, 0u32) };
    n
}

/// Opens the run cgroup's CPU usage file and its `tasks` files (host paths, root's), now
/// while the runner's uid and mount namespace are still ours.
fn open_run_files(plan: &ChildPlan) -> (c_int, [c_int; 4]) {
    // The CPU usage file, opened now while we can (it is root's), read at the program's end.
    let usage_fd = match plan.cpu_usage_file {
        // SAFETY: open reads a NUL-terminated path owned by the plan.
        Some(p) => unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) },
        None => -1,
    };
    // Open the cgroup files now, as the runner's host uid (they are root's); the write
    // comes after the setup so that none of the setup is charged to the run.
    let mut cg_fds = [-1 as c_int; 4];
    for (i, path) in plan.self_attach.iter().enumerate().take(cg_fds.len()) {
        // SAFETY: open reads a NUL-terminated path owned by the plan.
        cg_fds[i] = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        check(cg_fds[i], Stage::Cgroup, i as u32);
    }
    (usage_fd, cg_fds)
}

/// Becomes the one mapped id, dies with the runner from now on, not dumpable.
fn become_sandbox_id(plan: &ChildPlan) {
    // Root mode: shed the runner's supplementary groups (host gid 0 would stay ours).
    // Raw syscalls, not glibc's set*id wrappers: those broadcast the change to every thread
    // glibc knows of, and after a raw clone it still lists the runner's other threads, so
    // it would wait for them forever.
    if plan.clear_groups {
        // SAFETY: setgroups with size 0 reads nothing from the null list.
        let r = unsafe { libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) };
        check(r as c_int, Stage::Setgroups, 0);
    }
    // Become the one mapped id. Capabilities in our user namespace stay: the old uid
    // (host root or the rootless user) is not this namespace's uid 0.
    let id = plan.inside_id;
    // SAFETY: setresgid/setresuid take integers only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, id, id, id) } as c_int, Stage::Setresgid, 0);
    // SAFETY: as above.
    check(unsafe { libc::syscall(libc::SYS_setresuid, id, id, id) } as c_int, Stage::Setresuid, 0);
    // The id change cleared the parent-death signal: set it again, then make sure the
    // runner did not die in between (its end of our pipe is then closed: POLLHUP). From
    // here on its death kills us. Not dumpable: the program, same uid as us, may not read
    // our memory (a copy of the runner's) through /proc/1/mem.
    let mut pfd = libc::pollfd { fd: FD_FROM_PARENT, events: libc::POLLIN, revents: 0 };
    // SAFETY: prctl takes integers; poll reads and writes the one pollfd on this stack;
    // _exit ends the process without running any teardown.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong, 0, 0, 0);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        if libc::poll(&mut pfd, 1, 0) > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            libc::_exit(125);
        }
    }
}

/// Builds the new root from the plan's mount steps, pivots into it, and goes to the work
/// directory.
///
/// # Safety
/// Only in the child, with mount steps naming paths and fds the parent prepared.
unsafe fn build_root(plan: &ChildPlan) {
    // No mount event may propagate back to the host's mount namespace.
    // SAFETY: mount reads the NUL-terminated "/" literal; the other pointers are null.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check(r, Stage::MakePrivate, 0);
    for (i, op) in plan.mounts.iter().enumerate() {
        // SAFETY: we are the child, and `op` holds paths and fds the parent prepared.
        if let Err(e) = unsafe { apply_mount(op) } {
            fail(Stage::Mount, i as u32, e);
        }
    }
    // SAFETY: sethostname reads hostname.len() bytes from the plan's slice.
    let r = unsafe { libc::sethostname(plan.hostname.as_ptr() as *const c_char, plan.hostname.len()) };
    check(r, Stage::Hostname, 0);

    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
    // only the new tree reachable, with no directory of the old root to find.
    // SAFETY: chdir reads a NUL-terminated path owned by the plan.
    check(unsafe { libc::chdir(plan.new_root.as_ptr()) }, Stage::Chdir, 0);
    // SAFETY: pivot_root reads two NUL-terminated literals.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) };
    check(r as c_int, Stage::PivotRoot, 0);
    // SAFETY: umount2 reads a NUL-terminated literal.
    check(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) }, Stage::DetachOldRoot, 0);
    // SAFETY: chdir reads a NUL-terminated literal.
    check(unsafe { libc::chdir(c"/".as_ptr()) }, Stage::Chdir, 1);
    // The skeleton tmpfs itself becomes read-only: the program can only write to /box, /tmp.
    // SAFETY: mount reads the NUL-terminated "/" literal; the other pointers are null.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        )
    };
    check(r, Stage::RemountRoot, 0);
    // SAFETY: chdir reads a NUL-terminated path owned by the plan.
    check(unsafe { libc::chdir(plan.workdir.as_ptr()) }, Stage::Chdir, 2);
}

/// Closes fds of ours (negative entries are skipped).
fn close_all(fds: &[c_int]) {
    for fd in fds {
        if *fd >= 0 {
            // SAFETY: close takes an integer; the caller owns the fds.
            unsafe { libc::close(*fd) };
        }
    }
}

/// Starts the program (its pre-exec steps in `program_main`), reports MSG_STARTED with its
/// seccomp listener, and closes our copies of its streams. Returns its pid. On failure
/// reports MSG_ERROR and exits.
///
/// # Safety
/// Only in the child, with `plan.stack` unused by anything else.
unsafe fn start_program(plan: &ChildPlan, cg_fds: &[c_int]) -> c_int {
    // SAFETY: as this function's own contract.
    match unsafe { launch(plan, cg_fds) } {
        Some(pid) => pid,
        // SAFETY: _exit ends the process without running any teardown.
        None => unsafe { libc::_exit(126) },
    }
}

/// Starts the program as `start_program` does, the pre-exec child first moving itself into
/// the cgroups behind `cg_fds` (writable `tasks` or `cgroup.procs`). On failure: reports
/// MSG_ERROR, reaps the failed child, closes the streams, and returns None.
///
/// # Safety
/// Only in the child (init or holder), with `plan.stack` unused by anything else.
unsafe fn launch(plan: &ChildPlan, cg_fds: &[c_int]) -> Option<c_int> {
    // CLONE_VM|CLONE_VFORK: no copy of the address space (the runner's may be large) and we
    // sleep until the program has exec'd or failed. CLONE_FILES: the seccomp listener the
    // program creates lands in our fd table too, so we can hand it to the parent.
    let mut perr = ProgramError { stage: 0, index: 0, errno: 0, listener: -1, t_exec: 0 };
    let arg = ProgramArg { plan, cg_fds, err: &mut perr };
    let stack_top = (plan.stack as usize + plan.stack_size) & !15;
    // SAFETY: the child runs `program_main` on the plan's own stack (allocated by the parent,
    // not otherwise used; aligned to 16), with `arg` on our stack, which stays valid since
    // CLONE_VFORK suspends us until the child has exec'd or exited.
    let pid = unsafe {
        libc::clone(
            program_main,
            stack_top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
            &arg as *const ProgramArg as *mut c_void,
        )
    };
    // The program's start is its execve, timed by the child right before it: the time we
    // wake up after the vfork is later by however long the scheduler let the program run
    // first (on a busy CPU, sometimes all of a short program's run).
    // SAFETY: a read of a plain integer of `perr`, a live local the child wrote before its
    // execve (volatile: through another stack, while we were suspended).
    let t_exec = unsafe { std::ptr::read_volatile(&perr.t_exec) };
    let t0 = if t_exec > 0 { t_exec } else { now_ns() };
    let close_streams = |listener: c_int| {
        // We keep no stream of the program open: its output pipes must see EOF when it dies.
        for fd in [0, 1, 2, FD_STDIN, FD_STDOUT, FD_STDERR, listener] {
            if fd >= 0 {
                // SAFETY: close takes an integer; the fds are ours.
                unsafe { libc::close(fd) };
            }
        }
    };
    if pid < 0 {
        send(&Msg { kind: MSG_ERROR, stage: Stage::CloneProgram as u32, index: 0, errno: errno(), v: [0; 5] }, -1);
        close_streams(-1);
        return None;
    }
    // Volatile: the child wrote these through another stack while we were suspended.
    // SAFETY: reads of plain integers of `perr`, a live local.
    let stage = unsafe { std::ptr::read_volatile(&perr.stage) };
    if stage != 0 {
        // SAFETY: as above; waitpid writes one int on this stack.
        unsafe {
            let index = std::ptr::read_volatile(&perr.index);
            let e = std::ptr::read_volatile(&perr.errno);
            let mut status = 0;
            libc::waitpid(pid, &mut status, libc::__WALL);
            send(&Msg { kind: MSG_ERROR, stage, index, errno: e, v: [0; 5] }, -1);
        }
        // A listener made before a failed execve is in our fd table too (CLONE_FILES).
        // SAFETY: as above.
        close_streams(unsafe { std::ptr::read_volatile(&perr.listener) });
        return None;
    }
    // SAFETY: as above.
    let listener = unsafe { std::ptr::read_volatile(&perr.listener) };
    send(&Msg { kind: MSG_STARTED, v: [t0, (listener >= 0) as i64, 0, 0, 0], ..Default::default() }, listener);
    close_streams(listener);
    Some(pid)
}

/// A warm environment's pid 1 between runs: reaps what the runs leave to it (orphans are
/// re-parented here), and obeys the parent: HOLDER_KILL kills every other process of the
/// namespace; HOLDER_RESET also reaps them all, makes /tmp and /dev/shm anew, checks that
/// /proc shows no process but this one, and answers. EOF from the parent ends it (and the
/// kernel then kills whatever is left in the namespace).
fn holder_loop(plan: &ChildPlan) -> ! {
    // The first run's box and /tmp come from the same steps as every later one's.
    if let Err((index, e)) = fresh_box(plan) {
        fail(Stage::Mount, 1000 + index, e);
    }
    // Every run's program is a child of ours: with the whole capability bounding set dropped
    // here, once, no run's pre-exec steps need to drop it again. The holder keeps the
    // capabilities it has (the bounding set only limits what an execve could give, and it
    // never calls execve).
    for cap in 0..=plan.cap_last {
        // SAFETY: prctl takes integers only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as c_ulong, 0, 0, 0) } < 0 && errno() != libc::EINVAL {
            fail(Stage::DropBounding, cap as u32, errno());
        }
    }
    let mut looks = Looks::default();
    looks.record(plan);
    send(&Msg { kind: MSG_SETUP_DONE, ..Default::default() }, -1);
    // Every signal through a signalfd (they all stay blocked in pid 1, see init_main): a
    // blocked signal is queued even for a pid 1, so each one is read and dropped at once,
    // and none stays pending for a later run to see in /proc/1/status.
    // SAFETY: sigset_t is plain data; sigfillset writes into it; signalfd reads it.
    let sfd = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    };
    loop {
        let pfds = wait_orders_or_signals(sfd, 100);
        if pfds[1].revents != 0 || sfd < 0 {
            drain_signals(sfd);
            reap_nohang();
        }
        if pfds[0].revents == 0 {
            continue;
        }
        let mut b = 0u8;
        // SAFETY: reads at most one byte into `b`.
        let r = unsafe { libc::read(FD_FROM_PARENT, &mut b as *mut u8 as *mut c_void, 1) };
        if r < 0 && errno() == libc::EINTR {
            continue;
        }
        if r <= 0 {
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
        match b {
            // SAFETY: kill takes integers; from pid 1, -1 is every other process of the
            // namespace.
            HOLDER_KILL => unsafe {
                libc::kill(-1, libc::SIGKILL);
            },
            HOLDER_RESET => {
                let (ok, killed) = reset(plan, &mut looks);
                drain_signals(sfd);
                let ok = ok && sfd >= 0 && no_signal_pending();
                send(&Msg { kind: MSG_RESET, v: [ok as i64, killed, 0, 0, 0], ..Default::default() }, -1);
            }
            HOLDER_REBOX => {
                let ok = other_processes() == 0 && rebox(plan).is_ok() && fresh_box(plan).is_ok();
                looks.record(plan);
                send(&Msg { kind: MSG_RESET, v: [ok as i64, 0, 0, 0, 0], ..Default::default() }, -1);
            }
            HOLDER_AREA => {
                let ok = map_order_area(plan).is_ok();
                send(&Msg { kind: MSG_RESET, v: [ok as i64, 0, 0, 0, 0], ..Default::default() }, -1);
            }
            HOLDER_RUN => holder_run(plan, sfd),
            HOLDER_KEEP => {
                // Only between a reset and a run: no process but this one may be there.
                let ok = other_processes() == 0 && keep_box(plan).is_ok();
                // The box is no overlay until the next reset makes one again.
                looks.upper = None;
                send(&Msg { kind: MSG_RESET, v: [ok as i64, 0, 0, 0, 0], ..Default::default() }, -1);
            }
            _ => {}
        }
    }
}

/// Receives one fd sent on the holder's socket with an order.
fn recv_one_fd() -> Result<c_int, i32> {
    let mut byte = [0u8; 1];
    let mut fds = [-1; crate::sys::MAX_PASSED_FDS];
    match crate::sys::recv_with_fds(FD_TO_PARENT, &mut byte, &mut fds)? {
        (1, 1) => Ok(fds[0]),
        (_, got) => {
            for fd in &fds[..got] {
                // SAFETY: close takes an integer; the fds just arrived and are ours.
                unsafe { libc::close(*fd) };
            }
            Err(libc::EBADMSG)
        }
    }
}

/// HOLDER_AREA: maps the memfd sent with the order at `plan.order_area`, where the runner
/// has it, so that the pointers of the orders it writes there hold here too. Refused if
/// anything else is mapped there (MAP_FIXED_NOREPLACE): this holder's copy of the runner's
/// memory has no such mapping (the runner made it MADV_DONTFORK before cloning us).
fn map_order_area(plan: &ChildPlan) -> Result<(), i32> {
    let fd = recv_one_fd()?;
    if plan.order_area.is_null() {
        // SAFETY: close takes an integer.
        unsafe { libc::close(fd) };
        return Err(libc::EINVAL);
    }
    // SAFETY: maps the memfd at a fixed address that must be free (NOREPLACE); nothing of
    // ours is there; the mapping lives as long as the holder.
    let p = unsafe {
        libc::mmap(
            plan.order_area as *mut c_void,
            plan.order_area_len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE,
            fd,
            0,
        )
    };
    let e = errno();
    // SAFETY: close takes an integer; the mapping keeps the memory.
    unsafe { libc::close(fd) };
    if p as *mut u8 != plan.order_area {
        if p != libc::MAP_FAILED {
            // SAFETY: unmaps what was just mapped at another address.
            unsafe { libc::munmap(p, plan.order_area_len) };
        }
        return Err(if p == libc::MAP_FAILED { e } else { libc::EEXIST });
    }
    Ok(())
}

/// Reports a setup failure of a run the holder was asked to start (it carries on).
fn run_error(stage: Stage, index: u32, e: i32) {
    send(&Msg { kind: MSG_ERROR, stage: stage as u32, index, errno: e, v: [0; 5] }, -1);
}

/// HOLDER_RUN: starts the run ordered in the area with the fds sent on the socket, then
/// waits for the program, reaping the run's orphans (ours, as pid 1) and obeying
/// HOLDER_KILL. At the program's end: MSG_PROGRAM_REAPED with the cgroup's CPU usage read
/// right then, kill(-1) (every other process of the namespace), reap them all, and
/// MSG_EXITED with the program's status and the CPU of every process of the run. Any other
/// order during the run, or a lost runner, ends the holder: the environment is then thrown
/// away.
fn holder_run(plan: &ChildPlan, sfd: c_int) {
    let mut data = [0u8; 2];
    let mut fds = [-1; crate::sys::MAX_PASSED_FDS];
    let (n, got) = match crate::sys::recv_with_fds(FD_TO_PARENT, &mut data, &mut fds) {
        Ok(r) => r,
        Err(e) => return run_error(Stage::Renumber, 0, e),
    };
    let (n_cg, has_usage) = (data[0] as usize, data[1] == 1);
    if plan.order_area.is_null() || n != 2 || n_cg > 3 || got != 3 + n_cg + has_usage as usize {
        close_all(&fds[..got]);
        return run_error(Stage::Renumber, 1, libc::EBADMSG);
    }
    // The fds arrived at the lowest free numbers, which may be the very slots they go to:
    // first all of them far up, then the streams onto their fixed numbers.
    let mut high = [-1; crate::sys::MAX_PASSED_FDS];
    for i in 0..got {
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) and close take integers.
        unsafe {
            high[i] = libc::fcntl(fds[i], libc::F_DUPFD_CLOEXEC, FD_RUN_HIGH);
            libc::close(fds[i]);
        }
    }
    if high[..got].iter().any(|fd| *fd < 0) {
        close_all(&high[..got]);
        return run_error(Stage::Renumber, 2, libc::EMFILE);
    }
    for (i, slot) in [FD_STDIN, FD_STDOUT, FD_STDERR].into_iter().enumerate() {
        // SAFETY: dup2 and close take integers.
        unsafe {
            libc::dup2(high[i], slot);
            libc::close(high[i]);
        }
    }
    let cg_fds = &high[3..3 + n_cg];
    let usage_fd = if has_usage { high[3 + n_cg] } else { -1 };
    // SAFETY: the runner wrote a whole ChildPlan of role Warm at the area's start, whose
    // pointers all lead into the area (mapped at the same address here), before it sent the
    // order, and writes nothing there until this run has ended.
    let order = unsafe { &*(plan.order_area as *const ChildPlan) };
    if order.role != Role::Warm {
        close_all(&high[3..got]);
        close_all(&[FD_STDIN, FD_STDOUT, FD_STDERR]);
        return run_error(Stage::Renumber, 3, libc::EBADMSG);
    }
    let before = children_cpu_us();
    // SAFETY: we are the holder; the order's stack (in the area) is used by nothing else.
    let started = unsafe { launch(order, cg_fds) };
    close_all(cg_fds);
    let Some(pid) = started else {
        close_all(&[usage_fd]);
        return;
    };
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut program_ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut program_status = 0;
    let mut t1 = 0;
    while t1 == 0 {
        let pfds = wait_orders_or_signals(sfd, 10);
        drain_signals(sfd);
        loop {
            let mut status = 0;
            // SAFETY: rusage is plain data; zeroed is a valid value.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 writes one int and one rusage on this stack.
            let r = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG | libc::__WALL, &mut ru) };
            if r <= 0 {
                break;
            }
            if r == pid {
                (t1, program_status, program_ru) = (program_reaped(usage_fd), status, ru);
                break;
            }
        }
        if t1 == 0 && pfds[0].revents != 0 {
            let mut b = 0u8;
            // SAFETY: reads at most one byte into `b`.
            let r = unsafe { libc::read(FD_FROM_PARENT, &mut b as *mut u8 as *mut c_void, 1) };
            match (r, b) {
                // SAFETY: kill takes integers (as above).
                (1, HOLDER_KILL) => unsafe {
                    libc::kill(-1, libc::SIGKILL);
                },
                (r, _) if r < 0 && errno() == libc::EINTR => {}
                // The runner is gone (EOF), or asks something no run may see: end.
                // SAFETY: _exit ends the process without any teardown.
                _ => unsafe { libc::_exit(124) },
            }
        }
    }
    // Everything else of the run was killed with the program's end: reap it all.
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int on this stack.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if r < 0 && errno() != libc::EINTR {
            break;
        }
    }
    close_all(&[usage_fd]);
    let after = children_cpu_us();
    let v = [program_status as i64, after.0 - before.0, after.1 - before.1, program_ru.ru_maxrss, t1];
    send(&Msg { kind: MSG_EXITED, v, ..Default::default() }, -1);
}

/// User and system CPU (µs) of every child this process has reaped so far.
fn children_cpu_us() -> (i64, i64) {
    // SAFETY: rusage is plain data; getrusage writes one into it.
    let all = unsafe {
        let mut all: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut all);
        all
    };
    let us = |tv: libc::timeval| tv.tv_sec * 1_000_000 + tv.tv_usec;
    (us(all.ru_utime), us(all.ru_stime))
}

/// The holder's wait: for an order from the runner or a signal (through `sfd`; without
/// one, a poll every `fallback_ms`). Returns the two pollfds (orders, signals). A failed
/// poll ends the holder.
fn wait_orders_or_signals(sfd: c_int, fallback_ms: c_int) -> [libc::pollfd; 2] {
    let mut pfds = [
        libc::pollfd { fd: FD_FROM_PARENT, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: sfd, events: libc::POLLIN, revents: 0 },
    ];
    // SAFETY: poll reads and writes the two pollfds on this stack.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), 2, if sfd < 0 { fallback_ms } else { -1 }) };
    if n < 0 && errno() != libc::EINTR {
        // SAFETY: _exit ends the process without any teardown.
        unsafe { libc::_exit(124) };
    }
    pfds
}

/// Reads and drops every queued signal.
fn drain_signals(sfd: c_int) {
    let mut info = [0u8; 128];
    // SAFETY: read writes at most 128 bytes (one signalfd_siginfo) into `info`.
    while sfd >= 0 && unsafe { libc::read(sfd, info.as_mut_ptr() as *mut c_void, 128) } > 0 {}
}

/// Whether no signal is pending for the holder (rt_sigpending).
fn no_signal_pending() -> bool {
    let mut set = 0u64;
    // SAFETY: rt_sigpending writes 8 bytes of signal set into `set`.
    unsafe { libc::syscall(libc::SYS_rt_sigpending, &mut set as *mut u64, 8usize) == 0 && set == 0 }
}

/// Reaps every child that has exited, without waiting.
fn reap_nohang() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int on this stack.
        if unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) } <= 0 {
            return;
        }
    }
}

/// The holder's reset between runs. Returns whether every step worked and the check
/// passed, and how many processes it had to reap.
///
/// /tmp, /dev/shm and the box's upper layer are mounted anew unless the run provably left
/// them as they were made: see `Looks`. Mounting anew is what costs (an overlay's unmount
/// waits for an RCU grace period: ~0.2 ms here, ~0.55 ms for all four), and most runs
/// never write there.
fn reset(plan: &ChildPlan, looks: &mut Looks) -> (bool, i64) {
    // SAFETY: kill takes integers (see holder_loop).
    unsafe { libc::kill(-1, libc::SIGKILL) };
    // Everything left is now our child (orphans of the run): reap until none is left.
    let mut reaped = 0;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int on this stack.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if r < 0 {
            match errno() {
                libc::EINTR => continue,
                libc::ECHILD => break,
                _ => return (false, reaped),
            }
        }
        reaped += 1;
    }
    if let Some(o) = &plan.box_overlay {
        if !looks.upper.is_some_and(|l| Some(l) == Look::take(o.upper_dir, o.upper)) {
            if fresh_box(plan).is_err() {
                return (false, reaped);
            }
            looks.upper = Look::take(o.upper_dir, o.upper);
        }
    }
    for (i, m) in plan.resets.iter().enumerate() {
        let kept = looks.fresh.get(i).copied().flatten();
        if kept.is_some_and(|l| Some(l) == Look::take(m.dst, m.dst)) {
            continue;
        }
        // A fresh filesystem over the old one's place: the old one (and every file in it)
        // is gone once nothing holds it, and nothing does, every process being dead.
        // SAFETY: umount2 and mount read NUL-terminated strings owned by the plan.
        let ok = unsafe {
            libc::umount2(m.dst.as_ptr(), libc::MNT_DETACH) == 0
                && libc::mount(
                    m.fstype.as_ptr(),
                    m.dst.as_ptr(),
                    m.fstype.as_ptr(),
                    m.flags,
                    m.data.as_ptr() as *const c_void,
                ) == 0
        };
        if !ok {
            return (false, reaped);
        }
        if let Some(slot) = looks.fresh.get_mut(i) {
            *slot = Look::take(m.dst, m.dst);
        }
    }
    (other_processes() == 0, reaped)
}

/// How the holder's fresh filesystems looked when it made them: /tmp and /dev/shm
/// (`ChildPlan::resets`, by index) and the box overlay's upper directory. None: not known
/// (or not an overlay), so the next reset makes it anew.
#[derive(Default)]
struct Looks {
    fresh: [Option<Look>; 4],
    upper: Option<Look>,
}

impl Looks {
    /// Records every fresh filesystem as it is now (just made).
    fn record(&mut self, plan: &ChildPlan) {
        for (i, m) in plan.resets.iter().enumerate() {
            if let Some(slot) = self.fresh.get_mut(i) {
                *slot = Look::take(m.dst, m.dst);
            }
        }
        self.upper = plan.box_overlay.as_ref().and_then(|o| Look::take(o.upper_dir, o.upper));
    }
}

/// Everything a program could change in a fresh tmpfs and see again: the directory's
/// mode, owner, links, size, times, inode and extended attributes (their list's length),
/// and the filesystem's free blocks and inodes. Equal free inodes mean no file exists
/// anywhere in it beyond what the holder made (no entry, no overlay work file or whiteout;
/// an extended attribute takes inode space too), so the directory is as empty as it was
/// made; it is not read (that would change its access time). A run that leaves all of
/// these equal left nothing in that filesystem but how far its inode numbers have advanced
/// (as the pid numbers have). The program owns these directories,
/// so it may change their times: it cannot put back their change time, and whatever it
/// does within one tick of the clock leaves the final state, the only one a next run sees,
/// equal.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Look {
    mode: u16,
    uid: u32,
    gid: u32,
    nlink: u32,
    size: u64,
    ino: u64,
    times: [(i64, u32); 4],
    xattr_bytes: isize,
    blocks_free: u64,
    files_free: u64,
}

impl Look {
    /// `dir`'s look, with the free space of the filesystem at `fs` (None if unreadable).
    fn take(dir: &CStr, fs: &CStr) -> Option<Look> {
        // SAFETY: statx and statfs write into these zeroed plain-data structs; the paths are
        // NUL-terminated strings owned by the plan; llistxattr with a null buffer and size
        // 0 only returns the list's length.
        unsafe {
            let mut st: libc::statx = std::mem::zeroed();
            let mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
            if libc::statx(libc::AT_FDCWD, dir.as_ptr(), libc::AT_SYMLINK_NOFOLLOW, mask, &mut st) != 0 {
                return None;
            }
            let mut sfs: libc::statfs = std::mem::zeroed();
            if libc::statfs(fs.as_ptr(), &mut sfs) != 0 {
                return None;
            }
            let xattr_bytes = libc::llistxattr(dir.as_ptr(), std::ptr::null_mut(), 0);
            if xattr_bytes < 0 {
                return None;
            }
            let t = |ts: libc::statx_timestamp| (ts.tv_sec, ts.tv_nsec);
            Some(Look {
                mode: st.stx_mode,
                uid: st.stx_uid,
                gid: st.stx_gid,
                nlink: st.stx_nlink,
                size: st.stx_size,
                ino: st.stx_ino,
                times: [t(st.stx_atime), t(st.stx_mtime), t(st.stx_ctime), t(st.stx_btime)],
                xattr_bytes,
                blocks_free: sfs.f_bfree,
                files_free: sfs.f_ffree,
            })
        }
    }
}

/// The box overlay anew: the old overlay and its upper tmpfs go (their first time, there
/// are none: EINVAL is expected), a fresh tmpfs with the upper and work directories, the
/// overlay on top of the kept box. Err: which step (0-4) and its errno.
fn fresh_box(plan: &ChildPlan) -> Result<(), (u32, i32)> {
    let Some(o) = &plan.box_overlay else { return Ok(()) };
    let step = |i: u32, r: c_int| if r < 0 { Err((i, errno())) } else { Ok(()) };
    // SAFETY: umount2, mount and mkdir read NUL-terminated strings owned by the plan.
    unsafe {
        for (i, dst) in [o.dst, o.upper].iter().enumerate() {
            if libc::umount2(dst.as_ptr(), libc::MNT_DETACH) < 0 && errno() != libc::EINVAL {
                return Err((i as u32, errno()));
            }
        }
        let tmpfs = c"tmpfs";
        step(
            2,
            libc::mount(
                tmpfs.as_ptr(),
                o.upper.as_ptr(),
                tmpfs.as_ptr(),
                // No access times: reading /box (as Python does at every start) would
                // otherwise change the upper directory and make every reset mount it anew.
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOATIME,
                o.upper_data.as_ptr() as *const c_void,
            ),
        )?;
        step(3, libc::mkdir(o.upper_dir.as_ptr(), 0o755))?;
        step(3, libc::mkdir(o.work_dir.as_ptr(), 0o755))?;
        let overlay = c"overlay";
        step(
            4,
            libc::mount(
                overlay.as_ptr(),
                o.dst.as_ptr(),
                overlay.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                o.overlay_data.as_ptr() as *const c_void,
            ),
        )
    }
}

/// For a keeping run: the overlay and its upper layer go, and the kept box itself is bound
/// at /box, writable (its own mount stays read-only). The next reset's `fresh_box` puts an
/// overlay back on top of what this run left in it.
fn keep_box(plan: &ChildPlan) -> Result<(), i32> {
    let Some(o) = &plan.box_overlay else { return Err(libc::EINVAL) };
    let ok = |r: c_int| if r < 0 { Err(errno()) } else { Ok(()) };
    // SAFETY: umount2 and mount read NUL-terminated strings owned by the plan.
    unsafe {
        for dst in [o.dst, o.upper] {
            if libc::umount2(dst.as_ptr(), libc::MNT_DETACH) < 0 && errno() != libc::EINVAL {
                return Err(errno());
            }
        }
        ok(libc::mount(o.base.as_ptr(), o.dst.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()))?;
        // A bind takes its source's flags (read-only): the remount of this bind alone makes
        // it writable, still without setuid files or devices.
        ok(libc::mount(
            std::ptr::null(),
            o.dst.as_ptr(),
            std::ptr::null(),
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        ))
    }
}

/// A new kept box: the scratch tmpfs sent with the order goes on `scratch`, its `box` is
/// bound read-only at `base` in place of the old one, and the scratch's own mount goes
/// (the bind keeps what it needs). The old box, its overlay and upper layer are unmounted;
/// nothing holds them, no process being left, so they are freed.
fn rebox(plan: &ChildPlan) -> Result<(), i32> {
    let Some(o) = &plan.box_overlay else { return Err(libc::EINVAL) };
    let ok = |r: c_int| if r < 0 { Err(errno()) } else { Ok(()) };
    let fd = recv_one_fd()?;
    // SAFETY: umount2, mount and move_mount read NUL-terminated strings owned by the plan;
    // `fd` is the detached mount just received, closed here whatever happens.
    let result = unsafe {
        (|| {
            for dst in [o.dst, o.upper, o.base] {
                if libc::umount2(dst.as_ptr(), libc::MNT_DETACH) < 0 && errno() != libc::EINVAL {
                    return Err(errno());
                }
            }
            ok(libc::syscall(
                libc::SYS_move_mount,
                fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                o.scratch.as_ptr(),
                crate::sys::MOVE_MOUNT_F_EMPTY_PATH,
            ) as c_int)?;
            let bound = ok(libc::mount(
                o.scratch_box.as_ptr(),
                o.base.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))
            .and_then(|_| {
                ok(libc::mount(
                    std::ptr::null(),
                    o.base.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                    std::ptr::null(),
                ))
            });
            ok(libc::umount2(o.scratch.as_ptr(), libc::MNT_DETACH))?;
            bound
        })()
    };
    // SAFETY: close takes an integer.
    unsafe { libc::close(fd) };
    result
}

/// Processes of the namespace other than pid 1, counted in /proc (-1 when unreadable).
fn other_processes() -> i64 {
    // SAFETY: open reads a NUL-terminated literal.
    let fd = unsafe { libc::open(c"/proc".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return -1;
    }
    let mut count = 0i64;
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: getdents64 writes at most buf.len() bytes of dirents into `buf`.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off + 19 < n as usize {
            // struct linux_dirent64: ino u64, off i64, reclen u16, type u8, name...
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[off + 19..off + reclen];
            let name = &name[..name.iter().position(|c| *c == 0).unwrap_or(name.len())];
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) && name != b"1" {
                count += 1;
            }
            off += reclen;
        }
    }
    // SAFETY: close takes an integer.
    unsafe { libc::close(fd) };
    count
}

/// The run's CPU in µs from its cgroup's usage file (v1: a number of ns; v2: cpu.stat's
/// `usage_usec` line), or -1. No allocation: a stack buffer and a hand parse.
fn read_usage_us(fd: c_int) -> i64 {
    if fd < 0 {
        return -1;
    }
    let mut buf = [0u8; 512];
    // SAFETY: pread writes at most buf.len() bytes into `buf`.
    let n = unsafe { libc::pread(fd, buf.as_mut_ptr() as *mut c_void, buf.len(), 0) };
    if n <= 0 {
        return -1;
    }
    let text = &buf[..n as usize];
    let number = |s: &[u8]| -> i64 {
        let mut v: i64 = 0;
        let mut any = false;
        for c in s.iter().take_while(|c| c.is_ascii_digit()) {
            v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
            any = true;
        }
        if any {
            v
        } else {
            -1
        }
    };
    let key = b"usage_usec ";
    match text.windows(key.len()).position(|w| w == key) {
        Some(i) => number(&text[i + key.len()..]),
        None => {
            let ns = number(text);
            if ns < 0 {
                -1
            } else {
                ns / 1000
            }
        }
    }
}

/// The program itself was just reaped: reports the run's CPU as of now (MSG_PROGRAM_REAPED)
/// and kills what is left of the run (from pid 1, kill(-1) reaches every other process of
/// the namespace). Returns the time.
fn program_reaped(usage_fd: c_int) -> i64 {
    let t1 = now_ns();
    let v = [read_usage_us(usage_fd), 0, 0, 0, 0];
    send(&Msg { kind: MSG_PROGRAM_REAPED, v, ..Default::default() }, -1);
    // SAFETY: kill takes integers only.
    unsafe { libc::kill(-1, libc::SIGKILL) };
    t1
}

/// Reaps everything (orphans are re-parented to init) until the program itself exits. Then
/// kills what is left of the run (kill(-1) from pid 1 reaches every other process of the
/// namespace), reaps it all, and reports: RUSAGE_CHILDREN then holds the CPU of every
/// process of the run, which is the only complete figure when no cgroup counts it.
fn reap_and_report(pid: c_int, usage_fd: c_int) -> ! {
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut program_ru: libc::rusage = unsafe { std::mem::zeroed() };
    let mut program_status = 0;
    let mut t1 = 0;
    loop {
        let mut status = 0;
        // SAFETY: as above.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes one int and one rusage on this stack.
        let r = unsafe { libc::wait4(-1, &mut status, libc::__WALL, &mut ru) };
        if r == pid {
            (t1, program_status, program_ru) = (program_reaped(usage_fd), status, ru);
        }
        if r < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            if e == libc::ECHILD && t1 != 0 {
                break;
            }
            // SAFETY: _exit ends the process without running any teardown.
            unsafe { libc::_exit(124) };
        }
    }
    // SAFETY: rusage is plain data; getrusage writes one into it.
    let all = unsafe {
        let mut all: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut all);
        all
    };
    let us = |tv: libc::timeval| tv.tv_sec * 1_000_000 + tv.tv_usec;
    let v = [program_status as i64, us(all.ru_utime), us(all.ru_stime), program_ru.ru_maxrss, t1];
    send(&Msg { kind: MSG_EXITED, v, ..Default::default() }, -1);
    // SAFETY: _exit ends the process without running any teardown.
    unsafe { libc::_exit(0) }
}

/// # Safety
/// Only in the child, on paths and fds the parent prepared.
unsafe fn apply_mount(op: &MountOp) -> Result<(), i32> {
    let ok = |r: c_int| if r < 0 { Err(errno()) } else { Ok(()) };
    // SAFETY: each arm is one syscall on NUL-terminated paths from the plan.
    unsafe {
        match op {
            MountOp::Dir { dst, mode } => {
                let r = libc::mkdir(dst.as_ptr(), *mode);
                if r < 0 && errno() != libc::EEXIST {
                    return Err(errno());
                }
                Ok(())
            }
            MountOp::File { dst, content } => {
                let fd = libc::open(dst.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC, 0o644);
                ok(fd)?;
                if !content.is_empty() && libc::write(fd, content.as_ptr() as *const c_void, content.len()) < 0 {
                    let e = errno();
                    libc::close(fd);
                    return Err(e);
                }
                libc::close(fd);
                Ok(())
            }
            MountOp::Symlink { target, dst } => ok(libc::symlink(target.as_ptr(), dst.as_ptr())),
            MountOp::Bind { src, dst, flags } => {
                ok(libc::mount(
                    src.as_ptr(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
                // A bind mount ignores flags; they take effect on a remount of the bind.
                ok(libc::mount(
                    std::ptr::null(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_BIND | flags,
                    std::ptr::null(),
                ))?;
                // The remount reaches only the top mount: submounts of the source (a tmpfs
                // under /usr, say) would keep the host's flags, writable. mount_setattr with
                // AT_RECURSIVE sets the same flags on the whole tree; it only adds
                // restrictions, so flags the user namespace may not clear stay as they are.
                let attr = MountAttr { attr_set: mount_attrs(*flags), attr_clr: 0, propagation: 0, userns_fd: 0 };
                ok(libc::syscall(
                    libc::SYS_mount_setattr,
                    libc::AT_FDCWD,
                    dst.as_ptr(),
                    AT_RECURSIVE,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                ) as c_int)
            }
            MountOp::ReadOnly { dst, flags } => ok(libc::mount(
                std::ptr::null(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags,
                std::ptr::null(),
            )),
            MountOp::Fresh { fstype, dst, flags, data } => {
                ok(libc::mount(fstype.as_ptr(), dst.as_ptr(), fstype.as_ptr(), *flags, data.as_ptr() as *const c_void))
            }
            MountOp::Move { fd, dst } => ok(libc::syscall(
                libc::SYS_move_mount,
                *fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                dst.as_ptr(),
                crate::sys::MOVE_MOUNT_F_EMPTY_PATH,
            ) as c_int),
        }
    }
}

/// `struct mount_attr` for mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const AT_RECURSIVE: u32 = 0x8000;

/// The MOUNT_ATTR_* bits for the MS_* restriction flags of a bind.
fn mount_attrs(flags: c_ulong) -> u64 {
    let mut a = 0;
    for (ms, attr) in [(libc::MS_RDONLY, 0x1), (libc::MS_NOSUID, 0x2), (libc::MS_NODEV, 0x4), (libc::MS_NOEXEC, 0x8)] {
        if flags & ms != 0 {
            a |= attr;
        }
    }
    a
}

struct ProgramArg<'a> {
    plan: &'a ChildPlan<'a>,
    /// A warm run's cgroup files (`tasks` or `cgroup.procs`), to move itself into.
    cg_fds: &'a [c_int],
    err: *mut ProgramError,
}

/// The program's last steps before execve, in the vfork child. Runs on `plan.stack`.
extern "C" fn program_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the ProgramArg on init's stack; init is suspended (CLONE_VFORK) until
    // we exec or exit, so it stays valid and unaliased.
    let arg = unsafe { &*(arg as *const ProgramArg) };
    let plan = arg.plan;
    let fail = |stage: Stage, index: u32, e: i32| -> c_int {
        // SAFETY: `err` points into init's suspended frame (see above); volatile because
        // init reads it after we are gone.
        unsafe {
            std::ptr::write_volatile(&mut (*arg.err).errno, e);
            std::ptr::write_volatile(&mut (*arg.err).index, index);
            std::ptr::write_volatile(&mut (*arg.err).stage, stage as u32);
            libc::_exit(127)
        }
    };
    // SAFETY: every call below is a plain syscall wrapper on data from `plan` or this stack.
    unsafe {
        // A new session: no controlling terminal, so TIOCSTI and terminal signals cannot
        // reach the runner's terminal, and the program leads its own process group.
        if libc::setsid() < 0 {
            return fail(Stage::Setsid, 0, errno());
        }
        // Signal dispositions: execve keeps ignored signals ignored, and the runner's (Rust's
        // runtime ignores SIGPIPE) must not pass on. Nothing to do here: the prologue of the
        // init or holder we were cloned from set every one to the default, nothing since has
        // set any, and CLONE_VM without CLONE_SIGHAND gave us a copy of that table. The mask
        // (full in init) is emptied here.
        let empty = 0u64;
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty, std::ptr::null::<u64>(), 8usize);

        if plan.role == Role::Warm {
            // A fresh IPC namespace for this run alone (the holder keeps its own): no SysV
            // object or POSIX message queue of an earlier run is reachable, and none of this
            // run's outlives its last process.
            if libc::unshare(libc::CLONE_NEWIPC) < 0 {
                return fail(Stage::UnshareIpc, 0, errno());
            }
        }
        // Into the run's cgroups: writing "0" moves only this task, or on v2 this thread
        // group, which is this task alone (see ChildPlan::self_attach); init or the holder
        // stays out. From here on everything is counted to the run.
        for (i, fd) in arg.cg_fds.iter().enumerate() {
            if libc::write(*fd, b"0".as_ptr() as *const c_void, 1) != 1 {
                return fail(Stage::Cgroup, i as u32, errno());
            }
        }
        // A cgroup namespace rooted at the run's cgroup: /proc/self/cgroup shows "/".
        if libc::unshare(libc::CLONE_NEWCGROUP) < 0 {
            return fail(Stage::UnshareCgroup, 0, errno());
        }
        if plan.role == Role::Warm {
            // The holder's own directory may be a /box since mounted over (a reset, a new
            // box): the program starts in the one there is now.
            if libc::chdir(plan.workdir.as_ptr()) < 0 {
                return fail(Stage::Chdir, 2, errno());
            }
            // Dies with the holder, its parent (the pid namespace would end it too).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as c_ulong, 0, 0, 0);
        }
        // Init works with umask 0; the program gets the usual 022.
        libc::umask(0o022);
        for (i, fd) in [FD_STDIN, FD_STDOUT, FD_STDERR].iter().enumerate() {
            if libc::dup2(*fd, i as c_int) < 0 {
                return fail(Stage::Stdio, i as u32, errno());
            }
        }
        for (i, (res, lim)) in plan.rlimits.iter().enumerate() {
            if libc::setrlimit(*res as _, lim) < 0 {
                return fail(Stage::Rlimit, i as u32, errno());
            }
        }
        // Capabilities: bounding set first (dropping it needs CAP_SETPCAP, which capset
        // below removes), then ambient, then the effective/permitted/inheritable sets.
        // (A warm run's holder dropped its whole bounding set at setup; we have its copy.)
        if plan.role != Role::Warm {
            for cap in 0..=plan.cap_last {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap as c_ulong, 0, 0, 0) < 0 && errno() != libc::EINVAL {
                    return fail(Stage::DropBounding, cap as u32, errno());
                }
            }
        }
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as c_ulong, 0, 0, 0);
        let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
        let data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) < 0 {
            return fail(Stage::Capset, 0, errno());
        }
        // No setuid binary or file capability can give anything back after execve; also
        // required for landlock and seccomp without privileges.
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            return fail(Stage::NoNewPrivs, 0, errno());
        }
        if let Some(ll) = &plan.landlock {
            if let Err((i, e)) = apply_landlock(ll, plan.landlock_rules) {
                return fail(Stage::Landlock, i, e);
            }
        }
        // Every fd but 0, 1, 2 closes at execve (CLOEXEC, not close: init shares this table).
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) < 0 {
            return fail(Stage::CloseFds, 0, errno());
        }
        // Seccomp last: from here on only the syscalls up to execve run under the filter,
        // and the steps above were free to use what it blocks.
        for (i, f) in plan.filters.iter().enumerate() {
            let flags = if f.notify { SECCOMP_FILTER_FLAG_NEW_LISTENER } else { 0 };
            let r = libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &f.fprog);
            if r < 0 {
                return fail(Stage::Seccomp, i as u32, errno());
            }
            if f.notify {
                std::ptr::write_volatile(&mut (*arg.err).listener, r as c_int);
            }
        }
        // The program's wall time starts here (see `launch`). On the usual clock sources
        // (TSC, kvm-clock) the vDSO's clock makes no syscall, so the filter just installed
        // does not see it; a failing clock gives 0, and the parent's own time is used.
        std::ptr::write_volatile(&mut (*arg.err).t_exec, now_ns());
        let mut last = libc::ENOENT;
        for path in plan.exec_paths {
            libc::execve(path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
            let mut e = errno();
            // ETXTBSY: a file written moments ago (the box's copy of a compiled program) can
            // still have a writable fd in a sibling sandbox cloned meanwhile by another thread
            // of the runner, until that sandbox's init closes it (microseconds). Retry briefly.
            let mut tries = 0;
            while e == libc::ETXTBSY && tries < 50 {
                let pause = libc::timespec { tv_sec: 0, tv_nsec: 2_000_000 };
                libc::nanosleep(&pause, std::ptr::null_mut());
                libc::execve(path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
                e = errno();
                tries += 1;
            }
            // Keep looking along PATH only while the name is simply not there.
            if e != libc::ENOENT && e != libc::ENOTDIR {
                last = e;
                break;
            }
        }
        fail(Stage::Execve, 0, last)
    }
}

const SECCOMP_SET_MODE_FILTER: u32 = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// # Safety
/// Only in the program's pre-exec child, with rules whose paths are NUL-terminated.
unsafe fn apply_landlock(ll: &landlock::Plan, rules: &[LandlockRule]) -> Result<(), (u32, i32)> {
    // SAFETY: raw landlock syscalls on the plan's attr and this stack's structs.
    unsafe {
        let ruleset = libc::syscall(libc::SYS_landlock_create_ruleset, &ll.attr, ll.attr_size, 0u32) as c_int;
        if ruleset < 0 {
            return Err((0, errno()));
        }
        // Every path closes the ruleset: a warm run's pre-exec child shares its fd table
        // with the holder (CLONE_FILES), which must not collect a failed start's fds.
        let failed = |index: u32| {
            let e = errno();
            libc::close(ruleset);
            Err((index, e))
        };
        for (i, rule) in rules.iter().enumerate() {
            let fd = libc::open(rule.path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd < 0 {
                return failed(i as u32 + 1);
            }
            let attr = landlock::PathBeneathAttr { allowed_access: rule.access, parent_fd: fd };
            let r =
                libc::syscall(libc::SYS_landlock_add_rule, ruleset, landlock::LANDLOCK_RULE_PATH_BENEATH, &attr, 0u32);
            let e = errno();
            libc::close(fd);
            if r < 0 {
                libc::close(ruleset);
                return Err((i as u32 + 1, e));
            }
        }
        if libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) < 0 {
            return failed(rules.len() as u32 + 1);
        }
        libc::close(ruleset);
        Ok(())
    }
}
