//! The PGO stages on a fixture: instrumentation adds LLVM's counters and records; the
//! use of a matching profile annotates the functions, a stale one is counted, and a
//! file that is no profile is an error naming it (never LLVM's exit).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixture;
use unikernel_pass::pipeline::Output;
use unikernel_pass::{OptLevel, PassError, Pipeline, Profile, Stage};

fn run(profile: Profile, dir: &Path) -> (Result<Output, PassError>, String) {
    let ir = dir.join("optimized.ll");
    let pipeline = Pipeline::hosted(OptLevel::Full, vec!["_start".into()])
        .profile(profile)
        .capture_ir(Stage::Optimized, ir.clone())
        .unwrap();
    let output = pipeline.run(&[fixture("pgo.ll")], ["needed_by_native"], &dir.join("o.o"));
    (output, std::fs::read_to_string(&ir).unwrap_or_default())
}

fn llvm_profdata() -> PathBuf {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8(sysroot.stdout).unwrap();
    Path::new(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-profdata")
}

/// A `.profdata` from LLVM's text format: `hot` with `hash` and its counters.
fn profdata(dir: &Path, hash: u64, counts: &[u64]) -> PathBuf {
    let text = dir.join("p.proftext");
    let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
    std::fs::write(
        &text,
        format!(
            ":ir\nunikernel-whole-program;hot\n{hash}\n{}\n{}\n\n_start\n{}\n1\n12\n",
            counts.len(),
            counts.join("\n"),
            START_HASH
        ),
    )
    .unwrap();
    let out = dir.join("p.profdata");
    let status = Command::new(llvm_profdata())
        .args(["merge", "-o"])
        .arg(&out)
        .arg(&text)
        .status()
        .expect("llvm-profdata (rustup component add llvm-tools)");
    assert!(status.success());
    out
}

/// The CFG hash of a function with one block (LLVM's PGO hash of `_start`).
const START_HASH: u64 = 742261418966908927;

/// The CFG hash of `hot` in the instrumented module (`__profd_...` record's second
/// field).
fn hot_hash(ir: &str) -> u64 {
    let line = ir
        .lines()
        .find(|l| l.starts_with("@__profd_") && l.contains("hot"))
        .expect("a record for hot");
    let (_, rest) = line.split_once("{ i64 ").unwrap();
    let (_, rest) = rest.split_once(", i64 ").unwrap();
    rest.split([',', ' '])
        .next()
        .unwrap()
        .parse::<i64>()
        .unwrap() as u64
}

#[test]
fn instrumentation_adds_counters_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let (output, ir) = run(Profile::Generate, dir.path());
    output.unwrap();
    assert!(ir.contains("__llvm_prf_cnts"), "{ir}");
    assert!(ir.contains("@__profd_"), "{ir}");
    assert!(ir.contains("@__llvm_profile_raw_version"), "{ir}");
    // No value profiling: nothing calls into the runtime from the code.
    assert!(!ir.contains("__llvm_profile_instrument"), "{ir}");
    // The records keep no function address (nothing reads it without value profiling).
    let record = ir.lines().find(|l| l.starts_with("@__profd_")).unwrap();
    assert!(record.contains("ptr null, ptr null"), "{record}");
    let (plain, plain_ir) = run(Profile::None, dir.path());
    plain.unwrap();
    assert!(!plain_ir.contains("__profc_"));
}

#[test]
fn a_matching_profile_annotates_a_stale_one_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (_, instrumented) = run(Profile::Generate, dir.path());
    let hash = hot_hash(&instrumented);
    let good = profdata(dir.path(), hash, &[900, 100]);
    let (output, ir) = run(Profile::Use(good.clone()), dir.path());
    let used = output.unwrap().profile_use.expect("profile use report");
    assert_eq!(used.file, good);
    assert_eq!(used.mismatched, 0);
    assert!(
        used.functions
            .iter()
            .any(|(f, has)| f.contains("hot") && *has),
        "{used:?}"
    );
    assert!(ir.contains("!\"branch_weights\""), "{ir}");

    let stale = profdata(dir.path(), hash ^ 1, &[900, 100]);
    let (output, _) = run(Profile::Use(stale), dir.path());
    let used = output.unwrap().profile_use.unwrap();
    assert_eq!(used.mismatched, 1, "{used:?}");
}

#[test]
fn a_file_that_is_no_profile_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.profdata");
    std::fs::write(&bad, b"\xffIPROFthis is not a profile").unwrap();
    let (output, _) = run(Profile::Use(bad.clone()), dir.path());
    match output {
        Err(PassError::Profile { file, message }) => {
            assert_eq!(file, bad.display().to_string());
            assert!(!message.is_empty());
        }
        other => panic!("expected a profile error, got {other:?}"),
    }
}
