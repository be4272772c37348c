//! CPU exceptions in application code, as Linux turns them into signals
//! (`arch/x86/kernel/traps.c`, `mm/fault.c`): the signal a vector raises and, if the
//! application handles it, the handler's registers.

use unikernel_hal::exceptions::Registers;

use super::frame::{self, Info, SEGV_ACCERR, SEGV_MAPERR};
use super::{STATE, bit};

pub const SIGILL: usize = 4;
pub const SIGTRAP: usize = 5;
pub const SIGBUS: usize = 7;
pub const SIGFPE: usize = 8;

const FPE_INTDIV: i32 = 1;
const ILL_ILLOPN: i32 = 2;
const BUS_ADRALN: i32 = 1;
/// `SI_KERNEL`: what Linux reports for #GP and the other faults without an address.
const SI_KERNEL: i32 = 0x80;
const TRAP_BRKPT: i32 = 1;

/// The signal and `si_code` exception `vector` raises, or `None` for the ones that
/// are no program's doing (NMI, double fault, machine check, ...).
pub fn signal_for(vector: u8, error_code: u64) -> Option<(usize, i32)> {
    Some(match vector {
        0 => (SIGFPE, FPE_INTDIV),
        1 | 3 => (SIGTRAP, TRAP_BRKPT),
        4 | 5 | 13 => (super::SIGSEGV, SI_KERNEL),
        6 => (SIGILL, ILL_ILLOPN),
        12 => (SIGBUS, SI_KERNEL),
        14 => (
            super::SIGSEGV,
            if error_code & 1 != 0 {
                SEGV_ACCERR
            } else {
                SEGV_MAPERR
            },
        ),
        16 | 19 => (SIGFPE, 0),
        17 => (SIGBUS, BUS_ADRALN),
        _ => return None,
    })
}

/// Whether `sig` would run a handler now: caught and not blocked (a synchronous
/// signal that is blocked or ignored kills, as Linux's `force_sig_fault`).
pub fn is_caught(sig: usize) -> bool {
    let state = STATE.lock();
    let slot = unikernel_hal::thread::current();
    state.actions[sig - 1].handler > 1 && state.thread(slot).mask & bit(sig) == 0
}

/// Sets up the handler of `sig` for the fault at `regs`; `None` if it cannot run
/// (not caught, or no room for its frame), and the default action applies.
pub fn deliver(
    sig: usize,
    code: i32,
    regs: &Registers,
    address: u64,
    error_code: u64,
    vector: u8,
) -> Option<Registers> {
    if !is_caught(sig) {
        return None;
    }
    let info = Info::Fault {
        code,
        address,
        error_code,
        trapno: u64::from(vector),
    };
    frame::setup(sig, info, regs).ok()
}
