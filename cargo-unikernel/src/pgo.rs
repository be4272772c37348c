//! Profile-guided optimization, the driver's side: what a build is asked for
//! ([`Pgo`]), the pieces of the toolchain it needs (LLVM's profile runtime,
//! `llvm-profdata`), collecting the `.profraw` files a training run leaves, merging
//! them, and the build report's `pgo` section ([`PgoReport`]).
//!
//! The pass does the LLVM work (`unikernel_pass::pgo`); the runtime crates write the
//! raw profile at exit with the cargo feature `profile`: the kernel over the export
//! channel ([`crate::export`]) in images, the shim to `$LLVM_PROFILE_FILE` or
//! `default.profraw` in hosted builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use unikernel_pass::Profile;

use crate::composition::{Component, Origins};
use crate::error::Failure;
use crate::export::Exports;
use crate::toolchain::{TARGET, Toolchain};

/// What a build does about PGO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Pgo {
    #[default]
    Off,
    /// `--profile-generate[=DIR]`: instrument; training runs put their profiles in
    /// DIR (default [`default_dir`]).
    Generate { dir: Option<PathBuf> },
    /// `--profile-use FILE`.
    Use(PathBuf),
}

/// The cargo feature of the runtime crates that writes the raw profile.
pub const RUNTIME_FEATURE: &str = "profile";

/// Where `--profile-generate` without a directory collects profiles.
pub fn default_dir(unikernel_dir: &Path) -> PathBuf {
    unikernel_dir.join("pgo-profiles")
}

impl Pgo {
    /// The pass's profile mode.
    pub fn pass_profile(&self) -> Profile {
        match self {
            Pgo::Off => Profile::None,
            Pgo::Generate { .. } => Profile::Generate,
            Pgo::Use(file) => Profile::Use(file.clone()),
        }
    }

    /// The runtime crates' features for this build. A profile names functions by
    /// their symbols, whose hashes cargo features change: training and use build the
    /// runtime crates alike (and link LLVM's profile runtime, [`Pgo::links_runtime`]);
    /// a use build has no counters and writes nothing.
    pub fn runtime_features(&self) -> &'static [&'static str] {
        match self {
            Pgo::Off => &[],
            _ => &[RUNTIME_FEATURE],
        }
    }

    /// Whether the link needs LLVM's profile runtime (see [`Pgo::runtime_features`]).
    pub fn links_runtime(&self) -> bool {
        *self != Pgo::Off
    }

    /// The directory training runs of this build collect into, if it instruments.
    pub fn collect_dir(&self, unikernel_dir: &Path) -> Option<PathBuf> {
        match self {
            Pgo::Generate { dir } => {
                Some(dir.clone().unwrap_or_else(|| default_dir(unikernel_dir)))
            }
            _ => None,
        }
    }

    /// Refuse a `--profile-use` file that is not there (exit 3, naming it), before
    /// anything is built.
    pub fn check(&self) -> anyhow::Result<()> {
        match self {
            Pgo::Use(file) if !file.is_file() => Err(anyhow!(
                "the profile {} does not exist (make one with `cargo unikernel pgo`, or \
                 `--profile-generate`, a training run and `llvm-profdata merge`)",
                file.display()
            )
            .context(Failure::Project)),
            _ => Ok(()),
        }
    }
}

/// LLVM's profile runtime as the toolchain ships it (`profiler_builtins`).
pub fn profiler_runtime(toolchain: &Toolchain) -> anyhow::Result<PathBuf> {
    let dir = toolchain
        .sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib");
    let entries =
        std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("libprofiler_builtins-") && n.ends_with(".rlib")
            })
        })
        .collect();
    found.sort();
    found.pop().ok_or_else(|| {
        anyhow!(
            "the toolchain has no LLVM profile runtime (libprofiler_builtins-*.rlib in {})",
            dir.display()
        )
        .context(Failure::Toolchain)
    })
}

