//! The final link with the toolchain's rust-lld.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow};

use crate::error::Failure;
use crate::link_inputs::NativeInput;

/// What kind of ELF to produce.
#[derive(Debug, Clone)]
pub enum LinkKind {
    /// A static, non-PIE Linux executable entered at the shim's `_start`.
    Hosted,
    /// A PVH image laid out by the kernel's linker script, with the initial-files
    /// object (`initfs.rs`) if any files are packed.
    Image {
        script: PathBuf,
        entry: String,
        initfs: Option<PathBuf>,
    },
}

/// What to strip from the output, as the cargo profile asked rustc to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strip {
    Nothing,
    Debuginfo,
    Symbols,
}

impl Strip {
    /// The profile's `strip` setting, read back from the link command rustc gave.
    pub fn from_command_line(args: &[String]) -> Self {
        let has = |flag: &str| {
            args.iter()
                .any(|a| a == flag || a.split(',').any(|p| p == flag))
        };
        if has("--strip-all") || has("-s") {
            Strip::Symbols
        } else if has("--strip-debug") || has("-S") {
            Strip::Debuginfo
        } else {
            Strip::Nothing
        }
    }
}

/// Link `object` (the whole-program module) and the native inputs into `output`.
pub fn link(
    lld: &Path,
    kind: &LinkKind,
    strip: Strip,
    object: &Path,
    native: &[NativeInput],
    output: &Path,
) -> anyhow::Result<()> {
    let mut command = Command::new(lld);
    command.args([
        "-flavor",
        "gnu",
        "-static",
        "--no-pie",
        "--gc-sections",
        "--eh-frame-hdr",
        "-z",
        "noexecstack",
    ]);
    match kind {
        LinkKind::Hosted => {
            command.args(["-e", "_start"]);
        }
        LinkKind::Image { script, entry, .. } => {
            command.arg("-T").arg(script).args(["-e", entry]);
        }
    }
    match strip {
        Strip::Nothing => {}
        Strip::Debuginfo => {
            command.arg("--strip-debug");
        }
        Strip::Symbols => {
            command.arg("--strip-all");
        }
    }
    command.arg("-o").arg(output).arg(object);
    if let LinkKind::Image {
        initfs: Some(initfs),
        ..
    } = kind
    {
        command.arg(initfs);
    }
    for input in native {
        match input {
            NativeInput::Object(path) | NativeInput::Archive(path) => {
                command.arg(path);
            }
            NativeInput::Members(paths) => {
                command.arg("--start-lib").args(paths).arg("--end-lib");
            }
        }
    }
    let out = command
        .output()
        .with_context(|| format!("cannot run {}", lld.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let undefined: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once("undefined symbol: ").map(|(_, s)| s.trim()))
        .collect();
    let error = if undefined.is_empty() {
        anyhow!(
            "rust-lld failed: {}",
            stderr.lines().take(10).collect::<Vec<_>>().join("\n")
        )
    } else {
        anyhow!(
            "the program needs {} the libc shim does not provide: {}",
            if undefined.len() == 1 {
                "a symbol"
            } else {
                "symbols"
            },
            dedup(undefined).join(", ")
        )
    };
    Err(error.context(Failure::Link))
}

fn dedup(mut names: Vec<&str>) -> Vec<&str> {
    names.sort_unstable();
    names.dedup();
    names
}
