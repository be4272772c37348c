//! The cargo-unikernel kernel: boot flow, memory, and Linux system calls.
//!
//! This crate holds no `unsafe` code (`#![deny(unsafe_code)]`; the one exception is
//! the `#[unsafe(no_mangle)]`/`export_name` attributes of the exported C symbols, in
//! `entry.rs` and `syscall/table.rs`). Hardware access goes through `unikernel-hal`.
//!
//! It is a `no_std` rlib for `x86_64-unknown-linux-gnu`, merged as LLVM bitcode with
//! the application, std and the libc shim into one module; so it defines no panic
//! handler, allocator or lang item (std brings them). It does use `alloc` (the VFS):
//! those allocations go to the program's global allocator, std's, i.e. the shim's
//! malloc. It exports:
//!
//! - `__unikernel_kernel_main(BootInfo) -> !` (called by the hal after bring-up);
//! - `__unikernel_sys_NAME(a0..a5) -> isize` for each implemented system call, and the
//!   dispatcher `__unikernel_syscall(nr, a0..a5) -> isize` (see `syscall`);
//!
//! and needs `__unikernel_libc_start(sp) -> !` from the libc shim.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

mod boot;
pub mod cmdline;
pub mod crash;
mod entry;
pub mod errno;
pub mod export;
mod log;
pub mod memory;
pub mod net;
pub mod process;
#[cfg(feature = "profile")]
pub mod profile;
pub mod random;
pub mod sampler;
pub mod sched;
pub mod signal;
pub mod syscall;
pub mod time;
pub mod vfs;
