//! The program's standard streams on the host side.
//!
//! Every output stream that is not /dev/null goes through a pipe that the runner reads:
//! captured in memory, written to a file, or copied to the runner's own stdout/stderr. So
//! one byte count bounds all of them (`Limits::output_bytes`), a file never grows past it,
//! and the program never holds the operator's terminal: it cannot change its settings
//! (tcsetattr), read its size or push input into it. A terminal on stdin is relayed the same
//! way. Files are opened here, before the program exists, with `O_NOFOLLOW`.

use crate::config::{RunConfig, Stdio};
use crate::sys;
use crate::Error;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Where the bytes of one output stream go.
enum Sink {
    Capture,
    /// A file, or the runner's own stdout/stderr (a dup).
    Fd(OwnedFd),
}

/// One output stream of the program: the read end of its pipe and where it goes.
struct Output {
    pipe: Option<OwnedFd>,
    sink: Sink,
    captured: Vec<u8>,
}

/// A terminal on the runner's stdin, relayed into a pipe the program reads.
struct InputRelay {
    from: OwnedFd,
    to: Option<OwnedFd>,
    pending: Vec<u8>,
}

/// The host side of the three streams while the run lasts.
pub(crate) struct Streams {
    /// The program's stdin, stdout and stderr, handed to the child.
    pub child: Option<[OwnedFd; 3]>,
    out: Option<Output>,
    err: Option<Output>,
    input: Option<InputRelay>,
    budget: u64,
    /// More bytes came than the budget allows.
    pub over: bool,
    /// Read buffer, allocated on first use (a 64 KiB array on the stack costs its page
    /// faults on every call).
    chunk: Vec<u8>,
}

fn dup_fd(fd: RawFd) -> Result<OwnedFd, Error> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new fd or -1; no memory is involved.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(Error::io(format!("dup of fd {fd}"), std::io::Error::last_os_error()));
    }
    // SAFETY: the fd was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only queries the fd.
    unsafe { libc::isatty(fd) == 1 }
}

