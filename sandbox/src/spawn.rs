//! The parent's side of one run: prepare, clone, write the id maps, place init in the
//! cgroup, watch the run with event-driven timers, and clean up.
//!
//! Everything that can allocate is done before clone; the child only replays syscalls.

use crate::cgroup::{self, CgroupLimits, Layout, RunCgroup};
use crate::child::{self, ChildPlan, Filter, LandlockRule, Msg, Stage};
use crate::config::{RunConfig, SeccompChoice, SANDBOX_ID};
use crate::hostids;
use crate::landlock;
use crate::lend::{self, Lent};
use crate::measure::{self, Ending};
use crate::netns;
use crate::order::OrderArea;
use crate::plan::{self, Lending, Prepared};
use crate::report::{CgroupVersion, Report};
use crate::seccomp::{self, Policy};
use crate::state;
use crate::streams::Streams;
use crate::supervise::{self, CpuSource, Watch};
use crate::sys;
use crate::validate;
use crate::Error;
use libc::c_int;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Longest time the sandbox's own setup may take before the run is a setup error.
const SETUP_TIMEOUT_NS: i64 = 10_000_000_000;
const STACK_SIZE: usize = 128 * 1024;

/// A way to stop a run from outside (another thread, or a signal handler): an eventfd the
/// run's wait loop watches.
#[derive(Debug)]
pub struct Cancel {
    fd: OwnedFd,
}

impl Cancel {
    /// A new, untriggered cancel switch.
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

    /// The eventfd, for signal handlers (see `trigger_raw`).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub(crate) fn cap_last() -> c_int {
    static LAST: OnceLock<c_int> = OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(63)
    })
}

/// The runner's argv and environ strings in memory ([start, end) each), from
/// /proc/self/stat, for init to overwrite in its copy. Empty ranges when unreadable.
pub(crate) fn cmdline_areas() -> [(usize, usize); 2] {
    static AREAS: OnceLock<[(usize, usize); 2]> = OnceLock::new();
    *AREAS.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<usize> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
        // Fields 48..51 of the line (arg_start, arg_end, env_start, env_end); index 45.. here.
        let get = |i: usize| f.get(i).copied().unwrap_or(0);
        let (a0, a1, e0, e1) = (get(45), get(46), get(47), get(48));
        let valid = |s: usize, e: usize| if s > 0 && e > s && e - s < (1 << 20) { (s, e) } else { (0, 0) };
        [valid(a0, a1), valid(e0, e1)]
    })
}

