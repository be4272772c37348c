//! Delivering signals: running the handlers of the signals pending for the calling
//! thread when it leaves the kernel, and restarting interrupted system calls.
//!
//! Linux delivers a pending signal when the thread returns to user mode: it rewrites
//! the saved registers so that the return lands in the handler, whose restorer calls
//! `rt_sigreturn` to resume. Here most system calls are plain C calls into the kernel,
//! with no saved registers to rewrite, so the kernel calls the handler instead, as a
//! nested function call on the thread's stack (or its alternate stack), just before it
//! returns: [`deliver`] runs at the end of every system-call entry (direct calls, the
//! dispatcher, the register-frame path) and of the timer interrupt's preemption point,
//! which is where a thread that was running application code resumes when another
//! thread sent it a signal (one CPU: the target of a signal from another thread is
//! never running at that moment, it is runnable or blocked). The handler gets Linux's
//! `rt_sigframe` (`frame`), with the mask and flags of `sigaction(2)`; when it
//! returns, the mask it left in the ucontext is restored (and, on the frame paths, the
//! registers it left there), and the system call returns its result.
//!
//! A wait (pipe, eventfd, `poll`, `epoll_wait`, futex, sleep, `pause`) that a signal
//! for its thread interrupts ends with `EINTR`; the handler then runs on the way out.
//! The calls Linux restarts after a handler with `SA_RESTART` (`read`/`write` and their
//! vector forms on pipes and eventfds, `FUTEX_WAIT` without a timeout; signal(7),
//! "Interruption of system calls") wrap their wait in [`restarting`], which runs the
//! handlers at once and waits again, or fails with `EINTR` when one lacks `SA_RESTART`.

use core::sync::atomic::{AtomicBool, Ordering};

use unikernel_hal::exceptions::Registers;
use unikernel_hal::upcall::{self, HandlerFrame};
use unikernel_hal::{SyscallFrame, uaccess};

use super::frame::{self, CONTEXT_OFFSET, INFO_OFFSET, Info, SI_TKILL, SI_USER};
use super::{
    AltStack, SIG_DFL, SIGSEGV, SS_AUTODISARM, STATE, bit, current_slot, is_ignored, unblockable,
};
use crate::errno::Errno;
use crate::log::kinfo;

/// `SA_RESTART`.
const SA_RESTART: u64 = 0x1000_0000;

/// How far below the kernel's own stack pointer a handler's frame goes when it runs on
/// the current stack: room for the frames of the calls between reading the stack
/// pointer and switching to the handler (the user-copy check and the trampoline, a
/// few hundred bytes together).
const FRAME_GAP: u64 = 2048;

/// Set when some thread may have a signal pending; cleared when none has. The check on
/// every system call's way out is this one load while nothing is pending.
static MAYBE_PENDING: AtomicBool = AtomicBool::new(false);

/// A signal was made pending (under this module's lock).
pub(super) fn note_pending() {
    MAYBE_PENDING.store(true, Ordering::Relaxed);
}

/// What one [`deliver`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Some handler ran.
    pub any: bool,
    /// Every handler that ran has `SA_RESTART` (true if none ran).
    pub restart: bool,
}

/// What to do with the next ready signal, decided under the lock.
// One lives on the stack for a moment; boxing the frame would allocate per signal.
#[allow(clippy::large_enum_variant)]
enum Step {
    Done,
    Terminate(usize),
    Run { sig: usize, frame: frame::Prepared },
}

/// Runs the handlers of every signal pending for the calling thread and not blocked,
/// lowest number first, as Linux's `get_signal` (a terminating default action ends the
/// program). `frame` is the saved context the thread resumes from, on the register-
/// frame paths: the handler sees it in its ucontext and may change it. Called with
/// interrupts disabled and no lock held, at the end of a system call or preemption.
///
/// Every system call ends here, so the check that nothing is pending is inlined into
/// the entries (one load and a branch); the delivery itself, with its large frame, is
/// a call only when a signal may be pending.
#[inline]
pub fn deliver(frame: Option<&mut SyscallFrame>) -> Delivered {
    if !MAYBE_PENDING.load(Ordering::Relaxed) {
        return Delivered {
            any: false,
            restart: true,
        };
    }
    deliver_pending(frame)
}

