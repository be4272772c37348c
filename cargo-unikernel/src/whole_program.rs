//! The whole-program build: captured link inputs + runtime -> one module -> one ELF.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use inkwell::context::Context as LlvmContext;
use unikernel_pass::internalize::KeepSet;
use unikernel_pass::{OptLevel, WholeProgram, syscalls};

use crate::error::Failure;
use crate::link_capture::LinkManifest;
use crate::link_inputs::Inputs;
use crate::lld::{self, LinkKind};
use crate::report::{BuildReport, ImageSize};
use crate::toolchain::Toolchain;

/// What the module becomes.
#[derive(Debug, Clone)]
pub enum Mode {
    /// A static Linux executable: real system calls.
    Hosted,
    /// A bootable image with the kernel; `rewrite` turns system calls into direct calls
    /// (off: every site stays on the trap path, for comparison).
    Unikernel { rewrite: bool },
}

/// One whole-program build to run.
#[derive(Debug)]
pub struct Job<'a> {
    pub mode: Mode,
    pub toolchain: &'a Toolchain,
    /// The link manifest cargo produced for the app.
    pub manifest: &'a Path,
    pub runtime_rlibs: &'a [PathBuf],
    pub level: OptLevel,
    pub kind: LinkKind,
    /// Symbols that must stay external besides those native inputs need.
    pub entry_points: Vec<String>,
    /// Intermediate files go here.
    pub work_dir: PathBuf,
    pub output: PathBuf,
}

impl Job<'_> {
    /// The LLVM stages, in order (DESIGN.md, "Pipeline", step 5).
    fn whole_program(
        &self,
        context: &LlvmContext,
        inputs: &Inputs,
    ) -> Result<unikernel_pass::Stats, unikernel_pass::PassError> {
        let mut program = WholeProgram::merge(context, &inputs.bitcode)?;
        program.fix_varargs_calls()?;
        let mut keep = KeepSet::new(self.entry_points.iter().cloned());
        keep.extend(inputs.native_undefined.iter().cloned());
        match self.mode {
            Mode::Hosted => {
                program.internalize(&keep)?;
                program.optimize(self.level)?;
            }
            Mode::Unikernel { rewrite } => {
                if rewrite {
                    program.rewrite_syscalls()?;
                }
                // The kernel's entries stay reachable until the second rewrite, which
                // finds the numbers that only inlining made constant.
                let mut keep_entries = keep.clone();
                keep_entries.extend(syscalls::kernel_entry_points(program.module()));
                program.internalize(&keep_entries)?;
                program.disable_red_zone();
                program.optimize(self.level)?;
                if rewrite {
                    program.rewrite_syscalls()?;
                    // Now the unused entries can go.
                    program.internalize(&keep)?;
                    program.optimize(OptLevel::Quick)?;
                }
            }
        }
        program.emit_object(self.level, &self.work_dir.join("whole-program.o"))?;
        Ok(program.stats().clone())
    }

    pub fn run(&self) -> anyhow::Result<BuildReport> {
        let started = Instant::now();
        let manifest = LinkManifest::read(self.manifest).context(Failure::WholeProgram)?;
        std::fs::create_dir_all(&self.work_dir)
            .with_context(|| format!("cannot create {}", self.work_dir.display()))?;
        let inputs = Inputs::gather(&manifest, self.runtime_rlibs, &self.work_dir.join("native"))
            .map_err(|e| e.context(Failure::WholeProgram))?;

        let context = LlvmContext::create();
        let stats = self
            .whole_program(&context, &inputs)
            .map_err(|e| anyhow::Error::new(e).context(Failure::WholeProgram))?;

        if let Some(dir) = self.output.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        lld::link(
            &self.toolchain.rust_lld()?,
            &self.kind,
            lld::Strip::from_command_line(&manifest.command_line),
            &self.work_dir.join("whole-program.o"),
            &inputs.native,
            &self.output,
        )?;
        let size = ImageSize::of(&self.output)?;
        Ok(BuildReport {
            output: self.output.clone(),
            level: self.level,
            pipeline: self.level.pipeline().to_owned(),
            rustc: self.toolchain.version.clone(),
            inputs: inputs.summary,
            syscalls: syscalls::SyscallSummary::of(&stats.syscall_rewrites),
            stats,
            size,
            total_ms: started.elapsed().as_millis(),
        })
    }
}
