//! The names the binary runs under when cargo and rustc call it back.
//!
//! `cargo unikernel build` creates `target/unikernel/bin/{unikernel-rustc,unikernel-ld}`
//! as links to its own executable, so one binary plays all three roles.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Run by cargo as `RUSTC_WRAPPER`.
pub const WRAPPER_NAME: &str = "unikernel-rustc";
/// Run by rustc as the linker (`-C linker=`).
pub const LINKER_NAME: &str = "unikernel-ld";

/// Environment variable naming a wrapper the user had set (e.g. sccache); the
/// `unikernel-rustc` role runs it in turn.
pub const INNER_WRAPPER_ENV: &str = "CARGO_UNIKERNEL_INNER_WRAPPER";
/// Environment variable with the path of the `unikernel-ld` link.
pub const LINKER_ENV: &str = "CARGO_UNIKERNEL_LINKER";

/// Links to this executable under the role names, in `dir`.
#[derive(Debug)]
pub struct RoleLinks {
    pub wrapper: PathBuf,
    pub linker: PathBuf,
}

impl RoleLinks {
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the cargo-unikernel executable")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let link = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            let _ = std::fs::remove_file(&path);
            std::os::unix::fs::symlink(&exe, &path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(path)
        };
        Ok(Self {
            wrapper: link(WRAPPER_NAME)?,
            linker: link(LINKER_NAME)?,
        })
    }
}
