//! Reaping of inits whose run is over but whose exit is not: an init sends its last message
//! once it has reaped every process of its run, and its own exit then tears down its
//! namespaces (the mount namespace's teardown waits for an RCU grace period). Nothing of
//! the run's result depends on that, so the run returns at once and one thread of ours,
//! started the first time it is needed, reaps such inits as they finish.

use crate::sys;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{self, Sender};
use std::sync::OnceLock;

/// The reaper thread's queue; None if the thread could not be started.
static QUEUE: OnceLock<Option<Sender<OwnedFd>>> = OnceLock::new();

/// Reaps the (killed or exiting) process behind `pidfd`: now if it is already dead, else
/// on the reaper thread. If that thread cannot be had, waits for it here.
pub(crate) fn reap(pidfd: OwnedFd) {
    if sys::pidfd_exited(&pidfd) {
        sys::pidfd_wait(&pidfd);
        return;
    }
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        std::thread::Builder::new()
            .name("sandbox-reaper".into())
            .spawn(move || {
                for pidfd in rx {
                    sys::pidfd_wait(&pidfd);
                }
            })
            .ok()
            .map(|_| tx)
    });
    match queue {
        Some(tx) => {
            if let Err(mpsc::SendError(pidfd)) = tx.send(pidfd) {
                sys::pidfd_wait(&pidfd);
            }
        }
        None => sys::pidfd_wait(&pidfd),
    }
}
