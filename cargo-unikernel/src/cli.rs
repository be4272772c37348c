//! The command line: `cargo unikernel <command>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use unikernel_pass::{OptLevel, Pipeline, Stage};

use crate::cargo_build::{self, Artifact};
use crate::checks;
use crate::error::{self, Failure};
use crate::fresh::Fingerprint;
use crate::initfs;
use crate::ir;
use crate::lld::LinkKind;
use crate::project::{Project, Selection};
use crate::qemu::{Accel, Boot};
use crate::report::{BuildReport, ImageSize};
use crate::report_text;
use crate::roles::{self, RoleLinks};
use crate::runtime;
use crate::toolchain::{TARGET, Toolchain};
use crate::whole_program::Job;

#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", version)]
enum Cargo {
    /// Build Rust std applications into unikernel images.
    #[command(subcommand)]
    Unikernel(Command),
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the app into a unikernel image, or with --hosted a static Linux executable.
    Build(BuildArgs),
    /// Build the image and boot it under QEMU; the app's exit code becomes ours.
    Run(RunArgs),
    /// Print the whole-program module's LLVM IR at a stage of the build.
    Ir(IrArgs),
    /// Build and print the build report: syscall sites, reachable syscalls, image size
    /// by component, inputs left out of LTO.
    Report(ReportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct IrArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The stage: right after merging, after the syscall rewrite (images only), or
    /// the final module that code generation receives.
    #[arg(long, value_parser = ir::stage_parser(), default_value_t = Stage::Optimized)]
    pub stage: Stage,
    /// Print only the functions whose demangled name contains PATTERN (or matches it
    /// as a glob, with `*` and `?`).
    #[arg(long, value_name = "PATTERN")]
    pub function: Option<String>,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Print the report as JSON (the `<output>.report.json` file) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Accelerator (default: KVM where the CPU has vmx/svm and /dev/kvm opens, else TCG).
    #[arg(long, value_enum)]
    pub accel: Option<Accel>,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory: u32,
    /// Stop the guest after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Set an environment variable in the guest (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Guest time counts guest instructions (QEMU `-icount shift=0`; TCG only).
    #[arg(long)]
    pub icount: bool,
    /// Arguments for the app.
    #[arg(last = true)]
    pub args: Vec<String>,
}

/// Flags shared by every command that builds.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Build a static Linux executable over the libc shim (real syscalls, no kernel).
    #[arg(long)]
    pub hosted: bool,
    /// Build with the release profile (full LTO at O3).
    #[arg(long, short = 'r')]
    pub release: bool,
    /// Build with the named cargo profile.
    #[arg(long, value_name = "NAME", conflicts_with = "release")]
    pub profile: Option<String>,
    /// Path to the project's Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The package to build.
    #[arg(long, short = 'p', value_name = "SPEC")]
    pub package: Option<String>,
    /// The binary to build.
    #[arg(long, value_name = "NAME", conflicts_with = "example")]
    pub bin: Option<String>,
    /// The example to build.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// Features to activate (space or comma separated).
    #[arg(long, short = 'F', value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Leave system calls on the trap path (the `syscall` instruction into the kernel)
    /// instead of rewriting them into direct calls: for comparison.
    #[arg(long)]
    pub no_syscall_rewrite: bool,
    /// Print more: the build report summary and where files went.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Pack a host file or directory into the image's RAM file system at GUEST, an
    /// absolute path (repeatable; adds to `[package.metadata.unikernel] files`).
    #[arg(long = "file", value_name = "HOST:GUEST")]
    pub files: Vec<String>,
    /// Build even if the program can reach system calls the kernel does not implement
    /// (they return ENOSYS at run time); they are listed as warnings.
    #[arg(long)]
    pub allow_unsupported_syscalls: bool,
}

impl BuildArgs {
    fn selection(&self) -> Selection {
        Selection {
            manifest_path: self.manifest_path.clone(),
            package: self.package.clone(),
            bin: self.bin.clone(),
            example: self.example.clone(),
        }
    }

    /// The cargo profile and the directory name cargo gives it.
    fn profile(&self) -> (String, String) {
        match (&self.profile, self.release) {
            (Some(p), _) if p == "dev" => ("dev".into(), "debug".into()),
            (Some(p), _) => (p.clone(), p.clone()),
            (None, true) => ("release".into(), "release".into()),
            (None, false) => ("dev".into(), "debug".into()),
        }
    }

    fn opt_level(&self) -> OptLevel {
        if self.profile().0 == "dev" {
            OptLevel::Quick
        } else {
            OptLevel::Full
        }
    }
}

pub fn main() -> ExitCode {
    let Cargo::Unikernel(command) = match Cargo::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = match command {
        Command::Build(args) => build(&args).map(|_| ExitCode::SUCCESS),
        Command::Run(args) => run(&args),
        Command::Ir(args) => print_ir(&args),
        Command::Report(args) => report(&args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", error::message(&e));
        ExitCode::from(Failure::of(&e).map_or(1, Failure::exit_code))
    })
}

