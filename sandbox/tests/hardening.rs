//! What a hostile program does to reach the host through the runner's own side: lent
//! directories, files the runner writes, sockets, disk, verdicts it could fake, and what the
//! sandbox's init shows. Each test plants the attack from inside and checks the host.

mod common;
use common::*;
use sandbox::{Command, Status, Stdio};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    c
}

#[test]
fn a_symlink_planted_in_the_box_never_leads_the_runner_to_a_host_file() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let before = std::fs::metadata(&victim).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    // The program swaps a file and a directory of its box for symlinks to the host file
    // and writes through them; then the runner copies the box back.
    let script = format!(
        "rm -rf /box/f /box/sub; ln -s {v} /box/f; ln -s {d} /box/sub; echo pwned > /box/f; \
         echo pwned > /box/sub/victim; chmod 777 /box/f; exit 0",
        v = victim.display(),
        d = victim_dir.path().display()
    );
    let r = run(sh(&script).box_dir(dir.path()));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let after = std::fs::metadata(&victim).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!((after.uid(), after.gid(), after.mode()), (before.uid(), before.gid(), before.mode()));
    // The box on the host holds the program's symlinks, as links.
    assert!(std::fs::symlink_metadata(dir.path().join("f")).unwrap().file_type().is_symlink());
}

#[test]
fn a_rw_bind_inside_the_box_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("inner")).unwrap();
    let err = Command::new("/bin/true")
        .box_dir(dir.path())
        .bind_rw(dir.path().join("inner"), "/data")
        .run()
        .unwrap_err()
        .to_string();
    assert!(err.contains("inside"), "{err}");
}

#[test]
fn system_directories_cannot_be_lent() {
    // Resolved first: /bin is /usr/bin here, and everything under a system tree counts.
    for d in ["/", "/etc", "/usr", "/root", "/bin", "/usr/bin", "/var/lib", "/run", "/tmp"] {
        let err = Command::new("/bin/true").box_dir(d).run().unwrap_err().to_string();
        assert!(err.contains("system directory"), "{d}: {err}");
    }
}

#[test]
fn the_box_keeps_its_owner_and_mode_and_gets_no_setid_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    let before = std::fs::metadata(dir.path()).unwrap();
    // With the default policy, setting a setuid bit fails.
    let r = run_captured(sh("cp /bin/true /box/t && chmod 4755 /box/t; echo $?; chmod 1777 /box").box_dir(dir.path()));
    assert_eq!(stdout_text(&r).trim(), "1", "chmod u+s must fail inside: {r:?}");
    // Without seccomp the bit can be set inside, but never reaches the host.
    let r = run(sh("cp /bin/true /box/u && chmod 6755 /box/u && chmod 1777 /box").seccomp("none").box_dir(dir.path()));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    for name in ["t", "u"] {
        let m = std::fs::metadata(dir.path().join(name)).unwrap();
        assert_eq!(m.mode() & 0o7022, 0, "{name}: mode {:o}", m.mode());
        assert_ne!(m.uid(), 0, "{name} is not root's on the host");
    }
    let after = std::fs::metadata(dir.path()).unwrap();
    assert_eq!((after.uid(), after.gid(), after.mode()), (before.uid(), before.gid(), before.mode()));
}

#[test]
fn two_runs_on_one_directory_at_once_are_refused_and_runs_get_their_own_host_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let first = std::thread::spawn(move || run(sh("sleep 1").box_dir(&path)));
    std::thread::sleep(Duration::from_millis(300));
    let err = sh("true").box_dir(dir.path()).run().unwrap_err();
    assert!(matches!(err, sandbox::Error::Busy(_)), "{err}");
    let other = run(&mut Command::new("/bin/true"));
    let r = first.join().unwrap();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_ne!(r.enforced["host_id"], other.enforced["host_id"], "concurrent runs share a host id");
}

#[test]
fn only_unix_and_inet_sockets_can_be_created() {
    for (family, want) in [(1, "ok"), (2, "ok"), (10, "ok"), (40, "Address family not supported by protocol")] {
        let r = run_captured(&mut c_probe(&["socket", &family.to_string()]));
        assert_eq!(stdout_text(&r).trim(), want, "family {family}: {r:?}");
    }
    for family in [16, 17, 38, 31, 15] {
        let r = run_captured(&mut c_probe(&["socket", &family.to_string()]));
        assert_eq!(stdout_text(&r).trim(), "Address family not supported by protocol", "family {family}");
    }
}

