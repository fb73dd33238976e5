//! The host tree the sandbox sees by default: read-only binds of the system directories and
//! the few /etc files programs need. Never /root, /home, /etc/shadow, the project's files or
//! the runner's sockets: nothing is visible unless it is listed here or asked for.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One entry of the default tree.
#[derive(Clone, Debug)]
pub(crate) enum HostEntry {
    /// A directory or file bound read-only: (path inside, source on the host).
    Bind(PathBuf, PathBuf),
    /// A symlink recreated with the same target (merged-/usr systems: /bin -> usr/bin).
    Symlink(PathBuf, PathBuf),
}

const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/alternatives"];
const ETC_FILES: &[&str] =
    &["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf"];

/// The default tree for this host, found once.
pub(crate) fn host_entries() -> &'static [HostEntry] {
    static ENTRIES: OnceLock<Vec<HostEntry>> = OnceLock::new();
    ENTRIES.get_or_init(|| entries_in(Path::new("/")))
}

/// The same entries taken from a built root filesystem image (a directory holding a
/// minimal Debian tree): binds of `<image>/usr` at /usr and so on, the image's own symlinks
/// (merged /usr) recreated.
pub(crate) fn entries_in(image: &Path) -> Vec<HostEntry> {
    SYSTEM_DIRS
        .iter()
        .chain(ETC_FILES)
        .filter_map(|p| {
            let inside = Path::new(p);
            let path = image.join(inside.strip_prefix("/").unwrap_or(inside));
            let meta = path.symlink_metadata().ok()?;
            if meta.file_type().is_symlink() {
                Some(HostEntry::Symlink(inside.to_path_buf(), std::fs::read_link(&path).ok()?))
            } else {
                Some(HostEntry::Bind(inside.to_path_buf(), path))
            }
        })
        .collect()
}

/// /etc/passwd and /etc/group inside: the sandbox user owns /box.
pub(crate) fn passwd(id: u32) -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{id}:{id}:sandbox:/box:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
}

pub(crate) fn group(id: u32) -> String {
    format!("root:x:0:\nsandbox:x:{id}:\nnogroup:x:65534:\n")
}

/// Device nodes bound from the host into the sandbox's /dev.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];
