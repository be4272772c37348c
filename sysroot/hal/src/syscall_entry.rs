//! The trap path for `syscall` instructions executed in ring 0.
//!
//! The build pass turns most system-call sites into direct calls; what it cannot
//! rewrite (asm blocks with more than the one instruction, native objects) still
//! executes `syscall`. With `EFER.SCE` set (boot.rs) the CPU jumps to `LSTAR` with
//! `rcx` = return RIP, `r11` = RFLAGS, RFLAGS masked by `FMASK`, CS/SS from `STAR`,
//! and *the stack unchanged* (SDM Vol. 2B, SYSCALL). We are already in ring 0, so the
//! entry runs on the caller's stack and returns with a plain jump, not `sysret`
//! (which would drop to ring 3).
//!
//! It keeps the Linux system-call ABI: everything but `rax` (result), `rcx` and `r11`
//! is preserved, including the vector registers, which Linux never touches but our
//! Rust dispatcher may (hence `fxsave64`/`fxrstor64`). The caller may keep data in the
//! 128-byte red zone below its `rsp`, so the entry steps over it before pushing.

use core::arch::global_asm;

use x86_64::registers::model_specific::Msr;

use crate::gdt::KERNEL_CODE;

global_asm!(
    ".pushsection .text.unikernel_syscall_entry, \"ax\", @progbits",
    ".globl __unikernel_syscall_entry",
    ".type __unikernel_syscall_entry, @function",
    ".p2align 4",
    "__unikernel_syscall_entry:",
    "lea rsp, [rsp - 128]",     // skip the caller's red zone (lea keeps the flags)
    "push rcx",                 // return RIP
    "push r11",                 // caller's RFLAGS
    "push rbp",
    "mov rbp, rsp",
    "push rdi",
    "push rsi",
    "push rdx",
    "push r10",
    "push r8",
    "push r9",
    "and rsp, -16",
    "sub rsp, 512",
    "fxsave64 [rsp]",
    // __unikernel_syscall(nr, a0, a1, a2, a3, a4, a5): a5 goes on the stack.
    "sub rsp, 8",
    "push r9",
    "mov r9, r8",
    "mov r8, r10",
    "mov rcx, rdx",
    "mov rdx, rsi",
    "mov rsi, rdi",
    "mov rdi, rax",
    "call __unikernel_syscall",
    "add rsp, 16",
    "fxrstor64 [rsp]",
    "lea rsp, [rbp - 48]",
    "pop r9",
    "pop r8",
    "pop r10",
    "pop rdx",
    "pop rsi",
    "pop rdi",
    "pop rbp",
    "mov r11, [rsp]",           // Linux leaves RFLAGS in r11
    "popfq",
    "pop rcx",                  // and the return RIP in rcx
    "lea rsp, [rsp + 128]",
    "jmp rcx",
    ".size __unikernel_syscall_entry, . - __unikernel_syscall_entry",
    ".popsection",
);

unsafe extern "C" {
    static __unikernel_syscall_entry: u8;
    /// The kernel's dispatcher (`unikernel-kernel`).
    fn __unikernel_syscall(nr: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize;
}

/// Keeps the dispatcher alive through whole-program optimisation: the entry above is
/// module-level assembly, whose references LLVM does not see.
#[used]
static KEEP_DISPATCHER: unsafe extern "C" fn(usize, usize, usize, usize, usize, usize, usize) -> isize =
    __unikernel_syscall;

const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;
/// Cleared on entry: TF, IF, DF (the C ABI wants it clear), NT, AC.
const FMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14) | (1 << 18);

/// Points `LSTAR` at the entry. `EFER.SCE` was set by the PVH entry.
pub(crate) fn init() {
    let entry = (&raw const __unikernel_syscall_entry) as u64;
    // SAFETY: STAR[47:32] is the ring-0 code selector (SYSCALL loads SS from +8, our
    // data selector); LSTAR is the entry above, which preserves the ABI; FMASK only
    // clears flags on entry. SYSRET, which would use STAR[63:48], is never executed.
    unsafe {
        Msr::new(IA32_STAR).write(u64::from(KERNEL_CODE.0) << 32);
        Msr::new(IA32_LSTAR).write(entry);
        Msr::new(IA32_FMASK).write(FMASK);
    }
}
