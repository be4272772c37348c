//! One build, as every command that builds runs it: the runtime crates, the app, the
//! image's initial files, then the whole-program link and the build's checks; the link
//! is skipped when its inputs have not changed ([`crate::fresh`]).

use std::path::{Path, PathBuf};

use anyhow::Context;
use unikernel_pass::Stage;
use unikernel_pass::reach::Reachability;

use crate::cargo_build;
use crate::checks;
use crate::error::{self, Failure};
use crate::fresh::Fingerprint;
use crate::initfs;
use crate::lld::LinkKind;
use crate::pgo;
use crate::plan::{KERNEL_ENTRY, Plan, Request};
use crate::project::Project;
use crate::report::{BuildReport, ImageSize};
use crate::runtime;
use crate::runtime_cache;
use crate::status::{relative, status};
use crate::toolchain::Toolchain;
use crate::whole_program::Job;

/// The result of a build.
#[derive(Debug)]
pub struct Built {
    pub output: PathBuf,
    pub size: ImageSize,
    /// The build report beside the output.
    pub report: PathBuf,
    /// The IR file the build was asked for ([`BuildOptions::ir`]).
    pub ir: Option<PathBuf>,
    /// Where training runs collect profiles (`--profile-generate` builds).
    pub profile_dir: Option<PathBuf>,
}

/// What a command needs from a build besides the output.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Keep the module's IR at this stage (`cargo unikernel ir`).
    pub ir: Option<Stage>,
    /// Only inspecting (`ir`, `report`): failed checks are printed, not fatal.
    pub inspect_only: bool,
}

/// Build what `request` asks for, keeping what `options` asks for.
pub fn build(request: &Request, options: BuildOptions) -> anyhow::Result<Built> {
    let project = Project::resolve(&request.selection, request.target_dir.as_deref())?;
    request.pgo.check()?;
    let toolchain = Toolchain::for_project(project.package_dir())?;
    let runtime = Runtime::build(request, &project, &toolchain)?;
    let name = &project.target_name;
    let profile = &request.profile.name;
    status("Compiling", &format!("{name} ({profile}, bitcode)"));
    let manifest = cargo_build::build_app(&project, &toolchain, profile, &request.features)?;
    link(
        request, &project, &toolchain, &runtime, &manifest, name, options,
    )
}

/// The runtime crates' bitcode one build links against: the shim, and for images the
/// kernel.
#[derive(Debug)]
pub struct Runtime {
    shim: runtime::RuntimeLibs,
    kernel: Option<runtime::RuntimeLibs>,
}

impl Runtime {
    /// Builds (or finds current) the runtime `request` needs.
    pub fn build(
        request: &Request,
        project: &Project,
        toolchain: &Toolchain,
    ) -> anyhow::Result<Runtime> {
        let what = if request.hosted {
            "libc shim (bitcode)"
        } else {
            "libc shim and kernel (bitcode)"
        };
        let runtime_dir = runtime_cache::runtime_dir(
            toolchain,
            &runtime::source_root(),
            runtime::RUSTFLAGS,
            &project.unikernel_dir(),
        );
        status("Runtime", &format!("{what} in {}", runtime_dir.display()));
        let features = request.pgo.runtime_features();
        // An image's profile is the kernel's to write; the shim writes a hosted one.
        let shim_features = if request.hosted { features } else { &[] };
        let shim = runtime::shim_with(toolchain, &runtime_dir, shim_features)?;
        let kernel = if request.hosted {
            None
        } else {
            Some(runtime::kernel_with(
                toolchain,
                &runtime_dir.join("kernel"),
                features,
            )?)
        };
        if shim.reused && kernel.as_ref().is_none_or(|k| k.reused) {
            status(
                "Reused",
                &format!("runtime: {what}, built before, unchanged"),
            );
        } else {
            status("Built", &format!("runtime: {what}"));
        }
        Ok(Runtime { shim, kernel })
    }
}

