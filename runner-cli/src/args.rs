//! The command line: clap definitions and the parsing of sizes and durations.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use sandbox::{Bind, RunConfig, Stdio};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "runner", version, about = "Run untrusted programs in a native Linux sandbox")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run one program in the sandbox and report what it used.
    Run(Box<RunArgs>),
    /// Show what this host supports and what a run here enforces.
    Doctor {
        /// Print the findings as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Remove what runners killed mid-run left behind (their cgroups). `run` does this too
    /// at each start.
    Cleanup {
        /// Also unmount the empty network namespace root runs share (/run/sandbox/net):
        /// runs going on keep it until they end, the next run makes a new one.
        #[arg(long)]
        shared_network: bool,
    },
    /// Judge a submission: compile once, run the tests in order, stop at the first failure.
    Judge(Box<JudgeArgs>),
    /// Build, list or remove root filesystem images (minimal Debian trees, by mmdebstrap).
    Rootfs {
        #[command(subcommand)]
        action: RootfsAction,
        /// Where images are kept (default /var/cache/sandbox-rootfs as root).
        #[arg(long, value_name = "DIR", global = true)]
        cache: Option<PathBuf>,
    },
    /// List the languages, with the toolchain version found here or why one is unavailable.
    Languages {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        /// Print only the Debian packages that would make the unavailable languages
        /// available (what `make languages` installs).
        #[arg(long)]
        packages: bool,
        /// Also load the profiles (*.toml) of this directory.
        #[arg(long, value_name = "DIR")]
        profiles: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum RootfsAction {
    /// Build the image of a recipe (rootfs/NAME.toml).
    Build {
        /// The recipe's name.
        name: String,
        /// Take recipes from this directory instead of the shipped ones.
        #[arg(long, value_name = "DIR")]
        recipes: Option<PathBuf>,
    },
    /// Show what is built, its size and its date.
    List {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Remove a built image.
    Remove {
        /// The image's name.
        name: String,
    },
}

#[derive(clap::Args)]
pub struct JudgeArgs {
    /// Language id (see `runner languages`).
    #[arg(long, value_name = "ID")]
    pub lang: String,
    /// The source files; the first is the main one.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,
    /// Directory of tests: NAME.in with NAME.out or NAME.ans, and an optional problem.toml.
    #[arg(long, value_name = "DIR")]
    pub tests: PathBuf,
    /// tokens (default), lines, exact, float:EPS, or a checker source/executable.
    #[arg(long, value_name = "CHECKER")]
    pub checker: Option<String>,
    /// CPU time per test in seconds (overrides problem.toml; default 1).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_hyphen_values = true)]
    pub time: Option<u64>,
    /// Memory per test (overrides problem.toml; default 256M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub mem: Option<u64>,
    /// Run every test, even after one failed.
    #[arg(long)]
    pub all: bool,
    /// Run each test in its own one-off sandbox instead of one warm environment (which is
    /// the default as root with cgroups; see the README).
    #[arg(long)]
    pub cold: bool,
    /// Print the judgement as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write a JUnit XML report (one testcase per test) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Root filesystem: host, or a built image's name (default: the language's, host).
    #[arg(long, value_name = "host|NAME")]
    pub rootfs: Option<String>,
    /// Where built root filesystems are (default /var/cache/sandbox-rootfs as root).
    #[arg(long, value_name = "DIR")]
    pub rootfs_cache: Option<PathBuf>,
    /// Show where a wrong answer first differs (quotes the tests).
    #[arg(long)]
    pub show_diff: bool,
    /// Also load the profiles (*.toml) of this directory.
    #[arg(long, value_name = "DIR")]
    pub profiles: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// CPU time limit in seconds, fractional allowed (0.25).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_hyphen_values = true)]
    pub time: Option<u64>,
    /// Wall-clock limit in seconds (default: 3 × --time + 1).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, allow_hyphen_values = true)]
    pub wall: Option<u64>,
    /// Memory limit: 64M, 1G, 65536K.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub mem: Option<u64>,
    /// Processes + threads.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=4_194_304))]
    pub pids: Option<u64>,
    /// Largest file the program may write.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub fsize: Option<u64>,
    /// Standard input (default: empty).
    #[arg(long, value_name = "FILE")]
    pub stdin: Option<PathBuf>,
    /// Standard output (default: inherited).
    #[arg(long, value_name = "FILE")]
    pub stdout: Option<PathBuf>,
    /// Standard error (default: inherited).
    #[arg(long, value_name = "FILE")]
    pub stderr: Option<PathBuf>,
    /// Host directory the program sees read-write at /box, its working directory (copied
    /// in before the run and back after it, as root).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Bytes the box and rw binds may hold in all (default 512M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub disk: Option<u64>,
    /// Files the box and rw binds may hold in all (default 10000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub disk_files: Option<u64>,
    /// Bytes of stdout + stderr the runner takes (default 64M); past it: output_limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    pub output: Option<u64>,
    /// Leave the --dir and rw bind directories exactly as they were (do not copy the
    /// program's changes back).
    #[arg(long)]
    pub no_write_back: bool,
    /// Extra bind mount, read-only unless :rw (repeatable).
    #[arg(long, value_name = "SRC[:DST][:rw]", value_parser = parse_bind)]
    pub bind: Vec<Bind>,
    /// Environment variable for the program (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Seccomp policy: default, none, or a JSON policy file.
    #[arg(long, value_name = "default|none|FILE", default_value = "default")]
    pub seccomp: String,
    /// Print the report as one JSON object on stdout (the program's stdout then goes to
    /// --stdout FILE, or is discarded).
    #[arg(long)]
    pub json: bool,
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Host uid/gid the program runs as when the runner is root (never 0). Default: the
    /// first free id of 60000-61023, one per concurrent run.
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u32).range(1..))]
    pub host_id: Option<u32>,
    /// A network namespace of the run's own, never the empty one root runs share where
    /// Landlock keeps them apart (ABI 6 or later). Either way: no interface but a loopback
    /// that is down.
    #[arg(long)]
    pub own_network: bool,
    /// The program and its arguments.
    #[arg(required = true, last = true, value_name = "PROGRAM [ARG]...")]
    pub command: Vec<std::ffi::OsString>,
}

