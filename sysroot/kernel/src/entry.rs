//! The kernel's entry from the hardware layer.
// `#[unsafe(no_mangle)]` is the only "unsafe" here: the symbol is declared by the hal.
#![allow(unsafe_code)]

use unikernel_hal::BootInfo;

/// Called by `unikernel-hal` once the CPU tables, page tables and console are up.
#[unsafe(no_mangle)]
pub fn __unikernel_kernel_main(boot: BootInfo) -> ! {
    crate::boot::run(boot)
}
