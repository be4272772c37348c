//! The jump from the kernel's boot flow onto the application's main-thread stack.
//!
//! Per `docs/interfaces.md`, the libc shim defines
//! `extern "C" fn __unikernel_libc_start(sp: *const usize) -> !`, where `sp` points at
//! a System V initial process stack (argc, argv, envp, auxv) built by the kernel.

use core::arch::asm;
use core::convert::Infallible;

use crate::memory::{Access, Region};

unsafe extern "C" {
    fn __unikernel_libc_start(sp: *const usize) -> !;
}

/// `sp` does not lie 16-byte aligned inside a read-write stack region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadStackPointer;

/// Switches to the stack at `sp` and calls `__unikernel_libc_start(sp)`; the stack
/// region is given to the application's main thread for good.
///
/// `sp` must be 16-byte aligned (the System V process-entry alignment); the call then
/// pushes the return address, so the shim sees the C ABI's entry alignment.
pub fn enter_libc_start(sp: usize, stack: Region) -> Result<Infallible, BadStackPointer> {
    if !sp.is_multiple_of(16)
        || sp <= stack.start()
        || sp > stack.end()
        || stack.access() != Access::ReadWrite
    {
        return Err(BadStackPointer);
    }
    // SAFETY: `sp` lies in `stack`, a read-write region the caller owns and gives to
    // the application's main thread for good (it is borrowed mutably here and this
    // never returns); everything below `sp` in it is free for the callee's frames.
    // The frame pointer is cleared so unwinders and backtraces stop here. The
    // application runs with interrupts enabled (the kernel's timer preempts it); every
    // kernel entry disables them again.
    unsafe {
        asm!(
            "mov rsp, {sp}",
            "xor ebp, ebp",
            "sti",
            "call {start}",
            "ud2",
            sp = in(reg) sp,
            start = sym __unikernel_libc_start,
            in("rdi") sp,
            options(noreturn),
        )
    }
}
