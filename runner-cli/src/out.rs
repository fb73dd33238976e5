//! The runner's own stdout and stderr, written without panicking: `println!` panics when
//! stdout is a closed pipe (`runner judge … | head -1`) or a full disk. A failed write to
//! stdout is said once on stderr, the rest of stdout is dropped, and the runner exits 125 at
//! the end (the run or the judging itself goes on and is cleaned up as usual). A failed
//! write to stderr has nowhere to be reported and is ignored.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `args` and a newline to stdout, flushed.
pub(crate) fn stdout(args: std::fmt::Arguments) {
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    if let Err(e) = written {
        STDOUT_FAILED.store(true, Ordering::Relaxed);
        stderr(format_args!("runner: writing to stdout failed ({e}); the rest of the output is dropped"), true);
    }
}

/// Writes `args` (and a newline if `newline`) to stderr; errors are ignored.
pub(crate) fn stderr(args: std::fmt::Arguments, newline: bool) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| if newline { err.write_all(b"\n") } else { Ok(()) });
}

/// Whether a write to stdout failed.
pub(crate) fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// `println!` that does not panic (see the module).
macro_rules! outln {
    ($($t:tt)*) => { $crate::out::stdout(format_args!($($t)*)) };
}

/// `eprintln!` that does not panic.
macro_rules! errln {
    ($($t:tt)*) => { $crate::out::stderr(format_args!($($t)*), true) };
}

/// `eprint!` that does not panic.
macro_rules! err {
    ($($t:tt)*) => { $crate::out::stderr(format_args!($($t)*), false) };
}

pub(crate) use {err, errln, outln};
