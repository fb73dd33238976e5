//! A warm run's order: the per-run part of a `ChildPlan` (argv, environment, rlimits,
//! Landlock rules, seccomp programs, the pre-exec stack), copied into a memory area the
//! runner shares with the environment's holder, for the holder to start the program from.
//!
//! The area is a memfd mapped MAP_SHARED in the runner and, at the same address, in the
//! holder (HOLDER_AREA), so that the pointers of an order hold in both. It is MADV_DONTFORK
//! in the runner from the start: no other child the runner clones (cold inits, other
//! environments' holders) inherits it. The runner only ever writes it, between runs; the
//! holder only reads it, during a run's start. The program never sees it: its pre-exec
//! child shares the holder's memory, but execve gives the program a memory of its own.

use crate::child::{ChildPlan, Filter, LandlockRule, Role};
use libc::{c_char, c_void};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The area's size: more than execve takes in arguments and environment (ARG_MAX is a
/// quarter of the stack limit, 2 MiB by default), with the pre-exec stack at its end. Only
/// the pages written are ever backed.
const AREA_LEN: usize = 8 << 20;
const STACK_LEN: usize = 128 << 10;

pub(crate) struct OrderArea {
    base: *mut u8,
    memfd: OwnedFd,
}

// SAFETY: the mapping belongs to this value alone; nothing else in this process points into
// it, so moving it to another thread moves the only access.
unsafe impl Send for OrderArea {}

impl OrderArea {
    pub(crate) fn new() -> Result<OrderArea, String> {
        // SAFETY: memfd_create reads a NUL-terminated literal; the fd is owned right away.
        let fd = unsafe { libc::memfd_create(c"sandbox-order".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!("memfd_create => {}", crate::sys::errno_name_last()));
        }
        // SAFETY: a new fd nothing else owns.
        let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ftruncate takes an fd and a length.
        if unsafe { libc::ftruncate(memfd.as_raw_fd(), AREA_LEN as libc::off_t) } < 0 {
            return Err(format!("ftruncate(order area) => {}", crate::sys::errno_name_last()));
        }
        // SAFETY: a new shared mapping of the memfd, anywhere; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                AREA_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                memfd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap(order area) => {}", crate::sys::errno_name_last()));
        }
        // SAFETY: p is the mapping just made, AREA_LEN long.
        if unsafe { libc::madvise(p, AREA_LEN, libc::MADV_DONTFORK) } < 0 {
            let e = crate::sys::errno_name_last();
            // SAFETY: as above.
            unsafe { libc::munmap(p, AREA_LEN) };
            return Err(format!("madvise(order area, MADV_DONTFORK) => {e}"));
        }
        Ok(OrderArea { base: p as *mut u8, memfd })
    }

    /// Where the area is; the holder maps it at the same address.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base
    }

    pub(crate) fn len(&self) -> usize {
        AREA_LEN
    }

    /// The memfd, sent to the holder with HOLDER_AREA.
    pub(crate) fn memfd(&self) -> RawFd {
        self.memfd.as_raw_fd()
    }

    /// Writes `plan`'s per-run part into the area as a `ChildPlan` of role `Warm`, every
    /// pointer of it into the area. Only between runs (the holder reads it during a start).
    pub(crate) fn write(&mut self, plan: &ChildPlan) -> Result<(), String> {
        let mut bump = Bump { base: self.base, used: std::mem::size_of::<ChildPlan>(), end: AREA_LEN - STACK_LEN };
        let too_big = || "the run's arguments, environment or policy do not fit a warm run's order".to_string();
        let rlimits = bump.slice(plan.rlimits).ok_or_else(too_big)?;
        let workdir = bump.cstr(plan.workdir).ok_or_else(too_big)?;
        let mut rules = Vec::with_capacity(plan.landlock_rules.len());
        for r in plan.landlock_rules {
            rules.push(LandlockRule { path: bump.cstr(r.path).ok_or_else(too_big)?, access: r.access });
        }
        let landlock_rules = bump.slice(&rules).ok_or_else(too_big)?;
        let mut filters = Vec::with_capacity(plan.filters.len());
        for f in plan.filters {
            // SAFETY: the filter's program is `len` instructions the caller keeps alive.
            let program = unsafe { std::slice::from_raw_parts(f.fprog.filter, f.fprog.len as usize) };
            let copy = bump.slice(program).ok_or_else(too_big)?;
            filters.push(Filter {
                fprog: libc::sock_fprog { len: f.fprog.len, filter: copy.as_ptr() as *mut libc::sock_filter },
                notify: f.notify,
            });
        }
        let filters = bump.slice(&filters).ok_or_else(too_big)?;
        let mut exec_paths = Vec::with_capacity(plan.exec_paths.len());
        for p in plan.exec_paths {
            exec_paths.push(bump.cstr(p).ok_or_else(too_big)?);
        }
        let exec_paths = bump.slice(&exec_paths).ok_or_else(too_big)?;
        let argv = bump.pointers(plan.argv).ok_or_else(too_big)?;
        let envp = bump.pointers(plan.envp).ok_or_else(too_big)?;
        let order = ChildPlan {
            role: Role::Warm,
            resets: &[],
            box_overlay: None,
            fds: &[],
            bind_sources: &[],
            self_attach: &[],
            cpu_usage_file: None,
            clear_groups: plan.clear_groups,
            inside_id: plan.inside_id,
            new_root: c"",
            mounts: &[],
            hostname: b"",
            workdir,
            rlimits,
            cap_last: plan.cap_last,
            landlock: plan.landlock,
            landlock_rules,
            filters,
            exec_paths,
            argv,
            envp,
            // SAFETY: the last STACK_LEN bytes of the area, which the bump never hands out.
            stack: unsafe { self.base.add(AREA_LEN - STACK_LEN) },
            stack_size: STACK_LEN,
            wipe: [(0, 0); 2],
            order_area: std::ptr::null_mut(),
            order_area_len: 0,
        };
        // SAFETY: the area starts page-aligned and its first size_of::<ChildPlan>() bytes are
        // kept for this; the old order there is plain data, nothing to drop.
        unsafe { std::ptr::write(self.base as *mut ChildPlan<'static>, order) };
        Ok(())
    }
}

impl Drop for OrderArea {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, which nothing else uses once the holder is gone
        // (the environment drops its holder first).
        unsafe { libc::munmap(self.base as *mut c_void, AREA_LEN) };
    }
}

