//! The 64-bit GDT and the TSS with its interrupt stack table.
//!
//! Selectors match the boot GDT (boot.rs) and the `STAR` MSR (syscall_entry.rs):
//! 0x08 ring-0 code, 0x10 ring-0 data, 0x18 the TSS. Each exception class gets its own
//! IST stack (SDM Vol. 3A, 6.14.5), so a handler never runs on the interrupted stack:
//! that keeps faults on a broken stack (overflow into a guard page) reportable and
//! never touches the red zone of the interrupted code.

use spin::Once;
use x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::{PrivilegeLevel, VirtAddr};

use crate::stacks::{self, IST_COUNT};

/// IST slots (1-based, as the IDT's `ist` field counts them).
pub(crate) const IST_DOUBLE_FAULT: u8 = 1;
pub(crate) const IST_NMI: u8 = 2;
pub(crate) const IST_MACHINE_CHECK: u8 = 3;
pub(crate) const IST_PAGE_FAULT: u8 = 4;
pub(crate) const IST_OTHER: u8 = 5;
pub(crate) const IST_TIMER: u8 = 6;

pub(crate) const KERNEL_CODE: SegmentSelector = SegmentSelector::new(1, PrivilegeLevel::Ring0);
pub(crate) const KERNEL_DATA: SegmentSelector = SegmentSelector::new(2, PrivilegeLevel::Ring0);
const TSS_SELECTOR: SegmentSelector = SegmentSelector::new(3, PrivilegeLevel::Ring0);

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<GlobalDescriptorTable> = Once::new();

/// Loads the GDT, reloads the segment registers and loads the TSS.
pub(crate) fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        for index in 0..IST_COUNT {
            tss.interrupt_stack_table[index] = VirtAddr::new(stacks::ist_top(index) as u64);
        }
        tss
    });
    let gdt = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let code = gdt.append(Descriptor::kernel_code_segment());
        let data = gdt.append(Descriptor::kernel_data_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        debug_assert_eq!((code, data, tss), (KERNEL_CODE, KERNEL_DATA, TSS_SELECTOR));
        gdt
    });
    gdt.load();
    // SAFETY: the GDT just loaded holds a 64-bit ring-0 code segment at KERNEL_CODE, a
    // data segment at KERNEL_DATA and an available TSS at TSS_SELECTOR; the GDT and
    // TSS live in statics for the rest of the program.
    unsafe {
        CS::set_reg(KERNEL_CODE);
        SS::set_reg(KERNEL_DATA);
        DS::set_reg(KERNEL_DATA);
        ES::set_reg(KERNEL_DATA);
        load_tss(TSS_SELECTOR);
    }
}