/// The whole-program link of the program rustc asked to link in `manifest` (a link
/// manifest), named `name`, into an image or hosted executable, and the build's checks.
pub fn link(
    request: &Request,
    project: &Project,
    toolchain: &Toolchain,
    runtime: &Runtime,
    manifest: &Path,
    name: &str,
    options: BuildOptions,
) -> anyhow::Result<Built> {
    let dir = project.unikernel_dir();
    let plan = Plan::new(request, &dir, name, options.ir)?;
    let profile_dir = request.pgo.collect_dir(&dir);
    let Runtime { shim, kernel } = runtime;
    let (kind, rlibs) = match kernel {
        None => (LinkKind::Hosted, shim.rlibs.clone()),
        Some(kernel) => (
            LinkKind::Image {
                script: runtime::image_linker_script(),
                entry: KERNEL_ENTRY.into(),
                initfs: initial_files(request, project, &dir.join("initfs"))?,
            },
            runtime::union(&[shim, kernel]),
        ),
    };
    let mut rlibs = rlibs;
    if request.pgo.links_runtime() {
        rlibs.push(pgo::profiler_runtime(toolchain)?);
    }
    let Plan {
        pipeline,
        output,
        work_dir,
        ir,
    } = plan;
    let label = pipeline.name();
    let pipeline_text = pipeline.level().pipeline();
    let job = Job {
        pipeline,
        toolchain,
        manifest,
        runtime_rlibs: &rlibs,
        kind,
        work_dir,
        output: output.clone(),
    };
    let fingerprint = Fingerprint::of(&job)?;
    let report_path = BuildReport::path_for(&output);
    // A kept IR file is current if the link that wrote it had this fingerprint.
    let ir_current = ir
        .as_ref()
        .is_none_or(|ir| ir.file.is_file() && fingerprint.matches_file(&ir.stamp));
    if fingerprint.is_current(&output) && ir_current && report_path.is_file() {
        status("Fresh", &relative(&output));
        let reachability = BuildReport::read(&report_path)?.reachability;
        check(request, project, options, reachability.as_ref(), &output)?;
        return Ok(Built {
            size: ImageSize::of(&output)?,
            output,
            report: report_path,
            ir: ir.map(|ir| ir.file),
            profile_dir,
        });
    }
    if let Some(ir) = &ir {
        let _ = std::fs::remove_file(&ir.stamp);
        if let Some(parent) = ir.file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    Fingerprint::invalidate(&output);
    status(
        "Linking",
        &format!("{name} ({label}, whole program, {pipeline_text})"),
    );
    let mut report = job.run()?;
    if let Some(dir) = &profile_dir {
        report.pgo = Some(pgo::PgoReport::generate(dir.clone()));
    }
    let report_path = report.write()?;
    if let Some(warning) = report.pgo.as_ref().and_then(|p| p.stale_warning()) {
        status("Warning", &warning);
    }
    fingerprint.record(&output)?;
    if let Some(ir) = &ir {
        fingerprint.record_in(&ir.stamp)?;
    }
    if request.verbose {
        status("Report", &report.summary_line());
        for native in report.native_inputs() {
            status(
                "Native",
                &format!(
                    "{}: {}",
                    native.name,
                    native.native.as_deref().unwrap_or("")
                ),
            );
        }
        status("Report", &report_path.display().to_string());
    }
    status("Finished", &relative(&output));
    check(
        request,
        project,
        options,
        report.reachability.as_ref(),
        &output,
    )?;
    Ok(Built {
        output,
        size: report.size,
        report: report_path,
        ir: ir.map(|ir| ir.file),
        profile_dir,
    })
}

/// The build's checks (`checks.rs`): fatal for `build` and `run`, printed for `ir`
/// and `report`. A fatal failure removes the image at `output` (and its fingerprint,
/// so the next build links again), so that no image that breaks a checked property is
/// left to run; the build report stays: it names the system calls and a path to each.
fn check(
    request: &Request,
    project: &Project,
    options: BuildOptions,
    reachability: Option<&Reachability>,
    output: &Path,
) -> anyhow::Result<()> {
    let Some(reachability) = reachability else {
        return Ok(());
    };
    let policy = checks::Policy {
        allow_unsupported: request.allow_unsupported_syscalls || options.inspect_only,
        program_syscalls: checks::program_syscalls(&project.metadata)
            .map_err(|e| e.context(Failure::Project))?,
    };
    if request.hosted && !reachability.annotations.is_empty() {
        status("Note", checks::HOSTED_SCOPE);
    }
    match checks::enforce(reachability, &policy) {
        Ok(warnings) => {
            for warning in warnings {
                status("Warning", &warning);
            }
            Ok(())
        }
        Err(e) if options.inspect_only => {
            status("Warning", &error::message(&e));
            Ok(())
        }
        Err(e) => {
            Fingerprint::invalidate(output);
            if let Err(err) = std::fs::remove_file(output)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                status(
                    "Warning",
                    &format!("cannot remove the image {}: {err}", relative(output)),
                );
            }
            Err(e)
        }
    }
}

/// Packs the image's initial files (`initfs.rs`); the object to link, if any.
fn initial_files(
    request: &Request,
    project: &Project,
    dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    let specs = initfs::specs(&project.metadata, project.package_dir(), &request.files)
        .map_err(|e| e.context(Failure::Project))?;
    if specs.is_empty() {
        return Ok(None);
    }
    let packed = initfs::pack(&specs)?;
    status(
        "Packing",
        &format!(
            "{} files, {} directories, {} bytes of file data ({} byte archive)",
            packed.files(),
            packed.directories(),
            packed.data_bytes(),
            packed.archive.len()
        ),
    );
    if request.verbose {
        for entry in &packed.entries {
            let size = entry.bytes.map_or("dir".into(), |b| format!("{b} bytes"));
            status(
                "File",
                &format!("{} <- {} ({size})", entry.guest, relative(&entry.host)),
            );
        }
    }
    initfs::write_object(&packed.archive, dir).map(Some)
}
