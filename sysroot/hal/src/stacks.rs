//! The kernel's own stacks: the boot stack (on which the kernel's boot flow runs), the
//! idle thread's stack, and the interrupt stacks (IST) the CPU switches to on
//! exceptions and interrupts.
//!
//! Each stack has an unmapped guard page below it ([`paging::init`] removes it from the
//! page tables), so an overflow faults instead of silently overwriting its neighbour.
//! They live in their own `.bss` section so the linker script can keep them together.
//!
//! [`paging::init`]: crate::paging::init

use core::mem::offset_of;

use crate::PAGE_SIZE;

/// The boot stack: the kernel's boot flow and hardware bring-up.
pub(crate) const BOOT_STACK_SIZE: usize = 64 * 1024;
/// The idle thread: the scheduler's idle loop and deadlock reports.
pub(crate) const IDLE_STACK_SIZE: usize = 32 * 1024;
/// Each interrupt stack.
pub(crate) const IST_STACK_SIZE: usize = 16 * 1024;
/// Interrupt stacks: double fault, NMI, machine check, page fault, other exceptions,
/// the timer interrupt.
pub(crate) const IST_COUNT: usize = 6;

#[repr(C, align(4096))]
pub(crate) struct GuardedStack<const N: usize> {
    guard: [u8; PAGE_SIZE],
    stack: [u8; N],
}

#[repr(C, align(4096))]
pub(crate) struct Stacks {
    boot: GuardedStack<BOOT_STACK_SIZE>,
    idle: GuardedStack<IDLE_STACK_SIZE>,
    ist: [GuardedStack<IST_STACK_SIZE>; IST_COUNT],
}

const fn guarded<const N: usize>() -> GuardedStack<N> {
    GuardedStack {
        guard: [0; PAGE_SIZE],
        stack: [0; N],
    }
}

/// Only ever touched by the CPU (as stack memory) and through raw addresses.
#[unsafe(link_section = ".bss.unikernel_stacks")]
pub(crate) static mut STACKS: Stacks = Stacks {
    boot: guarded(),
    idle: guarded(),
    ist: [const { guarded() }; IST_COUNT],
};

/// Offset of the top of the boot stack from `STACKS` (used by the PVH entry).
pub(crate) const BOOT_STACK_TOP_OFFSET: usize =
    offset_of!(Stacks, boot) + PAGE_SIZE + BOOT_STACK_SIZE;

fn base() -> usize {
    (&raw const STACKS) as usize
}

fn ist_offset(index: usize) -> usize {
    offset_of!(Stacks, ist) + index * size_of::<GuardedStack<IST_STACK_SIZE>>()
}

/// Top (highest address, exclusive) of the idle thread's stack.
pub(crate) fn idle_top() -> usize {
    base() + offset_of!(Stacks, idle) + PAGE_SIZE + IDLE_STACK_SIZE
}

/// Top (highest address, exclusive) of interrupt stack `index` (0-based).
pub(crate) fn ist_top(index: usize) -> usize {
    base() + ist_offset(index) + PAGE_SIZE + IST_STACK_SIZE
}

/// What a guard page protects, for crash reports.
#[derive(Clone, Copy, Debug)]
pub(crate) enum StackName {
    Boot,
    Idle,
    Interrupt(usize),
}

impl core::fmt::Display for StackName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StackName::Boot => f.write_str("boot stack"),
            StackName::Idle => f.write_str("idle thread's stack"),
            StackName::Interrupt(index) => write!(f, "interrupt stack {}", index + 1),
        }
    }
}

/// Every guard page of the kernel's own stacks, with the stack it protects.
pub(crate) fn guard_pages() -> impl Iterator<Item = (usize, StackName)> {
    let boot = (base() + offset_of!(Stacks, boot), StackName::Boot);
    let idle = (base() + offset_of!(Stacks, idle), StackName::Idle);
    let ist = (0..IST_COUNT).map(|i| (base() + ist_offset(i), StackName::Interrupt(i)));
    [boot, idle].into_iter().chain(ist)
}
