//! The I/O APIC: one device interrupt line (a GSI, as microvm's command line names it
//! for a virtio-mmio device) routed to [`DEVICE_VECTOR`] on this CPU.
//!
//! The interrupt handler masks the line, notes it fired and acknowledges the local
//! APIC; the kernel's poll (which runs with interrupts disabled) sees the note
//! ([`DeviceLine::take`]), acknowledges the device, does its work and unmasks the line
//! ([`DeviceLine::unmask`]). Masking in the handler makes the line's trigger mode
//! irrelevant: a level-triggered line that is still asserted cannot storm, an edge
//! that arrives while masked is caught by the poll's re-check after unmasking. An
//! interrupt that arrives while a thread runs only leaves the note: the idle loop, or
//! the next socket call, does the work.
//!
//! The I/O APIC is at its architectural default address, 0xfec00000 (microvm's; the
//! kernel reads no ACPI or MP tables), checked through its version register.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crate::{apic, paging};

/// The vector device interrupts arrive on (the APIC timer's is 0x30).
pub(crate) const DEVICE_VECTOR: usize = 0x31;
/// The I/O APIC's default register base.
const IOAPIC_BASE: usize = 0xfec0_0000;
const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
const MASKED: u32 = 1 << 16;

/// The mapped register base; 0 until a line is routed.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// The register index of the routed line's redirection entry (low half).
static SELECT: AtomicU32 = AtomicU32::new(0);
/// The low half of that entry with the mask bit set (what the handler writes).
static MASKED_ENTRY: AtomicU32 = AtomicU32::new(0);
/// Set by the handler, cleared by [`DeviceLine::take`].
static FIRED: AtomicBool = AtomicBool::new(false);
static ROUTED: AtomicBool = AtomicBool::new(false);

// The device interrupt (interrupt gate, IST 6 like the timer: IF is clear, so the two
// never nest). Masks the line (IOREGSEL, then IOWIN), notes it fired, sends the local
// APIC its EOI and returns to whatever ran; RFLAGS comes back with `iretq`.
global_asm!(
    ".pushsection .text.unikernel_ioapic, \"ax\", @progbits",
    ".globl __unikernel_device_interrupt",
    ".p2align 4",
    "__unikernel_device_interrupt:",
    "push rax",
    "push rdx",
    "mov rax, qword ptr [rip + {base}]",
    "test rax, rax",
    "jz 2f",
    "mov edx, dword ptr [rip + {select}]",
    "mov dword ptr [rax], edx",
    "mov edx, dword ptr [rip + {masked}]",
    "mov dword ptr [rax + 0x10], edx",
    "2:",
    "mov byte ptr [rip + {fired}], 1",
    "mov rax, qword ptr [rip + {eoi}]",
    "mov dword ptr [rax], 0",
    "pop rdx",
    "pop rax",
    "iretq",
    ".popsection",
    base = sym BASE,
    select = sym SELECT,
    masked = sym MASKED_ENTRY,
    fired = sym FIRED,
    eoi = sym apic::EOI_ADDRESS,
);

unsafe extern "C" {
    static __unikernel_device_interrupt: u8;
}

/// The IDT entry point of [`DEVICE_VECTOR`].
pub(crate) fn handler() -> u64 {
    (&raw const __unikernel_device_interrupt) as u64
}

fn read(base: usize, reg: u32) -> u32 {
    // SAFETY: `base` is the I/O APIC's page, mapped uncached by `route_device`;
    // IOREGSEL (offset 0) selects the register IOWIN (offset 0x10) reads. Callers run
    // with interrupts disabled, so the handler cannot change IOREGSEL in between.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, reg);
        core::ptr::read_volatile((base + 0x10) as *const u32)
    }
}

fn write(base: usize, reg: u32, value: u32) {
    // SAFETY: as in `read`; the registers are device state, not memory.
    unsafe {
        core::ptr::write_volatile(base as *mut u32, reg);
        core::ptr::write_volatile((base + 0x10) as *mut u32, value);
    }
}

/// A device line routed to this CPU.
#[derive(Debug)]
pub struct DeviceLine {
    base: usize,
    select: u32,
    entry: u32,
}

/// Why a line could not be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// One line is routed already (the handler serves one).
    Busy,
    /// No local APIC, or the I/O APIC's page cannot be mapped.
    NoApic,
    /// The I/O APIC has no such input.
    NoSuchLine,
}

/// Routes interrupt line `gsi` to [`DEVICE_VECTOR`] on this CPU (fixed delivery,
/// physical destination, active high, edge), unmasked.
pub fn route_device(gsi: u32) -> Result<DeviceLine, RouteError> {
    let _irq = crate::irq::disable();
    if ROUTED.swap(true, Ordering::SeqCst) {
        return Err(RouteError::Busy);
    }
    let result = (|| {
        let apic_id = apic::local_id().ok_or(RouteError::NoApic)?;
        paging::map_device(IOAPIC_BASE, crate::PAGE_SIZE).map_err(|_| RouteError::NoApic)?;
        let entries = ((read(IOAPIC_BASE, REG_VERSION) >> 16) & 0xff) + 1;
        if gsi >= entries {
            return Err(RouteError::NoSuchLine);
        }
        let select = REG_REDIRECTION + 2 * gsi;
        let entry = DEVICE_VECTOR as u32;
        write(IOAPIC_BASE, select, entry | MASKED);
        write(IOAPIC_BASE, select + 1, apic_id << 24);
        SELECT.store(select, Ordering::SeqCst);
        MASKED_ENTRY.store(entry | MASKED, Ordering::SeqCst);
        BASE.store(IOAPIC_BASE, Ordering::SeqCst);
        let line = DeviceLine {
            base: IOAPIC_BASE,
            select,
            entry,
        };
        line.unmask();
        Ok(line)
    })();
    if result.is_err() {
        ROUTED.store(false, Ordering::SeqCst);
    }
    result
}

impl DeviceLine {
    /// Whether the line fired since the last call.
    pub fn take(&self) -> bool {
        FIRED.swap(false, Ordering::SeqCst)
    }

    /// Lets the line interrupt again (after the device was acknowledged).
    pub fn unmask(&self) {
        let _irq = crate::irq::disable();
        write(self.base, self.select, self.entry);
    }
}
