//! What the HTTP tests share: a real server process on a loopback port, requests and their
//! decoding, Python virtual environments for the client-side tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `judge-server` with its own database; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on a free loopback port with a fresh database.
pub fn start() -> Server {
    start_with(&[])
}

pub fn start_with(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let workers: &[&str] = if extra.contains(&"--workers") { &[] } else { &["--workers", "2"] };
    let mut child = Command::new(env!("CARGO_BIN_EXE_judge-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(workers)
        .args(extra)
        .arg("--db")
        .arg(dir.path().join("judge.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    Server { child, base, _dir: dir }
}

pub fn post(s: &Server, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = ureq::post(&format!("{}{path}", s.base)).send_json(body);
    decode(r)
}

pub fn get(s: &Server, path: &str) -> (u16, serde_json::Value) {
    decode(ureq::get(&format!("{}{path}", s.base)).call())
}

pub fn decode(r: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    match r {
        Ok(resp) => (resp.status(), resp.into_json().unwrap_or_default()),
        Err(ureq::Error::Status(code, resp)) => (code, resp.into_json().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    }
}

/// A virtual environment under the tests' target directory with `package` (imported as
/// `module`) installed from the package registry; returns its python.
pub fn venv(name: &str, module: &str, package: &str) -> PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    if !python.exists() {
        let st = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().unwrap();
        assert!(st.success(), "python3 -m venv failed");
    }
    let has = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    if !has {
        let out = Command::new(venv.join("bin/pip")).args(["install", "-q", package]).output().unwrap();
        assert!(out.status.success(), "pip install {package}: {}", String::from_utf8_lossy(&out.stderr));
    }
    python
}

/// Asks `probe` every 20 ms until it answers `Ok`; fails after `limit`, saying `what` and the
/// last state the probe gave.
pub fn poll<T>(limit: std::time::Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = std::time::Instant::now();
    loop {
        match probe() {
            Ok(v) => return v,
            Err(state) => assert!(start.elapsed() < limit, "{what}: {state}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
