//! Languages as data: one TOML profile per language (`profiles/<id>.toml`), holding how to
//! find the toolchain's version, the source file name, the compile and run stages (argv,
//! environment, limits) and the quirks a language needs, expressed as limits and
//! placeholders (`{mem_mb}`, `{heap_mb}`) rather than code. Nothing per language is written
//! in Rust: adding a language is adding a file.

use crate::size::parse_size;
use crate::JudgeError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The profiles shipped with the project, compiled into the binary (see build.rs), so that
/// the runner works from any directory.
const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_profiles.rs"));

/// One language.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short id used on the command line and in the API (`cpp`, `python3`).
    pub id: String,
    /// Display name with the language version (`C++17 (g++)`).
    pub name: String,
    /// The name the (first) submitted source is written as in /box.
    pub source: String,
    /// argv whose first line of output names the toolchain's version.
    pub version: Vec<String>,
    /// Root filesystem: `host` (default) or the name of a built image.
    #[serde(default = "host")]
    pub rootfs: String,
    /// Extra host paths bound read-only at the same place, when they exist.
    #[serde(default)]
    pub mounts: Vec<PathBuf>,
    /// Seccomp policy name (`default`, `none`) or file.
    #[serde(default = "default_policy")]
    pub seccomp: String,
    /// The Debian packages that provide the toolchain (`make languages` installs them).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The language ids Judge0 CE 1.13.1 uses for this language (its compatible API).
    #[serde(default)]
    pub judge0_ids: Vec<u32>,
    /// The compile stage; absent for interpreted languages.
    #[serde(default)]
    pub compile: Option<Stage>,
    /// The run stage.
    pub run: Stage,
}

fn host() -> String {
    "host".into()
}

fn default_policy() -> String {
    "default".into()
}

/// One stage (compile or run) of a language.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The command; `{mem_mb}` and `{heap_mb}` are replaced by the stage's figures.
    pub argv: Vec<String>,
    /// Environment (PATH is the sandbox's default unless given).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// CPU seconds (compile stage; the run stage takes the problem's).
    pub time: Option<f64>,
    /// Wall seconds.
    pub wall: Option<f64>,
    /// Memory limit (compile stage; the run stage takes the problem's).
    pub memory: Option<String>,
    /// Processes + threads.
    pub pids: Option<u64>,
    /// Bytes of output kept.
    pub output: Option<String>,
    /// A problem's memory limit below this is raised to it (the JVM, the Go runtime and the
    /// dynamic loader need some memory before the program's first line).
    pub min_memory: Option<String>,
    /// `{heap_mb}` is the stage's memory limit minus this (for -Xmx, --max-old-space-size).
    pub heap_reserve: Option<String>,
}

/// The limits one stage runs with, after defaults and quirks.
#[derive(Clone, Debug, PartialEq)]
pub struct StageLimits {
    /// CPU time, µs.
    pub cpu_time_us: u64,
    /// Wall time, µs.
    pub wall_time_us: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Processes + threads.
    pub pids: u64,
    /// Output kept, bytes.
    pub output_bytes: u64,
}

impl Stage {
    fn size(&self, field: &str, v: &Option<String>) -> Result<Option<u64>, String> {
        v.as_deref().map(|s| parse_size(s).map_err(|e| format!("{field}: {e}"))).transpose()
    }

    /// Checks the sizes parse.
    fn validate(&self, stage: &str) -> Result<(), String> {
        if self.argv.is_empty() {
            return Err(format!("[{stage}] argv is empty"));
        }
        for (f, v) in [
            ("memory", &self.memory),
            ("output", &self.output),
            ("min_memory", &self.min_memory),
            ("heap_reserve", &self.heap_reserve),
        ] {
            self.size(f, v).map_err(|e| format!("[{stage}] {e}"))?;
        }
        for (f, v) in [("time", self.time), ("wall", self.wall)] {
            if let Some(t) = v {
                if !(t.is_finite() && t >= 0.001) {
                    return Err(format!("[{stage}] {f} must be at least 0.001 seconds"));
                }
            }
        }
        Ok(())
    }

    /// The memory limit after `min_memory`.
    pub fn memory_for(&self, asked: u64) -> u64 {
        let min = self.size("min_memory", &self.min_memory).ok().flatten().unwrap_or(0);
        asked.max(min)
    }

    /// argv and env with the placeholders filled in for a memory limit.
    pub fn expand(&self, memory_bytes: u64) -> (Vec<String>, Vec<(String, String)>) {
        let mem_mb = memory_bytes >> 20;
        let reserve = self.size("heap_reserve", &self.heap_reserve).ok().flatten().unwrap_or(0) >> 20;
        let heap_mb = mem_mb.saturating_sub(reserve).max(16);
        let fill = |s: &str| s.replace("{mem_mb}", &mem_mb.to_string()).replace("{heap_mb}", &heap_mb.to_string());
        let argv = self.argv.iter().map(|a| fill(a)).collect();
        let env = self.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect();
        (argv, env)
    }

    /// Limits of the compile stage: the profile's own, with defaults.
    pub fn compile_limits(&self) -> StageLimits {
        let time = self.time.unwrap_or(10.0);
        let memory = self.size("memory", &self.memory).ok().flatten().unwrap_or(1 << 30);
        StageLimits {
            cpu_time_us: (time * 1e6) as u64,
            wall_time_us: (self.wall.unwrap_or(3.0 * time + 1.0) * 1e6) as u64,
            memory_bytes: self.memory_for(memory),
            pids: self.pids.unwrap_or(64),
            output_bytes: self.size("output", &self.output).ok().flatten().unwrap_or(1 << 20),
        }
    }

