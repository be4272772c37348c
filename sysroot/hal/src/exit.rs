//! Stopping the machine with an exit status.
//!
//! Two QEMU devices carry it. `isa-debug-exit` (`-device
//! isa-debug-exit,iobase=0xf4,iosize=0x04`) is the trigger: writing `v` to port 0xf4
//! makes QEMU exit with status `(v << 1) | 1`, of which a process status keeps 8 bits,
//! so only codes below 128 survive it. Just before that write the kernel prints the
//! whole 8-bit status as one line, `unikernel-exit-status N\n`, on the `isa-debugcon`
//! port 0xe9 (`-device isa-debugcon,iobase=0xe9,chardev=...`, a file the runner reads
//! back), so codes ≥ 128 (Linux's 128 + signal) arrive intact. A VMM without the
//! debug console ignores the port.
//!
//! The kernel's own failures use the codes below.

use core::fmt::Write;

use x86_64::instructions::port::Port;

/// A CPU exception in kernel code stopped the program (one in application code ends
/// it like the signal it raises on Linux: 128 + signal).
pub const EXIT_CPU_EXCEPTION: u8 = 126;
/// The single thread waited on a futex that nothing can ever wake.
pub const EXIT_DEADLOCK: u8 = 125;
/// The hardware bring-up or the kernel's boot flow failed.
pub const EXIT_BOOT_FAILURE: u8 = 124;
/// Too little RAM to boot: the VMM put the boot module over the image, or what is left
/// after the image cannot hold the main thread's stack.
pub const EXIT_OUT_OF_MEMORY: u8 = 123;

const DEBUG_EXIT_PORT: u16 = 0xf4;
const DEBUGCON_PORT: u16 = 0xe9;

/// Writes bytes to the debug console (one `out` per byte, as the device takes them).
struct DebugCon;

impl Write for DebugCon {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for byte in s.bytes() {
            // SAFETY: port 0xe9 is QEMU's isa-debugcon; where there is none the write
            // goes nowhere (no memory effects).
            unsafe { Port::<u8>::new(DEBUGCON_PORT).write(byte) };
        }
        Ok(())
    }
}

/// Stops the machine; the VMM reports `code` as described in the module docs.
pub fn exit(code: u8) -> ! {
    let _ = writeln!(DebugCon, "unikernel-exit-status {code}");
    // SAFETY: port 0xf4 is the isa-debug-exit device; on machines without it the write
    // is ignored (no memory effects).
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(u32::from(code)) };
    crate::console::print(format_args!(
        "unikernel: no isa-debug-exit device; halted with exit code {code}\n"
    ));
    crate::cpu::halt_forever()
}
