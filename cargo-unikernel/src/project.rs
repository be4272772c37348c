//! The cargo project being built: which package and which bin or example.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use cargo_metadata::{Metadata, MetadataCommand, Package, Target};

use crate::error::Failure;

/// What to build, as the user selected it on the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub manifest_path: Option<PathBuf>,
    pub package: Option<String>,
    pub bin: Option<String>,
    pub example: Option<String>,
}

/// The resolved build target.
#[derive(Debug, Clone)]
pub struct Project {
    /// The manifest of the selected package.
    pub manifest_path: PathBuf,
    pub package: String,
    pub target_name: String,
    pub is_example: bool,
    /// The workspace's target directory (`--target-dir`, `CARGO_TARGET_DIR` and
    /// `build.target-dir` already applied by cargo metadata).
    pub target_dir: PathBuf,
    pub workspace_root: PathBuf,
    /// The package's `[package.metadata]` table (`null` if it has none).
    pub metadata: serde_json::Value,
}

impl Project {
    pub fn resolve(selection: &Selection, target_dir: Option<&Path>) -> anyhow::Result<Self> {
        let metadata = metadata(selection).map_err(|e| e.context(Failure::Project))?;
        let package = select_package(&metadata, selection.package.as_deref())
            .map_err(|e| e.context(Failure::Project))?;
        let (target, is_example) =
            select_target(package, selection).map_err(|e| e.context(Failure::Project))?;
        Ok(Self {
            manifest_path: package.manifest_path.clone().into(),
            package: package.name.to_string(),
            target_name: target.name.clone(),
            is_example,
            target_dir: target_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| metadata.target_directory.clone().into()),
            workspace_root: metadata.workspace_root.clone().into(),
            metadata: package.metadata.clone(),
        })
    }

    /// The selected package alone, for commands that build several of its targets
    /// (`cargo unikernel test`): `target_name` is the package's name.
    pub fn resolve_package(
        selection: &Selection,
        target_dir: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let metadata = metadata(selection).map_err(|e| e.context(Failure::Project))?;
        let package = match selection.package.as_deref() {
            Some(name) => select_package(&metadata, Some(name)),
            None => metadata
                .root_package()
                .context("a virtual workspace: choose a package with -p"),
        }
        .map_err(|e| e.context(Failure::Project))?;
        Ok(Self {
            manifest_path: package.manifest_path.clone().into(),
            package: package.name.to_string(),
            target_name: package.name.to_string(),
            is_example: false,
            target_dir: target_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| metadata.target_directory.clone().into()),
            workspace_root: metadata.workspace_root.clone().into(),
            metadata: package.metadata.clone(),
        })
    }

    /// The directory everything cargo-unikernel writes goes under.
    pub fn unikernel_dir(&self) -> PathBuf {
        self.target_dir.join("unikernel")
    }

    pub fn package_dir(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("."))
    }
}

fn metadata(selection: &Selection) -> anyhow::Result<Metadata> {
    let mut command = MetadataCommand::new();
    command.no_deps();
    if let Some(path) = &selection.manifest_path {
        if !path.is_file() {
            return Err(anyhow!("{} does not exist", path.display()));
        }
        command.manifest_path(path);
    } else {
        let cwd = std::env::current_dir()?;
        if !cwd.ancestors().any(|d| d.join("Cargo.toml").is_file()) {
            return Err(anyhow!(
                "{} is not inside a cargo project (no Cargo.toml here or above); \
                 use --manifest-path",
                cwd.display()
            ));
        }
    }
    command.exec().map_err(|e| match e {
        cargo_metadata::Error::CargoMetadata { stderr } => anyhow!(
            "cargo metadata failed: {}",
            stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or(stderr.trim())
        ),
        other => anyhow!(other).context("cannot run cargo metadata"),
    })
}

fn select_package<'m>(metadata: &'m Metadata, name: Option<&str>) -> anyhow::Result<&'m Package> {
    let members = metadata.workspace_packages();
    if let Some(name) = name {
        return members
            .into_iter()
            .find(|p| p.name.as_str() == name)
            .with_context(|| {
                format!(
                    "package `{name}` is not a member of the workspace at {}",
                    metadata.workspace_root
                )
            });
    }
    if let Some(root) = metadata.root_package() {
        return Ok(root);
    }
    let with_bins: Vec<_> = members
        .into_iter()
        .filter(|p| p.targets.iter().any(Target::is_bin))
        .collect();
    match with_bins.as_slice() {
        [one] => Ok(one),
        [] => Err(anyhow!(
            "the workspace at {} has no package with a binary",
            metadata.workspace_root
        )),
        many => Err(anyhow!(
            "the workspace has several packages with binaries ({}); choose one with -p",
            many.iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn select_target<'p>(
    package: &'p Package,
    selection: &Selection,
) -> anyhow::Result<(&'p Target, bool)> {
    let names = |pred: fn(&Target) -> bool| {
        package
            .targets
            .iter()
            .filter(|t| pred(t))
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(example) = &selection.example {
        let target = package
            .targets
            .iter()
            .find(|t| t.is_example() && &t.name == example);
        return target.map(|t| (t, true)).with_context(|| {
            format!(
                "package `{}` has no example `{example}` (examples: {})",
                package.name,
                or_none(names(Target::is_example))
            )
        });
    }
    let bins: Vec<&Target> = package.targets.iter().filter(|t| t.is_bin()).collect();
    if let Some(bin) = &selection.bin {
        let target = bins.iter().find(|t| &t.name == bin);
        return target.map(|t| (*t, false)).with_context(|| {
            format!(
                "package `{}` has no bin `{bin}` (bins: {})",
                package.name,
                or_none(names(Target::is_bin))
            )
        });
    }
    if let Some(default) = &package.default_run
        && let Some(t) = bins.iter().find(|t| &t.name == default)
    {
        return Ok((t, false));
    }
    match bins.as_slice() {
        [one] => Ok((one, false)),
        [] => Err(anyhow!(
            "package `{}` has no bin target; use --example",
            package.name
        )),
        _ => Err(anyhow!(
            "package `{}` has several bins ({}); choose one with --bin",
            package.name,
            names(Target::is_bin)
        )),
    }
}

fn or_none(list: String) -> String {
    if list.is_empty() { "none".into() } else { list }
}
