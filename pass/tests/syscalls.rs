//! Fixture tests of the syscall rewrite: small `.ll` modules in, IR snapshots and
//! counters out.

mod common;

use common::{fixture, ir, outcomes, reached, rewrite};

use inkwell::context::Context;
use unikernel_pass::syscalls::{
    KernelEntry, Obstacle, Outcome, SiteKind, SyscallRewriteStats, find_syscall_sites,
    kernel_entry_points,
};
use unikernel_pass::{OptLevel, WholeProgram};

#[test]
fn constant_number_with_entry_becomes_a_direct_call() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-direct.ll", true);
    insta::assert_snapshot!("syscalls_direct_before", before);
    insta::assert_snapshot!("syscalls_direct_after", ir(&program));
    assert_eq!(
        (stats.sites, stats.changed, stats.direct, stats.trap_path),
        (3, 3, 3, 0)
    );
    assert_eq!(
        outcomes(&stats),
        [
            ("write_stdout", Some(1), Outcome::Direct),
            ("getpid_narrow", Some(39), Outcome::Direct),
            ("futex_wake_all", Some(202), Outcome::Direct),
        ]
    );
    assert!(stats.details.iter().all(|d| d.kind == SiteKind::InlineAsm));
    assert_eq!(stats.details[2].name, Some("futex"));
    assert_eq!(
        kernel_entry_points(program.module()),
        [
            "__unikernel_sys_write",
            "__unikernel_sys_getpid",
            "__unikernel_sys_futex",
            "__unikernel_sys_close",
            "__unikernel_syscall",
        ]
    );
    assert_eq!(
        stats.reached,
        [
            reached(1, Some("write"), KernelEntry::Sys),
            reached(39, Some("getpid"), KernelEntry::Sys),
            reached(202, Some("futex"), KernelEntry::Sys)
        ]
    );
}

#[test]
fn constant_number_without_entry_goes_to_the_dispatcher() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-unimplemented.ll", true);
    insta::assert_snapshot!("syscalls_unimplemented_before", before);
    insta::assert_snapshot!("syscalls_unimplemented_after", ir(&program));
    assert_eq!(
        (stats.sites, stats.changed, stats.dispatched_constant),
        (3, 3, 3)
    );
    assert_eq!(
        (stats.direct, stats.dispatched_dynamic, stats.trap_path),
        (0, 0, 0)
    );
    assert_eq!(
        stats.reached,
        [
            reached(3, Some("close"), KernelEntry::Dispatcher),
            reached(24, Some("sched_yield"), KernelEntry::Dispatcher),
            reached(999, None, KernelEntry::Dispatcher),
        ]
    );
    assert_eq!(stats.unimplemented().count(), 3);
}

#[test]
fn non_constant_number_goes_to_a_declared_dispatcher() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-dynamic.ll", false);
    insta::assert_snapshot!("syscalls_dynamic_before", before);
    insta::assert_snapshot!("syscalls_dynamic_after", ir(&program));
    assert_eq!(
        outcomes(&stats),
        [("syscall3", None, Outcome::DispatcherDynamic)]
    );
    assert_eq!(
        (stats.sites, stats.changed, stats.dispatched_dynamic),
        (1, 1, 1)
    );
    assert!(stats.reached.is_empty());
    let dispatcher = program
        .module()
        .get_function("__unikernel_syscall")
        .unwrap();
    assert_eq!(
        dispatcher.count_basic_blocks(),
        0,
        "declared, for the kernel to define"
    );
}

#[test]
fn asm_with_more_than_the_instruction_stays_on_the_trap_path() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-trap.ll", true);
    assert_eq!(ir(&program), before, "nothing changes");
    insta::assert_snapshot!("syscalls_trap", before);
    assert_eq!(
        (
            stats.sites,
            stats.changed,
            stats.trap_path,
            stats.module_asm_syscalls
        ),
        (3, 0, 3, 1)
    );
    let obstacles: Vec<_> = stats.details.iter().map(|d| d.obstacle.clone()).collect();
    let outputs = |c: &str| Some(Obstacle::Output(c.to_owned()));
    assert_eq!(
        obstacles,
        [
            Some(Obstacle::Template),
            outputs("={ax},={dx},{ax},~{rcx},~{r11}"),
            outputs("={ax},=&{cx},=&{r11},{ax}"),
        ]
    );
    assert!(stats.details.iter().all(|d| d.outcome == Outcome::TrapPath));
    assert_eq!(
        stats.reached,
        [reached(39, Some("getpid"), KernelEntry::Sys)],
        "a trap site still reaches it"
    );
}

