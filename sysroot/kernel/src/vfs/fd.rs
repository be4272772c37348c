//! Descriptor operations on the VFS: installing a new open file description, `dup`,
//! `close`, the close-on-exec flag, and releasing a description (and its object) when
//! its last descriptor goes.

use super::fdtable::{Entry, MAX_FDS};
use super::file::OpenFile;
use super::state::Vfs;
use crate::errno::Errno;

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
        self.fds.take(fd);
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
        self.fds.set(fd, Entry { cloexec, ..entry })?;
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
