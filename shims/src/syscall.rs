//! The only door to the kernel: raw Linux `syscall` instructions.
//!
//! Every system call the shim makes goes through `syscall0`..`syscall6`. Their asm
//! template is exactly the single instruction `syscall`, which is the contract with
//! the pass (docs/interfaces.md): in a unikernel build it recognises this template
//! and replaces it with a direct call of the kernel's entry for that number. The
//! one exception is the clone-for-threads trampoline in `pthread/clone.rs`, whose
//! child half must run on the new stack without returning through Rust code.
//!
//! Register use follows the x86_64 Linux syscall ABI: number in `rax`, arguments in
//! `rdi, rsi, rdx, r10, r8, r9`; the kernel clobbers `rcx` and `r11` and returns
//! `-errno` (in `-4095..0`) or the result in `rax`.

use core::arch::asm;

use crate::errno::Errno;

/// x86_64 Linux system call numbers (`nr::READ`), from the ABI crate's one list.
pub use unikernel_abi::syscall::nr;

/// Turns a raw kernel return value into `Ok(value)` or `Err(errno)`.
#[inline(always)]
pub fn result(ret: usize) -> Result<usize, Errno> {
    // Linux returns -1..-4095 as errors (include/linux/err.h, MAX_ERRNO).
    if ret > usize::MAX - 4095 {
        Err(Errno(ret.wrapping_neg() as i32))
    } else {
        Ok(ret)
    }
}

/// # Safety
/// The caller must uphold the contract of system call `n` (pointer arguments valid for
/// the kernel's reads/writes, resources owned as the call requires).
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> usize {
    let ret;
    // SAFETY: the caller upholds the syscall's contract; `syscall` clobbers only
    // rcx/r11 (declared) and rax (the result).
    unsafe {
        asm!("syscall", in("rax") n, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a0: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, lateout("rax") ret, out("rcx") _,
            out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a0: usize, a1: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, lateout("rax") ret,
            out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2,
            lateout("rax") ret, out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a0: usize, a1: usize, a2: usize, a3: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            lateout("rax") ret, out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            in("r8") a4, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            in("r8") a4, in("r9") a5, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// `syscall(2)`, defined non-variadic with all six argument slots: on x86_64 SysV
/// a variadic call passes its integer arguments in the same registers, and the
/// pass rewrites variadic call sites to this type. Unused slots carry garbage the
/// kernel ignores. Errors: -1 and errno.
///
/// # Safety
/// The caller must uphold the contract of system call `n`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syscall(
    n: core::ffi::c_long,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> core::ffi::c_long {
    let Ok(n) = usize::try_from(n) else {
        crate::errno::set_errno(Errno::ENOSYS);
        return -1;
    };
    // SAFETY: per the caller.
    let r = result(unsafe { syscall6(n, a0, a1, a2, a3, a4, a5) });
    crate::errno::ret_isize(r) as core::ffi::c_long
}
