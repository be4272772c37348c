//! The inspection commands and the build's checks: `cargo unikernel ir`, `report`, the
//! failure on reachable unimplemented system calls, and `#[unikernel::no_syscalls]`.
//!
//! Each test builds release images (tens of seconds each); builds of one project are
//! serialized, and every command after the first reuses the link (`Fresh`) unless it
//! needs something the last link did not keep.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex, OnceLock};

use common::{example_dir, tool};

/// Held by a test for all its builds of the fixture: the tests build it with different
/// features, and one's build in the middle of another's would replace the image and
/// report that the other reads.
static FIXTURE: Mutex<()> = Mutex::new(());

/// The no_syscalls fixture project.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-syscalls")
}

/// `cargo unikernel ARGS --manifest-path DIR/Cargo.toml`, one at a time per project.
fn unikernel(project: &Path, args: &[&str]) -> Output {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let lock = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(project.to_path_buf())
        .or_default()
        .clone();
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    tool()
        .args(args)
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .output()
        .expect("run cargo-unikernel")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\n{}",
        output.status.code(),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// Whether the IR holds inline asm whose template is the `syscall` instruction.
fn has_syscall_asm(ir: &str) -> bool {
    ir.lines()
        .any(|l| l.contains("asm sideeffect") && l.contains("\"syscall\""))
}

#[test]
fn optimized_main_has_no_syscall_instruction_unless_the_rewrite_is_off() {
    let hello = example_dir("hello");
    let rewritten = success(&unikernel(
        &hello,
        &[
            "ir",
            "--release",
            "--stage",
            "optimized",
            "--function",
            "main",
        ],
    ));
    assert!(rewritten.contains("; hello::main\n"), "{rewritten:.2000}");
    assert!(
        !has_syscall_asm(&rewritten),
        "a syscall instruction is left"
    );

    let trap = success(&unikernel(
        &hello,
        &[
            "ir",
            "--release",
            "--no-syscall-rewrite",
            "--function",
            "main",
        ],
    ));
    assert!(
        has_syscall_asm(&trap),
        "no syscall instruction without the rewrite"
    );

    // Asking again reads the kept IR back.
    let again = unikernel(&hello, &["ir", "--release", "--function", "hello::main"]);
    assert!(
        text(&again.stderr).contains("Fresh"),
        "{}",
        text(&again.stderr)
    );
    assert!(success(&again).starts_with("; hello::main\n"));
}

fn report_json(project: &Path) -> serde_json::Value {
    let stdout = success(&unikernel(project, &["report", "--release", "--json"]));
    serde_json::from_str(&stdout).expect("report --json prints JSON")
}

#[test]
fn component_sizes_add_up_to_the_loaded_image() {
    let report = report_json(&example_dir("hello"));
    let composition = &report["composition"];
    let loaded = report["size"]["loaded_bytes"].as_u64().unwrap();
    assert_eq!(composition["loaded_bytes"].as_u64(), Some(loaded));
    let lines: HashMap<&str, u64> = composition["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["component"].as_str().unwrap(),
                c["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let total: u64 = lines.values().sum();
    assert!(
        total.abs_diff(loaded) * 20 <= loaded,
        "components add up to {total}, the image loads {loaded}: {lines:?}"
    );
    for component in ["app", "std", "shim", "kernel"] {
        assert!(
            lines.get(component).is_some_and(|&b| b > 0),
            "{component}: {lines:?}"
        );
    }
    // Nearly everything is attributed to a component, not left as "other".
    assert!(lines["other"] * 100 < loaded, "{lines:?}");
}

/// The report's text with what varies between builds blanked: paths, timings, sizes
/// (and the size-ordered lists).
fn redact(report: &str) -> String {
    let mut out = Vec::new();
    let mut section = "";
    for line in report.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            section = line;
        }
        let line = if line.starts_with("Build report for ") {
            "Build report for [output]".to_owned()
        } else if line.starts_with("  pipeline ")
            || section.starts_with("Image size")
            || line.starts_with("System calls reachable")
        {
            blank_numbers(line)
        } else if section.starts_with("System calls reachable") && line.contains(" uses") {
            // How many uses survive, and whether inlined, is the optimizer's business:
            // keep which syscalls are reachable and whether the kernel implements them.
            let uses = line.find(" uses").unwrap_or(line.len());
            let column = line[..uses].rfind("  ").unwrap_or(uses);
            line[..column].trim_end().to_owned()
        } else if section.starts_with("Largest") || section.starts_with("Data without symbols") {
            if line == section {
                line.to_owned()
            } else {
                continue;
            }
        } else if section.starts_with("Inputs left out") {
            match line.find("/symbols.o") {
                Some(end) if line.starts_with("  /") => format!("  [rustc tmp]{}", &line[end..]),
                _ => line.to_owned(),
            }
        } else {
            line.to_owned()
        };
        out.push(line);
    }
    // compiler_builtins' file name carries a hash.
    out.join("\n").replace(
        &out.iter()
            .find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.starts_with("libcompiler_builtins-"))
            })
            .unwrap_or("libcompiler_builtins-")
            .to_owned(),
        "libcompiler_builtins-[hash].rlib:",
    )
}

