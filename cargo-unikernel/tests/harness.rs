//! `cargo unikernel test` on a fixture crate (tests/fixtures/testcrate: passing,
//! failing, should_panic, ignored, threaded, tokio and integration tests) against
//! native `cargo test`: the same `test result:` lines, harness by harness, and the
//! same exit status; in images and `--hosted`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{repo, tool};

fn fixture() -> PathBuf {
    repo().join("cargo-unikernel/tests/fixtures/testcrate/Cargo.toml")
}

/// The `test result:` lines, without their timing.
fn results(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .map(|l| l.split("; finished in").next().unwrap_or(l).to_owned())
        .collect()
}

/// Native `cargo test` of the lib and integration tests (doctests are not harnesses).
fn native(libtest: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args([
            "test",
            "--offline",
            "--no-fail-fast",
            "--lib",
            "--tests",
            "--manifest-path",
        ])
        .arg(fixture())
        .arg("--")
        .args(libtest)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo test")
}

fn unikernel(extra: &[&str], libtest: &[&str]) -> Output {
    tool()
        .args(["test", "--no-fail-fast", "--manifest-path"])
        .arg(fixture())
        .args(extra)
        .arg("--")
        .args(libtest)
        .output()
        .expect("run cargo-unikernel")
}

fn assert_like_native(extra: &[&str], libtest: &[&str]) {
    let expected = native(libtest);
    let actual = unikernel(extra, libtest);
    let report = format!(
        "--- cargo test\n{}\n--- cargo unikernel test {extra:?}\n{}{}",
        String::from_utf8_lossy(&expected.stdout),
        String::from_utf8_lossy(&actual.stdout),
        String::from_utf8_lossy(&actual.stderr)
    );
    assert_eq!(results(&expected).len(), 2, "{report}");
    assert_eq!(results(&expected), results(&actual), "{report}");
    assert_eq!(expected.status.code(), actual.status.code(), "{report}");
}

#[test]
fn images_print_cargo_tests_results_and_status() {
    // Everything: one harness fails (exit 101), the other passes.
    assert_like_native(&[], &[]);
    // Without the failing tests: success.
    assert_like_native(
        &[],
        &["--skip", "fails_on_purpose", "--skip", "should_panic_fails"],
    );
}

#[test]
fn hosted_prints_cargo_tests_results_and_status() {
    assert_like_native(&["--hosted"], &[]);
    assert_like_native(
        &["--hosted"],
        &["--skip", "fails_on_purpose", "--skip", "should_panic_fails"],
    );
}

#[test]
fn a_hanging_test_is_stopped_and_named() {
    let output = unikernel(
        &["--lib", "--timeout", "30"],
        &["--ignored", "--exact", "tests::hangs"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("test harness unittests src/lib.rs (testcrate-")
            && stderr.contains("did not finish within 30s"),
        "{stderr}"
    );
}
