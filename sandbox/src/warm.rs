//! Warm environments: the namespaces and the new root made once, many runs in them.
//!
//! A cold run clones an init into fresh user, pid, mount, network, ipc and uts namespaces,
//! builds the root, runs the program and tears it all down. An `Environment` keeps a
//! *holder* instead: the same init, stopped after building the root, resident as pid 1 of
//! the environment's pid namespace. For each run the runner writes the run's order (argv,
//! environment, rlimits, Landlock rules, seccomp programs: see `order`) into a memory area
//! it shares with the holder, sends it the run's fds (streams, cgroup files), and the
//! holder starts the program itself (`child::holder_run`): its pre-exec child makes the
//! run's own IPC namespace, moves itself into the run's fresh cgroup, and from there does
//! exactly what a cold run's program does (rlimits, capabilities, Landlock, seccomp,
//! execve). The holder reaps, reports and kills as a cold init does: at the program's end
//! kill(-1), which reaches every process of the namespace but itself. Nothing is cloned
//! from the runner per run.
//!
//! Between runs the holder resets the environment (`child::reset`): it kills and reaps
//! every process left (orphans are its children), mounts /tmp, /dev/shm and the box's
//! upper layer anew unless it can prove the run left them as they were made
//! (`child::Look`), and checks in /proc that it is alone. The reset is ordered as soon as
//! a run's processes are gone and its answer taken before the next run enters. A reset
//! that fails or finds anything wrong, a holder that died, or an order the holder gets in
//! the middle of a run (the runner lost track of it) drops the holder; the next run makes
//! a new one.
//!
//! What is kept between runs, by design: the box (copied in when the environment is made
//! or by `load_box`, read-only to every run but one ordered with `keep_box_of_next_run`),
//! the read-only binds and root filesystem, the network namespace (the environment's own,
//! or the empty one runs share: see `netns`; no interface up, nothing bound once every
//! process is dead), the hostname. What is new for each run:
//! every process, what /tmp, /dev/shm and the box's upper layer held, the IPC namespace
//! (SysV objects, POSIX message queues), the cgroup (so peak memory, OOM counts, CPU usage
//! and pids start from zero), fds, environment, signal state.
//!
//! Warm environments need root and cgroups; they take no writable binds, never write the
//! box back, and run only under a seccomp policy that closes the kernel's keyrings (which
//! are not namespaced).
//!
//! Known traces of earlier runs of the same environment (an environment belongs to one
//! submitter at a time): how far pid numbers have advanced, how far inode numbers of a
//! kept /tmp, /dev/shm or upper layer have, and the network namespace's counters
//! (/proc/net/snmp). A judge that must not let tests of one submission signal each other
//! even that way runs them cold.

use crate::cgroup::{self, CgroupLimits, Layout};
use crate::child::{self, ChildPlan, FreshMount, MountOp};
use crate::config::{RunConfig, SANDBOX_ID};
use crate::hostids::{self, Lease};
use crate::lend::Lent;
use crate::order::OrderArea;
use crate::plan::{self, Lending, MountSpec};
use crate::report::Report;
use crate::spawn::{self, Cancel};
use crate::streams::Streams;
use crate::{state, sys, validate, Error};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Setup and reset must finish within this.
const HOLDER_TIMEOUT_NS: i64 = 10_000_000_000;

/// A sandbox environment made once and reset between runs (see the module docs). Runs in
/// it give the same `Report` as cold runs, with the same meaning.
///
/// An environment dies with the thread that made it (the holder's parent-death signal) and
/// with its owner's process; dropping it kills its holder and everything in it.
pub struct Environment {
    /// The configuration it was made from (its environment part must match every run's).
    base: RunConfig,
    holder: Option<Holder>,
    /// The cgroups kept from run to run (v1 cpuacct and pids), dropped after the holder.
    kept: Option<cgroup::Kept>,
    made: u32,
    /// The next run keeps its box writes (`keep_box_of_next_run`).
    keep_next: bool,
    /// A keeping run changed the kept box since it was loaded: a holder made anew would not
    /// have those changes, so none is made until `load_box`.
    box_changed: bool,
}