fn blank_numbers(line: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in line.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

fn report_snapshot(example: &str) {
    let output = unikernel(&example_dir(example), &["report", "--release"]);
    let report = success(&output);
    insta::assert_snapshot!(format!("report_{example}"), redact(&report));
}

#[test]
fn report_of_hello() {
    report_snapshot("hello");
}

#[test]
fn report_of_panic() {
    report_snapshot("panic");
}

#[test]
fn no_syscalls_function_that_stays_pure_builds() {
    let _fixture = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let project = fixture();
    // The unsupported-syscall check, whatever the kernel implements today: the build
    // fails exactly when the report lists an unimplemented reachable syscall, naming
    // each.
    let strict = unikernel(&project, &["build", "--release"]);
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.join("target/unikernel/release/no-syscalls.report.json")).unwrap(),
    )
    .unwrap();
    let reachability = &report["reachability"];
    let unimplemented: Vec<&str> = reachability["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["support"] == "unimplemented")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let stderr = text(&strict.stderr);
    if unimplemented.is_empty() {
        success(&strict);
    } else {
        assert_eq!(strict.status.code(), Some(9), "{stderr}");
        for name in &unimplemented {
            assert!(
                stderr.contains(&format!("    {name} (")),
                "{name}: {stderr}"
            );
        }
        assert!(stderr.contains("--allow-unsupported-syscalls"), "{stderr}");
    }

    let allowed = unikernel(
        &project,
        &["build", "--release", "--allow-unsupported-syscalls"],
    );
    success(&allowed);
    // A failed check removes the image, so only after a passing one is it fresh.
    if unimplemented.is_empty() {
        assert!(
            text(&allowed.stderr).contains("Fresh"),
            "the check needs no relink"
        );
    }
    let checks = reachability["no_syscalls"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["function"], "no_syscalls::checksum");
    assert_eq!(checks[0]["reaches"], serde_json::json!([]));
}

#[test]
fn no_syscalls_function_that_prints_fails_naming_it_and_write() {
    let _fixture = FIXTURE.lock().unwrap_or_else(|e| e.into_inner());
    let output = unikernel(
        &fixture(),
        &[
            "build",
            "--release",
            "--allow-unsupported-syscalls",
            "--features",
            "violate",
        ],
    );
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(9), "{stderr}");
    assert!(
        stderr.contains("`no_syscalls::checksum` is marked #[unikernel::no_syscalls] but reaches"),
        "{stderr}"
    );
    assert!(stderr.contains("    write (1) in "), "{stderr}");
    assert!(stderr.contains("via no_syscalls::checksum -> "), "{stderr}");
}
