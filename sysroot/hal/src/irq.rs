//! Interrupt masking and the interrupt-disabling lock.
//!
//! The kernel runs on one CPU. Its data falls in two classes:
//!
//! - data that interrupt handlers touch (the scheduler's run queue and timers): behind
//!   an [`IrqMutex`], which disables interrupts while it is held, so a handler can never
//!   find it locked by the code it interrupted (that would spin forever on one CPU);
//! - everything else: an ordinary `spin::Mutex` is enough, because kernel code never
//!   runs with interrupts enabled outside the idle loop (the system-call entries clear
//!   IF; see the crate README for the whole discipline).

use core::arch::asm;
use core::ops::{Deref, DerefMut};

use spin::{Mutex, MutexGuard};

/// RFLAGS.IF.
const IF: u64 = 1 << 9;

fn rflags() -> u64 {
    let flags: u64;
    // SAFETY: pushfq/pop only read RFLAGS through the stack slot they own.
    unsafe { asm!("pushfq", "pop {}", out(reg) flags, options(nomem, preserves_flags)) };
    flags
}

/// Whether interrupts are enabled on this CPU.
pub fn enabled() -> bool {
    rflags() & IF != 0
}

/// Interrupts stay disabled while this lives; dropping it restores the previous state.
#[derive(Debug)]
pub struct Disabled {
    were_enabled: bool,
}

/// Disables interrupts until the returned guard is dropped (nests).
pub fn disable() -> Disabled {
    let were_enabled = enabled();
    // SAFETY: cli only masks maskable interrupts; the guard restores the state.
    unsafe { asm!("cli", options(nomem, nostack)) };
    Disabled { were_enabled }
}

impl Drop for Disabled {
    fn drop(&mut self) {
        if self.were_enabled {
            // SAFETY: interrupts were enabled when the guard was made; the code that
            // holds the guard is done with the state it protected.
            unsafe { asm!("sti", options(nomem, nostack)) };
        }
    }
}

/// Enables interrupts and halts until one arrives, atomically (`sti` delays the
/// interrupt window by one instruction, so no interrupt is lost between the two); then
/// disables them again. Must be called with interrupts disabled.
pub fn wait_for_interrupt() {
    debug_assert!(!enabled());
    // SAFETY: the handlers of every interrupt that can arrive preserve all state of
    // the interrupted code; interrupts end disabled, as they were.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// A spin lock that disables interrupts while held (for data interrupt handlers use).
#[derive(Debug)]
pub struct IrqMutex<T> {
    inner: Mutex<T>,
}

/// The guard of an [`IrqMutex`]: the lock, then the interrupt state, are released on
/// drop.
#[derive(Debug)]
pub struct IrqMutexGuard<'a, T> {
    // Field order matters: the lock is released before interrupts are re-enabled.
    guard: MutexGuard<'a, T>,
    _irq: Disabled,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> IrqMutex<T> {
        IrqMutex {
            inner: Mutex::new(value),
        }
    }

    /// Disables interrupts, then takes the lock.
    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let irq = disable();
        IrqMutexGuard {
            guard: self.inner.lock(),
            _irq: irq,
        }
    }

    /// Like [`lock`](Self::lock) but gives up if the lock is held (crash reports).
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let irq = disable();
        self.inner
            .try_lock()
            .map(|guard| IrqMutexGuard { guard, _irq: irq })
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
