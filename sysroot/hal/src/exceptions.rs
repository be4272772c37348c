//! The IDT and what happens on a CPU exception.
//!
//! Every one of the 32 architectural exception vectors gets a handler. The kernel
//! registers a [`FaultHandler`] ([`set_fault_handler`]) that writes the crash report
//! (symbolized backtrace) and may deliver a signal by changing the saved registers and
//! asking to [`FaultAction::Resume`]. Without one, or when an exception hits while the
//! handler runs, the hal prints the raw report (vector, error code, RIP, CR2,
//! registers, and which stack a guard-page hit belongs to) and stops the machine with
//! [`EXIT_CPU_EXCEPTION`] instead of hanging.
//!
//! Each vector has a 16-byte assembly stub that pushes a zero error code where the CPU
//! pushes none (SDM Vol. 3A, Table 6-1), then the vector number, and jumps to a common
//! path that saves the general registers, calls [`exception_entry`] and, if that
//! returns, restores the (possibly changed) registers and `iretq`s. All vectors run on
//! IST stacks (gdt.rs), so a stack overflow reaches the handler instead of a double
//! fault.

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::control::Cr2;
use x86_64::structures::DescriptorTablePointer;

use crate::exit::{EXIT_CPU_EXCEPTION, exit};
pub use crate::frame::Registers;
use crate::frame::{InterruptFrame, SavedRegisters};
use crate::gdt::{self, KERNEL_CODE};
use crate::stacks::StackName;
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
    push_registers_after_rax!(),
    "mov rdi, rsp",
    "mov rbx, rsp",
    "and rsp, -16",
    "call {entry}",
    // Resume: rbx (callee-saved) still points at the frame.
    "mov rsp, rbx",
    pop_registers!(),
    // Vector and error code.
    "add rsp, 16",
    "iretq",
    ".popsection",
    entry = sym exception_entry,
);

unsafe extern "C" {
    /// Start of the 32 stubs above, 16 bytes apart.
    static __unikernel_exception_stubs: [u8; 32 * 16];
}

/// Keeps the entry alive through whole-program optimisation (it is only referenced
/// from module-level assembly).
#[used]
static KEEP_ENTRY: extern "C" fn(&mut ExceptionFrame) = exception_entry;

/// What the stubs and the CPU left on the IST stack, lowest address first.
#[repr(C)]
#[derive(Debug)]
struct ExceptionFrame {
    regs: SavedRegisters,
    vector: u64,
    error_code: u64,
    iret: InterruptFrame,
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

/// Called by the common stub with the saved frame; returning resumes at the frame's
/// (possibly changed) registers.
extern "C" fn exception_entry(frame: &mut ExceptionFrame) {
    let cr2 = Cr2::read_raw() as usize;
    if let Some(handler) = HANDLER.get()
        && !IN_HANDLER.swap(true, Ordering::Relaxed)
    {
        let action = handler(&mut Fault {
            frame: &mut *frame,
            cr2,
        });
        IN_HANDLER.store(false, Ordering::Relaxed);
        match action {
            FaultAction::Resume => return,
            FaultAction::Stop(code) => exit(code),
        }
    }
    if IN_HANDLER.load(Ordering::Relaxed) {
        console::print(format_args!(
            "\nunikernel: CPU exception while reporting a CPU exception\n"
        ));
    }
    exception_report(frame)
}

/// The hal's own report: raw addresses, no symbols.
fn exception_report(frame: &ExceptionFrame) -> ! {
    let vector = frame.vector as usize;
    let name = NAMES.get(vector).copied().unwrap_or("unknown");
    console::print(format_args!(
        "\nunikernel: CPU exception {name} (vector {vector}), error code {:#x}\n",
        frame.error_code
    ));
    console::print(format_args!(
        "  rip {:#018x}  cs {:#x}  rflags {:#x}  rsp {:#018x}  ss {:#x}\n",
        frame.iret.rip, frame.iret.cs, frame.iret.rflags, frame.iret.rsp, frame.iret.ss
    ));
    if vector == 14 {
        let cr2 = Cr2::read_raw();
        let code = frame.error_code;
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
    print_registers(frame);
    exit(EXIT_CPU_EXCEPTION)
}

fn print_registers(frame: &ExceptionFrame) {
    let r = &frame.regs;
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

fn guard_page_of(address: usize) -> Option<GuardPage> {
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

/// What the kernel's [`FaultHandler`] wants done after an exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Continue at the saved registers (changed with [`Fault::set_registers`]).
    Resume,
    /// Stop the machine with this exit code.
    Stop(u8),
}

/// The kernel's exception handler. It runs on the exception's IST stack with
/// interrupts disabled; an exception inside it is reported raw and stops the machine.
pub type FaultHandler = fn(&mut Fault<'_>) -> FaultAction;

static HANDLER: Once<FaultHandler> = Once::new();
static IN_HANDLER: AtomicBool = AtomicBool::new(false);

/// Registers the kernel's exception handler (the first registration wins).
pub fn set_fault_handler(handler: FaultHandler) {
    HANDLER.call_once(|| handler);
}

/// A CPU exception as the kernel's handler sees it.
#[derive(Debug)]
pub struct Fault<'a> {
    frame: &'a mut ExceptionFrame,
    cr2: usize,
}

impl Fault<'_> {
    /// The vector (0..32).
    pub fn vector(&self) -> u8 {
        self.frame.vector as u8
    }

    /// The exception's name with its mnemonic, e.g. "#PF page fault".
    pub fn name(&self) -> &'static str {
        NAMES
            .get(self.frame.vector as usize)
            .copied()
            .unwrap_or("unknown")
    }

    /// The error code the CPU pushed (0 for vectors without one).
    pub fn error_code(&self) -> u64 {
        self.frame.error_code
    }

    /// For a page fault, the address that faulted (CR2).
    pub fn fault_address(&self) -> Option<usize> {
        (self.frame.vector == 14).then_some(self.cr2)
    }

    /// Whose guard page the faulting address is in, for a page fault on one.
    pub fn guard_page(&self) -> Option<GuardPage> {
        self.fault_address().and_then(guard_page_of)
    }

    /// The interrupted context.
    pub fn registers(&self) -> Registers {
        Registers::of(&self.frame.regs, &self.frame.iret)
    }

    /// Replaces the interrupted context's registers: [`FaultAction::Resume`] then
    /// continues there (signal delivery); see [`Registers::store`] for the flags.
    pub fn set_registers(&mut self, regs: &Registers) {
        regs.store(&mut self.frame.regs, &mut self.frame.iret);
    }

    /// Prints the general registers, as the raw report does.
    pub fn print_registers(&self) {
        print_registers(self.frame);
    }
}
