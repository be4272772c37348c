//! The process's file-descriptor table: descriptor number -> open file description
//! and the close-on-exec flag. New descriptors get the lowest free number (POSIX).

use alloc::vec::Vec;

use super::Vfs;
use super::file::OpenFile;
use crate::errno::Errno;

/// `RLIMIT_NOFILE` (what `getrlimit` reports).
pub const MAX_FDS: u32 = 1024;

#[derive(Clone, Copy, Debug)]
struct Entry {
    file: usize,
    cloexec: bool,
}

#[derive(Debug)]
pub struct FdTable(Vec<Option<Entry>>);

impl FdTable {
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    fn entry(&self, fd: u32) -> Result<Entry, Errno> {
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

    fn lowest_free(&self, min: u32) -> Result<u32, Errno> {
        let free = (min as usize..self.0.len())
            .find(|&i| self.0[i].is_none())
            .unwrap_or(self.0.len().max(min as usize));
        u32::try_from(free)
            .ok()
            .filter(|&fd| fd < MAX_FDS)
            .ok_or(Errno::EMFILE)
    }

    /// Puts `entry` at `fd`, returning what was there.
    fn set(&mut self, fd: u32, entry: Entry) -> Result<Option<Entry>, Errno> {
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

impl Vfs {
    /// Stores a new description and gives it the lowest free descriptor `>= min`.
    pub fn install(&mut self, mut file: OpenFile, min: u32, cloexec: bool) -> Result<u32, Errno> {
        let fd = self.fds.lowest_free(min)?;
        file.refs = 0;
        let object = file.object.clone();
        let id = self.files.insert(file)?;
        object.opened(&mut self.inodes)?;
        self.share(id, fd, cloexec)
            .inspect_err(|_| self.drop_ref(id))
    }

    /// Points `fd` at description `id` (closing what `fd` held).
    fn share(&mut self, id: usize, fd: u32, cloexec: bool) -> Result<u32, Errno> {
        let previous = self.fds.set(fd, Entry { file: id, cloexec })?;
        if let Some(file) = self.files.get_mut(id) {
            file.refs += 1;
        }
        if let Some(previous) = previous {
            self.drop_ref(previous.file);
        }
        Ok(fd)
    }

    /// The description behind `fd`.
    pub fn file(&self, fd: u32) -> Result<&OpenFile, Errno> {
        let entry = self.fds.entry(fd)?;
        self.files.get(entry.file).ok_or(Errno::EBADF)
    }

    pub fn file_mut(&mut self, fd: u32) -> Result<&mut OpenFile, Errno> {
        let entry = self.fds.entry(fd)?;
        self.files.get_mut(entry.file).ok_or(Errno::EBADF)
    }

    /// `close(fd)`.
    pub fn close(&mut self, fd: u32) -> Result<(), Errno> {
        let entry = self.fds.entry(fd)?;
        self.fds.0[fd as usize] = None;
        self.drop_ref(entry.file);
        Ok(())
    }

    /// `dup`/`F_DUPFD`: the lowest free descriptor `>= min`.
    pub fn dup(&mut self, fd: u32, min: u32, cloexec: bool) -> Result<u32, Errno> {
        let entry = self.fds.entry(fd)?;
        let new = self.fds.lowest_free(min)?;
        self.share(entry.file, new, cloexec)
    }

    /// `dup2`/`dup3`: exactly `new` (closing it first; nothing happens if it is `fd`).
    pub fn dup_to(&mut self, fd: u32, new: u32, cloexec: bool) -> Result<u32, Errno> {
        let entry = self.fds.entry(fd)?;
        if new >= MAX_FDS {
            return Err(Errno::EBADF);
        }
        if new == fd {
            return Ok(new);
        }
        self.share(entry.file, new, cloexec)
    }

    pub fn cloexec(&self, fd: u32) -> Result<bool, Errno> {
        Ok(self.fds.entry(fd)?.cloexec)
    }

    pub fn set_cloexec(&mut self, fd: u32, cloexec: bool) -> Result<(), Errno> {
        let entry = self.fds.entry(fd)?;
        self.fds.0[fd as usize] = Some(Entry { cloexec, ..entry });
        Ok(())
    }

    /// Drops one descriptor's reference to description `id`; the last one releases
    /// the object (an unlinked inode is freed, a pipe with no ends left too, an event
    /// counter or `epoll` instance always) and leaves every `epoll` interest list.
    fn drop_ref(&mut self, id: usize) {
        let Some(file) = self.files.get_mut(id) else {
            return;
        };
        file.refs = file.refs.saturating_sub(1);
        if file.refs > 0 {
            return;
        }
        let Some(file) = self.files.remove(id) else {
            return;
        };
        self.forget_file(id);
        file.object.released(&mut self.inodes);
    }
}
