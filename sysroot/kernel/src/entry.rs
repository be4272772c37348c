//! The kernel's entries from the hardware layer: the boot flow and the preemption
//! point.
// `#[unsafe(no_mangle)]` is the only "unsafe" here: the symbols are declared by the hal.
#![allow(unsafe_code)]

use unikernel_hal::{BootInfo, SyscallFrame};

/// Called by `unikernel-hal` once the CPU tables, page tables and console are up.
#[unsafe(no_mangle)]
pub fn __unikernel_kernel_main(boot: BootInfo) -> ! {
    crate::boot::run(boot)
}

/// Called by the hal's timer interrupt on the interrupted thread's stack (interrupts
/// disabled), with the interrupted context in `frame`: the preemption point. When the
/// thread runs again, the handlers of the signals sent to it meanwhile run before it
/// resumes (a thread running application code is never the one sending: one CPU).
#[unsafe(no_mangle)]
pub fn __unikernel_preempt(frame: &mut SyscallFrame) {
    crate::sampler::sample(frame);
    crate::sched::preempt();
    crate::signal::deliver(Some(frame));
}
