//! `cargo unikernel run --profile-cpu --flamegraph`: the sampling profiler on
//! `examples/hotspots`, whose two hot functions must carry most of the samples in the
//! folded stacks and be named in the SVG; bad profile options fail before the build.

mod common;

use std::path::Path;

use common::{example_dir, native, run, tool};

/// `cargo unikernel run --release ARGS... --manifest-path hotspots` (after `args`).
fn hotspots(args: &[&str]) -> std::process::Output {
    let mut command = tool();
    command.args(["run", "--release", "--timeout", "300"]);
    command.args(args);
    command.arg("--manifest-path");
    command.arg(example_dir("hotspots").join("Cargo.toml"));
    command.output().expect("run cargo-unikernel")
}

/// The number of samples per folded line whose stack passes through `function`.
fn samples_in(folded: &str, function: &str) -> u64 {
    folded
        .lines()
        .filter(|line| line.split(';').any(|frame| frame.starts_with(function)))
        .map(|line| line.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum()
}

#[test]
fn hotspots_profile_names_both_hot_functions() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("hotspots.svg");
    let output = hotspots(&["--profile-cpu", "--flamegraph", svg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // The program's own output is untouched by sampling.
    let expected = run(&native("hotspots"), &[], &[]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected.stdout);
    assert!(stderr.contains("Profiled"), "{stderr}");

    let folded = std::fs::read_to_string(dir.path().join("hotspots.folded")).unwrap();
    let total = samples_in(&folded, "");
    let mix = samples_in(&folded, "hotspots::mix_hashes");
    let primes = samples_in(&folded, "hotspots::count_primes");
    assert!(total >= 50, "too few samples ({total}):\n{folded}");
    // Most of the time is in the two functions, each a good part of it, both under
    // the app's main (the stacks go up through it).
    assert!(
        mix * 100 >= total * 15,
        "mix_hashes {mix} of {total}:\n{folded}"
    );
    assert!(
        primes * 100 >= total * 15,
        "count_primes {primes} of {total}:\n{folded}"
    );
    assert!(
        (mix + primes) * 100 >= total * 70,
        "{mix} + {primes} of {total}:\n{folded}"
    );
    assert!(
        samples_in(&folded, "hotspots::main") >= mix + primes,
        "{folded}"
    );

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<?xml"), "not an SVG");
    for name in ["hotspots::mix_hashes", "hotspots::count_primes"] {
        assert!(svg.contains(name), "the flame graph does not name {name}");
    }
}

#[test]
fn bad_profile_options_fail_before_the_build() {
    let unwritable = Path::new("/nonexistent-dir/profile.svg");
    for (args, message) in [
        (
            vec!["--flamegraph", unwritable.to_str().unwrap()],
            "cannot write the profile to /nonexistent-dir/profile.folded",
        ),
        (vec!["--profile-cpu=0"], "the rate must be 1 to 100000 Hz"),
    ] {
        let output = hotspots(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("Compiling") && !stderr.contains("Linking"),
            "{stderr}"
        );
    }
}
