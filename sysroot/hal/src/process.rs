//! The jump from the kernel's boot flow onto the application's main-thread stack.
//!
//! Per `docs/interfaces.md`, the libc shim defines
//! `extern "C" fn __unikernel_libc_start(sp: *const usize) -> !`, where `sp` points at
//! a System V initial process stack (argc, argv, envp, auxv) built by the kernel.

use core::arch::asm;

unsafe extern "C" {
    fn __unikernel_libc_start(sp: *const usize) -> !;
}

/// Switches to the stack at `sp` and calls `__unikernel_libc_start(sp)`.
///
/// `sp` must be 16-byte aligned (the System V process-entry alignment); the call then
/// pushes the return address, so the shim sees the C ABI's entry alignment.
/// Returns `Err(())` only if `sp` is not 16-byte aligned.
pub fn enter_libc_start(sp: usize, stack: crate::memory::Region) -> Result<core::convert::Infallible, ()> {
    if sp % 16 != 0 || sp <= stack.start() || sp > stack.end() || stack.access() != crate::memory::Access::ReadWrite {
        return Err(());
    }
    // SAFETY: `sp` lies in `stack`, a read-write region the caller owns and gives to
    // the application's main thread for good (it is borrowed mutably here and this
    // never returns); everything below `sp` in it is free for the callee's frames.
    // The frame pointer is cleared so unwinders and backtraces stop here.
    unsafe {
        asm!(
            "mov rsp, {sp}",
            "xor ebp, ebp",
            "call {start}",
            "ud2",
            sp = in(reg) sp,
            start = sym __unikernel_libc_start,
            in("rdi") sp,
            options(noreturn),
        )
    }
}
