//! The runtime cache: a second project reuses the shim built for the first, and a
//! damaged cached rlib is found, reported and rebuilt (`src/runtime_cache.rs`).

mod common;

use std::path::{Path, PathBuf};

use cargo_unikernel::runtime;
use cargo_unikernel::runtime_cache::{self, CacheLock};
use cargo_unikernel::toolchain::Toolchain;
use common::tool;

/// A new std project `name` in `dir` that prints `text`.
fn project(dir: &Path, name: &str, text: &str) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        format!("fn main() {{ println!(\"{text}\"); }}\n"),
    )
    .unwrap();
    root
}

/// `cargo unikernel build --hosted` of `root`: its stderr, after checking it worked and
/// the program prints `text`.
fn build(root: &Path, name: &str, text: &str) -> String {
    let output = tool()
        .args(["build", "--hosted", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("run cargo-unikernel");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "build of {name} failed:\n{stderr}");
    let binary = root.join("target/unikernel/hosted/debug").join(name);
    let run = std::process::Command::new(&binary).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), format!("{text}\n"));
    stderr
}

#[test]
fn a_second_project_reuses_the_runtime_and_a_corrupt_rlib_is_rebuilt() {
    let temp = tempfile::tempdir().unwrap();
    let first = project(temp.path(), "first", "one");
    let second = project(temp.path(), "second", "two");
    build(&first, "first", "one");
    let stderr = build(&second, "second", "two");
    assert!(
        stderr.contains("Reused runtime: libc shim"),
        "the second project rebuilt the runtime:\n{stderr}"
    );

    // Truncate one cached rlib of the shim, holding the cache as a build would, so no
    // build running meanwhile sees it half-way.
    let toolchain = Toolchain::for_project(&first).unwrap();
    let dir = runtime_cache::runtime_dir(
        &toolchain,
        &runtime::source_root(),
        runtime::RUSTFLAGS,
        temp.path(),
    );
    let digests = std::fs::read_to_string(dir.join("unikernel-shim.rlib-digests")).unwrap();
    let victim = digests
        .lines()
        .filter_map(|l| l.splitn(3, ' ').nth(2))
        .find(|p| p.contains("libcfg_if-"))
        .map(PathBuf::from)
        .expect("cfg_if among the shim's cached rlibs");
    {
        let _lock = CacheLock::acquire(&dir).unwrap();
        let len = std::fs::metadata(&victim).unwrap().len();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&victim)
            .unwrap();
        file.set_len(len / 2).unwrap();
    }
    let stderr = build(&second, "second", "two");
    let name = victim.file_name().unwrap().to_string_lossy();
    assert!(
        stderr.contains("Corrupt") && stderr.contains(&*name),
        "the truncated {name} went unnoticed:\n{stderr}"
    );
    assert!(stderr.contains("Built runtime"), "{stderr}");
    let stderr = build(&first, "first", "one");
    assert!(stderr.contains("Reused runtime"), "{stderr}");
}
