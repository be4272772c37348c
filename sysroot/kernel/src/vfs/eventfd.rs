//! Event counters (`eventfd(2)`): a 64-bit count that writes add to and reads take.
//!
//! A read takes the whole count (or 1 with `EFD_SEMAPHORE`) and is `EAGAIN` at 0; a
//! write that would push the count past `u64::MAX - 1` is `EAGAIN`. Blocking
//! descriptors wait in [`super::wait`] instead, as for pipes. mio's waker is one.

use spin::Mutex;
use unikernel_hal::uaccess;

use super::file::{At, FileLike};
use super::inode::Inodes;
use super::poll::bits::{READABLE, WRITABLE};
use super::stat::Stat;
use super::wake;
use crate::errno::Errno;

/// `EFD_SEMAPHORE` (`EFD_CLOEXEC` and `EFD_NONBLOCK` are `O_CLOEXEC` and `O_NONBLOCK`).
pub const EFD_SEMAPHORE: u32 = 1;
/// The largest count (`0xffff_ffff_ffff_fffe`).
const MAX_COUNT: u64 = u64::MAX - 1;

#[derive(Debug)]
struct Counter {
    count: u64,
    semaphore: bool,
    /// Counts the changes that may have made it ready (edge-triggered `epoll`).
    changes: u64,
}

impl Counter {
    /// A read: the value, `EAGAIN` at 0.
    fn take(&mut self) -> Result<u64, Errno> {
        if self.count == 0 {
            return Err(Errno::EAGAIN);
        }
        let value = if self.semaphore { 1 } else { self.count };
        self.count -= value;
        self.changed();
        Ok(value)
    }

    /// A write of `value`: `EINVAL` for `u64::MAX`, `EAGAIN` if the count would
    /// exceed its maximum.
    fn add(&mut self, value: u64) -> Result<(), Errno> {
        if value == u64::MAX {
            return Err(Errno::EINVAL);
        }
        if value > MAX_COUNT - self.count {
            return Err(Errno::EAGAIN);
        }
        if value > 0 {
            self.count += value;
            self.changed();
        }
        Ok(())
    }

    fn changed(&mut self) {
        self.changes = self.changes.wrapping_add(1);
        wake::notify();
    }
}

/// One counter; `dup`s of its descriptor share it.
#[derive(Debug)]
pub struct EventFd(Mutex<Counter>);

impl EventFd {
    /// A counter starting at `initval`; `semaphore`: reads take 1 at a time.
    pub fn new(initval: u32, semaphore: bool) -> Self {
        Self(Mutex::new(Counter {
            count: u64::from(initval),
            semaphore,
            changes: 0,
        }))
    }
}

impl FileLike for EventFd {
    /// Takes the count into an 8-byte buffer (`EINVAL` for a smaller one).
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        at.stream()?;
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        // Checked before the count is taken, so a bad buffer loses nothing.
        uaccess::with_bytes(buf, 8, |_| ())?;
        let value = self.0.lock().take()?;
        uaccess::copy_to(buf, &value.to_ne_bytes())?;
        Ok(8)
    }

    /// Adds the 8-byte value at `buf` (`EINVAL` for a smaller buffer).
    fn write(
        &self,
        _fs: &mut Inodes,
        at: At<'_>,
        _flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        at.stream()?;
        if len < 8 {
            return Err(Errno::EINVAL);
        }
        let mut value = [0u8; 8];
        uaccess::copy_from(buf, &mut value)?;
        self.0.lock().add(u64::from_ne_bytes(value))?;
        Ok(8)
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::anonymous())
    }

    /// Readable while the count is above 0, writable while it is below its maximum.
    fn poll(&self) -> u16 {
        let counter = self.0.lock();
        (if counter.count > 0 { READABLE } else { 0 })
            | if counter.count < MAX_COUNT {
                WRITABLE
            } else {
                0
            }
    }

    fn changes(&self) -> u64 {
        self.0.lock().changes
    }
}
