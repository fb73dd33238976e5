//! The parent's watch over a running program: its exit, the CPU and wall timers, blocked
//! syscalls, the output streams and cancellation, all as events on one poll. Limits are
//! enforced here by killing the whole run; the reason is recorded so the status comes from
//! the mechanism that acted.

use crate::cgroup::RunCgroup;
use crate::child::{self, Msg};
use crate::config::RunConfig;
use crate::measure::{Ending, Kill};
use crate::seccomp;
use crate::spawn::Cancel;
use crate::streams::Streams;
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd};

/// Smallest CPU timer step: bounds how far past its CPU limit a run can get.
const MIN_CPU_STEP_US: u64 = 500;

/// Where the run's CPU usage so far is read from.
pub(crate) enum CpuSource<'a> {
    /// The run's cgroup: every process of the run, exact.
    Cgroup(&'a RunCgroup),
    /// No cgroup: the processes of the run's pid namespace, read from /proc.
    Procfs(i32),
}

impl CpuSource<'_> {
    fn usage_us(&self) -> Option<u64> {
        match self {
            CpuSource::Cgroup(cg) => cg.cpu_usage_us().ok(),
            CpuSource::Procfs(init) => Some(crate::proctree::cpu_us(*init)),
        }
    }
}

/// Everything the watch needs.
pub(crate) struct Watch<'a> {
    pub cfg: &'a RunConfig,
    pub sock: &'a OwnedFd,
    pub pidfd: &'a OwnedFd,
    pub cg: Option<&'a RunCgroup>,
    pub cpu: CpuSource<'a>,
    pub listener: Option<OwnedFd>,
    pub cancel: Option<&'a Cancel>,
    pub streams: Streams,
    /// CLOCK_MONOTONIC ns of the program's execve.
    pub t0: i64,
    /// A warm run: the holder's order pipe, told to kill the run's processes (HOLDER_KILL).
    /// `pidfd` is then the holder's, which lives on after the run: the run ends with the
    /// holder's MSG_EXITED (sent once every process of the run is reaped), or its death.
    pub holder: Option<std::os::fd::RawFd>,
}

/// Watches the run until every process of it is gone: init's last message (it has reaped
/// them all) or init's death.
pub(crate) fn watch(w: Watch) -> Result<Ending, String> {
    let Watch { cfg, sock, pidfd, cg, cpu, listener, cancel, mut streams, t0, holder } = w;
    let wall_us = cfg.limits.effective_wall_us();
    let wall_timer = sys::Timer::new().map_err(|e| format!("timerfd: {e}"))?;
    wall_timer.arm_at_ns(t0 + wall_us as i64 * 1000).map_err(|e| format!("timerfd: {e}"))?;
    let cpu_limit = cfg.limits.cpu_time_us;
    let cpu_timer = sys::Timer::new().map_err(|e| format!("timerfd: {e}"))?;
    let cpus = sys::online_cpus();
    if let Some(limit) = cpu_limit {
        cpu_timer.arm_in_us((limit / cpus).max(MIN_CPU_STEP_US)).map_err(|e| format!("timerfd: {e}"))?;
    }
    let mut ending = Ending { t0, ..Default::default() };
    let mut run_over = false;
    // The listener reports POLLHUP for good once no filtered process is left.
    let mut listener_live = listener.is_some();

    while !run_over {
        let [out_fd, err_fd, in_fd] = streams.read_fds();
        // Slots: 0 sock, 1 pidfd, 2 wall, 3 cpu, 4 listener, 5 cancel, 6 stdout, 7 stderr,
        // 8 terminal in, 9 relay out.
        let mut pfds = [
            sys::pollfd(sock.as_raw_fd()),
            sys::pollfd(pidfd.as_raw_fd()),
            sys::pollfd(wall_timer.raw()),
            sys::pollfd(cpu_timer.raw()),
            sys::pollfd(listener.as_ref().filter(|_| listener_live).map_or(-1, |f| f.as_raw_fd())),
            sys::pollfd(cancel.map_or(-1, |c| c.raw_fd())),
            sys::pollfd(out_fd),
            sys::pollfd(err_fd),
            sys::pollfd(in_fd),
            libc::pollfd { fd: streams.write_fd(), events: libc::POLLOUT, revents: 0 },
        ];
        if ending.kill.is_some() {
            // Already killed: only wait for init's death and drain output.
            for p in &mut pfds[2..6] {
                p.fd = -1;
            }
        }
        sys::poll(&mut pfds, -1);
        if pfds[0].revents != 0 {
            while let Some((m, _)) = sys::recv_msg_nonblocking(sock) {
                // Init's (or the holder's) last word comes once it has reaped every process
                // of the run: the run is over then, and init's own exit (tearing down its
                // namespaces, an RCU grace period among it) is not waited for here.
                if on_message(&m, cg, &mut ending, holder.is_some()) {
                    run_over = true;
                }
            }
        }
        if pfds[1].revents != 0 {
            run_over = true;
        }
        if pfds[2].revents != 0 {
            wall_timer.read();
            stop(pidfd, holder, cg, &cpu, &mut ending, Kill::Wall);
        }
        if pfds[3].revents != 0 {
            cpu_timer.read();
            if let (Some(limit), Some(used)) = (cpu_limit, cpu.usage_us()) {
                if used >= limit {
                    ending.cpu_at_kill_us = Some(used);
                    stop(pidfd, holder, cg, &cpu, &mut ending, Kill::Cpu);
                } else {
                    // At most `cpus` CPUs can burn the budget at once: waking after
                    // remaining/cpus of wall time cannot overshoot by more than one step.
                    // (The kernel brings a running task's usage up to date at each tick, so
                    // the reading itself may lag by one tick: 4 ms at HZ=250.)
                    let _ = cpu_timer.arm_in_us(((limit - used) / cpus).max(MIN_CPU_STEP_US));
                }
            }
        }
        // POLLIN means a notification is waiting; only then is RECV sure not to block (it
        // ignores O_NONBLOCK on older kernels). POLLHUP alone: no filtered process is left.
        if pfds[4].revents & libc::POLLIN != 0 {
            if let Some((nr, arch)) = listener.as_ref().and_then(sys::seccomp_notif_recv) {
                ending.blocked = Some(seccomp::describe_notification(nr, arch));
                stop(pidfd, holder, cg, &cpu, &mut ending, Kill::Syscall);
            }
        } else if pfds[4].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            listener_live = false;
        }
        if pfds[5].revents != 0 {
            stop(pidfd, holder, cg, &cpu, &mut ending, Kill::Cancelled);
        }
        for (slot, i) in [(6, 0), (7, 1)] {
            if pfds[slot].revents != 0 {
                streams.pump(i);
            }
        }
        if pfds[8].revents != 0 || pfds[9].revents != 0 {
            streams.pump_input();
        }
        if streams.over && ending.kill.is_none() {
            stop(pidfd, holder, cg, &cpu, &mut ending, Kill::Output);
        }
    }
    // Messages sent just before init died, if its death came first in the poll.
    if holder.is_none() && ending.exit.is_none() {
        while let Some((m, _)) = sys::recv_msg_nonblocking(sock) {
            on_message(&m, None, &mut ending, false);
        }
    }
    ending.t_end = sys::now_ns();
    // Every process of the run is gone once init is: read what is left in the pipes.
    let over = streams.over;
    let (stdout, stderr) = streams.finish();
    ending.stdout = stdout;
    ending.stderr = stderr;
    ending.output_over |= over;
    Ok(ending)
}

