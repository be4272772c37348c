//! Shared harness of the CLI tests: building the examples natively (glibc) and with
//! cargo-unikernel, running them, and comparing what they print.
//!
//! Every build happens once per test process, whatever the number of tests using it:
//! cargo serializes builds of one project anyway, and the outputs are shared.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

pub mod resp;
pub mod server;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn example_dir(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// `cargo-unikernel unikernel ...` as cargo would start it.
pub fn tool() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-unikernel"));
    command.arg("unikernel");
    command
}

/// The output of one run, with what varies between runs masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The exit status as a shell reports it: the exit code, or 128 + the signal that
    /// killed the process (the unikernel reports a fatal signal the same way).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: output
                .status
                .code()
                .or(output.status.signal().map(|signal| 128 + signal)),
            stdout: mask_thread_ids(&String::from_utf8_lossy(&output.stdout)),
            stderr: mask_thread_ids(&String::from_utf8_lossy(&output.stderr)),
        }
    }
}

/// std prints the OS thread id in its panic and stack-overflow messages
/// (`thread 'main' (1234) panicked at`, `thread 'deep' (1235) has overflowed its
/// stack`), which differs on every run and between Linux and the unikernel.
fn mask_thread_ids(text: &str) -> String {
    text.lines()
        .map(|line| {
            let masked = line.strip_prefix("thread '").and_then(|_| {
                let open = line.find("' (")? + 3;
                let close = open + line[open..].find(')')?;
                let digits = &line[open..close];
                (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| format!("{}N{}", &line[..open], &line[close..]))
            });
            masked.unwrap_or_else(|| line.to_owned()) + "\n"
        })
        .collect()
}

/// Run `binary` with `args` and exactly the environment `env` (plus PATH and TMPDIR).
pub fn run(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.env("TMPDIR", std::env::temp_dir());
    command.envs(env.iter().copied());
    Run::from(
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display())),
    )
}

type Cache = Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>;

fn once(key: String, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cell = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .clone();
    cell.get_or_init(build).clone()
}

/// The example built by plain `cargo build --release` (glibc, dynamic).
pub fn native(example: &str) -> PathBuf {
    once(format!("native/{example}"), || {
        let dir = example_dir(example);
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .env_remove("RUSTFLAGS")
            .status()
            .expect("run cargo");
        assert!(status.success(), "native build of {example} failed");
        dir.join("target/release").join(example)
    })
}

/// The example built by `cargo unikernel build --hosted --release`.
pub fn hosted(example: &str) -> PathBuf {
    once(format!("hosted/{example}"), || {
        let dir = example_dir(example);
        let output = tool()
            .args(["build", "--hosted", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .output()
            .expect("run cargo-unikernel");
        assert!(
            output.status.success(),
            "hosted build of {example} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir.join("target/unikernel/hosted/release").join(example)
    })
}

/// The example's image, built once per test binary by `cargo unikernel build --release`
/// (tests that read its symbols and boot it then see the same build).
pub fn image(example: &str) -> PathBuf {
    once(format!("image/{example}"), || {
        let dir = example_dir(example);
        let output = tool()
            .args(["build", "--release", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .output()
            .expect("run cargo-unikernel");
        assert!(
            output.status.success(),
            "image build of {example} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir.join("target/unikernel/release").join(example)
    })
}

/// Assert that two runs of the same program agree, showing both if not.
#[track_caller]
pub fn assert_same(what: &str, expected: &Run, actual: &Run) {
    assert_eq!(
        expected, actual,
        "{what}: outputs differ\n--- expected stdout\n{}--- actual stdout\n{}--- expected stderr\n{}--- actual stderr\n{}",
        expected.stdout, actual.stdout, expected.stderr, actual.stderr
    );
}

/// Run `binary` as [`run`] does, with stderr going to the same pipe as stdout: the
/// unikernel has one console, so its output is compared with this interleaving.
pub fn run_merged(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("exec \"$0\" \"$@\" 2>&1")
        .arg(binary)
        .args(args);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.env("TMPDIR", std::env::temp_dir());
    command.envs(env.iter().copied());
    Run::from(command.output().expect("run sh"))
}

/// `cargo unikernel run --release` of an example, under software emulation unless the
/// host offers hardware virtualization (the tool decides).
pub fn boot(example: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tool();
    command.args(["run", "--release", "--timeout", "120", "--manifest-path"]);
    command.arg(example_dir(example).join("Cargo.toml"));
    for (key, value) in env {
        command.arg("--env").arg(format!("{key}={value}"));
    }
    command.arg("--").args(args);
    let output = command.output().expect("run cargo-unikernel");
    let mut run = Run::from(output);
    // The tool's own status lines (cargo-style, right-aligned verbs) are not the app's.
    run.stderr = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(|l| format!("{l}\n"))
        .collect();
    run
}
