//! The whole-program build: captured link inputs + runtime -> the pass's pipeline ->
//! lld -> one ELF and its build report.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use unikernel_pass::Pipeline;
use unikernel_pass::syscalls::SyscallSummary;

use crate::composition::{Composition, Origins};
use crate::error::Failure;
use crate::link_capture::LinkManifest;
use crate::link_inputs::Inputs;
use crate::lld::{self, LinkKind};
use crate::pgo::PgoReport;
use crate::report::{BuildReport, ImageSize};
use crate::toolchain::Toolchain;

/// One whole-program build to run.
#[derive(Debug)]
pub struct Job<'a> {
    /// The pass's pipeline: hosted or image, level, entry points, IR capture.
    pub pipeline: Pipeline,
    pub toolchain: &'a Toolchain,
    /// The link manifest cargo produced for the app.
    pub manifest: &'a Path,
    pub runtime_rlibs: &'a [PathBuf],
    pub kind: LinkKind,
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

        let module = self
            .pipeline
            .clone()
            .native_code_may_trap(inputs.native_may_issue_syscalls())
            .run(
                &inputs.bitcode,
                &inputs.native_undefined,
                &self.work_dir.join("whole-program.o"),
            )
            .map_err(|e| anyhow::Error::new(e).context(Failure::WholeProgram))?;

        if let Some(dir) = self.output.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        lld::link(
            &self.toolchain.rust_lld()?,
            &self.kind,
            lld::Strip::from_command_line(&manifest.command_line),
            &module.object,
            &inputs.native,
            &self.output,
        )?;
        let size = ImageSize::of(&self.output)?;
        let origins = Origins::new(
            &module.origins,
            &inputs.bitcode,
            &manifest,
            self.runtime_rlibs,
            &self.toolchain.sysroot,
        );
        let composition = Composition::of(&self.output, &origins)?;
        // An instrumented build's section names its collection directory: the
        // caller's to fill in.
        let pgo = module
            .profile_use
            .as_ref()
            .map(|used| PgoReport::used(used, &origins));
        let level = self.pipeline.level();
        Ok(BuildReport {
            output: self.output.clone(),
            level,
            pipeline: level.pipeline().to_owned(),
            rustc: self.toolchain.version.clone(),
            inputs: inputs.summary,
            syscalls: SyscallSummary::of(&module.stats.syscall_rewrites),
            stats: module.stats,
            reachability: module.reachability,
            composition: Some(composition),
            size,
            total_ms: started.elapsed().as_millis(),
            pgo,
        })
    }
}
