//! The `linux` suite: the same programs as a Linux guest and as the unikernel, in the
//! same VMM, side by side.
//!
//! The Linux guest is Debian's stock kernel (`linux-image-amd64`, found under `/boot`)
//! with the program, built as a static glibc executable, as `/init` of an initramfs
//! (plus the `/dev/console` node the kernel opens for init's stdio). Both guests boot
//! under QEMU `-M microvm,acpi=off`, the machine `cargo unikernel run` uses; with KVM
//! when the host has it, else TCG, and always TCG for instruction counts
//! (`-icount shift=0`: one guest instruction per nanosecond of guest time, so the
//! program's own `Instant` figures are instruction counts).
//!
//! Per operation of `examples/microbench` (one boot runs them all) it prints guest
//! instructions and time for the Linux guest, the unikernel with the syscall rewrite
//! and without it; then boot-to-main (the time-stamp counter at `main`, which under
//! `-icount` is the guest clock since reset, and the host's wall time until `main`
//! printed it) and the size of what boots hello (kernel + initramfs, or the image).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::hosted::{build_glibc_static, bytes};
use crate::{check, repo, tool};

/// The operations compared, and their iteration counts: enough to dwarf the loop's
/// setup, few enough for a Linux boot under TCG with `-icount`.
const OPS: &[(&str, u64)] = &[
    ("getppid", 20_000),
    ("clock_gettime", 20_000),
    ("write_null", 20_000),
];

/// Where a guest runs and what it counts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Guest {
    Linux,
    Unikernel { rewrite: bool },
}

/// What one boot of microbench reported: per operation nanoseconds per iteration, the
/// time-stamp counter at `main`, and the host's wall time until `main` said so.
#[derive(Debug, Default, Clone)]
struct Boot {
    per_op: HashMap<String, f64>,
    boot_tsc: u64,
    to_main: Duration,
}

pub fn run(runs: usize) -> anyhow::Result<()> {
    let kernel = find_kernel()?;
    let kvm = kvm_usable();
    let tool = tool()?;
    let microbench = repo().join("examples/microbench/Cargo.toml");
    let hello = repo().join("examples/hello/Cargo.toml");
    for flags in [&[][..], &["--no-syscall-rewrite"]] {
        build_tool(&tool, &microbench, flags)?;
    }
    build_tool(&tool, &hello, &[])?;
    let hello_image = repo().join("examples/hello/target/unikernel/release/hello");
    let work = repo().join("target/bench-linux");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let bench_initrd = initramfs(
        &build_glibc_static("microbench")?,
        &work.join("microbench.cpio"),
    )?;
    let hello_initrd = initramfs(&build_glibc_static("hello")?, &work.join("hello.cpio"))?;

    let accel = if kvm { "KVM" } else { "TCG" };
    println!(
        "Linux guest: {} (Debian's stock kernel) with a static glibc /init in an initramfs\n\
         unikernel: cargo unikernel run --release; both under QEMU -M microvm,acpi=off\n\
         time: {accel}{}; instructions: TCG with -icount shift=0 (deterministic); median of {runs} run(s)\n",
        kernel.display(),
        if kvm {
            ""
        } else {
            " (this host has no usable KVM)"
        },
    );

    let guests = [
        Guest::Linux,
        Guest::Unikernel { rewrite: true },
        Guest::Unikernel { rewrite: false },
    ];
    let mut timed = Vec::new();
    let mut counted = Vec::new();
    for guest in guests {
        let boot = |icount| match guest {
            Guest::Linux => boot_linux(&kernel, &bench_initrd, icount, kvm && !icount),
            Guest::Unikernel { rewrite } => boot_unikernel(&tool, &microbench, rewrite, icount),
        };
        timed.push(median_boot(runs, || boot(false)));
        counted.push(median_boot(runs, || boot(true)));
    }

    println!(
        "{:<15} | {:>10} {:>10} {:>10} {:>7} | {:>10} {:>10} {:>10} {:>7}",
        "op", "Linux", "direct", "trap", "L/dir", "Linux", "direct", "trap", "L/dir"
    );
    println!(
        "{:<15} | {:>41} | {:>41}",
        "", "guest instructions per op", "time per op, ns"
    );
    for (op, _) in OPS {
        let insn: Vec<Option<f64>> = counted.iter().map(|b| figure(b, op)).collect();
        let time: Vec<Option<f64>> = timed.iter().map(|b| figure(b, op)).collect();
        println!(
            "{op:<15} | {:>10} {:>10} {:>10} {:>7} | {:>10} {:>10} {:>10} {:>7}",
            show(insn[0]),
            show(insn[1]),
            show(insn[2]),
            ratio(insn[0], insn[1]),
            show(time[0]),
            show(time[1]),
            show(time[2]),
            ratio(time[0], time[1]),
        );
    }
    let tsc = |b: &anyhow::Result<Boot>| b.as_ref().ok().map(|b| b.boot_tsc as f64);
    let wall = |b: &anyhow::Result<Boot>| b.as_ref().ok().map(|b| b.to_main.as_secs_f64() * 1e3);
    println!(
        "{:<15} | {:>10} {:>10} {:>10} {:>7} | {:>10} {:>10} {:>10} {:>7}",
        "boot to main",
        show(tsc(&counted[0])),
        show(tsc(&counted[1])),
        show(tsc(&counted[2])),
        ratio(tsc(&counted[0]), tsc(&counted[1])),
        show(wall(&timed[0])),
        show(wall(&timed[1])),
        show(wall(&timed[2])),
        ratio(wall(&timed[0]), wall(&timed[1])),
    );
    for (guest, boot) in guests.iter().zip(counted.iter().chain(&timed)) {
        if let Err(e) = boot {
            println!("    {guest:?}: {e:#}");
        }
    }
    let kernel_size = len(&kernel)?;
    let initrd_size = len(&hello_initrd)?;
    let image_size = len(&hello_image)?;
    println!(
        "\nhello, what boots: Linux {} ({} kernel + {} initramfs), unikernel {} image ({:.1}x smaller)",
        bytes(kernel_size + initrd_size),
        bytes(kernel_size),
        bytes(initrd_size),
        bytes(image_size),
        (kernel_size + initrd_size) as f64 / image_size as f64,
    );
    println!(
        "\nboot to main: guest instructions (and any idle time) from reset to `main`, read as the \
         time-stamp counter, which -icount makes the guest clock; the time column is the host's \
         wall time in ms from starting the guest (`qemu`, or `cargo unikernel run` with its \
         up-to-date check) to `main`'s first line.\nL/dir = Linux guest / unikernel with direct \
         calls."
    );
    Ok(())
}

