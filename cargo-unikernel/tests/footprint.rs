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

/// Only `rt_sigreturn` and `clone` can reach hello's kernel dispatchers, so the build
/// leaves the other handlers out: the report says which, and the image holds no code
/// of the network stack, which only the dispatch table kept alive.
#[test]
fn hello_keeps_only_the_handlers_its_sites_reach() {
    let image = common::image("hello");
    let report = std::fs::read_to_string(image.with_extension("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        report["stats"]["trap_numbers"],
        serde_json::json!({ "Only": [15, 56] }),
        "{:#}",
        report["stats"]["trap_numbers"]
    );
    let image = std::fs::read(&image).unwrap();
    let has = |needle: &str| image.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("unikernel_kernel"), "the image has no kernel symbols");
    assert!(
        !has("smoltcp"),
        "the network stack is still in hello's image"
    );
}
