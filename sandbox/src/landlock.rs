//! Landlock: which access rights to handle and grant, decided in the parent from the
//! kernel's ABI version. The child applies them with raw syscalls after pivot_root, because
//! the rules must name the sandbox's own paths (/box, /tmp) which only exist in its mount
//! namespace, and because the child may not allocate (the `landlock` crate does).

use landlock::{Access, AccessFs, ABI};
use std::sync::OnceLock;

/// `struct landlock_ruleset_attr` (as of ABI 6); the size passed to the kernel is cut to
/// what the running ABI knows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RulesetAttr {
    pub handled_access_fs: u64,
    pub handled_access_net: u64,
    pub scoped: u64,
}

/// `struct landlock_path_beneath_attr` is packed in the UAPI.
#[repr(C, packed)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PathBeneathAttr {
    pub allowed_access: u64,
    pub parent_fd: i32,
}

pub(crate) const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
pub(crate) const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;
const ACCESS_NET_BIND_TCP: u64 = 1;
const ACCESS_NET_CONNECT_TCP: u64 = 2;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1;
const SCOPE_SIGNAL: u64 = 2;

/// The Landlock ABI version of the running kernel, 0 when unavailable.
pub fn abi_version() -> u32 {
    static ABI_VERSION: OnceLock<u32> = OnceLock::new();
    *ABI_VERSION.get_or_init(|| {
        // SAFETY: with a null attr, size 0 and the VERSION flag the syscall only returns
        // the ABI version (or an error); it reads and writes no memory.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<RulesetAttr>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if v < 0 {
            0
        } else {
            v as u32
        }
    })
}

/// What the child needs to restrict itself: the attr, its size for this ABI, and the
/// rights granted read-only (the whole tree) and read-write (/box, /tmp, /dev).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub abi: u32,
    pub attr: RulesetAttr,
    pub attr_size: usize,
    pub read_only: u64,
    pub read_write: u64,
    /// `read_write` cut to the rights that apply to a file (a rule on a file that names a
    /// directory right is refused with EINVAL).
    pub read_write_file: u64,
}

impl Plan {
    pub fn for_running_kernel() -> Option<Plan> {
        let abi = abi_version();
        if abi == 0 {
            return None;
        }
        let known = ABI::from(abi as i32);
        let all = AccessFs::from_all(known).bits();
        let read = AccessFs::from_read(known).bits();
        let mut attr = RulesetAttr { handled_access_fs: all, ..Default::default() };
        let mut attr_size = std::mem::size_of::<u64>();
        if abi >= 4 {
            // No TCP rule is added, so handling TCP bind/connect denies all of it: a second
            // wall behind the empty network namespace.
            attr.handled_access_net = ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP;
            attr_size = 2 * std::mem::size_of::<u64>();
        }
        if abi >= 6 {
            // No signals or abstract unix sockets across the Landlock domain's boundary.
            attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
            attr_size = 3 * std::mem::size_of::<u64>();
        }
        let file = AccessFs::from_file(known).bits();
        Some(Plan { abi, attr, attr_size, read_only: read, read_write: all, read_write_file: all & file })
    }
}