/// Runs one program to completion. Configuration errors are `Err`; everything that goes
/// wrong while setting up the sandbox becomes a report with status `setup_error`.
pub(crate) fn run(cfg: &RunConfig, cancel: Option<&Cancel>) -> Result<Report, Error> {
    let start = sys::now_ns();
    let root_mode = nix::unistd::geteuid().is_root();
    validate::check(cfg)?;
    let (filtered, compiled) = run_filters(cfg)?;
    let layout_owned;
    let layout: &Layout = match &cfg.cgroup_parent {
        Some(p) => {
            layout_owned = cgroup::detect(Some(p));
            &layout_owned
        }
        None => cgroup::layout(),
    };

    // The new root's mount point: an empty directory of the runner's, only ever mounted on
    // inside each run's own mount namespace (so all runs share it and none leaves one).
    let root_dir = state::mount_point()?;
    let stdin_file = validate::open_stdin(cfg)?;

    // As root the program runs as its own host id, and the box and rw binds are lent
    // through the run's scratch tmpfs (see `lend`); rootless, the user's own id and
    // directories are used as they are.
    let (lease, lent, _locks) = if root_mode {
        let lease = hostids::lease(cfg.host_id, cfg.host_id_count)?;
        let lent = Lent::prepare(cfg, lease.id)?;
        (Some(lease), Some(lent), Vec::new())
    } else {
        let mut locks = Vec::new();
        for p in validate::lent_paths(cfg)? {
            locks.push(lend::open_locked(&p)?.0);
        }
        (None, None, locks)
    };
    let host_id = lease.as_ref().map_or(0, |l| l.id);
    let lending = if lent.is_some() { Lending::Moved { at: state::scratch_point()? } } else { Lending::Bound };
    let mut prepared = plan::prepare(cfg, &root_dir, &lending)?;
    if matches!(layout, Layout::None(_)) {
        // Without a memory cgroup only the address space can be bounded.
        let bytes = cfg.limits.effective_memory_bytes();
        prepared.rlimits.push((libc::RLIMIT_AS as c_int, libc::rlimit { rlim_cur: bytes, rlim_max: bytes }));
    }
    let streams = Streams::open(cfg, stdin_file)?;

    let mut cg = match RunCgroup::create(
        layout,
        CgroupLimits {
            memory_bytes: Some(cfg.limits.effective_memory_bytes()),
            pids: Some(cfg.limits.effective_pids()),
        },
    ) {
        Ok(cg) => cg,
        Err(e) => return Ok(Report::setup_error(format!("cgroup: {e}"))),
    };
    let lent_fds: Vec<RawFd> = lent.as_ref().map(|l| l.mount_fd()).into_iter().collect();
    let shared_net = netns::for_run(cfg, root_mode);
    let result = run_in(
        cfg,
        &prepared,
        &compiled,
        streams,
        &lent_fds,
        cg.as_ref(),
        cancel,
        root_mode,
        host_id,
        start,
        shared_net,
    );
    let (mut ending, stats, peak_source) = match close_cgroup(cg.as_mut(), result) {
        Ok(closed) => closed,
        Err(report) => return Ok(*report),
    };
    // Every process of the run is gone: what it left in the scratch is safe to read.
    let mut write_back_failed = None;
    if let Some(lent) = &lent {
        if let Some(note) = lent.exhausted() {
            ending.output_over = true;
            ending.disk_note = Some(note);
        }
        if let Some(limit) = cfg.limits.file_size_bytes {
            ending.file_size_hit = lent.has_file_of(limit);
        }
        if cfg.write_back {
            // Not the program's doing: the run's report stays what it is, and the caller
            // gets the failure with it.
            write_back_failed = lent.write_back().err();
        }
    } else if let (Some(limit), Some(dir)) = (cfg.limits.file_size_bytes, &cfg.box_dir) {
        ending.file_size_hit = crate::scratch::largest_file_in(dir).is_some_and(|s| s >= limit);
    }
    drop(lent);
    drop(lease);
    let stats = match stats {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Ok(Report::setup_error(format!("reading the run's cgroup: {e}"))),
        None => None,
    };
    let mut report = measure::report(cfg, layout, &ending, stats, peak_source, filtered);
    if root_mode {
        report.enforced.insert("host_id".into(), format!("{host_id} (this run's own unprivileged host uid/gid)"));
    }
    report.enforced.insert("network".into(), netns::describe(shared_net.is_some(), false));
    if let Some(message) = write_back_failed {
        return Err(Error::WriteBack { message, report: Box::new(report) });
    }
    Ok(report)
}

/// The run's seccomp policy and its compiled programs (the built-in policy's were compiled
/// with the library).
pub(crate) fn load_policy(cfg: &RunConfig) -> Result<(Option<Policy>, Vec<seccomp::CompiledFilter>), Error> {
    let policy = match &cfg.seccomp {
        SeccompChoice::Named(name) => Policy::load(name).map_err(Error::Config)?,
        SeccompChoice::Inline(p) => Some(p.clone()),
    };
    let compiled = match &policy {
        Some(_) if is_builtin(cfg) => seccomp::default_filters(),
        Some(p) => p.compile().map_err(Error::Config)?,
        None => Vec::new(),
    };
    Ok((policy, compiled))
}

