//! The `hosted` suite.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{check, repo, tool};

const PROGRAMS: &[&str] = &["hello", "threads"];

pub fn run(runs: usize) -> anyhow::Result<()> {
    let tool = tool()?;
    println!("hosted (cargo-unikernel, our libc shim) vs static glibc; median of {runs} runs\n");
    println!(
        "{:<8} {:>12} {:>12} {:>7}   {:>10} {:>10} {:>7}",
        "program", "size hosted", "size glibc", "ratio", "t hosted", "t glibc", "ratio"
    );
    for program in PROGRAMS {
        let hosted = build_hosted(&tool, program)?;
        let glibc = build_glibc_static(program)?;
        let (size_h, size_g) = (
            std::fs::metadata(&hosted)?.len(),
            std::fs::metadata(&glibc)?.len(),
        );
        let (time_h, time_g) = (median_run(&hosted, runs)?, median_run(&glibc, runs)?);
        println!(
            "{:<8} {:>12} {:>12} {:>7.2}   {:>10} {:>10} {:>7.2}",
            program,
            bytes(size_h),
            bytes(size_g),
            size_h as f64 / size_g as f64,
            micros(time_h),
            micros(time_g),
            time_h.as_secs_f64() / time_g.as_secs_f64(),
        );
    }
    println!("\nratio = hosted / glibc (below 1: the hosted build is smaller or faster)");
    Ok(())
}

fn example(program: &str) -> PathBuf {
    repo().join("examples").join(program)
}

fn build_hosted(tool: &Path, program: &str) -> anyhow::Result<PathBuf> {
    let mut command = Command::new(tool);
    command.args([
        "unikernel",
        "build",
        "--hosted",
        "--release",
        "--manifest-path",
    ]);
    command.arg(example(program).join("Cargo.toml"));
    check(command, &format!("hosted build of {program}"))?;
    Ok(example(program)
        .join("target/unikernel/hosted/release")
        .join(program))
}

pub(crate) fn build_glibc_static(program: &str) -> anyhow::Result<PathBuf> {
    let target_dir = example(program).join("target/glibc-static");
    let mut command = Command::new(env!("CARGO"));
    command
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--manifest-path",
        ])
        .arg(example(program).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    check(command, &format!("static glibc build of {program}"))?;
    Ok(target_dir
        .join("x86_64-unknown-linux-gnu/release")
        .join(program))
}

/// Median wall-clock time from spawn to exit, output discarded.
fn median_run(binary: &Path, runs: usize) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        Command::new(binary)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

pub(crate) fn bytes(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}
