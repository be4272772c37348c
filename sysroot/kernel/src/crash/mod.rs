//! Crash reports for CPU exceptions: what faulted, in which function, and how it got
//! there.
//!
//! The hal calls [`on_fault`] on the exception's IST stack (so a stack overflow gets
//! here instead of a double fault). The report names the exception, the thread, the
//! faulting function and, for page faults, the address and what it was (a null pointer,
//! a guard page: stack overflow), then a backtrace walked with `.eh_frame` and
//! symbolized with the image file's symbol table (`symbols`), then the registers. In
//! application code the exception then raises its signal as on Linux ([`on_fault`]):
//! the program ends with 128 + signal (139 for SIGSEGV) unless a handler runs; in
//! kernel code it ends with 126 ([`exit::EXIT_CPU_EXCEPTION`]).
//!
//! Without the image file (a VMM that passes no boot module, or a stripped image) the
//! report has addresses only.

mod symbols;
pub(crate) mod unwind;

use core::fmt;

use spin::Once;
use unikernel_hal::exceptions::{self, Fault, FaultAction, Registers};
use unikernel_hal::{console, exit, image};

use crate::signal;

pub use symbols::{Symbol, SymbolTable};

/// Most lines a backtrace prints.
const MAX_LINES: usize = 64;
/// Most frames walked (a corrupt stack could otherwise loop).
const MAX_WALK: usize = 1 << 20;

static SYMBOLS: Once<Option<SymbolTable>> = Once::new();

/// The image file's symbol table, if the VMM passed the file and it is not stripped.
pub fn symbol_table() -> Option<&'static SymbolTable> {
    SYMBOLS
        .call_once(|| image::executable().and_then(SymbolTable::parse))
        .as_ref()
}

/// Registers the crash reporter with the hal and parses the symbol table (at boot, so
/// a fault never does it with an unknown amount of stack).
pub fn init() {
    let _ = symbol_table();
    exceptions::set_fault_handler(on_fault);
}

/// `name+0xoff` for `pc`, or `??` without symbols.
struct Location(usize);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match symbol_table().and_then(|table| table.lookup(self.0)) {
            Some(symbol) => write!(f, "{}+{:#x}", symbol.demangled(), self.0 - symbol.start),
            None => f.write_str("??"),
        }
    }
}

fn print(args: fmt::Arguments<'_>) {
    console::print(args);
}

/// A data access just below the stack pointer: a push, a call or a stack probe ran off
/// the bottom of the stack, e.g. into a thread's `PROT_NONE` guard.
fn below_stack_pointer(address: usize, sp: usize, error_code: u64) -> bool {
    address < sp.saturating_add(256)
        && address >= sp.saturating_sub(1 << 20)
        && error_code & 0x10 == 0
}

/// Whether `fault` is a stack overflow: a hit on a guard page the kernel knows, or a
/// page fault just below the stack pointer.
fn is_stack_overflow(fault: &Fault<'_>) -> bool {
    let sp = fault.registers().gpr[Registers::RSP] as usize;
    fault.guard_page().is_some()
        || fault
            .fault_address()
            .is_some_and(|address| below_stack_pointer(address, sp, fault.error_code()))
}

/// What a page fault's address tells about the fault.
fn describe_address(fault: &Fault<'_>, regs: &Registers, address: usize) {
    let code = fault.error_code();
    let access = if code & 0x10 != 0 {
        "instruction fetch"
    } else if code & 2 != 0 {
        "write"
    } else {
        "read"
    };
    let present = if code & 1 != 0 {
        "protection violation"
    } else {
        "not-present page"
    };
    print(format_args!("  {access} of {address:#x}: {present}"));
    let sp = regs.gpr[Registers::RSP] as usize;
    if let Some(guard) = fault.guard_page() {
        print(format_args!(", guard page of {guard}: stack overflow\n"));
    } else if address < unikernel_hal::PAGE_SIZE {
        print(format_args!(": null pointer dereference\n"));
    } else if below_stack_pointer(address, sp, code) {
        print(format_args!(
            ", just below the stack pointer: stack overflow\n"
        ));
    } else {
        print(format_args!("\n"));
    }
}

/// RFLAGS.IF: application code runs with interrupts enabled, kernel code with them
/// disabled (README, "Interrupts and locking"), so IF tells whose code faulted.
const RFLAGS_IF: u64 = 1 << 9;

