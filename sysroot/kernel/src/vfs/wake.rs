//! The VFS's wait word: every change that can make an object readable or writable
//! ([`notify`]) moves it on and wakes whoever waits for it ([`super::wait`]).
//!
//! One word for the whole VFS, on the scheduler's futex wait and wake (the pattern of
//! a futex-based condition variable): a waiter samples the word ([`sample`]) under the
//! VFS lock after finding nothing ready, drops the lock and futex-waits for the word
//! to move on from that sample ([`wait_past`]). A change between the sample and the
//! wait makes the futex wait return at once (`EAGAIN`), so no wake-up is lost. One
//! word rather than one per object because `poll` and `epoll_wait` wait on many
//! objects at once and the futex waits on one word; the price is a spurious wake-up (a
//! re-check) of the waiters that the change does not concern, which on one CPU with a
//! handful of threads is cheap. Waking costs nothing while nobody waits ([`WAITERS`]).
//!
//! A leaf: objects (pipes, event counters, `epoll`) call [`notify`] without knowing
//! who waits.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::errno::Errno;
use crate::sched::{self, Wake};

/// Moves on at every change; the word the waiters futex-wait on.
static CHANGES: AtomicU32 = AtomicU32::new(0);
/// Threads between sampling [`CHANGES`] and waking up again.
static WAITERS: AtomicU32 = AtomicU32::new(0);

fn word() -> usize {
    &CHANGES as *const AtomicU32 as usize
}

/// Something that waiters may be waiting for happened (data or room in a pipe, a
/// closed end, an eventfd count, a new `epoll` entry): wakes every waiter to re-check.
/// Called with the VFS lock held (the lock order is VFS, then scheduler).
pub fn notify() {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    if WAITERS.load(Ordering::SeqCst) > 0 {
        sched::futex_wake(word(), usize::MAX, u32::MAX);
    }
}

/// Registers the caller as a waiter and returns the word's value now (under the VFS
/// lock, after finding nothing ready). Every `sample` is followed by one
/// [`wait_past`] or [`cancel`].
pub fn sample() -> u32 {
    WAITERS.fetch_add(1, Ordering::SeqCst);
    CHANGES.load(Ordering::SeqCst)
}

/// Gives up a [`sample`] without waiting.
pub fn cancel() {
    WAITERS.fetch_sub(1, Ordering::SeqCst);
}

/// Waits (without the VFS lock) until the word moves on from `sample` or `deadline`
/// (`CLOCK_MONOTONIC` ns) passes.
pub fn wait_past(sample: u32, deadline: Option<u64>) -> Result<Wake, Errno> {
    let woke = sched::futex_wait_kernel(&CHANGES, sample, u32::MAX, deadline);
    WAITERS.fetch_sub(1, Ordering::SeqCst);
    woke
}
