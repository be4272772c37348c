//! The `#[unikernel::...]` properties on a fixture crate (`tests/fixtures/annotations`):
//! each holds for one function and is broken by others through a generic, a closure
//! and a trait object; two annotated functions are `#[inline(always)]`.
//!
//! The fixture is built once as an image and once hosted (each test process builds
//! each at most once); every test reads those two builds.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use cargo_unikernel::report::BuildReport;
use common::tool;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/annotations")
}

/// One build of the fixture: what the command printed and the report it left.
struct Build {
    output: Output,
    report: BuildReport,
}

fn build(hosted: bool) -> Build {
    let project = fixture();
    let mut command = tool();
    command.args(["build", "--release", "--allow-unsupported-syscalls"]);
    if hosted {
        command.arg("--hosted");
    }
    let output = command
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .output()
        .expect("run cargo-unikernel");
    let dir = if hosted { "hosted/release" } else { "release" };
    let report = BuildReport::read(
        &project
            .join("target/unikernel")
            .join(dir)
            .join("annotations.report.json"),
    )
    .unwrap_or_else(|e| panic!("{e:#}\n{}", String::from_utf8_lossy(&output.stderr)));
    Build { output, report }
}

/// The two builds run one after the other: both compile the same fixture.
fn image() -> &'static Build {
    static BUILD: OnceLock<Build> = OnceLock::new();
    BUILD.get_or_init(|| build(false))
}

fn hosted() -> &'static Build {
    static BUILD: OnceLock<Build> = OnceLock::new();
    image();
    BUILD.get_or_init(|| build(true))
}

/// `function attribute -> holds`, from the report.
fn results(build: &Build) -> BTreeMap<String, bool> {
    build
        .report
        .reachability
        .as_ref()
        .expect("a reachability analysis")
        .annotations
        .iter()
        .map(|c| {
            (
                format!("{} {}", c.function, c.property.attribute()),
                c.holds,
            )
        })
        .collect()
}

/// The failures on stderr, each with its nearest reason only (what lies further along
/// std's and the kernel's code is theirs to change), the count of the rest and the
/// file system paths blanked, without the functions in `skip`.
fn failures(build: &Build, skip: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&build.output.stderr);
    let mut out = Vec::new();
    let mut reasons = 0;
    // Until the first failure: the status lines before it are not reasons.
    let mut skipping = true;
    for line in stderr.lines() {
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if line.starts_with('`') {
            skipping = skip
                .iter()
                .any(|f| line.starts_with(&format!("`annotations::{f}`")));
            reasons = 0;
            if !skipping {
                out.push(line.to_owned());
            }
        } else if line.starts_with("    ") && !skipping {
            reasons += 1;
            if reasons == 1 {
                out.push(line.to_owned());
            }
        }
    }
    out.join("\n")
        .replace(&*fixture().to_string_lossy(), "[fixture]")
}

#[test]
fn an_image_fails_naming_each_broken_property_its_function_and_a_path() {
    let build = image();
    assert_eq!(
        build.output.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&build.output.stderr)
    );
    insta::assert_snapshot!(failures(build, &[]));
}

#[test]
fn syscall_properties_count_the_calls_the_function_makes_not_the_kernel_s() {
    let reachability = image().report.reachability.as_ref().unwrap();
    let check = |function: &str| {
        reachability
            .annotations
            .iter()
            .find(|c| c.function == format!("annotations::{function}"))
            .unwrap_or_else(|| panic!("{function} in {:#?}", reachability.annotations))
    };
    // What the kernel's code behind getpid could lead to is not `pid`'s.
    assert!(check("pid").holds, "{:#?}", check("pid"));
    // A write of its own: a path from the function to the shim, none through the kernel.
    let print_pid = check("print_pid");
    let write = print_pid
        .violations
        .iter()
        .find(|v| v.what == "write (1)")
        .unwrap_or_else(|| panic!("{print_pid:#?}"));
    assert_eq!(write.path[0].symbol, "annotations::print_pid", "{write:#?}");
    assert!(
        !write
            .path
            .iter()
            .any(|step| step.symbol.contains("unikernel_kernel::")),
        "{write:#?}"
    );
}

