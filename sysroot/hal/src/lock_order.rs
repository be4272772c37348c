//! The kernel's lock order, checked at run time.
//!
//! Kernel code runs with interrupts off on one CPU, so a spin lock it finds held
//! belongs to a thread that is not running; if that thread cannot run until this one
//! gives up the CPU, spinning never ends. Two rules keep that from happening, and an
//! [`OrderedMutex`] checks both, in every build: the runtime is always compiled with
//! the release profile (see `cargo-unikernel/src/runtime.rs`), so a check behind
//! `debug_assertions` would only ever run in the host unit tests, and the check costs
//! one load and compare next to the atomic update of the held set that tracking needs
//! anyway. A broken rule is a kernel bug: the panic names the locks rather than
//! letting the machine hang.
//!
//! - locks are taken in increasing [`Level`] (never a lower or equal level while a
//!   lock is held), so no two paths wait on each other;
//! - no ordered lock is held when a thread gives up the CPU ([`assert_none_held`],
//!   called by the context switch): a blocked holder would leave every later taker
//!   spinning with interrupts off. That covers allocating: the kernel's allocations go
//!   to the shim's `malloc`, whose lock is a futex that may block.
//!
//! The held set is per CPU (one CPU: one word), which equals per thread because of the
//! second rule.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

/// The ordered locks, lowest (taken first) to highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// The signal state (`kernel::signal::STATE`): dispositions and the per-thread
    /// masks and pending sets. Its per-thread table grows under it, with storage from
    /// the memory manager.
    Signals = 0,
    /// The kernel's memory manager (`kernel::memory::MEMORY`): free list and mappings.
    Memory = 1,
    /// The page tables (`paging::SPACE`), changed under the memory lock.
    PageTables = 2,
    /// The guard-page names of crash reports (`paging::GUARDS`).
    GuardNames = 3,
    /// The thread contexts (`thread::CONTEXTS`): taken for a moment by every thread
    /// operation, with nothing taken under it; it grows with storage the kernel
    /// allocated before taking it.
    Contexts = 4,
}

/// Bit `level` set while a lock of that level is held.
static HELD: AtomicU32 = AtomicU32::new(0);

const fn bit(level: Level) -> u32 {
    1 << level as u32
}

/// Panics if any ordered lock is held: called where a thread gives up the CPU
/// (`what` names the place).
pub fn assert_none_held(what: &str) {
    let held = HELD.load(Ordering::Relaxed);
    assert!(
        held == 0,
        "{what} with kernel locks held (levels {held:#b})"
    );
}

/// A spin lock with a place in the lock order.
#[derive(Debug)]
pub struct OrderedMutex<T> {
    level: Level,
    inner: spin::Mutex<T>,
}

/// Proof of holding an [`OrderedMutex`]; unlocks on drop.
#[derive(Debug)]
pub struct OrderedGuard<'a, T> {
    level: Level,
    inner: spin::MutexGuard<'a, T>,
}

impl<T> OrderedMutex<T> {
    pub const fn new(level: Level, value: T) -> Self {
        OrderedMutex {
            level,
            inner: spin::Mutex::new(value),
        }
    }

    /// Locks, spinning, after checking that no lock of this level or above is held
    /// (the order).
    pub fn lock(&self) -> OrderedGuard<'_, T> {
        let held = HELD.load(Ordering::Relaxed);
        assert!(
            held < bit(self.level),
            "lock order: {:?} taken while holding levels {held:#b}",
            self.level
        );
        let inner = self.inner.lock();
        HELD.fetch_or(bit(self.level), Ordering::Relaxed);
        OrderedGuard {
            level: self.level,
            inner,
        }
    }

    /// Locks if free, without waiting (crash reports, checks that must not block):
    /// cannot deadlock, so the order is not checked. (One lock per level: when this
    /// succeeds, its level's bit was clear.)
    pub fn try_lock(&self) -> Option<OrderedGuard<'_, T>> {
        let inner = self.inner.try_lock()?;
        HELD.fetch_or(bit(self.level), Ordering::Relaxed);
        Some(OrderedGuard {
            level: self.level,
            inner,
        })
    }
}

impl<T> Deref for OrderedGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for OrderedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T> Drop for OrderedGuard<'_, T> {
    fn drop(&mut self) {
        HELD.fetch_and(!bit(self.level), Ordering::Relaxed);
    }
}
