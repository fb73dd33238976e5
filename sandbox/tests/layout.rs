//! The cgroup layout a run used, and that its figures came from that layout's own files.
//! The VM test bed (tests/vm) sets SANDBOX_EXPECT_CGROUP to the layout it booted with.

mod common;
use common::*;
use sandbox::Status;

#[test]
fn runs_use_the_hosts_cgroup_layout_and_its_accounting_files() {
    let r = run(c_probe(&["touch", "16"]).memory(256 << 20));
    assert_eq!(r.status, Status::Ok, "{r:?}");
    match std::env::var("SANDBOX_EXPECT_CGROUP") {
        Ok(expected) => assert_eq!(r.cgroup, expected, "{r:?}"),
        // SAFETY: geteuid has no preconditions.
        Err(_) if unsafe { libc::geteuid() } == 0 => assert_ne!(r.cgroup, "none", "root always gets a cgroup: {r:?}"),
        Err(_) => {}
    }
    match r.cgroup.as_str() {
        "v2" => {
            assert_eq!(r.peak_memory_source, "memory.peak");
            assert!(r.enforced["kill"].contains("cgroup.kill"), "{r:?}");
            assert!(r.enforced["memory"].contains("memory.max"), "{r:?}");
        }
        "v1" => {
            assert_eq!(r.peak_memory_source, "memory.max_usage_in_bytes");
            assert!(r.enforced["memory"].contains("memory.limit_in_bytes"), "{r:?}");
        }
        _ => assert_eq!(r.peak_memory_source, "ru_maxrss"),
    }
    assert!(r.peak_memory_bytes >= 16 << 20, "{r:?}");
}
