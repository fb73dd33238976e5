//! Turning a `RunConfig` into everything the child needs, before clone: C strings, the list
//! of mount steps, O_PATH fds of bind sources, rlimits, argv and envp. All allocation happens
//! here, in the parent.

use crate::child::{MountOp, MAX_FDS, N_FIXED_FDS};
use crate::config::{RunConfig, SANDBOX_ID};
use crate::rootfs::{self, HostEntry};
use crate::Error;
use libc::{c_int, c_ulong};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

pub(crate) const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// One step of building the new root, owning its strings.
pub(crate) enum MountSpec {
    Dir {
        dst: CString,
        mode: u32,
    },
    File {
        dst: CString,
        content: Vec<u8>,
    },
    Symlink {
        target: CString,
        dst: CString,
    },
    Bind {
        src: CString,
        dst: CString,
        flags: c_ulong,
        host: PathBuf,
    },
    Fresh {
        fstype: CString,
        dst: CString,
        flags: c_ulong,
        data: CString,
    },
    ReadOnly {
        dst: CString,
        flags: c_ulong,
    },
    /// A detached mount the parent made (the run's scratch tmpfs), moved onto `dst`; `fd` is
    /// its number in init's fd table.
    Move {
        fd: c_int,
        dst: CString,
        what: String,
    },
}

impl MountSpec {
    pub fn as_op(&self) -> MountOp<'_> {
        match self {
            MountSpec::Dir { dst, mode } => MountOp::Dir { dst, mode: *mode },
            MountSpec::File { dst, content } => MountOp::File { dst, content },
            MountSpec::Symlink { target, dst } => MountOp::Symlink { target, dst },
            MountSpec::Bind { src, dst, flags, .. } => MountOp::Bind { src, dst, flags: *flags },
            MountSpec::Fresh { fstype, dst, flags, data } => MountOp::Fresh { fstype, dst, flags: *flags, data },
            MountSpec::ReadOnly { dst, flags } => MountOp::ReadOnly { dst, flags: *flags },
            MountSpec::Move { fd, dst, .. } => MountOp::Move { fd: *fd, dst },
        }
    }

    /// The step as a call, for error messages: `mount(/usr → /usr, MS_BIND)`.
    pub fn describe(&self, root: &Path) -> String {
        let inside = |c: &CString| {
            let p = Path::new(std::ffi::OsStr::from_bytes(c.as_bytes()));
            let rel = p.strip_prefix(root).unwrap_or(p);
            format!("/{}", rel.display())
        };
        match self {
            MountSpec::Dir { dst, .. } => format!("mkdir({})", inside(dst)),
            MountSpec::File { dst, .. } => format!("create({})", inside(dst)),
            MountSpec::Symlink { target, dst } => format!("symlink({} → {:?})", inside(dst), target),
            MountSpec::Bind { dst, host, .. } => format!("mount({} → {}, MS_BIND)", host.display(), inside(dst)),
            MountSpec::Fresh { fstype, dst, .. } => format!("mount({} on {})", fstype.to_string_lossy(), inside(dst)),
            MountSpec::ReadOnly { dst, .. } => format!("mount({}, MS_REMOUNT|MS_RDONLY)", inside(dst)),
            MountSpec::Move { dst, what, .. } => format!("move_mount({what} → {})", dst.to_string_lossy()),
        }
    }
}

/// What `plan` built: owned storage the ChildPlan borrows from.
pub(crate) struct Prepared {
    /// Mount point of the new root on the host side of the mount namespace.
    pub root: CString,
    pub mounts: Vec<MountSpec>,
    /// Bind sources, in the order init opens them (onto fds 3 + N_FIXED_FDS, ...).
    pub bind_sources: Vec<CString>,
    pub exec_paths: Vec<CString>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub workdir: CString,
    pub rlimits: Vec<(c_int, libc::rlimit)>,
    /// Landlock rules: a path in the final tree, writable, a file (not a directory).
    pub landlock_paths: Vec<(CString, bool, bool)>,
}

