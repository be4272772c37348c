//! The CMOS real-time clock (MC146818, ports 0x70/0x71), read once at boot for
//! `CLOCK_REALTIME`. Decoding (BCD, 12-hour mode, calendar) is the kernel's job: this
//! module only returns the registers.

use x86_64::instructions::port::Port;

/// The RTC registers as read, undecoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcRegisters {
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub day: u8,
    pub month: u8,
    pub year: u8,
    /// Register 0x32 (century on PC-compatible firmware; QEMU keeps it).
    pub century: u8,
    /// Status register B: bit 2 = binary (not BCD), bit 1 = 24-hour mode.
    pub status_b: u8,
}

fn read_register(index: u8) -> u8 {
    // SAFETY: port 0x70 selects a CMOS register (bit 7 = NMI disable, kept set: NMIs
    // stay masked while we touch the index) and 0x71 reads it; no memory effects.
    unsafe {
        Port::new(0x70).write(index | 0x80);
        Port::new(0x71).read()
    }
}

fn update_in_progress() -> bool {
    read_register(0x0a) & 0x80 != 0
}

fn snapshot() -> RtcRegisters {
    RtcRegisters {
        seconds: read_register(0x00),
        minutes: read_register(0x02),
        hours: read_register(0x04),
        day: read_register(0x07),
        month: read_register(0x08),
        year: read_register(0x09),
        century: read_register(0x32),
        status_b: read_register(0x0b),
    }
}

/// Reads the clock, retrying until two reads outside an update cycle agree.
/// `None` if there is no RTC (every register reads 0xff).
pub fn read() -> Option<RtcRegisters> {
    if read_register(0x0a) == 0xff && read_register(0x0b) == 0xff {
        return None;
    }
    for _ in 0..1000 {
        // An update cycle takes under 2 ms; bound the wait anyway.
        let mut spins = 0u32;
        while update_in_progress() && spins < 1_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
        let first = snapshot();
        let second = snapshot();
        if first == second {
            return Some(first);
        }
    }
    None
}