/// A live holder and what it needs kept.
struct Holder {
    pidfd: OwnedFd,
    /// Its pid on the host: stable while we hold it unreaped.
    pid: i32,
    /// Orders to the holder (HOLDER_KILL, HOLDER_RESET); closing it ends the holder.
    orders: OwnedFd,
    /// The holder's messages (MSG_RESET).
    replies: OwnedFd,
    host_id: u32,
    /// It joined the shared network namespace.
    shared_net: bool,
    /// A reset was ordered and not yet answered.
    resetting: bool,
    /// A run ended on our side without the holder's last word for it (its MSG_EXITED, or
    /// MSG_ERROR for a start that failed): the holder may still be in that run, or hold its
    /// fds; it is never used again.
    in_doubt: bool,
    /// The box's tmpfs copy, which the holder's namespace has mounted.
    _lent: Option<Lent>,
    /// Where each run's order is written for the holder (see `order`).
    area: OrderArea,
    _lease: Lease,
}

impl Drop for Holder {
    fn drop(&mut self) {
        // The holder is pid 1: its death kills everything in the environment.
        sys::pidfd_kill(&self.pidfd);
        sys::pidfd_wait(&self.pidfd);
    }
}

/// The part of a configuration that makes the environment: runs in one must agree on it.
fn environment_part(cfg: &RunConfig) -> impl PartialEq + std::fmt::Debug + '_ {
    (&cfg.box_dir, environment_part_but_box(cfg))
}

/// The environment part without the box (which `load_box` can change).
fn environment_part_but_box(cfg: &RunConfig) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        &cfg.rootfs,
        &cfg.binds,
        cfg.limits.tmpfs_bytes,
        cfg.limits.disk_bytes,
        cfg.limits.disk_files,
        &cfg.cgroup_parent,
        (cfg.host_id, cfg.host_id_count),
        // Whether the holder may be in the shared network namespace: every run in it must
        // agree (a run under another seccomp policy may not share it).
        crate::netns::may_share(cfg),
    )
}

