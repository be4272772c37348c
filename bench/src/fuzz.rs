//! The `fuzz` suite: builds `examples/fuzz` into an image and boots it with N random
//! system calls (seed S, T threads), the kernel's data range from the image's symbol
//! table given as bad pointers; reports the calls made, the time and the rate, and
//! fails if the kernel faulted (126), the run hung (a call the program's watchdog saw
//! stuck: 3; the whole machine: the timeout) or an errno broke the man pages (1).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::{check, repo, tool};

pub fn run(calls: u64, seed: u64, threads: usize, timeout: u64) -> anyhow::Result<()> {
    let tool = tool()?;
    let manifest = repo().join("examples/fuzz/Cargo.toml");
    let mut build = Command::new(&tool);
    build
        .args(["unikernel", "build", "--release", "--manifest-path"])
        .arg(&manifest);
    check(build, "cargo unikernel build of examples/fuzz")?;
    let image = repo().join("examples/fuzz/target/unikernel/release/fuzz");
    let kernel = kernel_range(&image)?;

    let mut command = Command::new(&tool);
    command
        .args(["unikernel", "run", "--release", "--timeout"])
        .arg(timeout.to_string())
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--", "--calls", &calls.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--threads", &threads.to_string(), &kernel]);
    let started = Instant::now();
    let output = command.output().context("cannot run cargo unikernel")?;
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `fuzz: N calls in MS ms, V violations`
    let guest_ms: Option<f64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("fuzz: {calls} calls in ")))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    for line in stdout
        .lines()
        .filter(|l| l.starts_with("violation") || l.starts_with("hang"))
    {
        println!("{line}");
    }
    match (output.status.code(), guest_ms) {
        (Some(0), Some(ms)) => {
            println!(
                "fuzz: seed {seed}, {calls} calls on {threads} threads: {:.1} s in the guest \
                 ({:.0} calls/s), {:.1} s from boot to exit, no kernel fault, hang or \
                 undocumented errno",
                ms / 1000.0,
                calls as f64 / (ms / 1000.0),
                wall.as_secs_f64()
            );
            Ok(())
        }
        (code, _) => bail!(
            "fuzzing failed ({}) after {:.1} s: 126 = kernel fault, 3 = a call hung, \
             8 = the machine hung (timeout), 1 = undocumented errno\n{}{}",
            code.map_or("killed".into(), |c| format!("exit {c}")),
            wall.as_secs_f64(),
            stdout
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// `kernel=START-END`: the kernel's data in the image (its linker symbols).
fn kernel_range(image: &Path) -> anyhow::Result<String> {
    let output = Command::new("nm")
        .arg(image)
        .output()
        .context("cannot run nm on the image")?;
    let symbols = String::from_utf8_lossy(&output.stdout);
    let address = |name: &str| {
        symbols.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            let address = words.next()?;
            (words.nth(1)? == name).then(|| address.to_owned())
        })
    };
    match (
        address("__unikernel_kernel_data_start"),
        address("__unikernel_kernel_data_end"),
    ) {
        (Some(start), Some(end)) => Ok(format!("kernel={start}-{end}")),
        _ => bail!("no kernel data symbols in {}", image.display()),
    }
}
