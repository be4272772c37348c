//! The reachability analysis: syscalls reachable from the entry with a path, the
//! `no_syscalls` marks, and the kernel entry marks that survive inlining.

mod common;

use common::fixture;

use inkwell::context::Context;
use unikernel_pass::internalize::KeepSet;
use unikernel_pass::reach::{Support, Via};
use unikernel_pass::{OptLevel, WholeProgram};

fn path(steps: &[unikernel_pass::reach::PathStep]) -> Vec<&str> {
    steps.iter().map(|s| s.symbol.as_str()).collect()
}

#[test]
fn reachable_syscalls_and_no_syscalls_checks() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("reach.ll")]).unwrap();
    assert_eq!(program.mark_kernel_entries(), 2);
    assert_eq!(program.mark_kernel_entries(), 0, "marking is idempotent");
    let reach = program.reachability(&["main".into()]);

    // write is reachable only from `impure`, which only its mark keeps alive.
    assert_eq!(reach.syscalls.len(), 1, "{:?}", reach.syscalls);
    let pause = &reach.syscalls[0];
    assert_eq!(
        (pause.name.as_deref(), pause.number, pause.support),
        (Some("pause"), Some(34), Support::Unimplemented)
    );
    assert_eq!(pause.via, [Via::EntryCall]);
    assert_eq!(path(&pause.path), ["main", "helper"]);

    let checks: Vec<(&str, Vec<Option<&str>>)> = reach
        .no_syscalls
        .iter()
        .map(|c| {
            (
                c.function.as_str(),
                c.reaches.iter().map(|s| s.name.as_deref()).collect(),
            )
        })
        .collect();
    assert_eq!(checks, [("pure", vec![]), ("impure", vec![Some("write")])]);
    assert_eq!(path(&reach.no_syscalls[1].reaches[0].path), ["impure"]);

    assert_eq!(program.strip_annotation_marks().unwrap(), 2);
    let ir = program.module().print_to_string().to_string();
    assert!(
        !ir.contains("unikernel.no_syscalls") && !ir.contains("llvm.used"),
        "{ir}"
    );
}

#[test]
fn the_entry_marks_survive_inlining() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("reach.ll")]).unwrap();
    program.mark_kernel_entries();
    program.strip_annotation_marks().unwrap();
    program.internalize(&KeepSet::new(["main"])).unwrap();
    program.optimize(OptLevel::Full).unwrap();
    let ir = program.module().print_to_string().to_string();
    assert!(
        !ir.contains("@__unikernel_enosys_pause("),
        "the entry was inlined away: {ir}"
    );
    let reach = program.reachability(&["main".into()]);
    let names: Vec<_> = reach
        .syscalls
        .iter()
        .map(|s| (s.name.as_deref(), s.support, s.via.clone()))
        .collect();
    assert_eq!(
        names,
        [(Some("pause"), Support::Unimplemented, vec![Via::Inlined])]
    );
    assert_eq!(path(&reach.syscalls[0].path), ["main"]);
}

/// One property of an annotation as the tests read it: `(function, attribute, holds,
/// what breaks it)`.
type Check = (String, String, bool, Vec<String>);

