//! Reading, writing and positioning: the per-object behaviour of `read`, `write`,
//! `pread64`, `pwrite64`, `lseek`, `getdents64` and `pipe2`. None of it waits: a pipe
//! or event counter that is not ready is `EAGAIN` here, and the system call waits in
//! [`super::wait`] unless the descriptor is `O_NONBLOCK`.

use alloc::vec::Vec;
use core::ops::Bound;

use unikernel_hal::{console, uaccess};

use super::file::{DirCursor, Object, OpenFile, flags::*};
use super::inode::{Device, Ino, Node};
use super::pipe::{Pipe, PipeId};
use super::{Vfs, now};
use crate::errno::Errno;
use crate::random;

/// Linux's `MAX_RW_COUNT`: the most one read or write transfers.
const MAX_RW: usize = 0x7fff_f000;

/// `lseek` whence values.
const SEEK_SET: u32 = 0;
const SEEK_CUR: u32 = 1;
const SEEK_END: u32 = 2;
const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;

/// Fills `len` bytes at `buf` from `fill`, in chunks (zeros, random bytes).
fn fill_user(buf: usize, len: usize, fill: impl Fn(&mut [u8])) -> Result<usize, Errno> {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        fill(&mut chunk[..n]);
        uaccess::copy_to(buf + done, &chunk[..n])?;
        done += n;
    }
    Ok(len)
}

impl Vfs {
    fn open_file(&self, fd: u32) -> Result<(Object, u32, u64), Errno> {
        let file = self.file(fd)?;
        Ok((file.object, file.flags, file.offset))
    }

    fn pipe_mut(&mut self, id: PipeId) -> Result<&mut Pipe, Errno> {
        self.pipes.get_mut(id.0).ok_or(Errno::EBADF)
    }

