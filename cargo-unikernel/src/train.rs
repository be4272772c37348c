//! `cargo unikernel pgo`: the one-command PGO flow, as `cargo pgo` users know it.
//!
//! 1. build instrumented (`--profile-generate` into a fresh training directory);
//! 2. run the workload `--runs` times: boot the image (the kernel exports the profile
//!    at exit) or, with `--hosted`, run the executable as a Linux process with
//!    `LLVM_PROFILE_FILE`; with `--train-cmd`, a host command (a load generator) runs
//!    against the program while it serves, and the program must then end on its own
//!    (the workload asks it to, e.g. a quit request), since a profile is written at
//!    the program's end;
//! 3. merge the raw profiles with the toolchain's `llvm-profdata`;
//! 4. build optimized with `--profile-use`.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;

use crate::build::{self, BuildOptions, Built};
use crate::error::Failure;
use crate::pgo::{self, Pgo};
use crate::plan::Request;
use crate::project::Project;
use crate::qemu::Boot;
use crate::status::{relative, status};
use crate::toolchain::Toolchain;

/// The flow's flags beside those of `run` (`cli::PgoArgs`).
#[derive(Debug, Clone, Args)]
pub struct TrainingArgs {
    /// Training runs of the workload (each a boot, or a process with --hosted).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// A host command (run with `sh -c`) against the instrumented program while it
    /// serves, e.g. a load generator on a port published with -P. The program must
    /// end on its own after it (its profile is written at exit).
    #[arg(long, value_name = "CMD")]
    pub train_cmd: Option<String>,
}

/// What the flow needs from the command line.
pub struct Training<'a> {
    /// The build without PGO; the flow sets `pgo`.
    pub request: Request,
    pub flags: &'a TrainingArgs,
    /// The boot of an instrumented image (`None`: hosted, run as a process).
    pub boot: Option<&'a dyn for<'b> Fn(&'b Built) -> Boot<'b>>,
    /// The app's arguments and `KEY=VALUE` environment, for hosted runs.
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub timeout: Duration,
}

impl std::fmt::Debug for Training<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Training")
            .field("request", &self.request)
            .field("flags", self.flags)
            .field("image", &self.boot.is_some())
            .finish_non_exhaustive()
    }
}

/// Run the flow; the optimized build's path is printed.
pub fn pgo(training: &Training<'_>) -> anyhow::Result<ExitCode> {
    let base = training.request.clone();
    if base.pgo != Pgo::Off {
        return Err(anyhow!(
            "`pgo` chooses --profile-generate and --profile-use itself; give neither"
        )
        .context(Failure::Usage));
    }
    let hosted = base.hosted;
    let flags = training.flags;
    let project = Project::resolve(&base.selection, base.target_dir.as_deref())?;
    let toolchain = Toolchain::for_project(project.package_dir())?;
    let llvm_profdata = pgo::llvm_profdata(&toolchain)?;
    let profiles = pgo::default_dir(&project.unikernel_dir());
    let kind = if hosted { "hosted" } else { "image" };
    let runs_dir = profiles.join(format!("{}-{kind}-training", project.target_name));
    // Profiles of older code would only be stale: start empty.
    let _ = std::fs::remove_dir_all(&runs_dir);
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("cannot create {}", runs_dir.display()))?;

    let mut instrumented = base.clone();
    instrumented.pgo = Pgo::Generate {
        dir: Some(runs_dir.clone()),
    };
    let built = build::build(&instrumented, BuildOptions::default())?;
    for run in 1..=flags.runs {
        status(
            "Training",
            &format!("run {run} of {} ({})", flags.runs, relative(&built.output)),
        );
        let code = match training.boot {
            Some(boot) => train_image(&boot(&built), flags, &runs_dir)?,
            None => train_hosted(training, &built, &runs_dir)?,
        };
        status("Trained", &format!("run {run} exited with {code}"));
    }
    let raw: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .with_context(|| format!("cannot read {}", runs_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "profraw"))
        .collect();
    let profdata = profiles.join(format!("{}-{kind}.profdata", project.target_name));
    status(
        "Merging",
        &format!("{} raw profiles -> {}", raw.len(), relative(&profdata)),
    );
    pgo::merge(&llvm_profdata, &raw, &profdata)?;

    let mut optimized = base;
    optimized.pgo = Pgo::Use(profdata);
    let built = build::build(&optimized, BuildOptions::default())?;
    status("Optimized", &relative(&built.output));
    Ok(ExitCode::SUCCESS)
}

/// One boot of the instrumented image, the training command beside it; the exit code.
fn train_image(
    boot: &Boot<'_>,
    flags: &TrainingArgs,
    runs_dir: &std::path::Path,
) -> anyhow::Result<i32> {
    let outcome = std::thread::scope(|scope| {
        let guest = scope.spawn(|| boot.run());
        let trained = flags.train_cmd.as_deref().map(train_command);
        let outcome = guest
            .join()
            .map_err(|_| anyhow!("the boot thread panicked"))?;
        if let Some(trained) = trained {
            trained?;
        }
        outcome
    })?;
    let saved = pgo::collect(&outcome.exports, runs_dir)?;
    if saved.is_empty() {
        return Err(anyhow!(
            "the instrumented image exported no profile (it must end through exit, a \
             panic or a signal)"
        )
        .context(Failure::Run));
    }
    Ok(outcome.exit_code)
}

/// One run of the instrumented executable as a Linux process; the exit code.
fn train_hosted(
    training: &Training<'_>,
    built: &Built,
    runs_dir: &std::path::Path,
) -> anyhow::Result<i32> {
    let mut command = Command::new(&built.output);
    command
        .args(training.args)
        .envs(training.env.iter().map(|(k, v)| (k, v)))
        .env("LLVM_PROFILE_FILE", runs_dir.join("default-%p.profraw"))
        .stdin(Stdio::null());
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {}", built.output.display()))?;
    if let Some(cmd) = &training.flags.train_cmd {
        train_command(cmd)?;
    }
    let started = Instant::now();
    let timeout = training.timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(anyhow!(
                "the instrumented program did not end within {timeout:?}; stopped it"
            )
            .context(Failure::Run));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(status.code().unwrap_or(128))
}

/// Run the training command to its end; its failure is the flow's.
fn train_command(cmd: &str) -> anyhow::Result<()> {
    status("Workload", cmd);
    let status = Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run the training command `{cmd}`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow!("the training command `{cmd}` failed ({status})").context(Failure::Run))
    }
}
