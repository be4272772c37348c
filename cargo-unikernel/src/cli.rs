//! The command line: `cargo unikernel <command>`, its flags, and what each command
//! does with the builds ([`crate::build`]) and boots ([`crate::qemu`]) it asks for.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use unikernel_pass::Stage;

use crate::build::{self, BuildOptions};
use crate::cargo_build::Features;
use crate::error::{self, Failure};
use crate::harness;
use crate::ir;
use crate::pgo::Pgo;
use crate::plan::{Profile, Request};
use crate::project::Selection;
use crate::publish::{Network, Publish};
use crate::qemu::Accel;
use crate::report::BuildReport;
use crate::report_text;

mod run;

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
    /// Build the package's test harnesses as images (or --hosted executables) and run
    /// each, as `cargo test` does; arguments after `--` go to libtest.
    Test(TestArgs),
    /// Profile-guided optimization in one command: build instrumented, run the
    /// workload (`--runs`, `--train-cmd`), merge the profiles, build optimized.
    Pgo(PgoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PgoArgs {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub training: crate::train::TrainingArgs,
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
    /// Guest memory in MiB: at least 2 (`examples/hello` needs 4; with too little the
    /// kernel stops with 123), at most the host's memory.
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
    /// Forward 127.0.0.1:HOST on this machine to the guest's TCP port GUEST
    /// (repeatable; `GUEST` alone uses the same port on both sides). Gives the guest
    /// a virtio-net device on QEMU's user network, isolated from everything else.
    #[arg(long, short = 'P', value_name = "[HOST:]GUEST[/tcp]")]
    pub publish: Vec<Publish>,
    /// Trace the app's system calls, strace-style, on the console: all of them, or
    /// only the NAMES given (`--strace=openat,read,write`).
    #[arg(long, value_name = "NAMES", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub strace: Option<String>,
    /// Start the guest halted with QEMU's gdb stub on 127.0.0.1:PORT (default 1234)
    /// and print the command that attaches gdb.
    #[arg(long, value_name = "PORT", num_args = 0..=1, require_equals = true, default_missing_value = "1234")]
    pub gdb: Option<u16>,
    /// Sample the running code's call stacks HZ times a second (default 997) and write
    /// them, symbolized, as folded stacks (next to --flamegraph's SVG, else to
    /// ./cpu-profile.folded).
    #[arg(long, value_name = "HZ", num_args = 0..=1, require_equals = true, default_missing_value = "997")]
    pub profile_cpu: Option<u32>,
    /// Also render the profile as a flame graph SVG (implies --profile-cpu).
    #[arg(long, value_name = "FILE.svg")]
    pub flamegraph: Option<std::path::PathBuf>,
    /// The guest's network: `user` (QEMU's user network, isolated; a device only with
    /// `--publish`), `user:host` (the guest also reaches this host's 127.0.0.1 at
    /// 10.0.2.2) or `none` (loopback only).
    #[arg(long, default_value = "user", value_name = "user|user:host|none")]
    pub net: Network,
    /// Arguments for the app.
    #[arg(last = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Test only the library's unit tests.
    #[arg(long)]
    pub lib: bool,
    /// Test the unit tests of every bin.
    #[arg(long)]
    pub bins: bool,
    /// Test only the named integration test (repeatable).
    #[arg(long = "test", value_name = "NAME")]
    pub tests: Vec<String>,
    /// Test every integration test.
    #[arg(long = "tests")]
    pub all_tests: bool,
    /// Build the harnesses, do not run them.
    #[arg(long)]
    pub no_run: bool,
    /// Run every harness even after one failed.
    #[arg(long)]
    pub no_fail_fast: bool,
    /// Stop a harness that runs longer than this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory: u32,
    /// Arguments for libtest (filters, `--exact`, `--nocapture`, `--test-threads N`,
    /// `--list`, `--format terse`, `--ignored`, ...).
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
    /// Instrument the whole program (app, std, shim, kernel) for PGO training; each
    /// `run` leaves a `.profraw` in DIR (default target/unikernel/pgo-profiles).
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        require_equals = true,
        conflicts_with = "profile_use"
    )]
    pub profile_generate: Option<Option<PathBuf>>,
    /// Optimize with this merged profile (`llvm-profdata merge` output).
    #[arg(long, value_name = "FILE.profdata")]
    pub profile_use: Option<PathBuf>,
}

impl BuildArgs {
    /// The build these flags ask for.
    pub(crate) fn request(&self) -> Request {
        let profile = match (&self.profile, self.release) {
            (Some(name), _) => name.as_str(),
            (None, true) => "release",
            (None, false) => "dev",
        };
        Request {
            selection: Selection {
                manifest_path: self.manifest_path.clone(),
                package: self.package.clone(),
                bin: self.bin.clone(),
                example: self.example.clone(),
            },
            hosted: self.hosted,
            profile: Profile::named(profile),
            features: Features {
                features: self.features.clone(),
                all_features: self.all_features,
                no_default_features: self.no_default_features,
            },
            target_dir: self.target_dir.clone(),
            syscall_rewrite: !self.no_syscall_rewrite,
            verbose: self.verbose,
            files: self.files.clone(),
            allow_unsupported_syscalls: self.allow_unsupported_syscalls,
            pgo: match (&self.profile_generate, &self.profile_use) {
                (Some(dir), _) => Pgo::Generate { dir: dir.clone() },
                (None, Some(file)) => Pgo::Use(file.clone()),
                (None, None) => Pgo::Off,
            },
        }
    }
}

impl TestArgs {
    fn options(&self) -> harness::TestOptions {
        harness::TestOptions {
            request: self.build.request(),
            lib: self.lib,
            bins: self.bins,
            tests: self.tests.clone(),
            all_tests: self.all_tests,
            no_run: self.no_run,
            no_fail_fast: self.no_fail_fast,
            timeout: std::time::Duration::from_secs(self.timeout),
            memory_mib: self.memory,
            args: self.args.clone(),
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
        Command::Build(args) => {
            build::build(&args.request(), BuildOptions::default()).map(|_| ExitCode::SUCCESS)
        }
        Command::Run(args) => run::run(&args),
        Command::Ir(args) => print_ir(&args),
        Command::Report(args) => report(&args),
        Command::Test(args) => harness::test(&args.options()),
        Command::Pgo(args) => run::pgo(&args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {}", error::message(&e));
        ExitCode::from(Failure::of(&e).map_or(1, Failure::exit_code))
    })
}

/// `cargo unikernel ir`.
fn print_ir(args: &IrArgs) -> anyhow::Result<ExitCode> {
    let options = BuildOptions {
        ir: Some(args.stage),
        inspect_only: true,
    };
    let built = build::build(&args.build.request(), options)?;
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
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo unikernel report`.
fn report(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let options = BuildOptions {
        ir: None,
        inspect_only: true,
    };
    let built = build::build(&args.build.request(), options)?;
    let text = if args.json {
        let bytes = std::fs::read(&built.report)
            .with_context(|| format!("cannot read {}", built.report.display()))?;
        String::from_utf8_lossy(&bytes).into_owned() + "\n"
    } else {
        report_text::render(&BuildReport::read(&built.report)?)
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}
