//! The per-thread pool of warm environments: a judged submission's environment is emptied
//! and serves the next submission that fits it, which sees nothing of the earlier one.
//! (Runs the sandbox for real: root with cgroups, as CI is.)

use judge::{Options, Problem, Profiles, Submission, Verdict};

fn problem(expected: &str) -> (tempfile::TempDir, Problem) {
    let dir = tempfile::tempdir().unwrap();
    for t in ["1", "2"] {
        std::fs::write(dir.path().join(format!("{t}.in")), "").unwrap();
        std::fs::write(dir.path().join(format!("{t}.out")), expected).unwrap();
    }
    let p = Problem::load(dir.path()).unwrap();
    (dir, p)
}

fn sub(language: &str, source: &str) -> Submission {
    Submission { language: language.into(), sources: vec![("x".into(), source.as_bytes().to_vec())] }
}

#[test]
fn a_recycled_environment_serves_the_next_submission_with_nothing_of_the_last() {
    let profiles = Profiles::load(None).unwrap();
    let opts = Options { pool: 2, ..Default::default() };
    assert_eq!(judge::pool::idle_here(), 0);

    // A C submission: its compile leaves a binary in the kept box; its runs try to leave
    // files in /box and /tmp.
    let (_d, p) = problem("ok\n");
    let c = r#"#include <stdio.h>
int main(void) { fopen("/box/planted", "w"); fopen("/tmp/planted", "w"); puts("ok"); return 0; }"#;
    let j = judge::judge(&profiles, &sub("c", c), &p, &opts, &mut |_| {}).unwrap();
    assert_eq!(j.verdict, Verdict::Accepted, "{j:?}");
    assert!(j.compile.as_ref().unwrap().warm, "{j:?}");
    assert_eq!(judge::pool::idle_here(), 1, "kept for the next submission");

    // The next submissions (Python fits the same environment on the host's root) see only
    // their own source: no binary, no planted file, an empty /tmp.
    let (_d, p) = problem("['main.py'] []\n");
    let py = "import os\nprint(sorted(os.listdir('/box')), os.listdir('/tmp'))\n";
    for round in 0..2 {
        let j = judge::judge(&profiles, &sub("python3", py), &p, &opts, &mut |_| {}).unwrap();
        assert_eq!(j.verdict, Verdict::Accepted, "round {round}: {j:?}");
        assert!(j.compile.as_ref().unwrap().warm, "{j:?}");
        assert_eq!(judge::pool::idle_here(), 1, "round {round}: the same environment, recycled, not a new one");
    }

    // Without a pool, nothing is kept.
    std::thread::spawn(move || {
        let opts = Options { pool: 0, ..Default::default() };
        let j = judge::judge(&profiles, &sub("python3", py), &p, &opts, &mut |_| {}).unwrap();
        assert_eq!(j.verdict, Verdict::Accepted, "{j:?}");
        assert_eq!(judge::pool::idle_here(), 0);
    })
    .join()
    .unwrap();
}
