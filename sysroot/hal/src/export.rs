//! The export channel's port: bytes from the guest to a file on the host.
//!
//! QEMU's `isa-debugcon` device on I/O port [`EXPORT_PORT`] (`-device
//! isa-debugcon,iobase=0xea,chardev=...` backed by `-chardev file`) appends every byte
//! written to the port to a host file. It carries whole files out of the guest (LLVM
//! profiles, sample buffers); the framing that keeps several files apart is the
//! kernel's (`unikernel-kernel`'s `export` module), this module only moves bytes. It is
//! a device of its own rather than the exit-status console on 0xe9, so binary data
//! never mixes with the status line. A VMM without the device ignores the port: the
//! bytes are lost, nothing else happens.

use x86_64::instructions::port::Port;

/// The I/O port of the export device (free on QEMU's microvm and pc machines).
pub const EXPORT_PORT: u16 = 0xea;

/// Writes `bytes` to the export device, in order.
pub fn write(bytes: &[u8]) {
    let mut port = Port::<u8>::new(EXPORT_PORT);
    for &byte in bytes {
        // SAFETY: port 0xea is the isa-debugcon export device or nothing; a write to
        // it has no effect on memory.
        unsafe { port.write(byte) };
    }
}
