//! The calls that create descriptions of objects outside the name space (Linux's
//! anonymous inodes and pipefs): `pipe2`, `eventfd2`, `epoll_create1`, and the `epoll`
//! calls that resolve descriptors (`epoll_ctl`, `epoll_wait`'s collection).

use alloc::sync::{Arc, Weak};
use core::ptr;

use super::epoll::{Epoll, Ready, Target};
use super::eventfd::{EFD_SEMAPHORE, EventFd};
use super::file::{OpenFile, flags::*};
use super::pipe;
use super::state::Vfs;
use crate::errno::Errno;

impl Vfs {
    /// `pipe2`: the read and write descriptors.
    pub fn pipe(&mut self, flags: u32) -> Result<(u32, u32), Errno> {
        if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
            return Err(Errno::EINVAL);
        }
        let (reader, writer) = pipe::new();
        let cloexec = flags & O_CLOEXEC != 0;
        let status = flags & O_NONBLOCK;
        let read = self.install(
            OpenFile::new(Arc::new(reader), O_RDONLY | status),
            0,
            cloexec,
        )?;
        match self.install(
            OpenFile::new(Arc::new(writer), O_WRONLY | status),
            0,
            cloexec,
        ) {
            Ok(write) => Ok((read, write)),
            Err(e) => {
                let _ = self.close(read);
                Err(e)
            }
        }
    }

    /// `eventfd2(initval, flags)`: a new counter's descriptor.
    pub fn eventfd(&mut self, initval: u32, flags: u32) -> Result<u32, Errno> {
        if flags & !(O_CLOEXEC | O_NONBLOCK | EFD_SEMAPHORE) != 0 {
            return Err(Errno::EINVAL);
        }
        let counter = EventFd::new(initval, flags & EFD_SEMAPHORE != 0);
        let file = OpenFile::new(Arc::new(counter), O_RDWR | (flags & O_NONBLOCK));
        self.install(file, 0, flags & O_CLOEXEC != 0)
    }

    /// `epoll_create1(flags)`.
    pub fn epoll_create(&mut self, flags: u32) -> Result<u32, Errno> {
        if flags & !O_CLOEXEC != 0 {
            return Err(Errno::EINVAL);
        }
        let epoll = Arc::new(Epoll::default());
        self.epolls.retain(|instance| instance.strong_count() > 0);
        self.epolls.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.epolls.push(Arc::downgrade(&epoll));
        self.install(OpenFile::new(epoll, O_RDWR), 0, flags & O_CLOEXEC != 0)
    }

    /// The instance behind `epfd` (`EINVAL` if it is no `epoll` descriptor): the
    /// registered instance that is the descriptor's object.
    fn epoll_of(&self, epfd: u32) -> Result<Arc<Epoll>, Errno> {
        let object = Arc::as_ptr(&self.file(epfd)?.object);
        self.epolls
            .iter()
            .filter_map(Weak::upgrade)
            .find(|epoll| ptr::addr_eq(Arc::as_ptr(epoll), object))
            .ok_or(Errno::EINVAL)
    }

    /// `epoll_ctl(epfd, op, fd, event)`; `event` is `(events, data)` (ignored for
    /// `EPOLL_CTL_DEL`).
    pub fn epoll_ctl(
        &mut self,
        epfd: u32,
        op: u32,
        fd: u32,
        event: (u32, u64),
    ) -> Result<(), Errno> {
        let epoll = self.epoll_of(epfd)?;
        let file = self.fds.file_id(fd)?;
        let object = self.files.get(file).ok_or(Errno::EBADF)?.object.clone();
        if fd == epfd {
            return Err(Errno::EINVAL);
        }
        object.check_epoll_target(&self.inodes)?;
        epoll.ctl(op, Target { fd, file, object }, event)
    }

    /// Collects up to `max` reports of instance `epfd` (see [`Epoll::collect`]).
    pub fn epoll_collect(
        &mut self,
        epfd: u32,
        max: usize,
        report: impl FnMut(usize, Ready) -> Result<(), Errno>,
    ) -> Result<usize, Errno> {
        self.epoll_of(epfd)?.collect(max, report)
    }

    /// Open file description `file` was released: no instance watches it any more.
    pub(super) fn forget_file(&mut self, file: usize) {
        self.epolls.retain(|instance| match instance.upgrade() {
            Some(epoll) => {
                epoll.forget(file);
                true
            }
            None => false,
        });
    }
}