/// Debian's kernel under /boot (the newest by name), or `UNIKERNEL_BENCH_KERNEL`.
fn find_kernel() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("UNIKERNEL_BENCH_KERNEL") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("UNIKERNEL_BENCH_KERNEL={} is not a file", path.display());
        }
        return Ok(path);
    }
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-") && !n.ends_with(".dpkg-new"))
        })
        .collect();
    kernels.sort();
    kernels.pop().context(
        "no Linux kernel to boot: none under /boot (vmlinuz-*). Install Debian's stock kernel \
         with `apt-get install -y linux-image-amd64` (as root), or set UNIKERNEL_BENCH_KERNEL \
         to a bzImage",
    )
}

/// Whether QEMU can use KVM here: the CPU has vmx/svm and /dev/kvm opens.
fn kvm_usable() -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let virt = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    virt && std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// `cargo unikernel build --release FLAGS` of `manifest`.
fn build_tool(tool: &Path, manifest: &Path, flags: &[&str]) -> anyhow::Result<()> {
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

/// An initramfs at `out` holding `program` as `/init` and the console node.
fn initramfs(program: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let init =
        std::fs::read(program).with_context(|| format!("cannot read {}", program.display()))?;
    std::fs::write(out, archive(&init)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(out.to_path_buf())
}

/// The newc archive: `/dev`, `/dev/console` (char 5:1: the kernel opens it as init's
/// stdin, stdout and stderr, and finds nothing without it), `/init`.
fn archive(init: &[u8]) -> anyhow::Result<Vec<u8>> {
    use cpio::newc::{Builder, ModeFileType};
    let entries = vec![
        (
            Builder::new("dev")
                .mode(0o755)
                .set_mode_file_type(ModeFileType::Directory),
            Cursor::new(Vec::new()),
        ),
        (
            Builder::new("dev/console")
                .mode(0o600)
                .set_mode_file_type(ModeFileType::Char)
                .rdev_major(5)
                .rdev_minor(1),
            Cursor::new(Vec::new()),
        ),
        (
            Builder::new("init")
                .mode(0o755)
                .set_mode_file_type(ModeFileType::Regular),
            Cursor::new(init.to_vec()),
        ),
    ];
    cpio::write_cpio(entries.into_iter(), Vec::new()).context("writing the initramfs")
}

/// QEMU's argument list for the Linux guest.
fn linux_argv(kernel: &Path, initrd: &Path, icount: bool, kvm: bool, append: &str) -> Vec<String> {
    let mut argv: Vec<String> = [
        "-M",
        "microvm,acpi=off",
        "-m",
        "256M",
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-serial",
        "stdio",
        "-no-reboot",
    ]
    .map(String::from)
    .to_vec();
    if kvm {
        argv.extend(["-enable-kvm", "-cpu", "host"].map(String::from));
    } else {
        argv.extend(["-accel", "tcg", "-cpu", "max"].map(String::from));
    }
    if icount {
        argv.extend(["-icount", "shift=0"].map(String::from));
    }
    argv.extend([
        "-kernel".into(),
        kernel.display().to_string(),
        "-initrd".into(),
        initrd.display().to_string(),
        "-append".into(),
        append.into(),
    ]);
    argv
}

/// microbench's arguments: every operation, and the boot counter.
fn bench_args() -> Vec<String> {
    let mut args = vec!["--boot".to_owned()];
    for (op, iterations) in OPS {
        // One `--iterations` for all: the counts are equal by design.
        if args.len() == 1 {
            args.extend(["--iterations".to_owned(), iterations.to_string()]);
        }
        args.push((*op).to_owned());
    }
    args
}

fn boot_linux(kernel: &Path, initrd: &Path, icount: bool, kvm: bool) -> anyhow::Result<Boot> {
    // `panic=-1`: init's exit panics the kernel, which then resets at once, and
    // `-no-reboot` makes the reset QEMU's exit. Everything after `--` is init's argv.
    let append = format!(
        "console=ttyS0 panic=-1 loglevel=0 -- {}",
        bench_args().join(" ")
    );
    let mut command = Command::new("qemu-system-x86_64");
    command.args(linux_argv(kernel, initrd, icount, kvm, &append));
    watch(command, "the Linux guest")
}

fn boot_unikernel(
    tool: &Path,
    manifest: &Path,
    rewrite: bool,
    icount: bool,
) -> anyhow::Result<Boot> {
    let mut command = Command::new(tool);
    command
        .args(["unikernel", "run", "--release", "--timeout", "900"])
        .arg("--manifest-path")
        .arg(manifest);
    if icount {
        command.args(["--accel", "tcg", "--icount"]);
    }
    if !rewrite {
        command.arg("--no-syscall-rewrite");
    }
    command.arg("--").args(bench_args());
    watch(command, "the unikernel")
}

/// Run a guest to its end (at most 15 minutes), timing when `main`'s first line arrives.
fn watch(mut command: Command, what: &str) -> anyhow::Result<Boot> {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let stdout = child.stdout.take().context("the guest's stdout")?;
    let reader = std::thread::spawn(move || {
        let mut boot = Boot::default();
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(tsc) = line.strip_prefix("boot tsc ") {
                boot.to_main = started.elapsed();
                boot.boot_tsc = tsc.trim().parse().unwrap_or(0);
            }
            lines.push(line);
        }
        (boot, lines)
    });
    let deadline = started + Duration::from_secs(900);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within 15 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut boot, lines) = reader
        .join()
        .map_err(|_| anyhow::anyhow!("reader panicked"))?;
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["op", name, "iterations", n, "ns", ns, ..] = words.as_slice() {
            let (n, ns): (f64, f64) = (n.parse()?, ns.parse()?);
            boot.per_op.insert((*name).to_owned(), ns / n);
        }
    }
    if boot.boot_tsc == 0 || boot.per_op.len() != OPS.len() {
        bail!(
            "{what} did not report every operation; its last lines:\n{}",
            lines[lines.len().saturating_sub(5)..].join("\n")
        );
    }
    Ok(boot)
}

