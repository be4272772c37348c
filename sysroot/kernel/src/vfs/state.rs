//! The VFS's state: the inode table, the open file descriptions, the descriptor
//! table, the `epoll` instances, the working directory and the creation mask. The
//! operations on it are `impl` blocks of the sibling modules; this one holds what
//! concerns the process as a whole.

use alloc::sync::Weak;
use alloc::vec::Vec;

use super::epoll::Epoll;
use super::fdtable::FdTable;
use super::file::OpenFile;
use super::inode::{Ino, Inode, Inodes, ROOT};
use super::slab::Slab;
use crate::errno::Errno;

/// The whole VFS state.
#[derive(Debug)]
pub struct Vfs {
    pub(super) inodes: Inodes,
    pub(super) files: Slab<OpenFile>,
    pub(super) fds: FdTable,
    /// Every `epoll` instance, to take released descriptions out of their interest
    /// lists (dead ones are dropped as they are found).
    pub(super) epolls: Vec<Weak<Epoll>>,
    pub(super) cwd: Ino,
    pub(super) umask: u32,
    /// `/proc/self/exe`, when the image file is there to serve.
    pub(super) executable: Option<Ino>,
}

impl Vfs {
    /// `umask(2)`: sets the mask, returns the old one.
    pub fn set_umask(&mut self, mask: u32) -> u32 {
        core::mem::replace(&mut self.umask, mask & 0o777)
    }

    pub fn umask(&self) -> u32 {
        self.umask
    }

    pub fn cwd(&self) -> Ino {
        self.cwd
    }

    /// `chdir`/`fchdir`: `ino` must be a directory. The working directory holds its
    /// inode as an open description does: removed, it stays a dead, empty directory
    /// (Linux: `getcwd` ENOENT, creations in it ENOENT) until the program leaves it,
    /// instead of a freed inode number that a new file could take.
    pub fn set_cwd(&mut self, ino: Ino) -> Result<(), Errno> {
        self.inodes.get(ino)?.dir()?;
        self.inodes.open(ino)?;
        let old = core::mem::replace(&mut self.cwd, ino);
        self.inodes.close(old);
        Ok(())
    }

    pub fn inode(&self, ino: Ino) -> Result<&Inode, Errno> {
        self.inodes.get(ino)
    }

    /// The absolute path of directory `ino` (for `getcwd`), walking up the parents.
    pub fn dir_path(&self, mut ino: Ino) -> Result<Vec<u8>, Errno> {
        let mut parts: Vec<&[u8]> = Vec::new();
        while ino != ROOT {
            let dir = self.inodes.get(ino)?.dir()?;
            let parent = self.inodes.get(dir.parent)?.dir()?;
            // A removed working directory has no name any more (Linux: ENOENT).
            let name = parent
                .entries
                .iter()
                .find(|&(_, &i)| i == ino)
                .map(|(n, _)| n)
                .ok_or(Errno::ENOENT)?;
            parts.push(name);
            ino = dir.parent;
        }
        let mut path = Vec::new();
        for part in parts.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(part);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Ok(path)
    }
}
