//! Fixture tests of the pass's stages: small `.ll` modules in, IR snapshots out.

mod common;

use common::{fixture, ir};

use inkwell::context::Context;
use unikernel_pass::internalize::KeepSet;
use unikernel_pass::{BitcodeInput, WholeProgram};

#[test]
fn varargs_calls_take_the_definitions_type() {
    let context = Context::create();
    let inputs = [fixture("varargs-app.ll"), fixture("varargs-shim.ll")];
    let mut program = WholeProgram::merge(&context, &inputs).unwrap();
    insta::assert_snapshot!("varargs_before", ir(&program));
    program.fix_varargs_calls().unwrap();
    assert_eq!(
        program.stats().varargs_calls_fixed,
        4,
        "the float call stays as it was"
    );
    insta::assert_snapshot!("varargs_after", ir(&program));
}

#[test]
fn internalize_keeps_entry_libcalls_and_native_needs() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("internalize.ll")]).unwrap();
    let mut keep = KeepSet::new(["_start"]);
    keep.extend(["needed_by_native"]);
    program.internalize(&keep).unwrap();
    insta::assert_snapshot!("internalize_after", ir(&program));
    // exported_table, helper, inline_copy, weak_default, comdat_fn, kept_by_used and
    // the alias; not _start, memcpy (a libcall), needed_by_native, declarations,
    // llvm.used or the already private constant.
    assert_eq!(program.stats().internalized, 7);
}

#[test]
fn corrupted_bitcode_names_the_input() {
    let context = Context::create();
    let mut bytes = b"BC\xC0\xDE".to_vec();
    bytes.extend([0x5a; 32]);
    let error = WholeProgram::merge(
        &context,
        &[BitcodeInput {
            name: "broken.o".into(),
            bytes,
        }],
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("`broken.o` is not valid LLVM bitcode"),
        "{error}"
    );
}

#[test]
fn every_definition_loses_the_red_zone() {
    let context = Context::create();
    let mut program = WholeProgram::merge(&context, &[fixture("internalize.ll")]).unwrap();
    assert_eq!(
        program.disable_red_zone(),
        8,
        "all eight definitions, no declaration"
    );
    assert_eq!(program.disable_red_zone(), 0, "idempotent");
    let text = ir(&program);
    assert!(text.contains("attributes #0 = { noredzone }"), "{text}");
    assert!(
        text.contains("declare void @external_fn()\n"),
        "declarations untouched: {text}"
    );
}
