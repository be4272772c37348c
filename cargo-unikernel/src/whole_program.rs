//! The whole-program build: captured link inputs + runtime -> one module -> one ELF.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use inkwell::context::Context as LlvmContext;
use unikernel_pass::internalize::KeepSet;
use unikernel_pass::{OptLevel, WholeProgram};

use crate::error::Failure;
use crate::link_capture::LinkManifest;
use crate::link_inputs::Inputs;
use crate::lld::{self, LinkKind};
use crate::report::{BuildReport, ImageSize};
use crate::toolchain::Toolchain;

/// One whole-program build to run.
#[derive(Debug)]
pub struct Job<'a> {
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
    pub fn run(&self) -> anyhow::Result<BuildReport> {
        let started = Instant::now();
        let manifest = LinkManifest::read(self.manifest).context(Failure::WholeProgram)?;
        std::fs::create_dir_all(&self.work_dir)
            .with_context(|| format!("cannot create {}", self.work_dir.display()))?;
        let inputs = Inputs::gather(&manifest, self.runtime_rlibs, &self.work_dir.join("native"))
            .map_err(|e| e.context(Failure::WholeProgram))?;

        let context = LlvmContext::create();
        let stats = {
            let whole = || -> Result<_, unikernel_pass::PassError> {
                let mut program = WholeProgram::merge(&context, &inputs.bitcode)?;
                program.fix_varargs_calls()?;
                let mut keep = KeepSet::new(self.entry_points.iter().cloned());
                keep.extend(inputs.native_undefined.iter().cloned());
                program.internalize(&keep)?;
                program.optimize(self.level)?;
                program.emit_object(self.level, &self.work_dir.join("whole-program.o"))?;
                Ok(program.stats().clone())
            };
            whole().map_err(|e| anyhow::Error::new(e).context(Failure::WholeProgram))?
        };

        if let Some(dir) = self.output.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
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
            stats,
            size,
            total_ms: started.elapsed().as_millis(),
        })
    }
}
