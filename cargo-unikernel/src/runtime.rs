//! The runtime crates (the libc shim, and the kernel for images) as bitcode rlibs.
//!
//! They are built by cargo from this repository's workspace, with the same rustc as the
//! app (so `core` and `alloc` are the app's own), always with the release profile:
//! they are optimized again with everything else in the whole-program module anyway.
//! Cargo's own fingerprinting makes repeated builds a no-op; the target directory is
//! shared by every project ([`crate::runtime_cache`]), which also checks the cached
//! rlibs before cargo trusts them.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cargo_build::{self, Artifact};
use crate::runtime_cache::{CacheLock, Digests};
use crate::status::status;
use crate::toolchain::{TARGET, Toolchain};

/// The flags every runtime crate is compiled with (part of the cache's key).
pub const RUSTFLAGS: &str = "-Clinker-plugin-lto -Crelocation-model=static -Ccode-model=small";

/// Where the runtime crates' sources live: `CARGO_UNIKERNEL_HOME`, or the checkout this
/// binary was built from.
pub fn source_root() -> PathBuf {
    std::env::var_os("CARGO_UNIKERNEL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The rlibs of a runtime package and of every crate it depends on, in build order.
#[derive(Debug, Clone)]
pub struct RuntimeLibs {
    pub package: String,
    pub rlibs: Vec<PathBuf>,
    /// Cargo rebuilt none of them: every rlib came from the cache as it was.
    pub reused: bool,
}

/// The libc shim, from this repository's workspace.
pub fn shim(toolchain: &Toolchain, target_dir: &Path) -> anyhow::Result<RuntimeLibs> {
    shim_with(toolchain, target_dir, &[])
}

/// [`shim`] with cargo features of the shim (`profile`: see `crate::pgo`).
pub fn shim_with(
    toolchain: &Toolchain,
    target_dir: &Path,
    features: &[&str],
) -> anyhow::Result<RuntimeLibs> {
    build(
        toolchain,
        &source_root().join("Cargo.toml"),
        "unikernel-shim",
        target_dir,
        features,
    )
}

/// The kernel, from its own workspace under `sysroot/`.
pub fn kernel(toolchain: &Toolchain, target_dir: &Path) -> anyhow::Result<RuntimeLibs> {
    kernel_with(toolchain, target_dir, &[])
}

/// [`kernel`] with cargo features of the kernel (`profile`: see `crate::pgo`).
pub fn kernel_with(
    toolchain: &Toolchain,
    target_dir: &Path,
    features: &[&str],
) -> anyhow::Result<RuntimeLibs> {
    build(
        toolchain,
        &source_root().join("sysroot/Cargo.toml"),
        "unikernel-kernel",
        target_dir,
        features,
    )
}

/// The kernel's test program (`sysroot/boot-test`, a stand-in for std and the shim)
/// with the kernel, for the kernel's boot scenarios (`tests/kernel.rs`).
pub fn boot_test(toolchain: &Toolchain, target_dir: &Path) -> anyhow::Result<RuntimeLibs> {
    build(
        toolchain,
        &source_root().join("sysroot/Cargo.toml"),
        "unikernel-boot-test",
        target_dir,
        &[],
    )
}

/// The kernel's linker script.
pub fn image_linker_script() -> PathBuf {
    source_root().join("sysroot/image.ld")
}

/// The rlibs of several runtimes, each crate build once. Two builds of the same crate
/// with the same configuration get the same file name (cargo's metadata hash) and the
/// same symbol names, so merging both would define every symbol twice.
pub fn union(runtimes: &[&RuntimeLibs]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    runtimes
        .iter()
        .flat_map(|r| r.rlibs.iter())
        .filter(|p| seen.insert(p.file_name().map(|n| n.to_os_string())))
        .cloned()
        .collect()
}

/// Build `package` of the workspace at `manifest` into `target_dir`.
fn build(
    toolchain: &Toolchain,
    manifest: &Path,
    package: &str,
    target_dir: &Path,
    features: &[&str],
) -> anyhow::Result<RuntimeLibs> {
    if !manifest.is_file() {
        anyhow::bail!(
            "the runtime sources are missing: {} does not exist (set CARGO_UNIKERNEL_HOME \
             to a cargo-unikernel checkout)",
            manifest.display()
        );
    }
    let _lock = CacheLock::acquire(target_dir)?;
    let digests = Digests::load(target_dir, package);
    let corrupt = digests.check()?;
    for damaged in &corrupt {
        status(
            "Corrupt",
            &format!(
                "cached runtime rlib {} ({}): removed, cargo builds it again",
                damaged.rlib.display(),
                damaged.why
            ),
        );
        std::fs::remove_file(&damaged.rlib)
            .with_context(|| format!("cannot remove {}", damaged.rlib.display()))?;
    }
    digests.forget()?;
    let mut command = cargo_build::cargo();
    cargo_build::clear_flag_env(&mut command);
    command
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
            // Our "Runtime" status line says what is built; cargo's own "Finished"
            // lines for the runtime would only repeat it (errors still show).
            "--quiet",
            "--target",
            TARGET,
        ])
        .args(["-p", package])
        .args(
            (!features.is_empty())
                .then(|| format!("--features={}", features.join(",")))
                .iter(),
        )
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env("RUSTC", &toolchain.rustc)
        .env("RUSTFLAGS", RUSTFLAGS);
    let artifacts = cargo_build::run_json(command, &format!("the runtime crate `{package}`"))
        .with_context(|| format!("building the runtime crate `{package}`"))?;
    let rlibs = rlibs(&artifacts);
    digests.record(&rlibs)?;
    Ok(RuntimeLibs {
        package: package.into(),
        reused: rlibs.iter().all(|(_, fresh)| *fresh),
        rlibs: rlibs.into_iter().map(|(rlib, _)| rlib).collect(),
    })
}

/// The target rlibs among `artifacts`, sorted: cargo reports crates in the order their
/// builds finish, which varies, and the merge order should not. Each with whether cargo
/// found it up to date.
fn rlibs(artifacts: &[Artifact]) -> Vec<(PathBuf, bool)> {
    let mut rlibs: Vec<(PathBuf, bool)> = artifacts
        .iter()
        .flat_map(|a| a.filenames.iter().map(|f| (f.clone(), a.fresh)))
        .filter(|(f, _)| f.extension().is_some_and(|e| e == "rlib"))
        // Build-dependencies are rlibs too, but built for the host, outside `<target>/`.
        .filter(|(f, _)| f.components().any(|c| c.as_os_str() == TARGET))
        .collect();
    rlibs.sort();
    rlibs
}
