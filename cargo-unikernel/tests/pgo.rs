//! Profile-guided optimization end to end on `examples/hello`: a training run of the
//! instrumented image leaves a `.profraw` that the toolchain's `llvm-profdata` reads,
//! with counts in app, std, shim and kernel functions; a build with the merged profile
//! gives the same output and a report whose `pgo` section covers every component; the
//! hosted build writes its profile as a Linux process, at exit and at a panic's abort;
//! `cargo unikernel pgo` runs the whole flow; bad profiles are errors with their exit
//! codes. Dev builds: the tests check behaviour, not speed (`unikernel-bench pgo`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{example_dir, tool};

/// One test at a time: they build the same examples in place (`examples/hello/target`)
/// in different PGO modes. Run concurrently on a fresh machine (no runtime built with
/// the `profile` feature yet), the use build once found no profile for 118 std, shim
/// and kernel functions the training had counted (CI of this change, not reproduced
/// with the runtime cached); until that race is understood, the tests do not race.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn llvm_profdata() -> PathBuf {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8(sysroot.stdout).unwrap();
    Path::new(sysroot.trim()).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-profdata")
}

fn manifest(example: &str) -> PathBuf {
    example_dir(example).join("Cargo.toml")
}

fn ok(output: Output, what: &str) -> Output {
    assert!(
        output.status.code().is_some(),
        "{what} was killed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Each function's entry count in `profile`, by name, as `llvm-profdata show` reads it.
fn entry_counts(profile: &Path) -> BTreeMap<String, u64> {
    let out = Command::new(llvm_profdata())
        .args(["show", "--all-functions", "--counts"])
        .arg(profile)
        .output()
        .expect("llvm-profdata (rustup component add llvm-tools)");
    assert!(
        out.status.success(),
        "llvm-profdata cannot read {}: {}",
        profile.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut counts = BTreeMap::new();
    let mut function = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            function = Some(name.to_owned());
        } else if let Some(blocks) = line.trim().strip_prefix("Block counts: [") {
            // The first counter of IR instrumentation is the entry block's.
            let first = blocks.split([',', ']']).next().unwrap_or("0").trim();
            if let Some(f) = function.take() {
                counts.insert(f, first.parse().unwrap_or(0));
            }
        }
    }
    counts
}

/// Functions of each component that ran: mangled names carry the crate name.
fn ran_per_component(counts: &BTreeMap<String, u64>) -> BTreeMap<&'static str, usize> {
    let mut ran = BTreeMap::new();
    for (component, crate_name) in [
        ("app", "5hello"),
        ("std", "3std"),
        ("shim", "14unikernel_shim"),
        ("kernel", "16unikernel_kernel"),
    ] {
        let n = counts
            .iter()
            .filter(|(f, c)| f.contains(crate_name) && **c > 0)
            .count();
        ran.insert(component, n);
    }
    ran
}

fn merge(raw: &[PathBuf], out: &Path) {
    let status = Command::new(llvm_profdata())
        .arg("merge")
        .arg("-o")
        .arg(out)
        .args(raw)
        .status()
        .unwrap();
    assert!(status.success(), "llvm-profdata merge");
}

fn profraws(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "profraw"));
    files.sort();
    files
}

#[test]
fn image_training_counts_every_component_and_the_profile_builds_the_same_program() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    let trained = ok(
        tool()
            .arg("run")
            .arg(format!("--profile-generate={}", profiles.display()))
            .arg("--manifest-path")
            .arg(manifest("hello"))
            .args(["--", "world"])
            .output()
            .unwrap(),
        "the instrumented image",
    );
    assert_eq!(trained.status.code(), Some(3), "hello exits with 3");
    let raw = profraws(&profiles);
    assert_eq!(raw.len(), 1, "one profile per run: {raw:?}");
    let ran = ran_per_component(&entry_counts(&raw[0]));
    assert!(ran.values().all(|&n| n > 0), "functions that ran: {ran:?}");

    let profdata = dir.path().join("hello.profdata");
    merge(&raw, &profdata);
    let optimized = ok(
        tool()
            .arg("run")
            .arg("--profile-use")
            .arg(&profdata)
            .arg("--manifest-path")
            .arg(manifest("hello"))
            .args(["--", "world"])
            .output()
            .unwrap(),
        "the optimized image",
    );
    assert_eq!(optimized.status.code(), trained.status.code());
    assert_eq!(
        String::from_utf8_lossy(&optimized.stdout),
        String::from_utf8_lossy(&trained.stdout),
        "the same output with the profile"
    );

    let report = ok(
        tool()
            .args(["report", "--json", "--profile-use"])
            .arg(&profdata)
            .arg("--manifest-path")
            .arg(manifest("hello"))
            .output()
            .unwrap(),
        "report",
    );
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let pgo = &report["pgo"];
    assert_eq!(pgo["mode"], "use");
    assert_eq!(pgo["mismatched"], 0, "{pgo}");
    for component in ["app", "std", "shim", "kernel"] {
        let counts = &pgo["components"][component];
        let with = counts["with_profile"].as_u64().unwrap();
        let total = counts["total"].as_u64().unwrap();
        assert!(with > 0 && with == total, "{component}: {counts}");
    }
}

