//! The interrupt descriptor table: a gate for each of the 32 exception vectors (the
//! stubs of [`super`]) and for the APIC timer and spurious vectors, each on its IST
//! stack.

use spin::Once;
use x86_64::VirtAddr;
use x86_64::structures::DescriptorTablePointer;

use crate::gdt::{self, KERNEL_CODE};
use crate::{apic, ioapic};

unsafe extern "C" {
    /// Start of the 32 exception stubs (module assembly of [`super`]), 16 bytes apart.
    static __unikernel_exception_stubs: [u8; 32 * 16];
}

/// An IDT gate descriptor (SDM Vol. 3A, Figure 6-8).
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    };

    /// A present ring-0 64-bit interrupt gate (type 0xe): interrupts stay off.
    fn interrupt(handler: u64, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: KERNEL_CODE.0,
            ist,
            type_attr: 0x8e,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt([Gate; 256]);

static IDT: Once<Idt> = Once::new();

fn ist_for(vector: usize) -> u8 {
    match vector {
        2 => gdt::IST_NMI,
        8 => gdt::IST_DOUBLE_FAULT,
        14 => gdt::IST_PAGE_FAULT,
        18 => gdt::IST_MACHINE_CHECK,
        _ => gdt::IST_OTHER,
    }
}

/// Installs the IDT: the 32 exception vectors, the APIC timer, device and spurious
/// vectors.
pub(crate) fn init() {
    let idt = IDT.call_once(|| {
        let stubs = (&raw const __unikernel_exception_stubs) as u64;
        let mut gates = [Gate::MISSING; 256];
        for (vector, gate) in gates.iter_mut().take(32).enumerate() {
            *gate = Gate::interrupt(stubs + 16 * vector as u64, ist_for(vector));
        }
        let (timer, spurious) = apic::handlers();
        gates[apic::TIMER_VECTOR] = Gate::interrupt(timer, gdt::IST_TIMER);
        gates[apic::SPURIOUS_VECTOR] = Gate::interrupt(spurious, gdt::IST_TIMER);
        gates[ioapic::DEVICE_VECTOR] = Gate::interrupt(ioapic::handler(), gdt::IST_TIMER);
        Idt(gates)
    });
    let pointer = DescriptorTablePointer {
        limit: (size_of::<Idt>() - 1) as u16,
        base: VirtAddr::from_ptr(idt),
    };
    // SAFETY: the IDT lives in a static for the rest of the program and every present
    // gate points at a stub above, with the kernel code selector and a valid IST slot.
    unsafe { x86_64::instructions::tables::lidt(&pointer) };
}
