//! CPU time of a run without a cgroup: the sum over every process of its pid namespace,
//! read from /proc. Used only for rootless runs on hosts without a delegated cgroup, on the
//! CPU timer's path; the exact final figure comes from init's RUSAGE_CHILDREN after it has
//! killed and reaped everything.

use std::path::Path;

/// Clock ticks per second for /proc/<pid>/stat's utime and stime.
fn ticks_per_sec() -> u64 {
    // SAFETY: sysconf takes a constant and returns a number.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// User + system CPU, µs, of init's descendants (all the run's processes but init): each
/// live thread's exact runtime from /proc/<pid>/task/<tid>/schedstat (ns), plus what the
/// children they reaped used (cutime/cstime, clock ticks).
pub(crate) fn cpu_us(init: i32) -> u64 {
    let mut ns = 0u64;
    let mut ticks = 0u64;
    let mut stack = children(init);
    let mut seen = 0;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        ns += threads_runtime_ns(pid);
        ticks += reaped_ticks(pid);
        stack.extend(children(pid));
    }
    ns / 1000 + ticks * 1_000_000 / ticks_per_sec()
}

/// Sum of the run time of every thread of `pid`, ns.
fn threads_runtime_ns(pid: i32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Children of every thread of `pid`.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for t in tasks.flatten() {
        let path = t.path().join("children");
        if let Ok(text) = std::fs::read_to_string(&path) {
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

/// cutime + cstime of one process (its reaped children), in clock ticks.
fn reaped_ticks(pid: i32) -> u64 {
    let Ok(text) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) else { return 0 };
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the line, so utime (14) is index 11 here.
    [13, 14].iter().filter_map(|i| fields.get(*i)?.parse::<i64>().ok()).map(|v| v.max(0) as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_child_is_counted() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let mut max = 0;
        while child.try_wait().unwrap().is_none() {
            max = max.max(cpu_us(me));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(max > 0, "the shell's CPU was never seen");
    }
}
