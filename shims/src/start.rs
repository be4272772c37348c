//! Process start: `_start` (hosted) and `__unikernel_libc_start` (both modes).
//!
//! `__unikernel_libc_start` receives the System V initial process stack (psABI
//! x86_64, 3.4.1: `argc`, `argv[]`, NULL, `envp[]`, NULL, auxv pairs, `AT_NULL`),
//! records the auxiliary vector, sets up the main thread's static TLS and control
//! block, runs `.init_array` with `(argc, argv, envp)` (std captures its arguments
//! there), calls `main` and `exit`s with its result.

use core::ffi::{c_char, c_int};

use crate::{auxv, env, exit, pthread};

type InitFn = unsafe extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char);

unsafe extern "C" {
    /// The program's C `main` (std generates it for a Rust `fn main`).
    fn main(argc: c_int, argv: *mut *mut c_char, envp: *mut *mut c_char) -> c_int;
    /// Bounds of `.init_array`, defined by the linker (lld defines them whenever
    /// they are referenced; a linker script for the image must `PROVIDE` them).
    static __init_array_start: [InitFn; 0];
    static __init_array_end: [InitFn; 0];
}

/// Hosted entry point: the kernel jumps here with `rsp` at the initial stack.
///
/// # Safety
/// Only the kernel (ELF entry) may jump here.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start() -> ! {
    // rbp = 0 ends frame-pointer walks (psABI 3.4.1); the call leaves the stack at
    // 16n + 8 on entry to the callee, as the ABI requires.
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {start}",
        "ud2",
        start = sym __unikernel_libc_start,
    )
}

/// Sets up the C runtime on the initial process stack at `sp` and runs `main`.
///
/// # Safety
/// `sp` must point at a System V initial process stack that stays valid (and is
/// the current stack) for the life of the process. Must be called exactly once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __unikernel_libc_start(sp: *const usize) -> ! {
    // SAFETY: the caller guarantees the initial stack layout: argc, then argc argv
    // pointers and a NULL, then envp pointers and a NULL, then the auxv; the stack
    // lives for the process.
    let (argc, argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *mut *mut c_char;
        let envp = argv.add(argc + 1);
        let mut end = envp;
        while !(*end).is_null() {
            end = end.add(1);
        }
        auxv::record(sp, end.add(1).cast());
        (argc, argv, envp)
    };
    crate::vdso::init();
    let argc = c_int::try_from(argc).unwrap_or(c_int::MAX);
    // SAFETY: `envp` is the NULL-terminated environment of the initial stack.
    unsafe { env::init(envp) };
    // SAFETY: called once, first thing, on the main thread.
    if unsafe { pthread::init_main_thread() }.is_err() {
        // No thread pointer, hence no errno to report through: give up quietly.
        exit::exit_now(127)
    }
    // SAFETY: the linker-provided bounds delimit an array of init functions that
    // expect (argc, argv, envp).
    unsafe {
        let mut f = (&raw const __init_array_start).cast::<InitFn>();
        let end = (&raw const __init_array_end).cast::<InitFn>();
        while f < end {
            (*f)(argc, argv, envp);
            f = f.add(1);
        }
    }
    // SAFETY: `main` is the program's entry with the C signature.
    let status = unsafe { main(argc, argv, envp) };
    exit::exit(status)
}
