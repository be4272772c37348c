//! Operations on a descriptor's object: `read`, `write`, `pread64`, `pwrite64`,
//! `lseek`, `getdents64`, `ioctl`, `ftruncate`, `fstat`, `poll` readiness. The descriptor's access mode is checked
//! here; what the object does is its own ([`super::FileLike`]). None of it waits: a
//! pipe or event counter that is not ready is `EAGAIN` here, and the system call waits
//! in [`super::wait`] unless the descriptor is `O_NONBLOCK`.

use super::file::At;
use super::file::flags::O_PATH;
use super::inode::Ino;
use super::poll::bits::{POLLERR, POLLHUP, POLLNVAL};
use super::stat::Stat;
use super::state::Vfs;
use crate::errno::Errno;

/// Linux's `MAX_RW_COUNT`: the most one read or write transfers.
const MAX_RW: usize = 0x7fff_f000;

impl Vfs {
    /// `read` (`at == None`, from and advancing the file offset) or `pread64`.
    pub fn read(
        &mut self,
        fd: u32,
        buf: usize,
        len: usize,
        at: Option<u64>,
    ) -> Result<usize, Errno> {
        let id = self.fds.file_id(fd)?;
        let file = self.files.get_mut(id).ok_or(Errno::EBADF)?;
        if !file.readable() {
            return Err(Errno::EBADF);
        }
        let len = len.min(MAX_RW);
        let at = match at {
            Some(position) => At::Position(position),
            None => At::Offset(&mut file.offset),
        };
        file.object.read(&self.inodes, at, buf, len)
    }

    /// `write` (`at == None`) or `pwrite64`.
    pub fn write(
        &mut self,
        fd: u32,
        buf: usize,
        len: usize,
        at: Option<u64>,
    ) -> Result<usize, Errno> {
        let id = self.fds.file_id(fd)?;
        let file = self.files.get_mut(id).ok_or(Errno::EBADF)?;
        if !file.writable() {
            return Err(Errno::EBADF);
        }
        let len = len.min(MAX_RW);
        let flags = file.flags;
        let at = match at {
            Some(position) => At::Position(position),
            None => At::Offset(&mut file.offset),
        };
        file.object.write(&mut self.inodes, at, flags, buf, len)
    }

    /// `lseek(fd, offset, whence)`.
    pub fn seek(&mut self, fd: u32, offset: i64, whence: u32) -> Result<u64, Errno> {
        let id = self.fds.file_id(fd)?;
        let file = self.files.get_mut(id).ok_or(Errno::EBADF)?;
        file.object
            .seek(&self.inodes, &mut file.offset, offset, whence)
    }

    /// `getdents64(fd, buf, len)`.
    pub fn getdents(&mut self, fd: u32, buf: usize, len: usize) -> Result<usize, Errno> {
        let id = self.fds.file_id(fd)?;
        let file = self.files.get_mut(id).ok_or(Errno::EBADF)?;
        if file.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        file.object
            .getdents(&self.inodes, &mut file.offset, buf, len)
    }

    /// `ioctl(fd, request, arg)` for the requests the object answers (the
    /// descriptor-level ones are the caller's).
    pub fn ioctl(&self, fd: u32, request: u32, arg: usize) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        file.object.ioctl(&self.inodes, file.offset, request, arg)
    }

    /// `ftruncate(fd, len)`: `EINVAL` unless open for writing.
    pub fn truncate_fd(&mut self, fd: u32, len: u64) -> Result<(), Errno> {
        let file = self.file(fd)?;
        if file.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        if !file.writable() {
            return Err(Errno::EINVAL);
        }
        let object = file.object.clone();
        object.truncate(&mut self.inodes, len)
    }

    pub fn stat_inode(&self, ino: Ino) -> Result<Stat, Errno> {
        Stat::of_ino(&self.inodes, ino)
    }

    /// The status of whatever `fd` refers to.
    pub fn stat_fd(&self, fd: u32) -> Result<Stat, Errno> {
        self.file(fd)?.object.stat(&self.inodes)
    }

    /// `poll` readiness of `fd` for `events` (`POLLERR` and `POLLHUP` are always
    /// reported; `POLLNVAL` for a descriptor that is not open).
    pub fn poll(&self, fd: u32, events: u16) -> u16 {
        let Ok(file) = self.file(fd) else {
            return POLLNVAL;
        };
        file.object.poll() & (events | POLLERR | POLLHUP)
    }
}