#[test]
fn hosted_training_writes_the_profile_at_exit_at_a_panic_and_at_abort() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // hello exits with 3, panic's uncaught panic with 101, signals' abort is SIGABRT.
    for (example, args) in [("hello", &[][..]), ("panic", &[]), ("signals", &["abort"])] {
        let built = ok(
            tool()
                .args(["build", "--hosted", "--profile-generate", "--manifest-path"])
                .arg(manifest(example))
                .output()
                .unwrap(),
            "the instrumented hosted build",
        );
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let binary = example_dir(example).join(format!(
            "target/unikernel/hosted/debug-pgo-generate/{example}"
        ));
        let profile = dir.path().join(format!("{example}-%p.profraw"));
        let status = Command::new(&binary)
            .args(args)
            .env("LLVM_PROFILE_FILE", &profile)
            .output()
            .unwrap()
            .status;
        assert!(!status.success(), "{example} exits with a failure code");
        let raw: Vec<PathBuf> = profraws(dir.path())
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(example)
            })
            .collect();
        assert_eq!(raw.len(), 1, "{example}: {raw:?}");
        let counts = entry_counts(&raw[0]);
        let shim_ran = counts
            .iter()
            .any(|(f, c)| f.contains("14unikernel_shim") && *c > 0);
        let std_ran = counts.iter().any(|(f, c)| f.contains("3std") && *c > 0);
        assert!(shim_ran && std_ran, "{example}: counts in std and the shim");
    }
}

#[test]
fn the_one_command_flow_trains_merges_and_optimizes() {
    let _serial = serial();
    let output = ok(
        tool()
            .args(["pgo", "--hosted", "--runs", "2", "--manifest-path"])
            .arg(manifest("hello"))
            .args(["--", "world"])
            .output()
            .unwrap(),
        "cargo unikernel pgo",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("2 raw profiles"), "{stderr}");
    let report = example_dir("hello").join("target/unikernel/hosted/debug/hello.report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert_eq!(
        report["pgo"]["mode"], "use",
        "the final build used the profile"
    );
}

#[test]
fn a_missing_profile_is_exit_3_naming_it() {
    let _serial = serial();
    let output = tool()
        .args([
            "build",
            "--hosted",
            "--profile-use",
            "/nonexistent/x.profdata",
        ])
        .arg("--manifest-path")
        .arg(manifest("hello"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/x.profdata does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_profile_is_exit_6_naming_it() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.profdata");
    std::fs::write(&corrupt, b"\xffindexed profile? no: garbage").unwrap();
    let output = tool()
        .args(["build", "--hosted", "--profile-use"])
        .arg(&corrupt)
        .arg("--manifest-path")
        .arg(manifest("hello"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(6), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&corrupt.display().to_string()),
        "{stderr}"
    );
}

#[test]
fn image_training_writes_the_profile_when_a_signal_ends_the_program() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    let trained = ok(
        tool()
            .arg("run")
            .arg(format!("--profile-generate={}", profiles.display()))
            .arg("--manifest-path")
            .arg(manifest("signals"))
            .args(["--", "abort"])
            .output()
            .unwrap(),
        "the instrumented image",
    );
    assert_eq!(trained.status.code(), Some(134), "SIGABRT's default action");
    let raw = profraws(&profiles);
    assert_eq!(raw.len(), 1, "{raw:?}");
    let counts = entry_counts(&raw[0]);
    let kernel_signal_code_ran = counts
        .iter()
        .any(|(f, c)| f.contains("16unikernel_kernel") && f.contains("6signal") && *c > 0);
    assert!(
        kernel_signal_code_ran,
        "the kernel's signal code is counted"
    );
}

#[test]
fn a_stale_profile_is_a_warning_with_the_mismatch_count_and_the_build_goes_on() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hello");
    std::fs::create_dir_all(project.join("src")).unwrap();
    for file in ["Cargo.toml", "Cargo.lock", "src/main.rs"] {
        let from = example_dir("hello").join(file);
        if from.exists() {
            std::fs::copy(&from, project.join(file)).unwrap();
        }
    }
    let manifest = project.join("Cargo.toml");
    let built = ok(
        tool()
            .args(["build", "--hosted", "--profile-generate", "--manifest-path"])
            .arg(&manifest)
            .output()
            .unwrap(),
        "the instrumented build",
    );
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let raw = dir.path().join("hello.profraw");
    Command::new(project.join("target/unikernel/hosted/debug-pgo-generate/hello"))
        .env("LLVM_PROFILE_FILE", &raw)
        .output()
        .unwrap();
    let profdata = dir.path().join("hello.profdata");
    merge(&[raw], &profdata);

    // The code changes: main gains a branch, so its control flow no longer matches.
    let source = project.join("src/main.rs");
    let text = std::fs::read_to_string(&source).unwrap().replacen(
        "fn main() {\n",
        "fn main() {\n    if env::args().count() > 7 {\n        println!(\"many\");\n    }\n",
        1,
    );
    std::fs::write(&source, text).unwrap();
    let used = ok(
        tool()
            .args(["build", "--hosted", "--profile-use"])
            .arg(&profdata)
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .unwrap(),
        "the build with a stale profile",
    );
    let stderr = String::from_utf8_lossy(&used.stderr);
    assert!(used.status.success(), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("Warning") && l.contains("functions changed since the profile"))
        .unwrap_or_else(|| panic!("no stale-profile warning:\n{stderr}"));
    let count: usize = warning
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a count");
    assert!(count >= 1, "{warning}");
}
