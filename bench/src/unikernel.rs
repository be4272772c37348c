//! The `unikernel` suite: the per-operation cost of system-call-bound work in the
//! unikernel with the syscall rewrite (direct calls) and without it (`syscall`
//! instruction, trap path), in time and in guest instructions, next to the same loop
//! as a Linux process.
//!
//! Every figure comes from `examples/microbench`, which times N iterations of one
//! operation with `Instant` and prints the loop's nanoseconds. Under QEMU's
//! `-icount shift=0` guest time advances one nanosecond per guest instruction, so the
//! same program then reports instructions. Each configuration boots (or runs) once per
//! operation and run; the median over runs is shown.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{check, repo, tool};

/// An operation of `microbench` and its iteration count (scaled by `--scale`): enough
/// for a measurable loop under software emulation, where the guest runs tens of times
/// slower than the host.
const OPS: &[(&str, u64)] = &[
    ("getppid", 100_000),
    ("clock_gettime", 50_000),
    ("write_null", 50_000),
    ("spawn_join", 200),
    ("condvar_pingpong", 2_000),
    ("file_4k", 5_000),
];

/// Where a measurement runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Config {
    /// `cargo build --release`: glibc, a Linux process.
    Glibc,
    /// `cargo unikernel build --hosted`: our shim, real system calls, a Linux process.
    Hosted,
    /// The image under QEMU (TCG); `rewrite: false` is `--no-syscall-rewrite`;
    /// `icount` counts instructions instead of time.
    Image { rewrite: bool, icount: bool },
}

const CONFIGS: [Config; 6] = [
    Config::Glibc,
    Config::Hosted,
    Config::Image {
        rewrite: true,
        icount: false,
    },
    Config::Image {
        rewrite: false,
        icount: false,
    },
    Config::Image {
        rewrite: true,
        icount: true,
    },
    Config::Image {
        rewrite: false,
        icount: true,
    },
];

pub fn run(runs: usize, scale: f64, only: &[String]) -> anyhow::Result<()> {
    let tool = tool()?;
    let example = repo().join("examples/microbench");
    let manifest = example.join("Cargo.toml");
    let glibc = build_glibc(&manifest, &example)?;
    let hosted = build_tool(&tool, &manifest, &["--hosted"])?;
    let hosted = hosted.join("hosted/release/microbench");
    build_tool(&tool, &manifest, &[])?;
    build_tool(&tool, &manifest, &["--no-syscall-rewrite"])?;

    let ops: Vec<(&str, u64)> = OPS
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name))
        .map(|&(name, n)| (name, ((n as f64 * scale).round() as u64).max(1)))
        .collect();
    if ops.is_empty() {
        bail!(
            "no operation selected (known: {:?})",
            OPS.iter().map(|o| o.0).collect::<Vec<_>>()
        );
    }

    println!(
        "microbench per operation; median of {runs} run(s); the unikernel under QEMU TCG\n\
         direct = syscall rewrite (direct calls), trap = --no-syscall-rewrite (`syscall` instruction)\n"
    );
    println!(
        "{:<17} {:>7} | {:>10} {:>10} | {:>10} {:>10} {:>6} | {:>9} {:>9} {:>6}",
        "op",
        "iters",
        "glibc",
        "hosted",
        "direct",
        "trap",
        "ratio",
        "insn dir",
        "insn trap",
        "ratio"
    );
    println!(
        "{:<17} {:>7} | {:>21} | {:>29} | {:>26}",
        "", "", "Linux process, ns", "unikernel time, ns", "unikernel instructions"
    );
    for (op, iterations) in ops {
        let mut cells = Vec::new();
        for config in CONFIGS {
            let figure = median(runs, || {
                let ns = match config {
                    Config::Glibc => run_process(&glibc, op, iterations)?,
                    Config::Hosted => run_process(&hosted, op, iterations)?,
                    Config::Image { rewrite, icount } => {
                        boot(&tool, &manifest, rewrite, icount, op, iterations)?
                    }
                };
                Ok(ns as f64 / iterations as f64)
            });
            cells.push(figure);
        }
        let show = |r: &anyhow::Result<f64>| match r {
            Ok(v) => format!("{v:.1}"),
            Err(_) => "failed".into(),
        };
        let ratio = |trap: &anyhow::Result<f64>, direct: &anyhow::Result<f64>| match (trap, direct)
        {
            (Ok(t), Ok(d)) if *d > 0.0 => format!("{:.2}", t / d),
            _ => "-".into(),
        };
        println!(
            "{:<17} {:>7} | {:>10} {:>10} | {:>10} {:>10} {:>6} | {:>9} {:>9} {:>6}",
            op,
            iterations,
            show(&cells[0]),
            show(&cells[1]),
            show(&cells[2]),
            show(&cells[3]),
            ratio(&cells[3], &cells[2]),
            show(&cells[4]),
            show(&cells[5]),
            ratio(&cells[5], &cells[4]),
        );
        for (config, cell) in CONFIGS.iter().zip(&cells) {
            if let Err(e) = cell {
                println!(
                    "    {config:?}: {}",
                    format!("{e:#}").lines().last().unwrap_or("")
                );
            }
        }
    }
    println!(
        "\nratio = trap / direct: how many times the `syscall` instruction path costs what the \
         direct call costs.\nglibc reads clock_gettime through the vDSO (no system call); the \
         hosted shim and the unikernel do not."
    );
    Ok(())
}

