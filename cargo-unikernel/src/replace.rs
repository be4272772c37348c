//! Writing a file so that readers see the old contents or the new, never a mix.
//!
//! Two builds of one project may run at once (a `run` and a `build` from two terminals,
//! or tests in parallel), and only cargo's own steps are serialized by its lock. A file
//! the tool writes outside that lock (the initial-files object, the build report, the
//! freshness stamps) is therefore written under a private name and renamed into place:
//! `rename` replaces atomically within a directory.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;

/// Write `bytes` to `path`, replacing any file there in one step.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let unique = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut private = std::ffi::OsString::from(".");
    private.push(name);
    private.push(format!(".{}.{unique}", std::process::id()));
    let private = path.with_file_name(private);
    let written = std::fs::write(&private, bytes)
        .with_context(|| format!("cannot write {}", private.display()))
        .and_then(|()| {
            std::fs::rename(&private, path)
                .with_context(|| format!("cannot write {}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&private);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_whole_versions_while_writers_race() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let versions: Vec<Vec<u8>> = (0..8u8).map(|v| vec![v; 64 * 1024]).collect();
        std::thread::scope(|scope| {
            for version in &versions {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..20 {
                        write(path, version).unwrap();
                    }
                });
            }
            scope.spawn(|| {
                for _ in 0..200 {
                    if let Ok(bytes) = std::fs::read(&path) {
                        assert!(
                            versions.contains(&bytes),
                            "a torn read of {} bytes",
                            bytes.len()
                        );
                    }
                }
            });
        });
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no private file is left behind");
    }
}