    /// `read` (`at == None`, from and advancing the file offset) or `pread64`.
    pub fn read(
        &mut self,
        fd: u32,
        buf: usize,
        len: usize,
        at: Option<u64>,
    ) -> Result<usize, Errno> {
        if !self.file(fd)?.readable() {
            return Err(Errno::EBADF);
        }
        let (object, _, offset) = self.open_file(fd)?;
        let len = len.min(MAX_RW);
        match object {
            Object::Console(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::Console(_) => Ok(0),
            Object::PipeRead(_) | Object::PipeWrite(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::PipeRead(id) => {
                let pipe = self.pipe_mut(id)?;
                let (first, second) = pipe.read(len)?;
                uaccess::copy_to(buf, first)?;
                uaccess::copy_to(buf + first.len(), second)?;
                let n = first.len() + second.len();
                pipe.consume(n);
                Ok(n)
            }
            Object::PipeWrite(_) => Err(Errno::EBADF),
            Object::EventFd(_) | Object::Epoll(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::EventFd(id) => {
                if len < 8 {
                    return Err(Errno::EINVAL);
                }
                // Checked before the count is taken, so a bad buffer loses nothing.
                uaccess::with_bytes(buf, 8, |_| ())?;
                let value = self.eventfd_mut(id)?.take()?;
                uaccess::copy_to(buf, &value.to_ne_bytes())?;
                Ok(8)
            }
            Object::Epoll(_) => Err(Errno::EINVAL),
            Object::Inode(ino) => {
                let n = match &self.inodes.get(ino)?.node {
                    Node::Dir(_) => return Err(Errno::EISDIR),
                    Node::Symlink(_) => return Err(Errno::EINVAL),
                    Node::File(data) => {
                        let pos = usize::try_from(at.unwrap_or(offset))
                            .unwrap_or(usize::MAX)
                            .min(data.len());
                        let n = len.min(data.len() - pos);
                        uaccess::copy_to(buf, &data[pos..pos + n])?;
                        n
                    }
                    Node::Device(Device::Null) => 0,
                    Node::Device(Device::Zero | Device::Full) => {
                        fill_user(buf, len, |b| b.fill(0))?
                    }
                    Node::Device(Device::Random | Device::Urandom) => {
                        fill_user(buf, len, random::fill)?
                    }
                };
                if at.is_none() {
                    self.file_mut(fd)?.offset = offset + n as u64;
                }
                Ok(n)
            }
        }
    }

    /// `write` (`at == None`) or `pwrite64`.
    pub fn write(
        &mut self,
        fd: u32,
        buf: usize,
        len: usize,
        at: Option<u64>,
    ) -> Result<usize, Errno> {
        if !self.file(fd)?.writable() {
            return Err(Errno::EBADF);
        }
        let (object, flags, offset) = self.open_file(fd)?;
        let len = len.min(MAX_RW);
        match object {
            Object::Console(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::Console(_) => {
                uaccess::with_bytes(buf, len, console::write_bytes)?;
                Ok(len)
            }
            Object::PipeRead(_) | Object::PipeWrite(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::PipeWrite(id) => {
                let pipe = self.pipe_mut(id)?;
                let n = pipe.room(len)?;
                pipe.buffer.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
                uaccess::with_bytes(buf, n, |bytes| pipe.append(bytes))?;
                Ok(n)
            }
            Object::PipeRead(_) => Err(Errno::EBADF),
            Object::EventFd(_) | Object::Epoll(_) if at.is_some() => Err(Errno::ESPIPE),
            Object::EventFd(id) => {
                if len < 8 {
                    return Err(Errno::EINVAL);
                }
                let mut value = [0u8; 8];
                uaccess::copy_from(buf, &mut value)?;
                self.eventfd_mut(id)?.add(u64::from_ne_bytes(value))?;
                Ok(8)
            }
            Object::Epoll(_) => Err(Errno::EINVAL),
            Object::Inode(ino) => {
                let end = self.write_inode(ino, buf, len, flags, at.unwrap_or(offset))?;
                if at.is_none() {
                    self.file_mut(fd)?.offset = end;
                }
                Ok(len)
            }
        }
    }

    /// Writes into an inode at `pos` (or its end with `O_APPEND`, also for `pwrite64`,
    /// as Linux does); returns the offset after the written bytes.
    fn write_inode(
        &mut self,
        ino: Ino,
        buf: usize,
        len: usize,
        flags: u32,
        pos: u64,
    ) -> Result<u64, Errno> {
        let now = now();
        let inode = self.inodes.get_mut(ino)?;
        let data = match &mut inode.node {
            Node::File(data) => data.heap_mut()?,
            Node::Device(Device::Full) => return Err(Errno::ENOSPC),
            Node::Device(_) => return Ok(pos),
            Node::Dir(_) => return Err(Errno::EISDIR),
            Node::Symlink(_) => return Err(Errno::EINVAL),
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

    /// `lseek(fd, offset, whence)`.
    pub fn seek(&mut self, fd: u32, offset: i64, whence: u32) -> Result<u64, Errno> {
        let (object, _, current) = self.open_file(fd)?;
        let Object::Inode(ino) = object else {
            return Err(Errno::ESPIPE);
        };
        let (size, is_dir) = match &self.inodes.get(ino)?.node {
            Node::File(data) => (data.len() as u64, false),
            Node::Dir(_) => (0, true),
            // Character devices ignore the position (Linux `noop_llseek` for null/zero).
            Node::Device(_) => return Ok(0),
            Node::Symlink(_) => return Err(Errno::EBADF),
        };
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => current,
            SEEK_END => size,
            SEEK_DATA | SEEK_HOLE => {
                let at = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                if at >= size {
                    return Err(Errno::ENXIO);
                }
                let new = if whence == SEEK_DATA { at } else { size };
                self.file_mut(fd)?.offset = new;
                return Ok(new);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base
            .checked_add_signed(offset)
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or(Errno::EINVAL)?;
        let file = self.file_mut(fd)?;
        if is_dir {
            // A listing can only restart (rewinddir); positions are not addresses.
            if new != 0 {
                return Err(Errno::EINVAL);
            }
            file.cursor = DirCursor::Start;
        }
        file.offset = new;
        Ok(new)
    }

    /// `getdents64(fd, buf, len)`: `struct linux_dirent64` records (`getdents(2)`).
    pub fn getdents(&mut self, fd: u32, buf: usize, len: usize) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        if file.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        let Object::Inode(dir_ino) = file.object else {
            return Err(Errno::ENOTDIR);
        };
        let mut cursor = file.cursor.clone();
        let mut position = file.offset;
        let dir = self.inodes.get(dir_ino)?.dir()?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let (name, ino, next): (&[u8], Ino, DirCursor) = match &cursor {
                DirCursor::Start => (b".", dir_ino, DirCursor::Dot),
                DirCursor::Dot => (b"..", dir.parent, DirCursor::After(None)),
                DirCursor::After(last) => {
                    let lower = match last {
                        Some(name) => Bound::Excluded(&name[..]),
                        None => Bound::Unbounded,
                    };
                    match dir
                        .entries
                        .range::<[u8], _>((lower, Bound::Unbounded))
                        .next()
                    {
                        Some((name, &ino)) => (name, ino, DirCursor::After(Some(name.clone()))),
                        None => break,
                    }
                }
                DirCursor::End => break,
            };
            // d_ino u64, d_off i64, d_reclen u16, d_type u8, name, NUL; 8-aligned.
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            if out.len() + reclen > len {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            let d_type = super::dirent_type(self.inodes.get(ino)?);
            position += 1;
            out.try_reserve(reclen).map_err(|_| Errno::ENOMEM)?;
            out.extend_from_slice(&(ino.0 as u64 + 1).to_ne_bytes());
            out.extend_from_slice(&position.to_ne_bytes());
            out.extend_from_slice(&(reclen as u16).to_ne_bytes());
            out.push(d_type);
            out.extend_from_slice(name);
            out.resize(out.len() + reclen - 19 - name.len(), 0);
            cursor = next;
        }
        uaccess::copy_to(buf, &out)?;
        let file = self.file_mut(fd)?;
        file.cursor = cursor;
        file.offset = position;
        Ok(out.len())
    }

    /// `pipe2`: the read and write descriptors.
    pub fn pipe(&mut self, flags: u32) -> Result<(u32, u32), Errno> {
        if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
            return Err(Errno::EINVAL);
        }
        let id = PipeId(self.pipes.insert(Pipe::default())?);
        let cloexec = flags & O_CLOEXEC != 0;
        let status = flags & O_NONBLOCK;
        let read = match self.install(
            OpenFile::new(Object::PipeRead(id), O_RDONLY | status),
            0,
            cloexec,
        ) {
            Ok(fd) => fd,
            Err(e) => {
                self.pipes.remove(id.0);
                return Err(e);
            }
        };
        match self.install(
            OpenFile::new(Object::PipeWrite(id), O_WRONLY | status),
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

    /// Bytes ready to read (`FIONREAD`).
    pub fn readable_bytes(&self, fd: u32) -> Result<usize, Errno> {
        let file = self.file(fd)?;
        match file.object {
            Object::PipeRead(id) => Ok(self.pipes.get(id.0).map_or(0, |p| p.buffer.len())),
            Object::Inode(ino) => match &self.inodes.get(ino)?.node {
                Node::File(data) => Ok(data
                    .len()
                    .saturating_sub(usize::try_from(file.offset).unwrap_or(usize::MAX))),
                Node::Dir(_) => Err(Errno::ENOTTY),
                _ => Ok(0),
            },
            Object::Console(_) | Object::PipeWrite(_) | Object::EventFd(_) | Object::Epoll(_) => {
                Err(Errno::ENOTTY)
            }
        }
    }
}
