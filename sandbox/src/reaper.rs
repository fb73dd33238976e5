//! Reaping of inits whose run is over but whose exit is not: an init sends its last message
//! once it has reaped every process of its run, and its own exit then tears down its
//! namespaces (the mount namespace's teardown waits for an RCU grace period). Nothing of
//! the run's result depends on that, so the run returns at once and one thread of ours,
//! started the first time it is needed, reaps such inits as they finish, in whatever order
//! they do.

use crate::sys;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

/// The reaper thread's queue, with the pid of the process that started the thread (a
/// process forked from an embedder inherits the queue but not the thread).
static QUEUE: Mutex<Option<(u32, Sender<OwnedFd>)>> = Mutex::new(None);

/// How often the thread looks again at inits still exiting while it has any.
const RECHECK: Duration = Duration::from_millis(5);

/// Reaps the (killed or exiting) process behind `pidfd`: now if it is already dead, else
/// on the reaper thread. If no thread can be had, waits for it here.
pub(crate) fn reap(pidfd: OwnedFd) {
    if sys::pidfd_exited(&pidfd) {
        sys::pidfd_wait(&pidfd);
        return;
    }
    let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
    let me = std::process::id();
    if queue.as_ref().is_none_or(|(pid, _)| *pid != me) {
        // None yet, or the one of the process we were forked from: start ours. A failed
        // start is tried again at the next run.
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        let started = std::thread::Builder::new().name("sandbox-reaper".into()).spawn(move || reap_loop(rx));
        *queue = started.ok().map(|_| (me, tx));
    }
    let pidfd = match queue.as_ref() {
        Some((_, tx)) => match tx.send(pidfd) {
            Ok(()) => return,
            Err(mpsc::SendError(pidfd)) => {
                *queue = None;
                pidfd
            }
        },
        None => pidfd,
    };
    drop(queue);
    sys::pidfd_wait(&pidfd);
}

/// The thread: takes inits from the queue and reaps each as soon as it has exited, so that
/// one slow to exit holds up no other.
fn reap_loop(rx: Receiver<OwnedFd>) {
    let mut pending: Vec<OwnedFd> = Vec::new();
    loop {
        let next = if pending.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(RECHECK)
        };
        match next {
            Ok(pidfd) => pending.push(pidfd),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) if pending.is_empty() => return,
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(RECHECK),
        }
        pending.retain(|pidfd| {
            if sys::pidfd_exited(pidfd) {
                sys::pidfd_wait(pidfd);
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;
    use std::time::Instant;

    fn pidfd_of(child: &std::process::Child) -> OwnedFd {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd (checked below).
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0u32) } as i32;
        assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
        // SAFETY: the fd was just returned to us and nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    /// Whether `pid` is still a process of ours, a zombie included.
    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    // The children are reaped by the code under test, not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    fn a_process_slow_to_exit_holds_up_the_reaping_of_no_other() {
        let slow = std::process::Command::new("sleep").arg("3").spawn().unwrap();
        let fast = std::process::Command::new("sleep").arg("0.2").spawn().unwrap();
        // Handed over while both still run, the slow one first.
        reap(pidfd_of(&slow));
        reap(pidfd_of(&fast));
        let deadline = Instant::now() + Duration::from_millis(1500);
        while exists(fast.id()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!exists(fast.id()), "the fast one was not reaped while the slow one still ran");
        assert!(exists(slow.id()), "the slow one should still be running");
        // SAFETY: kill takes a pid and a signal number.
        unsafe { libc::kill(slow.id() as libc::pid_t, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_millis(1500);
        while exists(slow.id()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!exists(slow.id()), "the slow one was not reaped after it died");
    }
}
