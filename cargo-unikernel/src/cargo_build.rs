//! Running cargo: the app (through the wrapper and link-capture roles) and the runtime
//! crates, reading cargo's JSON messages for the artifacts.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, anyhow};
use cargo_metadata::{Message, TargetKind};

use crate::error::Failure;

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