/// A cold run's filters and whether there are any: the built-in policy's program as built
/// with the library, without reading its text (a cold run needs no more of it).
fn run_filters(cfg: &RunConfig) -> Result<(bool, Vec<seccomp::CompiledFilter>), Error> {
    if is_builtin(cfg) {
        return Ok((true, seccomp::default_filters()));
    }
    let (policy, compiled) = load_policy(cfg)?;
    Ok((policy.is_some(), compiled))
}

fn is_builtin(cfg: &RunConfig) -> bool {
    matches!(&cfg.seccomp, SeccompChoice::Named(n) if n == "default")
}

/// What a run's cgroup held, read before the cgroup is removed.
pub(crate) type Closed =
    (Ending, Option<std::io::Result<cgroup::CgroupStats>>, Option<crate::report::PeakMemorySource>);

/// After a run: reads the cgroup's figures, removes it, and gives the ending with them, or
/// the setup-error report of a run that could not start.
pub(crate) fn close_cgroup(cg: Option<&mut RunCgroup>, result: Result<Ending, String>) -> Result<Closed, Box<Report>> {
    let cg_version = cg.as_ref().map_or(CgroupVersion::None, |c| c.version());
    let peak_source = cg.as_ref().map(|c| c.peak_source());
    let stats = cg.as_ref().map(|c| c.stats());
    if let Some(cg) = cg {
        if let Err(e) = cg.destroy() {
            tracing::warn!("removing the run's cgroup: {e}");
        }
    }
    match result {
        Ok(ending) => Ok((ending, stats, peak_source)),
        Err(message) => {
            let mut r = Report::setup_error(message);
            r.cgroup = cg_version;
            Err(Box::new(r))
        }
    }
}

/// The program's part of a child plan, laid out for the child: Landlock rules, seccomp
/// programs, candidate paths, argv and envp (pointing into `prepared` and `compiled`).
struct ProgramParts<'a> {
    landlock: Option<landlock::Plan>,
    rules: Vec<LandlockRule<'a>>,
    filters: Vec<Filter>,
    exec_paths: Vec<&'a std::ffi::CStr>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

impl<'a> ProgramParts<'a> {
    /// A plan of `role` with this program part and nothing else (no fds, mounts, binds,
    /// cgroup files or stack): callers fill in what their role needs.
    fn plan(&'a self, role: child::Role, prepared: &'a Prepared) -> ChildPlan<'a> {
        ChildPlan {
            role,
            resets: &[],
            box_overlay: None,
            fds: &[],
            bind_sources: &[],
            self_attach: &[],
            cpu_usage_file: None,
            clear_groups: true,
            inside_id: SANDBOX_ID,
            new_root: c"",
            mounts: &[],
            hostname: b"",
            workdir: &prepared.workdir,
            rlimits: &prepared.rlimits,
            cap_last: cap_last(),
            landlock: self.landlock,
            landlock_rules: &self.rules,
            filters: &self.filters,
            exec_paths: &self.exec_paths,
            argv: &self.argv,
            envp: &self.envp,
            stack: std::ptr::null_mut(),
            stack_size: 0,
            wipe: [(0, 0); 2],
            order_area: std::ptr::null_mut(),
            order_area_len: 0,
        }
    }

    fn new(prepared: &'a Prepared, compiled: &'a [seccomp::CompiledFilter]) -> ProgramParts<'a> {
        let landlock = landlock::Plan::for_running_kernel();
        let rules = match &landlock {
            Some(p) => prepared
                .landlock_paths
                .iter()
                .map(|(path, rw, file)| LandlockRule {
                    path,
                    access: match (rw, file) {
                        (false, _) => p.read_only,
                        (true, false) => p.read_write,
                        // A rule on a file may only carry the rights that apply to files.
                        (true, true) => p.read_write_file,
                    },
                })
                .collect(),
            None => Vec::new(),
        };
        let filters = compiled
            .iter()
            .map(|f| Filter {
                fprog: libc::sock_fprog {
                    len: f.program.len() as u16,
                    filter: f.program.as_ptr() as *mut libc::sock_filter,
                },
                notify: f.notify,
            })
            .collect();
        ProgramParts {
            landlock,
            rules,
            filters,
            exec_paths: prepared.exec_paths.iter().map(|c| c.as_c_str()).collect(),
            argv: null_terminated(&prepared.argv),
            envp: null_terminated(&prepared.envp),
        }
    }
}

