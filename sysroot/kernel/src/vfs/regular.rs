//! Descriptions of the RAM file system's regular files (the image's files,
//! `/proc/self/exe` among them: [`FileData::Executable`]) and, for `O_PATH`
//! descriptors, of its symbolic links; and the writes and truncation of file data
//! that `write`, `pwrite64`, `ftruncate`, `truncate` and `O_TRUNC` share.

use unikernel_hal::uaccess;

use super::file::flags::O_APPEND;
use super::file::{FileLike, ioctl, reply_fionread};
use super::inode::{FileData, Ino, Inode, Inodes, Node};
use super::stat::Stat;
use crate::errno::Errno;

/// `lseek` whence values.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;

/// The current time for timestamps.
fn now() -> u64 {
    crate::time::realtime_ns()
}

/// A regular file's bytes, or `EIO` if `ino` is not one (a kernel bug: the object was
/// made for a regular file and an inode never changes its type).
fn data(fs: &Inodes, ino: Ino) -> Result<&FileData, Errno> {
    match &fs.get(ino)?.node {
        Node::File(data) => Ok(data),
        _ => Err(Errno::EIO),
    }
}

/// `offset` moved as `lseek` asks, for an object of `size` bytes; `SEEK_DATA` and
/// `SEEK_HOLE` see one data extent (no holes).
pub fn seek_position(offset: u64, size: u64, to: i64, whence: u32) -> Result<u64, Errno> {
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => offset,
        SEEK_END => size,
        SEEK_DATA | SEEK_HOLE => {
            let at = u64::try_from(to).map_err(|_| Errno::ENXIO)?;
            if at >= size {
                return Err(Errno::ENXIO);
            }
            return Ok(if whence == SEEK_DATA { at } else { size });
        }
        _ => return Err(Errno::EINVAL),
    };
    base.checked_add_signed(to)
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or(Errno::EINVAL)
}

/// Writes `len` bytes from `buf` into a regular file at `pos` (or its end with
/// `O_APPEND`, also for `pwrite64`, as Linux does); returns the offset after them.
fn write_file(
    inode: &mut Inode,
    buf: usize,
    len: usize,
    flags: u32,
    pos: u64,
) -> Result<u64, Errno> {
    let now = now();
    let data = match &mut inode.node {
        Node::File(data) => data.heap_mut()?,
        _ => return Err(Errno::EIO),
    };
    if len == 0 {
        return Ok(pos);
    }
    let pos = if flags & O_APPEND != 0 {
        data.len()
    } else {
        usize::try_from(pos).map_err(|_| Errno::EFBIG)?
    };
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= isize::MAX as usize)
        .ok_or(Errno::EFBIG)?;
    let old_len = data.len();
    if end > old_len {
        data.try_reserve(end - old_len).map_err(|_| Errno::ENOSPC)?;
        data.resize(end, 0);
    }
    if let Err(fault) = uaccess::copy_from(buf, &mut data[pos..end]) {
        data.truncate(old_len);
        return Err(fault.into());
    }
    inode.times.mtime = now;
    inode.times.ctime = now;
    Ok(end as u64)
}

/// Sets a regular file's length (`ftruncate`, `truncate`, `O_TRUNC`); new bytes read
/// as zeros. `EISDIR` for a directory, `EINVAL` for anything else that is not a
/// regular file, `ETXTBSY` for the executable.
pub fn truncate(inode: &mut Inode, len: u64) -> Result<(), Errno> {
    let now = now();
    let is_dir = inode.is_dir();
    let Node::File(data) = &mut inode.node else {
        return Err(if is_dir { Errno::EISDIR } else { Errno::EINVAL });
    };
    let data = data.heap_mut()?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or(Errno::EFBIG)?;
    if len > data.len() {
        data.try_reserve(len - data.len())
            .map_err(|_| Errno::ENOSPC)?;
    }
    data.resize(len, 0);
    inode.times.mtime = now;
    inode.times.ctime = now;
    Ok(())
}

