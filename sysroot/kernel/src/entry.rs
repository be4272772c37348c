//! The kernel's entries from the hardware layer: the boot flow and the preemption
//! point.
// `#[unsafe(no_mangle)]` is the only "unsafe" here: the symbols are declared by the hal.
#![allow(unsafe_code)]

use unikernel_hal::BootInfo;

/// Called by `unikernel-hal` once the CPU tables, page tables and console are up.
#[unsafe(no_mangle)]
pub fn __unikernel_kernel_main(boot: BootInfo) -> ! {
    crate::boot::run(boot)
}

/// Called by the hal's timer interrupt on the interrupted thread's stack (interrupts
/// disabled): the preemption point.
#[unsafe(no_mangle)]
pub fn __unikernel_preempt() {
    crate::sched::preempt()
}
