//! Test-only stand-in for std + the libc shim, to boot the kernel on its own.
//!
//! It provides what the real program would: `__unikernel_libc_start`, a panic handler,
//! `mem*` functions and the unwinding symbols the prebuilt `core` refers to. The
//! scenario is chosen by `argv[1]` (kernel command line `-- SCENARIO`); `cargo-unikernel/tests/kernel.rs`
//! builds it with the kernel as the tool builds an image, boots each scenario in QEMU
//! and checks the console output and the exit status.
//!
//! | scenario         | expected                                                |
//! |------------------|---------------------------------------------------------|
//! | `hello` (default)| direct calls into syscall entries; exit_group(3)        |
//! | `trap`           | raw `syscall` instructions through LSTAR; exit_group(4) |
//! | `null`           | read of address 0: #PF report, killed by SIGSEGV (139)   |
//! | `write-text`     | write to code: #PF (W^X), killed by SIGSEGV (139)        |
//! | `exec-data`      | jump into the stack: #PF (NX), killed by SIGSEGV (139)   |
//! | `stack-overflow` | unbounded recursion: guard page #PF, SIGSEGV (139)       |
//! | `deadlock`       | futex wait with no waker: EXIT_DEADLOCK                 |
//! | `threads`        | stub convention; clone via syscall and stub; exit_group(5) |
//! | `preempt`        | a spinning thread is preempted; a sleeper wakes; exit_group(6) |
#![no_std]
#![allow(clippy::missing_safety_doc, reason = "test-only runtime")]

mod heap;
mod runtime;
mod scenarios;
mod threads;

// The kernel is reached through its exported C symbols, like the real program does;
// this keeps it in the dependency graph so cargo builds it.
extern crate unikernel_kernel;