/// Runs the prepared program in a cold init's fresh namespaces.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_in(
    cfg: &RunConfig,
    prepared: &Prepared,
    compiled: &[seccomp::CompiledFilter],
    mut streams: Streams,
    lent_fds: &[RawFd],
    cg: Option<&RunCgroup>,
    cancel: Option<&Cancel>,
    root_mode: bool,
    host_id: u32,
    start: i64,
    shared_net: Option<&OwnedFd>,
) -> Result<Ending, String> {
    let (from_parent_r, from_parent_w) = sys::pipe().map_err(|e| e.to_string())?;
    let (to_parent, to_parent_child) = sys::seqpacket_pair().map_err(|e| e.to_string())?;

    // Everything the child reads, laid out before clone.
    let child_streams = streams.child.take().ok_or("the streams were already handed out")?;
    let mut fds: Vec<c_int> = vec![from_parent_r.as_raw_fd(), to_parent_child.as_raw_fd()];
    fds.extend(child_streams.iter().map(|f| f.as_raw_fd()));
    fds.extend_from_slice(lent_fds);
    let self_attach_paths: Vec<CString> = cg.map(|c| c.self_attach_files()).unwrap_or_default();
    let self_attach: Vec<&std::ffi::CStr> = self_attach_paths.iter().map(|c| c.as_c_str()).collect();
    let usage_file: Option<CString> = cg.and_then(|c| c.cpu_usage_file());
    let bind_sources: Vec<&std::ffi::CStr> = prepared.bind_sources.iter().map(|c| c.as_c_str()).collect();
    let mounts: Vec<child::MountOp> = prepared.mounts.iter().map(|m| m.as_op()).collect();
    let parts = ProgramParts::new(prepared, compiled);
    // The program's pre-exec stack: only the child writes it, so it is not zeroed first
    // (zeroing 128 KiB per run costs page faults for memory the child never touches).
    let mut stack: Vec<u8> = Vec::with_capacity(STACK_SIZE);
    let plan = ChildPlan {
        fds: &fds,
        bind_sources: &bind_sources,
        self_attach: &self_attach,
        cpu_usage_file: usage_file.as_deref(),
        clear_groups: root_mode,
        new_root: &prepared.root,
        mounts: &mounts,
        hostname: b"sandbox",
        stack: stack.as_mut_ptr(),
        stack_size: stack.capacity(),
        wipe: cmdline_areas(),
        ..parts.plan(child::Role::Cold, prepared)
    };

    let (pid, pidfd) = clone_in_new_namespaces(&plan, shared_net)?;
    // The child's copies are its own now; ours would keep pipes open.
    drop(from_parent_r);
    drop(to_parent_child);
    drop(child_streams);

    let guard = InitGuard { pidfd: Some(pidfd) };
    let pidfd = guard.pidfd();
    let describe = |m: &Msg| describe_failure(m, prepared);

    write_id_maps(pid, host_id, root_mode)?;
    sys::write_byte(&from_parent_w, child::GO_MAPS_WRITTEN).map_err(|e| format!("signalling init: {e}"))?;
    let deadline = start + SETUP_TIMEOUT_NS;
    let (msg, listener) = recv_setup(&to_parent, pidfd, deadline)?;
    if msg.kind == child::MSG_ERROR {
        return Err(describe(&msg));
    }
    let t0 = msg.v[0];
    drop(stack);

    let cpu = match cg {
        Some(cg) => CpuSource::Cgroup(cg),
        None => CpuSource::Procfs(pid),
    };
    let ending =
        supervise::watch(Watch { cfg, sock: &to_parent, pidfd, cg, cpu, listener, cancel, streams, t0, holder: None })?;
    guard.release();
    Ok(Ending { setup_ns: (t0 - start).max(0), ..ending })
}

