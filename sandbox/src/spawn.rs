//! The parent's side of one run: prepare, clone, write the id maps, place init in the
//! cgroup, watch the run with event-driven timers, and clean up.
//!
//! Everything that can allocate is done before clone; the child only replays syscalls.

use crate::cgroup::{self, CgroupLimits, Layout, RunCgroup};
use crate::child::{self, ChildPlan, Filter, LandlockRule, Msg, Stage};
use crate::config::{RunConfig, Stdio, SANDBOX_ID};
use crate::landlock;
use crate::measure::{self, Ending, Kill};
use crate::plan::{self, Prepared};
use crate::report::Report;
use crate::seccomp::{self, Policy};
use crate::sys;
use crate::Error;
use libc::c_int;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Longest time the sandbox's own setup may take before the run is a setup error.
const SETUP_TIMEOUT_NS: i64 = 10_000_000_000;
/// Smallest CPU timer step: bounds how far past its CPU limit a run can get.
const MIN_CPU_STEP_US: u64 = 500;
const STACK_SIZE: usize = 128 * 1024;

static ROOT_SEQ: AtomicU64 = AtomicU64::new(0);

/// A way to stop a run from outside (another thread, or a signal handler): an eventfd the
/// run's wait loop watches.
#[derive(Debug)]
pub struct Cancel {
    fd: OwnedFd,
}

impl Cancel {
    pub fn new() -> std::io::Result<Cancel> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the fd was just created and is owned by nobody else.
        Ok(Cancel { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Async-signal-safe: a single write(2).
    pub fn trigger(&self) {
        Cancel::trigger_raw(self.fd.as_raw_fd());
    }

    /// For signal handlers that hold only the raw fd.
    pub fn trigger_raw(fd: RawFd) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from `one` to an eventfd.
        unsafe { libc::write(fd, &one as *const u64 as *const libc::c_void, 8) };
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn cap_last() -> c_int {
    static LAST: OnceLock<c_int> = OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(63)
    })
}

fn cpus() -> u64 {
    static N: OnceLock<u64> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1))
}

/// Opens the host side of the program's standard streams. Returns the child's fds and the
/// parent's read ends of capture pipes.
struct Streams {
    child: [OwnedFd; 3],
    capture_out: Option<OwnedFd>,
    capture_err: Option<OwnedFd>,
}

