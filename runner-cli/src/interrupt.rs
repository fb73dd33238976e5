//! SIGINT/SIGTERM during a run: the handler only triggers the run's cancel eventfd (one
//! write, async-signal-safe); the run then kills the sandbox and cleans up normally, and the
//! runner exits with 128 + the signal.

use std::sync::atomic::{AtomicI32, Ordering};

static CANCEL_FD: AtomicI32 = AtomicI32::new(-1);
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
    let fd = CANCEL_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        sandbox::Cancel::trigger_raw(fd);
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to `cancel` for the rest of the process's life.
pub fn install(cancel: &sandbox::Cancel) {
    CANCEL_FD.store(cancel.raw_fd(), Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction is plain data; zeroed is a valid start. The handler only does
        // atomic loads/stores and one write(2), all async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal that interrupted the run, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
