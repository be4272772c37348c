//! The RAM file system's inodes: directories, regular files, symbolic links and
//! character devices, kept in one table and named by [`Ino`].
//!
//! An inode lives while a directory entry (`nlink`) or an open file description
//! (`open`) refers to it, like on Linux: an unlinked file stays readable through the
//! descriptors that have it open and is freed at the last close.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ops::Deref;

use super::slab::Slab;
use crate::errno::Errno;

/// An inode number (the slot in [`Inodes`]; `st_ino` is this plus one, as 0 is
/// reserved for "no inode" in `getdents`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ino(pub usize);

/// The root directory's inode.
pub const ROOT: Ino = Ino(0);

/// File type bits of `st_mode` (`include/uapi/linux/stat.h`).
pub mod mode {
    pub const S_IFMT: u32 = 0o170_000;
    pub const S_IFIFO: u32 = 0o010_000;
    pub const S_IFCHR: u32 = 0o020_000;
    pub const S_IFDIR: u32 = 0o040_000;
    pub const S_IFREG: u32 = 0o100_000;
    pub const S_IFLNK: u32 = 0o120_000;
    pub const S_IFSOCK: u32 = 0o140_000;
}

/// The character devices under `/dev`, with their Linux device numbers
/// (`Documentation/admin-guide/devices.txt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
}

impl Device {
    pub fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Full => (1, 7),
            Device::Random => (1, 8),
            Device::Urandom => (1, 9),
        }
    }
}

/// A directory: its entries by name (sorted, so listings are deterministic) and its
/// parent (itself for the root).
#[derive(Debug)]
pub struct Dir {
    pub entries: BTreeMap<Vec<u8>, Ino>,
    pub parent: Ino,
}

/// A regular file's bytes.
#[derive(Debug)]
pub enum FileData {
    /// In the heap: created or written at run time, or copied from the initial files.
    Heap(Vec<u8>),
    /// Bytes that stay mapped, unchanged, for the whole run: the image file
    /// (`/proc/self/exe`). Never copied into the heap, and never written: opening it
    /// for writing or truncating it is `ETXTBSY`, as for a running executable on Linux
    /// (`open(2)`).
    Executable(&'static [u8]),
}

impl FileData {
    /// The bytes to change, or `ETXTBSY` for the executable.
    pub fn heap_mut(&mut self) -> Result<&mut Vec<u8>, Errno> {
        match self {
            FileData::Heap(data) => Ok(data),
            FileData::Executable(_) => Err(Errno::ETXTBSY),
        }
    }
}

impl Deref for FileData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileData::Heap(data) => data,
            FileData::Executable(data) => data,
        }
    }
}

#[derive(Debug)]
pub enum Node {
    Dir(Dir),
    File(FileData),
    Symlink(Vec<u8>),
    Device(Device),
}

/// Timestamps in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Times {
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
    pub btime: u64,
}

impl Times {
    pub fn all(now: u64) -> Self {
        Self {
            atime: now,
            mtime: now,
            ctime: now,
            btime: now,
        }
    }
}

#[derive(Debug)]
pub struct Inode {
    pub node: Node,
    /// Permission bits (`0o7777`); the type comes from `node`.
    pub perm: u32,
    /// Directory entries naming this inode (for a directory: 2 + subdirectories).
    pub nlink: u32,
    /// Open file descriptions referring to it.
    pub open: u32,
    pub times: Times,
}

impl Inode {
    pub fn new(node: Node, perm: u32, now: u64) -> Self {
        let nlink = if matches!(node, Node::Dir(_)) { 2 } else { 1 };
        Self {
            node,
            perm: perm & 0o7777,
            nlink,
            open: 0,
            times: Times::all(now),
        }
    }

    pub fn file_type(&self) -> u32 {
        match self.node {
            Node::Dir(_) => mode::S_IFDIR,
            Node::File(_) => mode::S_IFREG,
            Node::Symlink(_) => mode::S_IFLNK,
            Node::Device(_) => mode::S_IFCHR,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.node, Node::Dir(_))
    }

    pub fn dir(&self) -> Result<&Dir, Errno> {
        match &self.node {
            Node::Dir(dir) => Ok(dir),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub fn dir_mut(&mut self) -> Result<&mut Dir, Errno> {
        match &mut self.node {
            Node::Dir(dir) => Ok(dir),
            _ => Err(Errno::ENOTDIR),
        }
    }

    pub fn size(&self) -> usize {
        match &self.node {
            Node::Dir(dir) => dir.entries.len(),
            Node::File(data) => data.len(),
            Node::Symlink(target) => target.len(),
            Node::Device(_) => 0,
        }
    }
}

/// All inodes of the file system.
#[derive(Debug)]
pub struct Inodes(Slab<Inode>);

impl Default for Inodes {
    fn default() -> Self {
        Self::new()
    }
}

impl Inodes {
    pub const fn new() -> Self {
        Self(Slab::new())
    }

    pub fn insert(&mut self, inode: Inode) -> Result<Ino, Errno> {
        self.0.insert(inode).map(Ino)
    }

    /// The inode `ino`. Every `Ino` the VFS holds names a live inode, so `EIO` here
    /// would be a kernel bug, reported rather than panicking in a system call.
    pub fn get(&self, ino: Ino) -> Result<&Inode, Errno> {
        self.0.get(ino.0).ok_or(Errno::EIO)
    }

    pub fn get_mut(&mut self, ino: Ino) -> Result<&mut Inode, Errno> {
        self.0.get_mut(ino.0).ok_or(Errno::EIO)
    }

    /// A new open file description refers to `ino`.
    pub fn open(&mut self, ino: Ino) -> Result<(), Errno> {
        self.get_mut(ino)?.open += 1;
        Ok(())
    }

    /// An open file description of `ino` was released: frees an unlinked inode at its
    /// last close.
    pub fn close(&mut self, ino: Ino) {
        if let Ok(inode) = self.get_mut(ino) {
            inode.open = inode.open.saturating_sub(1);
        }
        self.release_if_unused(ino);
    }

    /// Frees `ino` once no name and no open file refers to it.
    pub fn release_if_unused(&mut self, ino: Ino) {
        if self
            .0
            .get(ino.0)
            .is_some_and(|i| i.nlink == 0 && i.open == 0)
        {
            self.0.remove(ino.0);
        }
    }
}
