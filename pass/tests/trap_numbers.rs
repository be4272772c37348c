//! Fixture tests of the trap-number table (`unikernel_pass::trap_numbers`): the
//! numbers that can reach the kernel's dispatcher become a constant, and the handlers
//! of the others go.

mod common;

use common::fixture;
use inkwell::context::Context;
use unikernel_pass::WholeProgram;
use unikernel_pass::trap_numbers::TrapNumbers;

fn program<'ctx>(context: &'ctx Context, drop_any_number: bool) -> WholeProgram<'ctx> {
    let program = WholeProgram::merge(context, &[fixture("trap-numbers.ll")]).unwrap();
    if drop_any_number {
        // SAFETY: nothing calls `any_number` and no value of ours refers to it.
        unsafe {
            program
                .module()
                .get_function("any_number")
                .unwrap()
                .delete()
        };
    }
    program
}

#[test]
fn only_the_numbers_of_the_sites_left_keep_their_handlers() {
    let context = Context::create();
    let mut program = program(&context, true);
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
    let mut program = program(&context, false);
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
    let mut program = program(&context, true);
    program.define_trap_numbers(true).unwrap();
    assert!(matches!(
        program.stats().trap_numbers,
        Some(TrapNumbers::All(_))
    ));
    assert!(common::ir(&program).contains("@handle_socket"));
}