/// A warm environment's holder, as a run sees it.
pub(crate) struct HolderLink<'a> {
    pub pidfd: &'a OwnedFd,
    /// Its order pipe (HOLDER_RUN, HOLDER_KILL).
    pub orders: &'a OwnedFd,
    /// Its socket: the run's fds go out on it, the run's messages come back on it.
    pub replies: &'a OwnedFd,
    pub area: &'a mut OrderArea,
    /// Set once the holder's last word for the run came (MSG_ERROR for a failed start,
    /// MSG_EXITED), or the holder died: it then waits for orders again, or is gone.
    pub settled: &'a mut bool,
}

/// Runs the prepared program in a warm environment: the order goes into the area the
/// runner shares with the holder, the run's fds over its socket, and the holder starts the
/// program and reports as a cold init does (see `child::holder_run`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_warm(
    cfg: &RunConfig,
    prepared: &Prepared,
    compiled: &[seccomp::CompiledFilter],
    mut streams: Streams,
    cg: &RunCgroup,
    cancel: Option<&Cancel>,
    start: i64,
    holder: HolderLink,
) -> Result<Ending, String> {
    // Nothing reaches the holder before the fds go out: an error until then leaves it as it
    // was; from then on, until its last word for the run, it is in doubt.
    *holder.settled = true;
    let parts = ProgramParts::new(prepared, compiled);
    holder.area.write(&parts.plan(child::Role::Warm, prepared))?;
    // The run's fds, opened here as root on the host: its streams, its cgroup files (the
    // program moves itself in) and its CPU usage file (read by the holder at the reap).
    let cg_files: Vec<OwnedFd> =
        cg.entry_files().map_err(|e| format!("cgroup: {e}"))?.into_iter().map(OwnedFd::from).collect();
    let usage = OwnedFd::from(cg.usage_file().map_err(|e| format!("cgroup: {e}"))?);
    let child_streams = streams.child.take().ok_or("the streams were already handed out")?;
    let mut fds: Vec<c_int> = child_streams.iter().map(|f| f.as_raw_fd()).collect();
    fds.extend(cg_files.iter().map(|f| f.as_raw_fd()));
    fds.push(usage.as_raw_fd());
    // How many cgroup files, and that a usage file follows.
    let head = [cg_files.len() as u8, 1];
    *holder.settled = false;
    if sys::send_with_fds(holder.replies.as_raw_fd(), &head, &fds) != head.len() as isize {
        return Err(format!("sending the run's fds to the holder: {}", sys::errno_name_last()));
    }
    // The holder has its copies now; ours would keep the pipes open.
    drop((cg_files, usage, child_streams));
    sys::write_byte(holder.orders, child::HOLDER_RUN).map_err(|e| format!("ordering the run: {e}"))?;
    let (msg, listener) = recv_setup(holder.replies, holder.pidfd, start + SETUP_TIMEOUT_NS)?;
    if msg.kind == child::MSG_ERROR {
        *holder.settled = true;
        return Err(describe_failure(&msg, prepared));
    }
    if msg.kind != child::MSG_STARTED {
        return Err(format!("the holder answered {} to a run", msg.kind));
    }
    let t0 = msg.v[0];
    let ending = supervise::watch(Watch {
        cfg,
        sock: holder.replies,
        pidfd: holder.pidfd,
        cg: Some(cg),
        cpu: CpuSource::Cgroup(cg),
        listener,
        cancel,
        streams,
        t0,
        holder: Some(holder.orders.as_raw_fd()),
    })?;
    // The watch ends on MSG_EXITED or the holder's death.
    *holder.settled = true;
    Ok(Ending { setup_ns: (t0 - start).max(0), ..ending })
}