impl Environment {
    /// Makes an environment from `cfg`'s environment part: root filesystem, box, binds,
    /// tmpfs and disk sizes, cgroup parent, host ids. Its program, limits and streams are
    /// not used here.
    pub fn new(cfg: &RunConfig) -> Result<Environment, Error> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::config("warm environments need root; rootless runs are cold"));
        }
        if cfg.binds.iter().any(|b| b.writable) {
            return Err(Error::config(
                "warm environments take no writable binds (nothing may carry over between runs)",
            ));
        }
        if matches!(layout_of(cfg).0, Layout::None(_)) {
            return Err(Error::config("warm environments need cgroups (to measure each run by itself)"));
        }
        validate::check(cfg)?;
        // Refused here already, so that a caller falls back to cold runs at once.
        refuse_open_keyrings(spawn::load_policy(cfg)?.0.as_ref())?;
        let holder = Holder::make(cfg)?;
        Ok(Environment {
            base: cfg.clone(),
            holder: Some(holder),
            kept: None,
            made: 1,
            keep_next: false,
            box_changed: false,
        })
    }

    /// How many holders this environment has made (1, plus one for each that was thrown
    /// away after a failed reset or a death).
    pub fn generation(&self) -> u32 {
        self.made
    }

    /// The holder's pid (as seen from the host), while it lives: for tests and diagnostics.
    pub fn holder_pid(&self) -> Option<i32> {
        self.holder.as_ref().map(|h| h.pid)
    }

    /// Whether `cfg` could run here once its box is loaded (`load_box`): the same root
    /// filesystem, binds, sizes, cgroup parent and host ids. For pools of environments.
    pub fn fits(&self, cfg: &RunConfig) -> bool {
        environment_part_but_box(cfg) == environment_part_but_box(&self.base)
    }

    /// Replaces the kept box with a fresh copy of `dir` (an empty box for `None`), so that
    /// the environment can serve another box (a pool recycling it for the next
    /// submission). Everything the earlier box had, including what keeping runs wrote to
    /// it, is gone; every other reset holds as between runs. Runs after it give `dir` as
    /// their box. If the holder cannot take the new box it is thrown away and the next run
    /// makes a new one around `dir`.
    pub fn load_box(&mut self, dir: Option<&std::path::Path>) -> Result<(), Error> {
        let mut cfg = self.base.clone();
        cfg.box_dir = dir.map(std::path::Path::to_path_buf);
        validate::check(&cfg)?;
        self.keep_next = false;
        self.box_changed = false;
        if let Some(h) = &mut self.holder {
            if let Err(e) = h.finish_reset() {
                tracing::warn!("warm environment reset failed ({e}); it is made anew");
                self.holder = None;
            }
        }
        let Some(mut holder) = self.holder.take() else {
            self.base = cfg;
            return Ok(());
        };
        // The old box's copy and lock go first (the holder's mount of it lives until the
        // swap), so that the same directory can be loaded again. The new one is copied in
        // (and its directory locked) on the runner's side, as for any run.
        holder._lent = None;
        let lent = Lent::prepare(&cfg, holder.host_id)?;
        self.base = cfg;
        match holder.rebox(&lent) {
            Ok(()) => {
                holder._lent = Some(lent);
                self.holder = Some(holder);
            }
            Err(e) => tracing::warn!("warm environment: loading a new box failed ({e}); it is made anew"),
        }
        Ok(())
    }

    /// Makes the next run's box the kept box itself, writable: what that run writes there
    /// (a compiler's output, say) is kept for every later run of this environment, as the
    /// box it was made with is. Meant for a submission's compile step, run before its tests;
    /// every other run's box writes are thrown away. The host's box directory is never
    /// written. Applies to the next run only. Should the environment be lost after it (a
    /// failed reset, a killed holder), later runs are setup errors until `load_box`: a
    /// new holder would not have what that run kept.
    pub fn keep_box_of_next_run(&mut self) {
        self.keep_next = true;
    }

    /// Runs `cfg`'s program in this environment. `cfg` must have the same environment part
    /// as the one the environment was made from. `write_back` does not apply: the box is
    /// read-only to a run unless `keep_box_of_next_run` was asked for it.
    pub fn run(&mut self, cfg: &RunConfig, cancel: Option<&Cancel>) -> Result<Report, Error> {
        let start = sys::now_ns();
        let keep = std::mem::take(&mut self.keep_next);
        // The policy first: one that leaves the keyrings open is refused for what it is,
        // whatever else differs (it also decides the network namespace part below). Loaded
        // once here for the whole run.
        let policy = spawn::load_policy(cfg)?;
        refuse_open_keyrings(policy.0.as_ref())?;
        if environment_part(cfg) != environment_part(&self.base) {
            return Err(Error::config(format!(
                "this run's environment (root filesystem, box, binds, sizes, cgroup parent, host ids, whether it \
                 may share the network namespace) is not the environment's: {:?} against {:?}",
                environment_part(cfg),
                environment_part(&self.base)
            )));
        }
        validate::check(cfg)?;
        // The last run's reset was ordered as soon as its processes were gone and ran
        // alongside whatever happened since; its answer is taken first, before anything of
        // this run is made. A holder that died (killed, or its thread gone), whose reset
        // failed, or that a run left in doubt is replaced (dropping it waits until it and
        // everything in its namespace are gone).
        if let Some(h) = &mut self.holder {
            if let Err(e) = h.finish_reset() {
                tracing::warn!("warm environment reset failed ({e}); it is made anew");
                self.holder = None;
            }
        }
        if self.holder.is_none() {
            if self.box_changed {
                // The box the environment was made with is not the box the runs expect (a
                // compile's output is missing): a setup error, never a verdict on a box
                // without it.
                return Ok(Report::setup_error(
                    "the warm environment was lost after a run that kept its box writes, and with it what that \
                     run wrote; load the box again (Environment::load_box) or run cold"
                        .into(),
                ));
            }
            self.holder = Some(Holder::make(&self.base)?);
            self.made += 1;
        }
        // No process of an earlier run is left now, so the kept cgroups can be proven as
        // new; any that cannot are replaced.
        self.kept = match self.kept.take().map(|k| k.reset().map(|()| k)) {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                tracing::warn!("warm environment: its kept cgroups are not as new ({e}); made anew");
                None
            }
            None => None,
        };
        if self.kept.is_none() {
            self.kept = cgroup::Kept::create(&layout_of(cfg).0).unwrap_or_else(|e| {
                tracing::warn!("warm environment: cannot keep cgroups ({e}); each run makes its own");
                None
            });
        }
        let prep = match Prep::new(cfg, policy, self.kept.as_ref())? {
            Ok(prep) => prep,
            Err(report) => return Ok(*report),
        };
        // Taken out for the run: if anything below panics, the holder is dropped (killed)
        // on the way out instead of being reused unreset.
        let mut holder = self.holder.take().expect("made above");
        if keep {
            self.box_changed = true;
            if let Err(e) = holder.keep_box() {
                drop(prep);
                return Ok(Report::setup_error(format!("warm environment: keeping the box: {e}")));
            }
        }
        let outcome = prep.run(cfg, &mut holder, cancel, start, keep);
        // A holder that died during the run (its creating thread exited) took the run
        // with it: that is the sandbox's failure, not the program's.
        let died = sys::pidfd_exited(&holder.pidfd);
        // The reset was ordered as soon as the run's processes were gone (or is now, if the
        // run did not get that far), and is answered at the next run (or never, if the
        // environment is dropped first: that kills it all).
        if !died && !holder.in_doubt && holder.order_reset().is_ok() {
            self.holder = Some(holder);
        } else {
            drop(holder);
        }
        let mut report = outcome?;
        if died {
            report = Report::setup_error(
                "the warm environment's holder died during the run (the thread that made the environment exited?)"
                    .into(),
            );
        }
        report.enforced.insert(
            "environment".into(),
            format!(
                "warm (holder #{}; /tmp, /dev/shm, processes, IPC and cgroup fresh for each run{})",
                self.made,
                if keep { "; this run's box writes kept" } else { "" }
            ),
        );
        Ok(report)
    }
}

