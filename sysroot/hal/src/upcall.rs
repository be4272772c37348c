//! Calls from the kernel into application code: running a signal handler.
//!
//! A signal for a thread is delivered when the thread next leaves the kernel (see the
//! kernel's `signal::deliver`). Most system calls are plain C calls into the kernel
//! (the build pass rewrote them), with no register frame to redirect; so instead of
//! returning into the handler, the kernel *calls* it, as a nested function call, from
//! the end of the system call (or of the timer interrupt's preemption point), and then
//! returns the system call's result (or resumes the interrupted code) as usual. This
//! module is that call: it copies the Linux signal frame the kernel built onto the
//! stack the handler runs on, switches to it, enables interrupts (the handler is
//! application code: preemptible), calls `handler(sig, &siginfo, &ucontext)`, and on
//! its return disables interrupts, switches back and copies the frame back (the
//! handler may change the ucontext's signal mask, which the kernel then restores).
//!
//! The frame's first word is Linux's `pretcode` slot: the `call` stores the return
//! address into the trampoline there, so the handler starts exactly as on Linux
//! (`rsp` = frame, `rsp + 8` 16-byte aligned) but returns here rather than into its
//! restorer and `rt_sigreturn`.

use core::arch::asm;

/// Where the frame goes and where the handler's arguments are in it.
#[derive(Clone, Copy, Debug)]
pub struct HandlerFrame {
    /// Address of the frame on the handler's stack: `address + 8` 16-byte aligned;
    /// the caller checked that the frame's bytes there are writable application
    /// memory and, on the current stack, far enough below this call's own frames.
    pub address: u64,
    /// Offset of the `siginfo_t` in the frame (the handler's second argument).
    pub info_offset: usize,
    /// Offset of the `ucontext_t` (the third argument).
    pub context_offset: usize,
}

/// The current stack pointer (the kernel checks that the frame will fit below it).
pub fn stack_pointer() -> u64 {
    let sp: u64;
    // SAFETY: reads rsp only.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Runs the signal handler at `handler` for signal `sig` on a copy of `frame` (see the
/// module docs), with interrupts enabled; returns when the handler returns, with
/// interrupts disabled again and `frame` holding what the handler left in its copy.
/// Must be called with interrupts disabled and no kernel lock held: the handler may be
/// preempted and may make system calls.
pub fn call_signal_handler(handler: u64, sig: usize, frame: &mut [u8], at: HandlerFrame) {
    debug_assert!(!crate::irq::enabled());
    debug_assert!(at.address % 16 == 8);
    debug_assert!(at.info_offset < frame.len() && at.context_offset < frame.len());
    // SAFETY: `handler` is the application's own function, installed by it with
    // `rt_sigaction` for exactly this call (as on Linux, the kernel trusts the address
    // the application gave; a bad one faults in application code and raises SIGSEGV
    // there). The frame goes to memory the caller checked (see `HandlerFrame`), which
    // nothing else uses while interrupts are disabled; `frame` is our own buffer of
    // `frame.len()` bytes. Every register the handler may change is an operand or in
    // the C ABI's clobber list; r12 keeps our stack pointer across the call
    // (callee-saved). The handler returns with DF clear (C ABI); interrupts end
    // disabled, as on entry.
    unsafe {
        asm!(
            "mov r12, rsp",
            "mov rdi, r15",
            "mov rsi, r13",
            "mov rcx, r14",
            "cld",
            "rep movsb",
            "lea rsp, [r15 + 8]",       // the call stores its return address at the frame
            "mov rdi, r8",
            "lea rsi, [r15 + r9]",
            "lea rdx, [r15 + r10]",
            "xor eax, eax",             // no vector registers in use (varargs convention)
            "sti",
            "call r11",
            "cli",
            "mov rsp, r12",
            "mov rsi, r15",
            "mov rdi, r13",
            "mov rcx, r14",
            "cld",
            "rep movsb",
            in("r11") handler,
            in("r8") sig,
            in("r9") at.info_offset,
            in("r10") at.context_offset,
            inout("r12") 0u64 => _,
            inout("r13") frame.as_mut_ptr() => _,
            inout("r14") frame.len() => _,
            inout("r15") at.address => _,
            clobber_abi("C"),
        );
    }
}