#[test]
fn struct_result_through_phi_select_and_freeze_is_rebuilt() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-phi.ll", true);
    insta::assert_snapshot!("syscalls_phi_before", before);
    insta::assert_snapshot!("syscalls_phi_after", ir(&program));
    assert_eq!(
        outcomes(&stats),
        [
            ("munmap_either", Some(11), Outcome::Direct),
            ("munmap_either", Some(11), Outcome::Direct),
            ("munmap_frozen", Some(11), Outcome::Direct),
            ("write_or_zero", Some(1), Outcome::Direct),
            ("flags_through_phi", Some(39), Outcome::TrapPath),
        ]
    );
    assert_eq!(
        stats.details[4].obstacle,
        Some(Obstacle::Output("={ax},=&{cx},=&{r11},{ax}".into())),
        "r11 is read after the phi"
    );
    assert_eq!((stats.changed, stats.trap_path), (4, 1));
}

#[test]
fn asm_without_syscall_is_not_a_site() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-other-asm.ll", false);
    assert_eq!(ir(&program), before, "nothing changes");
    assert_eq!(stats, SyscallRewriteStats::default());
}

#[test]
fn libc_syscall_calls_become_direct_calls_with_errno() {
    let context = Context::create();
    let (program, before, stats) = rewrite(&context, "syscalls-libc.ll", true);
    insta::assert_snapshot!("syscalls_libc_before", before);
    insta::assert_snapshot!("syscalls_libc_after", ir(&program));
    assert_eq!(
        outcomes(&stats),
        [
            ("getpid_via_libc", Some(39), Outcome::Direct),
            ("futex_wake", Some(202), Outcome::Direct),
            ("syscall", None, Outcome::DispatcherDynamic),
        ]
    );
    let kinds: Vec<_> = stats.details.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [SiteKind::LibcCall, SiteKind::LibcCall, SiteKind::InlineAsm]
    );
    assert_eq!(
        (
            stats.sites,
            stats.changed,
            stats.direct,
            stats.dispatched_dynamic
        ),
        (3, 3, 2, 1)
    );
}

#[test]
fn second_run_changes_nothing() {
    let context = Context::create();
    for (name, kernel) in [
        ("syscalls-direct.ll", true),
        ("syscalls-unimplemented.ll", true),
        ("syscalls-dynamic.ll", false),
        ("syscalls-trap.ll", true),
        ("syscalls-libc.ll", true),
        ("syscalls-phi.ll", true),
    ] {
        let (mut program, _, first) = rewrite(&context, name, kernel);
        let after_first = ir(&program);
        let second = program.rewrite_syscalls().unwrap();
        assert_eq!(second.changed, 0, "{name}");
        // What the first run sent to the dispatcher is found again, unchanged; direct
        // calls are no longer sites; trap sites are found again.
        assert_eq!(second.trap_path, first.trap_path, "{name}");
        assert_eq!(
            second.dispatched_dynamic, first.dispatched_dynamic,
            "{name}"
        );
        assert_eq!(
            second.dispatched_constant, first.dispatched_constant,
            "{name}"
        );
        assert_eq!(second.direct, 0, "{name}");
        assert_eq!(ir(&program), after_first, "{name}");
        assert_eq!(program.stats().syscall_rewrites.len(), 2);
    }
}

#[test]
fn number_made_constant_by_inlining_is_rewritten_after_optimization() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("syscalls-inline.ll")]).unwrap();
    let first = program.rewrite_syscalls().unwrap();
    assert_eq!(
        outcomes(first),
        [("syscall1", None, Outcome::DispatcherDynamic)]
    );

    program.optimize(OptLevel::Full).unwrap();
    let sites = find_syscall_sites(program.module());
    assert_eq!(sites.len(), 1, "{}", ir(&program));
    assert_eq!(
        (sites[0].kind, sites[0].number, sites[0].function.as_str()),
        (SiteKind::Dispatcher, Some(39), "getpid")
    );

    let second = program.rewrite_syscalls().unwrap().clone();
    assert_eq!(outcomes(&second), [("getpid", Some(39), Outcome::Direct)]);
    assert_eq!((second.changed, second.direct), (1, 1));
    assert_eq!(
        second.reached,
        [reached(39, Some("getpid"), KernelEntry::Sys)]
    );
    let getpid = ir(&program);
    assert!(
        getpid
            .contains("call i64 @__unikernel_sys_getpid(i64 0, i64 0, i64 0, i64 0, i64 0, i64 0)"),
        "{getpid}"
    );

    let third = program.rewrite_syscalls().unwrap();
    assert_eq!((third.sites, third.changed), (0, 0));
}
