//! `unikernel-shim`: the glibc ABI that Rust's std (x86_64-unknown-linux-gnu) and
//! common crates link against, implemented on raw Linux system calls only.
//!
//! Hosted, it is a static libc for a whole-program executable; in a unikernel
//! image the pass rewrites its `syscall` instructions into direct kernel calls.
//! The crate is built as LLVM bitcode and merged with the program; it defines no
//! panic handler, allocator or lang item (std brings those).
//!
//! Modules are layered; a module uses only modules of lower layers (or, within
//! its layer, ones listed before it), so no two modules depend on each other:
//!
//! 1. Leaves, on `core` only or on each other in this order: `tcb` (the thread
//!    control block header the thread pointer points at), `errno` (the error type
//!    and the C `errno` in the `tcb`), `syscall` (the only syscall door), `lock`
//!    (futex mutex), `elf` (program header types), `auxv` (auxiliary vector, page
//!    size), `math`, `unwind`.
//! 2. Services: `mman`, `malloc`, `string`, `strerror`, `env`, `tls` (static TLS
//!    layout), `dl`, `fs` (whose `fd` also supplies the C-int to syscall-argument
//!    helper), `time`, `process`, `event`, `net`.
//!    `profile` (feature `profile`) writes LLVM's raw profile at the end.
//! 3. `pthread` (thread descriptor, creation, keys, thread-local destructors),
//!    then `exit` (runs the exiting thread's destructors) and `signal` (`abort`
//!    ends the process through `exit`).
//! 4. `start`: the entry point that sets up the others and calls `main`.
//!
//! A libc function the program needs and the shim lacks is a link error naming
//! it: nothing here pretends to work.
#![no_std]

pub mod auxv;
pub mod dl;
pub mod elf;
pub mod env;
pub mod errno;
pub mod event;
pub mod exit;
pub mod fs;
pub mod lock;
pub mod malloc;
pub mod math;
pub mod mman;
pub mod net;
pub mod process;
#[cfg(feature = "profile")]
pub mod profile;
pub mod pthread;
pub mod signal;
pub mod spawn;
pub mod start;
pub mod strerror;
pub mod string;
pub mod syscall;
pub mod tcb;
pub mod time;
pub mod tls;
pub mod unwind;
pub mod vdso;
