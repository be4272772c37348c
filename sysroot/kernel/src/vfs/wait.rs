//! Waiting for the VFS: blocking pipe and eventfd ends, `poll`, `ppoll` and
//! `epoll_wait` park the calling thread here until some other thread changes VFS state
//! that could make them ready, or their deadline passes.
//!
//! One wait word for the whole VFS, on the scheduler's futex wait and wake (the
//! pattern of a futex-based condition variable): every change that can make an object
//! readable or writable ([`notify`]) bumps [`CHANGES`] and wakes whoever waits on it;
//! a waiter samples the word under the VFS lock after finding nothing ready, drops the
//! lock and futex-waits for the word to move on from that sample. A change between the
//! sample and the wait makes the futex wait return at once (`EAGAIN`), so no wake-up is
//! lost. One word rather than one per object because `poll` and `epoll_wait` wait on
//! many objects at once and the futex waits on one word; the price is a spurious
//! wake-up (a re-check) of the waiters that the change does not concern, which on one
//! CPU with a handful of threads is cheap. Waking costs nothing while nobody waits
//! ([`WAITERS`]).

use core::sync::atomic::{AtomicU32, Ordering};

use super::{Object, Vfs};
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
/// closed end, an eventfd count): wakes every waiter to re-check. Called with the VFS
/// lock held (the lock order is VFS, then scheduler).
pub(super) fn notify() {
    CHANGES.fetch_add(1, Ordering::SeqCst);
    if WAITERS.load(Ordering::SeqCst) > 0 {
        sched::futex_wake(word(), usize::MAX, u32::MAX);
    }
}

/// What one attempt of [`until`] found.
#[derive(Debug)]
pub enum Attempt<R> {
    /// Finished with this result.
    Done(R),
    /// Nothing to do yet: wait for a change and try again.
    Wait,
}

/// Runs `attempt` with the VFS lock held until it is done; between attempts, waits
/// without the lock for a VFS change. At `deadline` (`CLOCK_MONOTONIC` ns) the attempt
/// runs once more and, if it would still wait, `until` returns `Ok(None)`.
pub fn until<R>(
    deadline: Option<u64>,
    mut attempt: impl FnMut(&mut Vfs) -> Result<Attempt<R>, Errno>,
) -> Result<Option<R>, Errno> {
    let mut timed_out = false;
    loop {
        let sample = super::with(|vfs| {
            Ok(match attempt(vfs)? {
                Attempt::Done(result) => Err(result),
                Attempt::Wait => {
                    WAITERS.fetch_add(1, Ordering::SeqCst);
                    Ok(CHANGES.load(Ordering::SeqCst))
                }
            })
        })?;
        let sample = match sample {
            Ok(sample) => sample,
            Err(result) => return Ok(Some(result)),
        };
        if timed_out {
            WAITERS.fetch_sub(1, Ordering::SeqCst);
            return Ok(None);
        }
        let woke = sched::futex_wait(word(), sample, u32::MAX, deadline);
        WAITERS.fetch_sub(1, Ordering::SeqCst);
        match woke {
            Ok(Wake::Woken) | Err(Errno::EAGAIN) => {}
            Ok(Wake::TimedOut) => timed_out = true,
            // A signal for this thread ends the wait, as on Linux (no restart).
            Ok(Wake::Interrupted) => return Err(Errno::EINTR),
            Err(error) => return Err(error),
        }
    }
}

/// Runs `transfer` (a read or write on `fd`), waiting and retrying while it is
/// `EAGAIN` on a descriptor without `O_NONBLOCK`.
pub fn blocking<R>(
    fd: u32,
    mut transfer: impl FnMut(&mut Vfs) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let done = until(None, |vfs| match transfer(vfs) {
        Err(Errno::EAGAIN) if !vfs.file(fd)?.nonblocking() => Ok(Attempt::Wait),
        other => other.map(Attempt::Done),
    })?;
    // Without a deadline `until` only returns when done.
    done.ok_or(Errno::EAGAIN)
}

/// `write(fd, buf, len)`. A blocking pipe write returns once all `len` bytes are in
/// (`pipe(7)`; a write of more than the capacity waits for readers to make room in
/// between), or with the bytes written so far when the last reader goes (`EPIPE` if
/// none were).
pub fn write(fd: u32, buf: usize, len: usize) -> Result<usize, Errno> {
    let mut done = 0;
    blocking(fd, |vfs| {
        let whole = matches!(vfs.file(fd)?.object, Object::PipeWrite(_));
        match vfs.write(fd, buf + done, len - done, None) {
            Ok(n) => {
                done += n;
                if whole && done < len && !vfs.file(fd)?.nonblocking() {
                    Err(Errno::EAGAIN)
                } else {
                    Ok(done)
                }
            }
            Err(error) if done > 0 && error != Errno::EAGAIN => Ok(done),
            Err(error) => Err(error),
        }
    })
}