fn cstr(p: &Path) -> Result<CString, Error> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::config(format!("path {} contains a NUL byte", p.display())))
}

fn bytes_cstring(b: Vec<u8>, what: &str) -> Result<CString, Error> {
    CString::new(b).map_err(|_| Error::config(format!("{what} contains a NUL byte")))
}

fn cstring(s: &str, what: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::config(format!("{what} contains a NUL byte")))
}

/// Checks that a path inside the sandbox is absolute and plain (no `..`).
pub(crate) fn check_inside_path(p: &Path) -> Result<(), Error> {
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(Error::config(format!("sandbox path {} must be absolute without . or ..", p.display())));
    }
    if p == Path::new("/") {
        return Err(Error::config("cannot bind over / of the sandbox"));
    }
    Ok(())
}

/// Flags a remount of a bind must keep: a user namespace may not clear the source mount's
/// noexec or atime flags (they are locked), so read them from the source.
fn locked_flags(path: &CString) -> c_ulong {
    // SAFETY: statvfs is plain data; zeroed is a valid initial value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs reads the NUL-terminated path and writes one statvfs into `st`.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } < 0 {
        return 0;
    }
    let mut flags = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_RDONLY, libc::MS_RDONLY),
    ] {
        if st.f_flag & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    flags
}

struct Builder<'r> {
    root: &'r Path,
    mounts: Vec<MountSpec>,
    bind_sources: Vec<CString>,
    /// Fds before the bind sources: the fixed ones and the lent mounts.
    first_source_fd: usize,
}

impl Builder<'_> {
    fn target(&self, inside: &Path) -> Result<CString, Error> {
        cstr(&self.root.join(inside.strip_prefix("/").unwrap_or(inside)))
    }

    fn dir(&mut self, inside: &Path, mode: u32) -> Result<(), Error> {
        let dst = self.target(inside)?;
        self.mounts.push(MountSpec::Dir { dst, mode });
        Ok(())
    }

    /// mkdir every missing parent of `inside` (within the skeleton).
    fn parents(&mut self, inside: &Path) -> Result<(), Error> {
        let mut acc = PathBuf::from("/");
        let comps: Vec<_> = inside.components().skip(1).collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            acc.push(c);
            self.dir(&acc, 0o755)?;
        }
        Ok(())
    }

    /// Binds host `src` at `inside`. `flags` are applied by the remount.
    /// Makes the mount point for `inside`: a directory or an empty file.
    fn mount_point(&mut self, inside: &Path, is_dir: bool) -> Result<CString, Error> {
        self.parents(inside)?;
        let dst = self.target(inside)?;
        if is_dir {
            self.mounts.push(MountSpec::Dir { dst: dst.clone(), mode: 0o755 });
        } else {
            self.mounts.push(MountSpec::File { dst: dst.clone(), content: Vec::new() });
        }
        Ok(dst)
    }

    fn bind(&mut self, src: &Path, inside: &Path, flags: c_ulong) -> Result<(), Error> {
        let meta = std::fs::metadata(src).map_err(|e| Error::config(format!("bind source {}: {e}", src.display())))?;
        let src_c = cstr(src)?;
        let dst = self.mount_point(inside, meta.is_dir())?;
        let number = 3 + self.first_source_fd + self.bind_sources.len();
        let src_path = CString::new(format!("/proc/self/fd/{number}")).expect("no NUL in a number");
        let flags = flags | locked_flags(&src_c);
        self.bind_sources.push(src_c);
        self.mounts.push(MountSpec::Bind { src: src_path, dst, flags, host: src.to_path_buf() });
        Ok(())
    }

    fn fresh(&mut self, fstype: &str, inside: &Path, flags: c_ulong, data: &str) -> Result<(), Error> {
        let dst = self.target(inside)?;
        self.mounts.push(MountSpec::Fresh {
            fstype: cstring(fstype, "fstype")?,
            dst,
            flags,
            data: cstring(data, "mount data")?,
        });
        Ok(())
    }
}

