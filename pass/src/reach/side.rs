//! Which side of the user/kernel boundary code is on, in the final module.
//!
//! The system calls a function *makes* are the kernel entries it reaches from the
//! application's side (its own code, std, the libc shim). What the kernel does inside
//! its implementation of a call (signal delivery on the way back, its own allocations,
//! a panic in its code, which is a kernel bug) is not a system call the function makes.
//! The syscall properties (`no_syscalls`, `syscalls(...)`) and the program's reachable
//! set therefore search only the application's side: they stop at kernel code. The
//! `no_alloc`, `no_panic` and `max_stack` properties follow paths into the kernel: its
//! allocations, panics and frames happen while the function runs, on its stack.
//!
//! Kernel code is
//!
//! - a function of the kernel crates ([`KERNEL_CRATES`]): its demangled name mentions
//!   one of them as a path (`unikernel_kernel::...`, a closure in one, a trait impl or
//!   a `drop_in_place` for one of their types), or it is one of the kernel's unmangled
//!   exports (the entries `__unikernel_sys_NAME` / `__unikernel_enosys_NAME` and
//!   [`KERNEL_EXPORTS`]);
//! - kernel code the optimizer inlined into a function of the application's side (the
//!   entries are inlined into the shim's wrappers, and what they call into those).
//!   Before optimization, [`mark_kernel_calls`] puts the call-site attribute
//!   [`KERNEL_CALL_ATTRIBUTE`] on every call in a kernel function; inlining copies a
//!   call with its attributes (as it does the entry marks of [`super::markers`]), so a
//!   call that came from the kernel still says so wherever it ends up.
//!
//! What stays approximate, always on the side of reporting more: an instruction of
//! inlined kernel code other than a call (a store of a function's address) is counted
//! as the application's, and so is a call the optimizer made up inside inlined kernel
//! code (a `memcpy` for a loop); neither leads to a system call in today's kernel. The
//! kernel's upcalls into the application (signal handlers, a new thread's start
//! routine) are reached the way the application hands them over: by the reference to
//! the handler or routine in its own code.

use inkwell::attributes::AttributeLoc;
use inkwell::module::Module;
use inkwell::values::{CallSiteValue, InstructionOpcode};

use super::demangle;
use super::markers::string_attribute;
use crate::syscalls::{DISPATCHER, ENOSYS_PREFIX, ENTRY_PREFIX};

/// The crates of the kernel (`sysroot/`): the logic and the hardware layer.
pub const KERNEL_CRATES: [&str; 2] = ["unikernel_kernel", "unikernel_hal"];

/// The kernel's unmangled exports other than the per-call entries: the dispatcher and
/// the functions the hal's assembly enters (`sysroot/kernel/src/entry.rs`,
/// `sysroot/kernel/src/syscall/dispatch.rs`).
pub const KERNEL_EXPORTS: [&str; 5] = [
    DISPATCHER,
    "__unikernel_syscall_frame",
    "__unikernel_kernel_main",
    "__unikernel_preempt",
    // The clock read the shim calls directly (`crate::clock`).
    crate::clock::KERNEL_CLOCK,
];

/// The libc shim's process start, which the kernel's boot flow calls
/// (`docs/interfaces.md`): where the application's side of a program begins.
pub const PROCESS_START: &str = "__unikernel_libc_start";

/// The call-site attribute of a call that was written in kernel code.
pub const KERNEL_CALL_ATTRIBUTE: &str = "unikernel-kernel-call";

/// Whether the function or global `symbol` (a mangled name, possibly with an LLVM
/// suffix such as `.llvm.123`) is kernel code.
pub fn is_kernel_function(symbol: &str) -> bool {
    let base = symbol.split('.').next().unwrap_or(symbol);
    if base.starts_with(ENTRY_PREFIX)
        || base.starts_with(ENOSYS_PREFIX)
        || KERNEL_EXPORTS.contains(&base)
    {
        return true;
    }
    let path = demangle(symbol);
    KERNEL_CRATES
        .iter()
        .any(|krate| mentions_crate(&path, krate))
}

/// Whether `path` names an item of `krate`: `krate::` at the start or after a
/// character that cannot be part of an identifier (`<`, space, `&`, `(`, ...).
fn mentions_crate(path: &str, krate: &str) -> bool {
    path.match_indices(krate).any(|(at, _)| {
        let before = path[..at].chars().next_back();
        let starts = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        starts && path[at + krate.len()..].starts_with("::")
    })
}

/// Put [`KERNEL_CALL_ATTRIBUTE`] on every call and invoke in every kernel function
/// (before optimization); returns how many calls were marked. The marks of
/// [`super::markers`] (calls of `llvm.sideeffect`) are left alone: an entry's mark
/// stands for the call of the entry, which the caller makes. Idempotent.
pub fn mark_kernel_calls(module: &Module<'_>) -> usize {
    let context = module.get_context();
    let mut marked = 0;
    for function in module.get_functions() {
        if !is_kernel_function(&function.get_name().to_string_lossy()) {
            continue;
        }
        for inst in function
            .get_basic_block_iter()
            .flat_map(|b| b.get_instructions())
        {
            if !matches!(
                inst.get_opcode(),
                InstructionOpcode::Call | InstructionOpcode::Invoke
            ) {
                continue;
            }
            let Ok(call) = CallSiteValue::try_from(inst) else {
                continue;
            };
            let marker = call
                .get_called_fn_value()
                .is_some_and(|f| f.get_name().to_bytes() == b"llvm.sideeffect");
            if marker || is_kernel_call(call) {
                continue;
            }
            call.add_attribute(
                AttributeLoc::Function,
                context.create_string_attribute(KERNEL_CALL_ATTRIBUTE, ""),
            );
            marked += 1;
        }
    }
    marked
}

/// Whether a call was written in kernel code (see [`mark_kernel_calls`]).
pub fn is_kernel_call(call: CallSiteValue<'_>) -> bool {
    string_attribute(call, KERNEL_CALL_ATTRIBUTE).is_some()
}

#[cfg(test)]
mod tests {
    use super::is_kernel_function;

    #[test]
    fn kernel_functions_by_crate_and_export() {
        for kernel in [
            "_ZN16unikernel_kernel6signal7deliver7deliver17h0123456789abcdefE",
            "_ZN16unikernel_kernel6signal7deliver7deliver17h0123456789abcdefE.llvm.42",
            "_ZN13unikernel_hal3irq7disable17h0123456789abcdefE",
            // core::ptr::drop_in_place<unikernel_kernel::vfs::Pipe>
            "_ZN4core3ptr48drop_in_place$LT$unikernel_kernel..vfs..Pipe$GT$17h0123456789abcdefE",
            "__unikernel_sys_getpid",
            "__unikernel_enosys_pause",
            "__unikernel_syscall",
            "__unikernel_syscall_frame",
        ] {
            assert!(is_kernel_function(kernel), "{kernel}");
        }
        for app in [
            "main",
            "getpid",
            "__unikernel_libc_start",
            "_ZN4core9panicking9panic_fmt17h0123456789abcdefE",
            "_ZN18not_unikernel_hal3foo17h0123456789abcdefE",
            "_ZN3std7process2id17h0123456789abcdefE",
        ] {
            assert!(!is_kernel_function(app), "{app}");
        }
    }
}