#[test]
fn the_report_lists_every_annotation_with_its_result() {
    let results = results(image());
    let expected: BTreeMap<String, bool> = [
        ("sum #[unikernel::no_alloc]", true),
        ("alloc_in_generic #[unikernel::no_alloc]", false),
        ("alloc_in_closure #[unikernel::no_alloc]", false),
        ("alloc_in_trait_object #[unikernel::no_alloc]", false),
        ("mix #[unikernel::no_panic]", true),
        ("panic_in_generic #[unikernel::no_panic]", false),
        ("panic_in_closure #[unikernel::no_panic]", false),
        ("panic_in_trait_object #[unikernel::no_panic]", false),
        ("parity #[unikernel::syscalls(write)]", true),
        // The kernel delivers signals on the way back from getpid; that code can
        // panic, and the panic handler makes system calls of its own: the kernel's
        // doing, not system calls `pid` makes.
        ("pid #[unikernel::syscalls(getpid)]", true),
        ("print_pid #[unikernel::syscalls(getpid)]", false),
        ("sleep_in_generic #[unikernel::syscalls(write)]", false),
        ("sleep_in_closure #[unikernel::syscalls(write)]", false),
        ("sleep_in_trait_object #[unikernel::syscalls(write)]", false),
        ("checksum #[unikernel::max_stack(256)]", true),
        ("stack_in_generic #[unikernel::max_stack(1024)]", false),
        ("stack_in_closure #[unikernel::max_stack(1024)]", false),
        ("stack_in_trait_object #[unikernel::max_stack(1024)]", false),
        ("bump #[unikernel::no_panic]", true),
        ("boxed_len #[unikernel::no_alloc]", false),
    ]
    .into_iter()
    .map(|(name, holds)| (format!("annotations::{name}"), holds))
    .collect();
    assert_eq!(results, expected);

    // The text report says the same, reasons and paths included.
    let text = cargo_unikernel::report_text::render(&image().report);
    assert!(
        text.contains("  #[unikernel::max_stack(256)] annotations::checksum: holds ("),
        "{text}"
    );
    assert!(
        text.contains("  #[unikernel::no_panic] annotations::panic_in_generic: VIOLATED\n      core::panicking::panic_bounds_check\n        via annotations::panic_in_generic -> core::panicking::panic_bounds_check\n"),
        "{text}"
    );
    assert!(
        text.contains("as an allow-list ([package.metadata.unikernel]): syscalls = [\"read\""),
        "{text}"
    );
}

#[test]
fn annotations_on_functions_inlined_everywhere_are_still_checked() {
    // `bump` and `boxed_len` are #[inline(always)] and called from several places:
    // without the attribute's inline(never) under the cfg, nothing would be left to
    // check.
    let results = results(image());
    assert!(results["annotations::bump #[unikernel::no_panic]"]);
    assert!(!results["annotations::boxed_len #[unikernel::no_alloc]"]);
    let stderr = String::from_utf8_lossy(&image().output.stderr);
    assert!(
        stderr.contains("`annotations::boxed_len` is marked #[unikernel::no_alloc] but reaches:"),
        "{stderr}"
    );
}

#[test]
fn a_hosted_build_checks_what_applies_and_says_what_it_leaves_out() {
    let build = hosted();
    let stderr = String::from_utf8_lossy(&build.output.stderr);
    assert_eq!(build.output.status.code(), Some(9), "{stderr}");
    assert!(stderr.contains("Note hosted build: "), "{stderr}");
    let results = results(build);
    // Without the kernel in the module, getpid is all `pid` reaches.
    assert!(results["annotations::pid #[unikernel::syscalls(getpid)]"]);
    assert!(results["annotations::checksum #[unikernel::max_stack(256)]"]);
    assert!(results["annotations::sum #[unikernel::no_alloc]"]);
    assert_eq!(
        results.values().filter(|holds| **holds).count(),
        6,
        "{results:#?}"
    );
    insta::assert_snapshot!(failures(build, &[]));
}