    /// Limits of the run stage: the problem's time, memory and output, the profile's
    /// processes and memory floor.
    pub fn run_limits(&self, time_us: u64, memory: u64, output: u64) -> StageLimits {
        StageLimits {
            cpu_time_us: time_us,
            wall_time_us: time_us.saturating_mul(3).saturating_add(1_000_000),
            memory_bytes: self.memory_for(memory),
            pids: self.pids.unwrap_or(16),
            output_bytes: output,
        }
    }
}

impl Profile {
    /// Parses one profile; `origin` names it in errors, `stem` is the file name's stem.
    pub fn parse(text: &str, origin: &str, stem: &str) -> Result<Profile, JudgeError> {
        let bad = |message: String| JudgeError::Profile { file: origin.to_string(), message };
        let p: Profile = toml::from_str(text).map_err(|e| bad(crate::profile_error_line(&e.to_string())))?;
        if p.id != stem {
            return Err(bad(format!("id {:?} does not match the file name {stem:?}", p.id)));
        }
        if p.source.is_empty() || p.source.contains('/') {
            return Err(bad(format!("source {:?} must be a plain file name", p.source)));
        }
        if p.version.is_empty() {
            return Err(bad("version argv is empty".into()));
        }
        if let Some(c) = &p.compile {
            c.validate("compile").map_err(bad)?;
        }
        p.run.validate("run").map_err(bad)?;
        Ok(p)
    }

    /// Whether the toolchain is on this host, and its version (the first line the version
    /// command prints), or why not.
    pub fn availability(&self) -> Result<String, String> {
        let program = &self.version[0];
        let path =
            find_program(program).ok_or_else(|| format!("{program} not found in /usr/local/bin, /usr/bin, /bin"))?;
        let out = std::process::Command::new(&path)
            .args(&self.version[1..])
            .env_clear()
            .env("PATH", sandbox_path())
            .env("HOME", "/tmp")
            .output()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !out.status.success() {
            return Err(format!("{} exited with {}", self.version.join(" "), out.status));
        }
        let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
        let first =
            String::from_utf8_lossy(&text).lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        Ok(first)
    }
}

fn sandbox_path() -> &'static str {
    "/usr/local/bin:/usr/bin:/bin"
}

/// A program name looked up where the sandbox's host rootfs will find it.
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).exists().then(|| PathBuf::from(name));
    }
    sandbox_path().split(':').map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

/// Every profile: the shipped ones, then `dir`'s (which replace shipped ones of the same id).
#[derive(Clone, Debug, Default)]
pub struct Profiles {
    by_id: BTreeMap<String, Profile>,
}

impl Profiles {
    /// The shipped profiles, and those of `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Profiles, JudgeError> {
        let mut by_id = BTreeMap::new();
        for (id, text) in SHIPPED {
            let p = Profile::parse(text, &format!("profiles/{id}.toml"), id)?;
            by_id.insert(p.id.clone(), p);
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| JudgeError::Input(format!("profiles directory {}: {e}", dir.display())))?;
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().and_then(|x| x.to_str()) != Some("toml") {
                    continue;
                }
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| JudgeError::Input(format!("profile {}: {e}", path.display())))?;
                let p = Profile::parse(&text, &path.display().to_string(), &stem)?;
                by_id.insert(p.id.clone(), p);
            }
        }
        Ok(Profiles { by_id })
    }

    /// The profile of `id`.
    pub fn get(&self, id: &str) -> Result<&Profile, JudgeError> {
        self.by_id.get(id).ok_or_else(|| {
            let known: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
            JudgeError::Input(format!("unknown language {id:?} (known: {})", known.join(", ")))
        })
    }

    /// All profiles, by id.
    pub fn all(&self) -> impl Iterator<Item = &Profile> {
        self.by_id.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_parses() {
        let p = Profiles::load(None).unwrap();
        for id in ["c", "cpp", "cpp20", "python3", "java", "javascript", "rust", "go", "bash"] {
            p.get(id).unwrap();
        }
    }

    #[test]
    fn a_malformed_profile_names_file_line_and_field() {
        let err = Profile::parse(
            "id = \"x\"\nname = \"X\"\nsource = \"a\"\nversion = [\"x\"]\n[run]\nargv = [\"a\"]\nbogus = 1\n",
            "x.toml",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.toml") && err.contains("line 7") && err.contains("bogus"), "{err}");
        let err = Profile::parse(
            "id = \"y\"\nname = \"X\"\nsource = \"a\"\nversion = [\"x\"]\n[run]\nargv = [\"a\"]\n",
            "x.toml",
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn placeholders_follow_the_memory_limit() {
        let s: Stage = toml::from_str("argv = [\"java\", \"-Xmx{heap_mb}m\"]\nheap_reserve = \"64M\"\nmin_memory = \"128M\"\nenv = { M = \"{mem_mb}\" }").unwrap();
        let mem = s.memory_for(64 << 20);
        assert_eq!(mem, 128 << 20);
        let (argv, env) = s.expand(mem);
        assert_eq!(argv, ["java", "-Xmx64m"]);
        assert_eq!(env, [("M".to_string(), "128".to_string())]);
    }
}