const RO: c_ulong = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
const RW: c_ulong = libc::MS_NOSUID | libc::MS_NODEV;

/// How the box and rw binds reach the sandbox.
pub(crate) enum Lending {
    /// As root: the run's scratch tmpfs, a detached mount handed to init right after the
    /// fixed fds. Init moves it onto `at` (an empty host directory, in its own mount
    /// namespace only), binds its `box` and `bind<i>` entries in place, and detaches it.
    /// (Cloning the entries straight from the detached mount with open_tree would save a
    /// step, but Linux before 6.15 refuses open_tree on a mount outside the caller's
    /// namespace.)
    Moved { at: PathBuf },
    /// Rootless: the user's own directories bound directly.
    Bound,
}

pub(crate) fn prepare(cfg: &RunConfig, root: &Path, lending: &Lending) -> Result<Prepared, Error> {
    let n_moved = match lending {
        Lending::Moved { .. } => 1,
        Lending::Bound => 0,
    };
    let mut b = Builder { root, mounts: Vec::new(), bind_sources: Vec::new(), first_source_fd: N_FIXED_FDS + n_moved };
    if let Lending::Moved { at } = lending {
        // First of all (before the skeleton): the scratch tmpfs onto its host-side spot.
        let dst = cstr(at)?;
        b.mounts
            .insert(0, MountSpec::Move { fd: (3 + N_FIXED_FDS) as c_int, dst, what: "the run's scratch tmpfs".into() });
    }
    let mut bind_no = 0;
    // The skeleton: a small tmpfs that becomes / (made read-only after pivot_root).
    b.mounts.push(MountSpec::Fresh {
        fstype: c"tmpfs".into(),
        dst: cstr(root)?,
        flags: libc::MS_NOSUID | libc::MS_NODEV,
        data: c"size=1m,mode=0755".into(),
    });
    let image_entries;
    let entries: &[HostEntry] = match &cfg.rootfs {
        Some(image) => {
            image_entries = rootfs::entries_in(image);
            &image_entries
        }
        None => rootfs::host_entries(),
    };
    for entry in entries {
        match entry {
            HostEntry::Bind(inside, src) => b.bind(src, inside, RO)?,
            HostEntry::Symlink(p, target) => {
                b.parents(p)?;
                let dst = b.target(p)?;
                b.mounts.push(MountSpec::Symlink { target: cstr(target)?, dst });
            }
        }
    }
    b.dir(Path::new("/etc"), 0o755)?;
    for (name, content) in [("/etc/passwd", rootfs::passwd(SANDBOX_ID)), ("/etc/group", rootfs::group(SANDBOX_ID))] {
        let dst = b.target(Path::new(name))?;
        b.mounts.push(MountSpec::File { dst, content: content.into_bytes() });
    }

    // /dev: only harmless character devices, bound from the host (mknod is not allowed in a
    // user namespace), plus the usual links into /proc.
    b.dir(Path::new("/dev"), 0o755)?;
    b.fresh("tmpfs", Path::new("/dev"), libc::MS_NOSUID | libc::MS_NOEXEC, "size=64k,mode=0755")?;
    for dev in rootfs::DEVICES {
        let host = PathBuf::from("/dev").join(dev);
        b.bind(&host, &host, libc::MS_NOSUID | libc::MS_NOEXEC)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let dst = b.target(&Path::new("/dev").join(link))?;
        b.mounts.push(MountSpec::Symlink { target: cstring(target, "link")?, dst });
    }
    b.dir(Path::new("/dev/shm"), 0o1777)?;
    // /dev itself is then frozen; only /dev/shm (POSIX shared memory) takes writes.
    let dev = b.target(Path::new("/dev"))?;
    b.mounts.push(MountSpec::ReadOnly { dst: dev, flags: libc::MS_NOSUID | libc::MS_NOEXEC });

    // A fresh /proc of the new pid namespace: only the run's own processes.
    b.dir(Path::new("/proc"), 0o555)?;
    b.fresh("proc", Path::new("/proc"), libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, "")?;

    let tmpfs_bytes = cfg.limits.tmpfs_bytes.unwrap_or(64 << 20);
    let tmpfs_data = format!("size={tmpfs_bytes},mode=1777");
    b.dir(Path::new("/tmp"), 0o1777)?;
    b.fresh("tmpfs", Path::new("/tmp"), RW, &tmpfs_data)?;
    b.dir(Path::new("/box"), 0o755)?;
    match (lending, &cfg.box_dir) {
        (Lending::Moved { at }, _) => {
            let dst = b.target(Path::new("/box"))?;
            let src = cstr(&at.join("box"))?;
            b.mounts.push(MountSpec::Bind { src, dst, flags: RW, host: PathBuf::from("the box's tmpfs") });
        }
        (Lending::Bound, Some(dir)) => b.bind(dir, Path::new("/box"), RW)?,
        (Lending::Bound, None) => b.fresh(
            "tmpfs",
            Path::new("/box"),
            RW,
            &format!(
                "size={},nr_inodes={},mode=0777",
                cfg.limits.effective_disk_bytes(),
                cfg.limits.effective_disk_files()
            ),
        )?,
    }

    b.fresh("tmpfs", Path::new("/dev/shm"), RW | libc::MS_NOEXEC, &tmpfs_data)?;

    let mut landlock_paths = base_landlock_paths();
    for bind in &cfg.binds {
        let dst = bind.dst.clone().unwrap_or_else(|| bind.src.clone());
        check_inside_path(&dst)?;
        let meta = std::fs::metadata(&bind.src)
            .map_err(|e| Error::config(format!("bind source {}: {e}", bind.src.display())))?;
        match (bind.writable, lending) {
            (true, Lending::Moved { at }) => {
                let target = b.mount_point(&dst, meta.is_dir())?;
                let src = cstr(&at.join(format!("bind{bind_no}")))?;
                let host = PathBuf::from(format!("the tmpfs copy of {}", bind.src.display()));
                b.mounts.push(MountSpec::Bind { src, dst: target, flags: RW, host });
                bind_no += 1;
            }
            (writable, _) => b.bind(&bind.src, &dst, if writable { RW } else { RO })?,
        }
        if bind.writable {
            landlock_paths.push((cstr(&dst)?, true, !meta.is_dir()));
        }
    }
    // The scratch itself, mounted on a host-side directory, leaves the sandbox's view with the
    // rest of the old root at pivot_root: its own unmount would only cost one more RCU
    // grace period (namespace_unlock), measured at ~0.5 ms a run here.
    if b.first_source_fd + b.bind_sources.len() > MAX_FDS {
        return Err(Error::config(format!("too many bind mounts (at most {})", MAX_FDS - N_FIXED_FDS)));
    }

    let (exec_paths, argv, envp) = program_part(cfg)?;
    Ok(Prepared {
        root: cstr(root)?,
        mounts: b.mounts,
        bind_sources: b.bind_sources,
        exec_paths,
        argv,
        envp,
        workdir: c"/box".into(),
        rlimits: rlimits(cfg),
        landlock_paths,
    })
}

