//! The `pgo` suite: LTO alone against LTO + PGO across the whole program, for the image
//! (guest instructions under `-icount shift=0`, and time under TCG) and for the hosted
//! build as a Linux process (time).
//!
//! Workloads: the `examples/microbench` operations (system-call bound: the profile
//! reaches the kernel's code) and `examples/pgo-workloads` (`json`: serde_json
//! serialize + parse; `regex`: a regex-lite scan). The profile is trained on a
//! different input than the one measured: one run of all operations of a program at a
//! tenth of its smallest measured iteration count, pgo-workloads also on another seed. Training is `cargo unikernel pgo` itself (instrumented build, run,
//! `llvm-profdata merge`, optimized build).

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::unikernel::parse;
use crate::{check, repo, tool};

/// One program and its operations with the iterations measured in the image and as a
/// Linux process.
struct Program {
    example: &'static str,
    ops: &'static [(&'static str, u64, u64)],
    /// Extra arguments of the measured runs (before the operation).
    measure: &'static [&'static str],
}

const PROGRAMS: &[Program] = &[
    Program {
        example: "microbench",
        ops: &[
            ("getppid", 100_000, 1_000_000),
            ("clock_gettime", 50_000, 1_000_000),
            ("write_null", 50_000, 500_000),
            ("spawn_join", 200, 5_000),
            ("condvar_pingpong", 2_000, 20_000),
            ("file_4k", 5_000, 50_000),
        ],
        measure: &[],
    },
    Program {
        example: "pgo-workloads",
        ops: &[("json", 20, 500), ("regex", 3, 50)],
        measure: &["--seed", "1"],
    },
];

/// A figure per operation: image instructions, image ns, hosted ns (per iteration).
type Figures = Vec<[anyhow::Result<f64>; 3]>;

pub fn run(runs: usize) -> anyhow::Result<()> {
    let tool = tool()?;
    let mut rows = Vec::new();
    for program in PROGRAMS {
        // Canonical, like the paths the tool itself derives (the profile's path is part
        // of a build's fingerprint).
        let manifest = repo()
            .join("examples")
            .join(program.example)
            .join("Cargo.toml")
            .canonicalize()
            .context("the example's manifest")?;
        let hosted = manifest.with_file_name("target/unikernel/hosted/release");
        let hosted = hosted.join(program.example);
        eprintln!("== {}: LTO builds", program.example);
        build(&tool, &manifest, &["--hosted"])?;
        build(&tool, &manifest, &[])?;
        let lto = measure(&tool, &manifest, &hosted, program, runs, None);
        eprintln!("== {}: training (cargo unikernel pgo)", program.example);
        let train = training_args(program);
        pgo(&tool, &manifest, &["--hosted"], &train)?;
        pgo(&tool, &manifest, &[], &train)?;
        let profiles = manifest.with_file_name("target/unikernel/pgo-profiles");
        let image_profile = profiles.join(format!("{}-image.profdata", program.example));
        let pgo_figures = measure(
            &tool,
            &manifest,
            &hosted,
            program,
            runs,
            Some(&image_profile),
        );
        for (i, &(op, _, _)) in program.ops.iter().enumerate() {
            let cells = row(&lto, &pgo_figures, i);
            // As each program finishes, so a long run shows its progress.
            eprintln!("   {op}: {}", cells.join(" "));
            rows.push((program.example, op, cells));
        }
        // Leave the example's hosted build as plain LTO again.
        build(&tool, &manifest, &["--hosted"])?;
    }
    print_table(&rows);
    Ok(())
}

/// The training arguments: a different input than the measured one.
fn training_args(program: &Program) -> Vec<String> {
    let mut args = Vec::new();
    if program.example == "pgo-workloads" {
        args.extend(["--seed".into(), "7".into()]);
    }
    let iterations = program
        .ops
        .iter()
        .map(|o| o.1)
        .min()
        .unwrap_or(1)
        .div_ceil(10)
        .max(1);
    args.extend(["--iterations".into(), iterations.to_string()]);
    args.extend(program.ops.iter().map(|o| o.0.to_owned()));
    args
}

fn build(tool: &Path, manifest: &Path, flags: &[&str]) -> anyhow::Result<()> {
    let mut command = Command::new(tool);
    command
        .args(["unikernel", "build", "--release"])
        .args(flags)
        .arg("--manifest-path")
        .arg(manifest);
    check(
        command,
        &format!("cargo unikernel build {}", flags.join(" ")),
    )
}

