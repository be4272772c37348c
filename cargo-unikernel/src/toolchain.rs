//! The Rust toolchain a build uses: its rustc, sysroot, LLVM version and rust-lld.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::error::Failure;

/// Apps are compiled for the ordinary Linux target: the same std, the same bitcode.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The rustc cargo runs for the project (honours `RUSTC` and rust-toolchain.toml).
    pub rustc: PathBuf,
    pub sysroot: PathBuf,
    pub version: String,
    pub llvm_major: String,
}

impl Toolchain {
    /// The toolchain of the project in `dir`, checked against the pass's LLVM.
    pub fn for_project(dir: &Path) -> anyhow::Result<Self> {
        let rustc = std::env::var_os("RUSTC")
            .map(PathBuf::from)
            .unwrap_or_else(|| "rustc".into());
        let output = Command::new(&rustc)
            .arg("-vV")
            .current_dir(dir)
            .output()
            .with_context(|| format!("cannot run `{} -vV`", rustc.display()))
            .map_err(|e| e.context(Failure::Toolchain))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
        };
        let version = field("release:").unwrap_or_default();
        let llvm = field("LLVM version:").unwrap_or_default();
        let llvm_major = llvm.split('.').next().unwrap_or_default().to_owned();
        if llvm_major != unikernel_pass::LLVM_MAJOR {
            let found = if llvm.is_empty() {
                "no LLVM version".to_owned()
            } else {
                format!("LLVM {llvm}")
            };
            return Err(anyhow::anyhow!(
                "`{}` reports {found}, but cargo-unikernel was built against LLVM {}; \
                 use the toolchain pinned in rust-toolchain.toml or rebuild cargo-unikernel",
                rustc.display(),
                unikernel_pass::LLVM_MAJOR
            )
            .context(Failure::Toolchain));
        }
        let sysroot = Command::new(&rustc)
            .args(["--print", "sysroot"])
            .current_dir(dir)
            .output()
            .with_context(|| format!("cannot run `{} --print sysroot`", rustc.display()))?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
        // Pin the exact rustc for every nested cargo, so the runtime crates are compiled
        // against the same prebuilt core/alloc as the app.
        let exact = sysroot.join("bin/rustc");
        let rustc = if exact.is_file() && std::env::var_os("RUSTC").is_none() {
            exact
        } else {
            rustc
        };
        Ok(Self {
            rustc,
            sysroot,
            version,
            llvm_major,
        })
    }

    /// The toolchain's tools directory (rust-lld, and the llvm-tools component).
    pub fn tools_dir(&self) -> PathBuf {
        self.sysroot.join("lib/rustlib").join(TARGET).join("bin")
    }

    pub fn rust_lld(&self) -> anyhow::Result<PathBuf> {
        let path = self.tools_dir().join("rust-lld");
        if path.is_file() {
            Ok(path)
        } else {
            Err(anyhow::anyhow!(
                "rust-lld is missing from the toolchain at {}",
                path.display()
            )
            .context(Failure::Toolchain))
        }
    }
}