/// The namespaces a cold run (or a warm environment's holder) is cloned into.
pub(crate) const NEW_NAMESPACES: c_int = libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS;

/// Clones a cold init or a holder (`clone_child`) into new namespaces: every one new, but
/// the network namespace where `shared_net` (see `netns`) is given, which it joins.
pub(crate) fn clone_in_new_namespaces(
    plan: &ChildPlan,
    shared_net: Option<&OwnedFd>,
) -> Result<(i32, OwnedFd), String> {
    match shared_net {
        Some(net) => {
            in_network_namespace(net, || clone_child(plan, (NEW_NAMESPACES & !libc::CLONE_NEWNET) | libc::CLONE_PIDFD))
        }
        None => clone_child(plan, NEW_NAMESPACES | libc::CLONE_PIDFD),
    }
}

/// Clones the child that runs `child::init_main(plan)`; returns its pid and pidfd.
pub(crate) fn clone_child(plan: &ChildPlan, flags: c_int) -> Result<(i32, OwnedFd), String> {
    let mut pidfd: c_int = -1;
    // Every signal blocked across the clone: no handler of the embedder's can run in the
    // child before init has reset the dispositions. Restored right after in the parent.
    let all = nix::sys::signal::SigSet::all();
    let mut old = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old));
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
        unsafe { child::init_main(plan) }
    }
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&old), None);
    if pid < 0 {
        return Err(format!("clone(NEWUSER|NEWPID|NEWNS|NEWNET|NEWIPC|NEWUTS) => {}", sys::errno_name_last()));
    }
    // SAFETY: CLONE_PIDFD gave us this fd; nothing else owns it.
    Ok((pid as i32, unsafe { OwnedFd::from_raw_fd(pidfd) }))
}

/// Runs `f` (a clone) with this thread in the network namespace `ns` (the one its children
/// start in), then puts this thread's own back.
/// Only the calling thread is affected (namespaces are per thread), and only for the clone.
fn in_network_namespace<T>(ns: &impl AsRawFd, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    // This process's own network namespace, to come back to: read from the calling
    // thread, which is in it here (every thread of ours is, outside these windows; a
    // thread inside one never comes back to this line before it has left it).
    static OURS: OnceLock<Option<OwnedFd>> = OnceLock::new();
    let ours = OURS
        .get_or_init(|| std::fs::File::open("/proc/thread-self/ns/net").ok().map(OwnedFd::from))
        .as_ref()
        .ok_or("cannot open /proc/thread-self/ns/net")?;
    // Every signal blocked for the whole window: a handler of the embedder's that forked
    // (or opened a socket) here would put a host process into the environment (or a host
    // socket into the shared network namespace).
    let all = nix::sys::signal::SigSet::all();
    let mut old = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old));
    // SAFETY: setns takes two fds and a flag.
    let out = if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        Err(format!("setns(the shared network namespace) => {}", sys::errno_name_last()))
    } else {
        let out = f();
        // SAFETY: as above. Back to our own (always allowed: it is this process's). If that
        // failed, later clones of this thread would land in the other namespace: that must
        // never happen, so the process ends here (abort, not a panic that a caller could
        // catch and carry on from).
        if unsafe { libc::setns(ours.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
            eprintln!("sandbox: cannot restore this thread's network namespace: {}", sys::errno_name_last());
            std::process::abort();
        }
        out
    };
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&old), None);
    out
}

