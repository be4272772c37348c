//! The clone-for-threads trampoline: the one system call outside `syscall.rs`.
//!
//! The child of `clone(CLONE_VM | ...)` starts on its new stack with every register
//! as the parent had it except `rax = 0` and `rsp`; it must not return into the
//! parent's Rust frame. So the `syscall` sits in a few instructions of assembly
//! that, in the child, pop the entry function and its argument from the new stack
//! and call it. In a unikernel build the pass replaces the instruction with
//! `call __unikernel_syscall_stub`, which keeps this register contract and gives the
//! kernel the frame it copies for the child.

use core::ffi::c_int;

use crate::errno::Errno;
use crate::syscall::{nr, result};
use crate::tcb::Tcb;

/// The child's entry: runs the thread and never returns.
pub type ChildEntry = unsafe extern "C" fn(*mut Tcb) -> !;

/// Issues `clone(flags, stack, ptid, ctid, tls)`; the child runs `entry(arg)`.
///
/// # Safety
/// `stack_top` must be the 16-byte-aligned top of a stack of at least two words
/// that the child owns; `ptid`/`ctid` must stay valid while the kernel may write
/// them; `tls` must be a thread pointer from `tls::init_block` with its control
/// block written.
pub unsafe fn spawn(
    flags: usize,
    stack_top: *mut usize,
    ptid: *mut c_int,
    ctid: *mut c_int,
    tls: *mut Tcb,
    entry: ChildEntry,
) -> Result<usize, Errno> {
    // SAFETY: the caller owns the stack; the child pops these two words, leaving
    // `rsp` 16-byte aligned before its `call`.
    let child_sp = unsafe {
        let sp = stack_top.sub(2);
        sp.write(entry as usize);
        sp.add(1).write(tls as usize);
        sp
    };
    // SAFETY: the arguments satisfy the kernel's clone contract per the caller.
    let ret = unsafe { clone_raw(flags, child_sp, ptid, ctid, tls) };
    result(ret)
}

/// `clone` with the raw x86_64 argument order (flags, stack, ptid, ctid, tls).
///
/// # Safety
/// See [`spawn`]; `child_sp` must hold the entry function and its argument.
#[unsafe(naked)]
unsafe extern "C" fn clone_raw(
    flags: usize,
    child_sp: *mut usize,
    ptid: *mut c_int,
    ctid: *mut c_int,
    tls: *mut Tcb,
) -> usize {
    // SysV passes (rdi, rsi, rdx, rcx, r8); the syscall wants the fourth argument
    // in r10. Parent: rax = tid or -errno, return it. Child (rax = 0): clear rbp
    // to end frame walks, pop entry and argument, call; entry never returns.
    core::arch::naked_asm!(
        "mov r10, rcx",
        "mov eax, {nr}",
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "pop rax",
        "pop rdi",
        "call rax",
        "ud2",
        "2:",
        "ret",
        nr = const nr::CLONE,
    )
}
