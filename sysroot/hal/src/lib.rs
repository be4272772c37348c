//! Hardware layer of the cargo-unikernel kernel.
//!
//! Every line of `unsafe` code of the kernel lives in this crate; the kernel proper
//! (`unikernel-kernel`) is `#![deny(unsafe_code)]` and only sees the safe interfaces
//! below. The crate owns:
//!
//! - [`boot`]: the PVH entry (32-bit protected mode), the switch to long mode and the
//!   hand-over to the kernel's `__unikernel_kernel_main` with a [`BootInfo`];
//! - the CPU tables: GDT/TSS with IST stacks (`gdt`), the IDT and the crash reports of
//!   CPU exceptions (`exceptions`);
//! - [`paging`]: identity-mapped page tables with W^X for the image and guard pages;
//! - [`memory`]: ownership tokens for the RAM the kernel hands out; [`page_vec`]: a
//!   growable array in such RAM (the memory manager's records);
//! - [`uaccess`]: checked copies from and to memory named by system-call arguments;
//! - devices reached through port I/O: [`console`] (COM1), [`tsc`] calibration with the
//!   PIT, [`rtc`] (CMOS clock), [`exit`] (QEMU `isa-debug-exit`), [`export`] (files
//!   to the host over a QEMU `isa-debugcon`);
//! - [`cpu`]: small CPU services (random numbers, FS base, CPUID);
//! - `syscall_entry`: the register-frame entries of system calls ([`SyscallFrame`]):
//!   the `LSTAR` target for `syscall` instructions executed in ring 0 and
//!   `__unikernel_syscall_stub`, the same path reached by `call`;
//! - [`thread`]: thread contexts and the context switch; [`irq`]: interrupt masking
//!   and [`irq::IrqMutex`]; [`apic`]: the local APIC timer that wakes the idle loop;
//!   [`ioapic`]: a device's interrupt line;
//! - [`process`]: the jump onto the application's initial stack;
//! - [`upcall`]: calling the application's signal handlers from the kernel;
//! - [`virtio_net`]: the virtio-net device over virtio-mmio (`virtio-drivers`).
//!
//! The crate is compiled as a `no_std` rlib for `x86_64-unknown-linux-gnu` and ends up
//! in the same LLVM module as the application; it defines no panic handler, allocator
//! or lang item of its own.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

/// Assembly that saves the general registers after `rax`, `rbx` first and `r15` last
/// (so `r15` is lowest in memory): with a `push rax` before it, the layout of the
/// register part of [`SyscallFrame`] and of the exception frame.
macro_rules! push_registers_after_rax {
    () => {
        "push rbx\npush rcx\npush rdx\npush rsi\npush rdi\npush rbp\npush r8\npush r9\n\
         push r10\npush r11\npush r12\npush r13\npush r14\npush r15"
    };
}

/// Assembly that restores what `push rax` + [`push_registers_after_rax`] saved.
macro_rules! pop_registers {
    () => {
        "pop r15\npop r14\npop r13\npop r12\npop r11\npop r10\npop r9\npop r8\n\
         pop rbp\npop rdi\npop rsi\npop rdx\npop rcx\npop rbx\npop rax"
    };
}

pub mod apic;
pub mod boot;
pub mod console;
pub mod cpu;
pub mod exceptions;
pub mod exit;
pub mod export;
mod frame;
mod gdt;
pub mod image;
pub mod ioapic;
pub mod irq;
pub mod lock_order;
pub mod memory;
pub mod page_vec;
pub mod paging;
pub mod process;
mod pvh;
pub mod rtc;
mod stacks;
mod syscall_entry;
pub mod thread;
pub mod tsc;
pub mod uaccess;
pub mod upcall;
pub mod virtio_net;

pub use boot::BootInfo;
pub use syscall_entry::SyscallFrame;

/// Size of a base page.
pub const PAGE_SIZE: usize = 4096;
