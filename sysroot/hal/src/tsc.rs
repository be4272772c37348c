//! The time-stamp counter and its frequency.
//!
//! The frequency comes from CPUID where the CPU or hypervisor states it (leaf 0x15 with
//! a crystal frequency, the hypervisor timing leaf 0x40000010, leaf 0x16), otherwise it
//! is measured against the PIT (8254, 1.193182 MHz) channel 0 in mode 0, read back with
//! latch commands; that needs no speaker gate (port 0x61), which microvm lacks.

use core::arch::x86_64::_rdtsc;

use x86_64::instructions::port::Port;

use crate::cpu::{cpuid, max_basic_leaf};

/// The PIT's input clock.
const PIT_HZ: u64 = 1_193_182;

/// Reads the TSC.
pub fn read() -> u64 {
    // SAFETY: RDTSC is available on every x86-64 CPU and only reads the counter.
    unsafe { _rdtsc() }
}

/// Where a TSC frequency came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrequencySource {
    /// CPUID leaf 0x15 (TSC/crystal ratio and crystal frequency).
    CpuidTscLeaf,
    /// Hypervisor timing leaf 0x40000010 (KVM, VMware).
    HypervisorLeaf,
    /// CPUID leaf 0x16 (processor base frequency).
    CpuidBaseFrequency,
    /// Measured against the PIT.
    Pit,
}

/// The frequency stated by CPUID, if any.
pub fn frequency_from_cpuid() -> Option<(u64, FrequencySource)> {
    let max = max_basic_leaf();
    if max >= 0x15 {
        let leaf = cpuid(0x15, 0);
        if leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0 {
            let hz = u64::from(leaf.ecx) * u64::from(leaf.ebx) / u64::from(leaf.eax);
            return Some((hz, FrequencySource::CpuidTscLeaf));
        }
    }
    // CPUID.1:ECX bit 31: running under a hypervisor.
    if cpuid(1, 0).ecx & (1 << 31) != 0 && cpuid(0x4000_0000, 0).eax >= 0x4000_0010 {
        let khz = cpuid(0x4000_0010, 0).eax;
        if khz != 0 {
            return Some((u64::from(khz) * 1000, FrequencySource::HypervisorLeaf));
        }
    }
    if max >= 0x16 {
        let mhz = cpuid(0x16, 0).eax & 0xffff;
        if mhz != 0 {
            return Some((
                u64::from(mhz) * 1_000_000,
                FrequencySource::CpuidBaseFrequency,
            ));
        }
    }
    None
}

fn pit_write(port: u16, value: u8) {
    // SAFETY: ports 0x40 and 0x43 are the PIT's channel 0 data and mode registers; the
    // PIT's IRQ is not unmasked anywhere, so reprogramming channel 0 has no other effect.
    unsafe { Port::new(port).write(value) }
}

fn pit_read_channel0() -> u16 {
    pit_write(0x43, 0x00); // latch channel 0
    // SAFETY: reading the latched channel-0 count has no side effects beyond the latch.
    let (lo, hi): (u8, u8) = unsafe { (Port::new(0x40).read(), Port::new(0x40).read()) };
    u16::from(lo) | (u16::from(hi) << 8)
}

/// Measures the TSC frequency against the PIT over `micros` microseconds (at most
/// 50 000, the PIT's 16-bit range). `None` if the PIT does not count.
pub fn frequency_from_pit(micros: u32) -> Option<u64> {
    let window = (PIT_HZ * u64::from(micros.min(50_000)) / 1_000_000).max(1);
    // Channel 0, lobyte/hibyte access, mode 0 (count down once), binary; count 0xffff.
    pit_write(0x43, 0x30);
    pit_write(0x40, 0xff);
    pit_write(0x40, 0xff);
    let start_count = pit_read_channel0();
    let start_tsc = read();
    loop {
        let count = pit_read_channel0();
        let now = read();
        let elapsed = u64::from(start_count.wrapping_sub(count));
        if elapsed >= window {
            return Some((now - start_tsc) * PIT_HZ / elapsed);
        }
        // A PIT that does not move: give up after ~2^32 cycles (about a second).
        if now - start_tsc > (1 << 32) {
            return None;
        }
    }
}
