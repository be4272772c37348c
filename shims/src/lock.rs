//! Futex-based primitives the shim uses internally: a mutex for global tables
//! (allocator, atexit list, environment, pthread keys) and the raw futex calls
//! behind `pthread_join`.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

use crate::syscall::{nr, syscall4};

const FUTEX_WAIT: usize = 0;
const FUTEX_WAIT_PRIVATE: usize = 128;
const FUTEX_WAKE_PRIVATE: usize = 1 | 128;

/// Blocks while `*word == expected` (spurious wake-ups possible).
pub fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; a null
    // timeout means "wait indefinitely".
    unsafe {
        syscall4(
            nr::FUTEX,
            word.as_ptr() as usize,
            FUTEX_WAIT_PRIVATE,
            expected as usize,
            0,
        );
    }
}

/// Like [`futex_wait`] on a process-shared futex key. Needed for the thread id
/// word: the kernel's `CLONE_CHILD_CLEARTID` wake-up is a shared wake
/// (kernel/fork.c, mm_release), which private waiters never see.
pub fn futex_wait_shared(word: &AtomicU32, expected: u32) {
    // SAFETY: as in `futex_wait`.
    unsafe {
        syscall4(
            nr::FUTEX,
            word.as_ptr() as usize,
            FUTEX_WAIT,
            expected as usize,
            0,
        );
    }
}

/// Wakes up to `n` waiters on `word`.
pub fn futex_wake(word: &AtomicU32, n: u32) {
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE only reads its address.
    unsafe {
        syscall4(
            nr::FUTEX,
            word.as_ptr() as usize,
            FUTEX_WAKE_PRIVATE,
            n as usize,
            0,
        );
    }
}

/// A mutex over `T` (states: 0 unlocked, 1 locked, 2 locked with waiters; the
/// classic scheme of Drepper's "Futexes Are Tricky").
#[derive(Debug)]
pub struct Mutex<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `state`.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Self {
        Mutex {
            state: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// Locks, blocking on the futex while another thread holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            while self.state.swap(2, Ordering::Acquire) != 0 {
                futex_wait(&self.state, 2);
            }
        }
        MutexGuard { mutex: self }
    }
}

/// Proof of holding a [`Mutex`]; unlocks on drop.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.mutex.state.swap(0, Ordering::Release) == 2 {
            futex_wake(&self.mutex.state, 1);
        }
    }
}