impl RunArgs {
    pub fn into_config(self) -> anyhow::Result<RunConfig> {
        let mut it = self.command.into_iter();
        let program = it.next().context("missing program after --")?;
        if program.is_empty() {
            bail!("the program name is empty");
        }
        if let Some(us) = self.time.filter(|us| *us < 1000) {
            bail!("--time {} s is below the minimum of 0.001 s", us as f64 / 1e6);
        }
        if let Some(us) = self.wall.filter(|us| *us < 1000) {
            bail!("--wall {} s is below the minimum of 0.001 s", us as f64 / 1e6);
        }
        if let Some(b) = self.mem.filter(|b| *b < sandbox::config::MIN_MEMORY_BYTES) {
            bail!(
                "--mem {b} bytes is below the minimum of {}M the sandbox needs",
                sandbox::config::MIN_MEMORY_BYTES >> 20
            );
        }
        if let Some(dir) = &self.dir {
            if dir.exists() && !dir.is_dir() {
                bail!("--dir {}: not a directory", dir.display());
            }
            if !dir.is_dir() {
                bail!("--dir {}: no such directory", dir.display());
            }
        }
        if let Some(f) = &self.stdin {
            // A file, or anything else that reads like one (/dev/null, a pipe from `<(…)`).
            if f.is_dir() {
                bail!("--stdin {}: is a directory", f.display());
            }
            if !f.exists() {
                bail!("--stdin {}: no such file", f.display());
            }
        }
        let mut c = RunConfig::new(program);
        c.args = it.collect();
        c.env = self.env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        c.box_dir = self.dir.map(|d| d.canonicalize().unwrap_or(d));
        c.binds = self.bind;
        c.limits.cpu_time_us = self.time;
        c.limits.wall_time_us = self.wall;
        c.limits.memory_bytes = self.mem;
        c.limits.pids = self.pids;
        c.limits.file_size_bytes = self.fsize;
        c.stdin = self.stdin.map_or(Stdio::Null, Stdio::File);
        c.stdout = match (self.stdout, self.json) {
            (Some(f), _) => Stdio::File(f),
            (None, true) => Stdio::Null,
            (None, false) => Stdio::Inherit,
        };
        c.stderr = self.stderr.map_or(Stdio::Inherit, Stdio::File);
        c.seccomp = sandbox::SeccompChoice::Named(self.seccomp);
        if let Some(id) = self.host_id {
            c.host_id = id;
            c.host_id_count = 1;
        }
        c.limits.disk_bytes = self.disk;
        c.limits.disk_files = self.disk_files;
        c.limits.output_bytes = self.output;
        c.write_back = !self.no_write_back;
        c.own_network = self.own_network;
        Ok(c)
    }
}

