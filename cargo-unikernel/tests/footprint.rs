//! Footprint and boot: what the kernel's boot report states about the boot itself.
//! (The numbers — image size, instructions to `main` — are measured, not asserted: see
//! `cargo unikernel report` and README "Footprint".)

mod common;

use common::{example_dir, tool};

/// `run --icount`: the TSC counts guest instructions, so the kernel takes its
/// frequency from the command line (no PIT calibration loop) and the boot report
/// states the boot in guest instructions as well as microseconds.
#[test]
fn icount_boot_report_counts_instructions_without_calibrating() {
    common::image("hello");
    let output = tool()
        .args([
            "run",
            "--release",
            "--icount",
            "--verbose",
            "--manifest-path",
        ])
        .arg(example_dir("hello").join("Cargo.toml"))
        .output()
        .unwrap();
    let console = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{console}");
    assert!(
        console.contains("unikernel: TSC 1000000 kHz (CommandLine)"),
        "{console}"
    );
    // "boot: N guest instructions from the first kernel instruction to
    // __unikernel_libc_start (C in TSC calibration; hardware bring-up H)"
    let line = console
        .lines()
        .filter_map(|line| line.strip_prefix("unikernel: boot: "))
        .find(|line| line.contains(" guest instructions "))
        .unwrap_or_else(|| panic!("no boot line in guest instructions:\n{console}"));
    let number_before = |marker: &str| -> u64 {
        let before = &line[..line.find(marker).unwrap_or_else(|| panic!("{line}"))];
        let digits = before.rsplit([' ', '(']).next().unwrap_or_default();
        digits.parse().unwrap_or_else(|_| panic!("{line}"))
    };
    assert!(number_before(" guest instructions") > 0, "{line}");
    // No calibration loop: the frequency comes from the command line, so calibrating
    // costs a few hundred instructions, not the PIT's 2 ms (2 million).
    assert!(number_before(" in TSC calibration") < 10_000, "{line}");
}
