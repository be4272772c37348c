//! The runtime cache: where the runtime crates (the libc shim, the kernel) are built,
//! once per toolchain and runtime checkout, for every project on the machine.
//!
//! Before, each project built the shim and kernel into its own target directory, so a
//! new project paid for the whole runtime again. The runtime does not depend on the
//! project (it is always built with the release profile, fixed flags and no features),
//! so one cargo target directory under cargo's home serves them all:
//! `$CARGO_HOME/unikernel/<key>/runtime/`, the key a digest of the toolchain (its rustc,
//! sysroot and release) and of the runtime sources' location. Cargo's fingerprinting
//! inside that directory rebuilds whatever an edit of `shims/` or `sysroot/` touches.
//!
//! Cargo trusts an output whose timestamps are newer than its sources, so a truncated or
//! overwritten rlib would be linked as it is (and fail far from the cause, or worse).
//! After each runtime build we record every rlib's length and content digest
//! ([`Digests`]); the next build checks them first, removes an rlib that changed behind
//! cargo's back, says so, and lets cargo build it again. One build at a time uses a
//! cache entry ([`CacheLock`]): a check must not see an rlib another build is writing.

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::toolchain::Toolchain;

/// The target directory the runtime crates of `toolchain`, the sources at
/// `source_root` and the compiler flags `rustflags` are built in: in the cache under
/// cargo's home, or, when no home is known, under the project's `fallback` directory.
pub fn runtime_dir(
    toolchain: &Toolchain,
    source_root: &Path,
    rustflags: &str,
    fallback: &Path,
) -> PathBuf {
    let Some(home) = cargo_home() else {
        return fallback.join("runtime");
    };
    let mut hasher = DefaultHasher::new();
    let root = source_root
        .canonicalize()
        .unwrap_or_else(|_| source_root.to_path_buf());
    (
        &toolchain.rustc,
        &toolchain.sysroot,
        &toolchain.version,
        root,
        rustflags,
    )
        .hash(&mut hasher);
    home.join("unikernel")
        .join(format!("{}-{:016x}", toolchain.version, hasher.finish()))
        // `runtime/` (and `runtime/kernel/` for the kernel) name the component in the
        // build report (`composition.rs`).
        .join("runtime")
}

/// `CARGO_HOME`, else `~/.cargo`, as cargo finds its home.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".cargo")))
}

/// Exclusive use of one runtime target directory for as long as it lives.
#[derive(Debug)]
pub struct CacheLock {
    _file: File,
}

impl CacheLock {
    /// Wait until no other build uses `target_dir`, then hold it.
    pub fn acquire(target_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(target_dir)
            .with_context(|| format!("cannot create {}", target_dir.display()))?;
        let path = target_dir.join(".unikernel-runtime.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(Self { _file: file })
    }
}

/// What a runtime build's rlibs were when it finished: path -> (length, content digest).
#[derive(Debug, Default)]
pub struct Digests {
    path: PathBuf,
    files: BTreeMap<PathBuf, (u64, u64)>,
}

/// A cached rlib that is no longer what the build that wrote it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt {
    pub rlib: PathBuf,
    pub why: String,
}

impl Digests {
    /// The digests recorded for `package` in `target_dir` (none if never recorded).
    pub fn load(target_dir: &Path, package: &str) -> Self {
        let path = target_dir.join(format!("{package}.rlib-digests"));
        let files = std::fs::read_to_string(&path)
            .map(|text| text.lines().filter_map(parse_line).collect())
            .unwrap_or_default();
        Self { path, files }
    }

    /// The recorded rlibs that changed since; a removed one is not corrupt (cargo
    /// rebuilds it anyway).
    pub fn check(&self) -> anyhow::Result<Vec<Corrupt>> {
        let mut corrupt = Vec::new();
        for (rlib, &(len, digest)) in &self.files {
            let Ok(meta) = std::fs::metadata(rlib) else {
                continue;
            };
            let why = if meta.len() != len {
                format!("{} bytes, {len} when built", meta.len())
            } else if digest_of(rlib)? != digest {
                "its contents changed since it was built".to_owned()
            } else {
                continue;
            };
            corrupt.push(Corrupt {
                rlib: rlib.clone(),
                why,
            });
        }
        Ok(corrupt)
    }

    /// Forget the record (before cargo may rewrite the rlibs: an interrupted build must
    /// not leave digests of files that have changed since).
    pub fn forget(&self) -> anyhow::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove {}", self.path.display()))
            }
            _ => Ok(()),
        }
    }

    /// Record `rlibs` as they are now. An rlib cargo did not rebuild (`fresh`) and that
    /// was checked keeps its recorded digest instead of being read again.
    pub fn record(mut self, rlibs: &[(PathBuf, bool)]) -> anyhow::Result<()> {
        let mut files = BTreeMap::new();
        for (rlib, fresh) in rlibs {
            let kept = self.files.remove(rlib).filter(|_| *fresh);
            let entry = match kept {
                Some(entry) => entry,
                None => {
                    let len = std::fs::metadata(rlib)
                        .with_context(|| format!("cannot read {}", rlib.display()))?
                        .len();
                    (len, digest_of(rlib)?)
                }
            };
            files.insert(rlib.clone(), entry);
        }
        let text: String = files
            .iter()
            .map(|(rlib, (len, digest))| format!("{len} {digest:016x} {}\n", rlib.display()))
            .collect();
        crate::replace::write(&self.path, text)
    }
}

fn parse_line(line: &str) -> Option<(PathBuf, (u64, u64))> {
    let mut fields = line.splitn(3, ' ');
    let len = fields.next()?.parse().ok()?;
    let digest = u64::from_str_radix(fields.next()?, 16).ok()?;
    Some((PathBuf::from(fields.next()?), (len, digest)))
}

/// A digest of the file's contents (not cryptographic: it catches damage, not attacks).
fn digest_of(path: &Path) -> anyhow::Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = DefaultHasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.write(&buffer[..n]);
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_changed_rlib_is_corrupt_and_a_rebuilt_one_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("liba.rlib");
        let b = dir.path().join("libb.rlib");
        std::fs::write(&a, b"!<arch>\nsome bitcode").unwrap();
        std::fs::write(&b, b"!<arch>\nother bitcode").unwrap();
        Digests::load(dir.path(), "p")
            .record(&[(a.clone(), false), (b.clone(), false)])
            .unwrap();
        assert!(Digests::load(dir.path(), "p").check().unwrap().is_empty());

        std::fs::write(&a, b"!<arch>\n").unwrap();
        std::fs::write(&b, b"!<arch>\nOTHER bitcode").unwrap();
        let corrupt = Digests::load(dir.path(), "p").check().unwrap();
        assert_eq!(corrupt.len(), 2, "{corrupt:?}");
        assert_eq!(corrupt[0].rlib, a);
        assert!(corrupt[0].why.contains("8 bytes"), "{}", corrupt[0].why);
        assert_eq!(corrupt[1].rlib, b);

        // Rebuilt (not fresh): recorded as it is now.
        Digests::load(dir.path(), "p")
            .record(&[(a.clone(), false), (b.clone(), false)])
            .unwrap();
        assert!(Digests::load(dir.path(), "p").check().unwrap().is_empty());
        // A removed rlib is cargo's to rebuild, not corrupt.
        std::fs::remove_file(&a).unwrap();
        assert!(Digests::load(dir.path(), "p").check().unwrap().is_empty());
    }
}
