//! The two dispatchers, for system calls that do not arrive as a direct call of their
//! entry: the frame dispatcher (the `syscall`-instruction trap path and
//! `__unikernel_syscall_stub`, with the caller's registers) and `__unikernel_syscall`
//! (a number the build pass could not make constant). Both look the number up in the
//! `dispatch` match that `list.rs` generates. Both run the calling thread's pending
//! signal handlers before returning (`signal::deliver`), and both trace the call when
//! the tracer is on (`trace`).
// Exporting unmangled C symbols needs `#[unsafe(no_mangle)]`, which the crate-wide
// `deny(unsafe_code)` flags; these attributes are the whole of it here.
#![allow(unsafe_code)]

use unikernel_abi::Sysno;
use unikernel_hal::SyscallFrame;

use super::list::dispatch;
use super::table::{Entry, abi_return};
use super::{SyscallArgs, clone, trace};

/// The frame dispatcher: the `syscall`-instruction trap path and
/// `__unikernel_syscall_stub` (hal `syscall_entry`) land here with the caller's
/// registers (`clone` copies them, `rt_sigreturn` replaces them).
#[unsafe(no_mangle)]
pub fn __unikernel_syscall_frame(frame: &mut SyscallFrame) {
    let nr = frame.number();
    let args = SyscallArgs(frame.args());
    let mut call = || {
        if nr == Sysno::clone.number() {
            abi_return(clone::clone(frame))
        } else if nr == Sysno::rt_sigreturn.number() {
            crate::signal::frame::sigreturn(frame)
        } else {
            dispatch(nr, args, Entry::Frame)
        }
    };
    let result = if trace::active() {
        trace::traced(nr, args, call)
    } else {
        call()
    };
    frame.set_return(result);
    crate::signal::deliver(Some(frame));
}

/// The dispatcher: system calls whose number is not a compile-time constant, called
/// directly (no register frame).
#[unsafe(no_mangle)]
pub extern "C" fn __unikernel_syscall(
    nr: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    let _irq = unikernel_hal::irq::disable();
    let args = SyscallArgs([a0, a1, a2, a3, a4, a5]);
    let result = if trace::active() {
        trace::traced(nr, args, || dispatch(nr, args, Entry::Direct))
    } else {
        dispatch(nr, args, Entry::Direct)
    };
    crate::signal::deliver(None);
    result
}
