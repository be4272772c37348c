//! `unikernel-shim`: the glibc ABI that Rust's std (x86_64-unknown-linux-gnu) and
//! common crates link against, implemented on raw Linux system calls only.
//!
//! Hosted, it is a static libc for a whole-program executable; in a unikernel
//! image the pass rewrites its `syscall` instructions into direct kernel calls.
//! The crate is built as LLVM bitcode and merged with the program; it defines no
//! panic handler, allocator or lang item (std brings those).
//!
//! Layout by family: `start` (entry, auxv), `tls` (static TLS, thread control
//! block), `syscall` (the only syscall door), `errno`, `malloc`, `mman`,
//! `pthread`, `fs`, `net`, `event`, `time`, `env`, `process`, `signal`, `string`,
//! `strerror`,
//! `math`, `dl`, `exit`, `unwind`.
//!
//! A libc function the program needs and the shim lacks is a link error naming
//! it: nothing here pretends to work.
#![no_std]

pub mod dl;
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
pub mod pthread;
pub mod signal;
pub mod start;
pub mod strerror;
pub mod string;
pub mod syscall;
pub mod time;
pub mod tls;
pub mod unwind;
