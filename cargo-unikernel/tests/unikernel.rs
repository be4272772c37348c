//! Unikernel images booted under QEMU: the app's console output and exit code equal the
//! native build's, and the build report shows the system calls rewritten.

mod common;

use common::{boot, example_dir, native, run_merged};

fn differential(example: &str, args: &[&str], env: &[(&str, &str)]) {
    let expected = run_merged(&native(example), args, env);
    let actual = boot(example, args, env);
    assert_eq!(actual.stderr, "", "{example}: the tool reported an error");
    assert_eq!(
        (expected.code, &expected.stdout),
        (actual.code, &actual.stdout),
        "{example}: native (left) and unikernel (right) differ"
    );
}

#[test]
fn hello_matches_native() {
    differential("hello", &[], &[]);
    differential(
        "hello",
        &["one", "two words", "--exit", "7"],
        &[("UNIKERNEL_GREETING", "hi there")],
    );
    check_report("hello");
}

/// Every site with a constant number of a syscall the kernel implements became a direct
/// call; what is left on the dispatcher is unimplemented in the kernel.
fn check_report(example: &str) {
    let report =
        example_dir(example).join(format!("target/unikernel/release/{example}.report.json"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let runs = report["stats"]["syscall_rewrites"].as_array().unwrap();
    let first = &runs[0];
    assert!(
        first["direct"].as_u64().unwrap() > 50,
        "rewritten sites: {}",
        first["direct"]
    );
    let implemented: Vec<&str> = runs
        .iter()
        .flat_map(|r| r["reached"].as_array().unwrap())
        .filter(|s| s["implemented"] == true)
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let last = runs.last().unwrap();
    for site in last["details"].as_array().unwrap() {
        let outcome = site["outcome"].as_str().unwrap();
        if outcome == "dispatcher_constant" {
            let name = site["name"].as_str().unwrap_or("?");
            assert!(
                !implemented.contains(&name),
                "{name} is implemented but still dispatched: {site}"
            );
        }
    }
}