/// The result of a build.
#[derive(Debug)]
pub struct Built {
    pub output: PathBuf,
    pub size: ImageSize,
    /// The build report beside the output.
    pub report: PathBuf,
    /// The IR file the build was asked for ([`BuildOptions::ir`]).
    pub ir: Option<PathBuf>,
}

/// What a command needs from a build besides the output.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Keep the module's IR at this stage (`cargo unikernel ir`).
    pub ir: Option<Stage>,
    /// Only inspecting (`ir`, `report`): failed checks are printed, not fatal.
    pub inspect_only: bool,
}

/// `cargo unikernel build`.
pub fn build(args: &BuildArgs) -> anyhow::Result<Built> {
    build_with(args, BuildOptions::default())
}

/// A build, keeping what `options` asks for.
pub fn build_with(args: &BuildArgs, options: BuildOptions) -> anyhow::Result<Built> {
    let project = Project::resolve(&args.selection(), args.target_dir.as_deref())?;
    let dir = project.unikernel_dir();
    let (profile, profile_dir) = args.profile();
    let name = &project.target_name;
    let level = args.opt_level();
    let (pipeline, output) = if args.hosted {
        (
            Pipeline::hosted(level, vec![HOSTED_ENTRY.into()]),
            dir.join("hosted").join(&profile_dir).join(name),
        )
    } else if args.no_syscall_rewrite {
        (
            Pipeline::image(level, vec![KERNEL_ENTRY.into()], false),
            dir.join(&profile_dir).join(format!("{name}.trap")),
        )
    } else {
        (
            Pipeline::image(level, vec![KERNEL_ENTRY.into()], true),
            dir.join(&profile_dir).join(name),
        )
    };
    let label = pipeline.name();
    let work_dir = dir.join("work").join(label).join(&profile_dir).join(name);
    // A kept IR file is current if the link that wrote it had the build's fingerprint.
    let ir = options.ir.map(|stage| {
        let file = work_dir.join("ir").join(format!("{stage}.ll"));
        let stamp = file.with_extension("ll.fingerprint");
        (stage, file, stamp)
    });
    let pipeline = match &ir {
        Some((stage, file, _)) => pipeline
            .capture_ir(*stage, file.clone())
            .with_context(|| format!("--stage {stage}"))?,
        None => pipeline,
    };
    let toolchain = Toolchain::for_project(project.package_dir())?;

    status(
        "Runtime",
        if args.hosted {
            "libc shim (bitcode)"
        } else {
            "libc shim and kernel (bitcode)"
        },
    );
    let runtime_dir = dir.join("runtime");
    let shim = runtime::shim(&toolchain, &runtime_dir)?;
    let kernel = if args.hosted {
        None
    } else {
        Some(runtime::kernel(&toolchain, &runtime_dir.join("kernel"))?)
    };

    status(
        "Compiling",
        &format!("{} ({profile}, bitcode)", project.target_name),
    );
    let manifest = build_app(args, &project, &toolchain, &profile)?;

    let (kind, rlibs) = match &kernel {
        None => (LinkKind::Hosted, shim.rlibs.clone()),
        Some(kernel) => (
            LinkKind::Image {
                script: runtime::image_linker_script(),
                entry: KERNEL_ENTRY.into(),
                initfs: initial_files(args, &project, &dir.join("initfs"))?,
            },
            runtime::union(&[&shim, kernel]),
        ),
    };
    let job = Job {
        pipeline,
        toolchain: &toolchain,
        manifest: &manifest,
        runtime_rlibs: &rlibs,
        kind,
        work_dir,
        output: output.clone(),
    };
    let fingerprint = Fingerprint::of(&job)?;
    let report_path = BuildReport::path_for(&output);
    let ir_current = ir
        .as_ref()
        .is_none_or(|(_, file, stamp)| file.is_file() && fingerprint.matches_file(stamp));
    if fingerprint.is_current(&output) && ir_current && report_path.is_file() {
        status("Fresh", &relative(&output));
        let reachability = checks::recorded(&report_path)?;
        check(args, options, reachability.as_ref())?;
        return Ok(Built {
            size: ImageSize::of(&output)?,
            output,
            report: report_path,
            ir: ir.map(|(_, file, _)| file),
        });
    }
    if let Some((_, file, stamp)) = &ir {
        let _ = std::fs::remove_file(stamp);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    Fingerprint::invalidate(&output);
    status(
        "Linking",
        &format!("{name} ({label}, whole program, {})", level.pipeline()),
    );
    let report = job.run()?;
    let report_path = report.write()?;
    fingerprint.record(&output)?;
    if let Some((_, _, stamp)) = &ir {
        fingerprint.record_in(stamp)?;
    }
    if args.verbose {
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
    check(args, options, report.reachability.as_ref())?;
    Ok(Built {
        output,
        size: report.size,
        report: report_path,
        ir: ir.map(|(_, file, _)| file),
    })
}

/// The build's checks (`checks.rs`): fatal for `build` and `run`, printed for `ir`
/// and `report`.
fn check(
    args: &BuildArgs,
    options: BuildOptions,
    reachability: Option<&unikernel_pass::reach::Reachability>,
) -> anyhow::Result<()> {
    let Some(reachability) = reachability else {
        return Ok(());
    };
    let allow = args.allow_unsupported_syscalls || options.inspect_only;
    match checks::enforce(reachability, allow) {
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
        Err(e) => Err(e),
    }
}

/// `cargo unikernel ir`.
fn print_ir(args: &IrArgs) -> anyhow::Result<ExitCode> {
    let built = build_with(
        &args.build,
        BuildOptions {
            ir: Some(args.stage),
            inspect_only: true,
        },
    )?;
    let file = built.ir.context("the build kept no IR")?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let text = match &args.function {
        None => text,
        Some(pattern) => ir::functions_matching(&text, pattern).with_context(|| {
            format!(
                "no function of the {} module matches `{pattern}`",
                args.stage
            )
        })?,
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = stdout.write_all(text.as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo unikernel report`.
fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let built = build_with(
        &args.build,
        BuildOptions {
            ir: None,
            inspect_only: true,
        },
    )?;
    let bytes = std::fs::read(&built.report)
        .with_context(|| format!("cannot read {}", built.report.display()))?;
    let text = if args.json {
        String::from_utf8_lossy(&bytes).into_owned() + "\n"
    } else {
        report_text::render(
            &serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a build report", built.report.display()))?,
        )
    };
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

/// Packs the image's initial files (`initfs.rs`); the object to link, if any.
fn initial_files(
    args: &BuildArgs,
    project: &Project,
    dir: &Path,
) -> anyhow::Result<Option<PathBuf>> {
    let specs = initfs::specs(&project.metadata, project.package_dir(), &args.files)
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
    if args.verbose {
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

/// The image's entry point: the kernel's PVH entry (sysroot/hal, `pvh.rs`).
const KERNEL_ENTRY: &str = "__unikernel_pvh_start";

/// A hosted executable's entry point: the shim's `_start`.
const HOSTED_ENTRY: &str = "_start";

/// `cargo unikernel run`.
fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.build.hosted {
        anyhow::bail!("`run` boots an image; run a --hosted build directly");
    }
    let built = build(&args.build)?;
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--env `{kv}`: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let accel = args.accel.unwrap_or_else(Accel::detect);
    if args.icount && accel != Accel::Tcg {
        anyhow::bail!("--icount needs software emulation (--accel tcg)");
    }
    let boot = Boot {
        image: &built.output,
        accel,
        memory_mib: args.memory,
        argv0: built
            .output
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        args: args.args.clone(),
        env,
        verbose: args.build.verbose,
        timeout: std::time::Duration::from_secs(args.timeout),
        icount: args.icount,
    };
    if args.build.verbose {
        status(
            "Booting",
            &format!(
                "{} ({:?}, {} KiB image, {} KiB loaded)",
                relative(&built.output),
                accel,
                built.size.file_bytes / 1024,
                built.size.loaded_bytes / 1024
            ),
        );
    }
    let outcome = boot.run()?;
    if args.build.verbose {
        status(
            "Exited",
            &format!(
                "code {} after {:.0} ms (whole QEMU process)",
                outcome.exit_code,
                outcome.wall.as_secs_f64() * 1e3
            ),
        );
    }
    Ok(ExitCode::from(outcome.exit_code.clamp(0, 255) as u8))
}

/// Build the app with cargo; returns the link manifest of the selected target.
fn build_app(
    args: &BuildArgs,
    project: &Project,
    toolchain: &Toolchain,
    profile: &str,
) -> anyhow::Result<PathBuf> {
    let dir = project.unikernel_dir();
    let links = RoleLinks::create(&dir.join("bin"))?;
    let mut command = cargo_build::cargo();
    command
        .args([
            "build",
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
    if project.is_example {
        command.args(["--example", &project.target_name]);
    } else {
        command.args(["--bin", &project.target_name]);
    }
    for features in &args.features {
        command.args(["--features", features]);
    }
    if args.all_features {
        command.arg("--all-features");
    }
    if args.no_default_features {
        command.arg("--no-default-features");
    }
    if let Some(inner) = std::env::var_os("RUSTC_WRAPPER").filter(|w| !w.is_empty()) {
        command.env(roles::INNER_WRAPPER_ENV, inner);
    }
    command
        .env("RUSTC", &toolchain.rustc)
        .env("RUSTC_WRAPPER", &links.wrapper)
        .env(roles::LINKER_ENV, &links.linker);
    let artifacts = cargo_build::run_json(command, &format!("`{}`", project.target_name))?;
    find_manifest(&artifacts, project)
}

fn find_manifest(artifacts: &[Artifact], project: &Project) -> anyhow::Result<PathBuf> {
    artifacts
        .iter()
        .filter(|a| a.target_name == project.target_name)
        .find_map(|a| a.executable.clone())
        .with_context(|| format!("cargo built no executable for `{}`", project.target_name))
}

/// A cargo-style status line on stderr.
pub fn status(verb: &str, message: &str) {
    eprintln!("{verb:>12} {message}");
}

fn relative(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
