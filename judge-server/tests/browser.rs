//! The playground page in a real headless browser: Debian's chromium and chromedriver,
//! driven by selenium (from the package registry, in a virtual environment) against a real
//! server on a loopback port. The steps are in `playground.py`.

mod common;

use std::process::Command;

#[test]
fn the_playground_runs_and_judges_a_python_program_in_a_headless_browser() {
    for exe in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(exe).exists(),
            "{exe} is missing: install Debian's chromium and chromium-driver (`make deps` does)"
        );
    }
    let python = common::venv("selenium-venv", "selenium", "selenium==4.51.0");
    let s = common::start();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/playground.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&s.base)
        .arg(&shots)
        // Selenium's own driver manager stays offline: the driver is Debian's.
        .env("SE_OFFLINE", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("ok run: hello, browser / accepted"), "{text}");
    assert!(
        text.contains("ok judge: wrong_answer [('1', 'accepted'), ('2', 'wrong_answer'), ('3', 'accepted')]"),
        "{text}"
    );
    assert!(text.contains("ok queue: "), "{text}");
}
