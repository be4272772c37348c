//! Unikernel images booted under QEMU: the app's console output and exit code equal the
//! native build's (hello, time, panic, threads, files, stress, alloc-race, tokio), the build report shows every system call rewritten, and no `syscall`
//! instruction is left in the image.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{boot, example_dir, native, run_merged};

fn differential(example: &str, args: &[&str], env: &[(&str, &str)]) {
    let expected = run_merged(&native(example), args, env);
    let actual = boot(example, args, env);
    assert_eq!(actual.stderr, "", "{example}: the tool reported an error");
    assert_eq!(
        (expected.code, &expected.stdout),
        (actual.code, &actual.stdout),
        "{example}: native (left) and unikernel (right) differ"
    );
}

#[test]
fn hello_matches_native() {
    differential("hello", &[], &[]);
    differential(
        "hello",
        &["one", "two words", "--exit", "7"],
        &[("UNIKERNEL_GREETING", "hi there")],
    );
    check_report("hello");
}

#[test]
fn time_matches_native() {
    differential("time", &[], &[]);
    check_report("time");
}

#[test]
fn panic_matches_native() {
    differential("panic", &[], &[]);
    check_report("panic");
}

#[test]
fn threads_matches_native() {
    differential("threads", &[], &[]);
    check_report("threads");
}

#[test]
fn files_matches_native() {
    differential("files", &[], &[]);
    check_report("files");
}

#[test]
fn tokio_matches_native() {
    differential("tokio", &[], &[]);
    check_report("tokio");
}

/// One thread allocating while another creates and removes files, 100 rounds of 100 ms:
/// a thread preempted inside `malloc` while another waited for it inside the file system
/// hung the whole VM (the VFS lock was spun on with interrupts off).
#[test]
fn alloc_race_matches_native() {
    differential("alloc-race", &[], &[]);
}

#[test]
fn stress_matches_native() {
    differential("stress", &[], &[]);
    check_report("stress");
}