/// The per-run part of a plan, for a run in a warm environment whose root is already built:
/// no mount steps (the environment's holder made them; its binds are all read-only), only
/// what the program's own steps need.
pub(crate) fn prepare_run(cfg: &RunConfig, root: &Path) -> Result<Prepared, Error> {
    if cfg.binds.iter().any(|b| b.writable) {
        return Err(Error::config("a warm run takes no writable binds"));
    }
    let (exec_paths, argv, envp) = program_part(cfg)?;
    Ok(Prepared {
        root: cstr(root)?,
        mounts: Vec::new(),
        bind_sources: Vec::new(),
        exec_paths,
        argv,
        envp,
        workdir: c"/box".into(),
        rlimits: rlimits(cfg),
        landlock_paths: base_landlock_paths(),
    })
}

/// Landlock: the whole tree read-only, the run's own writable places read-write.
fn base_landlock_paths() -> Vec<(CString, bool, bool)> {
    vec![
        (c"/".into(), false, false),
        (c"/box".into(), true, false),
        (c"/tmp".into(), true, false),
        (c"/dev".into(), true, false),
    ]
}

/// Where to find the program (every PATH candidate), its argv and its environment.
type ProgramPart = (Vec<CString>, Vec<CString>, Vec<CString>);

fn program_part(cfg: &RunConfig) -> Result<ProgramPart, Error> {
    // A name set twice keeps its last value, in the place of its first (as `env A=1 A=2`
    // would): two entries of one name mean different things to different programs.
    let mut env: Vec<(OsString, OsString)> = Vec::with_capacity(cfg.env.len() + 1);
    for (k, v) in &cfg.env {
        match env.iter_mut().find(|(seen, _)| seen == k) {
            Some(entry) => entry.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    for (k, _) in &env {
        if k.is_empty() || k.as_bytes().contains(&b'=') {
            return Err(Error::config(format!("environment variable name {k:?} is empty or contains '='")));
        }
    }
    let envp = env
        .iter()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            bytes_cstring(e, "environment entry")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let program = cfg.program.as_bytes();
    if program.is_empty() {
        return Err(Error::config("no program given"));
    }
    let exec_paths = if program.contains(&b'/') {
        vec![bytes_cstring(program.to_vec(), "program")?]
    } else {
        let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_bytes()).unwrap_or(DEFAULT_PATH.as_bytes());
        path.split(|c| *c == b':')
            .filter(|d| d.starts_with(b"/"))
            .map(|d| {
                let mut p = d.to_vec();
                while p.len() > 1 && p.ends_with(b"/") {
                    p.pop();
                }
                p.push(b'/');
                p.extend_from_slice(program);
                bytes_cstring(p, "program")
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let argv = std::iter::once(&cfg.program)
        .chain(&cfg.args)
        .map(|a| bytes_cstring(a.as_bytes().to_vec(), "argument"))
        .collect::<Result<Vec<_>, _>>()?;

    Ok((exec_paths, argv, envp))
}

/// rlimits of the program. Cgroups do the real work where present; these are per process
/// and also the only limits a rootless run without cgroups has.
fn rlimits(cfg: &RunConfig) -> Vec<(c_int, libc::rlimit)> {
    let l = &cfg.limits;
    let lim = |v: u64| libc::rlimit { rlim_cur: v, rlim_max: v };
    let mut out = vec![
        (libc::RLIMIT_CORE as c_int, lim(0)),
        (libc::RLIMIT_NOFILE as c_int, lim(l.open_files.unwrap_or(256))),
        (libc::RLIMIT_STACK as c_int, lim(l.stack_bytes.unwrap_or(l.memory_bytes.unwrap_or(64 << 20)))),
        (libc::RLIMIT_FSIZE as c_int, lim(l.file_size_bytes.unwrap_or(libc::RLIM_INFINITY))),
    ];
    // Counted per user in this run's user namespace: the program's tasks plus init.
    out.push((libc::RLIMIT_NPROC as c_int, lim(l.effective_pids() + 1)));
    if let Some(us) = l.cpu_time_us {
        // A backstop only (whole seconds): the timer on cgroup usage kills far sooner.
        let secs = us.div_ceil(1_000_000) + 1;
        out.push((libc::RLIMIT_CPU as c_int, libc::rlimit { rlim_cur: secs, rlim_max: secs + 1 }));
    }
    out
}
