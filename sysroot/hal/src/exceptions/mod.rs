//! The IDT and what happens on a CPU exception.
//!
//! Every one of the 32 architectural exception vectors gets a handler. The kernel
//! registers a [`FaultHandler`] ([`set_fault_handler`]) that writes the crash report
//! (symbolized backtrace) and may deliver a signal by changing the saved registers and
//! asking to [`FaultAction::Resume`]. Without one, or when an exception hits while the
//! handler runs, the hal prints the raw report ([`report`]: vector, error code, RIP,
//! CR2, registers, and which stack a guard-page hit belongs to) and stops the machine
//! with `EXIT_CPU_EXCEPTION` instead of hanging.
//!
//! Each vector has a 16-byte assembly stub that pushes a zero error code where the CPU
//! pushes none (SDM Vol. 3A, Table 6-1), then the vector number, and jumps to a common
//! path that saves the general registers, calls [`exception_entry`] and, if that
//! returns, restores the (possibly changed) registers and `iretq`s. All vectors run on
//! IST stacks (gdt.rs, set up in the IDT by [`idt`]), so a stack overflow reaches the
//! handler instead of a double fault.

mod idt;
mod report;

pub(crate) use idt::init;
pub use report::{GuardPage, KernelStack};

use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::Once;
use x86_64::registers::control::Cr2;

use crate::console;
use crate::exit::exit;
pub use crate::frame::Registers;
use crate::frame::{InterruptFrame, SavedRegisters};

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
    report::raw_report(frame.vector, frame.error_code, &frame.iret, &frame.regs)
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
        report::name(self.frame.vector as usize)
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
        self.fault_address().and_then(report::guard_page_of)
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
        report::print_registers(&self.frame.regs);
    }
}