/// The kernel's keyrings are not namespaced: the environment's uid keeps its keyrings from
/// run to run, so a warm run needs a policy that closes them.
fn refuse_open_keyrings(policy: Option<&crate::seccomp::Policy>) -> Result<(), Error> {
    let closed = |name: &str| {
        policy.is_some_and(|p| p.rules.iter().any(|r| r.args.is_empty() && r.syscalls.iter().any(|s| s == name)))
    };
    if ["keyctl", "add_key", "request_key"].into_iter().all(closed) {
        return Ok(());
    }
    Err(Error::config(
        "a warm run needs a seccomp policy that blocks keyctl, add_key and request_key \
         (the keyrings of the environment's uid would carry over between runs); run it cold",
    ))
}

fn layout_of(cfg: &RunConfig) -> (Layout, bool) {
    match &cfg.cgroup_parent {
        Some(p) => (cgroup::detect(Some(p)), true),
        None => (cgroup::layout().clone(), false),
    }
}

/// What a warm run prepares before it needs the holder: its policy, plan, streams and
/// cgroup.
struct Prep {
    policy: Option<crate::seccomp::Policy>,
    compiled: Vec<crate::seccomp::CompiledFilter>,
    layout: Layout,
    prepared: plan::Prepared,
    streams: Streams,
    cg: cgroup::RunCgroup,
}

impl Prep {
    /// Err(report): a setup error before anything ran.
    /// `policy` is the run's, loaded and checked (`refuse_open_keyrings`) by the caller.
    fn new(
        cfg: &RunConfig,
        policy: (Option<crate::seccomp::Policy>, Vec<crate::seccomp::CompiledFilter>),
        kept: Option<&cgroup::Kept>,
    ) -> Result<Result<Prep, Box<Report>>, Error> {
        let (policy, compiled) = policy;
        let (layout, _) = layout_of(cfg);
        let stdin_file = validate::open_stdin(cfg)?;
        // The per-run part of the plan (argv, environment, rlimits, landlock); the mount
        // steps were the holder's.
        let root_dir = state::mount_point()?;
        let mut prepared = plan::prepare_run(cfg, &root_dir)?;
        // RLIMIT_NPROC counts the user's tasks in the user namespace: here the holder is one
        // more of them than in a cold run, so the program keeps the same allowance.
        for (res, lim) in prepared.rlimits.iter_mut() {
            if *res == libc::RLIMIT_NPROC as libc::c_int {
                lim.rlim_cur = lim.rlim_cur.saturating_add(1);
                lim.rlim_max = lim.rlim_max.saturating_add(1);
            }
        }
        let streams = Streams::open(cfg, stdin_file)?;
        let limits = CgroupLimits {
            memory_bytes: Some(cfg.limits.effective_memory_bytes()),
            // Only the program's processes enter the run's cgroup (the holder stays out;
            // a cold run's init is in it, and has one more).
            pids: Some(cfg.limits.effective_pids()),
        };
        let cg = match cgroup::RunCgroup::create_in(&layout, limits, kept) {
            Ok(Some(cg)) => cg,
            Ok(None) => return Ok(Err(Box::new(Report::setup_error("warm runs need the run's cgroup".into())))),
            Err(e) => return Ok(Err(Box::new(Report::setup_error(format!("cgroup: {e}"))))),
        };
        Ok(Ok(Prep { policy, compiled, layout, prepared, streams, cg }))
    }

