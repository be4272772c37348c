//! `cargo unikernel build --hosted`: each example prints the same and exits with the
//! same code as its plain glibc build, and the result is a truly static executable.

mod common;

use common::{assert_same, hosted, native, run};

fn differential(example: &str, args: &[&str], env: &[(&str, &str)]) {
    let expected = run(&native(example), args, env);
    let actual = run(&hosted(example), args, env);
    assert_same(example, &expected, &actual);
}

#[test]
fn hello_matches_native() {
    differential("hello", &[], &[]);
    differential(
        "hello",
        &["one", "two words", "--exit", "7"],
        &[("UNIKERNEL_GREETING", "hi there")],
    );
}

#[test]
fn threads_matches_native() {
    differential("threads", &[], &[]);
}

#[test]
fn files_matches_native() {
    differential("files", &[], &[]);
}

#[test]
fn tokio_matches_native() {
    differential("tokio", &[], &[]);
}

#[test]
fn stress_matches_native() {
    differential("stress", &[], &[]);
}

#[test]
fn time_matches_native() {
    differential("time", &[], &[]);
}

#[test]
fn panic_matches_native() {
    differential("panic", &[], &[]);
}

#[test]
fn hosted_binaries_are_static() {
    use object::Object;
    use object::read::elf::{ElfFile64, ProgramHeader};
    for example in ["hello", "threads"] {
        let path = hosted(example);
        let data = std::fs::read(&path).unwrap();
        let elf = ElfFile64::<object::Endianness>::parse(&*data).unwrap();
        let endian = elf.endian();
        let kinds: Vec<u32> = elf
            .elf_program_headers()
            .iter()
            .map(|p| p.p_type(endian))
            .collect();
        assert!(
            !kinds.contains(&object::elf::PT_INTERP),
            "{example}: has PT_INTERP"
        );
        assert!(
            !kinds.contains(&object::elf::PT_DYNAMIC),
            "{example}: has PT_DYNAMIC"
        );
        for section in [
            ".interp",
            ".dynamic",
            ".gnu.version",
            ".gnu.version_r",
            ".dynsym",
        ] {
            assert!(
                elf.section_by_name(section).is_none(),
                "{example}: has {section}"
            );
        }
        assert_eq!(
            elf.elf_header().e_type.get(endian),
            object::elf::ET_EXEC,
            "{example}: not ET_EXEC (PIE?)"
        );
        // No glibc symbol versions anywhere, e.g. `memcpy@GLIBC_2.14`.
        assert!(
            !data.windows(6).any(|w| w == b"GLIBC_"),
            "{example}: mentions a glibc symbol version"
        );
    }
}

#[test]
fn build_report_lists_inputs_functions_and_size() {
    let path = hosted("hello");
    let report_path = path.with_file_name("hello.report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).expect("report beside the binary"))
            .unwrap();
    let inputs = report["inputs"].as_array().unwrap();
    let with_bitcode = inputs
        .iter()
        .filter(|i| i["bitcode_modules"].as_u64().unwrap() > 0)
        .count();
    assert!(
        with_bitcode >= 10,
        "expected the app, std's crates and the shim as bitcode: {with_bitcode}"
    );
    assert!(
        inputs.iter().any(
            |i| i["name"].as_str().unwrap().starts_with("libstd-") && i["bitcode_modules"] == 1
        ),
        "std's bitcode from its .llvmbc section"
    );
    assert!(
        inputs.iter().any(|i| i["name"]
            .as_str()
            .unwrap()
            .starts_with("libcompiler_builtins-")
            && i["native"].is_string()),
        "compiler_builtins listed as native"
    );
    let merged = report["stats"]["functions_merged"].as_u64().unwrap();
    let optimized = report["stats"]["functions_optimized"].as_u64().unwrap();
    assert!(
        optimized > 0 && optimized < merged / 2,
        "LTO drops most of std: {merged} -> {optimized}"
    );
    let size = report["size"]["file_bytes"].as_u64().unwrap();
    assert_eq!(size, std::fs::metadata(&path).unwrap().len());
}

/// A second build with nothing changed skips the whole-program link; a source file
/// that cargo recompiles makes it link again.
#[test]
fn unchanged_build_is_fresh_and_a_recompiled_crate_relinks() {
    let binary = hosted("hello");
    let build = || {
        let output = common::tool()
            .args(["build", "--hosted", "--release", "--manifest-path"])
            .arg(common::example_dir("hello").join("Cargo.toml"))
            .output()
            .expect("run cargo-unikernel");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let status = build();
    assert!(
        status.contains("Fresh"),
        "expected a fresh build:\n{status}"
    );
    assert!(!status.contains("Linking"), "{status}");

    // Same content, newer mtime: cargo recompiles hello and rustc links it again.
    let main = common::example_dir("hello").join("src/main.rs");
    let file = std::fs::File::options().append(true).open(&main).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    let status = build();
    assert!(status.contains("Linking"), "expected a relink:\n{status}");
    assert!(binary.is_file());
}

/// Crashes and signals end a hosted build as they end the glibc build: same output,
/// same status (128 + signal).
#[test]
fn crashes_and_signals_match_native() {
    differential("null-deref", &[], &[]);
    differential("stack-overflow", &[], &[]);
    differential("stack-overflow", &["thread"], &[]);
    for scenario in ["basics", "abort", "pause"] {
        differential("signals", &[scenario], &[]);
    }
}

/// Hosted `Instant::now()` reads the clock through Linux's vDSO, as glibc does, not with a
/// system call each (`shims/src/vdso.rs`): the loop of 1000 makes (almost) none.
#[test]
fn clock_gettime_uses_the_vdso() {
    let binary = hosted("microbench");
    let output = std::process::Command::new("strace")
        .args(["-f", "-e", "trace=clock_gettime", "-o", "/dev/stdout"])
        .arg(&binary)
        .args(["--iterations", "1000", "clock_gettime"])
        .output()
        .expect("run strace (apt-get install strace)");
    let trace = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{trace}");
    let calls = trace
        .lines()
        .filter(|l| l.contains("clock_gettime(CLOCK_MONOTONIC"))
        .count();
    assert!(
        trace.contains("op clock_gettime iterations 1000"),
        "{trace}"
    );
    assert!(calls < 10, "{calls} clock_gettime system calls:\n{trace}");
}
