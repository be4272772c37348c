//! The build report: a JSON file beside every output, and a short human summary.

use std::path::{Path, PathBuf};

use anyhow::Context;
use object::{Object, ObjectSegment};
use serde::{Deserialize, Serialize};
use unikernel_pass::reach::Reachability;
use unikernel_pass::syscalls::SyscallSummary;
use unikernel_pass::{OptLevel, Stats};

use crate::composition::Composition;
use crate::link_inputs::InputSummary;

/// The report, as written to `<output>.report.json` and read back by
/// `cargo unikernel report` and the checks of a build that skipped the link.
#[derive(Debug, Serialize, Deserialize)]
pub struct BuildReport {
    pub output: PathBuf,
    pub level: OptLevel,
    pub pipeline: String,
    pub rustc: String,
    /// Every input and whether its code went into the whole-program module.
    pub inputs: Vec<InputSummary>,
    /// Every stage's counters; `stats.syscall_rewrites` has one entry per run of the
    /// syscall rewrite.
    pub stats: Stats,
    /// What the syscall rewrite left in the image (unikernel builds; `null` otherwise).
    pub syscalls: Option<SyscallSummary>,
    /// The system calls reachable in the final module, with a call path to each, and
    /// the `#[unikernel::no_syscalls]` checks.
    pub reachability: Option<Reachability>,
    /// The loaded image by component (app, std, shim, kernel, ...) and its largest
    /// symbols.
    pub composition: Option<Composition>,
    pub size: ImageSize,
    pub total_ms: u128,
    /// Profile-guided optimization: instrumented, or the profile used and how much of
    /// the program it covered (`null` without PGO).
    #[serde(default)]
    pub pgo: Option<crate::pgo::PgoReport>,
}

/// Sizes of the final ELF.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ImageSize {
    /// The file on disk.
    pub file_bytes: u64,
    /// What is loaded into memory: the sum of the `PT_LOAD` segments' sizes in memory.
    pub loaded_bytes: u64,
}

impl ImageSize {
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file = object::File::parse(&*data)
            .with_context(|| format!("{} is not an ELF file", path.display()))?;
        let loaded_bytes = file.segments().map(|s| s.size()).sum();
        Ok(Self {
            file_bytes: data.len() as u64,
            loaded_bytes,
        })
    }
}

impl BuildReport {
    /// The path of the report for `output`.
    pub fn path_for(output: &Path) -> PathBuf {
        let mut name = output.file_name().unwrap_or_default().to_os_string();
        name.push(".report.json");
        output.with_file_name(name)
    }

    /// Read back the report at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a build report", path.display()))
    }

    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let path = Self::path_for(&self.output);
        let json = serde_json::to_vec_pretty(self)?;
        crate::replace::write(&path, json)?;
        Ok(path)
    }

    /// Inputs (or parts of inputs) that stayed out of the whole-program module.
    pub fn native_inputs(&self) -> impl Iterator<Item = &InputSummary> {
        self.inputs.iter().filter(|i| i.native.is_some())
    }

    /// One line for the terminal, with the syscall counters for unikernel builds.
    pub fn summary_line(&self) -> String {
        let bitcode: usize = self.inputs.iter().map(|i| i.bitcode_modules).sum();
        let mut line = format!(
            "{} modules -> {} functions -> {} after {}; {} KiB ({} KiB loaded); {:.1} s",
            bitcode,
            self.stats.functions_merged,
            self.stats.functions_optimized,
            self.pipeline,
            self.size.file_bytes / 1024,
            self.size.loaded_bytes / 1024,
            self.total_ms as f64 / 1000.0,
        );
        if let Some(syscalls) = &self.syscalls {
            line.push_str("; syscalls: ");
            line.push_str(&syscall_summary(syscalls));
        }
        line
    }
}

/// `204 direct (3 unimplemented), 16 dispatched, 2+2 stub calls, 0 trap path`.
fn syscall_summary(s: &SyscallSummary) -> String {
    let mut text = format!("{} direct", s.direct + s.direct_unimplemented);
    if s.direct_unimplemented > 0 {
        text.push_str(&format!(" ({} unimplemented)", s.direct_unimplemented));
    }
    text.push_str(&format!(
        ", {} dispatched",
        s.dispatched_constant + s.dispatched_dynamic
    ));
    if s.syscall_stub_defined {
        text.push_str(&format!(
            ", {}+{} stub calls (inline+module asm)",
            s.stub_calls, s.module_asm_stub_calls
        ));
    }
    text.push_str(&format!(
        ", {} trap path",
        s.trap_path + s.module_asm_syscalls
    ));
    text
}