    /// Has `holder` run the program.
    fn run(
        mut self,
        cfg: &RunConfig,
        holder: &mut Holder,
        cancel: Option<&Cancel>,
        start: i64,
        keep: bool,
    ) -> Result<Report, Error> {
        let mut settled = false;
        let link = spawn::HolderLink {
            pidfd: &holder.pidfd,
            orders: &holder.orders,
            replies: &holder.replies,
            area: &mut holder.area,
            settled: &mut settled,
        };
        let result = spawn::run_warm(cfg, &self.prepared, &self.compiled, self.streams, &self.cg, cancel, start, link);
        holder.in_doubt = !settled;
        // Every process of the run is dead. What it wrote to the box is the overlay's upper
        // layer, or for a keeping run the kept box: opened now, inside the holder's root
        // with openat2 (RESOLVE_IN_ROOT and no symlink, so nothing the program left there
        // can lead this root-owned walk anywhere else), and read from this fd after the
        // holder has unmounted it. With that, the holder's reset is ordered at once, to run
        // beside the rest of this run's work and the caller's own until the next run.
        let written = if keep { c".box-base" } else { c".box-upper/u" };
        let upper = std::fs::File::open(format!("/proc/{}/root", holder.pid)).and_then(|root| {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
            sys::openat2(root.as_raw_fd(), written, flags, sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS)
        });
        let _ = holder.order_reset();
        let (mut ending, stats, peak_source) = match spawn::close_cgroup(Some(&mut self.cg), result) {
            Ok(closed) => closed,
            Err(report) => return Ok(*report),
        };
        if let Ok(upper) = upper {
            if let Some(limit) = cfg.limits.file_size_bytes {
                ending.file_size_hit = crate::scratch::largest_file(upper.as_fd()).is_some_and(|s| s >= limit);
            }
            let (bytes, files) = (cfg.limits.effective_disk_bytes(), cfg.limits.effective_disk_files());
            if let Some(note) = crate::lend::budget_used_up(upper.as_raw_fd(), bytes, files) {
                ending.output_over = true;
                ending.disk_note = Some(note);
            }
        }
        let stats = match stats {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => return Ok(Report::setup_error(format!("reading the run's cgroup: {e}"))),
            None => None,
        };
        let mut report = crate::measure::report(cfg, &self.layout, &ending, stats, peak_source, self.policy.is_some());
        report
            .enforced
            .insert("host_id".into(), format!("{} (this environment's own unprivileged host uid/gid)", holder.host_id));
        report.enforced.insert("network".into(), crate::netns::describe(holder.shared_net, true));
        Ok(report)
    }
}

