//! The process's file-descriptor table: descriptor number -> open file description
//! (its slot in the VFS's table of descriptions) and the close-on-exec flag. New
//! descriptors get the lowest free number (POSIX).

use alloc::vec::Vec;

use crate::errno::Errno;

/// `RLIMIT_NOFILE` (what `getrlimit` reports).
pub const MAX_FDS: u32 = 1024;

#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub file: usize,
    pub cloexec: bool,
}

#[derive(Debug)]
pub struct FdTable(Vec<Option<Entry>>);

impl FdTable {
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// What `fd` holds (`EBADF` if nothing).
    pub fn entry(&self, fd: u32) -> Result<Entry, Errno> {
        self.0
            .get(fd as usize)
            .copied()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    /// The open file description `fd` refers to (its `Vfs::files` slot).
    pub fn file_id(&self, fd: u32) -> Result<usize, Errno> {
        Ok(self.entry(fd)?.file)
    }

    /// The lowest free descriptor `>= min` (`EMFILE` past the limit).
    pub fn lowest_free(&self, min: u32) -> Result<u32, Errno> {
        let free = (min as usize..self.0.len())
            .find(|&i| self.0[i].is_none())
            .unwrap_or(self.0.len().max(min as usize));
        u32::try_from(free)
            .ok()
            .filter(|&fd| fd < MAX_FDS)
            .ok_or(Errno::EMFILE)
    }

    /// Empties `fd`, returning what was there.
    pub fn take(&mut self, fd: u32) -> Option<Entry> {
        self.0.get_mut(fd as usize)?.take()
    }

    /// Puts `entry` at `fd`, returning what was there.
    pub fn set(&mut self, fd: u32, entry: Entry) -> Result<Option<Entry>, Errno> {
        let index = fd as usize;
        if index >= self.0.len() {
            self.0
                .try_reserve(index + 1 - self.0.len())
                .map_err(|_| Errno::ENOMEM)?;
            self.0.resize(index + 1, None);
        }
        Ok(self.0[index].replace(entry))
    }
}