/// The run with the median boot counter of `runs` (each figure of one run: the runs
/// of one configuration differ little, and one run's figures belong together).
fn median_boot(
    runs: usize,
    mut boot: impl FnMut() -> anyhow::Result<Boot>,
) -> anyhow::Result<Boot> {
    let mut all = (0..runs.max(1))
        .map(|_| boot())
        .collect::<anyhow::Result<Vec<Boot>>>()?;
    all.sort_by_key(|b| b.boot_tsc);
    Ok(all.swap_remove(all.len() / 2))
}

fn figure(boot: &anyhow::Result<Boot>, op: &str) -> Option<f64> {
    boot.as_ref().ok().and_then(|b| b.per_op.get(op).copied())
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "failed".into(), |v| format!("{v:.1}"))
}

fn ratio(linux: Option<f64>, unikernel: Option<f64>) -> String {
    match (linux, unikernel) {
        (Some(l), Some(u)) if u > 0.0 => format!("{:.1}x", l / u),
        _ => "-".into(),
    }
}

fn len(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_holds_the_console_node_and_init() {
        let bytes = archive(b"\x7fELF program").unwrap();
        let mut reader = cpio::NewcReader::new(Cursor::new(bytes)).unwrap();
        let mut seen = Vec::new();
        while !reader.entry().is_trailer() {
            let e = reader.entry();
            seen.push((
                e.name().to_owned(),
                e.mode(),
                e.rdev_major(),
                e.rdev_minor(),
                e.file_size(),
            ));
            reader = cpio::NewcReader::new(reader.finish().unwrap()).unwrap();
        }
        assert_eq!(
            seen,
            [
                ("dev".to_owned(), 0o040755, 0, 0, 0),
                ("dev/console".to_owned(), 0o020600, 5, 1, 0),
                ("init".to_owned(), 0o100755, 0, 0, 12),
            ]
        );
    }
}