/// The hal's [`exceptions::FaultHandler`]. An exception in application code raises
/// its signal, as on Linux: a handler runs (std's SIGSEGV handler reports a stack
/// overflow and aborts; for anything else it restores `SIG_DFL` and returns, so the
/// instruction faults again), or the report prints and the program ends with 128 +
/// signal. A guard-page hit is reported before the handler runs. An exception in
/// kernel code prints the report and ends with 126.
fn on_fault(fault: &mut Fault<'_>) -> FaultAction {
    let regs = fault.registers();
    let signal = (regs.rflags & RFLAGS_IF != 0)
        .then(|| signal::fault::signal_for(fault.vector(), fault.error_code()))
        .flatten();
    let Some((sig, code)) = signal else {
        report(fault);
        print(format_args!(
            "unikernel: exit code {} (CPU exception in kernel code)\n",
            exit::EXIT_CPU_EXCEPTION
        ));
        return FaultAction::Stop(exit::EXIT_CPU_EXCEPTION);
    };
    if signal::fault::is_caught(sig) {
        if is_stack_overflow(fault) {
            report(fault);
        }
        let address = fault.fault_address().unwrap_or(0) as u64;
        if let Some(handler) = signal::fault::deliver(
            sig,
            code,
            &regs,
            address,
            fault.error_code(),
            fault.vector(),
        ) {
            fault.set_registers(&handler);
            return FaultAction::Resume;
        }
        print(format_args!(
            "unikernel: no room for the signal frame of {}\n",
            signal::name(sig)
        ));
    } else {
        report(fault);
    }
    print(format_args!("unikernel: killed by {}\n", signal::name(sig)));
    FaultAction::Stop(128 + sig as u8)
}

/// Prints the crash report of `fault`.
fn report(fault: &Fault<'_>) {
    let regs = fault.registers();
    let pc = regs.rip as usize;
    let overflow = fault.guard_page().is_some();
    print(format_args!(
        "\nunikernel: fatal CPU exception {} (vector {})",
        fault.name(),
        fault.vector()
    ));
    if let Some(tid) = crate::sched::try_current_tid() {
        print(format_args!(" in thread {tid}"));
    }
    print(format_args!(", error code {:#x}\n", fault.error_code()));
    print(format_args!("  at {pc:#x} in {}\n", Location(pc)));
    if let Some(address) = fault.fault_address() {
        describe_address(fault, &regs, address);
    }
    if overflow && symbol_table().is_none() {
        print(format_args!(
            "  (no symbols: the image file was not passed as a boot module, or is stripped)\n"
        ));
    }
    backtrace(&regs);
    fault.print_registers();
}

fn print_frame(index: usize, frame: &unwind::Frame) {
    let pc = frame.lookup_pc();
    print(format_args!(
        "  {index:>4}: {:#018x} - {}\n",
        frame.regs.rip,
        Location(pc)
    ));
}

/// Prints the stack from the faulting frame outwards. A run of frames at the same pc
/// (recursion) prints its first frame and a count; at most [`MAX_LINES`] lines print,
/// then only the number of frames left.
fn backtrace(regs: &Registers) {
    print(format_args!("stack backtrace:\n"));
    let Some(unwinder) = unwind::Unwinder::new() else {
        print(format_args!("  (no .eh_frame_hdr in the image)\n"));
        return;
    };
    let mut frame = unwind::Frame {
        regs: *regs,
        is_return_address: false,
    };
    print_frame(0, &frame);
    let mut index = 1;
    if !unwinder.covers(frame.lookup_pc())
        && let Some(caller) = unwind::frame_after_bad_call(regs)
    {
        frame = caller;
        print_frame(1, &frame);
        index = 2;
    }
    let (mut lines, mut repeats) = (index, 0usize);
    while index < MAX_WALK
        && let Some(caller) = unwinder.caller(&frame)
    {
        if caller.regs.rip == frame.regs.rip && index > 1 {
            repeats += 1;
        } else {
            if repeats > 0 {
                if lines < MAX_LINES {
                    print(format_args!(
                        "        ... the frame above {repeats} more times\n"
                    ));
                }
                lines += 1;
                repeats = 0;
            }
            if lines < MAX_LINES {
                print_frame(index, &caller);
            }
            lines += 1;
        }
        frame = caller;
        index += 1;
    }
    if repeats > 0 && lines < MAX_LINES {
        print(format_args!(
            "        ... the frame above {repeats} more times\n"
        ));
    }
    if lines > MAX_LINES {
        print(format_args!(
            "  ({} more frames not shown)\n",
            lines - MAX_LINES
        ));
    }
}
