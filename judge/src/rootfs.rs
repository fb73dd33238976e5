//! Built root filesystems: a minimal Debian tree per language, made with mmdebstrap from a
//! recipe (`rootfs/<name>.toml`), unpacked once into a cache directory and mounted
//! read-only as the sandbox's system directories, so a program sees only its own
//! toolchain. Never Docker.

use crate::JudgeError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The recipes shipped with the project (see build.rs).
const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_rootfs.rs"));

/// How to build one image.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The image's name (the file's stem).
    pub name: String,
    /// Debian suite (`bookworm`).
    #[serde(default = "bookworm")]
    pub suite: String,
    /// mmdebstrap variant (`essential`: the smallest tree with apt's essentials).
    #[serde(default = "essential")]
    pub variant: String,
    /// Packages on top of the variant.
    #[serde(default)]
    pub packages: Vec<String>,
}

fn bookworm() -> String {
    "bookworm".into()
}

fn essential() -> String {
    "essential".into()
}

/// What `list` shows of a built image.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Built {
    /// The recipe it was built from.
    pub recipe: Recipe,
    /// When the build finished, seconds since the epoch.
    pub built_at: u64,
    /// How long the build took, seconds.
    pub build_seconds: f64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// The directory images live in: `--cache`, else `$RUNNER_ROOTFS_CACHE`, else
/// /var/cache/sandbox-rootfs (root) or `$XDG_CACHE_HOME`/~/.cache/sandbox-rootfs.
pub fn cache_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("RUNNER_ROOTFS_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/cache/sandbox-rootfs");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("sandbox-rootfs")
}

fn check_name(name: &str) -> Result<(), JudgeError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(JudgeError::Input(format!("rootfs name {name:?}: use letters, digits, - and _")));
    }
    Ok(())
}

/// The shipped recipe `name`, or the file `dir/name.toml` when a recipes directory is given.
pub fn recipe(name: &str, dir: Option<&Path>) -> Result<Recipe, JudgeError> {
    check_name(name)?;
    let (text, origin) = match dir.map(|d| d.join(format!("{name}.toml"))).filter(|p| p.is_file()) {
        Some(p) => (
            std::fs::read_to_string(&p).map_err(|e| JudgeError::Input(format!("{}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        None => match SHIPPED.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => (text.to_string(), format!("rootfs/{name}.toml")),
            None => {
                let known: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
                return Err(JudgeError::Input(format!("no rootfs recipe {name:?} (shipped: {})", known.join(", "))));
            }
        },
    };
    let r: Recipe = toml::from_str(&text).map_err(|e| JudgeError::Problem {
        file: origin.clone(),
        message: crate::profile_error_line(&e.to_string()),
    })?;
    if r.name != name {
        return Err(JudgeError::Problem {
            file: origin,
            message: format!("name {:?} does not match the file name", r.name),
        });
    }
    Ok(r)
}

/// The root directory of a built image, if it is built.
pub fn image_root(cache: &Path, name: &str) -> Result<PathBuf, JudgeError> {
    check_name(name)?;
    let root = cache.join(name).join("root");
    if !root.join("usr").is_dir() {
        return Err(JudgeError::Input(format!(
            "rootfs {name} is not built in {} (runner rootfs build {name})",
            cache.display()
        )));
    }
    Ok(root)
}

/// The host's own apt sources, handed to mmdebstrap as its mirrors (it pastes a file it is
/// given into the new tree's sources): the image comes from where this host's packages come.
fn host_sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let list = Path::new("/etc/apt/sources.list");
    if std::fs::read_to_string(list).is_ok_and(|t| t.lines().any(|l| l.trim_start().starts_with("deb"))) {
        out.push(list.to_path_buf());
    }
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sources" || x == "list"))
            .collect();
        more.sort();
        out.extend(more);
    }
    out
}

fn du(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = p.symlink_metadata() else { continue };
        total += meta.blocks() * 512;
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
    total
}

/// Builds `recipe` into the cache with mmdebstrap (rootless: `--mode=unshare`), replacing
/// an older build only once the new one is complete.
pub fn build(recipe: &Recipe, cache: &Path) -> Result<Built, JudgeError> {
    check_name(&recipe.name)?;
    if !Path::new("/usr/bin/mmdebstrap").exists() {
        return Err(JudgeError::Input("mmdebstrap is not installed (apt-get install mmdebstrap)".into()));
    }
    std::fs::create_dir_all(cache).map_err(|e| JudgeError::Io(format!("cache {}: {e}", cache.display())))?;
    let work = cache.join(format!(".{}.building-{}", recipe.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| JudgeError::Io(format!("{}: {e}", work.display())))?;
    let start = Instant::now();
    let mut cmd = std::process::Command::new("/usr/bin/mmdebstrap");
    cmd.arg("--quiet").arg(format!("--variant={}", recipe.variant));
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--mode=unshare");
    }
    if !recipe.packages.is_empty() {
        cmd.arg(format!("--include={}", recipe.packages.join(",")));
    }
    cmd.arg(&recipe.suite).arg(work.join("root")).args(host_sources());
    let out = cmd.output().map_err(|e| JudgeError::Io(format!("mmdebstrap: {e}")))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&work);
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        return Err(JudgeError::Internal(format!("mmdebstrap failed ({}): {last}", out.status)));
    }
    let built = Built {
        recipe: recipe.clone(),
        built_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        build_seconds: start.elapsed().as_secs_f64(),
        bytes: du(&work.join("root")),
    };
    std::fs::write(work.join("info.json"), serde_json::to_string_pretty(&built).unwrap_or_default())
        .map_err(|e| JudgeError::Io(format!("{}: {e}", work.display())))?;
    let dest = cache.join(&recipe.name);
    let old = cache.join(format!(".{}.old-{}", recipe.name, std::process::id()));
    if dest.exists() {
        std::fs::rename(&dest, &old).map_err(|e| JudgeError::Io(format!("{}: {e}", dest.display())))?;
    }
    std::fs::rename(&work, &dest).map_err(|e| JudgeError::Io(format!("{}: {e}", dest.display())))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(built)
}

/// The built images in the cache.
pub fn list(cache: &Path) -> Vec<Built> {
    let mut out: Vec<Built> = std::fs::read_dir(cache)
        .map(|rd| {
            rd.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| std::fs::read_to_string(e.path().join("info.json")).ok())
                .filter_map(|t| serde_json::from_str(&t).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a: &Built, b| a.recipe.name.cmp(&b.recipe.name));
    out
}

/// Removes a built image.
pub fn remove(cache: &Path, name: &str) -> Result<(), JudgeError> {
    check_name(name)?;
    let dir = cache.join(name);
    if !dir.join("info.json").is_file() {
        return Err(JudgeError::Input(format!("rootfs {name} is not built in {}", cache.display())));
    }
    std::fs::remove_dir_all(&dir).map_err(|e| JudgeError::Io(format!("{}: {e}", dir.display())))
}

/// The shipped recipes' names.
pub fn shipped() -> Vec<&'static str> {
    SHIPPED.iter().map(|(n, _)| *n).collect()
}
