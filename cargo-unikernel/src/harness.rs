//! `cargo unikernel test`: every test harness of a package (unit tests of the lib and
//! bins, integration tests) built as an image, or with `--hosted` a static Linux
//! executable, and run one after the other as `cargo test` runs them.
//!
//! cargo builds the harnesses (`cargo test --no-run`) through the same wrapper and
//! link-capture roles as `build`, so each harness cargo reports is a link manifest; each
//! is then linked whole-program ([`build::link`]) under its file name (`NAME-HASH`,
//! unique per harness). What the harness prints and its exit status are libtest's own:
//! the console is forwarded; cargo's `Running` lines and its final error are repeated
//! here, and a failing harness ends the command with cargo's status, 101.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use crate::build::{self, BuildOptions};
use crate::cargo_build::{self, Artifact};
use crate::error::Failure;
use crate::plan::Request;
use crate::publish::Network;
use crate::qemu::{Accel, Boot, Console};
use crate::status::{relative, status};
use crate::toolchain::Toolchain;

/// The exit status of `cargo test` when a test failed.
pub const TEST_FAILED: u8 = 101;

/// What `cargo unikernel test` was asked for (cli.rs's `TestArgs`, resolved).
#[derive(Debug, Clone)]
pub struct TestOptions {
    pub request: Request,
    /// `--lib`, `--bins`, `--test NAME`..., `--tests`: cargo's target selection.
    pub lib: bool,
    pub bins: bool,
    pub tests: Vec<String>,
    pub all_tests: bool,
    /// Build the harnesses, do not run them.
    pub no_run: bool,
    /// Run every harness even after one failed.
    pub no_fail_fast: bool,
    /// Stop a harness after this long.
    pub timeout: Duration,
    pub memory_mib: u32,
    /// Arguments for libtest.
    pub args: Vec<String>,
}

/// One test harness cargo built.
#[derive(Debug)]
struct Harness {
    /// `unittests src/lib.rs` or `tests/NAME.rs`, as cargo's `Running` line says.
    label: String,
    /// What to pass cargo to run this harness alone (`--lib`, `--test NAME`).
    rerun: String,
    /// The link manifest cargo reported as the executable.
    manifest: PathBuf,
    /// Where cargo runs it: the lib's unit tests, the bins', the examples', then the
    /// integration tests, each group by name.
    order: (u8, String),
}

impl Harness {
    fn of(artifact: &Artifact, package_dir: &Path) -> Option<Harness> {
        if !artifact.test {
            return None;
        }
        let manifest = artifact.executable.clone()?;
        let source = artifact
            .src_path
            .strip_prefix(package_dir)
            .unwrap_or(&artifact.src_path)
            .display()
            .to_string();
        let kind = |k: &str| artifact.kind.iter().any(|kind| kind.to_string() == k);
        let name = &artifact.target_name;
        let unit = format!("unittests {source}");
        let (group, label, rerun) = if kind("test") {
            (3, source, format!("--test {name}"))
        } else if kind("bin") {
            (1, unit, format!("--bin {name}"))
        } else if kind("example") {
            (2, unit, format!("--example {name}"))
        } else {
            (0, unit, "--lib".into())
        };
        Some(Harness {
            label,
            rerun,
            manifest,
            order: (group, name.clone()),
        })
    }

    /// The harness's name: its executable's file name (`NAME-HASH`).
    fn name(&self) -> String {
        self.manifest
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }
}