/// Takes one message of the run's init (or holder); true for its last (MSG_EXITED).
fn on_message(m: &Msg, cg: Option<&RunCgroup>, ending: &mut Ending, warm: bool) -> bool {
    // CPU as of the program's end: init's own work after it (killing and reaping what is
    // left, tearing down its copy of the runner's address space) is the sandbox's cost.
    // A warm run's holder is not in the run's cgroup, so nothing of its work is counted
    // there: the usage it read at the reap is all that is needed now, and the user/system
    // split comes from the figures read after the run.
    if m.kind == child::MSG_PROGRAM_REAPED && ending.exit_stats.is_none() && warm && m.v[0] >= 0 {
        let cpu_us = m.v[0] as u64;
        ending.exit_stats = Some(crate::cgroup::CgroupStats { cpu_us, ..Default::default() });
    }
    if m.kind == child::MSG_PROGRAM_REAPED && ending.exit_stats.is_none() {
        ending.exit_stats = cg.and_then(|c| c.stats().ok());
        // Init read the usage itself right at the reap: nothing after it is counted.
        if let (Some(s), true) = (ending.exit_stats.as_mut(), m.v[0] >= 0) {
            s.cpu_us = m.v[0] as u64;
        }
    }
    if m.kind == child::MSG_EXITED {
        ending.exit = Some(m.v);
        if ending.exit_stats.is_none() {
            ending.exit_stats = cg.and_then(|c| c.stats().ok());
        }
        return true;
    }
    false
}

/// Kills the run; without a cgroup, first reads the CPU its processes used, since init
/// (which would count them after reaping) dies with the kill.
fn stop(
    pidfd: &OwnedFd,
    holder: Option<std::os::fd::RawFd>,
    cg: Option<&RunCgroup>,
    cpu: &CpuSource,
    ending: &mut Ending,
    why: Kill,
) {
    if ending.kill.is_none() && ending.cpu_at_kill_us.is_none() {
        if let CpuSource::Procfs(_) = cpu {
            ending.cpu_at_kill_us = cpu.usage_us();
        }
    }
    match holder {
        Some(orders) => {
            // A warm run: the holder kills every process of it (not itself: it is the
            // environment, and its pidfd is the one we hold).
            // SAFETY: writes one byte from a literal to the holder's pipe, which the caller
            // keeps open for the whole run.
            unsafe { libc::write(orders, [child::HOLDER_KILL].as_ptr() as *const libc::c_void, 1) };
            kill_run(None, cg, ending, why);
        }
        None => kill_run(Some(pidfd), cg, ending, why),
    }
}

/// Ends the run: SIGKILL to init kills every process of its pid namespace (v1 and v2); on
/// v2 `cgroup.kill` also reaches anything that might have left the namespace's view.
pub(crate) fn kill_run(pidfd: Option<&OwnedFd>, cg: Option<&RunCgroup>, ending: &mut Ending, why: Kill) {
    if ending.kill.is_none() {
        ending.kill = Some(why);
        ending.t_kill = sys::now_ns();
    }
    if let Some(pidfd) = pidfd {
        sys::pidfd_kill(pidfd);
    }
    if let Some(cg) = cg {
        cg.kill();
    }
}