fn median(runs: usize, mut measure: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut values = (0..runs.max(1))
        .map(|_| measure())
        .collect::<anyhow::Result<Vec<f64>>>()?;
    values.sort_by(f64::total_cmp);
    Ok(values[values.len() / 2])
}

fn build_glibc(manifest: &Path, example: &Path) -> anyhow::Result<PathBuf> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(manifest);
    check(command, "glibc build of microbench")?;
    Ok(example.join("target/release/microbench"))
}

/// `cargo unikernel build --release FLAGS`; returns the tool's output directory.
fn build_tool(tool: &Path, manifest: &Path, flags: &[&str]) -> anyhow::Result<PathBuf> {
    let mut command = Command::new(tool);
    command
        .args(["unikernel", "build", "--release"])
        .args(flags)
        .arg("--manifest-path")
        .arg(manifest);
    check(
        command,
        &format!("cargo unikernel build {}", flags.join(" ")),
    )?;
    Ok(manifest.with_file_name("target/unikernel"))
}

fn run_process(binary: &Path, op: &str, iterations: u64) -> anyhow::Result<u64> {
    let output = Command::new(binary)
        .args(["--iterations", &iterations.to_string(), op])
        .output()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    parse(op, &output)
}

fn boot(
    tool: &Path,
    manifest: &Path,
    rewrite: bool,
    icount: bool,
    op: &str,
    iterations: u64,
) -> anyhow::Result<u64> {
    let mut command = Command::new(tool);
    command
        .args([
            "unikernel",
            "run",
            "--release",
            "--accel",
            "tcg",
            "--manifest-path",
        ])
        .arg(manifest);
    if !rewrite {
        command.arg("--no-syscall-rewrite");
    }
    if icount {
        command.arg("--icount");
    }
    command.args(["--", "--iterations", &iterations.to_string(), op]);
    let output = command.output().context("cannot run cargo unikernel")?;
    parse(op, &output)
}

/// The loop's nanoseconds from `op NAME iterations N ns T checksum C`.
pub(crate) fn parse(op: &str, output: &std::process::Output) -> anyhow::Result<u64> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with(&format!("op {op} ")));
    let ns = line.and_then(|l| {
        let mut words = l.split_whitespace();
        words.position(|w| w == "ns")?;
        words.next()?.parse().ok()
    });
    match (output.status.success(), ns) {
        (true, Some(ns)) => Ok(ns),
        _ => bail!("{} ({})", why(&stdout), output.status),
    }
}

/// The reason a run failed, from its console: the panic message if there is one, else
/// the last line.
fn why(stdout: &str) -> &str {
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .position(|l| l.contains("panicked at"))
        .and_then(|i| lines.get(i + 1))
        .or(lines.last())
        .copied()
        .unwrap_or("no output")
}