pub(crate) fn null_terminated(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter().map(|c| c.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// Kills and reaps init if the run is abandoned half-way (error or panic), so that no
/// process outlives `run`.
struct InitGuard {
    pidfd: Option<OwnedFd>,
}

impl InitGuard {
    fn pidfd(&self) -> &OwnedFd {
        self.pidfd.as_ref().expect("init's pidfd is held until the guard is released")
    }

    /// The run is over: init has reaped every process of it (or is dead). Its exit may still
    /// be tearing down its namespaces (the mount namespace's teardown waits for an RCU grace
    /// period), which nothing of the run's result depends on: it is reaped without waiting
    /// for that here.
    fn release(mut self) {
        if let Some(pidfd) = self.pidfd.take() {
            sys::pidfd_kill(&pidfd);
            crate::reaper::reap(pidfd);
        }
    }
}

impl Drop for InitGuard {
    fn drop(&mut self) {
        if let Some(pidfd) = self.pidfd.take() {
            sys::pidfd_kill(&pidfd);
            sys::pidfd_wait(&pidfd);
        }
    }
}

/// uid_map/gid_map: one id inside (SANDBOX_ID) mapped to the host id the program runs as:
/// the dedicated unprivileged id in root mode, the user's own in rootless mode.
pub(crate) fn write_id_maps(pid: i32, host_id: u32, root_mode: bool) -> Result<(), String> {
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
pub(crate) fn recv_setup(sock: &OwnedFd, pidfd: &OwnedFd, deadline: i64) -> Result<(Msg, Option<OwnedFd>), String> {
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

pub(crate) fn describe_failure(m: &Msg, prepared: &Prepared) -> String {
    let errno = sys::errno_name(m.errno);
    let root = Path::new(std::ffi::OsStr::from_bytes(prepared.root.as_bytes()));
    let what = match Stage::from_u32(m.stage) {
        Some(Stage::Mount) => {
            prepared.mounts.get(m.index as usize).map(|s| s.describe(root)).unwrap_or_else(|| "mount".into())
        }
        Some(Stage::Execve) => {
            let name = prepared.argv.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
            if m.errno == libc::ENOENT {
                return format!("execve({name}) => ENOENT: program not found in the sandbox{}", not_found_hint(&name));
            }
            format!("execve({name})")
        }
        Some(Stage::OpenSource) => format!(
            "open({}, O_PATH)",
            prepared.bind_sources.get(m.index as usize).map(|c| c.to_string_lossy().into_owned()).unwrap_or_default()
        ),
        Some(Stage::Cgroup) => {
            let hint = if m.errno == libc::EACCES {
                "; on cgroup v2 this needs Linux 5.16 or later (or the fix for CVE-2021-4197), which checks the \
                 move against the credentials the file was opened with"
            } else {
                ""
            };
            format!("moving into the run's cgroup (entry file #{}: v1 tasks, v2 cgroup.procs{hint})", m.index)
        }
        Some(Stage::Rlimit) => format!("setrlimit(#{})", m.index),
        Some(Stage::Seccomp) => format!("seccomp(SET_MODE_FILTER, filter #{})", m.index),
        Some(Stage::Landlock) => format!("landlock (step {})", m.index),
        Some(stage) => format!("{stage:?}"),
        None => format!("setup step {}", m.stage),
    };
    format!("sandbox setup failed: {what} => {errno}")
}

use std::os::unix::ffi::OsStrExt;

/// When a program path missing inside exists on the host, says how to make it visible.
fn not_found_hint(name: &str) -> String {
    let p = Path::new(name);
    if !name.contains('/') || !p.exists() {
        return String::new();
    }
    let dir = p.parent().map(|d| d.display().to_string()).filter(|d| !d.is_empty()).unwrap_or_else(|| ".".into());
    let file = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    // A system directory is never lent as the box: then only the read-only bind is offered.
    let lendable = Path::new(&dir).canonicalize().is_ok_and(|c| crate::validate::refusal(&c).is_none());
    if lendable {
        format!(
            " ({name} exists on the host, but host files are not in the sandbox unless lent: \
             --dir {dir} then run /box/{file}, or --bind {dir}:/prog then run /prog/{file})"
        )
    } else {
        format!(
            " ({name} exists on the host, but host files are not in the sandbox unless bound: \
             --bind {dir}:/prog then run /prog/{file})"
        )
    }
}