/// Seconds (fractional) to microseconds; must be positive and finite.
pub fn parse_seconds(s: &str) -> Result<u64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("'{s}' is not a positive number of seconds"));
    }
    if v < 0.001 {
        return Err(format!("'{s}' s is below the minimum of 0.001 s"));
    }
    if v > 1e6 {
        return Err(format!("'{s}' seconds is too long"));
    }
    Ok((v * 1e6).round() as u64)
}

/// Bytes from `64M`, `1G`, `65536K`, `512` (bytes); K/M/G are binary (KiB, MiB, GiB).
pub fn parse_size(s: &str) -> Result<u64, String> {
    judge::parse_size(s)
}

/// `SRC[:DST][:rw]`.
pub fn parse_bind(s: &str) -> Result<Bind, String> {
    let mut parts: Vec<&str> = s.split(':').collect();
    let writable = parts.len() > 1 && matches!(parts.last(), Some(&"rw") | Some(&"ro")) && {
        let rw = parts.last() == Some(&"rw");
        parts.pop();
        rw
    };
    let (src, dst) = match parts.as_slice() {
        [src] => (*src, None),
        [src, dst] => (*src, Some(PathBuf::from(dst))),
        _ => return Err(format!("'{s}' is not SRC[:DST][:rw]")),
    };
    if src.is_empty() || !src.starts_with('/') {
        return Err(format!("bind source '{src}' must be an absolute path"));
    }
    if let Some(d) = &dst {
        if !d.is_absolute() {
            return Err(format!("bind destination '{}' must be an absolute path", d.display()));
        }
    }
    Ok(Bind { src: PathBuf::from(src), dst, writable })
}

pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// clap's error text on one line: its message lines (not the usage and help hints), joined,
/// without the "error: " prefix.
pub fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    parts.join(" ").trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("65536K"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("64Q").unwrap_err().contains("unknown size unit 'Q'"));
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn seconds_are_positive_and_fractional() {
        assert_eq!(parse_seconds("0.25"), Ok(250_000));
        assert_eq!(parse_seconds("2"), Ok(2_000_000));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("nan").is_err());
        assert!(parse_seconds("abc").is_err());
    }

    #[test]
    fn binds_parse_destination_and_mode() {
        let b = parse_bind("/data:/in:rw").unwrap();
        assert_eq!((b.src, b.dst, b.writable), (PathBuf::from("/data"), Some(PathBuf::from("/in")), true));
        let b = parse_bind("/data").unwrap();
        assert_eq!((b.dst, b.writable), (None, false));
        let b = parse_bind("/data:rw").unwrap();
        assert_eq!((b.dst, b.writable), (None, true));
        assert!(parse_bind("rel:/x").is_err());
    }
}
