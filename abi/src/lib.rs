//! The Linux ABI as the three parts of cargo-unikernel see it, written down once.
//!
//! The kernel (`sysroot/`) implements Linux system calls under their x86-64 numbers,
//! the libc shim (`shims/`) issues them, and the pass (`pass/`) turns each constant
//! number into the name of a kernel entry (`__unikernel_sys_NAME`). All three read the
//! facts here instead of keeping copies that could drift apart:
//!
//! - [`syscall`]: every x86-64 system call, its number, name and whether it needs the
//!   caller's register frame ([`for_each_syscall!`] is the list);
//! - [`errno`]: every Linux error number with its name and glibc's message
//!   ([`for_each_errno!`] is the list).
//!
//! Each list is one `macro_rules!` macro that hands its entries to a callback macro:
//! this crate expands it into types, constants and lookups, and the kernel expands the
//! syscall list a second time into its C-ABI entries (`sysroot/kernel/src/syscall/
//! table.rs`), so adding a system call means one line here and one handler there.
//!
//! The crate has no dependencies and no `unsafe`: it is `no_std` so the kernel and the
//! shim can link it into the image, and it holds only constants and pure functions.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod errno;
pub mod syscall;

pub use errno::Errno;
pub use syscall::Sysno;
