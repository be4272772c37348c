//! Descriptions of the RAM file system's inodes other than devices: regular files
//! ([`regular`]), directories ([`dir`]) and, for `O_PATH` descriptors (the only way
//! to open one), symbolic links. Each operation goes by the inode's type, which never
//! changes: what a regular file answers, `EISDIR` or a listing for a directory, and
//! for a link what Linux answers on an `O_PATH` descriptor.

use spin::Mutex;

use super::dir::{self, DirCursor};
use super::file::{At, FileLike, ioctl, reply_fionread};
use super::inode::{FileData, Ino, Inodes, Node};
use super::regular::{self, seek_position};
use super::stat::Stat;
use crate::errno::Errno;

/// An open inode of the RAM file system.
#[derive(Debug)]
pub struct RamFile {
    ino: Ino,
    /// Where a listing goes on (directories only); `dup`s share it with the
    /// description.
    cursor: Mutex<DirCursor>,
}

impl RamFile {
    pub fn new(ino: Ino) -> Self {
        Self {
            ino,
            cursor: Mutex::new(DirCursor::Start),
        }
    }

    /// The inode's bytes if it is a regular file; otherwise `EISDIR` for a
    /// directory and `EINVAL` for the rest, as `read(2)` and `write(2)` answer.
    fn data<'fs>(&self, fs: &'fs Inodes) -> Result<&'fs FileData, Errno> {
        match &fs.get(self.ino)?.node {
            Node::File(data) => Ok(data),
            Node::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }
}

impl FileLike for RamFile {
    fn read(&self, fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        let start = at.position();
        let n = regular::read(self.data(fs)?, start, buf, len)?;
        at.end_at(start + n as u64);
        Ok(n)
    }

    fn write(
        &self,
        fs: &mut Inodes,
        at: At<'_>,
        flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        self.data(fs)?;
        let end = regular::write(fs.get_mut(self.ino)?, buf, len, flags, at.position())?;
        at.end_at(end);
        Ok(len)
    }

    /// A directory can only restart its listing (rewinddir): positions are not
    /// addresses. A link has no position at all.
    fn seek(&self, fs: &Inodes, offset: &mut u64, to: i64, whence: u32) -> Result<u64, Errno> {
        match &fs.get(self.ino)?.node {
            Node::File(data) => {
                *offset = seek_position(*offset, data.len() as u64, to, whence)?;
            }
            Node::Dir(_) => {
                if seek_position(*offset, 0, to, whence)? != 0 {
                    return Err(Errno::EINVAL);
                }
                *self.cursor.lock() = DirCursor::Start;
                *offset = 0;
            }
            _ => return Err(Errno::EBADF),
        }
        Ok(*offset)
    }

    fn getdents(
        &self,
        fs: &Inodes,
        offset: &mut u64,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        dir::list(fs, self.ino, &mut self.cursor.lock(), offset, buf, len)
    }

    /// `FIONREAD`: the bytes after the offset (`ENOTTY` for a directory, 0 for a link).
    fn ioctl(&self, fs: &Inodes, offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let ready = match &fs.get(self.ino)?.node {
            Node::File(data) => data
                .len()
                .saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX)),
            Node::Dir(_) => return Err(Errno::ENOTTY),
            _ => 0,
        };
        reply_fionread(arg, ready)
    }

    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno> {
        Stat::of_ino(fs, self.ino)
    }

    /// Regular files and directories are always ready and have no poll method:
    /// `epoll` refuses them.
    fn check_epoll_target(&self, fs: &Inodes) -> Result<(), Errno> {
        match fs.get(self.ino)?.node {
            Node::File(_) | Node::Dir(_) => Err(Errno::EPERM),
            _ => Ok(()),
        }
    }

    /// A regular file's bytes, copied (see `super::map`): a writable shared mapping
    /// could never reach the file.
    fn map_contents<'fs>(&self, fs: &'fs Inodes, shared_write: bool) -> Result<&'fs [u8], Errno> {
        match &fs.get(self.ino)?.node {
            Node::File(data) if !shared_write => Ok(data),
            _ => Err(Errno::ENODEV),
        }
    }

    fn truncate(&self, fs: &mut Inodes, len: u64) -> Result<(), Errno> {
        regular::truncate(fs.get_mut(self.ino)?, len)
    }

    /// RAM is as durable as it gets.
    fn fsync(&self) -> Result<(), Errno> {
        Ok(())
    }

    fn inode(&self) -> Option<Ino> {
        Some(self.ino)
    }
}
