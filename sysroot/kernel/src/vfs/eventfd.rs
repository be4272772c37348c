//! Event counters (`eventfd(2)`): a 64-bit count that writes add to and reads take.
//!
//! A read takes the whole count (or 1 with `EFD_SEMAPHORE`) and is `EAGAIN` at 0; a
//! write that would push the count past `u64::MAX - 1` is `EAGAIN`. Blocking
//! descriptors wait in [`super::wait`] instead, as for pipes. mio's waker is one.

use super::Vfs;
use super::file::{Object, OpenFile, flags::*};
use super::wait;
use crate::errno::Errno;

/// `EFD_SEMAPHORE` (`EFD_CLOEXEC` and `EFD_NONBLOCK` are `O_CLOEXEC` and `O_NONBLOCK`).
pub const EFD_SEMAPHORE: u32 = 1;
/// The largest count (`0xffff_ffff_ffff_fffe`).
const MAX_COUNT: u64 = u64::MAX - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventFdId(pub usize);

#[derive(Debug)]
pub struct EventFd {
    pub count: u64,
    semaphore: bool,
    /// Counts the changes that may have made it ready (edge-triggered `epoll`).
    pub changes: u64,
}

impl EventFd {
    /// A read: the value, `EAGAIN` at 0.
    pub fn take(&mut self) -> Result<u64, Errno> {
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
    pub fn add(&mut self, value: u64) -> Result<(), Errno> {
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

    /// Readable while the count is above 0, writable while it is below its maximum.
    pub fn readable(&self) -> bool {
        self.count > 0
    }

    pub fn writable(&self) -> bool {
        self.count < MAX_COUNT
    }

    fn changed(&mut self) {
        self.changes = self.changes.wrapping_add(1);
        wait::notify();
    }
}

impl Vfs {
    /// `eventfd2(initval, flags)`: a new counter's descriptor.
    pub fn eventfd(&mut self, initval: u32, flags: u32) -> Result<u32, Errno> {
        if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
            return Err(Errno::EINVAL);
        }
        let counter = EventFd {
            count: u64::from(initval),
            semaphore: flags & EFD_SEMAPHORE != 0,
            changes: 0,
        };
        let id = EventFdId(self.eventfds.insert(counter)?);
        let file = OpenFile::new(Object::EventFd(id), O_RDWR | (flags & O_NONBLOCK));
        self.install(file, 0, flags & O_CLOEXEC != 0)
            .inspect_err(|_| {
                self.eventfds.remove(id.0);
            })
    }

    pub(super) fn eventfd_mut(&mut self, id: EventFdId) -> Result<&mut EventFd, Errno> {
        self.eventfds.get_mut(id.0).ok_or(Errno::EBADF)
    }
}