#[test]
fn a_flood_into_an_output_file_stops_at_the_output_limit() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out");
    let r = run(c_probe(&["flood"]).stdout(Stdio::File(file.clone())).output_limit(4 << 20));
    assert_eq!(r.status, Status::OutputLimit, "{r:?}");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 4 << 20, "the file never grows past the limit");
}

#[test]
fn writing_past_the_disk_budget_fails_and_is_output_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = c_probe(&["fill", "200"]);
    c.box_dir(dir.path()).memory(1 << 30).wall_time(Duration::from_secs(20));
    c.config_mut().limits.disk_bytes = Some(64 << 20);
    let r = run_captured(&mut c);
    assert_eq!(r.status, Status::OutputLimit, "{r:?}");
    assert!(stdout_text(&r).contains("No space left on device"), "{}", stdout_text(&r));
    let total: u64 = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(total <= 64 << 20, "{total} bytes reached the host");
}

#[test]
fn signals_the_program_raises_itself_are_only_signaled() {
    for sig in [libc::SIGSYS, libc::SIGXCPU, libc::SIGXFSZ] {
        let r = run(&mut c_probe(&["raise", &sig.to_string()]));
        assert_eq!((r.status, r.signal), (Status::Signaled, Some(sig)), "{r:?}");
        assert_eq!(r.blocked_syscall, None);
    }
}

#[test]
fn the_sandboxs_init_shows_nothing_of_the_runner() {
    let r =
        run_captured(&mut sh("tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/1/environ | wc -c; cat /proc/1/comm"));
    let text = stdout_text(&r);
    assert!(text.starts_with("sandbox-init"), "{text}");
    // Its name, too, is its own, not the runner's thread's (this test's).
    assert_eq!(text.lines().last(), Some("sandbox-init"), "{text}");
    assert!(!text.contains("hardening") && !text.contains("--"), "{text}");
}