/// [`deliver`] once a signal may be pending.
#[inline(never)]
fn deliver_pending(mut frame: Option<&mut SyscallFrame>) -> Delivered {
    let mut delivered = Delivered {
        any: false,
        restart: true,
    };
    loop {
        let step = next_step(frame.as_deref());
        let (sig, mut prepared) = match step {
            Step::Done => break,
            Step::Terminate(sig) => super::terminate(sig),
            Step::Run { sig, frame } => (sig, frame),
        };
        delivered.any = true;
        delivered.restart &= prepared.action.flags & SA_RESTART != 0;
        upcall::call_signal_handler(
            prepared.action.handler,
            sig,
            &mut prepared.bytes,
            HandlerFrame {
                address: prepared.address,
                info_offset: INFO_OFFSET,
                context_offset: CONTEXT_OFFSET,
            },
        );
        // What `rt_sigreturn` would restore from the ucontext.
        if let Some(saved) = frame.as_deref_mut() {
            let regs = frame::saved_registers(&prepared.bytes, saved.registers());
            saved.set_registers(&regs);
        }
        let alt = frame::saved_altstack(&prepared.bytes);
        if alt.flags & SS_AUTODISARM != 0 {
            super::altstack(Some(AltStack {
                flags: SS_AUTODISARM,
                ..alt
            }));
        }
        let mask = frame::saved_mask(&prepared.bytes);
        super::update_mask(|_| mask);
    }
    crate::sched::clear_interrupt();
    delivered
}

/// Takes the next ready signal of the calling thread off its pending sets and, for a
/// handler, writes its frame and applies the action's effects on the thread.
fn next_step(saved: Option<&SyscallFrame>) -> Step {
    let mut state = STATE.lock();
    let slot = current_slot();
    loop {
        let t = *state.thread(slot);
        let ready = (t.pending | state.shared_pending) & !t.mask;
        if ready == 0 {
            let any = state.shared_pending != 0
                || state.threads.as_slice().iter().any(|t| t.pending != 0);
            MAYBE_PENDING.store(any, Ordering::Relaxed);
            return Step::Done;
        }
        // Lowest number first, as Linux's `next_signal` (synchronous ones aside).
        let sig = ready.trailing_zeros() as usize + 1;
        let b = bit(sig);
        // Sent to this thread (`tkill`/`tgkill`) or to the process (`kill`).
        let code = if t.pending & b != 0 {
            SI_TKILL
        } else {
            SI_USER
        };
        if t.pending & b != 0 {
            state.thread_mut(slot).pending &= !b;
        } else {
            state.shared_pending &= !b;
        }
        let action = state.actions[sig - 1];
        if is_ignored(&action, sig) {
            continue;
        }
        if action.handler == SIG_DFL {
            return Step::Terminate(sig);
        }
        let sp = upcall::stack_pointer();
        let regs = saved.map_or(
            Registers {
                gpr: {
                    let mut gpr = [0; 16];
                    gpr[Registers::RSP] = sp;
                    gpr
                },
                ..Registers::default()
            },
            SyscallFrame::registers,
        );
        let prepared = frame::prepare(
            action,
            state.thread(slot),
            sig,
            Info::Sent { code },
            &regs,
            sp,
            FRAME_GAP,
        );
        if uaccess::copy_to(prepared.address as usize, &prepared.bytes).is_err() {
            // Linux's `force_sigsegv`: the frame does not fit (a bad alternate stack).
            kinfo!(
                "cannot write the frame of the {} handler at {:#x}",
                super::name(sig),
                prepared.address
            );
            return Step::Terminate(SIGSEGV);
        }
        let (installed, thread) = state.action_and_thread(sig, slot);
        frame::commit(installed, thread, sig, &prepared);
        debug_assert!(state.thread(slot).mask & unblockable() == 0);
        return Step::Run {
            sig,
            frame: prepared,
        };
    }
}

/// Runs `call` (a system call that waits) and, when a signal interrupts it (`EINTR`),
/// runs the handlers now and calls it again if they all have `SA_RESTART`, as Linux
/// restarts `-ERESTARTSYS` calls; otherwise the call fails with `EINTR`.
pub fn restarting<R>(mut call: impl FnMut() -> Result<R, Errno>) -> Result<R, Errno> {
    loop {
        match call() {
            Err(Errno::EINTR) => {
                if !deliver(None).restart {
                    return Err(Errno::EINTR);
                }
            }
            other => return other,
        }
    }
}
