//! Small CPU services: CPUID feature tests, hardware random numbers, the FS base
//! (the thread pointer of the application's TLS), halting.

use core::arch::asm;
use core::arch::x86_64::{__cpuid_count, CpuidResult};

use x86_64::VirtAddr;
use x86_64::registers::model_specific::FsBase;

/// CPUID leaf `leaf`, sub-leaf `sub_leaf`.
pub fn cpuid(leaf: u32, sub_leaf: u32) -> CpuidResult {
    __cpuid_count(leaf, sub_leaf)
}

/// Highest basic CPUID leaf.
pub fn max_basic_leaf() -> u32 {
    cpuid(0, 0).eax
}

/// The CPU has `RDRAND` (CPUID.1:ECX bit 30).
pub fn has_rdrand() -> bool {
    cpuid(1, 0).ecx & (1 << 30) != 0
}

/// The CPU has `RDSEED` (CPUID.(7,0):EBX bit 18).
pub fn has_rdseed() -> bool {
    max_basic_leaf() >= 7 && cpuid(7, 0).ebx & (1 << 18) != 0
}

/// One `RDRAND` draw; `None` if the instruction is absent or the DRNG is (briefly)
/// exhausted after the retries Intel recommends (SDM Vol. 1, 7.3.17.1: 10 tries).
pub fn rdrand64() -> Option<u64> {
    if !has_rdrand() {
        return None;
    }
    for _ in 0..10 {
        let value: u64;
        let ok: u8;
        // SAFETY: RDRAND exists (checked above); it only writes the named register and
        // the carry flag.
        unsafe {
            asm!("rdrand {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok,
                options(nomem, nostack));
        }
        if ok != 0 {
            return Some(value);
        }
    }
    None
}

/// One `RDSEED` draw (full-entropy seed); `None` if absent or exhausted.
pub fn rdseed64() -> Option<u64> {
    if !has_rdseed() {
        return None;
    }
    for _ in 0..100 {
        let value: u64;
        let ok: u8;
        // SAFETY: RDSEED exists (checked above); it only writes the named register and
        // the carry flag.
        unsafe {
            asm!("rdseed {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok,
                options(nomem, nostack));
        }
        if ok != 0 {
            return Some(value);
        }
        core::hint::spin_loop();
    }
    None
}

/// Sets the FS segment base (`IA32_FS_BASE`): the thread pointer of the x86-64 TLS ABI.
///
/// Returns `false` for a non-canonical address (Linux: `arch_prctl` fails with EPERM).
pub fn set_fs_base(base: u64) -> bool {
    match VirtAddr::try_new(base) {
        Ok(addr) => {
            FsBase::write(addr);
            true
        }
        Err(_) => false,
    }
}

/// The FS segment base.
pub fn fs_base() -> u64 {
    FsBase::read().as_u64()
}

/// Stops this CPU for good: interrupts off, `hlt` in a loop (an NMI would resume it).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli/hlt only stop the CPU; no memory effects.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
