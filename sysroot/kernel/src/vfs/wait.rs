//! Waiting for the VFS: blocking reads and writes (pipe and eventfd ends), `poll`,
//! `ppoll` and `epoll_wait` park the calling thread here until some other thread
//! changes VFS state that could make them ready, or their deadline passes. The wait
//! word itself is [`super::wake`]'s.

use super::lock;
use super::state::Vfs;
use super::wake;
use crate::errno::Errno;
use crate::sched::Wake;

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
        let sample = lock::with(|vfs| {
            Ok(match attempt(vfs)? {
                Attempt::Done(result) => Err(result),
                Attempt::Wait => Ok(wake::sample()),
            })
        })?;
        let sample = match sample {
            Ok(sample) => sample,
            Err(result) => return Ok(Some(result)),
        };
        if timed_out {
            wake::cancel();
            return Ok(None);
        }
        match wake::wait_past(sample, deadline) {
            Ok(Wake::Woken) | Err(Errno::EAGAIN) => {}
            Ok(Wake::TimedOut) => timed_out = true,
            // A signal for this thread ends the wait; the caller may restart it.
            Ok(Wake::Interrupted) => return Err(Errno::EINTR),
            Err(error) => return Err(error),
        }
    }
}

/// Runs `transfer` (a read or write on `fd`), waiting and retrying while it is
/// `EAGAIN` on a descriptor without `O_NONBLOCK`. A signal ends the wait with `EINTR`,
/// or restarts it once the handlers ran if they have `SA_RESTART` (Linux's
/// `-ERESTARTSYS` for pipe and eventfd reads and writes, signal(7)).
pub fn blocking<R>(
    fd: u32,
    mut transfer: impl FnMut(&mut Vfs) -> Result<R, Errno>,
) -> Result<R, Errno> {
    crate::signal::restarting(|| blocking_once(fd, &mut transfer))
}

/// [`blocking`] without the restart: `EINTR` when a signal interrupts the wait.
fn blocking_once<R>(
    fd: u32,
    transfer: &mut impl FnMut(&mut Vfs) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let done = until(None, |vfs| match transfer(vfs) {
        Err(Errno::EAGAIN) if !vfs.file(fd)?.nonblocking() => Ok(Attempt::Wait),
        other => other.map(Attempt::Done),
    })?;
    // Without a deadline `until` only returns when done.
    done.ok_or(Errno::EAGAIN)
}

/// `write(fd, buf, len)`. A blocking write to an object that takes whole writes (a
/// pipe) returns once all `len` bytes are in (`pipe(7)`; a write of more than the
/// capacity waits for readers to make room in between), or with the bytes written so
/// far when the last reader goes (`EPIPE` if none were) or a signal interrupts it (a
/// signal before any byte is in: `EINTR`, or a restart, as [`blocking`]).
pub fn write(fd: u32, buf: usize, len: usize) -> Result<usize, Errno> {
    let mut done = 0;
    crate::signal::restarting(|| {
        let result = blocking_once(fd, &mut |vfs: &mut Vfs| {
            let whole = vfs.file(fd)?.object.writes_whole();
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
        });
        match result {
            Err(Errno::EINTR) if done > 0 => Ok(done),
            other => other,
        }
    })
}