/// An open regular file.
#[derive(Debug)]
pub struct RegularFile {
    pub ino: Ino,
}

impl FileLike for RegularFile {
    fn read(&self, fs: &Inodes, offset: &mut u64, buf: usize, len: usize) -> Result<usize, Errno> {
        let n = self.read_at(fs, *offset, buf, len)?;
        *offset += n as u64;
        Ok(n)
    }

    fn read_at(&self, fs: &Inodes, pos: u64, buf: usize, len: usize) -> Result<usize, Errno> {
        let data = data(fs, self.ino)?;
        let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
        let n = len.min(data.len() - pos);
        uaccess::copy_to(buf, &data[pos..pos + n])?;
        Ok(n)
    }

    fn write(
        &self,
        fs: &mut Inodes,
        offset: &mut u64,
        flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        *offset = write_file(fs.get_mut(self.ino)?, buf, len, flags, *offset)?;
        Ok(len)
    }

    fn write_at(
        &self,
        fs: &mut Inodes,
        pos: u64,
        flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        write_file(fs.get_mut(self.ino)?, buf, len, flags, pos)?;
        Ok(len)
    }

    fn seek(&self, fs: &Inodes, offset: &mut u64, to: i64, whence: u32) -> Result<u64, Errno> {
        let size = data(fs, self.ino)?.len() as u64;
        *offset = seek_position(*offset, size, to, whence)?;
        Ok(*offset)
    }

    fn ioctl(&self, fs: &Inodes, offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let left = data(fs, self.ino)?
            .len()
            .saturating_sub(usize::try_from(offset).unwrap_or(usize::MAX));
        reply_fionread(arg, left)
    }

    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno> {
        Stat::of_ino(fs, self.ino)
    }

    /// Regular files are always ready and have no poll method: `epoll` refuses them.
    fn check_epoll_target(&self) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    /// Memory is identity-mapped and there is no page cache, so a mapping is a copy
    /// taken now (see `super::map`): a writable shared one could never reach the file.
    fn map_contents<'fs>(&self, fs: &'fs Inodes, shared_write: bool) -> Result<&'fs [u8], Errno> {
        if shared_write {
            return Err(Errno::ENODEV);
        }
        Ok(data(fs, self.ino)?)
    }

    fn truncate(&self, fs: &mut Inodes, len: u64) -> Result<(), Errno> {
        truncate(fs.get_mut(self.ino)?, len)
    }

    /// RAM is as durable as it gets.
    fn fsync(&self) -> Result<(), Errno> {
        Ok(())
    }

    fn inode(&self) -> Option<Ino> {
        Some(self.ino)
    }

    fn opened(&self, fs: &mut Inodes) -> Result<(), Errno> {
        fs.open(self.ino)
    }

    fn released(&self, fs: &mut Inodes) {
        fs.close(self.ino);
    }
}

/// A symbolic link, open with `O_PATH` (the only way to open one): it names the link
/// for the `*at` calls and `fstat`; reading, writing and seeking have no meaning.
#[derive(Debug)]
pub struct Symlink {
    pub ino: Ino,
}

impl FileLike for Symlink {
    fn read_at(&self, _fs: &Inodes, _pos: u64, _buf: usize, _len: usize) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn write_at(
        &self,
        _fs: &mut Inodes,
        _pos: u64,
        _flags: u32,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn seek(&self, _fs: &Inodes, _offset: &mut u64, _to: i64, _whence: u32) -> Result<u64, Errno> {
        Err(Errno::EBADF)
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        reply_fionread(arg, 0)
    }

    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno> {
        Stat::of_ino(fs, self.ino)
    }

    fn fsync(&self) -> Result<(), Errno> {
        Ok(())
    }

    fn inode(&self) -> Option<Ino> {
        Some(self.ino)
    }

    fn opened(&self, fs: &mut Inodes) -> Result<(), Errno> {
        fs.open(self.ino)
    }

    fn released(&self, fs: &mut Inodes) {
        fs.close(self.ino);
    }
}
