//! Bad input gets one clear `error:` line and a distinct non-zero exit code.

mod common;

use std::process::Output;

use common::{example_dir, repo, tool};

/// The single `error:` line of a failed run, and its exit code.
fn failure(output: Output) -> (i32, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error line, got:\n{stderr}"
    );
    (
        output.status.code().expect("exit code"),
        errors[0].to_owned(),
    )
}

#[test]
fn not_a_cargo_project() {
    let dir = tempfile::tempdir().unwrap();
    let output = tool()
        .args(["build", "--hosted"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 3);
    assert!(error.contains("is not inside a cargo project"), "{error}");
}

#[test]
fn manifest_path_that_does_not_exist() {
    let output = tool()
        .args([
            "build",
            "--hosted",
            "--manifest-path",
            "/nonexistent/Cargo.toml",
        ])
        .output()
        .unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 3);
    assert!(
        error.contains("/nonexistent/Cargo.toml does not exist"),
        "{error}"
    );
}

#[test]
fn bin_that_does_not_exist() {
    let output = tool()
        .args(["build", "--hosted", "--bin", "nope", "--manifest-path"])
        .arg(example_dir("hello").join("Cargo.toml"))
        .output()
        .unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 3);
    assert!(error.contains("has no bin `nope` (bins: hello)"), "{error}");
}

#[test]
fn rustc_with_another_llvm() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("rustc");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'rustc 1.80.0 (051478957 2024-07-21)'\necho 'release: 1.80.0'\n\
         echo 'LLVM version: 18.1.7'\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = tool()
        .args(["build", "--hosted", "--manifest-path"])
        .arg(example_dir("hello").join("Cargo.toml"))
        .env("RUSTC", &fake)
        .output()
        .unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 4);
    assert!(
        error.contains("LLVM 18.1.7") && error.contains("built against LLVM 22"),
        "{error}"
    );
}

#[test]
fn corrupted_bitcode_object() {
    let project = repo().join("tests/fixtures/corrupt-bitcode");
    let output = tool()
        .args(["build", "--hosted", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output()
        .unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 6);
    assert!(
        error.contains("corrupt.o") && error.contains("is not valid LLVM bitcode"),
        "{error}"
    );
}