fn report(example: &str) -> serde_json::Value {
    let path = example_dir(example).join(format!("target/unikernel/release/{example}.report.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Every site with a constant number became a direct call of its kernel entry, and no
/// `syscall` instruction is left in inline or module-level asm.
fn check_report(example: &str) {
    let report = report(example);
    let syscalls = &report["syscalls"];
    assert!(
        syscalls["direct"].as_u64().unwrap() > 50,
        "{example}: rewritten sites: {syscalls}"
    );
    for counter in ["dispatched_constant", "trap_path", "module_asm_syscalls"] {
        assert_eq!(
            syscalls[counter], 0,
            "{example}: {counter} should be 0: {syscalls:#}"
        );
    }
    let reached = syscalls["reached"].as_array().unwrap();
    for call in ["write", "exit_group"] {
        let entry = reached.iter().find(|r| r["name"] == call);
        assert_eq!(
            entry.map(|r| &r["entry"]),
            Some(&serde_json::json!("sys")),
            "{example}: {call} should reach its kernel entry directly: {entry:?}"
        );
    }
}

/// The optimized hello has no `syscall` instruction anywhere: the disassembly of the
/// whole image shows none, and its console writes reach the kernel's `write` entry as
/// direct calls (the report), not through the register-frame stub.
#[test]
fn hello_has_no_syscall_instruction() {
    // hello_matches_native builds the same image; building again is a fresh no-op.
    let built = boot("hello", &[], &[]);
    assert_eq!(built.code, Some(3), "{built:?}");
    let image = example_dir("hello").join("target/unikernel/release/hello");
    let output = Command::new(llvm_objdump())
        .args([
            "--disassemble",
            "--no-show-raw-insn",
            "--x86-asm-syntax=intel",
        ])
        .arg(&image)
        .output()
        .expect("run llvm-objdump");
    assert!(output.status.success(), "llvm-objdump failed: {output:?}");
    let listing = String::from_utf8_lossy(&output.stdout);
    let instructions = listing
        .lines()
        .filter(|l| {
            l.trim_start().split_once(':').is_some_and(|(address, _)| {
                !address.is_empty() && address.chars().all(|c| c.is_ascii_hexdigit())
            })
        })
        .count();
    assert!(
        instructions > 10_000,
        "too small a disassembly: {instructions} instructions"
    );
    let syscalls: Vec<&str> = listing
        .lines()
        .filter(|l| l.split('\t').any(|field| field.trim() == "syscall"))
        .collect();
    assert!(
        syscalls.is_empty(),
        "syscall instructions left: {syscalls:#?}"
    );

    let report = report("hello");
    assert_eq!(
        report["syscalls"]["stub_calls"], 0,
        "{:#}",
        report["syscalls"]
    );
}

/// `llvm-objdump` of the pinned toolchain's `llvm-tools` component.
fn llvm_objdump() -> PathBuf {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc");
    let sysroot = String::from_utf8(sysroot.stdout).unwrap();
    let path =
        PathBuf::from(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-objdump");
    assert!(path.is_file(), "llvm-tools is missing: {}", path.display());
    path
}

/// Crashes and signals: the console shows every line the native run prints, in order,
/// plus the kernel's lines (`needles`: its report naming the faulting function, the
/// signal that ended the program); the status is Linux's (128 + signal).
fn crash(example: &str, args: &[&str], needles: &[&str]) {
    let expected = run_merged(&native(example), args, &[]);
    let actual = boot(example, args, &[]);
    assert_eq!(actual.stderr, "", "{example}: the tool reported an error");
    assert_eq!(
        expected.code, actual.code,
        "{example} {args:?}: status\n{}",
        actual.stdout
    );
    let mut console = actual.stdout.lines();
    for line in expected.stdout.lines() {
        assert!(
            console.any(|l| l == line),
            "{example} {args:?}: the native line {line:?} is missing (or out of order) in\n{}",
            actual.stdout
        );
    }
    for needle in needles {
        assert!(
            actual.stdout.contains(needle),
            "{example} {args:?}: no {needle:?} in the report:\n{}",
            actual.stdout
        );
    }
}

#[test]
fn null_deref_reports_the_faulting_function() {
    crash(
        "null-deref",
        &[],
        &[
            "#PF page fault",
            "in null_deref::read_field",
            "null pointer dereference",
            "null_deref::main",
            "killed by SIGSEGV",
        ],
    );
}

#[test]
fn stack_overflow_reports_the_faulting_function() {
    crash(
        "stack-overflow",
        &[],
        &[
            "in stack_overflow::recurse",
            "stack overflow",
            "killed by SIGABRT",
        ],
    );
    crash(
        "stack-overflow",
        &["thread"],
        &[
            "in stack_overflow::recurse",
            "stack overflow",
            "killed by SIGABRT",
        ],
    );
}

/// Signals sent to the program itself end it as on Linux; the kernel adds the line a
/// shell would print.
#[test]
fn signals_match_native() {
    crash("signals", &["basics"], &["unikernel: killed by SIGTERM"]);
    crash("signals", &["abort"], &["unikernel: killed by SIGABRT"]);
    crash("signals", &["pause"], &["unikernel: killed by SIGUSR2"]);
}

/// `RUST_BACKTRACE=1` on the final, uncaught panic: std symbolizes through
/// `/proc/self/exe` (the image file, passed again as a boot module) and `mmap`, so the
/// short backtrace names the same frames, in the same order, as the native build's.
#[test]
fn panic_backtrace_names_frames() {
    let env = [("RUST_BACKTRACE", "1")];
    // "   2: panic::main" -> "panic::main" (addresses and line info may differ).
    let frames = |console: &str| -> Vec<String> {
        console
            .lines()
            .skip_while(|l| *l != "stack backtrace:")
            .filter_map(|l| l.trim_start().split_once(": "))
            .filter(|(index, _)| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
            .map(|(_, name)| name.to_owned())
            .collect()
    };
    let expected = run_merged(&native("panic"), &[], &env);
    let actual = boot("panic", &[], &env);
    assert_eq!(actual.stderr, "", "panic: the tool reported an error");
    assert_eq!(
        expected.code, actual.code,
        "panic: status\n{}",
        actual.stdout
    );
    let native_frames = frames(&expected.stdout);
    assert!(
        native_frames.iter().any(|f| f == "panic::main"),
        "the native backtrace has no panic::main frame:\n{}",
        expected.stdout
    );
    assert_eq!(
        native_frames,
        frames(&actual.stdout),
        "backtrace frames: native (left) and unikernel (right) differ\n{}",
        actual.stdout
    );
}

/// Files packed at build time, from the package's `[package.metadata.unikernel] files`
/// and from `--file HOST:GUEST`, are in the image's file system, writable at run time.
#[test]
fn build_time_files_are_in_the_image() {
    let fixture = common::repo().join("cargo-unikernel/tests/fixtures/initfs");
    let note = std::env::temp_dir().join(format!("initfs-note-{}.txt", std::process::id()));
    std::fs::write(&note, "added with --file").unwrap();
    let output = common::tool()
        .args(["run", "--release", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        .arg("--file")
        .arg(format!("{}:/extra/note.txt", note.display()))
        .output()
        .expect("run cargo-unikernel");
    std::fs::remove_file(&note).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout,
        "greeting: \"hello from the build machine\\n\"\n\
         /assets: [\"greeting.txt\", \"nested\"]\n\
         data.bin: 1024 bytes, sum 130560\n\
         note: \"added with --file\"\n\
         rewritten: \"changed at run time\\n\"\n"
    );

    let missing = common::tool()
        .args([
            "build",
            "--release",
            "--file",
            "/nonexistent/cargo-unikernel-test:/x",
            "--manifest-path",
        ])
        .arg(fixture.join("Cargo.toml"))
        .output()
        .expect("run cargo-unikernel");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/cargo-unikernel-test does not exist"),
        "{stderr}"
    );
}
