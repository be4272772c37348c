//! Memory without fixed pools (issue 10): programs whose needs exceed any fixed
//! table, compared with the native build where the output can be.
//!
//! - `thread-count`: 1,000 threads with 64 KiB stacks alive at once at the default
//!   `--memory`, and 10,000 in a 1 GiB guest (page tables and mapping records come
//!   from RAM on demand; each stack's guard page splits a 2 MiB page);
//! - `json`: a 4 MB `serde_json` document built, serialized and parsed back at the
//!   default `--memory` (large blocks are their own mappings, grown with `mremap`);
//! - `big-vec`: a 1 GiB `Vec` in a 2 GiB guest, allocated whole and grown by `push`;
//! - `thread-count` beyond the 16,383 threads the kernel's fixed thread tables once
//!   held (its per-thread state now grows in RAM);
//! - `protect-exhaust`: with memory exhausted, `mprotect`/`mmap` fail with `ENOMEM`
//!   rather than grant more access than asked.

mod common;

use std::process::Command;

use common::{Run, example_dir, native, run_merged, tool};

/// `cargo unikernel run --release` of `example` with extra run flags (`--memory`).
fn boot_with(example: &str, flags: &[&str], args: &[&str]) -> Run {
    let mut command: Command = tool();
    command.args(["run", "--release", "--timeout", "300", "--manifest-path"]);
    command.arg(example_dir(example).join("Cargo.toml"));
    command.args(flags).arg("--").args(args);
    let output = command.output().expect("run cargo-unikernel");
    use std::os::unix::process::ExitStatusExt;
    let stderr: String = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(|l| format!("{l}\n"))
        .collect();
    Run {
        code: output
            .status
            .code()
            .or(output.status.signal().map(|signal| 128 + signal)),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    }
}

fn matches_native(example: &str, flags: &[&str], args: &[&str]) {
    let expected = run_merged(&native(example), args, &[]);
    assert_eq!(
        expected.code,
        Some(0),
        "native {example} {args:?}: {expected:?}"
    );
    let actual = boot_with(example, flags, args);
    assert_eq!(actual.stderr, "", "{example}: the tool reported an error");
    assert_eq!(
        (expected.code, &expected.stdout),
        (actual.code, &actual.stdout),
        "{example} {flags:?} {args:?}: native (left) and unikernel (right) differ"
    );
}

#[test]
fn thousand_threads_with_64_kib_stacks_match_native() {
    matches_native("thread-count", &[], &["1000", "64"]);
}

/// About 20 s under TCG on the development machine.
#[test]
fn ten_thousand_threads_in_a_1_gib_guest_match_native() {
    matches_native("thread-count", &["--memory", "1024"], &["10000", "64"]);
}

#[test]
fn json_4_mb_document_matches_native_at_default_memory() {
    matches_native("json", &[], &[]);
}

/// About 9 s under TCG on the development machine.
#[test]
fn one_gib_vec_in_a_2_gib_guest_matches_native() {
    matches_native("big-vec", &["--memory", "2048"], &["1024"]);
}

/// More threads than the kernel's fixed tables held (16,383): thread state grows in
/// RAM. Not compared with native: Linux runs out of mappings first at this count
/// (`vm.max_map_count`, 65,530: std maps a stack, a guard and a signal stack per
/// thread). About 60 s under TCG on the development machine.
#[test]
fn seventeen_thousand_threads_outgrow_the_old_thread_tables() {
    let run = boot_with("thread-count", &["--memory", "1024"], &["17000", "16"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert!(
        run.stdout
            .starts_with("threads: 17000 with 16 KiB stacks, all alive at once\nchecksum: "),
        "{run:?}"
    );
}

#[test]
fn exhausted_memory_never_grants_more_access_than_asked() {
    let run = boot_with("protect-exhaust", &["--memory", "64"], &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("more access than asked 0\n")
            && run.stdout.contains("mmap: more access than asked 0\n"),
        "{run:?}"
    );
}