/// Hands out room in the area from `used` up to `end`.
struct Bump {
    base: *mut u8,
    used: usize,
    end: usize,
}

impl Bump {
    /// A copy of `v` in the area. The `'static` is the area's: it lives as long as the
    /// environment, and the holder reads it only during the run it was written for.
    fn slice<T: Copy>(&mut self, v: &[T]) -> Option<&'static [T]> {
        let align = std::mem::align_of::<T>();
        let start = self.used.checked_add(align - 1)? & !(align - 1);
        let bytes = std::mem::size_of_val(v);
        let stop = start.checked_add(bytes)?;
        if stop > self.end {
            return None;
        }
        self.used = stop;
        // SAFETY: [start, stop) lies inside the mapping, aligned for T, and handed out once.
        unsafe {
            let p = self.base.add(start) as *mut T;
            std::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
            Some(std::slice::from_raw_parts(p, v.len()))
        }
    }

    fn cstr(&mut self, c: &CStr) -> Option<&'static CStr> {
        let bytes = self.slice(c.to_bytes_with_nul())?;
        // SAFETY: a copy of a NUL-terminated string with no inner NUL.
        Some(unsafe { CStr::from_bytes_with_nul_unchecked(bytes) })
    }

    /// A copy of a null-terminated pointer array (argv, envp) and of the strings it points to.
    fn pointers(&mut self, v: &[*const c_char]) -> Option<&'static [*const c_char]> {
        let mut out = Vec::with_capacity(v.len());
        for p in v {
            if p.is_null() {
                out.push(std::ptr::null());
            } else {
                // SAFETY: the caller's array points to NUL-terminated strings it keeps alive.
                let c = unsafe { CStr::from_ptr(*p) };
                out.push(self.cstr(c)?.as_ptr());
            }
        }
        self.slice(&out)
    }
}
