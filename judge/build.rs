//! Compiles the shipped language profiles (../profiles/*.toml) and root filesystem recipes
//! (../rootfs/*.toml) into the library, so the runner finds them wherever it is started.
use std::path::Path;

fn main() {
    embed("../profiles", "shipped_profiles.rs");
    embed("../rootfs", "shipped_rootfs.rs");
}

/// Writes `OUT_DIR/<out>`: a slice of (file stem, contents) of every TOML file in `rel`.
fn embed(rel: &str, out_name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect())
        .unwrap_or_default();
    entries.sort();
    let mut out = String::from("&[\n");
    for p in entries {
        println!("cargo:rerun-if-changed={}", p.display());
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        let abs = p.canonicalize().unwrap();
        out.push_str(&format!("    ({stem:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join(out_name);
    std::fs::write(dest, out).unwrap();
}
