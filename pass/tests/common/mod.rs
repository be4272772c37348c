//! Helpers shared by the pass's fixture tests.

use std::path::Path;

use inkwell::context::Context;
use unikernel_pass::syscalls::{KernelEntry, Outcome, ReachedSyscall, SyscallRewriteStats};
use unikernel_pass::{BitcodeInput, WholeProgram};

/// A `.ll` file of `tests/fixtures`, as a pass input.
pub fn fixture(name: &str) -> BitcodeInput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    BitcodeInput {
        name: name.to_owned(),
        bytes: std::fs::read(&path).unwrap(),
    }
}

/// The module's textual IR, for snapshots.
pub fn ir(program: &WholeProgram<'_>) -> String {
    program.module().print_to_string().to_string()
}

/// The fixture merged with the kernel fixture (if `kernel`), its IR before, and the
/// counters and IR after one rewrite.
#[allow(dead_code, reason = "not every test file rewrites syscalls")]
pub fn rewrite<'ctx>(
    context: &'ctx Context,
    name: &str,
    kernel: bool,
) -> (WholeProgram<'ctx>, String, SyscallRewriteStats) {
    let kernel = kernel.then_some("syscalls-kernel.ll");
    rewrite_all(
        context,
        &std::iter::once(name).chain(kernel).collect::<Vec<_>>(),
    )
}

/// The fixtures merged, the IR before, and the counters after one rewrite.
#[allow(dead_code, reason = "not every test file rewrites syscalls")]
pub fn rewrite_all<'ctx>(
    context: &'ctx Context,
    names: &[&str],
) -> (WholeProgram<'ctx>, String, SyscallRewriteStats) {
    let inputs: Vec<_> = names.iter().map(|name| fixture(name)).collect();
    let mut program = WholeProgram::merge(context, &inputs).unwrap();
    let before = ir(&program);
    let stats = program.rewrite_syscalls().unwrap().clone();
    (program, before, stats)
}

/// `(function, number, outcome)` of every site.
#[allow(dead_code, reason = "not every test file rewrites syscalls")]
pub fn outcomes(stats: &SyscallRewriteStats) -> Vec<(&str, Option<u64>, Outcome)> {
    stats
        .details
        .iter()
        .map(|d| (d.function.as_str(), d.number, d.outcome))
        .collect()
}

#[allow(dead_code, reason = "not every test file rewrites syscalls")]
pub fn reached(number: u64, name: Option<&'static str>, entry: KernelEntry) -> ReachedSyscall {
    ReachedSyscall {
        number,
        name,
        implemented: entry == KernelEntry::Sys,
        entry,
    }
}
