//! Running cargo: the app (through the wrapper and link-capture roles, [`build_app`])
//! and the runtime crates, reading cargo's JSON messages for the artifacts.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow};
use cargo_metadata::{Message, TargetKind};

use crate::error::Failure;
use crate::project::Project;
use crate::roles::{self, RoleLinks};
use crate::toolchain::{TARGET, Toolchain};

/// The cargo that started us (`CARGO` is set for subcommands), else the one on PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A cargo artifact of interest.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub package: String,
    pub target_name: String,
    pub kind: Vec<TargetKind>,
    pub filenames: Vec<PathBuf>,
    pub executable: Option<PathBuf>,
    /// Built as a test harness (`--test`).
    pub test: bool,
    /// The target's root source file.
    pub src_path: PathBuf,
    /// Cargo found the artifact up to date and did not rebuild it.
    pub fresh: bool,
}

/// Run `command` (a `cargo build ... --message-format=json-render-diagnostics`) and
/// return its compiler artifacts in build order. Diagnostics go to the user's stderr.
pub fn run_json(mut command: Command, what: &str) -> anyhow::Result<Vec<Artifact>> {
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run cargo to build {what}"))?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut artifacts = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        if let Message::CompilerArtifact(a) = message.context("reading cargo's messages")? {
            artifacts.push(Artifact {
                package: a.package_id.repr.clone(),
                target_name: a.target.name.clone(),
                kind: a.target.kind.clone(),
                filenames: a.filenames.iter().map(|f| f.clone().into()).collect(),
                executable: a.executable.map(Into::into),
                test: a.profile.test,
                src_path: a.target.src_path.clone().into(),
                fresh: a.fresh,
            });
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(anyhow!("cargo could not build {what}").context(Failure::Compile));
    }
    Ok(artifacts)
}

/// Leave the environment of a nested cargo free of flags meant for another build.
pub fn clear_flag_env(command: &mut Command) {
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
}

/// Arguments cargo and our own commands share.
pub fn push_opt(command: &mut Command, flag: &str, value: Option<&impl AsRef<std::ffi::OsStr>>) {
    if let Some(value) = value {
        command.arg(flag).arg(value);
    }
}

pub fn path_arg(command: &mut Command, flag: &str, value: &Path) {
    command.arg(flag).arg(value);
}

/// The app's cargo features, as cargo's flags take them.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// `--features` values (space or comma separated lists).
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
}

/// Build the app's selected target with the `profile` as bitcode, through the
/// wrapper and link-capture roles; returns the link manifest the capture wrote.
pub fn build_app(
    project: &Project,
    toolchain: &Toolchain,
    profile: &str,
    features: &Features,
) -> anyhow::Result<PathBuf> {
    let mut command = app_command(project, toolchain, profile, features, &["build"])?;
    if project.is_example {
        command.args(["--example", &project.target_name]);
    } else {
        command.args(["--bin", &project.target_name]);
    }
    let artifacts = run_json(command, &format!("`{}`", project.target_name))?;
    artifacts
        .iter()
        .filter(|a| a.target_name == project.target_name)
        .find_map(|a| a.executable.clone())
        .with_context(|| format!("cargo built no executable for `{}`", project.target_name))
}

/// `cargo SUBCOMMAND` (`build`, `test --no-run`) of the project's package with the
/// `profile` as bitcode, through the wrapper and link-capture roles: the executables
/// cargo then reports are link manifests.
pub fn app_command(
    project: &Project,
    toolchain: &Toolchain,
    profile: &str,
    features: &Features,
    subcommand: &[&str],
) -> anyhow::Result<Command> {
    let dir = project.unikernel_dir();
    let links = RoleLinks::create(&dir.join("bin"))?;
    let mut command = cargo();
    command
        .args(subcommand)
        .args([
            "--message-format=json-render-diagnostics",
            "--target",
            TARGET,
        ])
        .args(["--profile", profile])
        .arg("--manifest-path")
        .arg(&project.manifest_path)
        .arg("--target-dir")
        .arg(dir.join("cargo"))
        .args(["-p", &project.package]);
    for list in &features.features {
        command.args(["--features", list]);
    }
    if features.all_features {
        command.arg("--all-features");
    }
    if features.no_default_features {
        command.arg("--no-default-features");
    }
    if let Some(inner) = std::env::var_os("RUSTC_WRAPPER").filter(|w| !w.is_empty()) {
        command.env(roles::INNER_WRAPPER_ENV, inner);
    }
    command
        .env("RUSTC", &toolchain.rustc)
        .env("RUSTC_WRAPPER", &links.wrapper)
        .env(roles::LINKER_ENV, &links.linker);
    Ok(command)
}
