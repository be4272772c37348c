//! The hal's own report of a CPU exception (when the kernel has no handler, or its
//! handler faulted): the vector's name, error code, RIP, CR2 decoded for a page fault,
//! the registers, and whose guard page a fault hit.

use x86_64::registers::control::Cr2;

use crate::exit::{EXIT_CPU_EXCEPTION, exit};
use crate::frame::{InterruptFrame, SavedRegisters};
use crate::stacks::StackName;
use crate::{console, paging, stacks};

/// The architectural exception vectors (SDM Vol. 3A, Table 6-1).
const NAMES: [&str; 32] = [
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack-segment fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 floating-point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating-point",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
];

/// The exception's name with its mnemonic, e.g. "#PF page fault".
pub fn name(vector: usize) -> &'static str {
    NAMES.get(vector).copied().unwrap_or("unknown")
}

/// The hal's own report: raw addresses, no symbols. Stops the machine.
pub fn raw_report(vector: u64, error_code: u64, iret: &InterruptFrame, regs: &SavedRegisters) -> ! {
    let vector = vector as usize;
    console::print(format_args!(
        "\nunikernel: CPU exception {} (vector {vector}), error code {error_code:#x}\n",
        name(vector)
    ));
    console::print(format_args!(
        "  rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}\n",
        iret.rip, iret.cs, iret.rflags, iret.rsp, iret.ss
    ));
    if vector == 14 {
        let cr2 = Cr2::read_raw();
        let code = error_code;
        console::print(format_args!(
            "  cr2 {cr2:#018x}: {} {}{}{}\n",
            if code & 1 != 0 {
                "protection violation on"
            } else {
                "not-present page on"
            },
            if code & 0x10 != 0 {
                "instruction fetch"
            } else if code & 2 != 0 {
                "write"
            } else {
                "read"
            },
            if code & 8 != 0 {
                ", reserved bit set"
            } else {
                ""
            },
            if code & 0x20 != 0 {
                ", protection key"
            } else {
                ""
            },
        ));
        report_guard_page(cr2 as usize);
    }
    print_registers(regs);
    exit(EXIT_CPU_EXCEPTION)
}

/// Prints the general registers.
pub fn print_registers(r: &SavedRegisters) {
    console::print(format_args!(
        "  rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}\n  rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}\n  r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}\n  r13 {:#018x} r14 {:#018x} r15 {:#018x}\n",
        r.rax,
        r.rbx,
        r.rcx,
        r.rdx,
        r.rsi,
        r.rdi,
        r.rbp,
        r.r8,
        r.r9,
        r.r10,
        r.r11,
        r.r12,
        r.r13,
        r.r14,
        r.r15
    ));
}

/// Names the stack whose guard page `address` falls in, if any.
fn report_guard_page(address: usize) {
    match guard_page_of(address) {
        Some(GuardPage::Kernel(stack)) => {
            console::print(format_args!(
                "  guard page of the kernel's {stack}: stack overflow\n"
            ));
        }
        Some(GuardPage::Registered(name)) => {
            console::print(format_args!("  guard page of the {name}: stack overflow\n"));
        }
        None if address < crate::PAGE_SIZE => {
            console::print(format_args!("  null pointer dereference\n"))
        }
        None => {}
    }
}

/// Whose guard page holds `address`.
#[derive(Clone, Copy, Debug)]
pub enum GuardPage {
    /// One of the kernel's own stacks (boot, idle, interrupt).
    Kernel(KernelStack),
    /// A stack the kernel allocated, by the name it was registered under (e.g. "main
    /// thread's stack").
    Registered(&'static str),
}

impl core::fmt::Display for GuardPage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GuardPage::Kernel(stack) => write!(f, "the kernel's {stack}"),
            GuardPage::Registered(name) => write!(f, "the {name}"),
        }
    }
}

/// Whose guard page holds `address`, if any.
pub fn guard_page_of(address: usize) -> Option<GuardPage> {
    let page = address & !(crate::PAGE_SIZE - 1);
    if let Some((_, stack)) = stacks::guard_pages().find(|&(guard, _)| guard == page) {
        return Some(GuardPage::Kernel(KernelStack(stack)));
    }
    paging::guard_page_owner(page).map(GuardPage::Registered)
}

/// One of the kernel's own stacks; displays as e.g. "interrupt stack 4".
#[derive(Clone, Copy, Debug)]
pub struct KernelStack(StackName);

impl core::fmt::Display for KernelStack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}