/// The toolchain's `llvm-profdata` (component `llvm-tools`).
pub fn llvm_profdata(toolchain: &Toolchain) -> anyhow::Result<PathBuf> {
    let path = toolchain.tools_dir().join("llvm-profdata");
    if path.is_file() {
        return Ok(path);
    }
    Err(anyhow!(
        "llvm-profdata is missing from the toolchain ({}); add it with \
         `rustup component add llvm-tools`",
        path.display()
    )
    .context(Failure::Toolchain))
}

/// Save the raw profiles among `exports` in `dir`, numbered so none replaces an
/// earlier run's; their paths.
pub fn collect(exports: &Exports, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if let Some(why) = &exports.dropped {
        crate::status::status("Warning", &format!("export channel: {why}"));
    }
    exports
        .files
        .iter()
        .filter(|f| f.name.ends_with(".profraw"))
        .map(|f| crate::export::save_unique(dir, f))
        .collect()
}

/// `llvm-profdata merge -o output inputs...`.
pub fn merge(llvm_profdata: &Path, inputs: &[PathBuf], output: &Path) -> anyhow::Result<()> {
    if inputs.is_empty() {
        return Err(anyhow!("the training runs left no profile to merge").context(Failure::Run));
    }
    let out = Command::new(llvm_profdata)
        .arg("merge")
        .arg("-o")
        .arg(output)
        .args(inputs)
        .output()
        .with_context(|| format!("cannot run {}", llvm_profdata.display()))?;
    if !out.status.success() {
        return Err(anyhow!(
            "llvm-profdata merge failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .context(Failure::WholeProgram));
    }
    Ok(())
}

/// The build report's `pgo` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgoReport {
    /// `generate` (instrumented) or `use`.
    pub mode: String,
    /// The `.profdata` used (`use`), or the directory training runs collect into
    /// (`generate`).
    pub file: PathBuf,
    /// Functions the profile gave data to, and all function definitions, by
    /// component (`use`; empty for `generate`).
    pub components: BTreeMap<Component, FunctionsWithData>,
    /// Functions whose profile did not match their code (a stale profile).
    pub mismatched: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionsWithData {
    pub with_profile: usize,
    pub total: usize,
}

impl PgoReport {
    /// The section for an instrumented build collecting into `dir`.
    pub fn generate(dir: PathBuf) -> Self {
        Self {
            mode: "generate".into(),
            file: dir,
            components: BTreeMap::new(),
            mismatched: 0,
        }
    }

    /// The section for a build that used a profile.
    pub fn used(used: &unikernel_pass::pgo::ProfileUse, origins: &Origins) -> Self {
        let mut components: BTreeMap<Component, FunctionsWithData> = BTreeMap::new();
        for (function, has) in &used.functions {
            let entry = components
                .entry(origins.component_of(function))
                .or_default();
            entry.total += 1;
            entry.with_profile += usize::from(*has);
        }
        Self {
            mode: "use".into(),
            file: used.file.clone(),
            components,
            mismatched: used.mismatched,
        }
    }

    /// The warning for a stale profile, if it is one.
    pub fn stale_warning(&self) -> Option<String> {
        (self.mismatched > 0).then(|| {
            format!(
                "{} functions changed since the profile {} was recorded; their profile \
                 was ignored (train again for the current code)",
                self.mismatched,
                self.file.display()
            )
        })
    }
}

/// The `pgo` section as text, for `cargo unikernel report`.
pub fn render(report: &PgoReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if report.mode == "generate" {
        let _ = writeln!(
            out,
            "\nPGO: instrumented for training; runs collect profiles in {}",
            report.file.display()
        );
        return out;
    }
    let _ = writeln!(out, "\nPGO: profile {}", report.file.display());
    let _ = writeln!(
        out,
        "  functions with profile data / functions, by component:"
    );
    for (component, counts) in &report.components {
        let _ = writeln!(
            out,
            "    {:<18} {:>6} / {:<6}",
            component.label(),
            counts.with_profile,
            counts.total
        );
    }
    let _ = writeln!(
        out,
        "  functions whose profile did not match (stale): {}",
        report.mismatched
    );
    out
}