fn set_nonblocking(fd: &OwnedFd) {
    // SAFETY: F_GETFL/F_SETFL on an fd we own; no memory is involved.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Opens (creates or truncates) an output file for the program's stream or a report: never
/// through a symlink at the last component, never inherited by a child. Front ends use it to
/// open their report file before the run (after `check_output_path`).
pub fn open_output_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Whether two paths name one file: the same absolute path, or the same inode.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if std::path::absolute(a).ok() == std::path::absolute(b).ok() {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

fn null(write: bool) -> Result<OwnedFd, Error> {
    File::options()
        .read(!write)
        .write(write)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| Error::io("open /dev/null", e))
}

impl Streams {
    /// Opens everything before the run. `stdin_file` is the stdin file already opened by the
    /// caller (safely, see `validate`), when the config names one.
    pub(crate) fn open(cfg: &RunConfig, stdin_file: Option<OwnedFd>) -> Result<Streams, Error> {
        let mut input = None;
        let stdin = match (&cfg.stdin, stdin_file) {
            (Stdio::File(_), Some(fd)) => fd,
            (Stdio::Null, _) => null(false)?,
            (Stdio::Inherit, _) if is_tty(0) => {
                let (r, w) = sys::pipe()?;
                set_nonblocking(&w);
                input = Some(InputRelay { from: dup_fd(0)?, to: Some(w), pending: Vec::new() });
                r
            }
            (Stdio::Inherit, _) => dup_fd(0)?,
            (Stdio::File(p), None) => {
                return Err(Error::config(format!("stdin file {} was not opened", p.display())));
            }
            (Stdio::Capture | Stdio::Stdout, _) => {
                return Err(Error::config("stdin can only be null, inherit or a file"));
            }
        };
        let mut out = None;
        let stdout = Self::output(&cfg.stdout, 1, &mut out)?
            .ok_or_else(|| Error::config("stdout cannot be redirected to stdout"))?;
        // stdout and stderr sent to one file share its pipe, as `>F 2>&1` would: two opens
        // of it would each write from offset 0 over the other.
        let stderr_to = match (&cfg.stdout, &cfg.stderr) {
            (Stdio::File(a), Stdio::File(b)) if same_file(a, b) => &Stdio::Stdout,
            (_, other) => other,
        };
        let mut err = None;
        let stderr = match Self::output(stderr_to, 2, &mut err)? {
            Some(fd) => fd,
            None => stdout.try_clone().map_err(|e| Error::io("dup stdout", e))?,
        };
        Ok(Streams {
            child: Some([stdin, stdout, stderr]),
            out,
            err,
            input,
            budget: cfg.limits.effective_output_bytes(),
            over: false,
            chunk: Vec::new(),
        })
    }

    /// The program's end of one output stream; `slot` gets the runner's end.
    fn output(s: &Stdio, own_fd: RawFd, slot: &mut Option<Output>) -> Result<Option<OwnedFd>, Error> {
        let sink = match s {
            Stdio::Null => return null(true).map(Some),
            Stdio::Stdout => return Ok(None),
            Stdio::Capture => Sink::Capture,
            Stdio::Inherit => Sink::Fd(dup_fd(own_fd)?),
            Stdio::File(p) => Sink::Fd(
                open_output_file(p)
                    .map(OwnedFd::from)
                    .map_err(|e| Error::io(format!("output file {}", p.display()), e))?,
            ),
        };
        let (r, w) = sys::pipe()?;
        *slot = Some(Output { pipe: Some(r), sink, captured: Vec::new() });
        Ok(Some(w))
    }

    /// The fds the supervisor polls for reading: stdout pipe, stderr pipe, relayed terminal.
    pub(crate) fn read_fds(&self) -> [RawFd; 3] {
        let pipe = |o: &Option<Output>| o.as_ref().and_then(|o| o.pipe.as_ref()).map_or(-1, |f| f.as_raw_fd());
        let input =
            self.input.as_ref().filter(|i| i.pending.is_empty() && i.to.is_some()).map_or(-1, |i| i.from.as_raw_fd());
        [pipe(&self.out), pipe(&self.err), input]
    }

    /// The relay's pipe to the program while it has bytes waiting to go in (poll for POLLOUT).
    pub(crate) fn write_fd(&self) -> RawFd {
        self.input.as_ref().filter(|i| !i.pending.is_empty()).and_then(|i| i.to.as_ref()).map_or(-1, |f| f.as_raw_fd())
    }

    /// Moves what is readable on output stream `i` (0 stdout, 1 stderr) to its sink.
    /// Returns true while the stream is open.
    pub(crate) fn pump(&mut self, i: usize) -> bool {
        let Some(o) = (if i == 0 { self.out.as_mut() } else { self.err.as_mut() }) else { return false };
        let Some(pipe) = &o.pipe else { return false };
        // Room for a pipe's worth, not zeroed first (most runs read a few bytes or none).
        let chunk = &mut self.chunk;
        chunk.clear();
        chunk.reserve(65536);
        // SAFETY: reads at most the vector's capacity into its (uninitialised) room; the
        // length then covers only the bytes the kernel wrote.
        let n = unsafe { libc::read(pipe.as_raw_fd(), chunk.as_mut_ptr() as *mut libc::c_void, chunk.capacity()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            return true;
        }
        if n <= 0 {
            o.pipe = None;
            return false;
        }
        let n = n as usize;
        // SAFETY: read wrote exactly n bytes from the start of the buffer (n <= capacity).
        unsafe { chunk.set_len(n) };
        let keep = (n as u64).min(self.budget) as usize;
        self.budget -= keep as u64;
        if keep < n {
            self.over = true;
        }
        match &o.sink {
            Sink::Capture => o.captured.extend_from_slice(&chunk[..keep]),
            Sink::Fd(fd) => {
                if !write_all(fd, &chunk[..keep]) {
                    // Nobody reads the runner's end any more (`runner run … | head -1`):
                    // the program's pipe loses its reader too, so its next write meets
                    // EPIPE or SIGPIPE, as it would without the sandbox in between.
                    o.pipe = None;
                    return false;
                }
            }
        }
        true
    }

    /// Moves bytes from the relayed terminal towards the program.
    pub(crate) fn pump_input(&mut self) {
        let Some(relay) = self.input.as_mut() else { return };
        let Some(to) = &relay.to else { return };
        if relay.pending.is_empty() {
            let mut chunk = [0u8; 4096];
            // SAFETY: reads at most chunk.len() bytes into `chunk`.
            let n = unsafe { libc::read(relay.from.as_raw_fd(), chunk.as_mut_ptr() as *mut libc::c_void, chunk.len()) };
            if n <= 0 {
                // End of input (or the terminal went away): the program sees EOF.
                relay.to = None;
                return;
            }
            relay.pending.extend_from_slice(&chunk[..n as usize]);
        }
        // SAFETY: writes at most pending.len() bytes from `pending`; the pipe is non-blocking.
        let n =
            unsafe { libc::write(to.as_raw_fd(), relay.pending.as_ptr() as *const libc::c_void, relay.pending.len()) };
        if n > 0 {
            relay.pending.drain(..n as usize);
        } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPIPE) {
            relay.to = None;
        }
    }

    /// Reads what is left once every process of the run is gone; returns the captures.
    pub(crate) fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        while self.pump(0) {}
        while self.pump(1) {}
        let take = |o: Option<Output>| o.map(|o| o.captured).unwrap_or_default();
        (take(self.out), take(self.err))
    }
}

/// Writes `buf` to `fd`; false when `fd` is a pipe nobody reads any more (EPIPE).
fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: writes at most buf.len() bytes from `buf`.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr() as *const libc::c_void, buf.len()) };
        let err = std::io::Error::last_os_error();
        if n < 0 && err.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n < 0 && err.raw_os_error() == Some(libc::EPIPE) {
            return false;
        }
        if n <= 0 {
            // Another failure (a full disk): the bytes are dropped, and the program goes on.
            return true;
        }
        buf = &buf[n as usize..];
    }
    true
}
