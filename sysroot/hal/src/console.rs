//! Serial console on COM1 (a 16550 UART at I/O port 0x3f8), polled, no interrupts.
//!
//! It is what fd 1 and 2 write to and where crash reports go. Output is not locked:
//! the kernel is single-CPU with interrupts off, and a crash report must be able to
//! print even if it interrupted another write. `\n` becomes `\r\n` (the tty's `ONLCR`),
//! so a terminal on `-serial stdio` (raw mode) shows lines properly.

use core::fmt;

use x86_64::instructions::port::Port;

const COM1: u16 = 0x3f8;
/// Line status register bit: transmit holding register empty.
const LSR_THR_EMPTY: u8 = 0x20;

fn outb(port: u16, value: u8) {
    // SAFETY: only the COM1 UART's registers (0x3f8..0x3ff) are written through this
    // helper; UART register writes have no effect on memory.
    unsafe { Port::new(port).write(value) }
}

fn inb(port: u16) -> u8 {
    // SAFETY: as in `outb`: a UART register read has no effect on memory.
    unsafe { Port::new(port).read() }
}

/// Programs COM1 for 115200 baud, 8N1, FIFOs on, interrupts off.
pub(crate) fn init() {
    outb(COM1 + 1, 0x00); // IER: no interrupts
    outb(COM1 + 3, 0x80); // LCR: DLAB on to set the divisor
    outb(COM1, 0x01); // divisor 1 = 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); // 8 data bits, no parity, 1 stop bit, DLAB off
    outb(COM1 + 2, 0xc7); // FIFO on, cleared, 14-byte threshold
    outb(COM1 + 4, 0x03); // DTR | RTS, OUT2 off: no IRQ line
}

fn write_byte(byte: u8) {
    // A real UART drains at line speed; QEMU's is always ready. Bound the wait so a
    // missing UART (reads as 0xff = "empty") can never hang the kernel.
    for _ in 0..100_000 {
        if inb(COM1 + 5) & LSR_THR_EMPTY != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    outb(COM1, byte);
}

/// Writes raw bytes to the console.
pub fn write_bytes(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(b'\r');
        }
        write_byte(byte);
    }
}

/// The console as a `fmt::Write` sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints formatted text to the console.
pub fn print(args: fmt::Arguments<'_>) {
    // Console::write_str cannot fail.
    let _ = fmt::Write::write_fmt(&mut Console, args);
}
