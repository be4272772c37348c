//! Skipping a whole-program link whose inputs have not changed.
//!
//! Cargo already skips recompiling crates that did not change; without this, every
//! `cargo unikernel build` or `run` would still merge, optimise and link the whole
//! program again (tens of seconds). A [`Fingerprint`] covers everything a link reads:
//! the recipe (the pass's pipeline with its optimisation level and entry points, the
//! link kind), and the length and modification time of the link manifest, every object
//! and archive it names, every runtime rlib, the linker script, and the
//! `cargo-unikernel` executable itself (which carries the pass). It is stored beside the output as `<output>.fingerprint`, written
//! only after a successful link and removed before a new one starts.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;

use crate::link_capture::{LinkInput, LinkManifest};
use crate::lld::LinkKind;
use crate::whole_program::Job;

/// A digest of a link's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `job` as its input files are now.
    pub fn of(job: &Job<'_>) -> anyhow::Result<Self> {
        let manifest = LinkManifest::read(job.manifest)?;
        let mut files: Vec<PathBuf> = vec![job.manifest.to_path_buf()];
        files.extend(manifest.inputs.iter().map(|input| match input {
            LinkInput::Object { path, .. } | LinkInput::Archive { path } => path.clone(),
        }));
        files.extend(manifest.libraries.iter().filter_map(|l| l.path.clone()));
        files.extend(job.runtime_rlibs.iter().cloned());
        if let LinkKind::Image { script, .. } = &job.kind {
            files.push(script.clone());
        }
        files.push(std::env::current_exe().context("cannot locate cargo-unikernel itself")?);

        let mut hasher = DefaultHasher::new();
        // The recipe, without the IR the pipeline may capture: that file has its own
        // stamp (`record_in`).
        let pipeline = &job.pipeline;
        format!(
            "{} {:?} {:?} {:?} {:?}",
            pipeline.name(),
            pipeline.level(),
            pipeline.steps(),
            job.kind,
            pipeline.entry_points()
        )
        .hash(&mut hasher);
        // The profile by its canonical path (the same file named two ways is the
        // same input) and, through its stamp below, its version.
        match pipeline.profile_mode() {
            unikernel_pass::Profile::Use(profile) => {
                let profile = profile.canonicalize().unwrap_or_else(|_| profile.clone());
                format!("use {}", profile.display()).hash(&mut hasher);
                files.push(profile);
            }
            mode => format!("{mode:?}").hash(&mut hasher),
        }
        for file in &files {
            stamp(file).hash(&mut hasher);
        }
        Ok(Self(format!("{:016x}", hasher.finish())))
    }

    fn path_for(output: &Path) -> PathBuf {
        let mut name = output.file_name().unwrap_or_default().to_os_string();
        name.push(".fingerprint");
        output.with_file_name(name)
    }

    /// Whether `output` exists and was linked from inputs with this fingerprint.
    pub fn is_current(&self, output: &Path) -> bool {
        output.is_file()
            && std::fs::read_to_string(Self::path_for(output)).is_ok_and(|old| old == self.0)
    }

    /// Forget the fingerprint of `output` (before linking it anew).
    pub fn invalidate(output: &Path) {
        let _ = std::fs::remove_file(Self::path_for(output));
    }

    /// Whether `stamp` (written by [`Fingerprint::record_in`]) holds this fingerprint.
    pub fn matches_file(&self, stamp: &Path) -> bool {
        std::fs::read_to_string(stamp).is_ok_and(|old| old == self.0)
    }

    /// Record this fingerprint in `stamp`: for files a link writes besides the output
    /// (the IR `cargo unikernel ir` asks for).
    pub fn record_in(&self, stamp: &Path) -> anyhow::Result<()> {
        crate::replace::write(stamp, &self.0)
    }

    /// Record that `output` was linked from inputs with this fingerprint.
    pub fn record(&self, output: &Path) -> anyhow::Result<()> {
        let path = Self::path_for(output);
        crate::replace::write(&path, &self.0)
    }
}

/// What identifies a file's version without reading it: path, length, mtime; a
/// missing file stamps as such (and the link will then report it).
fn stamp(path: &Path) -> (PathBuf, Option<(u64, u128)>) {
    let meta = std::fs::metadata(path).ok().map(|m| {
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        (m.len(), mtime)
    });
    (path.to_path_buf(), meta)
}
