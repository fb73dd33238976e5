//! The judge's directories on the host: boxes, checker files, a server's tests.
//!
//! Each is made in the temporary directory, open to its owner only (a box holds a
//! submitter's source; a checker's files hold a hidden test's input and answer), and named
//! `<prefix><pid>-<random>` after the process that made it. A directory is removed when its
//! maker drops it; one left by a process that was killed is removed by the next `sweep` of
//! its prefix, once no process has that pid. (Judges in different pid namespaces must not
//! share a temporary directory: a pid of another namespace looks gone here.)

use std::io;

/// A box: the sources, then what the compiler makes of them.
pub(crate) const BOX_PREFIX: &str = "judge-box-";
/// A custom checker's view of one test: input, output, answer (and a validator's feedback).
pub(crate) const CHECK_PREFIX: &str = "judge-check-";

/// A new directory `<prefix><pid>-<random>` in the temporary directory, mode 0700.
pub fn private_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// Removes what the judge's killed processes left in the temporary directory (boxes and
/// checker files); returns how many directories went.
pub fn sweep_judge_dirs() -> usize {
    sweep(BOX_PREFIX) + sweep(CHECK_PREFIX)
}

/// Removes every directory `<prefix><pid>-*` in the temporary directory that this user
/// owns and whose process is gone; returns how many went. A directory of a live process
/// is never touched, nor one of another user (anyone can make a directory with such a
/// name), nor anything that is not a directory (a symlink with such a name is left alone;
/// the removal never follows one inside).
pub fn sweep(prefix: &str) -> usize {
    use std::os::unix::fs::MetadataExt;
    let tmp = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&tmp) else { return 0 };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()).filter(|p| *p > 0) else {
            continue;
        };
        if sandbox::process_running(pid) {
            continue;
        }
        // (DirEntry::metadata does not follow a symlink: one is not a directory here.)
        let ours = e.metadata().is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && std::fs::remove_dir_all(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A pid no process can have (above the kernel's pid_max): for tests of the sweep.
#[doc(hidden)]
pub fn unused_pid() -> u32 {
    let max = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse::<u32>().ok());
    max.unwrap_or(4_194_304) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_directory_is_its_owners_only_and_named_after_the_process() {
        let d = private_dir("judge-workdir-test-").unwrap();
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(&format!("judge-workdir-test-{}-", std::process::id())), "{name}");
    }

    #[test]
    fn directories_of_gone_processes_are_swept_and_a_live_ones_kept() {
        let prefix = format!("judge-sweep-test-{}-", std::process::id());
        let gone_pid = unused_pid();
        let tmp = std::env::temp_dir();
        let dead = tmp.join(format!("{prefix}{gone_pid}-x"));
        std::fs::create_dir_all(dead.join("inner")).unwrap();
        std::fs::write(dead.join("inner/file"), "left").unwrap();
        let live = private_dir(&prefix).unwrap();
        // Another user's directory with such a name (anyone can make one) is theirs.
        let others = tmp.join(format!("{prefix}{gone_pid}-others"));
        std::fs::create_dir(&others).unwrap();
        std::os::unix::fs::chown(&others, Some(65534), Some(65534)).unwrap();
        // Not a directory: a symlink named like one is left, and so is its target.
        let target = tempfile::tempdir().unwrap();
        let link = tmp.join(format!("{prefix}{gone_pid}-link"));
        std::os::unix::fs::symlink(target.path(), &link).unwrap();
        // A killed process its parent has not reaped yet (a zombie) is gone too.
        let mut zombie = std::process::Command::new("/bin/sleep").arg("100").spawn().unwrap();
        zombie.kill().unwrap();
        let stat = format!("/proc/{}/stat", zombie.id());
        while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let unreaped = tmp.join(format!("{prefix}{}-z", zombie.id()));
        std::fs::create_dir(&unreaped).unwrap();
        assert_eq!(sweep(&prefix), 2);
        zombie.wait().unwrap();
        assert!(!dead.exists() && !unreaped.exists());
        assert!(live.path().is_dir());
        assert!(others.is_dir());
        std::fs::remove_dir(&others).unwrap();
        assert!(target.path().is_dir() && std::fs::symlink_metadata(&link).is_ok());
        std::fs::remove_file(&link).unwrap();
    }
}