/// `cargo unikernel test`.
pub fn test(args: &TestOptions) -> anyhow::Result<ExitCode> {
    let mut request = args.request.clone();
    // libtest reaches `Command::spawn` (fork, exec, wait, the id setters) for its
    // `panic=abort` subprocess mode, which a harness built with unwinding never takes:
    // those system calls are warnings here, not a failed build.
    request.allow_unsupported_syscalls = true;
    let usage = |e: anyhow::Error| e.context(Failure::Usage);
    let accel = if request.hosted {
        None
    } else {
        crate::qemu::check_memory(args.memory_mib, crate::host::memory_mib()).map_err(usage)?;
        Some(Accel::detect())
    };
    let project = crate::project::Project::resolve_package(
        &request.selection,
        request.target_dir.as_deref(),
    )?;
    let toolchain = Toolchain::for_project(project.package_dir())?;
    let runtime = build::Runtime::build(&request, &project, &toolchain)?;
    let profile = &request.profile.name;
    status(
        "Compiling",
        &format!("{} test harnesses ({profile}, bitcode)", project.package),
    );
    let mut command = cargo_build::app_command(
        &project,
        &toolchain,
        profile,
        &request.features,
        &["test", "--no-run"],
    )?;
    if args.lib {
        command.arg("--lib");
    }
    if args.bins {
        command.arg("--bins");
    }
    if let Some(bin) = &request.selection.bin {
        command.args(["--bin", bin]);
    }
    if let Some(example) = &request.selection.example {
        command.args(["--example", example]);
    }
    for name in &args.tests {
        command.args(["--test", name]);
    }
    if args.all_tests {
        command.arg("--tests");
    }
    let artifacts = cargo_build::run_json(command, "the test harnesses")?;
    let mut harnesses: Vec<Harness> = artifacts
        .iter()
        .filter_map(|a| Harness::of(a, project.package_dir()))
        .collect();
    harnesses.sort_by(|a, b| a.order.cmp(&b.order));

    let mut linked = Vec::new();
    for harness in harnesses {
        let name = harness.name();
        let built = build::link(
            &request,
            &project,
            &toolchain,
            &runtime,
            &harness.manifest,
            &name,
            BuildOptions::default(),
        )?;
        linked.push((harness, built.output));
    }
    if args.no_run {
        for (harness, output) in &linked {
            status(
                "Executable",
                &format!("{} ({})", harness.label, relative(output)),
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    let timeout = args.timeout;
    let mut failed = Vec::new();
    for (harness, output) in &linked {
        status(
            "Running",
            &format!("{} ({})", harness.label, relative(output)),
        );
        let code = match accel {
            None => run_hosted(output, &args.args, timeout),
            Some(accel) => boot(output, accel, args.memory_mib, &args.args, timeout),
        }
        .with_context(|| format!("test harness {} ({})", harness.label, harness.name()))?;
        if code != 0 {
            eprintln!("error: test failed, to rerun pass `{}`", harness.rerun);
            failed.push(harness.rerun.clone());
            if !args.no_fail_fast {
                return Ok(ExitCode::from(TEST_FAILED));
            }
        }
    }
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        let plural = if failed.len() == 1 { "" } else { "s" };
        eprintln!("error: {} target{plural} failed:", failed.len());
        for rerun in &failed {
            eprintln!("    `{rerun}`");
        }
        Ok(ExitCode::from(TEST_FAILED))
    }
}

/// Boots one harness image with libtest's `args`; its exit status.
fn boot(
    image: &Path,
    accel: Accel,
    memory_mib: u32,
    args: &[String],
    timeout: Duration,
) -> anyhow::Result<i32> {
    crate::qemu::check_app_words(&[], args).map_err(|e| e.context(Failure::Usage))?;
    let boot = Boot {
        image,
        accel,
        memory_mib,
        argv0: image
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        args: args.to_vec(),
        env: Vec::new(),
        verbose: false,
        kernel_options: Vec::new(),
        gdb_port: None,
        timeout,
        icount: false,
        console: Console::Forward,
        publish: Vec::new(),
        network: Network::User,
    };
    Ok(boot.run()?.exit_code)
}

/// Runs one hosted harness with libtest's `args`, stopped after `timeout`; its exit
/// status (128 + the signal if one ended it).
fn run_hosted(executable: &Path, args: &[String], timeout: Duration) -> anyhow::Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(executable)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", executable.display()))?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status
                .code()
                .or(status.signal().map(|signal| 128 + signal))
                .unwrap_or(1));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(
                anyhow!("did not finish within {timeout:?}; stopped it").context(Failure::Run)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
