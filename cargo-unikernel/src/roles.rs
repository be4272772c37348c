//! The names the binary runs under when cargo and rustc call it back.
//!
//! `cargo unikernel build` creates `target/unikernel/bin/{unikernel-rustc,unikernel-ld}`
//! as links to its own executable, so one binary plays all three roles.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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
        // Two builds of one project may run at once (cargo serializes only its own
        // part): each makes its link under a private name and renames it into place,
        // which replaces atomically, so neither ever sees a missing or half-made link.
        let link = |name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            static MADE: AtomicUsize = AtomicUsize::new(0);
            let unique = MADE.fetch_add(1, Ordering::Relaxed);
            let fresh = dir.join(format!(".{name}.{}.{unique}", std::process::id()));
            let _ = std::fs::remove_file(&fresh);
            std::os::unix::fs::symlink(&exe, &fresh)
                .with_context(|| format!("cannot create {}", fresh.display()))?;
            std::fs::rename(&fresh, &path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            Ok(path)
        };
        Ok(Self {
            wrapper: link(WRAPPER_NAME)?,
            linker: link(LINKER_NAME)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_creations_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|scope| {
            let makers: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| RoleLinks::create(dir.path())))
                .collect();
            for maker in makers {
                maker.join().unwrap().expect("the links are made");
            }
        });
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            std::fs::read_link(dir.path().join(WRAPPER_NAME)).unwrap(),
            exe
        );
        assert_eq!(
            std::fs::read_link(dir.path().join(LINKER_NAME)).unwrap(),
            exe
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no private link is left behind");
    }
}
