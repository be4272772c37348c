//! Descriptions of the RAM file system's directories: listing (`getdents64`) and
//! rewinding (`lseek` to 0); reading and writing are `EISDIR`.

use alloc::vec::Vec;
use core::ops::Bound;

use spin::Mutex;
use unikernel_hal::uaccess;

use super::file::FileLike;
use super::inode::{Ino, Inodes};
use super::regular::seek_position;
use super::stat::{Stat, dirent_type};
use crate::errno::Errno;

/// Where a directory listing (`getdents64`) goes on from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum DirCursor {
    /// Next: `.`.
    #[default]
    Start,
    /// Next: `..`.
    Dot,
    /// Next: the first entry after this name (`None`: the first entry). A name, not
    /// an index, so removing entries while listing (as `remove_dir_all` does) skips
    /// nothing.
    After(Option<Vec<u8>>),
}

/// An open directory. The cursor belongs to the description: `dup`s share it.
#[derive(Debug)]
pub struct Directory {
    ino: Ino,
    cursor: Mutex<DirCursor>,
}

impl Directory {
    pub fn new(ino: Ino) -> Self {
        Self {
            ino,
            cursor: Mutex::new(DirCursor::Start),
        }
    }
}

impl FileLike for Directory {
    fn read(
        &self,
        _fs: &Inodes,
        _offset: &mut u64,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn read_at(&self, _fs: &Inodes, _pos: u64, _buf: usize, _len: usize) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn write(
        &self,
        _fs: &mut Inodes,
        _offset: &mut u64,
        _flags: u32,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    fn write_at(
        &self,
        _fs: &mut Inodes,
        _pos: u64,
        _flags: u32,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }

    /// A listing can only restart (rewinddir); positions are not addresses.
    fn seek(&self, _fs: &Inodes, offset: &mut u64, to: i64, whence: u32) -> Result<u64, Errno> {
        let new = seek_position(*offset, 0, to, whence)?;
        if new != 0 {
            return Err(Errno::EINVAL);
        }
        *self.cursor.lock() = DirCursor::Start;
        *offset = new;
        Ok(new)
    }

    /// `struct linux_dirent64` records (`getdents(2)`); `*offset` counts the entries
    /// listed (each record's `d_off`).
    fn getdents(
        &self,
        fs: &Inodes,
        offset: &mut u64,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        let mut cursor = self.cursor.lock().clone();
        let mut position = *offset;
        let dir = fs.get(self.ino)?.dir()?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let (name, ino, next): (&[u8], Ino, DirCursor) = match &cursor {
                DirCursor::Start => (b".", self.ino, DirCursor::Dot),
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
            };
            // d_ino u64, d_off i64, d_reclen u16, d_type u8, name, NUL; 8-aligned.
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            if out.len() + reclen > len {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            let d_type = dirent_type(fs.get(ino)?);
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
        *self.cursor.lock() = cursor;
        *offset = position;
        Ok(out.len())
    }

    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno> {
        Stat::of_ino(fs, self.ino)
    }

    /// Directories have no poll method: `epoll` refuses them.
    fn check_epoll_target(&self) -> Result<(), Errno> {
        Err(Errno::EPERM)
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
