//! The `profile` suite: the sampling profiler's overhead (`run --profile-cpu`) on the
//! CPU-bound `examples/hotspots`: the guest's run time with and without sampling at
//! the given rate, in wall time under TCG and in guest instructions under
//! `-icount shift=0` (deterministic: guest time is then one nanosecond per
//! instruction, so the difference is exactly the instructions sampling added).
//!
//! The run time is the kernel's own figure (`--verbose`: "exit with status 0 after N
//! us", from the first kernel instruction to exit, before the samples are exported),
//! so QEMU's start and the export do not count. Runs alternate with and without
//! sampling; the median of each is shown.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{check, repo, tool};

pub fn run(runs: usize, hz: u32, rounds: u64) -> anyhow::Result<()> {
    let tool = tool()?;
    let manifest = repo().join("examples/hotspots/Cargo.toml");
    let mut build = Command::new(&tool);
    build
        .args(["unikernel", "build", "--release", "--manifest-path"])
        .arg(&manifest);
    check(build, "cargo unikernel build --release (hotspots)")?;
    let out = tempfile::tempdir()?;
    let svg = out.path().join("hotspots.svg");
    println!("hotspots {rounds} rounds, median of {runs} runs, sampling at {hz} Hz:");
    for icount in [false, true] {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            off.push(boot(&tool, &manifest, icount, None, rounds)?);
            on.push(boot(&tool, &manifest, icount, Some((hz, &svg)), rounds)?);
        }
        let (off, on) = (median(&mut off), median(&mut on));
        let unit = if icount { "M instructions" } else { "ms (TCG)" };
        println!(
            "  {:<14} without {:>9.1}  with {:>9.1}  overhead {:+.2}%",
            unit,
            off as f64 / 1e3,
            on as f64 / 1e3,
            (on as f64 - off as f64) / off as f64 * 100.0
        );
    }
    Ok(())
}

/// One boot of hotspots; the kernel's run time in us (instructions / 1000 with icount).
fn boot(
    tool: &Path,
    manifest: &Path,
    icount: bool,
    profile: Option<(u32, &Path)>,
    rounds: u64,
) -> anyhow::Result<u64> {
    let mut command = Command::new(tool);
    command.args([
        "unikernel",
        "run",
        "--release",
        "--verbose",
        "--accel",
        "tcg",
    ]);
    if icount {
        command.arg("--icount");
    }
    if let Some((hz, svg)) = profile {
        command.arg(format!("--profile-cpu={hz}"));
        command.arg("--flamegraph").arg(svg);
    }
    command.arg("--manifest-path").arg(manifest);
    command.args(["--", &rounds.to_string()]);
    let output = command.output().context("cannot run cargo unikernel run")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let console = String::from_utf8_lossy(&output.stdout) + stderr.as_ref();
    if !output.status.success() {
        bail!("hotspots failed:\n{console}");
    }
    if profile.is_some() && !stderr.contains("Profiled") {
        bail!("no profile was written:\n{stderr}");
    }
    console
        .lines()
        .find_map(|line| {
            let rest = line.split("exit with status 0 after ").nth(1)?;
            rest.strip_suffix(" us")?.trim().parse().ok()
        })
        .with_context(|| format!("no exit time in the console:\n{console}"))
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}
