//! The IDT and the crash report for CPU exceptions.
//!
//! Every one of the 32 architectural exception vectors gets a handler. Nothing is
//! recoverable yet (no demand paging, no signal delivery), so a handler prints what
//! happened (vector, error code, RIP, CR2, registers, and which stack a guard-page hit
//! belongs to) and stops the machine with [`EXIT_CPU_EXCEPTION`] instead of hanging.
//!
//! Each vector has a 16-byte assembly stub that pushes a zero error code where the CPU
//! pushes none (SDM Vol. 3A, Table 6-1), then the vector number, and jumps to a common
//! path that saves the general registers and calls [`exception_report`]. All vectors
//! run on IST stacks (gdt.rs).

use core::arch::global_asm;

use spin::Once;
use x86_64::registers::control::Cr2;
use x86_64::structures::DescriptorTablePointer;
use x86_64::VirtAddr;

use crate::exit::{exit, EXIT_CPU_EXCEPTION};
use crate::gdt::{self, KERNEL_CODE};
use crate::{apic, console, paging, stacks};

global_asm!(
    ".pushsection .text.unikernel_exceptions, \"ax\", @progbits",
    ".p2align 4",
    "__unikernel_exception_stubs:",
    ".p2align 4",
    "push 0",
    "push 0",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 1",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 2",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 3",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 4",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 5",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 6",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 7",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 8",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 9",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 10",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 11",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 12",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 13",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 14",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 15",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 16",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 17",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 18",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 19",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 20",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 21",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 22",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 23",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 24",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 25",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 26",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 27",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 28",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 29",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 30",
    "jmp __unikernel_exception_common",
    ".p2align 4",
    "push 0",
    "push 31",
    "jmp __unikernel_exception_common",
    "__unikernel_exception_common:",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {report}",
    "ud2",
    ".popsection",
    report = sym exception_report,
);

unsafe extern "C" {
    /// Start of the 32 stubs above, 16 bytes apart.
    static __unikernel_exception_stubs: [u8; 32 * 16];
}

/// Keeps the report alive through whole-program optimisation (it is only referenced
/// from module-level assembly).
#[used]
static KEEP_REPORT: extern "C" fn(&ExceptionFrame) -> ! = exception_report;

/// What the stubs and the CPU left on the IST stack, lowest address first.
#[repr(C)]
struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
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
    const MISSING: Gate =
        Gate { offset_low: 0, selector: 0, ist: 0, type_attr: 0, offset_mid: 0, offset_high: 0, reserved: 0 };

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

/// Installs the IDT: the 32 exception vectors, the APIC timer and spurious vectors.
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

const NAMES: [&str; 32] = [
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
    "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack-segment fault", "#GP general protection", "#PF page fault", "reserved 15",
    "#MF x87 floating-point", "#AC alignment check", "#MC machine check",
    "#XM SIMD floating-point", "#VE virtualization", "#CP control protection",
    "reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26", "reserved 27",
    "#HV hypervisor injection", "#VC VMM communication", "#SX security", "reserved 31",
];

/// Called by the common stub with the saved frame; never returns.
extern "C" fn exception_report(frame: &ExceptionFrame) -> ! {
    let vector = frame.vector as usize;
    let name = NAMES.get(vector).copied().unwrap_or("unknown");
    console::print(format_args!(
        "\nunikernel: CPU exception {name} (vector {vector}), error code {:#x}\n",
        frame.error_code
    ));
    console::print(format_args!(
        "  rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}\n",
        frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss
    ));
    if vector == 14 {
        let cr2 = Cr2::read_raw();
        let code = frame.error_code;
        console::print(format_args!(
            "  cr2 {cr2:#018x}: {} {}{}{}\n",
            if code & 1 != 0 { "protection violation on" } else { "not-present page on" },
            if code & 0x10 != 0 {
                "instruction fetch"
            } else if code & 2 != 0 {
                "write"
            } else {
                "read"
            },
            if code & 8 != 0 { ", reserved bit set" } else { "" },
            if code & 0x20 != 0 { ", protection key" } else { "" },
        ));
        report_guard_page(cr2 as usize);
    }
    console::print(format_args!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}\n  rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}\n  r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}\n  r13 {:#018x} r14 {:#018x} r15 {:#018x}\n",
        frame.rax, frame.rbx, frame.rcx, frame.rdx, frame.rsi, frame.rdi, frame.rbp, frame.r8,
        frame.r9, frame.r10, frame.r11, frame.r12, frame.r13, frame.r14, frame.r15
    ));
    exit(EXIT_CPU_EXCEPTION)
}

/// Names the stack whose guard page `address` falls in, if any.
fn report_guard_page(address: usize) {
    let page = address & !(crate::PAGE_SIZE - 1);
    for (guard, stack) in stacks::guard_pages() {
        if guard == page {
            console::print(format_args!("  guard page of the kernel's {stack}: stack overflow\n"));
            return;
        }
    }
    if let Some(name) = paging::guard_page_owner(page) {
        console::print(format_args!("  guard page of the {name}: stack overflow\n"));
    } else if page == 0 {
        console::print(format_args!("  null pointer dereference\n"));
    }
}
