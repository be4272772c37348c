//! `cargo run -p unikernel-bench --release -- <suite>`: figures and ratios, one run.
//!
//! Suites:
//! - `hosted`: for the hello and threads examples, the size and the start-to-exit time
//!   of `cargo unikernel build --hosted --release` against a static glibc build of the
//!   same program (`-C target-feature=+crt-static`).
//! - `unikernel`: per-operation cost of system-call-bound loops (`examples/microbench`)
//!   in the unikernel with direct calls and on the trap path, in time and guest
//!   instructions, and as a Linux process (glibc and hosted).
//! - `pgo`: LTO alone against LTO + PGO (trained on another input) for the microbench
//!   operations and CPU-bound workloads (serde_json, regex-lite): guest instructions
//!   and time in the image, time as a Linux process.
//! - `linux`: the microbench operations, boot-to-main and what boots hello, as a Linux
//!   guest (Debian's stock kernel, the program as a static glibc `/init`) and as the
//!   unikernel with and without the syscall rewrite, in the same QEMU machine.
//! - `fuzz`: N random system calls in the image (`examples/fuzz`): calls made, time,
//!   calls per second; fails on a kernel fault, a hang or an undocumented errno.
//! - `profile`: the sampling profiler's overhead on `examples/hotspots` (run time with
//!   and without `run --profile-cpu`, in time and guest instructions).
//! - `net`: the kv and http example servers in the image, as glibc and as hosted
//!   processes, under a closed-loop load: requests/s, p50 and p99 latency.

mod fuzz;
mod hosted;
mod linux;
mod net;
mod pgo;
mod profile;
mod unikernel;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks of cargo-unikernel builds")]
struct Cli {
    #[command(subcommand)]
    suite: Suite,
}

#[derive(Debug, Subcommand)]
enum Suite {
    /// Hosted builds (our shim) against static glibc builds: size and start-to-exit time.
    Hosted {
        /// Runs per program and build; the median is reported.
        #[arg(long, default_value_t = 300)]
        runs: usize,
    },
    /// System-call-bound loops: unikernel direct calls vs trap path vs Linux processes.
    Unikernel {
        /// Measurements per operation and configuration; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Multiply every operation's iteration count.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Only these operations (default: all).
        ops: Vec<String>,
    },
    /// LTO against LTO + PGO: image instructions and time, hosted time, per operation.
    Pgo {
        /// Measurements per operation and configuration; the median is reported.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// The same programs as a Linux guest (stock kernel, static glibc /init) and as the
    /// unikernel, in the same QEMU machine: instructions and time per operation,
    /// boot to main, size.
    Linux {
        /// Boots per configuration; the median boot is reported.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Random system calls in the image: no kernel fault, hang or undocumented errno.
    Fuzz {
        /// System calls to make, over all threads.
        #[arg(long, default_value_t = 100_000)]
        calls: u64,
        /// Seed of the call sequence (each thread has its own stream of it).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads making calls at once.
        #[arg(long, default_value_t = 4)]
        threads: usize,
        /// Seconds before the run counts as hung.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// The sampling profiler's overhead: hotspots with and without `--profile-cpu`.
    Profile {
        /// Runs per configuration; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The sampling rate.
        #[arg(long, default_value_t = 997)]
        hz: u32,
        /// hotspots' ROUNDS (its work).
        #[arg(long, default_value_t = 20)]
        rounds: u64,
    },
    /// The kv and http servers under load: image vs glibc vs hosted.
    Net {
        /// Connections open at once, each a closed loop.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds of load per server and build.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().suite {
        Suite::Hosted { runs } => hosted::run(runs),
        Suite::Unikernel { runs, scale, ops } => unikernel::run(runs, scale, &ops),
        Suite::Pgo { runs } => pgo::run(runs),
        Suite::Linux { runs } => linux::run(runs),
        Suite::Fuzz {
            calls,
            seed,
            threads,
            timeout,
        } => fuzz::run(calls, seed, threads, timeout),
        Suite::Profile { runs, hz, rounds } => profile::run(runs, hz, rounds),
        Suite::Net {
            connections,
            seconds,
        } => net::run(connections, seconds),
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cargo-unikernel binary of this checkout, built in release mode if needed.
pub fn tool() -> anyhow::Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "cargo-unikernel",
            "--manifest-path",
        ])
        .arg(repo().join("Cargo.toml"))
        .status()?;
    if !status.success() {
        bail!("cannot build cargo-unikernel");
    }
    Ok(repo().join("target/release/cargo-unikernel"))
}

/// Run a command to completion, failing with its stderr.
pub fn check(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot start: {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
