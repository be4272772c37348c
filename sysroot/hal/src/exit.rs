//! Stopping the machine with an exit status, through QEMU's `isa-debug-exit` device
//! (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
//!
//! Writing `v` to port 0xf4 makes QEMU exit with status `(v << 1) | 1`; the runner maps
//! it back with `(status - 1) / 2`. Only 8 bits survive as a process status, so codes
//! above 127 arrive truncated (`((v << 1) | 1) & 0xff`). The kernel's own failures use
//! the codes below (all under 128, unlike Linux's 128+signal).

use x86_64::instructions::port::Port;

/// A CPU exception (page fault, invalid opcode, ...) stopped the program.
pub const EXIT_CPU_EXCEPTION: u8 = 126;
/// The single thread waited on a futex that nothing can ever wake.
pub const EXIT_DEADLOCK: u8 = 125;
/// The hardware bring-up or the kernel's boot flow failed.
pub const EXIT_BOOT_FAILURE: u8 = 124;

const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Stops the machine; the VMM reports `code` as described in the module docs.
pub fn exit(code: u8) -> ! {
    // SAFETY: port 0xf4 is the isa-debug-exit device; on machines without it the write
    // is ignored (no memory effects).
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(u32::from(code)) };
    crate::console::print(format_args!(
        "unikernel: no isa-debug-exit device; halted with exit code {code}\n"
    ));
    crate::cpu::halt_forever()
}