impl Holder {
    /// Clones the holder into fresh namespaces and waits until its root is built.
    fn make(cfg: &RunConfig) -> Result<Holder, Error> {
        let start = sys::now_ns();
        let lease = hostids::lease(cfg.host_id, cfg.host_id_count)?;
        let lent = Lent::prepare(cfg, lease.id)?;
        let root_dir = state::mount_point()?;
        let mut prepared = plan::prepare(cfg, &root_dir, &Lending::Moved { at: state::scratch_point()? })?;
        // The box is kept for every run, read-only at /.box-base, under an overlay at /box
        // whose upper layer the holder makes anew for every run (see child::BoxOverlay).
        let inside = |p: &str| {
            CString::new(root_dir.join(p).into_os_string().into_encoded_bytes())
                .map_err(|_| Error::config("state directory path with a NUL byte"))
        };
        let (box_dst, base_dst, upper_dst) = (inside("box")?, inside(".box-base")?, inside(".box-upper")?);
        let scratch_dst = inside(".box-scratch")?;
        for spec in prepared.mounts.iter_mut() {
            if let MountSpec::Bind { dst, .. } = spec {
                if *dst == box_dst {
                    *dst = base_dst.clone();
                }
            }
        }
        let at = prepared
            .mounts
            .iter()
            .position(|m| matches!(m, MountSpec::Dir { dst, .. } if *dst == box_dst))
            .ok_or_else(|| Error::config("the plan has no /box"))?;
        prepared.mounts.insert(at, MountSpec::Dir { dst: upper_dst, mode: 0o755 });
        prepared.mounts.insert(at, MountSpec::Dir { dst: scratch_dst, mode: 0o700 });
        prepared.mounts.insert(at, MountSpec::Dir { dst: base_dst.clone(), mode: 0o755 });
        prepared.mounts.push(MountSpec::ReadOnly { dst: base_dst, flags: libc::MS_NOSUID | libc::MS_NODEV });
        let upper_data = CString::new(format!(
            "size={},nr_inodes={},mode=0755",
            cfg.limits.effective_disk_bytes(),
            cfg.limits.effective_disk_files() + 4
        ))
        .expect("no NUL in numbers");
        let overlay = child::BoxOverlay {
            dst: c"/box",
            base: c"/.box-base",
            scratch: c"/.box-scratch",
            scratch_box: c"/.box-scratch/box",
            upper: c"/.box-upper",
            upper_data: &upper_data,
            upper_dir: c"/.box-upper/u",
            work_dir: c"/.box-upper/w",
            overlay_data: c"lowerdir=/.box-base,upperdir=/.box-upper/u,workdir=/.box-upper/w",
        };
        let tmpfs_data = CString::new(format!("size={},mode=1777", cfg.limits.tmpfs_bytes.unwrap_or(64 << 20)))
            .expect("no NUL in a number");
        let fresh = [
            FreshMount { fstype: c"tmpfs", dst: c"/tmp", flags: libc::MS_NOSUID | libc::MS_NODEV, data: &tmpfs_data },
            FreshMount {
                fstype: c"tmpfs",
                dst: c"/dev/shm",
                flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                data: &tmpfs_data,
            },
        ];
        let io = |what: &'static str| move |e: std::io::Error| Error::Io { what: what.into(), source: e };
        let area = OrderArea::new().map_err(Error::Config)?;
        let (orders_r, orders_w) = sys::pipe().map_err(|e| Error::config(format!("pipe: {e}")))?;
        let (replies, replies_child) = sys::seqpacket_pair().map_err(|e| Error::config(format!("socketpair: {e}")))?;
        // The holder runs no program: its stdio slots hold /dev/null.
        let null: Vec<OwnedFd> = (0..3)
            .map(|_| std::fs::File::open("/dev/null").map(OwnedFd::from))
            .collect::<Result<_, _>>()
            .map_err(io("/dev/null"))?;
        let mut fds = vec![orders_r.as_raw_fd(), replies_child.as_raw_fd()];
        fds.extend(null.iter().map(|f| f.as_raw_fd()));
        fds.push(lent.mount_fd());
        let bind_sources: Vec<&std::ffi::CStr> = prepared.bind_sources.iter().map(|c| c.as_c_str()).collect();
        let mounts: Vec<MountOp> = prepared.mounts.iter().map(|m| m.as_op()).collect();
        let empty = spawn::null_terminated(&[]);
        let mut stack = vec![0u8; 16 * 1024];
        let plan = ChildPlan {
            role: child::Role::Holder,
            resets: &fresh,
            box_overlay: Some(overlay),
            fds: &fds,
            bind_sources: &bind_sources,
            self_attach: &[],
            cpu_usage_file: None,
            clear_groups: true,
            inside_id: SANDBOX_ID,
            new_root: &prepared.root,
            mounts: &mounts,
            hostname: b"sandbox",
            workdir: &prepared.workdir,
            rlimits: &[],
            cap_last: spawn::cap_last(),
            landlock: None,
            landlock_rules: &[],
            filters: &[],
            exec_paths: &[],
            argv: &empty,
            envp: &empty,
            stack: stack.as_mut_ptr(),
            stack_size: stack.len(),
            wipe: spawn::cmdline_areas(),
            order_area: area.base(),
            order_area_len: area.len(),
        };
        // The environment's network namespace: the shared empty one where runs may join it
        // (see `netns`), else its own.
        let shared_net = crate::netns::for_run(cfg, true);
        let (pid, pidfd) = spawn::clone_in_new_namespaces(&plan, shared_net).map_err(Error::Config)?;
        drop(orders_r);
        drop(replies_child);
        drop(null);
        let holder = Holder {
            pidfd,
            pid,
            orders: orders_w,
            replies,
            host_id: lease.id,
            shared_net: shared_net.is_some(),
            resetting: false,
            in_doubt: false,
            _lent: Some(lent),
            area,
            _lease: lease,
        };
        spawn::write_id_maps(pid, holder.host_id, true).map_err(Error::Config)?;
        sys::write_byte(&holder.orders, child::GO_MAPS_WRITTEN).map_err(io("signalling the holder"))?;
        let (msg, _) = spawn::recv_setup(&holder.replies, &holder.pidfd, start + HOLDER_TIMEOUT_NS)
            .map_err(|e| Error::config(format!("warm environment: {e}")))?;
        if msg.kind != child::MSG_SETUP_DONE {
            return Err(Error::config(format!("warm environment: {}", spawn::describe_failure(&msg, &prepared))));
        }
        // The area the runs' orders are written to, mapped by the holder where we have it.
        sys::send_fd(&holder.replies, child::HOLDER_AREA, holder.area.memfd()).map_err(io("sending the order area"))?;
        sys::write_byte(&holder.orders, child::HOLDER_AREA).map_err(io("signalling the holder"))?;
        match holder.answer() {
            Ok((true, _)) => Ok(holder),
            Ok((false, _)) => Err(Error::config("warm environment: the holder could not map the order area")),
            Err(e) => Err(Error::config(format!("warm environment: {e}"))),
        }
    }