/// Every property of every annotation.
fn annotations(reach: &unikernel_pass::reach::Reachability) -> Vec<Check> {
    reach
        .annotations
        .iter()
        .map(|c| {
            (
                c.function.clone(),
                c.property.attribute(),
                c.holds,
                c.violations.iter().map(|v| v.what.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn each_property_holds_for_one_function_and_not_for_the_other() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("annotations.ll")]).unwrap();
    program.mark_kernel_entries();
    assert_eq!(program.mark_effects(), 2, "malloc and panic_fmt");
    program.internalize(&KeepSet::new(["main"])).unwrap();
    program.optimize(OptLevel::Full).unwrap();
    let mut reach = program.reachability(&["main".into()]);
    let requests = program.stack_requests();
    assert_eq!(requests.len(), 5, "{requests:?}");
    assert_eq!(program.strip_annotation_marks().unwrap(), 12);
    let object = tempfile::NamedTempFile::new().unwrap();
    let checks = program
        .emit_object_checking_stack(OptLevel::Full, object.path(), &requests)
        .unwrap();
    reach.add_annotations(checks);
    insta::assert_debug_snapshot!(annotations(&reach));

    let boxed = reach
        .annotations
        .iter()
        .find(|c| c.function == "boxed")
        .unwrap();
    assert_eq!(
        path(&boxed.violations[0].path).first(),
        Some(&"boxed"),
        "paths start at the annotated function"
    );
    let via_pointer = reach
        .annotations
        .iter()
        .find(|c| c.function == "via_pointer")
        .unwrap();
    assert_eq!(
        via_pointer.violations[0]
            .path
            .iter()
            .map(|s| s.via)
            .collect::<Vec<_>>()[1],
        unikernel_pass::reach::graph::EdgeKind::IndirectCall,
        "{via_pointer:?}"
    );
    let deep = reach
        .annotations
        .iter()
        .find(|c| c.function == "deep")
        .unwrap();
    assert!(deep.stack_bytes.unwrap() > 256, "{deep:?}");
    let ir = program.module().print_to_string().to_string();
    assert!(
        !ir.contains("warn-stack-size"),
        "the measurement leaves no trace"
    );
}

#[test]
fn programs_without_annotations_get_no_effect_marks() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("reach.ll")]).unwrap();
    assert_eq!(program.mark_effects(), 0);
}

/// The annotations of the `kernel-side.ll` fixture optimized at `level` (`None`: not
/// at all), and the program's system calls.
fn kernel_side(level: Option<OptLevel>) -> (Vec<Check>, Vec<String>) {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("kernel-side.ll")]).unwrap();
    program.mark_kernel_entries();
    assert!(
        program.mark_kernel_calls() >= 2,
        "deliver's and the entry's"
    );
    assert_eq!(program.mark_kernel_calls(), 0, "marking is idempotent");
    program.mark_effects();
    if let Some(level) = level {
        program.internalize(&KeepSet::new(["main"])).unwrap();
        program.optimize(level).unwrap();
        let ir = program.module().print_to_string().to_string();
        assert!(
            !ir.contains("define internal void @_ZN16unikernel_kernel6signal7deliver")
                && !ir.contains("define internal i32 @getpid("),
            "the kernel's code was inlined into `pid`: {ir}"
        );
    }
    let reach = program.reachability(&["main".into()]);
    let syscalls = reach
        .syscalls
        .iter()
        .map(|s| s.name.clone().unwrap_or_default())
        .collect();
    (annotations(&reach), syscalls)
}

#[test]
fn syscall_properties_count_what_the_application_side_makes() {
    for level in [None, Some(OptLevel::Full)] {
        let (checks, syscalls) = kernel_side(level);
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            checks,
            [
                (
                    "hello".into(),
                    "#[unikernel::no_syscalls]".into(),
                    false,
                    s(&["write (1)"])
                ),
                (
                    "hello".into(),
                    "#[unikernel::syscalls(getpid)]".into(),
                    false,
                    s(&["write (1)"])
                ),
                // The kernel's panic is still a panic while `pid` runs.
                (
                    "pid".into(),
                    "#[unikernel::no_panic]".into(),
                    false,
                    s(&["core::panicking::panic_fmt", "llvm.trap (abort)"])
                ),
                // The panic handler's write is the kernel's doing, not `pid`'s.
                (
                    "pid".into(),
                    "#[unikernel::syscalls(getpid)]".into(),
                    true,
                    vec![]
                ),
            ],
            "at {level:?}"
        );
        // `main` reaches write only through the kernel's panic.
        assert_eq!(syscalls, ["getpid"], "at {level:?}");
    }
}