fn pgo(tool: &Path, manifest: &Path, flags: &[&str], train: &[String]) -> anyhow::Result<()> {
    let mut command = Command::new(tool);
    command
        .args([
            "unikernel",
            "pgo",
            "--release",
            "--accel",
            "tcg",
            "--timeout",
            "1800",
        ])
        .args(flags)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--")
        .args(train);
    check(command, &format!("cargo unikernel pgo {}", flags.join(" ")))
}

fn measure(
    tool: &Path,
    manifest: &Path,
    hosted: &Path,
    program: &Program,
    runs: usize,
    profile: Option<&Path>,
) -> Figures {
    program
        .ops
        .iter()
        .map(|&(op, image_iterations, hosted_iterations)| {
            let boot = |icount: bool| {
                median(runs, || {
                    let ns = boot(
                        tool,
                        manifest,
                        profile,
                        icount,
                        program,
                        op,
                        image_iterations,
                    )?;
                    Ok(ns as f64 / image_iterations as f64)
                })
            };
            let process = median(runs.max(3), || {
                let output = Command::new(hosted)
                    .args(program.measure)
                    .args(["--iterations", &hosted_iterations.to_string(), op])
                    .output()
                    .with_context(|| format!("cannot run {}", hosted.display()))?;
                Ok(parse(op, &output)? as f64 / hosted_iterations as f64)
            });
            [boot(true), boot(false), process]
        })
        .collect()
}

fn boot(
    tool: &Path,
    manifest: &Path,
    profile: Option<&Path>,
    icount: bool,
    program: &Program,
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
            "--timeout",
            "1800",
        ])
        .arg("--manifest-path")
        .arg(manifest);
    if let Some(profile) = profile {
        command.arg("--profile-use").arg(profile);
    }
    if icount {
        command.arg("--icount");
    }
    command
        .arg("--")
        .args(program.measure)
        .args(["--iterations", &iterations.to_string(), op]);
    let output = command.output().context("cannot run cargo unikernel")?;
    parse(op, &output)
}

fn median(runs: usize, mut measure: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut values = (0..runs.max(1))
        .map(|_| measure())
        .collect::<anyhow::Result<Vec<f64>>>()?;
    values.sort_by(f64::total_cmp);
    Ok(values[values.len() / 2])
}

/// LTO, LTO+PGO and the change for each of the three figures.
fn row(lto: &Figures, pgo: &Figures, i: usize) -> Vec<String> {
    (0..3)
        .flat_map(|k| {
            let show = |r: &anyhow::Result<f64>| match r {
                Ok(v) => format!("{v:.1}"),
                Err(e) => format!("failed: {}", format!("{e:#}").lines().last().unwrap_or("")),
            };
            let change = match (&lto[i][k], &pgo[i][k]) {
                (Ok(a), Ok(b)) if *a > 0.0 => format!("{:+.1}%", (b - a) / a * 100.0),
                _ => "-".into(),
            };
            [show(&lto[i][k]), show(&pgo[i][k]), change]
        })
        .collect()
}

fn print_table(rows: &[(&str, &str, Vec<String>)]) {
    println!(
        "\nLTO vs LTO+PGO per operation (PGO trained on a different input); image under \
         QEMU TCG, hosted as a Linux process\n"
    );
    println!(
        "{:<14} {:<16} | {:>10} {:>10} {:>7} | {:>10} {:>10} {:>7} | {:>9} {:>9} {:>7}",
        "program",
        "op",
        "insn LTO",
        "insn PGO",
        "change",
        "ns LTO",
        "ns PGO",
        "change",
        "host LTO",
        "host PGO",
        "change"
    );
    for (program, op, cells) in rows {
        println!(
            "{:<14} {:<16} | {:>10} {:>10} {:>7} | {:>10} {:>10} {:>7} | {:>9} {:>9} {:>7}",
            program,
            op,
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8]
        );
    }
    println!(
        "\ninsn: guest instructions per operation (-icount shift=0); ns: guest time per \
         operation under TCG; host: ns per operation of the hosted build as a Linux \
         process. change: PGO against LTO alone (negative is better)."
    );
}
