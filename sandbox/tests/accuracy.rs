//! The figures people pick a judge sandbox for. Each test holds a lock so that the runs of
//! this file do not compete with each other for the two CPUs.

mod common;
use common::*;
use sandbox::Status;
use std::sync::Mutex;
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn busy_loop_cpu_time_matches_the_programs_own_getrusage_within_2_ms() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for ms in ["200", "700"] {
        let r = run_captured(&mut c_probe(&["busy", ms]));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        let own: i64 = stdout_text(&r).trim().parse().unwrap();
        let diff = r.cpu_time_us as i64 - own;
        // The run's figure also holds what the program's own getrusage cannot see: its exit
        // path and init's reap (about 0.5 ms on a quiet machine, up to ~1.3 ms on a loaded one).
        assert!(diff.abs() <= 2000, "reported {} µs, the program's getrusage {own} µs", r.cpu_time_us);
        assert_eq!(r.user_time_us + r.sys_time_us, r.cpu_time_us);
    }
}

#[test]
fn peak_memory_is_within_2_percent_of_what_was_touched() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let baseline = run(&mut c_probe(&["touch", "0"])).peak_memory_bytes as i64;
    for mib in [16i64, 64, 256] {
        let r = run(c_probe(&["touch", &mib.to_string()]).memory(1 << 30));
        assert_eq!(r.status, Status::Ok, "{r:?}");
        let touched = mib << 20;
        let measured = r.peak_memory_bytes as i64 - baseline;
        assert!(
            (measured - touched).abs() <= touched / 50,
            "{mib} MiB touched: peak {} bytes, baseline {baseline}, source {}",
            r.peak_memory_bytes,
            r.peak_memory_source
        );
        assert!(r.max_rss_bytes as i64 >= touched, "ru_maxrss {} for {mib} MiB", r.max_rss_bytes);
    }
}

#[test]
fn a_cpu_loop_with_a_1_s_limit_is_stopped_by_1_010_s() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = run(c_probe(&["spin"]).cpu_time(Duration::from_secs(1)));
    assert_eq!(r.status, Status::TimeLimit, "{r:?}");
    assert!((1_000_000..=1_010_000).contains(&r.cpu_time_us), "cpu {} µs", r.cpu_time_us);
}

#[test]
fn a_sleeper_with_a_half_second_wall_limit_is_killed_within_10_ms() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = run(c_probe(&["sleep"]).wall_time(Duration::from_millis(500)));
    assert_eq!(r.status, Status::WallTimeLimit, "{r:?}");
    assert!((500_000..=510_000).contains(&r.wall_time_us), "wall {} µs", r.wall_time_us);
}

#[test]
fn setup_time_is_reported_apart_and_not_charged() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let r = run(&mut c_probe(&["exit", "0"]));
    assert!(r.setup_time_us > 0, "{r:?}");
    // An empty program: a few ms of CPU at most even in a debug build (exec, dynamic loader).
    assert!(r.cpu_time_us < 20_000, "{r:?}");
}
