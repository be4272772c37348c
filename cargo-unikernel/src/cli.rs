//! The command line: `cargo unikernel <command>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use unikernel_pass::OptLevel;

use crate::cargo_build::{self, Artifact};
use crate::error::{self, Failure};
use crate::lld::LinkKind;
use crate::project::{Project, Selection};
use crate::report::BuildReport;
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
    /// Print more: the build report summary and where files went.
    #[arg(long, short = 'v')]
    pub verbose: bool,
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
        if self.profile().0 == "dev" { OptLevel::Quick } else { OptLevel::Full }
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
    pub report: BuildReport,
}

/// `cargo unikernel build`.
pub fn build(args: &BuildArgs) -> anyhow::Result<Built> {
    let project = Project::resolve(&args.selection(), args.target_dir.as_deref())?;
    let toolchain = Toolchain::for_project(project.package_dir())?;
    let dir = project.unikernel_dir();
    let (profile, profile_dir) = args.profile();

    status("Runtime", "libc shim (bitcode)");
    let home = runtime::source_root();
    let shim = runtime::build(&toolchain, &home.join("Cargo.toml"), "unikernel-shim", &dir.join("runtime"))?;

    status("Compiling", &format!("{} ({profile}, bitcode)", project.target_name));
    let manifest = build_app(args, &project, &toolchain, &profile)?;

    let (mode, kind, output) = if args.hosted {
        ("hosted", LinkKind::Hosted, dir.join("hosted").join(&profile_dir).join(&project.target_name))
    } else {
        return Err(anyhow::anyhow!(
            "unikernel images are not built yet; use --hosted for a static Linux executable"
        ));
    };
    status("Linking", &format!("{} ({mode}, whole program, {})", project.target_name, args.opt_level().pipeline()));
    let job = Job {
        toolchain: &toolchain,
        manifest: &manifest,
        runtime_rlibs: &shim.rlibs,
        level: args.opt_level(),
        kind,
        entry_points: vec!["_start".into()],
        work_dir: dir.join("work").join(mode).join(&profile_dir).join(&project.target_name),
        output: output.clone(),
    };
    let report = job.run()?;
    let report_path = report.write()?;
    if args.verbose {
        status("Report", &report.summary_line());
        for native in report.native_inputs() {
            status("Native", &format!("{}: {}", native.name, native.native.as_deref().unwrap_or("")));
        }
        status("Report", &report_path.display().to_string());
    }
    status("Finished", &relative(&output));
    Ok(Built { output, report })
}

/// Build the app with cargo; returns the link manifest of the selected target.
fn build_app(args: &BuildArgs, project: &Project, toolchain: &Toolchain, profile: &str) -> anyhow::Result<PathBuf> {
    let dir = project.unikernel_dir();
    let links = RoleLinks::create(&dir.join("bin"))?;
    let mut command = cargo_build::cargo();
    command
        .args(["build", "--message-format=json-render-diagnostics", "--target", TARGET])
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