fn dup_fd(fd: RawFd) -> Result<OwnedFd, Error> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd or -1.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(Error::Io(format!("dup of fd {fd}: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: the fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn open_streams(cfg: &RunConfig) -> Result<Streams, Error> {
    let null_r = || File::open("/dev/null").map(OwnedFd::from).map_err(|e| Error::Io(format!("/dev/null: {e}")));
    let null_w = || {
        File::options()
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| Error::Io(format!("/dev/null: {e}")))
    };
    let stdin = match &cfg.stdin {
        Stdio::Null => null_r()?,
        Stdio::Inherit => dup_fd(0)?,
        Stdio::File(p) => {
            File::open(p).map(OwnedFd::from).map_err(|e| Error::Config(format!("stdin file {}: {e}", p.display())))?
        }
        Stdio::Capture | Stdio::Stdout => {
            return Err(Error::Config("stdin can only be null, inherit or a file".into()))
        }
    };
    let mut capture_out = None;
    let mut capture_err = None;
    let open_out = |s: &Stdio, fallback: RawFd, slot: &mut Option<OwnedFd>| -> Result<Option<OwnedFd>, Error> {
        Ok(Some(match s {
            Stdio::Null => null_w()?,
            Stdio::Inherit => dup_fd(fallback)?,
            Stdio::File(p) => File::create(p)
                .map(OwnedFd::from)
                .map_err(|e| Error::Config(format!("output file {}: {e}", p.display())))?,
            Stdio::Capture => {
                let (r, w) = sys::pipe()?;
                *slot = Some(r);
                w
            }
            Stdio::Stdout => return Ok(None),
        }))
    };
    let stdout = open_out(&cfg.stdout, 1, &mut capture_out)?
        .ok_or_else(|| Error::Config("stdout cannot be redirected to stdout".into()))?;
    let stderr = match open_out(&cfg.stderr, 2, &mut capture_err)? {
        Some(fd) => fd,
        None => stdout.try_clone().map_err(|e| Error::Io(format!("dup stdout: {e}")))?,
    };
    Ok(Streams { child: [stdin, stdout, stderr], capture_out, capture_err })
}

/// Runs one program to completion. Configuration errors are `Err`; everything that goes
/// wrong while setting up the sandbox becomes a report with status `setup_error`.
pub(crate) fn run(cfg: &RunConfig, cancel: Option<&Cancel>) -> Result<Report, Error> {
    let start = sys::now_ns();
    let root_mode = nix::unistd::geteuid().is_root();
    if root_mode && cfg.host_id == 0 {
        return Err(Error::Config("host_id 0 would run the program as host root".into()));
    }
    if let Some(dir) = &cfg.box_dir {
        if !dir.is_dir() {
            return Err(Error::Config(format!("box directory {} does not exist or is not a directory", dir.display())));
        }
    }
    let policy = Policy::load(&cfg.seccomp).map_err(Error::Config)?;
    let compiled = match &policy {
        Some(p) => p.compile().map_err(Error::Config)?,
        None => Vec::new(),
    };
    let layout_owned;
    let layout: &Layout = match &cfg.cgroup_parent {
        Some(p) => {
            layout_owned = cgroup::detect(Some(p));
            &layout_owned
        }
        None => cgroup::layout(),
    };

    // The new root's mount point: an empty directory on the host, only ever mounted on
    // inside the child's mount namespace, removed after the run.
    let root_dir = std::env::temp_dir().join(format!(
        ".sandbox-root-{}-{}",
        std::process::id(),
        ROOT_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&root_dir).map_err(|e| Error::Io(format!("mkdir {}: {e}", root_dir.display())))?;
    let _root_guard = RemoveDir(root_dir.clone());

    let mut prepared = plan::prepare(cfg, &root_dir)?;
    if matches!(layout, Layout::None(_)) {
        if let Some(bytes) = cfg.limits.memory_bytes {
            // Without a memory cgroup only the address space can be bounded.
            prepared.rlimits.push((libc::RLIMIT_AS as c_int, libc::rlimit { rlim_cur: bytes, rlim_max: bytes }));
        }
    }
    let streams = open_streams(cfg)?;

    // Root mode: the program's host uid must be able to write its box and rw binds; they
    // are lent to it for the run and given back after.
    let mut _owner_guards = Vec::new();
    if root_mode {
        let writable = cfg.binds.iter().filter(|b| b.writable).map(|b| &b.src);
        for dir in cfg.box_dir.iter().chain(writable) {
            _owner_guards.push(Chown::apply(dir, cfg.host_id)?);
        }
    }

    let cg = match RunCgroup::create(
        layout,
        CgroupLimits { memory_bytes: cfg.limits.memory_bytes, pids: Some(cfg.limits.effective_pids() + 1) },
    ) {
        Ok(cg) => cg,
        Err(e) => return Ok(Report::setup_error(format!("cgroup: {e}"))),
    };
    let result = run_in(cfg, &prepared, &compiled, streams, cg.as_ref(), cancel, root_mode, start);
    let cg_version = cg.as_ref().map(|c| c.version()).unwrap_or("none");
    let peak_source = cg.as_ref().map(|c| c.peak_source());
    let stats = cg.as_ref().map(|c| c.stats());
    if let Some(cg) = cg {
        if let Err(e) = cg.destroy() {
            tracing::warn!("removing the run's cgroup: {e}");
        }
    }
    let ending = match result {
        Ok(ending) => ending,
        Err(message) => {
            let mut r = Report::setup_error(message);
            r.cgroup = cg_version.into();
            return Ok(r);
        }
    };
    let stats = match stats {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Ok(Report::setup_error(format!("reading the run's cgroup: {e}"))),
        None => None,
    };
    Ok(measure::report(cfg, layout, &ending, stats, peak_source, policy.is_some()))
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Gives the box directory to the sandbox's host id for the run and restores the owner.
struct Chown {
    dir: PathBuf,
    uid: u32,
    gid: u32,
}

impl Chown {
    fn apply(dir: &Path, id: u32) -> Result<Chown, Error> {
        use std::os::unix::fs::MetadataExt;
        let meta =
            std::fs::metadata(dir).map_err(|e| Error::Config(format!("box directory {}: {e}", dir.display())))?;
        std::os::unix::fs::chown(dir, Some(id), Some(id))
            .map_err(|e| Error::Io(format!("chown {} to {id}: {e}", dir.display())))?;
        Ok(Chown { dir: dir.to_path_buf(), uid: meta.uid(), gid: meta.gid() })
    }
}

impl Drop for Chown {
    fn drop(&mut self) {
        let _ = std::os::unix::fs::chown(&self.dir, Some(self.uid), Some(self.gid));
    }
}

#[allow(clippy::too_many_arguments)]
fn run_in(
    cfg: &RunConfig,
    prepared: &Prepared,
    compiled: &[seccomp::CompiledFilter],
    streams: Streams,
    cg: Option<&RunCgroup>,
    cancel: Option<&Cancel>,
    root_mode: bool,
    start: i64,
) -> Result<Ending, String> {
    let (from_parent_r, from_parent_w) = sys::pipe().map_err(|e| e.to_string())?;
    let (to_parent, to_parent_child) = sys::seqpacket_pair().map_err(|e| e.to_string())?;

    // Everything the child reads, laid out before clone.
    let mut fds: Vec<c_int> = vec![from_parent_r.as_raw_fd(), to_parent_child.as_raw_fd()];
    fds.extend(streams.child.iter().map(|f| f.as_raw_fd()));
    let self_attach_paths: Vec<CString> = cg.map(|c| c.self_attach_files()).unwrap_or_default();
    let self_attach: Vec<&std::ffi::CStr> = self_attach_paths.iter().map(|c| c.as_c_str()).collect();
    let bind_sources: Vec<&std::ffi::CStr> = prepared.bind_sources.iter().map(|c| c.as_c_str()).collect();
    let mounts: Vec<child::MountOp> = prepared.mounts.iter().map(|m| m.as_op()).collect();
    let ll = landlock::Plan::for_running_kernel();
    let ll_rules: Vec<LandlockRule> = match &ll {
        Some(p) => prepared
            .landlock_paths
            .iter()
            .map(|(path, rw)| LandlockRule { path, access: if *rw { p.read_write } else { p.read_only } })
            .collect(),
        None => Vec::new(),
    };
    let filters: Vec<Filter> = compiled
        .iter()
        .map(|f| Filter {
            fprog: libc::sock_fprog {
                len: f.program.len() as u16,
                filter: f.program.as_ptr() as *mut libc::sock_filter,
            },
            notify: f.notify,
        })
        .collect();
    let exec_paths: Vec<&std::ffi::CStr> = prepared.exec_paths.iter().map(|c| c.as_c_str()).collect();
    let argv = null_terminated(&prepared.argv);
    let envp = null_terminated(&prepared.envp);
    let mut stack = vec![0u8; STACK_SIZE];
    let plan = ChildPlan {
        fds: &fds,
        bind_sources: &bind_sources,
        self_attach: &self_attach,
        clear_groups: root_mode,
        inside_id: SANDBOX_ID,
        new_root: &prepared.root,
        mounts: &mounts,
        hostname: b"sandbox",
        workdir: &prepared.workdir,
        rlimits: &prepared.rlimits,
        cap_last: cap_last(),
        landlock: ll,
        landlock_rules: &ll_rules,
        filters: &filters,
        exec_paths: &exec_paths,
        argv: &argv,
        envp: &envp,
        stack: stack.as_mut_ptr(),
        stack_size: stack.len(),
    };

    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_PIDFD;
    let mut pidfd: c_int = -1;
    // SAFETY: a fork-like clone (no new stack, no CLONE_VM): the child gets a copy of this
    // address space and runs only `init_main`, which never returns and does not allocate.
    // CLONE_PIDFD writes the pidfd into `pidfd`.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            &mut pidfd as *mut c_int,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // SAFETY: we are the child of the clone above; `plan` was fully prepared before it.
        unsafe { child::init_main(&plan) }
    }
    if pid < 0 {
        return Err(format!("clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS) => {}", sys::errno_name_last()));
    }
    let pid = pid as i32;
    // SAFETY: CLONE_PIDFD gave us this fd; nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // The child's copies are its own now; ours would keep pipes open.
    drop(from_parent_r);
    drop(to_parent_child);
    drop(streams.child);

    let mut guard = InitGuard { pidfd: &pidfd, reaped: false };
    let describe = |m: &Msg| describe_failure(m, prepared);

    write_id_maps(pid, cfg.host_id, root_mode)?;
    sys::write_byte(&from_parent_w, child::GO_MAPS_WRITTEN).map_err(|e| format!("signalling init: {e}"))?;
    let deadline = start + SETUP_TIMEOUT_NS;
    if self_attach.is_empty() {
        let (msg, _) = recv_setup(&to_parent, &pidfd, deadline)?;
        if msg.kind == child::MSG_ERROR {
            return Err(describe(&msg));
        }
        if let Some(cg) = cg {
            cg.attach(pid).map_err(|e| format!("cgroup: {e}"))?;
        }
        sys::write_byte(&from_parent_w, child::GO_START).map_err(|e| format!("signalling init: {e}"))?;
    }
    let (msg, listener) = recv_setup(&to_parent, &pidfd, deadline)?;
    if msg.kind == child::MSG_ERROR {
        return Err(describe(&msg));
    }
    let t0 = msg.v[0];
    drop(stack);

    let ending = watch(cfg, &to_parent, &pidfd, cg, listener, cancel, streams.capture_out, streams.capture_err, t0)?;
    guard.reap();
    Ok(Ending { setup_ns: (t0 - start).max(0), ..ending })
}

fn null_terminated(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter().map(|c| c.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// Kills and reaps init if the run is abandoned half-way (error or panic), so that no
/// process outlives `run`.
struct InitGuard<'a> {
    pidfd: &'a OwnedFd,
    reaped: bool,
}

impl InitGuard<'_> {
    fn reap(&mut self) {
        sys::pidfd_kill(self.pidfd);
        sys::pidfd_wait(self.pidfd);
        self.reaped = true;
    }
}

impl Drop for InitGuard<'_> {
    fn drop(&mut self) {
        if !self.reaped {
            self.reap();
        }
    }
}

/// uid_map/gid_map: one id inside (SANDBOX_ID) mapped to the host id the program runs as:
/// the dedicated unprivileged id in root mode, the user's own in rootless mode.
fn write_id_maps(pid: i32, host_id: u32, root_mode: bool) -> Result<(), String> {
    let (uid, gid) =
        if root_mode { (host_id, host_id) } else { (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw()) };
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if !root_mode {
        // An unprivileged writer may only map its gid after giving up setgroups.
        std::fs::write(proc.join("setgroups"), "deny").map_err(|e| format!("write /proc/{pid}/setgroups: {e}"))?;
    }
    std::fs::write(proc.join("uid_map"), format!("{SANDBOX_ID} {uid} 1\n"))
        .map_err(|e| format!("write /proc/{pid}/uid_map ({SANDBOX_ID} {uid} 1): {e}"))?;
    std::fs::write(proc.join("gid_map"), format!("{SANDBOX_ID} {gid} 1\n"))
        .map_err(|e| format!("write /proc/{pid}/gid_map ({SANDBOX_ID} {gid} 1): {e}"))?;
    Ok(())
}

/// Waits for the next setup message, or init's death, or the setup deadline.
fn recv_setup(sock: &OwnedFd, pidfd: &OwnedFd, deadline: i64) -> Result<(Msg, Option<OwnedFd>), String> {
    loop {
        let left_ms = ((deadline - sys::now_ns()) / 1_000_000).max(0) as c_int;
        let mut pfds = [sys::pollfd(sock.as_raw_fd()), sys::pollfd(pidfd.as_raw_fd())];
        let n = sys::poll(&mut pfds, left_ms);
        if n == 0 {
            return Err("the sandbox's setup took longer than 10 s".into());
        }
        if pfds[0].revents != 0 {
            match sys::recv_msg(sock) {
                Some(m) => return Ok(m),
                None if pfds[1].revents == 0 => continue,
                None => {}
            }
        }
        if pfds[1].revents != 0 {
            if let Some(m) = sys::recv_msg_nonblocking(sock) {
                return Ok(m);
            }
            return Err("the sandbox's init died during setup (before its fds were in place)".into());
        }
    }
}

fn describe_failure(m: &Msg, prepared: &Prepared) -> String {
    let errno = sys::errno_name(m.errno);
    let root = Path::new(std::ffi::OsStr::from_bytes(prepared.root.as_bytes()));
    let what = match Stage::from_u32(m.stage) {
        Some(Stage::Mount) => {
            prepared.mounts.get(m.index as usize).map(|s| s.describe(root)).unwrap_or_else(|| "mount".into())
        }
        Some(Stage::Execve) => {
            let name = prepared.argv.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
            if m.errno == libc::ENOENT {
                return format!("execve({name}) => ENOENT: program not found in the sandbox");
            }
            format!("execve({name})")
        }
        Some(Stage::OpenSource) => format!(
            "open({}, O_PATH)",
            prepared.bind_sources.get(m.index as usize).map(|c| c.to_string_lossy().into_owned()).unwrap_or_default()
        ),
        Some(Stage::Cgroup) => format!("moving into the run's cgroup (tasks file #{})", m.index),
        Some(Stage::Rlimit) => format!("setrlimit(#{})", m.index),
        Some(Stage::Seccomp) => format!("seccomp(SET_MODE_FILTER, filter #{})", m.index),
        Some(Stage::Landlock) => format!("landlock (step {})", m.index),
        Some(stage) => format!("{stage:?}"),
        None => format!("setup step {}", m.stage),
    };
    format!("sandbox setup failed: {what} => {errno}")
}

use std::os::unix::ffi::OsStrExt;

/// The wait loop: the program's exit, timers, blocked syscalls, output and cancellation, all
/// as events on one poll.
#[allow(clippy::too_many_arguments)]
fn watch(
    cfg: &RunConfig,
    sock: &OwnedFd,
    pidfd: &OwnedFd,
    cg: Option<&RunCgroup>,
    listener: Option<OwnedFd>,
    cancel: Option<&Cancel>,
    mut out: Option<OwnedFd>,
    mut err: Option<OwnedFd>,
    t0: i64,
) -> Result<Ending, String> {
    let wall_us = cfg.limits.effective_wall_us();
    let wall_timer = sys::Timer::new().map_err(|e| format!("timerfd: {e}"))?;
    wall_timer.arm_at_ns(t0 + wall_us as i64 * 1000).map_err(|e| format!("timerfd: {e}"))?;
    let cpu_limit = cfg.limits.cpu_time_us.filter(|_| cg.is_some());
    let cpu_timer = sys::Timer::new().map_err(|e| format!("timerfd: {e}"))?;
    if let Some(limit) = cpu_limit {
        cpu_timer.arm_in_us((limit / cpus()).max(MIN_CPU_STEP_US)).map_err(|e| format!("timerfd: {e}"))?;
    }
    let output_limit = cfg.limits.effective_output_bytes();
    let mut ending = Ending { t0, ..Default::default() };
    let mut init_dead = false;
    // The listener reports POLLHUP for good once no filtered process is left.
    let mut listener_live = listener.is_some();

    while !init_dead {
        // Slots: 0 sock, 1 pidfd, 2 wall, 3 cpu, 4 listener, 5 cancel, 6 stdout, 7 stderr.
        let mut pfds = [
            sys::pollfd(sock.as_raw_fd()),
            sys::pollfd(pidfd.as_raw_fd()),
            sys::pollfd(wall_timer.raw()),
            sys::pollfd(cpu_timer.raw()),
            sys::pollfd(listener.as_ref().filter(|_| listener_live).map_or(-1, |f| f.as_raw_fd())),
            sys::pollfd(cancel.map_or(-1, |c| c.raw_fd())),
            sys::pollfd(out.as_ref().map_or(-1, |f| f.as_raw_fd())),
            sys::pollfd(err.as_ref().map_or(-1, |f| f.as_raw_fd())),
        ];
        if ending.kill.is_some() {
            // Already killed: only wait for init's death and drain output.
            for p in &mut pfds[2..6] {
                p.fd = -1;
            }
        }
        sys::poll(&mut pfds, -1);
        if pfds[0].revents != 0 {
            if let Some((m, _)) = sys::recv_msg_nonblocking(sock) {
                if m.kind == child::MSG_EXITED {
                    ending.exit = Some(m.v);
                    // CPU as of the program's exit: init's own exit (tearing down its copy
                    // of the runner's address space) is the sandbox's cost, not the program's.
                    ending.exit_stats = cg.and_then(|c| c.stats().ok());
                }
            }
        }
        if pfds[1].revents != 0 {
            init_dead = true;
        }
        if pfds[2].revents != 0 {
            wall_timer.read();
            kill_run(pidfd, cg, &mut ending, Kill::Wall);
        }
        if pfds[3].revents != 0 {
            cpu_timer.read();
            if let (Some(limit), Some(cg)) = (cpu_limit, cg) {
                let used = cg.cpu_usage_us().unwrap_or(0);
                if used >= limit {
                    kill_run(pidfd, cg.into(), &mut ending, Kill::Cpu);
                } else {
                    // At most `cpus()` CPUs can burn the budget at once: waking after
                    // remaining/cpus of wall time cannot overshoot by more than one step.
                    // (The kernel brings a running task's usage up to date at each tick, so
                    // the reading itself may lag by one tick: 4 ms at HZ=250.)
                    let step = ((limit - used) / cpus()).max(MIN_CPU_STEP_US);
                    let _ = cpu_timer.arm_in_us(step);
                }
            }
        }
        // POLLIN means a notification is waiting; only then is RECV sure not to block (it
        // ignores O_NONBLOCK on older kernels). POLLHUP alone: no filtered process is left.
        if pfds[4].revents & libc::POLLIN != 0 {
            if let Some(nr) = listener.as_ref().and_then(sys::seccomp_notif_recv) {
                ending.blocked = Some(seccomp::syscall_name(nr as i64).map(str::to_string).unwrap_or(format!("#{nr}")));
                kill_run(pidfd, cg, &mut ending, Kill::Syscall);
            }
        } else if pfds[4].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            listener_live = false;
        }
        if pfds[5].revents != 0 {
            kill_run(pidfd, cg, &mut ending, Kill::Cancelled);
        }
        for (slot, stream, buf) in [(6, &mut out, &mut ending.stdout), (7, &mut err, &mut ending.stderr)] {
            if pfds[slot].revents != 0 && !read_capture(stream, buf) {
                *stream = None;
            }
        }
        if (ending.stdout.len() + ending.stderr.len()) as u64 > output_limit && ending.kill.is_none() {
            kill_run(pidfd, cg, &mut ending, Kill::Output);
        }
    }
    if ending.exit.is_none() {
        if let Some((m, _)) = sys::recv_msg_nonblocking(sock) {
            if m.kind == child::MSG_EXITED {
                ending.exit = Some(m.v);
            }
        }
    }
    ending.t_end = sys::now_ns();
    // Every process of the run is gone once init is: read what is left in the pipes.
    for (stream, buf) in [(&mut out, &mut ending.stdout), (&mut err, &mut ending.stderr)] {
        while stream.is_some() && read_capture(stream, buf) {}
    }
    let keep = output_limit.min(usize::MAX as u64) as usize;
    ending.stdout.truncate(keep);
    ending.stderr.truncate(keep.saturating_sub(ending.stdout.len()));
    Ok(ending)
}

/// Reads what is available from a capture pipe; false at EOF.
fn read_capture(stream: &mut Option<OwnedFd>, buf: &mut Vec<u8>) -> bool {
    let Some(fd) = stream else { return false };
    let mut chunk = [0u8; 65536];
    // SAFETY: reads at most chunk.len() bytes into `chunk`.
    let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr() as *mut libc::c_void, chunk.len()) };
    if n <= 0 {
        return n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
    }
    buf.extend_from_slice(&chunk[..n as usize]);
    true
}

/// Ends the run: SIGKILL to init kills every process of its pid namespace (v1 and v2); on
/// v2 `cgroup.kill` also reaches anything that might have left the namespace's view.
fn kill_run(pidfd: &OwnedFd, cg: Option<&RunCgroup>, ending: &mut Ending, why: Kill) {
    if ending.kill.is_none() {
        ending.kill = Some(why);
        ending.t_kill = sys::now_ns();
    }
    sys::pidfd_kill(pidfd);
    if let Some(cg) = cg {
        cg.kill();
    }
}
