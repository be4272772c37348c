//! `cargo unikernel run --strace`: the kernel's trace of an image against `strace -f`
//! of the same program's hosted build (same shim, so the same calls with the same
//! arguments), and the name filter.

mod common;

use std::process::Command;

use common::{example_dir, hosted, tool};

/// `cargo unikernel run --release --strace[=FILTER]` of `example`: its console.
fn traced_boot(example: &str, filter: Option<&str>) -> (Option<i32>, String) {
    let mut command = tool();
    command.args(["run", "--release", "--timeout", "120", "--manifest-path"]);
    command.arg(example_dir(example).join("Cargo.toml"));
    command.arg(match filter {
        Some(names) => format!("--strace={names}"),
        None => "--strace".into(),
    });
    let output = command.output().expect("run cargo-unikernel");
    // The console, and after it the tool's own messages (for a failure's report).
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The trace lines of a console or an `strace -o` file, each without the thread
/// prefix, strace's column padding and the duration, and with the example's process
/// id (in its directory names) masked.
fn calls(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            // `[pid N] ` on the console; `N  ` in an `strace -f -o` file.
            let line = match line.strip_prefix("[pid ") {
                Some(rest) => rest.split_once("] ")?.1,
                None => line
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim_start(),
            };
            let (call, result) = line.rsplit_once(" = ")?;
            let result = result.split(" <").next()?;
            let call = mask_pid(call.trim_end());
            Some(format!("{call} = {result}"))
        })
        .collect()
}

fn mask_pid(call: &str) -> String {
    const DIR: &str = "cargo-unikernel-files-";
    let mut out = String::new();
    let mut rest = call;
    while let Some(at) = rest.find(DIR) {
        let digits = &rest[at + DIR.len()..];
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        out.push_str(&rest[..at + DIR.len()]);
        out.push('N');
        rest = &digits[end..];
    }
    out + rest
}

#[test]
fn files_under_strace_as_on_linux() {
    let names = "openat,read,write,lseek";
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let binary = hosted("files");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e"])
        .arg(format!("trace={names}"))
        .arg("-o")
        .arg(&log)
        .arg(&binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", "/tmp")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run strace");
    assert!(status.success(), "strace of the hosted files failed");
    let linux = calls(&std::fs::read_to_string(&log).unwrap());
    let (code, console) = traced_boot("files", Some(names));
    assert_eq!(code, Some(0), "{console}");
    let image = calls(&console);
    assert!(
        linux
            .iter()
            .any(|c| c.starts_with("openat(AT_FDCWD, \"/tmp/cargo-unikernel-files-N/a.txt\"")),
        "{linux:#?}"
    );
    assert_eq!(
        linux, image,
        "strace -f of the hosted build and --strace of the image differ\n--- console\n{console}"
    );
}

#[test]
fn hello_shows_its_writes_and_the_filter_keeps_only_the_names() {
    let (code, all) = traced_boot("hello", None);
    assert_eq!(code, Some(3), "{all}");
    let all = calls(&all);
    assert!(
        all.contains(&r#"write(1, "hello from stdout\n", 18) = 18"#.to_owned()),
        "{all:#?}"
    );
    assert!(all.contains(&r#"write(2, "hello from stderr\n", 18) = 18"#.to_owned()));
    assert!(all.contains(&"exit_group(3) = ?".to_owned()), "{all:#?}");
    assert!(all.iter().any(|c| c.starts_with("mmap(")), "{all:#?}");

    let (code, writes) = traced_boot("hello", Some("write"));
    assert_eq!(code, Some(3));
    let writes = calls(&writes);
    assert!(
        writes.iter().all(|c| c.starts_with("write(")),
        "{writes:#?}"
    );
    let expected: Vec<_> = all
        .iter()
        .filter(|c| c.starts_with("write("))
        .cloned()
        .collect();
    assert_eq!(writes, expected);
}

#[test]
fn unknown_names_are_refused_before_a_build() {
    let output = tool()
        .args(["run", "--strace=read,opne", "--manifest-path"])
        .arg(example_dir("hello").join("Cargo.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`opne` is not an x86-64 Linux system call"),
        "{stderr}"
    );
    assert!(!stderr.contains("Compiling"), "{stderr}");
}
