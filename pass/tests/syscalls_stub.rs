//! Fixture tests of what the syscall rewrite does besides direct and dispatcher calls:
//! the kernel's stub in place of every `syscall` instruction left, register-frame
//! syscalls, and the kernel's entries for syscalls it does not implement.

mod common;

use common::{ir, outcomes, reached, rewrite_all};

use inkwell::context::Context;
use unikernel_pass::syscalls::{
    KernelEntry, Obstacle, Outcome, SiteKind, defines_syscall_stub, kernel_entry_points,
};

#[test]
fn with_the_stub_no_syscall_instruction_is_left() {
    let context = Context::create();
    let (mut program, before, stats) =
        rewrite_all(&context, &["syscalls-frame.ll", "syscalls-stub-kernel.ll"]);
    assert!(defines_syscall_stub(program.module()));
    insta::assert_snapshot!("syscalls_frame_before", before);
    let after = ir(&program);
    insta::assert_snapshot!("syscalls_frame_stub_after", after);
    assert_eq!(
        outcomes(&stats),
        [
            ("clone_inline", None, Outcome::StubCall),
            ("reads_saved_flags", Some(39), Outcome::StubCall),
            ("clone_bare", Some(56), Outcome::StubCall),
            ("clone3_via_libc", Some(435), Outcome::StubCall),
            ("fork_via_dispatcher", Some(57), Outcome::StubCall),
            ("getpid", Some(39), Outcome::Direct),
        ]
    );
    let obstacles: Vec<_> = stats.details.iter().map(|d| d.obstacle.clone()).collect();
    assert_eq!(
        obstacles[..5],
        [
            Some(Obstacle::Template),
            Some(Obstacle::Output(
                "={ax},=&{cx},=&{r11},{ax},~{dirflag},~{fpsr},~{flags}".into()
            )),
            Some(Obstacle::RegisterFrame),
            Some(Obstacle::RegisterFrame),
            Some(Obstacle::RegisterFrame),
        ]
    );
    assert_eq!(
        (
            stats.sites,
            stats.changed,
            stats.stub_calls,
            stats.direct,
            stats.trap_path
        ),
        (6, 6, 5, 1, 0)
    );
    assert!(stats.syscall_stub_defined);
    assert_eq!(
        (stats.module_asm_syscalls, stats.module_asm_stub_calls),
        (0, 2)
    );
    assert!(
        !after.contains("\"syscall\"") && !after.contains("\\09syscall"),
        "{after}"
    );
    assert!(
        after.contains("module asm \"syscall_is_a_label_here: sysretq # sysenter syscall\""),
        "labels, other instructions and comments stay: {after}"
    );
    assert_eq!(
        stats
            .reached
            .iter()
            .map(|r| (r.number, r.entry))
            .collect::<Vec<_>>(),
        [
            (39, KernelEntry::Sys),
            (56, KernelEntry::RegisterFrame),
            (57, KernelEntry::RegisterFrame),
            (435, KernelEntry::RegisterFrame),
        ],
        "clone never goes to its enosys entry"
    );
    assert_eq!(stats.unimplemented().count(), 0);

    // A second run finds the stub calls again and changes nothing.
    let second = program.rewrite_syscalls().unwrap().clone();
    assert_eq!(ir(&program), after);
    assert_eq!(
        (
            second.sites,
            second.changed,
            second.stub_calls,
            second.trap_path
        ),
        (5, 0, 5, 0)
    );
    assert_eq!(
        (second.module_asm_syscalls, second.module_asm_stub_calls),
        (0, 2)
    );
    let kinds: Vec<_> = second.details.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [SiteKind::InlineAsm; 5]);
}

#[test]
fn without_the_stub_what_keeps_its_asm_stays_on_the_trap_path() {
    let context = Context::create();
    let (mut program, _, stats) =
        rewrite_all(&context, &["syscalls-frame.ll", "syscalls-kernel.ll"]);
    assert!(!defines_syscall_stub(program.module()));
    let after = ir(&program);
    insta::assert_snapshot!("syscalls_frame_trap_after", after);
    assert_eq!(
        outcomes(&stats),
        [
            ("clone_inline", None, Outcome::TrapPath),
            ("reads_saved_flags", Some(39), Outcome::TrapPath),
            ("clone_bare", Some(56), Outcome::TrapPath),
            ("clone3_via_libc", Some(435), Outcome::TrapPath),
            ("fork_via_dispatcher", Some(57), Outcome::TrapPath),
            ("getpid", Some(39), Outcome::Direct),
        ]
    );
    // The libc and dispatcher calls became `syscall` asm; the asm sites stay as they
    // were.
    assert_eq!(
        (stats.changed, stats.trap_path, stats.stub_calls),
        (3, 5, 0)
    );
    assert_eq!(
        (stats.module_asm_syscalls, stats.module_asm_stub_calls),
        (2, 0)
    );
    assert!(!after.contains("__unikernel_syscall_stub"), "{after}");

    let second = program.rewrite_syscalls().unwrap().clone();
    assert_eq!(ir(&program), after);
    assert_eq!((second.sites, second.changed, second.trap_path), (5, 0, 5));
}

#[test]
fn unimplemented_syscalls_call_their_enosys_entry() {
    let context = Context::create();
    let (program, before, stats) =
        rewrite_all(&context, &["syscalls-enosys.ll", "syscalls-kernel.ll"]);
    insta::assert_snapshot!("syscalls_enosys_before", before);
    insta::assert_snapshot!("syscalls_enosys_after", ir(&program));
    assert_eq!(
        outcomes(&stats),
        [
            ("sched_yield", Some(24), Outcome::DirectUnimplemented),
            ("kill", Some(62), Outcome::DispatcherConstant),
            (
                "madvise_after_inlining",
                Some(28),
                Outcome::DirectUnimplemented
            ),
            ("write", Some(1), Outcome::Direct),
        ]
    );
    assert_eq!(
        (
            stats.direct,
            stats.direct_unimplemented,
            stats.dispatched_constant,
            stats.changed
        ),
        (1, 2, 1, 4)
    );
    assert_eq!(stats.direct_unimplemented_names, ["madvise", "sched_yield"]);
    assert_eq!(
        stats.reached,
        [
            reached(1, Some("write"), KernelEntry::Sys),
            reached(24, Some("sched_yield"), KernelEntry::Enosys),
            reached(28, Some("madvise"), KernelEntry::Enosys),
            reached(62, Some("kill"), KernelEntry::Dispatcher),
        ]
    );
    assert_eq!(
        stats
            .unimplemented()
            .map(|r| r.name.unwrap())
            .collect::<Vec<_>>(),
        ["sched_yield", "madvise", "kill"]
    );
    let entries = kernel_entry_points(program.module());
    for kept in [
        "__unikernel_enosys_sched_yield",
        "__unikernel_enosys_madvise",
        "__unikernel_sys_write",
        "__unikernel_syscall",
    ] {
        assert!(entries.iter().any(|e| e == kept), "{kept}: {entries:?}");
    }
}
