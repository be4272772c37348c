//! The pipelines as a whole: the hosted and image stage lists, and each run end to end
//! on `.ll` fixtures with the final IR, the counters and the analysis checked.

mod common;

use common::fixture;

use unikernel_pass::pipeline::{Output, Step};
use unikernel_pass::reach::{Support, Via};
use unikernel_pass::{OptLevel, PassError, Pipeline, Stage, Stats};

/// Run `pipeline` on the fixtures; the output and the final module's IR.
fn run(pipeline: Pipeline, fixtures: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let ir = dir.path().join("optimized.ll");
    let pipeline = pipeline.capture_ir(Stage::Optimized, ir.clone()).unwrap();
    let inputs: Vec<_> = fixtures.iter().map(|name| fixture(name)).collect();
    let object = dir.path().join("whole-program.o");
    let output = pipeline
        .run(&inputs, ["needed_by_native"], &object)
        .unwrap();
    assert_eq!(output.object, object);
    let elf = std::fs::read(&object).unwrap();
    assert!(elf.starts_with(b"\x7fELF"), "an ELF object");
    (output, std::fs::read_to_string(&ir).unwrap())
}

/// The counters without the wall-clock times.
fn blank_timings(stats: &Stats) -> Stats {
    Stats {
        merge_ms: 0,
        rewrite_syscalls_ms: 0,
        optimize_ms: 0,
        codegen_ms: 0,
        ..stats.clone()
    }
}

#[test]
fn the_stage_lists() {
    let entry = || vec!["_start".to_owned()];
    insta::assert_debug_snapshot!(
        "steps_hosted",
        Pipeline::hosted(OptLevel::Full, entry()).steps()
    );
    insta::assert_debug_snapshot!(
        "steps_image",
        Pipeline::image(OptLevel::Full, entry(), true).steps()
    );
    let trap = Pipeline::image(OptLevel::Quick, entry(), false);
    assert!(!trap.steps().contains(&Step::RewriteSyscalls));
    assert_eq!(
        trap.steps()
            .iter()
            .filter(|s| matches!(s, Step::Optimize(_)))
            .count(),
        1,
        "one optimization without the rewrite"
    );
    assert_eq!(trap.stages().collect::<Vec<_>>(), Stage::ALL);
}

#[test]
fn hosted_pipeline_keeps_the_syscall_instruction() {
    let (output, ir) = run(
        Pipeline::hosted(OptLevel::Full, vec!["_start".into()]),
        &["pipeline-app.ll"],
    );
    insta::assert_snapshot!("hosted_optimized", ir);
    insta::assert_debug_snapshot!("hosted_stats", blank_timings(&output.stats));
    let reach = output.reachability.expect("the hosted pipeline analyzes");
    assert_eq!(reach.no_syscalls.len(), 1, "{reach:?}");
    assert_eq!(reach.no_syscalls[0].function, "pure");
}

#[test]
fn image_pipeline_makes_inlined_syscalls_direct_calls() {
    let (output, ir) = run(
        Pipeline::image(OptLevel::Full, vec!["_start".into()], true),
        &["pipeline-app.ll", "pipeline-kernel.ll"],
    );
    insta::assert_snapshot!("image_optimized", ir);
    insta::assert_debug_snapshot!("image_stats", blank_timings(&output.stats));
    assert!(
        !ir.contains("asm sideeffect"),
        "no syscall instruction left"
    );
    assert!(
        !ir.contains("__unikernel_syscall("),
        "no dispatcher call left"
    );
    let reach = output.reachability.expect("the image pipeline analyzes");
    let reached: Vec<_> = reach
        .syscalls
        .iter()
        .map(|s| (s.name.as_deref(), s.support, s.via.clone()))
        .collect();
    assert_eq!(
        reached,
        [
            (Some("write"), Support::Implemented, vec![Via::EntryCall]),
            (Some("getpid"), Support::Implemented, vec![Via::EntryCall]),
        ]
    );
    assert!(output.origins.contains_key("__unikernel_sys_write"));
}

#[test]
fn a_stage_the_pipeline_lacks_cannot_be_captured() {
    let error = Pipeline::hosted(OptLevel::Quick, vec!["_start".into()])
        .capture_ir(Stage::Rewritten, "rewritten.ll".into())
        .unwrap_err();
    assert!(matches!(error, PassError::NoStage { .. }));
    assert_eq!(
        error.to_string(),
        "the hosted pipeline has no `rewritten` stage (it has merged, optimized)"
    );
    assert_eq!("merged".parse::<Stage>().unwrap(), Stage::Merged);
    assert!("linked".parse::<Stage>().is_err());
}
