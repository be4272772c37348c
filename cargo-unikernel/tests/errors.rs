//! Bad input gets one clear `error:` line and a distinct non-zero exit code.

mod common;

use std::process::Output;

use cargo_unikernel::qemu::{Accel, Boot, Console};

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

/// `cargo unikernel run --release` of hello with `extra` flags (and `env`).
fn run_hello(extra: &[&str], env: &[(&str, &str)]) -> Output {
    build_hello_once();
    tool()
        .args(["run", "--release", "--manifest-path"])
        .arg(example_dir("hello").join("Cargo.toml"))
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Build hello's image once, so that the tests' runs find it fresh instead of linking
/// it side by side.
fn build_hello_once() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let output = tool()
            .args(["build", "--release", "--manifest-path"])
            .arg(example_dir("hello").join("Cargo.toml"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// Nothing was built: the check came first (the image was, by [`build_hello_once`]).
fn built_nothing(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("Compiling"), "{stderr}");
}

#[test]
fn run_memory_below_what_qemu_can_load_is_a_usage_error() {
    let output = run_hello(&["--memory", "1"], &[]);
    built_nothing(&output);
    let (code, error) = failure(output);
    assert_eq!(code, 2, "{error}");
    assert!(
        error.contains("--memory 1: an image needs at least 2 MiB"),
        "{error}"
    );
}

/// hello boots in 4 MiB: the main thread's stack is sized by the RAM there is.
#[test]
fn run_hello_in_4_mib_of_memory() {
    let output = run_hello(&["--memory", "4"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("hello from stdout"), "{stdout}");
}

/// With less memory than the image, its file and the kernel's start need, `run` says
/// how much it needs (QEMU would put the boot module over the image, or the kernel
/// would find no RAM above both) instead of booting.
#[test]
fn run_hello_below_its_minimum_memory_is_a_usage_error() {
    for memory in [2u32, 3] {
        let (code, error) = failure(run_hello(&["--memory", &memory.to_string()], &[]));
        assert_eq!(code, 2, "{error}");
        let prefix = format!("--memory {memory}: this image needs at least ");
        let needed: u32 = error
            .split_once(&prefix)
            .and_then(|(_, rest)| rest.split_once(" MiB"))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}N MiB` in: {error}"));
        // hello runs in 4 MiB (run_hello_in_4_mib_of_memory), so no more is asked.
        assert!(needed > memory && needed <= 4, "{error}");
    }
}

/// A boot with less RAM than hello needs, past `run`'s check (QEMU puts the boot
/// module over the image, or leaves no RAM above both, in 3 MiB): the kernel says
/// "too little memory" and stops with 123, never a hang or a triple fault.
#[test]
fn boot_module_over_the_image_stops_with_the_out_of_memory_status() {
    let image = common::image("hello");
    let outcome = Boot {
        image: &image,
        accel: Accel::Tcg,
        memory_mib: 3,
        argv0: "hello".into(),
        args: Vec::new(),
        env: Vec::new(),
        verbose: false,
        kernel_options: Vec::new(),
        gdb_port: None,
        timeout: std::time::Duration::from_secs(60),
        icount: false,
        console: Console::Capture,
        publish: Vec::new(),
        network: cargo_unikernel::publish::Network::User,
    }
    .run()
    .unwrap();
    let console = String::from_utf8_lossy(&outcome.console);
    assert_eq!(outcome.exit_code, 123, "{console}");
    assert!(
        console.contains("unikernel: boot failed: too little memory"),
        "{console}"
    );
}

#[test]
fn run_memory_above_the_host_is_a_usage_error() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let output = run_hello(&["--memory", "1000000"], &[]);
    built_nothing(&output);
    let (code, error) = failure(output);
    assert_eq!(code, 2, "{error}");
    assert!(
        error.contains(&format!("the host has only {} MiB of memory", kib / 1024)),
        "{error}"
    );
}

#[test]
fn run_accel_kvm_without_kvm_fails_at_once_naming_the_reason() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let hardware = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    let opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let reason = match (hardware, opens) {
        (false, _) => "neither the vmx nor the svm flag in /proc/cpuinfo",
        (true, false) => "/dev/kvm does not open",
        (true, true) => {
            eprintln!("this host runs KVM guests: nothing to refuse");
            return;
        }
    };
    let started = std::time::Instant::now();
    let output = run_hello(&["--accel", "kvm"], &[]);
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    built_nothing(&output);
    let (code, error) = failure(output);
    assert_eq!(code, 8, "{error}");
    assert!(error.contains(reason), "{error}");
}

/// A stand-in for QEMU: a shell script in a temporary directory.
fn fake_qemu(dir: &std::path::Path, script: &str) -> std::path::PathBuf {
    let path = dir.join("qemu");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn qemu_that_rejects_its_command_line_is_a_run_failure_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    // The real QEMU, given one option it does not know: it exits 1, as a guest that
    // exits 0 makes it do, but the guest never ran.
    let qemu = fake_qemu(dir.path(), "exec qemu-system-x86_64 \"$@\" -no-such-option");
    let output = run_hello(&[], &[("CARGO_UNIKERNEL_QEMU", qemu.to_str().unwrap())]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (code, error) = failure(output);
    assert_eq!(code, 8, "{error}");
    assert!(
        error.contains("failed (exit status 1) before the guest reported an exit status"),
        "{error}"
    );
    // On the lines after the error line.
    assert!(
        stderr.contains("\n    qemu-system-x86_64: -no-such-option: invalid option"),
        "QEMU's own message: {stderr}"
    );
}

#[test]
fn qemu_that_exits_1_silently_is_a_run_failure() {
    let output = run_hello(&[], &[("CARGO_UNIKERNEL_QEMU", "/bin/false")]);
    let (code, error) = failure(output);
    assert_eq!(code, 8, "{error}");
    assert!(
        error.contains("/bin/false failed (exit status 1)") && error.contains("printed nothing"),
        "{error}"
    );
}

#[test]
fn qemu_that_does_not_start_is_a_run_failure() {
    let output = run_hello(&[], &[("CARGO_UNIKERNEL_QEMU", "/nonexistent/qemu")]);
    let (code, error) = failure(output);
    assert_eq!(code, 8, "{error}");
    assert!(
        error.contains("cannot start /nonexistent/qemu") && error.contains("CARGO_UNIKERNEL_QEMU"),
        "{error}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--no-such-flag"], "unexpected argument '--no-such-flag'"),
        (&["--memory", "lots"], "invalid value 'lots' for '--memory"),
        (&["--accel", "hvf"], "invalid value 'hvf' for '--accel"),
        (&["--env", "NOVALUE"], "--env `NOVALUE`: expected KEY=VALUE"),
        (&["--hosted"], "`run` boots an image"),
        (
            &["--accel", "tcg", "--", "say \"hi\""],
            "contains a double quote",
        ),
        (&["--env", "A B=c"], "environment variable name `A B`"),
    ];
    for (flags, message) in cases {
        let output = run_hello(flags, &[]);
        built_nothing(&output);
        let (code, error) = failure(output);
        assert_eq!(code, 2, "{flags:?}: {error}");
        assert!(error.contains(message), "{flags:?}: {error}");
    }
    let output = tool().args(["no-such-command"]).output().unwrap();
    let (code, error) = failure(output);
    assert_eq!(code, 2, "{error}");
    assert!(error.contains("unrecognized subcommand"), "{error}");
}

#[test]
fn failed_property_check_leaves_no_image() {
    let project = repo().join("cargo-unikernel/tests/fixtures/no-syscalls");
    let image = project.join("target/unikernel/release/no-syscalls");
    let build = |features: &[&str]| {
        tool()
            .args([
                "build",
                "--release",
                "--allow-unsupported-syscalls",
                "--manifest-path",
            ])
            .arg(project.join("Cargo.toml"))
            .args(features)
            .output()
            .unwrap()
    };
    // An image from an earlier, good build must not survive a failed check either.
    let good = build(&[]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(image.is_file());
    let (code, error) = failure(build(&["--features", "violate"]));
    assert_eq!(code, 9, "{error}");
    assert!(!image.exists(), "{} is left behind", image.display());
    assert!(
        project
            .join("target/unikernel/release/no-syscalls.report.json")
            .is_file(),
        "the report (what the check found) stays"
    );
    // Failing again (it links again: there was no image to be fresh): still none.
    let (code, _) = failure(build(&["--features", "violate"]));
    assert_eq!(code, 9);
    assert!(!image.exists());
}
