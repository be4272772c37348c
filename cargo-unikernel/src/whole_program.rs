//! The whole-program build: captured link inputs + runtime -> one module -> one ELF.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use inkwell::context::Context as LlvmContext;
use unikernel_pass::internalize::KeepSet;
use unikernel_pass::{OptLevel, WholeProgram, syscalls};

use crate::composition::{Composition, Origins};
use crate::error::Failure;
use crate::ir::Stage;
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
    /// Write the module's textual IR at this stage to this file (`cargo unikernel ir`);
    /// `None` in ordinary builds, which write no IR.
    pub save_ir: Option<(Stage, PathBuf)>,
}

/// What the LLVM stages hand to the report besides their counters.
struct Analysis {
    stats: unikernel_pass::Stats,
    reachability: unikernel_pass::reach::Reachability,
    origins: std::collections::HashMap<String, usize>,
}

impl Job<'_> {
    /// The LLVM stages, in order (DESIGN.md, "Pipeline", step 5).
    fn whole_program(
        &self,
        context: &LlvmContext,
        inputs: &Inputs,
    ) -> Result<Analysis, unikernel_pass::PassError> {
        let mut program = WholeProgram::merge(context, &inputs.bitcode)?;
        self.save_ir(&program, Stage::Merged)?;
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
                self.save_ir(&program, Stage::Rewritten)?;
                // So the reachability analysis finds each entry's code after inlining.
                program.mark_kernel_entries();
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
        let reachability = program.reachability(&self.entry_points);
        program.strip_no_syscalls_marks()?;
        self.save_ir(&program, Stage::Optimized)?;
        program.emit_object(self.level, &self.work_dir.join("whole-program.o"))?;
        Ok(Analysis {
            stats: program.stats().clone(),
            reachability,
            origins: program.origins().clone(),
        })
    }

    fn save_ir(
        &self,
        program: &WholeProgram<'_>,
        stage: Stage,
    ) -> Result<(), unikernel_pass::PassError> {
        match &self.save_ir {
            Some((wanted, path)) if *wanted == stage => program.write_ir(path),
            _ => Ok(()),
        }
    }

    pub fn run(&self) -> anyhow::Result<BuildReport> {
        let started = Instant::now();
        let manifest = LinkManifest::read(self.manifest).context(Failure::WholeProgram)?;
        std::fs::create_dir_all(&self.work_dir)
            .with_context(|| format!("cannot create {}", self.work_dir.display()))?;
        let inputs = Inputs::gather(&manifest, self.runtime_rlibs, &self.work_dir.join("native"))
            .map_err(|e| e.context(Failure::WholeProgram))?;

        let context = LlvmContext::create();
        let analysis = self
            .whole_program(&context, &inputs)
            .map_err(|e| anyhow::Error::new(e).context(Failure::WholeProgram))?;
        let stats = analysis.stats;

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
        let origins = Origins::new(
            &analysis.origins,
            &inputs.bitcode,
            &manifest,
            self.runtime_rlibs,
            &self.toolchain.sysroot,
        );
        let composition = Composition::of(&self.output, &origins)?;
        Ok(BuildReport {
            output: self.output.clone(),
            level: self.level,
            pipeline: self.level.pipeline().to_owned(),
            rustc: self.toolchain.version.clone(),
            inputs: inputs.summary,
            syscalls: syscalls::SyscallSummary::of(&stats.syscall_rewrites),
            stats,
            reachability: Some(analysis.reachability),
            composition: Some(composition),
            size,
            total_ms: started.elapsed().as_millis(),
        })
    }
}