#[test]
fn a_file_can_be_bound_read_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("data.txt");
    std::fs::write(&f, "one\n").unwrap();
    let r = run(sh("echo two >> /data.txt").bind_rw(&f, "/data.txt"));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "one\ntwo\n");
    // A file with a second name is refused: writing it back in place would change that too.
    std::fs::hard_link(&f, dir.path().join("other-name")).unwrap();
    let err = sh("echo three >> /data.txt").bind_rw(&f, "/data.txt").run().unwrap_err().to_string();
    assert!(err.contains("hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "one\ntwo\n");
}

#[test]
fn forks_fail_at_the_pids_limit() {
    let r = run_captured(c_probe(&["fork-count"]).pids(16));
    let text = stdout_text(&r);
    let made: u64 = text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    assert!(made < 16, "made {made} children under a limit of 16: {text}");
    assert!(text.contains("Resource temporarily unavailable"), "{text}");
}

#[test]
fn limits_below_their_minimum_are_refused() {
    let err = Command::new("/bin/true").cpu_time(Duration::from_nanos(100)).run().unwrap_err().to_string();
    assert!(err.contains("1 ms"), "{err}");
    let err = Command::new("/bin/true").memory(4096).run().unwrap_err().to_string();
    assert!(err.contains("MiB"), "{err}");
}

#[test]
fn a_cancelled_run_is_cancelled() {
    let cancel = sandbox::Cancel::new().unwrap();
    cancel.trigger();
    let r = c_probe(&["sleep"]).run_cancellable(&cancel).unwrap();
    assert_eq!(r.status, Status::Cancelled, "{r:?}");
}

#[test]
fn the_default_memory_limit_is_applied_and_shown() {
    let r = run(&mut c_probe(&["touch", "600"]));
    assert_eq!(r.status, Status::MemoryLimit, "{r:?}");
    assert!(r.enforced["memory"].contains("default 512 MiB"), "{r:?}");
}

#[test]
fn read_only_binds_are_read_only_all_the_way_down() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    // A writable tmpfs below the bound directory on the host: ours, unmounted at the end.
    let c = std::ffi::CString::new(sub.to_str().unwrap()).unwrap();
    // SAFETY: mount reads NUL-terminated strings that live across the call.
    let r = unsafe { libc::mount(c"tmpfs".as_ptr(), c.as_ptr(), c"tmpfs".as_ptr(), 0, c"size=1m".as_ptr().cast()) };
    assert_eq!(r, 0, "mounting the test's tmpfs: {}", std::io::Error::last_os_error());
    struct Unmount(std::ffi::CString);
    impl Drop for Unmount {
        fn drop(&mut self) {
            // SAFETY: umount2 reads a NUL-terminated path.
            unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _guard = Unmount(c);
    let r = run_captured(sh("touch /data/sub/x 2>/dev/null; echo $?").bind_ro(dir.path(), "/data"));
    assert_eq!(stdout_text(&r).trim(), "1", "a submount of a read-only bind took a write: {r:?}");
    assert!(!sub.join("x").exists());
}

#[test]
fn files_the_program_did_not_touch_come_back_unchanged_and_new_ones_are_not_roots() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine"), "kept\n").unwrap();
    let before = std::fs::metadata(dir.path().join("mine")).unwrap();
    let r = run(sh("cat /box/mine > /dev/null && echo new > /box/new").box_dir(dir.path()));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let after = std::fs::metadata(dir.path().join("mine")).unwrap();
    assert_eq!((after.ino(), after.uid(), after.mode()), (before.ino(), before.uid(), before.mode()), "rewritten");
    let new = std::fs::metadata(dir.path().join("new")).unwrap();
    let owner_expected = if before.uid() == 0 { sandbox::DEFAULT_HOST_ID } else { before.uid() };
    assert_eq!(new.uid(), owner_expected);
    assert_eq!(std::fs::read_to_string(dir.path().join("new")).unwrap(), "new\n");
}

#[test]
fn the_copy_back_changes_only_what_the_program_changed() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let d = dir.path();
    // What the copy-in skips (a fifo, a socket, a device), a file with a second name
    // outside the box, a group-shared setgid directory, and a mount inside the box.
    nix::unistd::mkfifo(&d.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
    let null = nix::sys::stat::makedev(1, 3);
    nix::sys::stat::mknod(
        &d.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        null,
    )
    .unwrap();
    std::fs::write(d.join("linked"), "shared\n").unwrap();
    std::fs::hard_link(d.join("linked"), outside.path().join("other-name")).unwrap();
    std::fs::create_dir(d.join("group")).unwrap();
    std::fs::set_permissions(d.join("group"), std::fs::Permissions::from_mode(0o2775)).unwrap();
    std::fs::write(d.join("group/notes"), "n\n").unwrap();
    std::fs::create_dir(d.join("mnt")).unwrap();
    nix::mount::mount(Some("tmpfs"), &d.join("mnt"), Some("tmpfs"), nix::mount::MsFlags::empty(), None::<&str>)
        .unwrap();
    std::fs::write(d.join("mnt/on-the-mount"), "m\n").unwrap();
    let linked = std::fs::metadata(d.join("linked")).unwrap();

    // A program that only reads leaves the host as it was: no entry removed, rewritten or
    // re-owned, no mode changed.
    let r = run(sh("cat /box/linked /box/group/notes > /dev/null").box_dir(d));
    let after = std::fs::metadata(d.join("linked")).unwrap();
    let group = std::fs::metadata(d.join("group")).unwrap();
    let left: Vec<bool> =
        ["fifo", "sock", "null", "mnt/on-the-mount"].iter().map(|n| d.join(n).symlink_metadata().is_ok()).collect();
    nix::mount::umount(&d.join("mnt")).unwrap();
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(left, [true; 4]);
    assert_eq!((after.ino(), after.nlink(), after.uid()), (linked.ino(), 2, linked.uid()));
    assert_eq!(group.mode() & 0o7777, 0o2775);

    // A program that empties its box removes only what it was lent.
    nix::unistd::mkfifo(&d.join("mnt/fifo-inside"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let r = run(sh("rm -rf /box/* ; ls -A /box").box_dir(d));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let mut names: Vec<_> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    // mnt stays with the fifo the copy-in skipped.
    assert_eq!(names, ["fifo", "mnt", "null", "sock"]);
    assert_eq!(std::fs::read_to_string(outside.path().join("other-name")).unwrap(), "shared\n");
}
