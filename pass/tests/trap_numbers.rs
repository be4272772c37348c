//! Fixture tests of the trap-number table (`unikernel_pass::trap_numbers`): the
//! numbers that can reach the kernel's dispatcher become a constant, and the handlers
//! of the others go.

mod common;

use common::fixture;
use inkwell::context::Context;
use unikernel_pass::WholeProgram;
use unikernel_pass::trap_numbers::TrapNumbers;

/// The fixture without the functions named in `drop` (nothing calls them).
fn program<'ctx>(context: &'ctx Context, drop: &[&str]) -> WholeProgram<'ctx> {
    let program = WholeProgram::merge(context, &[fixture("trap-numbers.ll")]).unwrap();
    for name in drop {
        let function = program.module().get_function(name).unwrap();
        // SAFETY: nothing calls the function and no value of ours refers to it.
        unsafe { function.delete() };
    }
    program
}

#[test]
fn only_the_numbers_of_the_sites_left_keep_their_handlers() {
    let context = Context::create();
    let mut program = program(&context, &["any_number", "inlined_copy"]);
    program.define_trap_numbers(false).unwrap();
    assert_eq!(
        program.stats().trap_numbers,
        Some(TrapNumbers::Only([0].into_iter().collect()))
    );
    let ir = common::ir(&program);
    assert!(ir.contains("@handle_read"), "{ir}");
    assert!(!ir.contains("@handle_socket"), "{ir}");
    insta::assert_snapshot!("trap_numbers_only_read", ir);
}

#[test]
fn a_number_that_is_not_a_constant_keeps_every_handler() {
    let context = Context::create();
    let mut program = program(&context, &["inlined_copy"]);
    program.define_trap_numbers(false).unwrap();
    assert!(matches!(
        program.stats().trap_numbers,
        Some(TrapNumbers::All(ref why)) if why.contains("any_number")
    ));
    let ir = common::ir(&program);
    assert!(ir.contains("@handle_socket"), "{ir}");
}

#[test]
fn native_code_outside_the_module_keeps_every_handler() {
    let context = Context::create();
    let mut program = program(&context, &["any_number", "inlined_copy"]);
    program.define_trap_numbers(true).unwrap();
    assert!(matches!(
        program.stats().trap_numbers,
        Some(TrapNumbers::All(_))
    ));
    assert!(common::ir(&program).contains("@handle_socket"));
}

/// The optimizer inlined the dispatcher into a caller (the fuzzer's loop does this):
/// that copy dispatches on a number no call site shows, so every handler stays.
#[test]
fn a_copy_of_the_table_outside_the_dispatchers_keeps_every_handler() {
    let context = Context::create();
    let mut program = program(&context, &["any_number"]);
    program.define_trap_numbers(false).unwrap();
    assert!(matches!(
        program.stats().trap_numbers,
        Some(TrapNumbers::All(ref why)) if why.contains("inlined_copy")
    ));
    assert!(common::ir(&program).contains("@handle_socket"));
}