    /// Orders a reset; `finish_reset` takes its answer.
    fn order_reset(&mut self) -> Result<(), String> {
        if self.resetting {
            return Ok(());
        }
        sys::write_byte(&self.orders, child::HOLDER_RESET).map_err(|e| format!("ordering a reset: {e}"))?;
        self.resetting = true;
        Ok(())
    }

    /// Waits for the answer to the reset ordered last (if any): Ok when the environment is
    /// clean, Err when the reset failed, found a process left, or the holder is dead.
    fn finish_reset(&mut self) -> Result<(), String> {
        if sys::pidfd_exited(&self.pidfd) {
            return Err("the holder died".into());
        }
        if !std::mem::take(&mut self.resetting) {
            return Ok(());
        }
        match self.answer()? {
            (true, _) => Ok(()),
            (false, killed) => Err(format!("the holder's reset failed or found processes left ({killed})")),
        }
    }

    /// Sends the holder a new box's scratch tmpfs and orders it in place of the kept box.
    fn rebox(&self, lent: &Lent) -> Result<(), String> {
        sys::send_fd(&self.replies, child::HOLDER_REBOX, lent.mount_fd())
            .map_err(|e| format!("sending the box: {e}"))?;
        sys::write_byte(&self.orders, child::HOLDER_REBOX).map_err(|e| format!("ordering it: {e}"))?;
        match self.answer()? {
            (true, _) => Ok(()),
            (false, _) => Err("the holder could not mount the new box".into()),
        }
    }

    /// Makes the kept box the next run's /box, writable (`Environment::keep_box_of_next_run`).
    fn keep_box(&self) -> Result<(), String> {
        sys::write_byte(&self.orders, child::HOLDER_KEEP).map_err(|e| format!("ordering it: {e}"))?;
        match self.answer()? {
            (true, _) => Ok(()),
            (false, _) => Err("the holder could not bind the kept box writable".into()),
        }
    }

    /// The holder's next MSG_RESET: whether it succeeded, and what it had to kill.
    fn answer(&self) -> Result<(bool, i64), String> {
        let deadline = sys::now_ns() + HOLDER_TIMEOUT_NS;
        loop {
            let (msg, _) = spawn::recv_setup(&self.replies, &self.pidfd, deadline)?;
            if msg.kind == child::MSG_RESET {
                return Ok((msg.v[0] == 1, msg.v[1]));
            }
        }
    }
}
